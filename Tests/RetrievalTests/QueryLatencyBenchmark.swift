import Support
import Capture
import Catalog
import Dispatch
import Foundation
import Retrieval
import Testing

/// Caption-to-top-100 latency of the zero-shot engine, end to end (MiniLM pass on the typed
/// caption, then the exact search), over SampleData's gallery and over a 100,000-item gallery of
/// random unit vectors written as a current index (the captions are encoded for real; only the
/// gallery vectors are synthetic). Run with VITRINE_BENCH=1; prints the figures.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["VITRINE_BENCH"] != nil))
struct QueryLatencyBenchmark {
    func percentiles(_ engine: RetrievalEngine, captions: [String]) throws -> (p50: Double, p99: Double) {
        for caption in captions.prefix(5) { _ = try engine.search(.caption(caption), top: 100) }  // warm-up
        var times: [Double] = []
        for caption in captions {
            let start = DispatchTime.now()
            let result = try engine.search(.caption(caption), top: 100)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6)
            #expect(result.matches.count == min(100, engine.gallery.count))
        }
        times.sort()
        return (times[times.count / 2], times[min(times.count - 1, Int(Double(times.count) * 0.99))])
    }

    @Test func captionLatency() throws {
        let sample = try SampleEngine.get()
        let captions = try #require(sample.dataset.split(named: "train")).samples.prefix(300).map(\.caption)
        let small = try percentiles(sample, captions: captions)
        print(String(format: "BENCH caption→top-100, SampleData gallery (%d items): p50 %.2f ms, p99 %.2f ms over %d captions",
                     sample.gallery.count, small.p50, small.p99, captions.count))

        // 100,000 gallery items with random unit sentence vectors, stored as a current index.
        let n = 100_000
        let cache = try EngineFixture.temporaryFolder("bench-index")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let samples = (0..<n).map { Sample(id: String(100_000_000 + $0), caption: "item \($0)", imagePath: nil, labels: ["p\($0 % 5000)"]) }
        let root = cache + "/Synthetic100k"
        let dataset = Dataset(root: root, name: "Synthetic100k", format: .product1m,
                              splits: [Split(name: "gallery", role: .gallery, file: root + "/gallery", samples: samples)])
        let weights = try EngineFixture.weights()
        let identity = IndexIdentity(
            checkpoint: IndexIdentity.zeroShot, checkpointName: IndexIdentity.zeroShot,
            backbone: try ContentHash.sha256(fileAt: weights.path(of: .efficientNetLite0)),
            tokenizer: try ComponentIdentity(.miniLMVocabulary, in: weights).sha256,
            textTower: try ComponentIdentity(.miniLMModel, in: weights).sha256,
            dataset: GalleryFingerprint.of(samples))
        var fixture = SearchFixture(seed: 5)
        try GalleryIndex.write(to: IndexLocation.path(root: cache, datasetRoot: root, system: .zeroShot), identity: identity,
                               ids: samples.map(\.id),
                               sections: [.init(section: .sentence, dimension: 384, rows: fixture.unitVectors(n, 384)),
                                          .init(section: .pooled, dimension: 320, rows: fixture.unitVectors(n, 320))],
                               missingImages: n, seconds: 0)
        let big = try RetrievalEngine(dataset: dataset, system: .zeroShot, options: try EngineFixture.options(indexRoot: cache))
        #expect(!big.indexReport.built, "the written index is current")
        let large = try percentiles(big, captions: captions)
        print(String(format: "BENCH caption→top-100, 100,000 random unit vectors (384-d, bfloat16 scan + exact re-score): p50 %.2f ms, p99 %.2f ms over %d captions",
                     large.p50, large.p99, captions.count))
    }
}
