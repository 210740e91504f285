import Catalog
import Foundation
import Retrieval
import Testing

@Suite(.serialized) struct AttentionSummaryTests {
    func expectDistribution(_ map: [Float], count: Int, _ what: String) {
        #expect(map.count == count, "\(what): \(map.count) values")
        #expect(map.allSatisfy { $0 >= 0 && $0.isFinite }, "\(what): negative or non-finite values")
        #expect(abs(map.reduce(0, +) - 1) < 1e-4, "\(what) sums to \(map.reduce(0, +))")
    }

    @Test func modelAttentionHasTheDocumentedShape() throws {
        let data = try EngineFixture.smallDataset(gallery: 12, queries: 3)
        let cache = try EngineFixture.temporaryFolder("attention-cache")
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: cache) }
        let checkpoint = cache + "/small.safetensors"
        try EngineFixture.writeSmallCheckpoint(to: checkpoint, seed: 3)
        let engine = try RetrievalEngine(dataPath: data, system: .model(checkpoint: checkpoint),
                                         options: try EngineFixture.options(indexRoot: cache))
        #expect(engine.modelName == "small.safetensors")
        let match = engine.gallery[4].id

        // Five words, one of them split into wordpieces: all five come back, shares summing to 1.
        let summary = try engine.attention(for: .caption("hydrating unbelievably rich face cream"), match: match)
        #expect(summary.side == 7)
        #expect(summary.tokens.map(\.token).sorted() == ["cream", "face", "hydrating", "rich", "unbelievably"])
        #expect(abs(summary.tokens.map(\.weight).reduce(0, +) - 1) < 1e-5)
        #expect(zip(summary.tokens, summary.tokens.dropFirst()).allSatisfy { $0.weight >= $1.weight }, "heaviest first")
        expectDistribution(summary.map, count: 49, "overall map")
        #expect(summary.tokenMaps.count == summary.tokens.count)
        for (token, map) in zip(summary.tokens, summary.tokenMaps) { expectDistribution(map, count: 49, token.token) }

        // At most maxTokens tokens for a long caption; shares of the whole caption's mass.
        let long = try engine.attention(for: .caption("one two three four five six seven eight nine ten eleven twelve"),
                                        match: match, maxTokens: 8)
        #expect(long.tokens.count == 8 && long.tokens.map(\.weight).reduce(0, +) < 1)

        // A sample as a pair uses its caption; as an image, the cell-similarity map.
        let query = try #require(engine.dataset.split(named: "test")?.samples.first)
        let pair = try engine.attention(for: .sample(id: query.id, mode: .pair), match: match)
        #expect(!pair.tokens.isEmpty)
        let image = try engine.attention(for: .sample(id: query.id, mode: .image), match: match)
        #expect(image.tokens.isEmpty && image.tokenMaps.isEmpty)
        expectDistribution(image.map, count: 49, "image map")
        #expect(throws: RetrievalError.notInGallery(query.id)) { try engine.attention(for: .caption("cream"), match: query.id) }

        // The model's own search works too (z_t against z_v), scores are cosines.
        let result = try engine.search(.caption("face cream"), top: 5)
        #expect(result.matches.count == 5 && result.matches.allSatisfy { abs($0.score) <= 1.0001 })
    }

    @Test func zeroShotAttention() throws {
        let engine = try SampleEngine.get()
        let match = engine.gallery[7]
        #expect(throws: RetrievalError.attentionNeedsModel) { try engine.attention(for: .caption("cream"), match: match.id) }
        // The same image against itself: every cell finds itself (similarity 1), so the map is uniform.
        let same = try engine.attention(for: .imageFile(path: try #require(match.imagePath)), match: match.id)
        expectDistribution(same.map, count: 49, "self map")
        #expect(same.map.allSatisfy { abs($0 - 1 / 49) < 1e-4 })
        let other = try engine.attention(for: .sample(id: engine.gallery[300].id, mode: .image), match: match.id)
        expectDistribution(other.map, count: 49, "image map")
        #expect(other.map.max()! > other.map.min()!, "a different image gives a non-uniform map")
    }
}
