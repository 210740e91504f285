import Support
import CBLAS
import Dispatch
import Foundation
import Tensor

/// One search result: a gallery row and its exact score (cosine similarity for unit vectors).
public struct SearchHit: Sendable, Equatable {
    public let row: Int
    public let score: Float
    public init(row: Int, score: Float) {
        self.row = row
        self.score = score
    }

    /// The order of results: higher score first, then lower row.
    @inline(__always)
    public static func ranksBefore(_ a: SearchHit, _ b: SearchHit) -> Bool {
        a.score > b.score || (a.score == b.score && a.row < b.row)
    }
}

/// What a search could not do.
public enum SearchError: Error, Sendable, Equatable, CustomStringConvertible {
    case dimensionMismatch(expected: Int, got: Int)
    case nonFiniteQuery(index: Int)
    case invalidIndex(String)
    case noIDs

    public var description: String {
        switch self {
        case .dimensionMismatch(let expected, let got):
            return "the query has \(got) values but the index holds \(expected)-dimensional vectors"
        case .nonFiniteQuery(let index): return "query value \(index) is not finite or is above 1e15 in magnitude"
        case .invalidIndex(let reason): return "cannot build the index: \(reason)"
        case .noIDs: return "the index vectors carry no ids: rankings need them (build the matrix with ids)"
        }
    }
}

/// Exact top-k search by dot product (cosine similarity for unit vectors) over a gallery matrix.
///
/// Results are exact: the same rows and scores as scoring every row with `Kernels.exactDot` and
/// sorting by score, ties to the lower row, whichever path runs. The fast paths only choose
/// candidates: BLAS (`sgemv` for one query, `sgemm` by gallery chunks for a batch) or, for one
/// query, a scan of the compact bfloat16 copy, which reads half the bytes; every approximate
/// score is within a proven bound ε of the exact one, so every row within 2ε of the k-th best
/// approximate score is re-scored exactly from the float32 rows (see `Candidates`).
///
/// Work runs on `threads` cores: the bfloat16 scan splits the gallery between threads, the
/// exact re-scoring of a batch splits its queries, and BLAS calls use OpenBLAS's own threads.
public struct VectorIndex: Sendable {
    /// The exact vectors (float32), memory-mapped or in memory.
    public let vectors: VectorMatrix
    /// The compact copy scanned for single queries, or nil to scan the float32 rows with BLAS.
    public let compact: VectorMatrix?
    /// Threads used by the Swift scans.
    public let threads: Int

    /// Gallery rows per BLAS chunk in a batch search (scores of a chunk stay in cache).
    static let batchChunkRows = 4096
    /// Queries per BLAS call in a batch search.
    static let batchQueryBlock = 128
    /// Gallery rows per `sgemv` call for a single query.
    static let singleChunkRows = 16384
    /// Galleries up to this size are scored row by row, exactly (no candidate pass).
    static let directRowLimit = 2048
    /// Gallery rows per bfloat16 kernel call.
    static let compactChunkRows = 1024

