import Annotations
import Retrieval

/// Which (query, match) pairs a review queue walks (`K` cycles them).
public enum ReviewKind: String, Sendable, Equatable, CaseIterable {
    /// The top 10 matches of the 10 queries with the lowest AP@10.
    case worst
    /// The top-10 matches the labels call wrong: where the model and the ground truth disagree.
    case disagreeing
    /// Every top-10 match of every query that nobody has a verdict on yet for this model.
    case unflagged
    /// The pairs annotators disagree on (any model): the keys record an adjudicator's verdict.
    case disputes

    public var title: String {
        switch self {
        case .worst: return "the 10 worst queries' top 10"
        case .disagreeing: return "top-10 matches the labels call wrong"
        case .unflagged: return "top-10 matches without a verdict"
        case .disputes: return "pairs annotators disagree on: adjudicate"
        }
    }

    public var next: ReviewKind {
        let all = Self.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }
}

/// One query of the split the queue was built from, with its top matches as the model ranks them.
public struct ReviewedQuery: Sendable, Equatable {
    public var queryID: String
    /// Official AP at the depth searched (10), nil without labels.
    public var averagePrecision: Double?
    public var rows: [ResultRow]
    public init(queryID: String, averagePrecision: Double?, rows: [ResultRow]) {
        self.queryID = queryID; self.averagePrecision = averagePrecision; self.rows = rows
    }
}

/// One pair of a queue.
public struct ReviewItem: Sendable, Equatable {
    public var queryID: String
    public var queryAP: Double?
    public var row: ResultRow
    /// For a dispute: each annotator's verdict and the adjudication so far.
    public var dispute: ReviewDispute? = nil
    public var pair: ReviewedPair { ReviewedPair(query: queryID, match: row.sampleID) }
}

/// A pair annotators disagree on: each one's latest verdict (any model), and the latest
/// adjudicator's verdict if there is one.
public struct ReviewDispute: Sendable, Equatable {
    public var pair: ReviewedPair
    public var verdicts: [String: Verdict]
    public var adjudication: Verdict?
    public init(pair: ReviewedPair, verdicts: [String: Verdict], adjudication: Verdict?) {
        self.pair = pair; self.verdicts = verdicts; self.adjudication = adjudication
    }

    /// The disputes among `flags` (current verdicts of a dataset): pairs whose annotators'
    /// latest verdicts are not all the same, in query then match order.
    public static func find(in flags: [Flag]) -> [ReviewDispute] {
        var latest: [ReviewedPair: [String: Flag]] = [:]
        var adjudicated: [ReviewedPair: Flag] = [:]
        for f in flags {
            let pair = ReviewedPair(query: f.query, match: f.match)
            if f.role == .adjudicator {
                if adjudicated[pair].map({ $0.createdAt <= f.createdAt }) ?? true { adjudicated[pair] = f }
            } else if latest[pair]?[f.annotator].map({ $0.createdAt <= f.createdAt }) ?? true {
                latest[pair, default: [:]][f.annotator] = f
            }
        }
        return latest.compactMap { pair, byAnnotator -> ReviewDispute? in
            let verdicts = byAnnotator.mapValues(\.verdict)
            guard Set(verdicts.values).count > 1 else { return nil }
            return ReviewDispute(pair: pair, verdicts: verdicts, adjudication: adjudicated[pair]?.verdict)
        }.sorted { ($0.pair.query, $0.pair.match) < ($1.pair.query, $1.pair.match) }
    }
}

/// What the annotator did with a pair in this session (shown on it; `u` undoes the last).
public enum ReviewMark: Sendable, Equatable {
    case verdict(Flag)
    case skipped
}

/// What the app found for a queue: the split's queries searched with the session's model, and
/// the pairs this annotator has already reviewed with it (verdicts and skips, from the store).
public struct ReviewBuild: Sendable, Equatable {
    public var split: String
    /// The model as the results name it, and its key in the flags store.
    public var model: String
    public var modelKey: String
    public var queries: [ReviewedQuery]
    public var reviewed: Set<ReviewedPair>
    /// Pairs with a current verdict of anyone on this model (for `unflagged`).
    public var flagged: Set<ReviewedPair>
    /// The pairs annotators disagree on (for `disputes`).
    public var disputes: [ReviewDispute]
    public init(split: String, model: String, modelKey: String, queries: [ReviewedQuery], reviewed: Set<ReviewedPair>,
                flagged: Set<ReviewedPair>, disputes: [ReviewDispute] = []) {
        self.split = split; self.model = model; self.modelKey = modelKey; self.queries = queries
        self.reviewed = reviewed; self.flagged = flagged; self.disputes = disputes
    }
}

