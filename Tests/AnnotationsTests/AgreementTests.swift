import Foundation
import Testing
import Annotations

/// Cohen's kappa and the agreement report, on tables worked by hand.
@Suite struct AgreementTests {
    /// A table from its four cells: (first, second) = (wrong, wrong), (wrong, confirmed),
    /// (confirmed, wrong), (confirmed, confirmed).
    func table(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> AgreementTable {
        AgreementTable(bothWrong: a, onlyFirstWrong: b, onlySecondWrong: c, bothConfirmed: d)
    }

    @Test func perfectAgreementOnBothVerdictsIsOne() throws {
        // 3 pairs both said wrong, 2 both confirmed: p_o = 1; p_e = 3/5·3/5 + 2/5·2/5 = 13/25;
        // κ = (1 − 13/25) / (1 − 13/25) = 1.
        let t = table(3, 0, 0, 2)
        #expect(t.shared == 5 && t.agreed == 5)
        #expect(t.observed == 1)
        #expect(abs(try #require(t.expected) - 13.0 / 25) < 1e-12)
        #expect(t.kappa == 1)
        #expect(t.kappaUndefinedReason == nil)
    }

    @Test func aTwoByTwoTableWorkedByHand() throws {
        // n = 50 shared pairs:
        //                      second wrong   second confirmed
        //   first wrong             20               5          (first: 25 wrong)
        //   first confirmed         10              15          (first: 25 confirmed)
        //                      (30 wrong)      (20 confirmed)
        // p_o = (20 + 15) / 50 = 0.7
        // p_e = (25/50)(30/50) + (25/50)(20/50) = 0.30 + 0.20 = 0.5
        // κ = (0.7 − 0.5) / (1 − 0.5) = 0.4
        let t = table(20, 5, 10, 15)
        #expect(t.shared == 50 && t.agreed == 35)
        #expect(abs(try #require(t.observed) - 0.7) < 1e-12)
        #expect(abs(try #require(t.expected) - 0.5) < 1e-12)
        #expect(abs(try #require(t.kappa) - 0.4) < 1e-12)
        // The table is not symmetric in its annotators, but κ is: swapping them swaps b and c.
        #expect(abs(try #require(table(20, 10, 5, 15).kappa) - 0.4) < 1e-12)
    }

    @Test func chanceLevelIsZeroAndBelowChanceIsNegative() throws {
        // Every cell 5: p_o = 0.5, p_e = 0.5·0.5 + 0.5·0.5 = 0.5, κ = 0.
        #expect(table(5, 5, 5, 5).kappa == 0)
        // They never agree, each saying wrong half the time: p_o = 0, p_e = 0.5, κ = −1.
        #expect(table(0, 5, 5, 0).kappa == -1)
        // One pair each way and nothing else: p_o = 0, p_e = 0.5, κ = −1 again.
        #expect(table(0, 1, 1, 0).kappa == -1)
    }

    @Test func kappaIsUndefinedWithoutSharedPairsOrWhenChanceIsCertain() {
        let none = table(0, 0, 0, 0)
        #expect(none.kappa == nil && none.observed == nil && none.expected == nil)
        #expect(none.kappaUndefinedReason == "no pairs judged by both")
        // Both confirmed all 4 shared pairs: p_o = 1 but p_e = 1 too, κ = 0/0.
        let allConfirmed = table(0, 0, 0, 4)
        #expect(allConfirmed.observed == 1 && allConfirmed.expected == 1 && allConfirmed.kappa == nil)
        #expect(allConfirmed.kappaUndefinedReason?.contains("both said confirmed on all 4 shared pairs") == true)
        #expect(table(1, 0, 0, 0).kappaUndefinedReason?.contains("both said wrong on all 1 shared pair ") == true)
        // One said wrong throughout, the other confirmed throughout: p_e = 0, κ = 0 (defined).
        #expect(table(0, 3, 0, 0).kappa == 0)
    }

    /// Flags of three annotators; each counts once per pair with their latest verdict whatever
    /// the model, exactly as training pairs are made.
    @Test func theReportCountsComparesAndListsDisagreements() throws {
        let sha = String(repeating: "a", count: 64)
        let flags = [
            // p1: ann wrong (on two models: her later verdict, confirmed, counts), bob confirmed.
            flag("p1", "m", .wrong, by: "ann", model: "zero-shot:e5", at: 0),
            flag("p1", "m", .confirmed, by: "ann", model: sha, at: 5),
            flag("p1", "m", .confirmed, by: "bob", at: 1),
            // p2: ann wrong, bob confirmed, cat wrong; adjudicated confirmed.
            flag("p2", "m", .wrong, by: "ann", at: 0),
            flag("p2", "m", .confirmed, by: "bob", at: 1),
            flag("p2", "m", .wrong, by: "cat", at: 2),
            Flag.adjudication(dataset: "SampleData", query: "p2", match: "m", verdict: .confirmed, adjudicator: "dan",
                              createdAt: Date(timeIntervalSince1970: 1_795_000_010)),
            // p3: ann and bob both wrong.
            flag("p3", "m", .wrong, by: "ann", at: 0),
            flag("p3", "m", .wrong, by: "bob", at: 0),
            // Another dataset: a pair of its own.
            flag("p1", "m", .confirmed, by: "cat", model: "legacy:best.safetensors", dataset: "Other", at: 0),
        ]
        let report = Agreement.report(flags)
        #expect(report.annotators == [AnnotatorCounts(annotator: "ann", wrong: 3, confirmed: 1, pairs: 3),
                                      AnnotatorCounts(annotator: "bob", wrong: 1, confirmed: 2, pairs: 3),
                                      AnnotatorCounts(annotator: "cat", wrong: 1, confirmed: 1, pairs: 2)])
        #expect(report.pairwise.map { "\($0.first)/\($0.second)" } == ["ann/bob", "ann/cat", "bob/cat"])
        // ann/bob: p1 (c, c), p2 (w, c), p3 (w, w): a = 1, b = 1, c = 0, d = 1; p_o = 2/3;
        // p_e = (2/3)(1/3) + (1/3)(2/3) = 4/9; κ = (2/3 − 4/9) / (5/9) = 2/5.
        #expect(report.pairwise[0].table == table(1, 1, 0, 1))
        #expect(abs(try #require(report.pairwise[0].table.kappa) - 0.4) < 1e-12)
        // ann/cat share p2 only (both wrong): κ undefined. bob/cat share p2 (c, w).
        #expect(report.pairwise[1].table == table(1, 0, 0, 0) && report.pairwise[1].table.kappa == nil)
        #expect(report.pairwise[2].table == table(0, 0, 1, 0))
        #expect(report.disagreements.map(\.query) == ["p2"])
        let p2 = try #require(report.disagreements.first)
        #expect(p2.verdicts.map { "\($0.annotator):\($0.verdict.rawValue)" } == ["ann:wrong", "bob:confirmed", "cat:wrong"])
        #expect(p2.adjudication?.annotator == "dan" && p2.adjudication?.verdict == .confirmed)
        #expect(report.adjudicated == 1)
        #expect(report.legacyVerdicts == 1)
    }
}
