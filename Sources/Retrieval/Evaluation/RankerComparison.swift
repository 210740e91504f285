import SafeText
import Tensor

// Comparing two rankers query by query on the official protocol (docs/data.md §2.6): each query's
// official AP@10 and AP@100 under both, how much their top-k lists overlap (Jaccard and
// rank-biased overlap), and whether the difference in AP@10 is more than chance (a paired
// sign-flip randomisation test and a bootstrap interval). Pure values and functions: no I/O.

/// How much two ranked lists agree at the top.
///
/// Both measures look at the first `depth` ids of each list (ranks 1 to `depth`, the ids the
/// official AP@`depth` reads). An id repeated within one list counts once, at its first rank, so a
/// list always agrees fully with itself.
public enum RankOverlap {
    /// Jaccard overlap of the two top-`depth` sets: |A ∩ B| / |A ∪ B|, from 0 (no id in common) to
    /// 1 (the same ids, in any order). Two empty lists agree: 1.
    public static func jaccard(_ a: [String], _ b: [String], depth: Int) -> Double {
        precondition(depth > 0, "RankOverlap.jaccard: depth must be positive, got \(depth)")
        let setA = Set(a.prefix(depth)), setB = Set(b.prefix(depth))
        let union = setA.union(setB).count
        guard union > 0 else { return 1 }
        return Double(setA.intersection(setB).count) / Double(union)
    }

    /// Rank-biased overlap, extrapolated (RBO_ext, Webber, Moffat and Zobel, "A similarity measure
    /// for indefinite rankings", ACM TOIS 28(4), 2010, equation 32), of the two top-`depth` lists.
    ///
    /// Let S and L be the two lists after dropping repeats, with s = |S| ≤ l = |L| (both at most
    /// `depth`), and p the persistence (0 < p < 1: the weight of rank d falls as p^d, so p = 0.9
    /// puts about 86% of the weight on the first 10 ranks). X_d is the number of ids that the first
    /// d ids of L share with the first min(d, s) ids of S. Then
    ///
    ///     RBO_ext = (1 - p) / p · [ Σ_{d=1..l} (X_d / d) p^d  +  Σ_{d=s+1..l} X_s (d - s) / (s d) · p^d ]
    ///               + [ (X_l - X_s) / l + X_s / s ] · p^l
    ///
    /// With s = l = k this is `(1 - p) / p · Σ_{d=1..k} (X_d / d) p^d + (X_k / k) p^k`. The second
    /// sum and the last term assume that the agreement seen at the bottom of the lists goes on for
    /// ever, so the value is a point estimate of the overlap of the full rankings, in [0, 1]: 1 for
    /// identical lists (and for a list that is a prefix of the other), 0 for lists with no id in
    /// common. Two empty lists give 1, one empty list 0.
    public static func rankBiasedOverlap(_ a: [String], _ b: [String], depth: Int, persistence p: Double = 0.9) -> Double {
        precondition(depth > 0, "RankOverlap.rankBiasedOverlap: depth must be positive, got \(depth)")
        precondition(p > 0 && p < 1, "RankOverlap.rankBiasedOverlap: persistence must be in (0, 1), got \(p)")
        let first = distinctPrefix(a, depth), second = distinctPrefix(b, depth)
        let (short, long) = first.count <= second.count ? (first, second) : (second, first)
        let s = short.count, l = long.count
        if l == 0 { return 1 }
        if s == 0 { return 0 }
        var seenShort = Set<String>(), seenLong = Set<String>()
        var overlap = 0        // X_d
        var overlapAtS = 0     // X_s
        var sum = 0.0
        var weight = 1.0       // p^d
        for d in 1 ... l {
            weight *= p
            if d <= s {
                let id = short[d - 1]
                if seenLong.contains(id) { overlap += 1 }
                seenShort.insert(id)
            }
            let id = long[d - 1]
            if seenShort.contains(id) { overlap += 1 }
            seenLong.insert(id)
            sum += Double(overlap) / Double(d) * weight
            if d == s { overlapAtS = overlap }
            if d > s { sum += Double(overlapAtS) * Double(d - s) / Double(s * d) * weight }
        }
        let tail = (Double(overlap - overlapAtS) / Double(l) + Double(overlapAtS) / Double(s)) * weight
        return (1 - p) / p * sum + tail
    }

    /// The first `depth` ids of `list` with repeats dropped (each kept at its first rank).
    static func distinctPrefix(_ list: [String], _ depth: Int) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        out.reserveCapacity(min(depth, list.count))
        for id in list.prefix(depth) where seen.insert(id).inserted { out.append(id) }
        return out
    }
}

