import Retrieval
import Testing

@Suite struct RankingTests {
    @Test func scoresAlignWithIDs() {
        let r = Ranking(queryID: "q1", galleryIDs: ["a", "b"], scores: [0.9, 0.5])
        #expect(r.galleryIDs.count == r.scores.count)
        #expect(Ranking(queryID: "q", galleryIDs: ["x"]).scores.isEmpty)
    }
}
