import Catalog
import Foundation

/// The retrieval baselines that need no model.
public enum BaselineMethod: String, Sendable, CaseIterable {
    /// Caption BM25 (`BM25Ranker`).
    case bm25
    /// Image colour histogram (`ColourHistogramRanker`).
    case colour
    /// Random (`RandomRanker`).
    case random

    /// A short name for tables.
    public var title: String {
        switch self {
        case .bm25: return "caption BM25"
        case .colour: return "colour histogram"
        case .random: return "random"
        }
    }
}

/// A baseline's rankings for a set of queries, and what it could not use.
public struct BaselineRun: Sendable {
    public let method: BaselineMethod
    /// One ranking per query, in query order.
    public let rankings: [Ranking]
    /// Images that could not be used (colour histogram only).
    public let unreadableImages: [UnreadableImage]

    /// Ranks `queries` against `gallery` (top `top` each) with `method`.
    public init(_ method: BaselineMethod, queries: [Sample], gallery: [Sample], top: Int = 100, seed: UInt64 = 0,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                progress: (@Sendable (BaselineProgress) -> Void)? = nil) {
        self.method = method
        switch method {
        case .bm25:
            rankings = BM25Ranker(gallery: gallery).rank(queries, top: top, threads: threads)
            unreadableImages = []
        case .colour:
            let total = gallery.count + queries.count
            let ranker = ColourHistogramRanker(gallery: gallery, threads: threads) { event in
                if case .decodedImages(let done, _) = event { progress?(.decodedImages(done: done, total: total)) }
            }
            let result = ranker.rank(queries, top: top) { event in
                if case .decodedImages(let done, _) = event {
                    progress?(.decodedImages(done: gallery.count + done, total: total))
                }
            }
            rankings = result.rankings
            unreadableImages = ranker.unreadable + result.unreadable
        case .random:
            rankings = RandomRanker(galleryIDs: gallery.map(\.id), seed: seed).rank(queries, top: top)
            unreadableImages = []
        }
    }
}