/// The two rankers of a comparison: A, the reference, and B, the one compared with it
/// (differences are B − A).
public enum RankerSide: String, Sendable, CaseIterable {
    case a = "A"
    case b = "B"
}

/// A query's official AP at the two depths a comparison reports.
public struct QueryAveragePrecision: Sendable, Equatable {
    /// AP@10 as the official script computes it (docs/data.md §2.3).
    public let at10: Double
    /// AP@100 as the official script computes it.
    public let at100: Double

    public init(at10: Double, at100: Double) {
        self.at10 = at10
        self.at100 = at100
    }

    /// The official AP@10 and AP@100 of one scored line.
    init(_ line: OfficialLineScore) {
        self.init(at10: line.at(10)?.averagePrecision ?? 0, at100: line.at(100)?.averagePrecision ?? 0)
    }
}

/// One query under both rankers.
public struct QueryComparison: Sendable, Equatable {
    public let queryID: String
    /// Its position in the query split (0-based): the order of `RankerComparison.queries`.
    public let position: Int
    public let a: QueryAveragePrecision
    public let b: QueryAveragePrecision
    /// Jaccard overlap of the two top-k lists (`RankOverlap.jaccard`).
    public let jaccard: Double
    /// Rank-biased overlap of the two top-k lists (`RankOverlap.rankBiasedOverlap`).
    public let rbo: Double

    public init(queryID: String, position: Int, a: QueryAveragePrecision, b: QueryAveragePrecision, jaccard: Double, rbo: Double) {
        self.queryID = queryID
        self.position = position
        self.a = a
        self.b = b
        self.jaccard = jaccard
        self.rbo = rbo
    }

    /// ΔAP@10 = AP@10(B) − AP@10(A): positive where B does better.
    public var deltaAP10: Double { b.at10 - a.at10 }
    /// ΔAP@100 = AP@100(B) − AP@100(A).
    public var deltaAP100: Double { b.at100 - a.at100 }
}

/// Two rankers' official scores on the same queries, paired query by query.
///
/// Each ranker's totals are `OfficialMetrics.evaluate` over its own rankings in their own order,
/// so they are exactly what `vitrine eval` reports for it. The pairs are made by query id: each
/// ranker must have exactly one ranking for every query of the split and none for anything else
/// (otherwise the mean of the differences would not be the difference of the means).
public struct RankerComparison: Sendable {
    /// One entry per query, in the split's order.
    public let queries: [QueryComparison]
    /// A's official report (totals and every line), as `vitrine eval` computes it.
    public let reportA: OfficialReport
    /// B's official report.
    public let reportB: OfficialReport
    /// k: how many ids of each list the overlap measures look at.
    public let depth: Int
    /// p of the rank-biased overlap.
    public let persistence: Double

    /// Two values closer than this count as equal (a tie): AP values that are the same fraction
    /// may differ in the last bits when their sums ran in a different order.
    public static let tieTolerance = 1e-12

    /// Pairs `a` and `b` (one ranking per query, any order) over `queryIDs` (the split, in order)
    /// and scores both with the official protocol against `groundTruth`.
    public init(queryIDs: [String], a: [Ranking], b: [Ranking], groundTruth: OfficialGroundTruth,
                depth: Int = 10, persistence: Double = 0.9) throws(ComparisonError) {
        precondition(depth > 0, "RankerComparison: depth must be positive, got \(depth)")
        guard !queryIDs.isEmpty else { throw .noQueries }
        var positions: [String: Int] = [:]
        positions.reserveCapacity(queryIDs.count)
        for (position, id) in queryIDs.enumerated() where positions[id] == nil { positions[id] = position }
        let lineA = try Self.pair(a, side: .a, positions: positions, queryIDs: queryIDs)
        let lineB = try Self.pair(b, side: .b, positions: positions, queryIDs: queryIDs)
        do {
            reportA = try OfficialMetrics.evaluate(a, groundTruth: groundTruth)
            reportB = try OfficialMetrics.evaluate(b, groundTruth: groundTruth)
        } catch {
            throw .noQueries  // unreachable: pairing has checked that both cover a non-empty split
        }
        var queries: [QueryComparison] = []
        queries.reserveCapacity(queryIDs.count)
        for (position, id) in queryIDs.enumerated() where positions[id] == position {
            let i = lineA[position], j = lineB[position]
            queries.append(QueryComparison(
                queryID: id, position: position,
                a: QueryAveragePrecision(reportA.lines[i]), b: QueryAveragePrecision(reportB.lines[j]),
                jaccard: RankOverlap.jaccard(a[i].galleryIDs, b[j].galleryIDs, depth: depth),
                rbo: RankOverlap.rankBiasedOverlap(a[i].galleryIDs, b[j].galleryIDs, depth: depth, persistence: persistence)))
        }
        self.queries = queries
        self.depth = depth
        self.persistence = persistence
    }

