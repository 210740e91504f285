import Support
import Annotations
import Capture
import Catalog
import Foundation
import Tensor

/// What a checkpoint's state file records besides the optimiser's moments: everything else a
/// resumed run needs to continue the same loss curve.
struct TrainerState: Codable, Equatable {
    static let currentFormat = "vitrine-trainer/1"
    var format = TrainerState.currentFormat
    /// Optimiser steps done. Data order, masking and dropout of step s derive from (seed, s),
    /// so this is also the data order position.
    var step: Int
    var optimizerSteps: Int
    var options: TrainingOptions
    var devMAP10Before: Double?
    var lastDevMAP10: Double?
    var bestMAP10: Double?
    var bestStep: Int?
    var evaluationsWithoutImprovement: Int
    /// Number of examples the run was drawing from, to warn when resuming on other data.
    var exampleCount: Int
}

/// Trains a `CaptureModel`: pretraining (MLM + MRM + CLR on the train split) or fine-tuning
/// (robust contrastive + CLR + MLM on pairs from labels and flags), with AdamW, a warm-up and
/// linear-decay schedule, dev evaluation and early stopping, rotated atomic checkpoints and
/// exact resumption.
///
/// Deterministic for `options.seed`: step s draws its batch, masks and dropout from (seed, s)
/// alone, so a run resumed from the checkpoint of step s continues with exactly the losses of
/// an uninterrupted run (same options, data and flags; same machine and thread count).
///
/// Use from one thread: `run` blocks until the run ends; steer it from others with `control`.
///
///     let trainer = try Trainer(model: model, corpus: corpus, options: options, store: store,
///                               identity: identity, flags: flags, masking: .bert,
///                               evaluate: { model in try devMAP10(model) })
///     try trainer.resume(from: store.latestCheckpoint()!)   // optional
///     let summary = trainer.run { event in print(event.jsonLine()) }
public final class Trainer: @unchecked Sendable {
    public let model: CaptureModel
    public let corpus: TrainingCorpus
    public private(set) var options: TrainingOptions
    public let control: TrainingControl
    public let store: CheckpointStore?
    public let identity: CheckpointIdentity
    /// The fine-tuning pairs from flags, and how many flags were not usable.
    public let flagPairs: [TrainingPair]
    public let ignoredFlags: Int
    /// Test hook: a pause between a checkpoint's model and state files, widening the window in
    /// which a kill lands inside a checkpoint write (`VITRINE_TRAIN_WRITE_DELAY_MS` in the CLI).
    public var checkpointWriteDelay: Double = 0
    /// Whether a pretraining run measures and reports an epoch's duration before its first step
    /// (`TrainingEvent.estimate`); it changes nothing else.
    public var estimatesEpoch = true

    private let evaluate: ((CaptureModel) throws -> Double)?
    private let masking: PretrainingMasking
    private let optimizer: AdamW
    private var state: TrainerState
    private var resumedFrom: String?
    // Checkpoint size: frozen tensors equal to MiniLM's are left out. Found at the first save,
    // after any resume has set the frozen layers; frozen parameters never change during a run.
    private let weights: WeightsFolder?
    private lazy var omittable: FrozenTensors? = weights.flatMap { try? FrozenTensors.textTower(of: model, in: $0) }
    // Data order.
    private let pretrainPool: [Int]
    private let labelGroups: [[Int]]
    private let queryPool: [Int]
    private let galleryByLabel: [String: [Int]]
    private let flagRows: [(Int, Int, Bool)]
    private var epochCache: [String: (epoch: Int, order: [UInt32])] = [:]
    // Pretraining reads the next step's batch while this one computes.
    private let prefetchQueue = DispatchQueue(label: "vitrine.train.prefetch")
    private var prefetch: (step: Int, group: DispatchGroup, box: LoadedBatchBox)?

