import Foundation

/// Two annotators' verdicts on the pairs both judged, as a 2x2 table, with the percentage
/// agreement and Cohen's kappa (docs/flags.md §5.1).
///
/// Rows are the first annotator's verdict, columns the second's:
///
/// |                   | second: wrong | second: confirmed |
/// |---|---|---|
/// | first: wrong      | `bothWrong` (a)      | `onlyFirstWrong` (b) |
/// | first: confirmed  | `onlySecondWrong` (c) | `bothConfirmed` (d) |
///
/// With n = a + b + c + d shared pairs:
/// - observed agreement p_o = (a + d) / n;
/// - chance agreement p_e = p1(wrong)·p2(wrong) + p1(confirmed)·p2(confirmed), each annotator's
///   proportions taken over the shared pairs (their marginals): p1(wrong) = (a + b) / n,
///   p2(wrong) = (a + c) / n, p1(confirmed) = (c + d) / n, p2(confirmed) = (b + d) / n;
/// - Cohen's κ = (p_o − p_e) / (1 − p_e): 1 for perfect agreement, 0 for what chance alone
///   gives, negative below chance.
///
/// κ is undefined when there are no shared pairs, and when p_e = 1, which happens exactly when
/// both annotators gave one and the same verdict to every shared pair (0/0: their agreement
/// is perfect but says nothing beyond chance). κ is computed from the integer counts
/// (κ = (n(a+d) − E) / (n² − E) with E = (a+b)(a+c) + (c+d)(b+d)), so "undefined" is decided
/// exactly, not by a rounding test.
public struct AgreementTable: Sendable, Equatable, Hashable {
    public var bothWrong: Int
    /// The first annotator said wrong, the second confirmed.
    public var onlyFirstWrong: Int
    /// The first annotator confirmed, the second said wrong.
    public var onlySecondWrong: Int
    public var bothConfirmed: Int

    public init(bothWrong: Int = 0, onlyFirstWrong: Int = 0, onlySecondWrong: Int = 0, bothConfirmed: Int = 0) {
        self.bothWrong = bothWrong; self.onlyFirstWrong = onlyFirstWrong
        self.onlySecondWrong = onlySecondWrong; self.bothConfirmed = bothConfirmed
    }

    /// Counts one shared pair.
    public mutating func add(first: Verdict, second: Verdict) {
        switch (first, second) {
        case (.wrong, .wrong): bothWrong += 1
        case (.wrong, .confirmed): onlyFirstWrong += 1
        case (.confirmed, .wrong): onlySecondWrong += 1
        case (.confirmed, .confirmed): bothConfirmed += 1
        }
    }

    /// The pairs both judged (n).
    public var shared: Int { bothWrong + onlyFirstWrong + onlySecondWrong + bothConfirmed }
    /// The pairs they gave the same verdict (a + d).
    public var agreed: Int { bothWrong + bothConfirmed }

    /// p_o, or nil without shared pairs.
    public var observed: Double? { shared == 0 ? nil : Double(agreed) / Double(shared) }

    /// E = n² · p_e.
    private var chanceTimesNSquared: Int {
        (bothWrong + onlyFirstWrong) * (bothWrong + onlySecondWrong) + (onlySecondWrong + bothConfirmed) * (onlyFirstWrong + bothConfirmed)
    }

    /// p_e, or nil without shared pairs.
    public var expected: Double? {
        shared == 0 ? nil : Double(chanceTimesNSquared) / (Double(shared) * Double(shared))
    }

    /// Cohen's κ, or nil where it is undefined (``kappaUndefinedReason`` says why).
    public var kappa: Double? {
        let n = shared, e = chanceTimesNSquared
        guard n > 0, n * n != e else { return nil }
        return Double(n * agreed - e) / Double(n * n - e)
    }

    /// Why κ is undefined, or nil when it is defined.
    public var kappaUndefinedReason: String? {
        if shared == 0 { return "no pairs judged by both" }
        guard kappa == nil else { return nil }
        let only = bothWrong > 0 ? Verdict.wrong : Verdict.confirmed
        return "both said \(only.rawValue) on all \(shared) shared pair\(shared == 1 ? "" : "s") (chance agreement is 1)"
    }
}

/// One annotator's current verdicts.
public struct AnnotatorCounts: Sendable, Equatable, Hashable {
    public var annotator: String
    /// Current verdicts `wrong` and `confirmed` (one per key: a pair judged on two models' rankings counts twice).
    public var wrong: Int
    public var confirmed: Int
    /// The distinct (dataset, query, match) pairs they judged, whatever the model.
    public var pairs: Int

    public init(annotator: String, wrong: Int = 0, confirmed: Int = 0, pairs: Int = 0) {
        self.annotator = annotator; self.wrong = wrong; self.confirmed = confirmed; self.pairs = pairs
    }

    public var total: Int { wrong + confirmed }
}

/// Two annotators (`first` < `second` by name) and their table.
public struct PairwiseAgreement: Sendable, Equatable, Hashable {
    public var first: String
    public var second: String
    public var table: AgreementTable

    public init(first: String, second: String, table: AgreementTable) {
        self.first = first; self.second = second; self.table = table
    }
}