    /// An index over `vectors` (float32). `compact`, when given, must be `vectors.bfloat16()` or
    /// the same rows read back from a file; single queries then scan half the bytes.
    public init(vectors: VectorMatrix, compact: VectorMatrix? = nil,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws(SearchError) {
        guard vectors.elementType == .float32 else {
            throw .invalidIndex("the exact vectors must be float32, got \(vectors.elementType.rawValue)")
        }
        guard vectors.count < Int(Int32.max) else { throw .invalidIndex("more than \(Int32.max) rows") }
        if let compact {
            guard compact.elementType == .bfloat16 else {
                throw .invalidIndex("the compact copy must be bfloat16, got \(compact.elementType.rawValue)")
            }
            guard compact.count == vectors.count, compact.dimension == vectors.dimension else {
                throw .invalidIndex("the compact copy is \(compact.count) × \(compact.dimension), the vectors \(vectors.count) × \(vectors.dimension)")
            }
            guard compact.maxNorm >= vectors.maxNorm else {
                throw .invalidIndex("the compact copy was not made from these vectors (its maxNorm is smaller)")
            }
        }
        self.vectors = vectors
        self.compact = compact
        self.threads = max(1, threads)
    }

    public var count: Int { vectors.count }
    public var dimension: Int { vectors.dimension }

    // MARK: Queries

    /// The k best rows for `query` (at most k; fewer when fewer rows are allowed), best first.
    public func search(_ query: [Float], k: Int, filter: RowFilter? = nil) throws(SearchError) -> [SearchHit] {
        try check(query)
        checkFilter(filter)
        guard k > 0, count > 0 else { return [] }
        let k = min(k, count)  // never more than the rows there are, whatever was asked
        return query.withUnsafeBufferPointer { q in searchOne(q.baseAddress!, k: k, filter: filter) }
    }

    /// The k best rows for each query of `queries`, in order.
    public func search(batch queries: [[Float]], k: Int, filter: RowFilter? = nil) throws(SearchError) -> [[SearchHit]] {
        for query in queries { try check(query) }
        checkFilter(filter)
        guard k > 0, count > 0 else { return queries.map { _ in [] } }
        let k = min(k, count)
        if queries.count == 1 { return [try search(queries[0], k: k, filter: filter)] }
        let flat = queries.flatMap { $0 }
        return flat.withUnsafeBufferPointer { searchMany($0.baseAddress!, count: queries.count, k: k, filter: filter) }
    }

    /// The ranking of `query` under the id `queryID`: the k best gallery ids with their scores.
    public func ranking(queryID: String, query: [Float], k: Int, filter: RowFilter? = nil) throws(SearchError) -> Ranking {
        guard let ids = vectors.ids else { throw .noIDs }
        let hits = try search(query, k: k, filter: filter)
        return Ranking(queryID: queryID, galleryIDs: hits.map { ids[$0.row] }, scores: hits.map(\.score))
    }

    /// The exact score of `query` against row `row` (what search results report).
    public func score(_ query: [Float], row: Int) throws(SearchError) -> Float {
        try check(query)
        precondition(row >= 0 && row < count, "row \(row) is out of 0..<\(count)")
        return query.withUnsafeBufferPointer { Kernels.exactDot($0.baseAddress!, vectors.floats + row * dimension, dimension) }
    }

    private func check(_ query: [Float]) throws(SearchError) {
        guard query.count == dimension else { throw .dimensionMismatch(expected: dimension, got: query.count) }
        for (i, value) in query.enumerated() where !value.isFinite || abs(value) > VectorMatrix.largestMagnitude {
            throw .nonFiniteQuery(index: i)
        }
    }

    private func checkFilter(_ filter: RowFilter?) {
        if let filter {
            precondition(filter.rowCount == count, "the filter covers \(filter.rowCount) rows, the index \(count)")
        }
    }

    // MARK: Error bounds

    /// 2ε for a query of norm `queryNorm` when approximate scores come from elements rounded with
    /// relative error `storageRoundoff` (0 for float32) and any-order float32 sums.
    ///
    /// |approx - exact| <= |approx - Σ q g'| + |Σ q g' - Σ q g| + |Σ q g - exact|
    ///                  <= γ_D Σ|q||g'| + u_s Σ|q||g| + γ_D Σ|q||g|
    ///                  <= ‖q‖ maxNorm (u_s + γ_D (2 + u_s)),  γ_D = D u / (1 - D u), u = 2^-24,
    /// by Cauchy-Schwarz, for sums in any order (BLAS, the bfloat16 kernel, `exactDot`). The
    /// result is rounded up generously, and a tiny absolute term covers underflow.
    func margin(queryNorm: Float, storageRoundoff: Float) -> Float {
        let u = 0x1p-24 as Double
        let d = Double(dimension + 1)
        let gamma = d * u / (1 - d * u)
        let us = Double(storageRoundoff)
        let epsilon = Double(queryNorm) * Double(vectors.maxNorm) * (us + gamma * (2 + us)) * 1.01 + 1e-30
        return Float(2 * epsilon * 1.01)
    }

    private func queryNorm(_ query: UnsafePointer<Float>) -> Float {
        norm(query, dimension) * (1 + 1e-6)
    }

    // MARK: Single query

    private func searchOne(_ query: UnsafePointer<Float>, k: Int, filter: RowFilter?) -> [SearchHit] {
        let exact = vectors.floats
        let dimension = self.dimension
        let exactScore = { (row: Int) -> Float in Kernels.exactDot(query, exact + row * dimension, dimension) }
        if (filter.map(useDirectPath) ?? false) || count <= Self.directRowLimit {
            return direct(filter?.allowedRows ?? Array(0..<count), k: k, exactScore: exactScore)
        }

        let qNorm = queryNorm(query)
        if let compact {
            // bfloat16 scan, the gallery split across threads.
            let interleaved = UnsafeMutablePointer<Float>.allocate(capacity: dimension)
            defer { interleaved.deallocate() }
            Kernels.interleavedQuery(query, dimension: dimension, into: interleaved)
            let margin = margin(queryNorm: qNorm, storageRoundoff: BFloat16.unitRoundoff)
            let parts = min(threads, max(1, count / 8192))
            let slots = Slots<Candidates>(count: parts)
            let halves = SharedPointer(compact.halves)
            let q = SharedPointer(UnsafePointer(interleaved))
            let total = count
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let start = total * part / parts, end = total * (part + 1) / parts
                var candidates = Candidates(k: k, margin: margin)
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: Self.compactChunkRows)
                defer { scores.deallocate() }
                var row = start
                while row < end {
                    let n = min(Self.compactChunkRows, end - row)
                    Kernels.bfloat16Dots(query: q.base, rows: halves.base + row * dimension, count: n,
                                         dimension: dimension, into: scores)
                    candidates.offer(scores, count: n, firstRow: row, filter: filter)
                    row += n
                }
                slots[part] = candidates
            }
            var merged = slots[0]!
            for part in 1..<parts { merged.merge(slots[part]!) }
            return merged.finish(exactScore: exactScore)
        }

