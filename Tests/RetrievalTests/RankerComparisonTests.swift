import Foundation
import Retrieval
import Tensor
import Testing

/// `RankOverlap`, `RankerComparison`, `SignFlipTest` and `BootstrapInterval` (docs/data.md §2.6):
/// hand-worked values, pairing rules, and the test's behaviour when there is nothing to find.
@Suite struct RankerComparisonTests {
    // MARK: Jaccard

    @Test func jaccardCountsSharedIDsOverAllIDsOfTheTopK() {
        // {a b c} and {a c d}: shared a, c (2); union a b c d (4) -> 2 / 4.
        #expect(RankOverlap.jaccard(["a", "b", "c"], ["a", "c", "d"], depth: 10) == 0.5)
        // Order does not matter, only the sets.
        #expect(RankOverlap.jaccard(["a", "b", "c"], ["c", "b", "a"], depth: 3) == 1)
        #expect(RankOverlap.jaccard(["a", "b"], ["x", "y"], depth: 2) == 0)
        // Only the first `depth` ids: {a b} and {a x} -> 1 / 3 (d, shared at rank 4, is not seen).
        #expect(RankOverlap.jaccard(["a", "b", "c", "d"], ["a", "x", "y", "d"], depth: 2) == 1.0 / 3)
        // A repeated id counts once; two empty lists agree.
        #expect(RankOverlap.jaccard(["a", "a", "b"], ["b", "a"], depth: 3) == 1)
        #expect(RankOverlap.jaccard([], [], depth: 10) == 1)
        #expect(RankOverlap.jaccard(["a"], [], depth: 10) == 0)
    }

    // MARK: Rank-biased overlap

    @Test func rboOfIdenticalListsIsOneAndOfDisjointListsZero() {
        let list = (0 ..< 10).map { "g\($0)" }
        // Identical: every A_d = 1, so (1 - p)/p · Σ_{d=1..10} p^d + p^10 = (1 - p^10) + p^10 = 1.
        #expect(abs(RankOverlap.rankBiasedOverlap(list, list, depth: 10) - 1) < 1e-12)
        #expect(abs(RankOverlap.rankBiasedOverlap(list, list, depth: 3, persistence: 0.5) - 1) < 1e-12)
        // Disjoint: every X_d = 0.
        #expect(RankOverlap.rankBiasedOverlap(list, list.map { $0 + "'" }, depth: 10) == 0)
        // A repeat is dropped (each id at its first rank), so [a a b] agrees with [a b].
        #expect(abs(RankOverlap.rankBiasedOverlap(["a", "a", "b"], ["a", "b"], depth: 3) - 1) < 1e-12)
        #expect(RankOverlap.rankBiasedOverlap([], [], depth: 10) == 1)
        #expect(RankOverlap.rankBiasedOverlap(["a"], [], depth: 10) == 0)
    }

    @Test func rboOfAPartialOverlapWorkedByHand() {
        // S = [a b c], L = [a c d], p = 0.9, both of length 3 (even lengths):
        //   d = 1: {a} ∩ {a} = 1          A_1 = 1     · 0.9   = 0.9
        //   d = 2: {a b} ∩ {a c} = 1      A_2 = 1/2   · 0.81  = 0.405
        //   d = 3: {a b c} ∩ {a c d} = 2  A_3 = 2/3   · 0.729 = 0.486
        //   (1 - p)/p · 1.791 = 0.199;  plus X_3 / 3 · p^3 = 0.486;  RBO_ext = 0.685.
        let even = RankOverlap.rankBiasedOverlap(["a", "b", "c"], ["a", "c", "d"], depth: 10)
        #expect(abs(even - 0.685) < 1e-12)
        #expect(RankOverlap.rankBiasedOverlap(["a", "c", "d"], ["a", "b", "c"], depth: 10) == even, "symmetric")

        // Uneven: S = [a b] (s = 2), L = [a c b] (l = 3):
        //   d = 1: X = 1 -> 1 · 0.9 = 0.9;  d = 2: X = 1 -> 1/2 · 0.81 = 0.405 (X_s = 1)
        //   d = 3: X = |{a b} ∩ {a c b}| = 2 -> 2/3 · 0.729 = 0.486,
        //          and X_s (d - s) / (s d) · p^3 = 1 · 1 / 6 · 0.729 = 0.1215
        //   (1 - p)/p · 1.9125 = 0.2125;  tail ((X_l - X_s)/l + X_s/s) p^3 = (1/3 + 1/2) · 0.729 = 0.6075
        //   RBO_ext = 0.82.
        #expect(abs(RankOverlap.rankBiasedOverlap(["a", "b"], ["a", "c", "b"], depth: 10) - 0.82) < 1e-12)
        // A list that is a prefix of the other extrapolates to full agreement.
        #expect(abs(RankOverlap.rankBiasedOverlap(["a"], ["a", "b"], depth: 10) - 1) < 1e-12)
        // Only the first `depth` ids count: at depth 1, [a ...] and [a ...] agree whatever follows.
        #expect(abs(RankOverlap.rankBiasedOverlap(["a", "b"], ["a", "x"], depth: 1) - 1) < 1e-12)
    }