    /// - Parameters:
    ///   - model: the model to train, in place (random or pretrained towers, or loaded from a
    ///     checkpoint); frozen layers are set from `options.frozenTextLayers`.
    ///   - store: where checkpoints go (nil: none are written).
    ///   - flags: annotators' verdicts; used as pairs in fine-tuning.
    ///   - masking: the tokenizer's special ids (`PretrainingMasking(tokenizer)`).
    ///   - evaluate: the dev split's official mAP@10 of a model (nil: no evaluation, no early stop).
    ///   - weights: the weights folder the text tower came from: frozen tensors still equal to
    ///     MiniLM's are left out of checkpoints (referenced by SHA-256) and read back from it on
    ///     resume. Nil: checkpoints hold every tensor.
    public init(model: CaptureModel, corpus: TrainingCorpus, options: TrainingOptions, store: CheckpointStore?,
                identity: CheckpointIdentity, flags: [Flag] = [], masking: PretrainingMasking,
                evaluate: ((CaptureModel) throws -> Double)?, control: TrainingControl = TrainingControl(),
                weights: WeightsFolder? = nil) throws {
        try options.validate(config: model.config)
        self.model = model; self.corpus = corpus; self.options = options; self.store = store
        self.weights = weights
        self.identity = identity; self.masking = masking; self.evaluate = evaluate; self.control = control
        if options.throttle > 0 { control.throttle = options.throttle }
        let fromFlags = corpus.flagPairs(flags, rule: options.flagRule ?? .majority)
        flagPairs = fromFlags.pairs
        ignoredFlags = fromFlags.ignored
        flagRows = flagPairs.compactMap { p in
            guard let a = corpus.position(of: p.first), let b = corpus.position(of: p.second) else { return nil }
            return (a, b, p.isMatch)
        }
        pretrainPool = options.mode == .pretrain ? corpus.positions(role: .train) : []
        var groups: [String: [Int]] = [:]
        for i in corpus.positions(role: .gallery) {
            if let label = corpus.labels(at: i).first { groups[label, default: []].append(i) }
        }
        galleryByLabel = groups
        let minimum = min(options.viewsPerLabel, 2)
        labelGroups = groups.keys.sorted().compactMap { groups[$0]!.count >= minimum ? groups[$0]! : nil }
        let querySplits = Set(options.queryPairSplits)
        queryPool = options.mode == .pretrain ? [] : corpus.positions(role: .query).filter { i in
            querySplits.contains(corpus.splitName(at: i)) && options.isPairQuery(id: corpus.id(at: i))
                && corpus.labels(at: i).contains { groups[$0] != nil }
        }
        switch options.mode {
        case .pretrain:
            guard pretrainPool.count >= 2 else {
                throw TrainingError.insufficientData("pretraining draws from the train split, which has "
                    + "\(pretrainPool.count) usable pairs (caption + image); it needs at least 2")
            }
        case .finetune:
            guard labelGroups.count >= 2 || flagRows.count >= 1 else {
                throw TrainingError.insufficientData("fine-tuning needs gallery labels shared by at least 2 items "
                    + "for 2 or more labels, or flagged pairs; found \(labelGroups.count) such labels and "
                    + "\(flagRows.count) usable flags")
            }
        }
        optimizer = AdamW(parameters: model.parameters,
                          hyperparameters: .init(weightDecay: options.weightDecay))
        state = TrainerState(step: 0, optimizerSteps: 0, options: options, devMAP10Before: nil, lastDevMAP10: nil,
                             bestMAP10: nil, bestStep: nil, evaluationsWithoutImprovement: 0,
                             exampleCount: corpus.count)
        applyFrozenLayers()
    }

    /// The step the next `run` starts after (0, or the resumed checkpoint's).
    public var step: Int { state.step }

    private func applyFrozenLayers() {
        let k = options.frozenTextLayers
        model.parameters.setTrainable(k == 0, prefix: model.text.prefix + "embeddings.")
        for layer in 0..<model.config.textLayers {
            model.parameters.setTrainable(layer >= k, prefix: model.text.prefix + "encoder.layer.\(layer).")
        }
        // The pretrained text tower may learn at a fraction of the rate of the layers trained from scratch.
        let scale = options.textLearningRateScale ?? 1
        for parameter in model.parameters.parameters {
            parameter.learningRateScale = parameter.name.hasPrefix(model.text.prefix) ? scale : 1
        }
    }

    // MARK: Resuming

