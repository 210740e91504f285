import Support
import Catalog
import Dispatch
import Foundation
import Imaging

/// An image that a baseline could not use: the sample, and why (no image file, or a decoding error).
public struct UnreadableImage: Sendable, Equatable, CustomStringConvertible {
    public let sampleID: String
    public let reason: String
    public init(sampleID: String, reason: String) {
        self.sampleID = sampleID
        self.reason = reason
    }
    public var description: String { "\(sampleID): \(reason)" }
}

/// Progress of a baseline's long work, for a progress bar.
public enum BaselineProgress: Sendable, Equatable {
    /// Images decoded so far (gallery first, then queries) out of `total`.
    case decodedImages(done: Int, total: Int)
}

/// The colour-histogram baseline: each image becomes an 8 × 8 × 8 RGB histogram of its 64-pixel
/// thumbnail, L1-normalised, and images compare by histogram intersection Σ_b min(h_q[b], h_g[b])
/// (1 for identical colour distributions, 0 for disjoint ones).
///
/// Images are decoded in parallel. A sample without a readable image gets an empty histogram
/// (it scores 0 against everything) and is listed in `unreadable`.
public struct ColourHistogramRanker: Sendable {
    /// Bins per channel; a colour (r, g, b) falls in bin (r >> 5, g >> 5, b >> 5).
    public static let binsPerChannel = 8
    public static let binCount = binsPerChannel * binsPerChannel * binsPerChannel
    /// Longest side of the thumbnail the histogram is taken from.
    public static let thumbnailSide = 64

    let galleryIDs: [String]
    /// Gallery histograms bin-major: `histograms[bin * count + row]`, so that scoring a query walks
    /// contiguous rows for each of its non-empty bins.
    let histograms: [Float]
    /// Gallery samples whose image could not be used.
    public let unreadable: [UnreadableImage]
    public let threads: Int

    /// Decodes the gallery images (row i is `gallery[i]`) and builds their histograms.
    public init(gallery: [Sample], threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                progress: (@Sendable (BaselineProgress) -> Void)? = nil) {
        self.threads = max(1, threads)
        galleryIDs = gallery.map(\.id)
        let decoded = Self.histograms(of: gallery, threads: self.threads, progressOffset: 0, total: gallery.count, progress: progress)
        let count = gallery.count
        var binMajor = [Float](repeating: 0, count: Self.binCount * count)
        for (row, histogram) in decoded.histograms.enumerated() {
            for bin in 0..<Self.binCount where histogram[bin] != 0 { binMajor[bin * count + row] = histogram[bin] }
        }
        histograms = binMajor
        unreadable = decoded.unreadable
    }

    /// The L1-normalised 8 × 8 × 8 histogram of an image (all zeros for an empty image).
    public static func histogram(of image: RGBImage) -> [Float] {
        var counts = [Int](repeating: 0, count: binCount)
        let pixels = image.width * image.height
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<pixels {
                let bin = Int(p[3 * i] >> 5) << 6 | Int(p[3 * i + 1] >> 5) << 3 | Int(p[3 * i + 2] >> 5)
                counts[bin] += 1
            }
        }
        guard pixels > 0 else { return [Float](repeating: 0, count: binCount) }
        return counts.map { Float($0) / Float(pixels) }
    }

    /// The histogram of the thumbnail of the image file at `path`.
    public static func histogram(imagePath path: String) throws -> [Float] {
        histogram(of: try ImageDecoder.thumbnail(path: path, maxSide: thumbnailSide))
    }

    /// Histogram intersection of `query` with every gallery row.
    public func scores(for query: [Float]) -> [Float] {
        precondition(query.count == Self.binCount, "a histogram has \(Self.binCount) bins, got \(query.count)")
        var scores = [Float](repeating: 0, count: galleryIDs.count)
        scores.withUnsafeMutableBufferPointer { accumulate(query, into: $0) }
        return scores
    }

    private func accumulate(_ query: [Float], into scores: UnsafeMutableBufferPointer<Float>) {
        let count = galleryIDs.count
        histograms.withUnsafeBufferPointer { all in
            for bin in 0..<Self.binCount where query[bin] > 0 {
                let value = query[bin]
                let column = all.baseAddress! + bin * count
                for row in 0..<count { scores[row] += min(value, column[row]) }
            }
        }
    }

    /// The `top` best gallery items for each query's image, with their intersection scores, and the
    /// queries whose image could not be used (they rank the gallery in its own order).
    public func rank(_ queries: [Sample], top: Int = 100,
                     progress: (@Sendable (BaselineProgress) -> Void)? = nil) -> (rankings: [Ranking], unreadable: [UnreadableImage]) {
        let decoded = Self.histograms(of: queries, threads: threads, progressOffset: 0, total: queries.count, progress: progress)
        let rankings = rankEach(queryIDs: queries.map(\.id), galleryIDs: galleryIDs, top: top, threads: threads) { q, scores in
            accumulate(decoded.histograms[q], into: scores)
        }
        return (rankings, decoded.unreadable)
    }

    /// Histograms of the samples' images, decoded on `threads` threads.
    static func histograms(of samples: [Sample], threads: Int, progressOffset: Int, total: Int,
                           progress: (@Sendable (BaselineProgress) -> Void)?) -> (histograms: [[Float]], unreadable: [UnreadableImage]) {
        let slots = Slots<Result<[Float], UnreadableImage>>(count: samples.count)
        let done = Counter()
        let workers = max(1, min(threads, samples.count))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: samples.count, by: workers) {
                let sample = samples[i]
                if let path = sample.imagePath {
                    do {
                        slots[i] = .success(try histogram(imagePath: path))
                    } catch {
                        slots[i] = .failure(UnreadableImage(sampleID: sample.id, reason: "\(error)"))
                    }
                } else {
                    slots[i] = .failure(UnreadableImage(sampleID: sample.id, reason: "no image file"))
                }
                let n = done.increment()
                if let progress, n % 64 == 0 || n == samples.count {
                    progress(.decodedImages(done: progressOffset + n, total: total))
                }
            }
        }
        var histograms: [[Float]] = []
        var unreadable: [UnreadableImage] = []
        histograms.reserveCapacity(samples.count)
        for i in 0..<samples.count {
            switch slots[i]! {
            case .success(let h): histograms.append(h)
            case .failure(let issue):
                histograms.append([Float](repeating: 0, count: binCount))
                unreadable.append(issue)
            }
        }
        return (histograms, unreadable)
    }
}

extension UnreadableImage: Error {}

/// A thread-safe counter.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    /// Adds one and returns the new value.
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