    /// Checks that `rankings` (one ranker's) can be paired over `queryIDs`, before the other
    /// ranker's are made: the errors `init` would throw for `side`.
    public static func checkPairing(_ rankings: [Ranking], side: RankerSide, queryIDs: [String]) throws(ComparisonError) {
        guard !queryIDs.isEmpty else { throw .noQueries }
        var positions: [String: Int] = [:]
        for (position, id) in queryIDs.enumerated() where positions[id] == nil { positions[id] = position }
        _ = try pair(rankings, side: side, positions: positions, queryIDs: queryIDs)
    }

    /// For each query position, the index of its ranking in `rankings`; throws when a ranking is
    /// for no query of the split, or two are for the same one, or a query has none.
    private static func pair(_ rankings: [Ranking], side: RankerSide, positions: [String: Int],
                             queryIDs: [String]) throws(ComparisonError) -> [Int] {
        var index = [Int](repeating: -1, count: queryIDs.count)
        for (i, ranking) in rankings.enumerated() {
            guard let position = positions[ranking.queryID] else {
                throw .notInSplit(side: side, queryID: ranking.queryID, line: i + 1)
            }
            guard index[position] < 0 else {
                throw .duplicateQuery(side: side, queryID: ranking.queryID, lines: (index[position] + 1, i + 1))
            }
            index[position] = i
        }
        let missing = queryIDs.indices.filter { positions[queryIDs[$0]] == $0 && index[$0] < 0 }
        if let first = missing.first {
            throw .missingQueries(side: side, count: missing.count, example: queryIDs[first])
        }
        return index
    }

    /// ΔAP@10 of every query, in the split's order (what the significance test resamples).
    public var deltasAP10: [Double] { queries.map(\.deltaAP10) }
    /// Mean ΔAP@10 over the queries (mAP@10 of B − mAP@10 of A, up to rounding).
    public var meanDeltaAP10: Double { mean(queries.map(\.deltaAP10)) }
    /// Mean ΔAP@100 over the queries.
    public var meanDeltaAP100: Double { mean(queries.map(\.deltaAP100)) }
    /// Mean Jaccard overlap of the top-k lists.
    public var meanJaccard: Double { mean(queries.map(\.jaccard)) }
    /// Mean rank-biased overlap of the top-k lists.
    public var meanRBO: Double { mean(queries.map(\.rbo)) }

    /// Queries where B's AP@10 is higher (wins), equal within `tieTolerance` (ties), lower (losses).
    public var outcome: (wins: Int, ties: Int, losses: Int) {
        var wins = 0, ties = 0, losses = 0
        for q in queries {
            let d = q.deltaAP10
            if abs(d) <= Self.tieTolerance { ties += 1 } else if d > 0 { wins += 1 } else { losses += 1 }
        }
        return (wins, ties, losses)
    }

    /// The queries by ΔAP@10, most improved first and most worsened last; equal differences keep
    /// the split's order.
    public var byDelta: [QueryComparison] {
        queries.sorted { x, y in
            let dx = x.deltaAP10, dy = y.deltaAP10
            if abs(dx - dy) > Self.tieTolerance { return dx > dy }
            return x.position < y.position
        }
    }

    private func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }
}

/// Why two rankers could not be paired.
public enum ComparisonError: Error, Sendable, CustomStringConvertible {
    /// The query split is empty.
    case noQueries
    /// A ranking of `side` (its 1-based `line`) is for a query that is not in the split.
    case notInSplit(side: RankerSide, queryID: String, line: Int)
    /// `side` ranks the same query twice (1-based lines).
    case duplicateQuery(side: RankerSide, queryID: String, lines: (Int, Int))
    /// `side` has no ranking for `count` queries of the split.
    case missingQueries(side: RankerSide, count: Int, example: String)

    /// The ranker the error is about, if one.
    public var side: RankerSide? {
        switch self {
        case .noQueries: return nil
        case .notInSplit(let side, _, _), .duplicateQuery(let side, _, _), .missingQueries(let side, _, _): return side
        }
    }

    public var description: String {
        switch self {
        case .noQueries:
            return "the query split is empty: there is nothing to compare"
        case .notInSplit(_, let id, let line):
            return "line \(line): query \(id.isEmpty ? "'' (a blank line)" : SafeText.quoted(id)) is not a query of the split"
        case .duplicateQuery(_, let id, let lines):
            return "lines \(lines.0) and \(lines.1) both rank query \(SafeText.quoted(id)); a comparison needs one ranking per query"
        case .missingQueries(_, let count, let example):
            return "no ranking for \(count) quer\(count == 1 ? "y" : "ies") of the split, e.g. \(SafeText.quoted(example))"
        }
    }
}