/// One annotator's verdict on a pair (their latest, whatever the model).
public struct AnnotatorVerdict: Sendable, Equatable, Hashable {
    public var annotator: String
    public var verdict: Verdict
    public var at: Date

    public init(annotator: String, verdict: Verdict, at: Date) {
        self.annotator = annotator; self.verdict = verdict; self.at = at
    }
}

/// A pair the annotators disagree on, with each one's latest verdict and the adjudication if any.
public struct Disagreement: Sendable, Equatable, Hashable {
    public var dataset: String
    public var query: String
    public var match: String
    /// By annotator name.
    public var verdicts: [AnnotatorVerdict]
    /// The latest adjudicator's verdict on the pair (it decides the pair in `vitrine flags pairs`).
    public var adjudication: AnnotatorVerdict?

    public init(dataset: String, query: String, match: String, verdicts: [AnnotatorVerdict], adjudication: AnnotatorVerdict? = nil) {
        self.dataset = dataset; self.query = query; self.match = match; self.verdicts = verdicts; self.adjudication = adjudication
    }
}

/// What `vitrine flags stats` shows.
public struct AgreementReport: Sendable, Equatable {
    /// Per annotator, by name (adjudicators' verdicts are not counted here).
    public var annotators: [AnnotatorCounts]
    /// Every two annotators, by names.
    public var pairwise: [PairwiseAgreement]
    /// Pairs whose annotators' latest verdicts differ, by dataset, query, match.
    public var disagreements: [Disagreement]
    /// Pairs with an adjudicator's verdict.
    public var adjudicated: Int
    /// Annotators' verdicts counted here whose model key is `legacy:` (recorded by file name
    /// before schema v2, the file not found).
    public var legacyVerdicts: Int

    public init(annotators: [AnnotatorCounts], pairwise: [PairwiseAgreement], disagreements: [Disagreement],
                adjudicated: Int, legacyVerdicts: Int) {
        self.annotators = annotators; self.pairwise = pairwise; self.disagreements = disagreements
        self.adjudicated = adjudicated; self.legacyVerdicts = legacyVerdicts
    }
}

/// Agreement statistics over current verdicts: pure functions, no store.
public enum Agreement {
    /// The statistics of `flags` (current verdicts; the caller filters by dataset or model).
    ///
    /// A pair is (dataset, query, match): as for training pairs, each annotator counts once per
    /// pair with their latest verdict whatever the model (``FlagStore/resolvePairs(_:rule:)``).
    /// Two annotators are compared on the pairs both judged; every two annotators are listed,
    /// with zero shared pairs where they judged none in common.
    public static func report(_ flags: [Flag]) -> AgreementReport {
        struct PairKey: Hashable, Comparable {
            var dataset: String, query: String, match: String
            static func < (a: PairKey, b: PairKey) -> Bool { (a.dataset, a.query, a.match) < (b.dataset, b.query, b.match) }
        }
        var counts: [String: AnnotatorCounts] = [:]
        var groups: [PairKey: [Flag]] = [:]
        var legacy = 0
        for f in flags {
            groups[PairKey(dataset: f.dataset, query: f.query, match: f.match), default: []].append(f)
            guard f.role == .annotator else { continue }
            var c = counts[f.annotator] ?? AnnotatorCounts(annotator: f.annotator)
            if f.verdict == .wrong { c.wrong += 1 } else { c.confirmed += 1 }
            counts[f.annotator] = c
            if f.flagModel.isLegacy { legacy += 1 }
        }
        let names = counts.keys.sorted()
        var tables: [String: [String: AgreementTable]] = [:]
        var disagreements: [Disagreement] = []
        var adjudicated = 0
        for key in groups.keys.sorted() {
            let verdicts = groups[key] ?? []
            let votes = FlagStore.latestPerAnnotator(verdicts.filter { $0.role == .annotator }).sorted { $0.annotator < $1.annotator }
            let adjudication = verdicts.filter { $0.role == .adjudicator }.max { FlagStore.isLater($1, than: $0) }
            if adjudication != nil { adjudicated += 1 }
            for v in votes { counts[v.annotator]?.pairs += 1 }
            for i in votes.indices {
                for j in votes.indices where j > i {
                    tables[votes[i].annotator, default: [:]][votes[j].annotator, default: AgreementTable()]
                        .add(first: votes[i].verdict, second: votes[j].verdict)
                }
            }
            if Set(votes.map(\.verdict)).count > 1 {
                disagreements.append(Disagreement(
                    dataset: key.dataset, query: key.query, match: key.match,
                    verdicts: votes.map { AnnotatorVerdict(annotator: $0.annotator, verdict: $0.verdict, at: $0.createdAt) },
                    adjudication: adjudication.map { AnnotatorVerdict(annotator: $0.annotator, verdict: $0.verdict, at: $0.createdAt) }))
            }
        }
        var pairwise: [PairwiseAgreement] = []
        for i in names.indices {
            for j in names.indices where j > i {
                pairwise.append(PairwiseAgreement(first: names[i], second: names[j], table: tables[names[i]]?[names[j]] ?? AgreementTable()))
            }
        }
        return AgreementReport(annotators: names.compactMap { counts[$0] }, pairwise: pairwise, disagreements: disagreements,
                               adjudicated: adjudicated, legacyVerdicts: legacy)
    }
}
