import Foundation

/// An annotator's verdict on one match of one query.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    /// The match is wrong: fine-tuning uses it as a negative pair.
    case wrong
    /// The match is right: fine-tuning uses it as a positive pair.
    case confirmed
}

/// One annotation, keyed by dataset, query, match and model (issue 5): who said what, when.
public struct Flag: Sendable, Equatable, Hashable, Codable {
    /// The store's row id (nil before it is written).
    public var id: Int64?
    /// The dataset's identity (its name and root, as `DatasetInfo` reports it).
    public var dataset: String
    /// The query sample's id, or `caption:<text>` for a typed caption.
    public var query: String
    /// The matched gallery sample's id.
    public var match: String
    /// The model that produced the ranking ("zero-shot" or the checkpoint's SHA-256).
    public var model: String
    public var verdict: Verdict
    public var annotator: String
    public var createdAt: Date

    public init(id: Int64? = nil, dataset: String, query: String, match: String, model: String,
                verdict: Verdict, annotator: String, createdAt: Date = Date()) {
        self.id = id; self.dataset = dataset; self.query = query; self.match = match; self.model = model
        self.verdict = verdict; self.annotator = annotator; self.createdAt = createdAt
    }
}
