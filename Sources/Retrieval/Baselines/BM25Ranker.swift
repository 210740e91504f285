import Support
import Catalog
import Dispatch
import Foundation

/// The caption BM25 baseline: a query's caption against the gallery captions, with the terms of
/// `CaptionTokenizer` (Latin words, CJK unigrams and bigrams).
///
/// score(q, d) = Σ over the distinct terms t of q found in the gallery of
/// idf(t) · tf(t, d) · (k1 + 1) / (tf(t, d) + k1 · (1 - b + b · |d| / avgdl)),
/// with idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5)) (never negative), N the number of
/// gallery captions, |d| a caption's number of terms. Ties keep gallery order.
public struct BM25Ranker: Sendable {
    public let k1: Double
    public let b: Double
    let galleryIDs: [String]
    let termIndex: [String: Int32]
    /// Postings of term t: `postingStart[t] ..< postingStart[t + 1]` in `postingRows` / `postingWeights`.
    let postingStart: [Int]
    let postingRows: [Int32]
    /// The whole BM25 term for (t, d): idf(t) times the saturated term frequency.
    let postingWeights: [Float]

    /// Indexes the captions of `gallery` (row i is `gallery[i]`).
    public init(gallery: [Sample], k1: Double = 1.2, b: Double = 0.75) {
        self.k1 = k1
        self.b = b
        galleryIDs = gallery.map(\.id)
        var termIndex: [String: Int32] = [:]
        var documents: [[(term: Int32, count: Int32)]] = []
        var lengths: [Int] = []
        documents.reserveCapacity(gallery.count)
        for sample in gallery {
            let terms = CaptionTokenizer.terms(sample.caption)
            lengths.append(terms.count)
            var counts: [Int32: Int32] = [:]
            var order: [Int32] = []
            for term in terms {
                let id: Int32
                if let known = termIndex[term] { id = known } else {
                    id = Int32(termIndex.count)
                    termIndex[term] = id
                }
                if counts[id] == nil { order.append(id) }
                counts[id, default: 0] += 1
            }
            documents.append(order.map { ($0, counts[$0]!) })
        }
        let n = Double(gallery.count)
        let averageLength = gallery.isEmpty ? 1 : max(1, Double(lengths.reduce(0, +)) / n)
        var documentFrequency = [Int](repeating: 0, count: termIndex.count)
        for document in documents { for entry in document { documentFrequency[Int(entry.term)] += 1 } }
        var start = [Int](repeating: 0, count: termIndex.count + 1)
        for t in 0..<termIndex.count { start[t + 1] = start[t] + documentFrequency[t] }
        var fill = start
        var rows = [Int32](repeating: 0, count: start.last!)
        var weights = [Float](repeating: 0, count: start.last!)
        for (row, document) in documents.enumerated() {
            let lengthNorm = k1 * (1 - b + b * Double(lengths[row]) / averageLength)
            for entry in document {
                let t = Int(entry.term)
                let df = Double(documentFrequency[t])
                let idf = log(1 + (n - df + 0.5) / (df + 0.5))
                let tf = Double(entry.count)
                rows[fill[t]] = Int32(row)
                weights[fill[t]] = Float(idf * tf * (k1 + 1) / (tf + lengthNorm))
                fill[t] += 1
            }
        }
        self.termIndex = termIndex
        postingStart = start
        postingRows = rows
        postingWeights = weights
    }

    /// The BM25 score of `caption` against every gallery row.
    public func scores(for caption: String) -> [Float] {
        var scores = [Float](repeating: 0, count: galleryIDs.count)
        scores.withUnsafeMutableBufferPointer { accumulate(caption, into: $0) }
        return scores
    }

    private func accumulate(_ caption: String, into scores: UnsafeMutableBufferPointer<Float>) {
        var seen = Set<Int32>()
        for term in CaptionTokenizer.terms(caption) {
            guard let t = termIndex[term], seen.insert(t).inserted else { continue }
            postingRows.withUnsafeBufferPointer { rows in
                postingWeights.withUnsafeBufferPointer { weights in
                    for p in postingStart[Int(t)]..<postingStart[Int(t) + 1] {
                        scores[Int(rows[p])] += weights[p]
                    }
                }
            }
        }
    }

    /// The `top` best gallery items for each query's caption, with their scores.
    public func rank(_ queries: [Sample], top: Int = 100,
                     threads: Int = ProcessInfo.processInfo.activeProcessorCount) -> [Ranking] {
        rankEach(queryIDs: queries.map(\.id), galleryIDs: galleryIDs, top: top, threads: threads) { q, scores in
            accumulate(queries[q].caption, into: scores)
        }
    }
}

/// Ranks each query against the gallery on up to `threads` workers: `score(q, scores)` adds query
/// `q`'s score of every gallery row into `scores` (zeroed first); the `top` best rows are kept.
func rankEach(queryIDs: [String], galleryIDs: [String], top: Int, threads: Int,
              score: @Sendable (_ query: Int, _ scores: UnsafeMutableBufferPointer<Float>) -> Void) -> [Ranking] {
    let slots = Slots<Ranking>(count: queryIDs.count)
    let workers = max(1, min(threads, queryIDs.count))
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        var scores = [Float](repeating: 0, count: galleryIDs.count)
        for q in stride(from: worker, to: queryIDs.count, by: workers) {
            scores.withUnsafeMutableBufferPointer { buffer in
                buffer.update(repeating: 0)
                score(q, buffer)
            }
            slots[q] = makeRanking(queryID: queryIDs[q], scores: scores, galleryIDs: galleryIDs, top: top)
        }
    }
    return (0..<queryIDs.count).map { slots[$0]! }
}

/// The ranking of the `top` best rows of `scores` (ties to the lower row).
func makeRanking(queryID: String, scores: [Float], galleryIDs: [String], top: Int) -> Ranking {
    var hits = scores.enumerated().map { SearchHit(row: $0.offset, score: $0.element.isNaN ? -.infinity : $0.element) }
    let best = top > 0 ? topK(&hits, top) : []
    return Ranking(queryID: queryID, galleryIDs: best.map { galleryIDs[$0.row] }, scores: best.map(\.score))
}
