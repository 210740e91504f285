import Annotations
import Capture
import Catalog
import Foundation
import Tensor
import Testing
import Training

/// A tiny model and a tiny synthetic set: captions whose words name a product, and image cells
/// that carry the product's prototype plus noise, so every loss has something to learn.
enum Tiny {
    static var config: CaptureConfig {
        var c = CaptureConfig()
        c.hidden = 16; c.heads = 2; c.intermediate = 32; c.vocabSize = 40; c.maxPositions = 16
        c.textLayers = 1; c.imageLayers = 1; c.coLayers = 1; c.crossLayers = 1
        c.clrDim = 8; c.fusedDim = 8; c.regionFeatureDim = 6; c.imageTokens = 5; c.maxTextLength = 8
        return c
    }
    static let masking = PretrainingMasking(padID: 0, classID: 1, separatorID: 2, maskID: 3)
    static let identity = CheckpointIdentity(tokenizer: ComponentIdentity(name: "tiny-vocab", sha256: String(repeating: "a", count: 64)),
                                             backbone: ComponentIdentity(name: "tiny-backbone", sha256: String(repeating: "b", count: 64)),
                                             data: "synthetic")

    /// `products` products; each gets `views` gallery items, and `train` unlabelled training pairs in all.
    static func corpus(products: Int = 6, views: Int = 3, train: Int = 24, seed: UInt64 = 7) -> TrainingCorpus {
        var rng = SeededRNG(seed: seed)
        let prototypes = (0..<products).map { _ in (0..<6).map { _ in rng.normal() } }
        func example(_ id: String, product: Int, role: SplitRole, split: String, labels: [String]) -> TrainingExample {
            let words = [4 + product, 4 + products + rng.below(8), 4 + product]
            let cells = (0..<4).flatMap { _ in prototypes[product].map { $0 + 0.3 * rng.normal() } }
            return TrainingExample(id: id, tokenIDs: [1] + words + [2], cellFeatures: cells, labels: labels, role: role, split: split)
        }
        var examples: [TrainingExample] = []
        for i in 0..<train { examples.append(example("t\(i)", product: i % products, role: .train, split: "train", labels: [])) }
        for p in 0..<products {
            for v in 0..<views { examples.append(example("g\(p)-\(v)", product: p, role: .gallery, split: "gallery", labels: ["P\(p)"])) }
        }
        for q in 0..<4 { examples.append(example("q\(q)", product: q % products, role: .query, split: "dev", labels: ["P\(q % products)"])) }
        return TrainingCorpus(examples: examples)
    }

    static func options(_ mode: TrainingMode, steps: Int = 30) -> TrainingOptions {
        var o = TrainingOptions.preset(.tiny, mode: mode)
        o.steps = steps; o.batchSize = 8; o.learningRate = 3e-3; o.warmupSteps = 2; o.seed = 11
        o.checkpointInterval = 1_000
        return o
    }

    static func folder(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "vitrine-training-\(name)-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs a trainer and returns its events and the total loss of every step.
    static func run(_ trainer: Trainer) -> (events: [TrainingEvent], totals: [Int: Double], summary: TrainingSummary) {
        var events: [TrainingEvent] = []
        var totals: [Int: Double] = [:]
        let summary = trainer.run { event in
            events.append(event)
            if case .step(let r) = event { totals[r.step] = r.losses["total"] }
        }
        return (events, totals, summary)
    }

    static func mean(_ totals: [Int: Double], _ steps: ClosedRange<Int>) -> Double {
        steps.map { totals[$0]! }.reduce(0, +) / Double(steps.count)
    }
}

@Suite struct TrainerTests {
    @Test func pretrainingLossGoesDown() throws {
        let model = CaptureModel(config: Tiny.config, seed: 1)
        let trainer = try Trainer(model: model, corpus: Tiny.corpus(), options: Tiny.options(.pretrain, steps: 40),
                                  store: nil, identity: Tiny.identity, masking: Tiny.masking, evaluate: nil)
        let (events, totals, summary) = Tiny.run(trainer)
        #expect(summary.outcome == .completed && summary.steps == 40)
        #expect(totals.count == 40)
        let first = Tiny.mean(totals, 1...5), last = Tiny.mean(totals, 36...40)
        #expect(last < 0.8 * first, "pretraining loss \(first) -> \(last)")
        if case .started(let plan) = events.first { #expect(plan.mode == .pretrain && plan.totalSteps == 40) } else {
            Issue.record("the first event is not started: \(String(describing: events.first))")
        }
        guard case .finished = events.last else { Issue.record("the last event is not finished"); return }
    }

