import Foundation
import Testing
import Annotations

/// An adjudicator's verdict decides its pair under every disagreement rule.
@Suite struct AdjudicationTests {
    func adjudication(_ query: String, _ verdict: Verdict, by adjudicator: String = "dan", at seconds: Double) -> Flag {
        Flag.adjudication(dataset: "SampleData", query: query, match: "m1", verdict: verdict, adjudicator: adjudicator,
                          createdAt: Date(timeIntervalSince1970: 1_795_000_000 + seconds))
    }

    @Test(arguments: DisagreementRule.allCases)
    func anAdjudicatedPairTakesTheAdjudicatorsVerdict(rule: DisagreementRule) throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        // q1: two say wrong, the latest confirms: majority says negative, latest positive,
        // exclude drops it. The adjudicator says wrong, before the latest annotator.
        try store.record(flag("q1", "m1", .wrong, by: "ann", at: 0))
        try store.record(flag("q1", "m1", .wrong, by: "bob", at: 1))
        try store.record(flag("q1", "m1", .confirmed, by: "cat", at: 9))
        try store.record(adjudication("q1", .wrong, at: 5))
        // q2: everyone says wrong; the adjudicator confirms, against all of them.
        try store.record(flag("q2", "m1", .wrong, by: "ann", at: 0))
        try store.record(flag("q2", "m1", .wrong, by: "bob", at: 1))
        try store.record(adjudication("q2", .confirmed, at: 2))
        // q3: an adjudication and no annotator.
        try store.record(adjudication("q3", .confirmed, at: 0))
        // q4: contested and not adjudicated: the rule decides as before.
        try store.record(flag("q4", "m1", .confirmed, by: "ann", at: 0))
        try store.record(flag("q4", "m1", .wrong, by: "bob", at: 1))

        let pairs = try store.pairs(dataset: "SampleData", rule: rule)
        func pair(_ q: String) -> FlagPair? { pairs.first { $0.query == q } }
        let q1 = try #require(pair("q1"), "an adjudicated pair is kept under \(rule)")
        #expect(!q1.isPositive && q1.adjudicated && q1.contested && q1.annotators == 3)
        #expect(q1.latest == Date(timeIntervalSince1970: 1_795_000_009))
        let q2 = try #require(pair("q2"))
        #expect(q2.isPositive && q2.adjudicated && !q2.contested && q2.annotators == 2)
        let q3 = try #require(pair("q3"))
        #expect(q3.isPositive && q3.adjudicated && q3.annotators == 0)
        switch rule {
        case .majority, .latest: #expect(pair("q4")?.isPositive == false && pair("q4")?.adjudicated == false)
        case .exclude: #expect(pair("q4") == nil)
        }
    }

    @Test func theLatestAdjudicationWinsAndUndoHandsThePairBackToTheRule() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        try store.record(flag("q1", "m1", .confirmed, by: "ann", at: 0))
        try store.record(flag("q1", "m1", .confirmed, by: "bob", at: 1))
        try store.record(adjudication("q1", .wrong, by: "dan", at: 2))
        let eve = try store.record(adjudication("q1", .confirmed, by: "eve", at: 3))
        #expect(try store.pairs(dataset: "SampleData").first?.isPositive == true)
        // dan adjudicates again, later: his new verdict replaces his old one and is the latest.
        let again = try store.record(adjudication("q1", .wrong, by: "dan", at: 4))
        #expect(try store.pairs(dataset: "SampleData").first?.isPositive == false)
        #expect(try store.history().filter { $0.flag.role == .adjudicator }.map(\.status) == [.replaced, .current, .current])
        // Undoing both current adjudications of eve and dan brings back dan's first one.
        try store.undo(id: try #require(eve.id))
        #expect(try store.undo(id: try #require(again.id))?.verdict == .wrong)
        #expect(try store.pairs(dataset: "SampleData").first?.isPositive == false)
    }

    @Test func anAnnotatorWhoAlsoAdjudicatesKeepsBothVerdicts() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        let vote = try store.record(flag("q1", "m1", .wrong, by: "ann", model: FlagModel.anyModel.key, at: 0))
        let ruling = try store.record(adjudication("q1", .confirmed, by: "ann", at: 1))
        // Same person, pair and model key, but another role: neither replaces the other.
        #expect(try store.flags(dataset: "SampleData", query: "q1") == [vote, ruling])
        #expect(ruling.role == .adjudicator && ruling.model == "any-model" && ruling.modelName == "any model")
        let report = try store.agreement(dataset: "SampleData")
        #expect(report.annotators.map(\.annotator) == ["ann"] && report.adjudicated == 1)
    }

    @Test func adjudicationsSurviveExportAndImport() throws {
        let a = try TemporaryFolder(), b = try TemporaryFolder()
        let store = try FlagStore(path: a.store)
        try store.record(flag("q1", "m1", .wrong, by: "ann", at: 0))
        try store.record(adjudication("q1", .confirmed, at: 1))
        for format in FlagFileFormat.allCases {
            let file = b.path + "/flags." + format.rawValue
            try store.export(format: format).write(to: URL(fileURLWithPath: file))
            let other = try FlagStore(path: b.path + "/\(format.rawValue).sqlite")
            #expect(try other.importFile(file).added == 2)
            #expect(try other.allFlags().map(content) == store.allFlags().map(content))
            #expect(try other.pairs(dataset: "SampleData").first?.adjudicated == true)
        }
    }
}
