import ArgumentParser
import Capture
import Foundation
import SafeText
import Imaging
import Tensor

/// `vitrine bench-model` (hidden): the Swift side of the model benchmark (issue 3,
/// "Performance"; bench/model/compare.py runs it next to PyTorch and prints the table).
/// Each part prints one JSON object; run one part per process so its peak memory is its own.
struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-model",
        abstract: "Benchmark the CAPTURE model's kernels (prints JSON).",
        discussion: """
        Parts: `train` (a pretraining step of the default model at --batch, text length --length, \
        50 image tokens from random cached backbone features, MLM + MRM + CLR, dropout 0.1, \
        forward, backward, clipping to norm 1 and AdamW, with a per-kernel profile of one extra \
        step), `caption` (MiniLM's sentence embedding of a --caption-tokens caption at batch 1), \
        `backbone` (EfficientNet-Lite0 to block 15, 224x224, batch 32) and `sgemm` (OpenBLAS's \
        sgemm at 1024^3 on all cores: the GEMM ceiling). The text stream is MiniLM when the weights \
        are installed, random otherwise (timings do not depend on it).
        """,
        shouldDisplay: false)

    enum Part: String, CaseIterable, ExpressibleByArgument { case train, caption, backbone, sgemm }
    enum Variant: String, CaseIterable, ExpressibleByArgument { case all, frozen0to3 = "frozen0-3" }

    @Option(name: .long, help: "What to measure.") var part: Part = .train
    @Option(name: .long, help: "Training variant: all (everything trainable) or frozen0-3 (text embeddings and layers 0-3 frozen).")
    var variant: Variant = .all
    @Option(name: .long, help: "Batch size of the training step.") var batch: Int = 32
    @Option(name: .long, help: "Text length of the training step.") var length: Int = 36
    @Option(name: .long, help: "Untimed warm-up steps.") var warmup: Int = 2
    @Option(name: .long, help: "Timed steps (the median is reported).") var steps: Int = 10
    @Option(name: .long, help: "Caption length in tokens, [CLS] and [SEP] included.") var captionTokens: Int = 16
    @Option(name: .long, help: "Timed caption embeddings.") var captionRuns: Int = 300
    @Option(name: .long, help: ArgumentHelp("Text tower of the caption part: minilm (random ids of --caption-tokens) or e5 (the 16 Chinese characters of BenchModel.e5Caption with the \"query: \" prefix, through the real tokenizer).", valueName: "TOWER"))
    var textTower: TextTower = .miniLM
    @Flag(name: .long, help: "Print JSON (the only output format; accepted for scripts).") var json = false

    func validate() throws {
        guard batch > 0, length >= 2, steps > 0, warmup >= 0, captionTokens >= 2, captionRuns > 0 else {
            throw ValidationError("--batch, --steps and --caption-runs must be positive, --length and --caption-tokens at least 2")
        }
    }

    func run() throws {
        var fields: [String: Any] = ["part": part.rawValue, "threads": Parallel.workerCount,
                                     "openblas_coretype": ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "",
                                     "load_average_before": loadAverage()]
        switch part {
        case .train: try train(into: &fields)
        case .caption: try caption(into: &fields)
        case .backbone: try backbone(into: &fields)
        case .sgemm: sgemmCeiling(into: &fields)
        }
        fields["load_average_after"] = loadAverage()
        fields["peak_rss_mib"] = peakRSSMiB()
        let data = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
        Console.json(String(decoding: data, as: UTF8.self))
    }

    // MARK: Parts

    private func train(into fields: inout [String: Any]) throws {
        let config = CaptureConfig.default
        let model: CaptureModel, textSource: String
        if let weights = try? WeightsFolder.locate(), (try? weights.require(.miniLMModel)) != nil {
            model = try CaptureModel.pretrained(weights: weights, config: config, seed: 1)
            textSource = "MiniLM"
        } else {
            model = CaptureModel(config: config, seed: 1)
            textSource = "random"
        }
        if variant == .frozen0to3 {
            model.parameters.setTrainable(false, prefix: "text.embeddings.")
            for i in 0..<4 { model.parameters.setTrainable(false, prefix: "text.encoder.layer.\(i).") }
        }
        let B = batch, L = length, cells = config.imageTokens - 1, D = config.regionFeatureDim
        var rng = SeededRNG(seed: 1)
        let sequences = (0..<B).map { _ in [101] + (0..<(L - 2)).map { _ in 1000 + rng.below(29_000) } + [102] }
        let features = (0..<(B * cells * D)).map { _ in abs(rng.normal()) }
        let raw = PretrainingBatch(tokens: TokenBatch(sequences: sequences, length: L), cellFeatures: features)
        let optimizer = AdamW(parameters: model.parameters)
        model.parameters.zeroGradients()

        var forwardTimes: [Double] = [], backwardTimes: [Double] = [], optimizerTimes: [Double] = []
        var losses: [Float] = []
        func step(_ index: Int) -> (Double, Double, Double) {
            let masked = PretrainingMasking.bert.mask(raw, config: config, rng: &rng)  // untimed, as PyTorch's side
            let t0 = now()
            let l = model.forward(masked, mode: .training(TrainingDropout(seed: UInt64(index))))
            let t1 = now()
            model.backward()
            let t2 = now()
            KernelProfile.timed(.optimizer) {
                // Clip to norm 1, AdamW, zero the gradients (PyTorch's side: clip_grad_norm_,
                // step, zero_grad).
                _ = optimizer.step(learningRate: 1e-4, clippingGradientNormTo: 1, zeroingGradients: true)
            }
            let t3 = now()
            losses.append(l.total)
            return (t1 - t0, t2 - t1, t3 - t2)
        }
        for i in 0..<warmup { _ = step(i) }
        losses = []
        for i in 0..<steps {
            let (f, b, o) = step(warmup + i)
            forwardTimes.append(f); backwardTimes.append(b); optimizerTimes.append(o)
        }
        let totals = zip(zip(forwardTimes, backwardTimes), optimizerTimes).map { $0.0 + $0.1 + $1 }

        // One more step with the kernel profile on (its own time is not in the figures above).
        KernelProfile.reset()
        KernelProfile.isEnabled = true
        let (pf, pb, po) = step(warmup + steps)
        KernelProfile.isEnabled = false
        let profile = KernelProfile.snapshot()
        let profiledStep = pf + pb + po
        var kernels: [String: Double] = [:]
        var accounted = 0.0
        for kind in KernelProfile.Kind.allCases {
            let s = profile.wallSeconds[kind] ?? 0
            kernels[kind.description] = round4(s); accounted += s
        }
        kernels["other (not instrumented)"] = round4(max(0, profiledStep - accounted))
        let trainable = model.parameters.trainable.reduce(0) { $0 + $1.count }
        let median = medianOf(totals)
        fields["variant"] = variant.rawValue
        fields["text_stream"] = textSource
        fields["batch"] = B; fields["text_length"] = L; fields["image_tokens"] = config.imageTokens
        fields["parameters"] = model.parameters.scalarCount; fields["trainable_parameters"] = trainable
        fields["warmup_steps"] = warmup; fields["timed_steps"] = steps
        fields["step_s"] = ["median": round4(median), "min": round4(totals.min()!), "max": round4(totals.max()!)]
        fields["steps_s"] = totals.map { round4($0) }
        fields["forward_s_median"] = round4(medianOf(forwardTimes))
        fields["backward_s_median"] = round4(medianOf(backwardTimes))
        fields["optimizer_s_median"] = round4(medianOf(optimizerTimes))
        fields["loss_first_last"] = [Double(losses.first!), Double(losses.last!)].map(round4)
        fields["profiled_step_s"] = round4(profiledStep)
        fields["kernel_wall_s"] = kernels
        fields["gemm_thread_s"] = round4(profile.gemmThreadSeconds)
        // Share of the step's wall time in GEMM: the dense layers' GEMMs (wall time, both cores
        // busy with one split product), plus the attention's per-head products, which run on
        // the workers interleaved with the softmax (their thread time over the workers).
        let attentionGEMM = (profile.gemmThreadSeconds - profile.denseGEMMThreadSeconds) / Double(Parallel.workerCount)
        let gemmWall = (profile.wallSeconds[.gemm] ?? 0) + attentionGEMM
        fields["gemm_wall_s"] = round4(gemmWall)
        fields["gemm_share"] = round4(gemmWall / profiledStep)
        fields["matmul_gflop_per_step"] = round4(profile.gemmFlops / 1e9)
        fields["achieved_gflops_at_median"] = round4(profile.gemmFlops / 1e9 / median)
        fields["gemm_gflops_inside_gemm"] = round4(profile.gemmFlops / 1e9 / gemmWall)
    }

    /// The e5 caption of the benchmark: 16 Chinese characters of a real-looking title (the same
    /// text as tools/reference/capture_bench.py's E5_CAPTION).
    static let e5Caption = "韩国黄金水乳霜套盒蜗牛玻尿酸精华"

    private func caption(into fields: inout [String: Any]) throws {
        let weights = try WeightsFolder.locate()
        let tokens: TokenBatch
        let encoder: TextEncoder
        switch textTower {
        case .miniLM:
            encoder = try TextEncoder.miniLM(in: weights)
            var rng = SeededRNG(seed: 2)
            let ids = [101] + (0..<(captionTokens - 2)).map { _ in 1000 + rng.below(29_000) } + [102]
            tokens = TokenBatch(sequences: [ids], length: captionTokens)
        case .e5:
            let tokenizer = try SentencePieceTokenizer(path: try weights.require(.e5Tokenizer))
            encoder = try TextEncoder.pretrained(config: TextTower.e5.configuration(vocabularyRows: tokenizer.rowCount),
                                                 in: weights)
            let pieces = tokenizer.pieceIDs(Self.e5Caption, prefix: .query)
            fields["piece_ids"] = pieces
            fields["text"] = Self.e5Caption
            tokens = TokenBatch(sequences: [pieces.map(tokenizer.row(ofPiece:))])
        }
        fields["text_tower"] = textTower.rawValue
        for _ in 0..<30 { _ = encoder.sentenceEmbeddings(tokens) }
        var times: [Double] = []
        for _ in 0..<captionRuns {
            let t0 = now()
            _ = encoder.sentenceEmbeddings(tokens)
            times.append(now() - t0)
        }
        times.sort()
        // Where the time goes: 50 more runs with the kernel profile on (not in the figures above).
        KernelProfile.reset()
        KernelProfile.isEnabled = true
        let p0 = now()
        for _ in 0..<50 { _ = encoder.sentenceEmbeddings(tokens) }
        let profiledRun = (now() - p0) / 50
        KernelProfile.isEnabled = false
        let profile = KernelProfile.snapshot()
        var kernels: [String: Double] = [:]
        var accounted = 0.0
        for kind in KernelProfile.Kind.allCases {
            let s = (profile.wallSeconds[kind] ?? 0) / 50
            kernels[kind.description] = round4(s * 1e3); accounted += s
        }
        kernels["other (not instrumented)"] = round4(max(0, profiledRun - accounted) * 1e3)
        fields["kernel_wall_ms"] = kernels
        fields["tokens"] = tokens.length; fields["batch"] = 1; fields["runs"] = captionRuns
        fields["latency_ms"] = ["median": round4(times[times.count / 2] * 1e3), "min": round4(times[0] * 1e3),
                                "p90": round4(times[times.count * 9 / 10] * 1e3), "max": round4(times.last! * 1e3)]
    }

    private func backbone(into fields: inout [String: Any]) throws {
        let weights = try WeightsFolder.locate()
        let network = try EfficientNetLite0(weights: weights)
        let count = 32
        let images = (0..<count).map { k in
            var image = RGBImage(width: 224, height: 224)
            for y in 0..<224 { for x in 0..<224 { image[x, y] = RGB(UInt8((x + k) & 255), UInt8((y * 3) & 255), UInt8((x ^ y) & 255)) } }
            return image
        }
        _ = network.features(Array(images[0..<4]))  // warm-up
        var times: [Double] = []
        for _ in 0..<3 {
            let t0 = now()
            let out = network.features(images)
            times.append(now() - t0)
            precondition(out.count == count)
        }
        let best = times.min()!, median = medianOf(times)
        fields["batch"] = count; fields["side"] = 224
        fields["batch_s"] = times.map(round4)
        fields["images_per_s_median"] = round4(Double(count) / median)
        fields["images_per_s_best"] = round4(Double(count) / best)
    }

    /// OpenBLAS's own threading on all cores at 1024^3: the ceiling the model's GEMMs compare to.
    private func sgemmCeiling(into fields: inout [String: Any]) {
        let n = 1024
        var rng = SeededRNG(seed: 3)
        let a = FloatBuffer((0..<(n * n)).map { _ in rng.normal() })
        let b = FloatBuffer((0..<(n * n)).map { _ in rng.normal() })
        let c = FloatBuffer(count: n * n)
        var results: [String: Any] = [:]
        for (name, threads) in [("openblas_threads", Parallel.workerCount), ("one_thread", 1)] {
            setBLASThreads(threads)
            for _ in 0..<3 { sgemm(m: n, n: n, k: n, a: a.pointer, b: b.pointer, c: c.pointer) }
            var times: [Double] = []
            for _ in 0..<10 {
                let t0 = now()
                sgemm(m: n, n: n, k: n, a: a.pointer, b: b.pointer, c: c.pointer)
                times.append(now() - t0)
            }
            let flops = 2 * Double(n * n * n)
            results[name] = ["threads": threads, "gflops_median": round4(flops / medianOf(times) / 1e9),
                             "gflops_best": round4(flops / times.min()! / 1e9)]
        }
        fields["size"] = n
        fields["sgemm"] = results
    }

    // MARK: Helpers

    private func now() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1e9
    }

    private func medianOf(_ values: [Double]) -> Double {
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    private func round4(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }

    private func loadAverage() -> [Double] {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
        return text.split(separator: " ").prefix(3).compactMap { Double($0) }
    }

    private func peakRSSMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return round4(Double(usage.ru_maxrss) / 1024)  // Linux: KiB
    }
}