    /// Before its first step a pretraining run says how long an epoch over its training pairs takes;
    /// measuring it leaves the run's losses exactly as they are without it (step 1's batch is the
    /// one measured, so a changed model or data order would show in step 1's loss).
    @Test func pretrainingEstimatesAnEpochWithoutChangingTheRun() throws {
        let options = Tiny.options(.pretrain, steps: 3)
        let trainer = try Trainer(model: CaptureModel(config: Tiny.config, seed: 1), corpus: Tiny.corpus(), options: options,
                                  store: nil, identity: Tiny.identity, masking: Tiny.masking, evaluate: nil)
        let (events, totals, _) = Tiny.run(trainer)
        let estimates = events.compactMap { event -> EpochEstimate? in if case .estimate(let e) = event { return e }; return nil }
        let e = try #require(estimates.first)
        #expect(estimates.count == 1)
        #expect(e.pairs == 24 && e.batchSize == 8 && e.stepsPerEpoch == 3)
        #expect(e.computeSeconds > 0 && e.optimizerSeconds > 0 && e.cachedFraction == 1)
        #expect(e.laterEpochSeconds >= 3 * e.computeSeconds && e.firstEpochSeconds >= e.laterEpochSeconds * 0.999)
        let firstStep = events.firstIndex { if case .step = $0 { return true }; return false }
        let estimate = events.firstIndex { if case .estimate = $0 { return true }; return false }
        #expect(estimate! < firstStep!)

        // The same run without the estimate has exactly the same losses.
        let plain = try Trainer(model: CaptureModel(config: Tiny.config, seed: 1), corpus: Tiny.corpus(), options: options,
                                store: nil, identity: Tiny.identity, masking: Tiny.masking, evaluate: nil)
        plain.estimatesEpoch = false
        let replay = Tiny.run(plain)
        #expect(!replay.events.contains { if case .estimate = $0 { return true }; return false })
        #expect(replay.totals == totals)
    }

    @Test func fineTuningRobustLossGoesDown() throws {
        let model = CaptureModel(config: Tiny.config, seed: 2)
        var robust: [Double] = []
        let trainer = try Trainer(model: model, corpus: Tiny.corpus(), options: Tiny.options(.finetune, steps: 40),
                                  store: nil, identity: Tiny.identity, masking: Tiny.masking, evaluate: nil)
        let summary = trainer.run { if case .step(let r) = $0 { robust.append(r.losses["robust"]!) } }
        #expect(summary.outcome == .completed)
        let first = robust.prefix(5).reduce(0, +) / 5, last = robust.suffix(5).reduce(0, +) / 5
        #expect(last < 0.7 * first, "robust loss \(first) -> \(last)")
    }

