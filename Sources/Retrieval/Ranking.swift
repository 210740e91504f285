/// The ranked gallery ids returned for one query, best first: the one name
/// for "a result list" across search, evaluation and the explorer.
public struct Ranking: Sendable, Equatable {
    public let queryID: String
    public let galleryIDs: [String]
    /// Scores aligned with `galleryIDs` (cosine similarity); empty when the
    /// ranking was read from a file that has none.
    public let scores: [Float]

    public init(queryID: String, galleryIDs: [String], scores: [Float] = []) {
        precondition(scores.isEmpty || scores.count == galleryIDs.count)
        self.queryID = queryID
        self.galleryIDs = galleryIDs
        self.scores = scores
    }
}