    // MARK: Pairing and per-query AP

    /// Two rankers on q1 and q5 of `quirkGroundTruth` (OfficialMetricsTests), B's lines in the
    /// other order.
    static let rankingsA = [Ranking(queryID: "q1", galleryIDs: ["g1", "g6", "g2"]),
                            Ranking(queryID: "q5", galleryIDs: ["g8"])]
    static let rankingsB = [Ranking(queryID: "q5", galleryIDs: ["g1", "g8"]),
                            Ranking(queryID: "q1", galleryIDs: ["g6", "g1", "g2"])]

    @Test func perQueryDifferencesAndOverlapsWorkedByHand() throws {
        let c = try RankerComparison(queryIDs: ["q1", "q5"], a: Self.rankingsA, b: Self.rankingsB, groundTruth: quirkGroundTruth)
        #expect(c.queries.map(\.queryID) == ["q1", "q5"], "the split's order, whatever the lines' order")
        // q1 = [A, B], pos = g1..g5 (5 ids). A: [g1 g6 g2], k = min(10, 5, 3) = 3, hits at 1 and 3:
        // AP = (1/1 + 2/3) / 2 = 5/6. B: [g6 g1 g2], hits at 2 and 3: (1/2 + 2/3) / 2 = 7/12.
        // ΔAP@10 = 7/12 - 10/12 = -1/4. Same ids: Jaccard 1; RBO: X = 0, 2, 3 at d = 1, 2, 3:
        // (1/9)(0 + 1 · 0.81 + 1 · 0.729) + 1 · 0.729 = 0.171 + 0.729 = 0.9.
        let q1 = c.queries[0]
        #expect(abs(q1.a.at10 - 5.0 / 6) < 1e-15 && abs(q1.b.at10 - 7.0 / 12) < 1e-15)
        #expect(abs(q1.deltaAP10 + 0.25) < 1e-15 && q1.a.at100 == q1.a.at10)
        #expect(q1.jaccard == 1 && abs(q1.rbo - 0.9) < 1e-12)
        // q5 = [E], pos = [g8], so k = 1. A: [g8] -> AP 1. B: [g1 g8] -> the hit is at rank 2 > k: 0.
        // ΔAP@10 = -1. Jaccard {g8} / {g1 g8} = 1/2. RBO (s = 1, l = 2): X_1 = 0, X_2 = 1:
        // (1/9)(0 + 1/2 · 0.81) + ((1 - 0)/2 + 0/1) · 0.81 = 0.045 + 0.405 = 0.45.
        let q5 = c.queries[1]
        #expect(q5.a.at10 == 1 && q5.b.at10 == 0 && q5.deltaAP10 == -1)
        #expect(q5.jaccard == 0.5 && abs(q5.rbo - 0.45) < 1e-12)

        #expect(abs(c.meanDeltaAP10 + 0.625) < 1e-15)
        #expect(abs(c.meanJaccard - 0.75) < 1e-15)
        #expect(c.outcome == (wins: 0, ties: 0, losses: 2))
        #expect(c.byDelta.map(\.queryID) == ["q1", "q5"], "most improved (least worsened) first")
        // The totals are the official evaluation of each ranker's own lines, as `vitrine eval` prints them.
        #expect(c.reportA == (try OfficialMetrics.evaluate(Self.rankingsA, groundTruth: quirkGroundTruth)))
        #expect(c.reportB == (try OfficialMetrics.evaluate(Self.rankingsB, groundTruth: quirkGroundTruth)))
        #expect(abs((c.reportB.results.at(10)!.mAP - c.reportA.results.at(10)!.mAP) - c.meanDeltaAP10) < 1e-15)
    }

    @Test func aRankerComparedWithItselfTiesEverywhere() throws {
        let c = try RankerComparison(queryIDs: ["q5", "q1"], a: Self.rankingsA, b: Self.rankingsA, groundTruth: quirkGroundTruth, depth: 2)
        #expect(c.queries.allSatisfy { $0.deltaAP10 == 0 && $0.deltaAP100 == 0 && $0.jaccard == 1 && abs($0.rbo - 1) < 1e-12 })
        #expect(c.outcome == (wins: 0, ties: 2, losses: 0))
        #expect(c.byDelta.map(\.queryID) == ["q5", "q1"], "ties keep the split's order")
    }

    @Test func pairingNeedsOneRankingPerQueryOfTheSplit() {
        func error(_ ids: [String], _ b: [Ranking]) -> ComparisonError? {
            do {
                _ = try RankerComparison(queryIDs: ids, a: Self.rankingsA, b: b, groundTruth: quirkGroundTruth)
                return nil
            } catch {
                return error
            }
        }
        guard case .missingQueries(.b, 1, "q5") = error(["q1", "q5"], [Self.rankingsB[1]]) else {
            Issue.record("a query without a ranking")
            return
        }
        guard case .duplicateQuery(.b, "q1", let lines) = error(["q1", "q5"], Self.rankingsB + [Self.rankingsB[1]]), lines == (2, 3) else {
            Issue.record("a query ranked twice")
            return
        }
        guard case .notInSplit(.a, "q5", 2) = error(["q1"], [Self.rankingsB[1]]) else {
            Issue.record("a ranking for a query of another split")
            return
        }
        guard case .noQueries = error([], []) else {
            Issue.record("an empty split")
            return
        }
        let message = ComparisonError.notInSplit(side: .b, queryID: "q\u{1B}[31m", line: 4).description
        #expect(message.contains("line 4") && !message.contains("\u{1B}"), "data in a message is escaped: \(message)")
    }