/// The review queue (`R`): pairs that need a verdict, one key per verdict, the "reviewed" state
/// kept per annotator in the flags store so that the queue resumes at its first unreviewed pair.
public struct ReviewState: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        case building(done: Int, total: Int)
        case ready
        case failed(String)
    }

    public var kind: ReviewKind
    public var status: Status
    /// Tells the answers of this queue's build from those of one it replaced.
    public var generation: Int
    public var build: ReviewBuild? = nil
    /// The pairs of `kind`, in order.
    public var items: [ReviewItem] = []
    public var position = 0
    /// What this session did to pairs, by pair; and the order, for undo.
    public var marks: [ReviewedPair: ReviewMark] = [:]
    public var undoStack: [ReviewedPair] = []
    /// Writes sent to the store and not answered yet.
    public var pending = 0

    public init(kind: ReviewKind, generation: Int, total: Int) {
        self.kind = kind; self.generation = generation; self.status = .building(done: 0, total: total)
    }

    public var current: ReviewItem? { position >= 0 && position < items.count ? items[position] : nil }

    /// Whether a pair counts as reviewed: marked now, or in the store when the queue was built
    /// (a dispute: adjudicated).
    public func isReviewed(_ item: ReviewItem) -> Bool {
        if marks[item.pair] != nil { return true }
        if let dispute = item.dispute { return dispute.adjudication != nil }
        return build?.reviewed.contains(item.pair) == true
    }

    public var reviewedCount: Int { items.reduce(0) { $0 + (isReviewed($1) ? 1 : 0) } }

    /// The pairs of `kind` from the searched queries.
    public static func items(_ kind: ReviewKind, from build: ReviewBuild, depth: Int = 10) -> [ReviewItem] {
        func items(of q: ReviewedQuery) -> [ReviewItem] {
            q.rows.prefix(depth).map { ReviewItem(queryID: q.queryID, queryAP: q.averagePrecision, row: $0) }
        }
        switch kind {
        case .worst:
            // Lowest AP@10 first, ties in split order; queries without labels have no AP to rank by.
            let ranked = build.queries.enumerated().filter { $0.element.averagePrecision != nil }
                .sorted { ($0.element.averagePrecision!, $0.offset) < ($1.element.averagePrecision!, $1.offset) }
            return ranked.prefix(10).flatMap { items(of: $0.element) }
        case .disagreeing:
            return build.queries.flatMap { items(of: $0) }.filter { $0.row.isRelevant == false }
        case .unflagged:
            return build.queries.flatMap { items(of: $0) }.filter { !build.flagged.contains($0.pair) }
        case .disputes:
            var rows: [ReviewedPair: (ResultRow, Double?)] = [:]
            for q in build.queries { for r in q.rows { rows[ReviewedPair(query: q.queryID, match: r.sampleID)] = (r, q.averagePrecision) } }
            return build.disputes.map { d in
                let found = rows[d.pair]
                return ReviewItem(queryID: d.pair.query, queryAP: found?.1,
                                  row: found?.0 ?? ResultRow(rank: 0, sampleID: d.pair.match, score: nil, isRelevant: nil), dispute: d)
            }
        }
    }

    /// Rebuilds `items` for `kind` and goes to the first unreviewed pair (the end when all are).
    public mutating func select(_ kind: ReviewKind) {
        self.kind = kind
        guard let build else { items = []; position = 0; return }
        items = Self.items(kind, from: build)
        position = items.firstIndex { !isReviewed($0) } ?? max(0, items.count - 1)
    }

    /// After a verdict or skip: the next unreviewed pair after this one, else the next one.
    public mutating func advance() {
        guard !items.isEmpty else { return }
        if let next = items.indices.dropFirst(position + 1).first(where: { !isReviewed(items[$0]) }) {
            position = next
        } else {
            position = min(items.count - 1, position + 1)
        }
    }
}