        // float32 through sgemv (OpenBLAS threads), chunk by chunk.
        var candidates = Candidates(k: k, margin: margin(queryNorm: qNorm, storageRoundoff: 0))
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: Self.singleChunkRows)
        defer { scores.deallocate() }
        var row = 0
        while row < count {
            let n = min(Self.singleChunkRows, count - row)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(dimension), 1, exact + row * dimension,
                        Int32(dimension), query, 1, 0, scores, 1)
            candidates.offer(scores, count: n, firstRow: row, filter: filter)
            row += n
        }
        return candidates.finish(exactScore: exactScore)
    }

    /// Whether a filter allows so few rows that scoring them one by one beats a scan.
    private func useDirectPath(_ filter: RowFilter) -> Bool {
        filter.allowedCount * 16 <= count
    }

    /// Exact scores of `rows`, top k.
    private func direct(_ rows: [Int], k: Int, exactScore: (Int) -> Float) -> [SearchHit] {
        var hits = rows.map { row -> SearchHit in
            let score = exactScore(row)
            return SearchHit(row: row, score: score.isNaN ? -.infinity : score)
        }
        return topK(&hits, k)
    }

    // MARK: Batch

    private func searchMany(_ queryPointer: UnsafePointer<Float>, count queryCount: Int, k: Int, filter: RowFilter?) -> [[SearchHit]] {
        let exact = SharedPointer(vectors.floats)
        let queries = SharedPointer(queryPointer)
        let dimension = self.dimension
        let results = Slots<[SearchHit]>(count: queryCount)
        let workers = min(threads, queryCount)

        if (filter.map(useDirectPath) ?? false) || count <= Self.directRowLimit {
            let rows = filter?.allowedRows ?? Array(0..<count)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for q in stride(from: worker, to: queryCount, by: workers) {
                    let query = queries.base + q * dimension
                    results[q] = direct(rows, k: k) { Kernels.exactDot(query, exact.base + $0 * dimension, dimension) }
                }
            }
            return (0..<queryCount).map { results[$0]! }
        }

        let chunkRows = Self.batchChunkRows
        let scoreBuffer = UnsafeMutablePointer<Float>.allocate(capacity: Self.batchQueryBlock * chunkRows)
        defer { scoreBuffer.deallocate() }
        let scores = SharedPointer(UnsafePointer(scoreBuffer))
        var blockStart = 0
        while blockStart < queryCount {
            let blockCount = min(Self.batchQueryBlock, queryCount - blockStart)
            let block = SharedPointer(queries.base + blockStart * dimension)
            var collectors = (0..<blockCount).map { q in
                Candidates(k: k, margin: margin(queryNorm: queryNorm(block.base + q * dimension), storageRoundoff: 0))
            }
            var row = 0
            while row < count {
                let n = min(chunkRows, count - row)
                // scores[q * n + i] = query q · row (row + i), on all cores through OpenBLAS. The
                // selection that follows costs about a tenth of the multiply (mostly one vector
                // subtraction per 8 scores), so it stays on this thread.
                sgemm(transA: false, transB: true, m: blockCount, n: n, k: dimension,
                      a: block.base, lda: dimension, b: exact.base + row * dimension, ldb: dimension,
                      c: scoreBuffer, ldc: n)
                for q in 0..<blockCount {
                    collectors[q].offer(scores.base + q * n, count: n, firstRow: row, filter: filter)
                }
                row += n
            }
            let scanned = collectors
            let base = blockStart
            let finishers = min(workers, blockCount)
            DispatchQueue.concurrentPerform(iterations: finishers) { worker in
                for q in stride(from: worker, to: blockCount, by: finishers) {
                    let query = block.base + q * dimension
                    var candidates = scanned[q]
                    results[base + q] = candidates.finish { Kernels.exactDot(query, exact.base + $0 * dimension, dimension) }
                }
            }
            blockStart += blockCount
        }
        return (0..<queryCount).map { results[$0]! }
    }
}

/// The best k of `hits` in result order (partially sorts `hits`).
func topK(_ hits: inout [SearchHit], _ k: Int) -> [SearchHit] {
    if hits.count > 4 * k && hits.count > 64 {
        // Keep the k best with a bounded selection, then sort those.
        var kth = hits.map(\.score)
        let bar = kth.withUnsafeMutableBufferPointer { kthLargest($0, k) }
        hits.removeAll { $0.score < bar }
    }
    hits.sort(by: SearchHit.ranksBefore)
    if hits.count > k { hits.removeLast(hits.count - k) }
    return hits
}

