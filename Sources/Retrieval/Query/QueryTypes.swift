import Catalog

/// How a query is matched against the gallery (docs/model.md §6, "Retrieval embeddings").
public enum QueryMode: String, Sendable, CaseIterable, Codable {
    /// Caption only: z_t against the gallery's z_v (optionally blended with its z_t).
    case caption
    /// Image only: z_v against z_v.
    case image
    /// Image with caption (the Product1M protocol): e against e.
    case pair
}

/// A query as the user states it.
public enum RetrievalQuery: Sendable, Equatable, Hashable {
    /// A typed caption.
    case caption(String)
    /// Any image file on disk.
    case imageFile(path: String)
    /// A dataset sample used as the query, as its image, its caption, or both.
    case sample(id: String, mode: QueryMode)
}

/// Restricts which gallery items may be returned.
public struct RetrievalFilter: Sendable, Equatable, Hashable {
    /// Only items carrying this product label.
    public var label: String?
    /// Only single-product or only multi-product items.
    public var kind: SampleKind?
    public init(label: String? = nil, kind: SampleKind? = nil) { self.label = label; self.kind = kind }
    public static let none = RetrievalFilter()
}

/// One ranked gallery item.
public struct RankedMatch: Sendable, Equatable, Hashable {
    /// 1-based rank.
    public var rank: Int
    public var sampleID: String
    /// Cosine similarity.
    public var score: Float
    /// Whether the match shares a label with the query; nil when the query has no labels.
    public var isRelevant: Bool?
    public init(rank: Int, sampleID: String, score: Float, isRelevant: Bool?) {
        self.rank = rank; self.sampleID = sampleID; self.score = score; self.isRelevant = isRelevant
    }
}

/// The answer to one query.
public struct SearchResult: Sendable, Equatable {
    public var query: RetrievalQuery
    public var matches: [RankedMatch]
    /// The query's average precision at the returned depth, with the official protocol's
    /// definition (docs/data.md §2.3), when the query has labels.
    public var averagePrecision: Double?
    /// Which vectors ranked it: "zero-shot" or the checkpoint's name.
    public var model: String
    public var seconds: Double
    public init(query: RetrievalQuery, matches: [RankedMatch], averagePrecision: Double?, model: String, seconds: Double) {
        self.query = query; self.matches = matches; self.averagePrecision = averagePrecision
        self.model = model; self.seconds = seconds
    }
}

/// One query token and the share of text-to-image attention it carries.
public struct TokenWeight: Sendable, Equatable, Hashable {
    public var token: String
    public var weight: Float
    public init(token: String, weight: Float) { self.token = token; self.weight = weight }
}

/// Why a match ranks where it does (docs/model.md §7, "Attention summary of a match").
public struct AttentionSummary: Sendable, Equatable {
    /// The query tokens carrying the most attention, heaviest first (empty for an image query).
    public var tokens: [TokenWeight]
    /// Side of the square map over the match image (7 for 49 cells).
    public var side: Int
    /// Overall map, row-major, `side * side` values summing to 1.
    public var map: [Float]
    /// One map per entry of `tokens`, same layout.
    public var tokenMaps: [[Float]]
    public init(tokens: [TokenWeight], side: Int, map: [Float], tokenMaps: [[Float]]) {
        self.tokens = tokens; self.side = side; self.map = map; self.tokenMaps = tokenMaps
    }
}

/// Progress of an index build, as a stream of typed events.
public enum IndexEvent: Sendable, Equatable {
    /// The stored index is current: nothing to compute.
    case upToDate(items: Int)
    case started(items: Int)
    case progress(done: Int, total: Int)
    case finished(items: Int, seconds: Double)
}
