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
    private var epochCache: [String: (epoch: Int, order: [Int])] = [:]

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
        pretrainPool = corpus.positions(role: .train)
        var groups: [String: [Int]] = [:]
        for i in corpus.positions(role: .gallery) {
            if let label = corpus.examples[i].labels.first { groups[label, default: []].append(i) }
        }
        galleryByLabel = groups
        let minimum = min(options.viewsPerLabel, 2)
        labelGroups = groups.keys.sorted().compactMap { groups[$0]!.count >= minimum ? groups[$0]! : nil }
        let querySplits = Set(options.queryPairSplits)
        queryPool = corpus.positions(role: .query).filter { i in
            let e = corpus.examples[i]
            return querySplits.contains(e.split) && options.isPairQuery(id: e.id) && e.labels.contains { groups[$0] != nil }
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
                             exampleCount: corpus.examples.count)
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
        do {
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
                let (losses, rows) = trainStep(state.step + 1)
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

    /// One optimiser step; the losses by name and the number of pairs in the batch.
    private func trainStep(_ step: Int) -> (losses: [String: Double], rows: Int) {
        var rng = SeededRNG(seed: options.seed ^ (UInt64(step) &* 0x9E37_79B9_7F4A_7C15) ^ 0x7A11_0000_0000_0001)
        let dropout = ForwardMode.training(TrainingDropout(hidden: options.dropout, attention: options.dropout,
                                                           seed: rng.next()))
        model.parameters.zeroGradients()
        var losses: [String: Double] = [:]
        let rows: Int
        switch options.mode {
        case .pretrain:
            let batchRows = pretrainRows(step)
            let masked = masking.mask(batch(batchRows), config: model.config, rng: &rng)
            let l = model.forward(masked, mode: dropout)
            model.backward()
            losses = ["mlm": Double(l.mlm), "mrm": Double(l.mrm), "clr": Double(l.clr), "total": Double(l.total)]
            rows = batchRows.count
        case .finetune:
            let (batchRows, pairs) = fineTuningBatch(step, rng: &rng)
            var textOnly = masking
            textOnly.regionProbability = 0
            if options.objective.mlmWeight == 0 { textOnly.textProbability = 0 }
            let masked = textOnly.mask(batch(batchRows), config: model.config, rng: &rng)
            let l = model.forwardFineTuning(masked, pairs: pairs, objective: options.objective, mode: dropout)
            model.backward()
            losses = ["robust": Double(l.robust), "clr": Double(l.clr), "mlm": Double(l.mlm), "total": Double(l.total)]
            rows = batchRows.count
        }
        if options.maxGradientNorm > 0 { model.parameters.clipGradientNorm(maxNorm: options.maxGradientNorm) }
        optimizer.step(learningRate: schedule.learningRate(atStep: step))
        return (losses, rows)
    }

    private func batch(_ rows: [Int]) -> PretrainingBatch {
        let examples = rows.map { corpus.examples[$0] }
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
    /// permutation drawn from (seed, stream, epoch).
    private func ordered(_ stream: String, count: Int, index: Int) -> Int {
        let epoch = index / count
        if let cached = epochCache[stream], cached.epoch == epoch { return cached.order[index % count] }
        let hash = FNV1a.hash(stream)
        var rng = SeededRNG(seed: options.seed ^ hash ^ (UInt64(epoch) &* 0xD1B5_4A32_D192_ED03))
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, rng.below(i + 1)) }
        epochCache[stream] = (epoch, order)
        return order[index % count]
    }

    private func pretrainRows(_ step: Int) -> [Int] {
        let B = options.batchSize
        return (0..<B).map { pretrainPool[ordered("pretrain", count: pretrainPool.count, index: (step - 1) * B + $0)] }
    }

    /// The batch of fine-tuning step `step`: P labels x K gallery views, the queries' pairs and
    /// the flagged pairs; every labelled pair of rows, flags overriding labels.
    private func fineTuningBatch(_ step: Int, rng: inout SeededRNG) -> (rows: [Int], pairs: [EmbeddingPair]) {
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
                let labels = corpus.examples[q].labels.filter { galleryByLabel[$0] != nil }
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
        var pairs: [EmbeddingPair] = []
        for i in 0..<rows.count {
            for j in (i + 1)..<rows.count {
                if let match = explicit[i * 1_000_000 + j] ?? PairLabel.matches(corpus.examples[rows[i]], corpus.examples[rows[j]]) {
                    pairs.append(EmbeddingPair(i, j, isMatch: match))
                }
            }
        }
        if rows.count < 2 {  // CLR needs two pairs; only possible with a single flag on a tiny corpus
            _ = add((rows.first.map { $0 + 1 } ?? 0) % corpus.examples.count)
        }
        return (rows, pairs)
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
