import Foundation

/// Where a stored verdict stands.
public enum FlagStatus: String, Sendable, Codable, CaseIterable {
    /// The annotator's verdict as it stands now (at most one per annotator and key).
    case current
    /// Superseded by a later verdict of the same annotator on the same key; undoing that
    /// later verdict makes this one current again.
    case replaced
    /// Withdrawn with `undo`.
    case undone
}

/// A stored verdict with its history: what `FlagStore.history` returns.
public struct FlagRecord: Sendable, Equatable, Hashable {
    /// The verdict itself (`flag.id` is always set).
    public var flag: Flag
    public var status: FlagStatus
    /// The annotator's earlier verdict on the same key that this one replaced (undo restores it).
    public var replaces: Int64?
    /// The later verdict that replaced this one (status `replaced`).
    public var replacedBy: Int64?
    /// When it stopped being current (replaced or undone).
    public var endedAt: Date?

    public init(flag: Flag, status: FlagStatus, replaces: Int64? = nil, replacedBy: Int64? = nil, endedAt: Date? = nil) {
        self.flag = flag; self.status = status; self.replaces = replaces; self.replacedBy = replacedBy; self.endedAt = endedAt
    }
}

/// A training pair derived from the current verdicts of a dataset: the query and the
/// gallery match, and whether they belong together.
///
/// `query` is as flagged: a query sample's id, or `caption:<text>` for a typed caption.
public struct FlagPair: Sendable, Equatable, Hashable {
    public var query: String
    public var match: String
    /// true for a confirmed match (a positive pair), false for a wrong one (a negative).
    public var isPositive: Bool
    /// How many annotators gave a current verdict on this pair (adjudicators not counted).
    public var annotators: Int
    /// Whether the annotators disagreed (the `DisagreementRule` decided, unless adjudicated).
    public var contested: Bool
    /// The time of the most recent verdict on the pair.
    public var latest: Date
    /// Whether an adjudicator decided the pair (their latest verdict, whatever the rule).
    public var adjudicated: Bool

    public init(query: String, match: String, isPositive: Bool, annotators: Int, contested: Bool, latest: Date,
                adjudicated: Bool = false) {
        self.query = query; self.match = match; self.isPositive = isPositive
        self.annotators = annotators; self.contested = contested; self.latest = latest; self.adjudicated = adjudicated
    }
}

/// What decides a pair when annotators disagree about it.
///
/// Whatever the rule, verdicts are first reduced to one per annotator: each annotator's
/// most recent current verdict on the (query, match) pair, whichever model's ranking it
/// was given on (whether a match is right does not depend on the model that showed it).
/// A pair with an adjudicator's verdict is not settled by the rule: the adjudicator's latest
/// verdict decides it.
public enum DisagreementRule: String, Sendable, Codable, CaseIterable {
    /// The verdict given by more annotators wins; a tie goes to the most recent verdict.
    /// The default: with two annotators it is "the later look wins", with three or more
    /// a single dissenter does not overturn the others.
    case majority
    /// The most recent verdict wins, however many annotators said otherwise.
    case latest
    /// Contested pairs are left out of training.
    case exclude
}

/// How an import went: counts, and the lines that could not be read.
public struct ImportReport: Sendable, Equatable, CustomStringConvertible {
    /// Lines read as flags (all of the file but blank lines, the header and malformed lines).
    public var read: Int
    /// Verdicts added as current (new keys, or newer than the annotator's current verdict, which they replace).
    public var added: Int
    /// Verdicts already in the store (same key, annotator, verdict and time, whatever their status): skipped.
    public var duplicates: Int
    /// Verdicts older than the annotator's current verdict on the same key: kept in the history, not current.
    public var keptAsHistory: Int
    /// The lines that could not be read, with line numbers and reasons (not imported).
    public var malformed: [MalformedLine]

    public init(read: Int = 0, added: Int = 0, duplicates: Int = 0, keptAsHistory: Int = 0, malformed: [MalformedLine] = []) {
        self.read = read; self.added = added; self.duplicates = duplicates
        self.keptAsHistory = keptAsHistory; self.malformed = malformed
    }

    public var description: String {
        var s = "\(added) added, \(duplicates) duplicate\(duplicates == 1 ? "" : "s") skipped"
        if keptAsHistory > 0 { s += ", \(keptAsHistory) older than the current verdict kept as history" }
        s += ", \(malformed.count) malformed line\(malformed.count == 1 ? "" : "s")"
        return s
    }
}

/// A (query, match) pair someone has reviewed: given a verdict or skipped (`FlagStore.reviewedPairs`).
public struct ReviewedPair: Sendable, Hashable {
    public var query: String
    public var match: String
    public init(query: String, match: String) { self.query = query; self.match = match }
}
