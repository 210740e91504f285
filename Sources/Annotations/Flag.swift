import Foundation

/// An annotator's verdict on one match of one query.
public enum Verdict: String, Sendable, Codable, CaseIterable {
    /// The match is wrong: fine-tuning uses it as a negative pair.
    case wrong
    /// The match is right: fine-tuning uses it as a positive pair.
    case confirmed
}

/// Who gave a verdict, and so how much it weighs (issue 13).
public enum FlagRole: String, Sendable, Codable, CaseIterable {
    /// An annotator judging what a model showed: one vote among the annotators of a pair.
    case annotator
    /// An adjudicator settling a pair: their latest verdict decides the pair whatever the
    /// disagreement rule (`vitrine flags adjudicate`). Recorded on ``FlagModel/anyModel``.
    case adjudicator
}

/// One annotation, keyed by dataset, query, match and model (docs/flags.md §1): who said what,
/// when, in which role.
public struct Flag: Sendable, Equatable, Hashable, Codable {
    /// The store's row id (nil before it is written).
    public var id: Int64?
    /// The dataset's identity (its name and root, as `DatasetInfo` reports it).
    public var dataset: String
    /// The query sample's id, or `caption:<text>` for a typed caption.
    public var query: String
    /// The matched gallery sample's id.
    public var match: String
    /// The model's key (``FlagModel/key``): the checkpoint file's SHA-256 (64 hex digits),
    /// `zero-shot:<tower>`, `rankings:<SHA-256>`, `legacy:<v1 name>` or `any-model`.
    public var model: String
    /// The model's name for display (``FlagModel/name``): the checkpoint's file name,
    /// `zero-shot`, `rankings:<file name>`. Not part of the key.
    public var modelName: String
    public var verdict: Verdict
    public var annotator: String
    /// An annotator's vote or an adjudicator's decision.
    public var role: FlagRole
    public var createdAt: Date

    /// A verdict; `modelName` defaults to `model` (a key without a better name).
    public init(id: Int64? = nil, dataset: String, query: String, match: String, model: String, modelName: String? = nil,
                verdict: Verdict, annotator: String, role: FlagRole = .annotator, createdAt: Date = Date()) {
        self.id = id; self.dataset = dataset; self.query = query; self.match = match; self.model = model
        self.modelName = modelName ?? model
        self.verdict = verdict; self.annotator = annotator; self.role = role; self.createdAt = createdAt
    }

    /// A verdict on `match` for `query` given on `model`'s ranking.
    public init(dataset: String, query: String, match: String, on model: FlagModel, verdict: Verdict,
                annotator: String, role: FlagRole = .annotator, createdAt: Date = Date()) {
        self.init(dataset: dataset, query: query, match: match, model: model.key, modelName: model.name,
                  verdict: verdict, annotator: annotator, role: role, createdAt: createdAt)
    }

    /// An adjudicator's verdict on a pair: on ``FlagModel/anyModel``, with role `adjudicator`.
    public static func adjudication(dataset: String, query: String, match: String, verdict: Verdict,
                                    adjudicator: String, createdAt: Date = Date()) -> Flag {
        Flag(dataset: dataset, query: query, match: match, on: .anyModel, verdict: verdict,
             annotator: adjudicator, role: .adjudicator, createdAt: createdAt)
    }

    /// The model as a value (key and name).
    public var flagModel: FlagModel { FlagModel(key: model, name: modelName) }

    private enum CodingKeys: String, CodingKey {
        case id, dataset, query, match, model, modelName, verdict, annotator, role, createdAt
    }

    /// Decodes a flag; `modelName` (default: the model) and `role` (default: annotator) may be
    /// missing, as in flags written before schema v2.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(Int64.self, forKey: .id)
        dataset = try c.decode(String.self, forKey: .dataset)
        query = try c.decode(String.self, forKey: .query)
        match = try c.decode(String.self, forKey: .match)
        model = try c.decode(String.self, forKey: .model)
        modelName = try c.decodeIfPresent(String.self, forKey: .modelName) ?? model
        verdict = try c.decode(Verdict.self, forKey: .verdict)
        annotator = try c.decode(String.self, forKey: .annotator)
        role = try c.decodeIfPresent(FlagRole.self, forKey: .role) ?? .annotator
        createdAt = try c.decode(Date.self, forKey: .createdAt)
    }
}
