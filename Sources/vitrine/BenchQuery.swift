import ArgumentParser
import Capture
import Catalog
import Dispatch
import Foundation
import Retrieval
import SafeText
import Support
import Tensor

/// `vitrine bench-query` (hidden): caption-to-top-100 latency of the zero-shot engine, end to
/// end (MiniLM on the typed caption, then the exact search), over SampleData's gallery and over a
/// gallery of `--gallery` random unit vectors written as a current index (the captions are
/// encoded for real; only the gallery vectors are synthetic). A benchmark, not a test: it prints
/// one JSON object with the percentiles and the CPU it ran on.
struct BenchQuery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-query",
        abstract: "Benchmark caption-to-top-100 query latency (prints JSON).",
        shouldDisplay: false)

    @Option(name: .long, help: "Captions timed (SampleData's first training captions).") var captions: Int = 300
    @Option(name: .long, help: "Rows of the synthetic gallery (0: SampleData only).") var gallery: Int = 100_000

    func validate() throws {
        guard (1 ... 100_000).contains(captions), (0 ... 10_000_000).contains(gallery) else {
            throw ValidationError("--captions must be 1...100000, --gallery 0...10000000")
        }
    }

    func run() throws {
        guard let sampleData = RepositoryFolder.find("SampleData") else { throw ValidationError("SampleData not found") }
        let weights = try WeightsFolder.locate()
        let cache = NSTemporaryDirectory() + "vitrine-bench-query-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let options = RetrievalOptions(weightsPath: weights.path, indexRoot: cache)
        let sample = try RetrievalEngine(dataPath: sampleData, system: .zeroShot, options: options)
        let dataset = try Dataset.load(from: sampleData)
        let texts = (dataset.split(named: "train").map { Array($0.samples.prefix(captions)) } ?? []).map(\.caption)
        var fields: [String: Any] = ["captions": texts.count, "threads": Parallel.workerCount]
        let small = try percentiles(sample, texts)
        fields["sampledata_items"] = sample.gallery.count
        fields["sampledata_p50_ms"] = small.p50
        fields["sampledata_p99_ms"] = small.p99
        if gallery > 0 {
            let samples = (0 ..< gallery).map { Sample(id: String(100_000_000 + $0), caption: "item \($0)", imagePath: nil, labels: ["p\($0 % 5000)"]) }
            let root = cache + "/Synthetic"
            let synthetic = Dataset(root: root, name: "Synthetic", format: .product1m,
                                    splits: [Split(name: "gallery", role: .gallery, file: root + "/gallery", samples: samples)])
            let identity = IndexIdentity(
                checkpoint: IndexIdentity.zeroShot, checkpointName: IndexIdentity.zeroShot,
                backbone: try ContentHash.sha256(fileAt: weights.path(of: .efficientNetLite0)),
                tokenizer: try ComponentIdentity(TextTower.standard.tokenizerFile, in: weights).sha256,
                textTower: try ComponentIdentity(TextTower.standard.modelFile, in: weights).sha256,
                dataset: GalleryFingerprint.of(samples))
            var rng = SeededRNG(seed: 5)
            func unitVectors(_ dimension: Int) -> [Float] {
                var rows = [Float](repeating: 0, count: gallery * dimension)
                for r in 0 ..< gallery {
                    var sum: Float = 0
                    for j in 0 ..< dimension { let v = rng.normal(); rows[r * dimension + j] = v; sum += v * v }
                    let scale = 1 / max(sum.squareRoot(), 1e-12)
                    for j in 0 ..< dimension { rows[r * dimension + j] *= scale }
                }
                return rows
            }
            try GalleryIndex.write(to: IndexLocation.path(root: cache, datasetRoot: root, system: .zeroShot), identity: identity,
                                   ids: samples.map(\.id),
                                   sections: [.init(section: .sentence, dimension: 384, rows: unitVectors(384)),
                                              .init(section: .pooled, dimension: 320, rows: unitVectors(320))],
                                   missingImages: gallery, seconds: 0)
            let big = try RetrievalEngine(dataset: synthetic, system: .zeroShot, options: options)
            let large = try percentiles(big, texts)
            fields["synthetic_items"] = gallery
            fields["synthetic_p50_ms"] = large.p50
            fields["synthetic_p99_ms"] = large.p99
        }
        fields["cpu"] = cpuDescription()
        let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        Console.json(String(decoding: data, as: UTF8.self))
    }

    private func percentiles(_ engine: RetrievalEngine, _ captions: [String]) throws -> (p50: Double, p99: Double) {
        for caption in captions.prefix(5) { _ = try engine.search(.caption(caption), top: 100) }  // warm-up
        var times: [Double] = []
        for caption in captions {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try engine.search(.caption(caption), top: 100)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        times.sort()
        return (times[times.count / 2], times[min(times.count - 1, Int(Double(times.count) * 0.99))])
    }
}

/// The CPU's model name and the vector extensions that choose Vitrine's kernels, for every figure.
func cpuDescription() -> String {
    guard let bytes = try? RegularFile.read("/proc/cpuinfo", kind: "cpuinfo", limit: 1 << 24) else { return "unknown CPU" }
    let text = String(decoding: bytes, as: UTF8.self)
    var name = "unknown CPU", flags: Set<Substring> = []
    for line in text.split(separator: "\n") {
        if name == "unknown CPU", line.hasPrefix("model name"), let colon = line.firstIndex(of: ":") {
            name = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if flags.isEmpty, line.hasPrefix("flags"), let colon = line.firstIndex(of: ":") {
            flags = Set(line[line.index(after: colon)...].split(separator: " "))
        }
    }
    let vector = ["avx2", "fma", "avx512f", "avx512bw", "avx512_bf16"].filter { flags.contains(Substring($0)) }
    return name + "; " + (vector.isEmpty ? "no AVX2" : vector.joined(separator: " "))
}