/// A two-sided paired randomisation (sign-flip) test of the mean of paired differences.
///
/// Under the null hypothesis that A and B are exchangeable on every query, each difference
/// d_i = B_i − A_i is as likely to have come out as −d_i. The statistic is T = |Σ d_i| (the mean
/// times n). Each of `resamples` draws flips the sign of every d_i with probability 1/2
/// independently and computes T* = |Σ ±d_i|; with c the number of draws where T* ≥ T (up to
/// rounding: T* ≥ T − 1e-10 · Σ|d_i|), the p-value is (c + 1) / (resamples + 1), the Monte Carlo
/// estimate that counts the observed assignment as one of the draws, so it is never 0 and, when
/// every difference is 0, exactly 1. Deterministic for a seed.
public struct SignFlipTest: Sendable, Equatable {
    /// The observed mean difference (Σ d_i / n).
    public let observedMean: Double
    /// Number of random sign assignments drawn.
    public let resamples: Int
    /// How many of them gave a statistic at least as large as the observed one.
    public let atLeastAsExtreme: Int

    /// (atLeastAsExtreme + 1) / (resamples + 1).
    public var pValue: Double { Double(atLeastAsExtreme + 1) / Double(resamples + 1) }

    /// Runs the test on `differences` with `resamples` draws from `SeededRNG(seed:)`.
    public init(differences: [Double], resamples: Int, seed: UInt64) {
        precondition(resamples > 0, "SignFlipTest: resamples must be positive, got \(resamples)")
        self.resamples = resamples
        let n = differences.count
        guard n > 0 else {
            observedMean = 0
            atLeastAsExtreme = resamples
            return
        }
        let observed = abs(differences.reduce(0, +))
        observedMean = differences.reduce(0, +) / Double(n)
        let threshold = observed - 1e-10 * differences.reduce(0) { $0 + abs($1) }
        var rng = SeededRNG(seed: seed)
        var count = 0
        differences.withUnsafeBufferPointer { d in
            for _ in 0 ..< resamples {
                var sum = 0.0
                var bits: UInt64 = 0
                for i in 0 ..< n {
                    if i & 63 == 0 { bits = rng.next() }
                    sum += bits & 1 == 0 ? d[i] : -d[i]
                    bits >>= 1
                }
                if abs(sum) >= threshold { count += 1 }
            }
        }
        atLeastAsExtreme = count
    }
}

/// A percentile bootstrap confidence interval of the mean of paired differences.
///
/// Each of `resamples` draws picks n differences uniformly with replacement and takes their mean;
/// the bounds are the (1 − level)/2 and (1 + level)/2 quantiles of those means, each the sorted
/// means interpolated linearly at position q · (resamples − 1) (0-based; the usual "type 7"
/// quantile). Deterministic for a seed.
public struct BootstrapInterval: Sendable, Equatable {
    /// A comparison's bootstrap is seeded with its test's seed XOR this, so that it does not
    /// replay the test's draws (`vitrine compare` and the explorer's compare mode alike).
    public static let seedSalt: UInt64 = 0xB5AD_4ECE_DA1C_E2A9
    public let lower: Double
    public let upper: Double
    /// The coverage asked for (0.95 for a 95% interval).
    public let level: Double
    public let resamples: Int

    /// The interval for the mean of `differences` (both bounds 0 when there are none).
    public init(differences: [Double], level: Double = 0.95, resamples: Int, seed: UInt64) {
        precondition(resamples > 0, "BootstrapInterval: resamples must be positive, got \(resamples)")
        precondition(level > 0 && level < 1, "BootstrapInterval: level must be in (0, 1), got \(level)")
        self.level = level
        self.resamples = resamples
        let n = differences.count
        guard n > 0 else {
            lower = 0
            upper = 0
            return
        }
        var rng = SeededRNG(seed: seed)
        var means = [Double](repeating: 0, count: resamples)
        differences.withUnsafeBufferPointer { d in
            for r in 0 ..< resamples {
                var sum = 0.0
                for _ in 0 ..< n { sum += d[rng.below(n)] }
                means[r] = sum / Double(n)
            }
        }
        means.sort()
        func quantile(_ q: Double) -> Double {
            let h = q * Double(resamples - 1)
            let i = Int(h.rounded(.down))
            guard i + 1 < resamples else { return means[resamples - 1] }
            return means[i] + (h - Double(i)) * (means[i + 1] - means[i])
        }
        lower = quantile((1 - level) / 2)
        upper = quantile((1 + level) / 2)
    }
}