    @Test func resumingReproducesTheUninterruptedLossesExactly() throws {
        for mode in TrainingMode.allCases {
            let corpus = Tiny.corpus()
            var options = Tiny.options(mode, steps: 12)
            options.checkpointInterval = 5; options.keepCheckpoints = 5
            options.dropout = 0.1  // dropout masks must also follow the seed
            let full = Tiny.folder("full")
            defer { try? FileManager.default.removeItem(atPath: full) }
            let a = try Trainer(model: CaptureModel(config: Tiny.config, seed: 3), corpus: corpus, options: options,
                                store: try CheckpointStore(directory: full), identity: Tiny.identity, masking: Tiny.masking,
                                evaluate: nil)
            let uninterrupted = Tiny.run(a).totals

            // A second process: a fresh model (another initialisation, overwritten by the checkpoint).
            let resumedFolder = Tiny.folder("resumed")
            defer { try? FileManager.default.removeItem(atPath: resumedFolder) }
            let b = try Trainer(model: CaptureModel(config: Tiny.config, seed: 99), corpus: corpus, options: options,
                                store: try CheckpointStore(directory: resumedFolder), identity: Tiny.identity,
                                masking: Tiny.masking, evaluate: nil)
            try b.resume(from: full + "/step-000005.safetensors")
            #expect(b.step == 5)
            let resumed = Tiny.run(b).totals
            #expect(resumed.keys.sorted() == Array(6...12))
            for s in 6...12 { #expect(resumed[s] == uninterrupted[s], "\(mode) step \(s): \(resumed[s]!) vs \(uninterrupted[s]!)") }
        }
    }

    @Test func rotationKeepsTheLastNAndTheBest() throws {
        let folder = Tiny.folder("rotation")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var options = Tiny.options(.finetune, steps: 10)
        options.checkpointInterval = 1; options.keepCheckpoints = 2; options.evaluationInterval = 1; options.patience = 0
        // The dev score peaks at step 3.
        let scores: [Double] = [0.1, 0.2, 0.3, 0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1]
        let calls = Counter()
        let store = try CheckpointStore(directory: folder)
        let trainer = try Trainer(model: CaptureModel(config: Tiny.config, seed: 4), corpus: Tiny.corpus(), options: options,
                                  store: store, identity: Tiny.identity, masking: Tiny.masking,
                                  evaluate: { _ in scores[calls.next()] })
        let summary = Tiny.run(trainer).summary
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("step-") }.sorted()
        #expect(files == ["step-000003.safetensors", "step-000003.state.safetensors",
                          "step-000009.safetensors", "step-000009.state.safetensors",
                          "step-000010.safetensors", "step-000010.state.safetensors"])
        let manifest = try #require(store.manifest())
        #expect(manifest.latestStep == 10 && manifest.bestStep == 3 && manifest.bestMAP10 == 0.5 && manifest.steps == [3, 9, 10])
        #expect(try Checkpoint.readMetadata(path: store.bestPath).step == 3)
        #expect(try Checkpoint.readMetadata(path: store.latestPath).step == 10)
        #expect(summary.checkpoint == store.bestPath && summary.devMAP10Before == 0.1 && summary.devMAP10After == 0.5)
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).allSatisfy { !$0.contains(".tmp-") })
    }

    @Test func earlyStoppingStopsAfterPatienceEvaluations() throws {
        var options = Tiny.options(.finetune, steps: 50)
        options.evaluationInterval = 2; options.patience = 2
        let calls = Counter()
        let scores: [Double] = [0.2, 0.3, 0.25, 0.2, 0.1, 0.1, 0.1]
        let trainer = try Trainer(model: CaptureModel(config: Tiny.config, seed: 5), corpus: Tiny.corpus(), options: options,
                                  store: nil, identity: Tiny.identity, masking: Tiny.masking,
                                  evaluate: { _ in scores[min(calls.next(), scores.count - 1)] })
        let (events, _, summary) = Tiny.run(trainer)
        #expect(summary.outcome == .earlyStopped && summary.steps == 6)
        let evaluations = events.compactMap { if case .evaluation(let e) = $0 { return e } else { return nil } }
        #expect(evaluations.map(\.step) == [0, 2, 4, 6] && evaluations.map(\.improved) == [true, true, false, false])
    }

    @Test func pauseAndCancelFromAnotherThread() throws {
        let folder = Tiny.folder("cancel")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let control = TrainingControl()
        let store = try CheckpointStore(directory: folder)
        let trainer = try Trainer(model: CaptureModel(config: Tiny.config, seed: 6), corpus: Tiny.corpus(),
                                  options: Tiny.options(.pretrain, steps: 10_000), store: store, identity: Tiny.identity,
                                  masking: Tiny.masking, evaluate: nil, control: control)
        let log = EventLog()
        let done = DispatchSemaphore(value: 0)
        Thread {
            trainer.run { event in
                log.append(event)
                if case .step(let r) = event, r.step == 3 { control.pause() }
                if case .paused = event {
                    DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { control.resume() }
                }
                if case .resumed = event { control.cancel() }
            }
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + 60) == .success)
        let events = log.events
        guard case .finished(let summary) = events.last else { Issue.record("no finished event: \(events.suffix(3))"); return }
        #expect(summary.outcome == .cancelled)
        #expect(events.contains(.paused(step: 3)) && events.contains(.resumed(step: 3)))
        let latest = try #require(store.manifest()).latestStep
        #expect(latest == summary.steps && latest >= 3 && latest < 10_000)
        #expect(try Checkpoint.readMetadata(path: store.latestPath).step == latest)
    }

    @Test func flagsBecomePairsSettledByTheChosenRule() throws {
        let corpus = Tiny.corpus()
        let early = Date(timeIntervalSince1970: 1_000), late = Date(timeIntervalSince1970: 2_000)
        let flags = [
            Flag(dataset: "d", query: "q0", match: "g1-0", model: "zero-shot", verdict: .wrong, annotator: "a", createdAt: early),
            Flag(dataset: "d", query: "q0", match: "g1-0", model: "zero-shot", verdict: .confirmed, annotator: "a", createdAt: late),
            Flag(dataset: "d", query: "q1", match: "g2-0", model: "zero-shot", verdict: .wrong, annotator: "b", createdAt: early),
            Flag(dataset: "d", query: "caption:red jar", match: "g2-0", model: "zero-shot", verdict: .wrong, annotator: "b"),
        ]
        let (pairs, ignored) = corpus.flagPairs(flags)
        #expect(ignored == 1)
        #expect(Set(pairs) == [TrainingPair(first: "q0", second: "g1-0", isMatch: true),
                               TrainingPair(first: "q1", second: "g2-0", isMatch: false)])
        // Fine-tuning on flags alone (no gallery labels) runs.
        let flagOnly = TrainingCorpus(examples: corpus.examples.map { var e = $0; if e.role == .gallery { e.labels = [] }; return e })
        let trainer = try Trainer(model: CaptureModel(config: Tiny.config, seed: 8), corpus: flagOnly,
                                  options: Tiny.options(.finetune, steps: 3), store: nil, identity: Tiny.identity,
                                  flags: flags, masking: Tiny.masking, evaluate: nil)
        #expect(trainer.flagPairs.count == 2)
        #expect(Tiny.run(trainer).summary.outcome == .completed)

        // Disagreeing annotators: two say wrong, a third later says right.
        let contested = [
            Flag(dataset: "d", query: "q1", match: "g2-0", model: "zero-shot", verdict: .wrong, annotator: "b", createdAt: early),
            Flag(dataset: "d", query: "q1", match: "g2-0", model: "zero-shot", verdict: .wrong, annotator: "c", createdAt: early),
            Flag(dataset: "d", query: "q1", match: "g2-0", model: "zero-shot", verdict: .confirmed, annotator: "e", createdAt: late),
        ]
        #expect(corpus.flagPairs(contested).pairs == [TrainingPair(first: "q1", second: "g2-0", isMatch: false)])
        #expect(corpus.flagPairs(contested, rule: .latest).pairs == [TrainingPair(first: "q1", second: "g2-0", isMatch: true)])
        #expect(corpus.flagPairs(contested, rule: .exclude).pairs.isEmpty)
        var latest = Tiny.options(.finetune, steps: 1)
        latest.flagRule = .latest
        let byLatest = try Trainer(model: CaptureModel(config: Tiny.config, seed: 8), corpus: corpus, options: latest,
                                   store: nil, identity: Tiny.identity, flags: contested, masking: Tiny.masking, evaluate: nil)
        #expect(byLatest.flagPairs == [TrainingPair(first: "q1", second: "g2-0", isMatch: true)])
    }

    @Test func badOptionsAndMissingDataSayWhatIsWrong() throws {
        var options = Tiny.options(.pretrain)
        options.frozenTextLayers = 5
        #expect(throws: TrainingError.self) {
            try Trainer(model: CaptureModel(config: Tiny.config), corpus: Tiny.corpus(), options: options, store: nil,
                        identity: Tiny.identity, masking: Tiny.masking, evaluate: nil)
        }
        let noTrain = TrainingCorpus(examples: Tiny.corpus().examples.filter { $0.role != .train })
        do {
            _ = try Trainer(model: CaptureModel(config: Tiny.config), corpus: noTrain, options: Tiny.options(.pretrain),
                            store: nil, identity: Tiny.identity, masking: Tiny.masking, evaluate: nil)
            Issue.record("pretraining without a train split started")
        } catch let error as TrainingError {
            #expect("\(error)".contains("train split"))
        }
    }
}

final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.lock(); defer { lock.unlock() }; value += 1; return value - 1 }
}

final class EventLog: @unchecked Sendable {
    private var stored: [TrainingEvent] = []
    private let lock = NSLock()
    func append(_ e: TrainingEvent) { lock.lock(); stored.append(e); lock.unlock() }
    var events: [TrainingEvent] { lock.lock(); defer { lock.unlock() }; return stored }
}