    /// Loads a checkpoint and its trainer state (`step-N.state.safetensors` beside it) so that
    /// `run` continues where that run stopped. `path` is a run folder (its latest checkpoint),
    /// or a model file of one (`step-N.safetensors`, `latest.safetensors`, `best.safetensors`).
    ///
    /// The run continues with the checkpoint's options, except those that do not change the
    /// loss curve, which come from this trainer's options: `steps` (more steps also stretch
    /// the learning-rate schedule), evaluation interval, patience, checkpoint interval and
    /// count, and throttle.
    public func resume(from path: String) throws {
        var modelPath = path
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            let folderStore = try CheckpointStore(directory: path)
            guard let latest = folderStore.latestCheckpoint() else {
                throw TrainingError.resume(path: path, reason: "the folder has no complete checkpoint (no \(CheckpointStore.manifestName))")
            }
            modelPath = latest
        }
        let metadata: CheckpointMetadata
        do {
            metadata = try Checkpoint.readMetadata(path: modelPath)
        } catch {
            throw TrainingError.resume(path: modelPath, reason: "\(error)")
        }
        let folder = (modelPath as NSString).deletingLastPathComponent
        let statePath = folder + "/" + String(format: "step-%06d.state.safetensors", metadata.step)
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(path: statePath) } catch {
            throw TrainingError.resume(path: modelPath, reason: "its trainer state \(statePath) cannot be read (\(error)); "
                + "a model file alone can start a new run (--init) but not continue one")
        }
        guard let json = file.metadata["trainer"],
              let saved = try? JSONDecoder().decode(TrainerState.self, from: Data(json.utf8)),
              saved.format == TrainerState.currentFormat else {
            throw TrainingError.resume(path: statePath, reason: "it holds no \(TrainerState.currentFormat) trainer state")
        }
        guard saved.step == metadata.step else {
            throw TrainingError.resume(path: statePath, reason: "its step \(saved.step) is not the model's \(metadata.step)")
        }
        guard saved.options.mode == options.mode else {
            throw TrainingError.resume(path: modelPath, reason: "it is a \(saved.options.mode.rawValue) run; "
                + "pass --mode \(saved.options.mode.rawValue), or start a new run from it with --init")
        }
        do {
            try Checkpoint.load(into: model, from: modelPath, expectedBackbone: identity.backbone,
                                expectedTokenizer: identity.tokenizer, weights: weights)
        } catch {
            throw TrainingError.resume(path: modelPath, reason: "\(error)")
        }
        var restored = saved.options
        restored.steps = options.steps; restored.evaluationInterval = options.evaluationInterval
        restored.patience = options.patience; restored.checkpointInterval = options.checkpointInterval
        restored.keepCheckpoints = options.keepCheckpoints; restored.throttle = options.throttle
        restored.preset = options.preset
        guard restored.steps >= saved.step else {
            throw TrainingError.resume(path: modelPath, reason: "it is at step \(saved.step), past the \(restored.steps) steps asked for; ask for more steps")
        }
        options = restored
        applyFrozenLayers()
        for (i, p) in model.parameters.parameters.enumerated() {
            for (prefix, buffers) in [("m.", optimizer.firstMoments), ("v.", optimizer.secondMoments)] {
                if file.contains(prefix + p.name) {
                    do {
                        buffers[i].copy(from: try file.tensor(prefix + p.name, shape: p.shape))
                    } catch {
                        throw TrainingError.resume(path: statePath, reason: "\(error)")
                    }
                } else if p.isTrainable && saved.optimizerSteps > 0 {
                    throw TrainingError.resume(path: statePath, reason: "it has no optimiser moments for \(p.name), "
                        + "which this run trains (were other layers frozen?)")
                } else {
                    buffers[i].zero()
                }
            }
        }
        optimizer.restore(stepCount: saved.optimizerSteps)
        state = saved
        state.options = options
        resumedFrom = modelPath
    }

    // MARK: The loop

    /// Runs from the current step to `options.steps`, or until early stopping or `control.cancel()`.
    /// Every event goes to `events`, on this thread. Errors end the run with a `failed` event and
    /// a summary whose outcome is "failed".
    @discardableResult
    public func run(events: (TrainingEvent) -> Void) -> TrainingSummary {
        let started = Date()
        let startStep = state.step
        events(.started(TrainingPlan(mode: options.mode, preset: options.preset, totalSteps: options.steps,
                                     batchSize: options.batchSize, startStep: startStep, seed: options.seed,
                                     dataset: identity.data, outputDirectory: store?.directory ?? "",
                                     flagPairs: flagPairs.count)))
        defer { prefetch?.group.wait(); prefetch = nil }
        do {
            if estimatesEpoch, options.mode == .pretrain, state.step < options.steps, let estimate = estimateEpoch() {
                events(.estimate(estimate))
            }
            if resumedFrom == nil, evaluate != nil, state.step == 0 {
                let value = try evaluateDev()
                state.devMAP10Before = value
                try recordEvaluation(value, events: events)
            }
            var outcome = TrainingOutcome.completed
            var timing = ThroughputMeter()
            while state.step < options.steps {
                if control.isPaused {
                    events(.paused(step: state.step))
                    control.waitWhilePaused()
                    if !control.isCancelled { events(.resumed(step: state.step)) }
                }
                if control.isCancelled { outcome = .cancelled; break }
                let stepStart = Date()
                let (losses, rows, skipped) = trainStep(state.step + 1)
                for s in skipped { events(.skipped(s)) }
                state.step += 1
                state.optimizerSteps = optimizer.stepCount
                let seconds = Date().timeIntervalSince(stepStart)
                let throttle = control.throttle
                let idle = throttle > 0 ? seconds * throttle / (1 - throttle) : 0
                timing.record(rows: rows, seconds: seconds + idle)
                let lr = Double(schedule.learningRate(atStep: state.step))
                events(.step(StepReport(step: state.step, totalSteps: options.steps, losses: losses, learningRate: lr,
                                        samplesPerSecond: timing.samplesPerSecond,
                                        etaSeconds: timing.secondsPerStep * Double(options.steps - state.step))))
                if !losses.values.allSatisfy(\.isFinite) {
                    throw TrainingError.invalidOptions("the loss is not finite at step \(state.step) (\(losses)); "
                        + "lower the learning rate (now \(options.learningRate))")
                }
                var improved = false, stop = false
                let last = state.step == options.steps
                if evaluate != nil, (options.evaluationInterval > 0 && state.step % options.evaluationInterval == 0) || last {
                    let value = try evaluateDev()
                    improved = try recordEvaluation(value, events: events)
                    if !improved, options.patience > 0, state.evaluationsWithoutImprovement >= options.patience, !last {
                        stop = true
                    }
                }
                if control.isCancelled { outcome = .cancelled } else if stop { outcome = .earlyStopped }
                if improved || last || stop || control.isCancelled || state.step % options.checkpointInterval == 0 {
                    try saveCheckpoint(isBest: improved, events: events)
                }
                if outcome != .completed { break }
                control.idle(seconds: idle)
            }
            if outcome == .cancelled, let store, store.manifest()?.latestStep != state.step, state.step > startStep {
                try saveCheckpoint(isBest: false, events: events)
            }
            let summary = finish(outcome: outcome, started: started)
            events(.finished(summary))
            return summary
        } catch {
            events(.failed(message: "\(error)"))
            return finish(outcome: .failed, started: started)
        }
    }

    private func finish(outcome: TrainingOutcome, started: Date) -> TrainingSummary {
        var checkpoint: String?
        var after = state.lastDevMAP10
        if let store, let manifest = store.manifest() {
            if manifest.bestStep != nil, FileManager.default.fileExists(atPath: store.bestPath) {
                checkpoint = store.bestPath
                after = manifest.bestMAP10 ?? after
            } else {
                checkpoint = store.latestPath
            }
        }
        return TrainingSummary(outcome: outcome, steps: state.step, wallSeconds: Date().timeIntervalSince(started),
                               devMAP10Before: state.devMAP10Before, devMAP10After: after, checkpoint: checkpoint)
    }

    private var schedule: LearningRateSchedule {
        LearningRateSchedule(peak: options.learningRate, warmupSteps: options.warmupSteps,
                             totalSteps: options.steps, decay: .linear, finalFraction: 0)
    }

    private func evaluateDev() throws -> Double {
        guard let evaluate else { return 0 }
        do { return try evaluate(model) } catch let error as TrainingError { throw error } catch {
            throw TrainingError.evaluation("\(error)")
        }
    }

    /// Updates the early-stopping state; true when `value` is a new best.
    @discardableResult
    private func recordEvaluation(_ value: Double, events: (TrainingEvent) -> Void) throws -> Bool {
        state.lastDevMAP10 = value
        let improved = state.bestMAP10.map { value > $0 + 1e-12 } ?? true
        if improved {
            state.bestMAP10 = value; state.bestStep = state.step; state.evaluationsWithoutImprovement = 0
        } else {
            state.evaluationsWithoutImprovement += 1
        }
        events(.evaluation(EvaluationReport(step: state.step, devMAP10: value, bestMAP10: state.bestMAP10 ?? value,
                                            improved: improved)))
        if improved && state.step == 0 { try saveCheckpoint(isBest: true, events: events) }
        return improved
    }

    /// One optimiser step; the losses by name, the number of pairs in the batch, and the samples
    /// drawn that could not be read.
    private func trainStep(_ step: Int) -> (losses: [String: Double], rows: Int, skipped: [SkippedExample]) {
        var rng = SeededRNG(seed: options.seed ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15) ^ 0x7A11_0000_0000_0001)
        let dropout = ForwardMode.training(TrainingDropout(hidden: options.dropout, attention: options.dropout,
                                                           seed: rng.next()))
        model.parameters.zeroGradients()
        var losses: [String: Double] = [:]
        let rows: Int
        let skipped: [SkippedExample]
        switch options.mode {
        case .pretrain:
            let loaded = pretrainBatch(step)
            if step < options.steps { startPrefetch(step + 1) }
            let masked = masking.mask(batch(loaded.examples), config: model.config, rng: &rng)
            losses = Self.lossesAndGradients(model: model, batch: masked, mode: .pretrain, pairs: [],
                                             objective: options.objective, forward: dropout)
            rows = loaded.examples.count
            skipped = loaded.skipped
        case .finetune:
            let (batchRows, explicit) = fineTuningBatch(step, rng: &rng)
            let loaded = load(batchRows)
            let pairs = fineTuningPairs(loaded, explicit: explicit)
            var textOnly = masking
            textOnly.regionProbability = 0
            if options.objective.mlmWeight == 0 { textOnly.textProbability = 0 }
            let masked = textOnly.mask(batch(loaded.examples), config: model.config, rng: &rng)
            losses = Self.lossesAndGradients(model: model, batch: masked, mode: .finetune, pairs: pairs,
                                             objective: options.objective, forward: dropout)
            rows = loaded.examples.count
            skipped = loaded.skipped
        }
        if options.maxGradientNorm > 0 { model.parameters.clipGradientNorm(maxNorm: options.maxGradientNorm) }
        optimizer.step(learningRate: schedule.learningRate(atStep: step))
        return (losses, rows, skipped)
    }

    /// The loss of one masked batch and its backward pass: the losses by the names `step` events
    /// report, with the gradient of their total accumulated into every trainable parameter.
    /// Pretraining: MLM + MRM + CLR, each with weight 1. Fine-tuning: the robust contrastive loss
    /// over `pairs` (rows of the batch) + `objective`'s weights of CLR and MLM (MLM left out when
    /// its weight is 0). Every step of `vitrine train` and `vitrine train-probe` go through here.
    static func lossesAndGradients(model: CaptureModel, batch: MaskedPretrainingBatch, mode: TrainingMode,
                                   pairs: [EmbeddingPair], objective: FineTuningObjective,
                                   forward: ForwardMode) -> [String: Double] {
        switch mode {
        case .pretrain:
            let l = model.forward(batch, mode: forward)
            model.backward()
            return ["mlm": Double(l.mlm), "mrm": Double(l.mrm), "clr": Double(l.clr), "total": Double(l.total)]
        case .finetune:
            let l = model.forwardFineTuning(batch, pairs: pairs, objective: objective, mode: forward)
            model.backward()
            return ["robust": Double(l.robust), "clr": Double(l.clr), "mlm": Double(l.mlm), "total": Double(l.total)]
        }
    }

    // MARK: Reading batches

    /// The examples of a batch's rows that could be read, with their batch slots (the rows' order),
    /// and the ones that could not.
    struct LoadedBatch {
        var slots: [Int] = []
        var examples: [TrainingExample] = []
        var skipped: [SkippedExample] = []
        var hits = 0, computed = 0
    }

    final class LoadedBatchBox: @unchecked Sendable { var value = LoadedBatch() }

    private func load(_ rows: [Int]) -> LoadedBatch {
        Self.load(rows, from: corpus)
    }

    private static func load(_ rows: [Int], from corpus: TrainingCorpus) -> LoadedBatch {
        var batch = LoadedBatch()
        let read = corpus.load(rows)
        for (slot, result) in read.examples.enumerated() {
            switch result {
            case .success(let e): batch.slots.append(slot); batch.examples.append(e)
            case .failure(let why): batch.skipped.append(why)
            }
        }
        batch.hits = read.hits; batch.computed = read.computed
        return batch
    }

    /// The pretraining batch of `step`: read in the background during the step before, or now.
    /// Rows that cannot be read are left out; a batch needs 2 for CLR, so the rows after it in
    /// the data order fill in when fewer remain.
    private func pretrainBatch(_ step: Int) -> LoadedBatch {
        var loaded: LoadedBatch
        if let p = prefetch, p.step == step {
            p.group.wait()
            loaded = p.box.value
        } else {
            prefetch?.group.wait()
            loaded = load(pretrainRows(step))
        }
        prefetch = nil
        var next = step * options.batchSize
        while loaded.examples.count < 2 && next < step * options.batchSize + pretrainPool.count {
            let extra = load([pretrainPool[Int(ordered("pretrain", count: pretrainPool.count, index: next))]])
            loaded.examples += extra.examples; loaded.skipped += extra.skipped
            next += 1
        }
        return loaded
    }

    private func startPrefetch(_ step: Int) {
        let rows = pretrainRows(step)   // the data order is computed here, on the run's thread
        let group = DispatchGroup(), box = LoadedBatchBox(), corpus = corpus
        prefetchQueue.async(group: group) { box.value = Self.load(rows, from: corpus) }
        prefetch = (step, group, box)
    }

    // MARK: The epoch estimate

    /// Times the compute of one step (the faster of two passes) and the reading of its batch, and samples the feature cache's
    /// coverage of the training split (`EpochEstimate`). The step's batch is the run's next one,
    /// read (its missing features computed and stored, as the step would), run forward and
    /// backward, and its gradients dropped: parameters, optimiser and data order are untouched.
    private func estimateEpoch() -> EpochEstimate? {
        guard pretrainPool.count >= 2 else { return nil }
        let B = options.batchSize
        let rows = pretrainRows(state.step + 1)
        var clock = Date()
        let first = load(rows)
        let firstRead = Date().timeIntervalSince(clock)
        clock = Date()
        let again = load(rows)
        let cachedRead = Date().timeIntervalSince(clock)
        guard again.examples.count >= 2 else { return nil }
        var rng = SeededRNG(seed: options.seed ^ 0xE570_0000_0000_0001)
        let masked = masking.mask(batch(again.examples), config: model.config, rng: &rng)
        // Twice: the first pass also pays for first-touch allocations that later steps reuse.
        var compute = Double.infinity
        for _ in 0 ..< 2 {
            clock = Date()
            _ = model.forward(masked, mode: .training(TrainingDropout(hidden: options.dropout, attention: options.dropout, seed: rng.next())))
            model.backward()
            compute = min(compute, Date().timeIntervalSince(clock))
        }
        model.parameters.zeroGradients()
        let optimizerSeconds = Self.optimizerSeconds(elements: model.parameters.trainable.reduce(0) { $0 + $1.count },
                                                     clipping: options.maxGradientNorm > 0)

        // Coverage: random training samples, their images hashed and looked up.
        var sampled = 0, cached = 0
        var missSeconds: Double? = first.computed > 0
            ? max(0, firstRead - cachedRead * Double(first.hits) / Double(max(1, again.examples.count))) / Double(first.computed)
            : nil
        if let reader = corpus.reader {
            var uncached: Int?
            for _ in 0 ..< min(256, pretrainPool.count) {
                let p = pretrainPool[rng.below(pretrainPool.count)]
                guard let path = corpus.imagePath(at: p), let has = reader.cache.hasEntry(forImageAt: path) else { continue }
                sampled += 1
                if has { cached += 1 } else if uncached == nil { uncached = p }
            }
            if missSeconds == nil, let p = uncached {
                clock = Date()
                _ = load([p])
                missSeconds = Date().timeIntervalSince(clock)
            }
        } else {
            sampled = min(256, pretrainPool.count); cached = sampled   // resident: nothing to compute
        }
        let fraction = sampled > 0 ? Double(cached) / Double(sampled) : 1
        let steps = (pretrainPool.count + B - 1) / B
        let perCached = cachedRead / Double(again.examples.count)
        let later = compute + optimizerSeconds + perCached * Double(B)
        let firstStep = compute + optimizerSeconds
            + Double(B) * (fraction * perCached + (1 - fraction) * (missSeconds ?? perCached))
        return EpochEstimate(pairs: pretrainPool.count, batchSize: B, stepsPerEpoch: steps, computeSeconds: compute,
                             optimizerSeconds: optimizerSeconds,
                             readSecondsCached: perCached * Double(B), missSeconds: missSeconds, cachedFraction: fraction,
                             sampled: sampled, firstEpochSeconds: firstStep * Double(steps),
                             laterEpochSeconds: later * Double(steps))
    }

    /// Seconds of the optimiser's passes over `elements` trainable floats (zeroing the gradients,
    /// clipping their norm, AdamW's update): memory-bound, so timed on a scratch parameter of
    /// 4 M floats (the faster of two) and scaled.
    static func optimizerSeconds(elements: Int, clipping: Bool) -> Double {
        let size = 1 << 22
        guard elements > 0, let scratch = try? ParameterSet([Parameter(name: "scratch", shape: [size], decays: true)]) else { return 0 }
        let optimizer = AdamW(parameters: scratch)
        var best = Double.infinity
        for _ in 0 ..< 2 {
            let clock = Date()
            scratch.zeroGradients()
            if clipping { _ = scratch.clipGradientNorm(maxNorm: 1) }
            optimizer.step(learningRate: 1e-4)
            best = min(best, Date().timeIntervalSince(clock))
        }
        return best * Double(elements) / Double(size)
    }

    private func batch(_ examples: [TrainingExample]) -> PretrainingBatch {
        let length = min(model.config.maxTextLength, examples.map(\.tokenIDs.count).max() ?? 2)
        let tokens = TokenBatch(sequences: examples.map { Array($0.tokenIDs.prefix(length)) }, length: length,
                                padID: Int(masking.padID))
        var cells: [Float] = []
        cells.reserveCapacity(examples.reduce(0) { $0 + $1.cellFeatures.count })
        for e in examples { cells += e.cellFeatures }
        return PretrainingBatch(tokens: tokens, cellFeatures: cells)
    }

    // MARK: Data order

    /// Element `index` of the endless sequence of epochs over `count` items, each epoch a
    /// permutation drawn from (seed, stream, epoch); 4 bytes an item.
    private func ordered(_ stream: String, count: Int, index: Int) -> Int {
        let epoch = index / count
        if let cached = epochCache[stream], cached.epoch == epoch { return Int(cached.order[index % count]) }
        let hash = FNV1a.hash(stream)
        var rng = SeededRNG(seed: options.seed ^ hash ^ (UInt64(epoch) &* 0xD1B5_4A32_D192_ED03))
        precondition(count <= Int(UInt32.max), "the data order counts items in 32 bits")
        var order = [UInt32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0 ..< count { buffer[i] = UInt32(i) }
            initialized = count
        }
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        epochCache[stream] = (epoch, order)
        return Int(order[index % count])
    }

    private func pretrainRows(_ step: Int) -> [Int] {
        let B = options.batchSize
        return (0..<B).map { pretrainPool[ordered("pretrain", count: pretrainPool.count, index: (step - 1) * B + $0)] }
    }

    /// The rows of fine-tuning step `step`: P labels x K gallery views, the queries' pairs and
    /// the flagged pairs; and the flags' verdicts on pairs of batch slots.
    private func fineTuningBatch(_ step: Int, rng: inout SeededRNG) -> (rows: [Int], explicit: [Int: Bool]) {
        var rows: [Int] = []
        var slot: [Int: Int] = [:]
        func add(_ position: Int) -> Int {
            if let s = slot[position] { return s }
            slot[position] = rows.count; rows.append(position); return rows.count - 1
        }
        let K = options.viewsPerLabel, P = max(2, options.batchSize / K)
        if labelGroups.count >= 2 {
            let labels = min(P, labelGroups.count)
            for j in 0..<labels {
                var group = labelGroups[ordered("labels", count: labelGroups.count, index: (step - 1) * labels + j)]
                for i in 0..<min(K, group.count) {
                    group.swapAt(i, i + rng.below(group.count - i))
                    _ = add(group[i])
                }
            }
        }
        if !queryPool.isEmpty {
            let queries = min(max(1, P / 2), queryPool.count)
            for j in 0..<queries {
                let q = queryPool[ordered("queries", count: queryPool.count, index: (step - 1) * queries + j)]
                _ = add(q)
                let labels = corpus.labels(at: q).filter { galleryByLabel[$0] != nil }
                if let label = labels.isEmpty ? nil : labels[rng.below(labels.count)], let items = galleryByLabel[label] {
                    _ = add(items[rng.below(items.count)])
                }
            }
        }
        var explicit: [Int: Bool] = [:]  // key: a * n + b with a < b (batch slots)
        if !flagRows.isEmpty && options.flagPairsPerBatch > 0 {
            let count = min(options.flagPairsPerBatch, flagRows.count)
            for j in 0..<count {
                let (a, b, match) = flagRows[ordered("flags", count: flagRows.count, index: (step - 1) * count + j)]
                let sa = add(a), sb = add(b)
                explicit[min(sa, sb) * 1_000_000 + max(sa, sb)] = match
            }
        }
        if rows.count < 2 {  // CLR needs two pairs; only possible with a single flag on a tiny corpus
            _ = add((rows.first.map { $0 + 1 } ?? 0) % corpus.count)
        }
        return (rows, explicit)
    }

    /// Every labelled pair of a batch's examples (indices into `loaded.examples`), flags overriding labels.
    private func fineTuningPairs(_ loaded: LoadedBatch, explicit: [Int: Bool]) -> [EmbeddingPair] {
        var pairs: [EmbeddingPair] = []
        let e = loaded.examples, slots = loaded.slots
        for i in 0 ..< e.count {
            for j in (i + 1) ..< e.count {
                if let match = explicit[slots[i] * 1_000_000 + slots[j]] ?? PairLabel.matches(e[i], e[j]) {
                    pairs.append(EmbeddingPair(i, j, isMatch: match))
                }
            }
        }
        return pairs
    }

    // MARK: Checkpoints

    private func saveCheckpoint(isBest: Bool, events: (TrainingEvent) -> Void) throws {
        guard let store else { return }
        let step = state.step
        let modelPath = store.modelPath(step: step), statePath = store.statePath(step: step)
        let metadata = CheckpointMetadata(config: model.config, tokenizer: identity.tokenizer,
                                          backbone: identity.backbone, step: step, data: identity.data)
        do {
            try Checkpoint.save(model, to: modelPath, metadata: metadata, omitting: omittable)
        } catch {
            throw TrainingError.checkpointWrite(path: modelPath, reason: "\(error)")
        }
        if checkpointWriteDelay > 0 { Thread.sleep(forTimeInterval: checkpointWriteDelay) }
        var tensors: [SafetensorsTensor] = []
        for (i, p) in model.parameters.parameters.enumerated() where p.isTrainable {
            tensors.append(SafetensorsTensor(name: "m." + p.name, shape: p.shape, values: optimizer.firstMoments[i].array))
            tensors.append(SafetensorsTensor(name: "v." + p.name, shape: p.shape, values: optimizer.secondMoments[i].array))
        }
        var saved = state
        saved.options = options
        let json: String
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            json = String(decoding: try encoder.encode(saved), as: UTF8.self)
            try SafetensorsFile.write(path: statePath, tensors: tensors, dtype: .f32,
                                      metadata: ["format": TrainerState.currentFormat, "trainer": json])
        } catch {
            throw TrainingError.checkpointWrite(path: statePath, reason: "\(error)")
        }
        if checkpointWriteDelay > 0 { Thread.sleep(forTimeInterval: checkpointWriteDelay) }
        try store.commit(step: step, isBest: isBest, bestMAP10: state.bestMAP10, keep: options.keepCheckpoints)
        events(.checkpoint(CheckpointReport(step: step, path: modelPath)))
    }
}

/// Samples per second and seconds per step over the last few steps.
private struct ThroughputMeter {
    private var recent: [(rows: Int, seconds: Double)] = []
    mutating func record(rows: Int, seconds: Double) {
        recent.append((rows, seconds))
        if recent.count > 20 { recent.removeFirst() }
    }
    var samplesPerSecond: Double {
        let s = recent.reduce(0) { $0 + $1.seconds }
        return s > 0 ? Double(recent.reduce(0) { $0 + $1.rows }) / s : 0
    }
    var secondsPerStep: Double { recent.isEmpty ? 0 : recent.reduce(0) { $0 + $1.seconds } / Double(recent.count) }
}
