import Annotations
import Foundation
import Testing

/// What a review queue resumes from: each annotator's reviewed pairs of a model, verdicts and
/// skips, kept in the store.
@Suite struct ReviewedPairsTests {
    @Test func verdictsAndSkipsAreReviewedPerAnnotatorAndModel() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        let judged = try store.record(flag("q1", "m1", .wrong, by: "ann", model: "m-a"))
        try store.record(flag("q1", "m2", .confirmed, by: "bob", model: "m-a"))
        try store.record(flag("q2", "m1", .confirmed, by: "ann", model: "m-b"))
        try store.skip(dataset: "SampleData", query: "q1", match: "m3", model: "m-a", annotator: "ann")
        try store.skip(dataset: "SampleData", query: "q1", match: "m3", model: "m-a", annotator: "ann")   // again: no change
        try store.skip(dataset: "other", query: "q1", match: "m4", model: "m-a", annotator: "ann")
        #expect(try store.reviewedPairs(dataset: "SampleData", model: "m-a", annotator: "ann")
            == [ReviewedPair(query: "q1", match: "m1"), ReviewedPair(query: "q1", match: "m3")])
        #expect(try store.reviewedPairs(dataset: "SampleData", model: "m-a", annotator: "bob") == [ReviewedPair(query: "q1", match: "m2")])
        #expect(try store.reviewedPairs(dataset: "SampleData", model: "m-b", annotator: "ann") == [ReviewedPair(query: "q2", match: "m1")])

        // Undoing the verdict and the skip leaves nothing reviewed; a skip is not a verdict.
        try store.undo(id: try #require(judged.id))
        try store.unskip(dataset: "SampleData", query: "q1", match: "m3", model: "m-a", annotator: "ann")
        #expect(try store.reviewedPairs(dataset: "SampleData", model: "m-a", annotator: "ann").isEmpty)
        #expect(try store.pairs(dataset: "SampleData").allSatisfy { $0.match != "m3" })
    }

    @Test func skipsSurviveReopeningTheStore() throws {
        let tmp = try TemporaryFolder()
        try FlagStore(path: tmp.store).skip(dataset: "d", query: "q", match: "m", model: "k", annotator: "ann")
        #expect(try FlagStore(path: tmp.store).reviewedPairs(dataset: "d", model: "k", annotator: "ann") == [ReviewedPair(query: "q", match: "m")])
    }
}