    // MARK: The randomisation test and the bootstrap

    @Test func identicalRankersGetPOfOne() {
        let zeros = [Double](repeating: 0, count: 300)
        let test = SignFlipTest(differences: zeros, resamples: 10_000, seed: 0)
        #expect(test.pValue == 1 && test.atLeastAsExtreme == 10_000 && test.observedMean == 0)
        #expect(SignFlipTest(differences: [], resamples: 10, seed: 0).pValue == 1)
        let interval = BootstrapInterval(differences: zeros, resamples: 2_000, seed: 0)
        #expect(interval.lower == 0 && interval.upper == 0)
    }

    @Test func aClearDifferenceIsFoundAndTheTestIsDeterministic() {
        var rng = SeededRNG(seed: 7)
        let shifted = (0 ..< 60).map { _ in 0.2 + 0.3 * (Double(rng.uniform()) - 0.5) }
        let test = SignFlipTest(differences: shifted, resamples: 2_000, seed: 3)
        #expect(test.atLeastAsExtreme == 0 && test.pValue == 1.0 / 2_001)
        // Mirrored differences give the same p: the test is two-sided.
        #expect(SignFlipTest(differences: shifted.map { -$0 }, resamples: 2_000, seed: 3).pValue == test.pValue)
        // Same seed, same draws.
        let noisy = (0 ..< 40).map { _ in Double(rng.uniform()) - 0.45 }
        #expect(SignFlipTest(differences: noisy, resamples: 1_000, seed: 11) == SignFlipTest(differences: noisy, resamples: 1_000, seed: 11))
        #expect(BootstrapInterval(differences: noisy, resamples: 1_000, seed: 11) == BootstrapInterval(differences: noisy, resamples: 1_000, seed: 11))
    }

    /// Two rankers that differ only by noise: per query a shared difficulty, and each ranker's AP
    /// that difficulty plus its own noise (rounded to tenths, so many queries tie, as real APs
    /// do). Over 200 seeds the p-values should be about uniform: about 5% below 0.05.
    @Test func underTheNullThePValuesAreAboutUniform() {
        var below05 = 0, below50 = 0
        let seeds = 200
        for seed in 0 ..< seeds {
            var shared = SeededRNG(seed: 10_000 + UInt64(seed))
            var noiseA = SeededRNG(seed: 20_000 + UInt64(seed)), noiseB = SeededRNG(seed: 30_000 + UInt64(seed))
            var differences: [Double] = []
            for _ in 0 ..< 50 {
                let difficulty = Double(shared.uniform())
                func ap(_ rng: inout SeededRNG) -> Double {
                    (min(1, max(0, difficulty + 0.4 * (Double(rng.uniform()) - 0.5))) * 10).rounded() / 10
                }
                differences.append(ap(&noiseB) - ap(&noiseA))
            }
            let p = SignFlipTest(differences: differences, resamples: 500, seed: UInt64(seed)).pValue
            if p < 0.05 { below05 += 1 }
            if p < 0.5 { below50 += 1 }
        }
        let fraction05 = Double(below05) / Double(seeds), fraction50 = Double(below50) / Double(seeds)
        print("sign-flip test under the null, \(seeds) seeds: p < 0.05 in \(fraction05), p < 0.5 in \(fraction50)")
        #expect((0.01 ... 0.10).contains(fraction05), "fraction of p < 0.05 under the null: \(fraction05)")
        #expect((0.35 ... 0.65).contains(fraction50), "fraction of p < 0.5 under the null: \(fraction50)")
    }

    @Test func theBootstrapIntervalCoversTheMeanWithTheExpectedWidth() {
        // 100 differences, half 0 and half 1: mean 0.5, standard error 0.5 / √100 = 0.05, so the
        // 95% interval is about 0.5 ± 1.96 · 0.05 = [0.402, 0.598].
        let differences = (0 ..< 100).map { Double($0 % 2) }
        let interval = BootstrapInterval(differences: differences, level: 0.95, resamples: 10_000, seed: 5)
        #expect((0.38 ... 0.42).contains(interval.lower) && (0.58 ... 0.62).contains(interval.upper), "\(interval)")
        // A constant difference has no spread.
        let constant = BootstrapInterval(differences: [Double](repeating: 0.25, count: 30), resamples: 500, seed: 1)
        #expect(abs(constant.lower - 0.25) < 1e-15 && abs(constant.upper - 0.25) < 1e-15)
    }
}
