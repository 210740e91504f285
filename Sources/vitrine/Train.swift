import Support
import Annotations
import ArgumentParser
import Capture
import Catalog
import Dispatch
import Foundation
import SafeText
import Retrieval
import Tensor
import Training

/// `vitrine train`: pretraining or fine-tuning of the CAPTURE model, with progress on stderr or
/// JSON-lines events on stdout (`--json`, for the explorer and other tools).
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pretrain (MLM + MRM + CLR) or fine-tune (robust contrastive + CLR + MLM) the retrieval model.",
        discussion: """
        Backbone features come from the feature cache (missing ones are computed first). Checkpoints go \
        to --out: step-N.safetensors (the model), step-N.state.safetensors (optimiser state), \
        latest.safetensors, best.safetensors (best dev mAP@10), training.json, and events.jsonl (every event \
        as one JSON line, as --json prints them, appended as the run goes: `vitrine explore --follow DIR` \
        follows it); writes are atomic, so \
        a killed run leaves its last checkpoint loadable, and --resume continues it exactly. \
        Ctrl-C (SIGINT) or SIGTERM finishes the current step, writes a checkpoint and stops; \
        SIGSTOP/SIGCONT pause and continue. With --json, every event is one JSON object per line on \
        stdout: {"event": "started"|"step"|"evaluation"|"checkpoint"|"paused"|"resumed"|"finished"|"failed", ...}.
        """)

    @Option(name: .long, help: ArgumentHelp("Preset (tiny: a small random model, for tests).", valueName: "NAME"))
    var preset: TrainingPreset = .sample
    @Option(name: .long, help: ArgumentHelp("What to train.", valueName: "MODE"))
    var mode: TrainingMode = .finetune
    @OptionGroup var dataOptions: DataOptions
    @Option(name: .long, help: ArgumentHelp("Run folder for checkpoints. Default: the --resume folder, else ./vitrine-runs/<mode>-<time>.", valueName: "DIR"))
    var out: String?
    @Option(name: .long, help: ArgumentHelp("Continue a run: its folder or a checkpoint of it (needs the .state file beside it).", valueName: "CKPT"))
    var resume: String?
    @Option(name: .long, help: ArgumentHelp("Start a new run from this model checkpoint (e.g. a pretraining run's best).", valueName: "CKPT"))
    var initFrom: String?
    @Option(name: .long, help: ArgumentHelp("Pretrained text tower of a new model: e5 (multilingual-e5-small, reads Chinese; the default) or minilm (all-MiniLM-L6-v2, English). --init-from and --resume keep their checkpoint's.", valueName: "TOWER"))
    var textTower: TextTower?
    @Option(name: .long, help: "Total optimiser steps (overrides the preset).") var steps: Int?
    @Option(name: .long, help: "Pairs per step (overrides the preset).") var batch: Int?
    @Option(name: .long, help: "Peak learning rate (overrides the preset).") var lr: Float?
    @Option(name: .long, help: "The pretrained text tower's learning rate as a fraction of --lr (overrides the preset).") var textLrScale: Float?
    @Option(name: .long, help: "Random seed: data order, masking, dropout and initialisation.") var seed: UInt64 = 0
    @Option(name: .long, help: "Text layers frozen from the bottom, embeddings included (overrides the preset).") var frozenTextLayers: Int?
    @Option(name: .long, help: "Dev evaluation every N steps (0: only before and after).") var evalEvery: Int?
    @Option(name: .long, help: "Stop after N evaluations without a better dev mAP@10 (0: never).") var patience: Int?
    @Option(name: .long, help: "Checkpoint every N steps.") var checkpointEvery: Int?
    @Option(name: .long, help: "Checkpoints kept besides the best.") var keep: Int?
    @Option(name: .long, help: "Fine-tuning: how disagreeing flags on one pair are settled (default majority; see vitrine flags pairs).") var flagRule: DisagreementRule?
    @Option(name: .long, help: "Fraction of time to idle between steps, 0 to 0.9 (keeps other programs responsive).") var throttle: Double?
    @Option(name: .long, help: "Fine-tuning: positive margin m_pos.") var positiveMargin: Float?
    @Option(name: .long, help: "Fine-tuning: negative margin m_neg.") var negativeMargin: Float?
    @Option(name: .long, help: "Fine-tuning: weight of CLR.") var clrWeight: Float?
    @Option(name: .long, help: "Fine-tuning: weight of MLM.") var mlmWeight: Float?
    @Option(name: .long, help: ArgumentHelp("Fine-tuning: pair the queries of this split with their labels' gallery items (repeatable; replaces the preset's). Queries of the dev split that give pairs are left out of the dev evaluation.", valueName: "SPLIT"))
    var queryPairs: [String] = []
    @ArgumentParser.Flag(name: .long, help: "Fine-tuning: no query pairs (gallery labels and flags only).") var noQueryPairs = false
    @Option(name: .long, help: "Fine-tuning: share of the --query-pairs splits' queries used for pairs (by a hash of their id); the rest of the dev split still measures the run.")
    var queryPairShare: Double?
    @Option(name: .long, help: ArgumentHelp("Annotators' flags: a file from `vitrine flags export` (.csv, .jsonl) or a flags store. Default: the default store's flags for this dataset.", valueName: "PATH"))
    var flags: String?
    @ArgumentParser.Flag(name: .long, help: "Use no flags.") var noFlags = false
    @Option(name: .long, help: ArgumentHelp("Split for the dev evaluation (default: dev, or the only query split).", valueName: "SPLIT"))
    var devSplit: String?
    @ArgumentParser.Flag(name: .long, help: "Print the zero-shot towers' dev and test mAP@10 (caption, image, both) before training.") var zeroShotBaseline = false
    @ArgumentParser.Flag(name: .long, help: "No dev evaluation: no early stopping, and the run ends with its last checkpoint. Pretraining then reads only the training split (at Product1M's size a dev evaluation ranks 40,033 gallery items).") var noEval = false
    @ArgumentParser.Flag(name: .long, help: "After training, print the test split's mAP@10 of the checkpoint the run ends with.") var reportTest = false
    @ArgumentParser.Flag(name: .long, help: "Events as JSON lines on stdout instead of a progress bar.") var json = false

    func validate() throws {
        if flags != nil && noFlags { throw ValidationError("--flags and --no-flags do not go together") }
        if noQueryPairs && !queryPairs.isEmpty { throw ValidationError("--query-pairs and --no-query-pairs do not go together") }
        if resume != nil && initFrom != nil { throw ValidationError("--resume continues a run; --init-from starts a new one: give one") }
        // An option the preset or mode cannot use is an error, never silently ignored.
        if preset == .tiny, initFrom != nil {
            throw ValidationError("--preset tiny trains a small model from random weights; it cannot start from --init-from (choose the sample, small or full preset)")
        }
        if noEval {
            let evaluationOnly: [(String, Bool)] = [("--eval-every", evalEvery != nil), ("--patience", patience != nil),
                                                    ("--dev-split", devSplit != nil)]
            if let (option, _) = evaluationOnly.first(where: \.1) {
                throw ValidationError("\(option) sets the dev evaluation; with --no-eval there is none")
            }
        }
        if noFlags, flagRule != nil { throw ValidationError("--flag-rule settles disagreeing flags; with --no-flags there are none") }
        if mode == .pretrain {
            let fineTuningOnly: [(String, Bool)] = [
                ("--positive-margin", positiveMargin != nil), ("--negative-margin", negativeMargin != nil),
                ("--clr-weight", clrWeight != nil), ("--mlm-weight", mlmWeight != nil),
                ("--query-pairs", !queryPairs.isEmpty), ("--no-query-pairs", noQueryPairs),
                ("--query-pair-share", queryPairShare != nil), ("--flags", flags != nil), ("--flag-rule", flagRule != nil),
            ]
            if let (option, _) = fineTuningOnly.first(where: \.1) {
                throw ValidationError("\(option) is a fine-tuning option; pretraining (--mode pretrain) does not use it")
            }
        }
    }

    /// The checkpoint this run starts from: --init-from's, or --resume's (a run folder's latest).
    func startingCheckpoint() throws -> String? {
        if let resume {
            let path = absolute(resume)
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
                return try CheckpointStore(directory: path).latestCheckpoint()
            }
            return path
        }
        return initFrom.map { absolute($0) }
    }

    /// The text tower of the model this run trains: the --init-from or --resume checkpoint's, or
    /// --text-tower (default e5) for a new model, with the checkpoint's number of text layers
    /// (nil for a new model). A --text-tower that contradicts the checkpoint is an error, not ignored.
    func startingTower() throws -> (tower: TextTower, checkpointTextLayers: Int?) {
        guard let checkpoint = try startingCheckpoint() else { return (textTower ?? .standard, nil) }
        // A checkpoint that cannot be read is reported where the run opens it.
        guard let config = try? Checkpoint.readMetadata(path: checkpoint).config else {
            return (textTower ?? .standard, nil)
        }
        let recorded = config.textTower
        if let textTower, textTower != recorded {
            throw ValidationError("--text-tower \(textTower.rawValue) does not match the checkpoint, whose text stream is "
                + "\(recorded) (\(recorded.rawValue)); leave --text-tower out to keep it")
        }
        return (recorded, config.textLayers)
    }

    func run() throws {
        // A run started by the explorer reports on a pipe to it. If the explorer goes (its SSH link
        // dropped), it sends SIGTERM; the next event written to the pipe must not kill the run by
        // SIGPIPE before it finishes its step and writes the checkpoint that cancelling promises.
        // Writes to a closed pipe then fail quietly (Console ignores the error).
        signal(SIGPIPE, SIG_IGN)
        let trainingMode = mode
        let (tower, checkpointTextLayers) = try startingTower()
        var options = TrainingOptions.preset(preset, mode: trainingMode, tower: tower)
        // A preset freezes all but the top layers of the tower's usual depth; a checkpoint with
        // another depth (a small configuration, from Vitrine or the PyTorch twin) keeps the same
        // number of top layers trainable.
        if let layers = checkpointTextLayers, layers != tower.textLayers {
            let trainableTop = tower.textLayers - options.frozenTextLayers
            options.frozenTextLayers = max(0, layers - trainableTop)
        }
        options.seed = seed
        if let steps { options.steps = steps }
        if let batch { options.batchSize = batch }
        if let lr { options.learningRate = lr }
        if let textLrScale { options.textLearningRateScale = textLrScale }
        if let frozenTextLayers { options.frozenTextLayers = frozenTextLayers }
        if let evalEvery { options.evaluationInterval = evalEvery }
        if let patience { options.patience = patience }
        if let checkpointEvery { options.checkpointInterval = checkpointEvery }
        if let keep { options.keepCheckpoints = keep }
        if let throttle { options.throttle = throttle }
        if let flagRule { options.flagRule = flagRule }
        if !queryPairs.isEmpty { options.queryPairSplits = queryPairs }
        if noQueryPairs { options.queryPairSplits = [] }
        if let queryPairShare { options.queryPairShare = queryPairShare }
        if positiveMargin != nil || negativeMargin != nil || clrWeight != nil || mlmWeight != nil {
            let o = options.objective
            let pos = positiveMargin ?? o.positiveMargin, neg = negativeMargin ?? o.negativeMargin
            guard pos >= 0, neg > pos else { throw ValidationError("need 0 <= --positive-margin < --negative-margin (got \(pos), \(neg))") }
            options.objective = FineTuningObjective(positiveMargin: pos, negativeMargin: neg,
                                                    clrWeight: clrWeight ?? o.clrWeight, mlmWeight: mlmWeight ?? o.mlmWeight)
        }
        // The run folder, and its events.jsonl: every event as --json prints it, from the first
        // (docs/model.md §8.6), so that any run can be followed (`vitrine explore --follow`).
        let outDir: String
        if let out { outDir = absolute(out) } else if let resume {
            var isFolder: ObjCBool = false
            let path = absolute(resume)
            outDir = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
                ? path : (path as NSString).deletingLastPathComponent
        } else {
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            outDir = absolute("vitrine-runs/\(mode.rawValue)-\(stamp)")
        }
        let output = EventOutput(json: json, log: try TrainingEventLog(directory: outDir))
        do {
            try train(mode: trainingMode, tower: tower, options: options, output: output, outDir: outDir)
        } catch {
            // A run that stops with an error outside the loop (bad data, missing weights) ends its
            // events.jsonl too, so that a follower does not wait for it for ever. (The loop's own
            // failures were reported as events already: the ExitCode below.)
            if !(error is ExitCode) { output.logOnly(.failed(message: "\(error)")) }
            throw error
        }
    }

    private func train(mode trainingMode: TrainingMode, tower: TextTower, options: TrainingOptions,
                       output: EventOutput, outDir: String) throws {
        // Data, weights, features.
        let root = try dataOptions.resolved()
        let dataset = try Dataset.load(from: root, options: LoadOptions(strict: dataOptions.strict))
        let weights = try WeightsFolder.locate()
        let tokenizer = try TextTokenizer(tower, in: weights)
        var newConfig = tower.configuration(vocabularyRows: tokenizer.vocabularyRows)
        if options.preset == .tiny {
            newConfig = TrainingOptions.tinyConfig
            newConfig.textTower = tower; newConfig.vocabSize = tokenizer.vocabularyRows
        }
        let network = try EfficientNetLite0(weights: weights)
        let cache = try FeatureCache(backbone: network.identity)
        let devName = noEval ? nil : try devSplitName(dataset)
        var splits: [Split] = []
        if trainingMode == .pretrain { splits += dataset.splits(role: .train) }
        // Pretraining without evaluation needs only the training split.
        if trainingMode == .finetune || !noEval || reportTest || zeroShotBaseline {
            if let gallery = dataset.gallery { splits.append(gallery) }
            splits += dataset.splits(role: .query)
        }
        // The evaluation and fine-tuning splits have their features made ready now; pretraining
        // reads the training split's samples, and computes their missing features, as batches
        // draw them (docs/model.md §5.4).
        let prepared = Set(splits.filter { $0.role != .train }.map(\.name))
        let started = Date()
        let reader = ExampleReader(tokenizer: tokenizer, maxTextLength: newConfig.maxTextLength, cache: cache, network: network)
        let corpus = TrainingCorpus.streaming(splits: splits, reader: reader, prepare: prepared) { p in
            output.event(.preparing(p))
        }
        let trainPairs = corpus.positions(role: .train).count
        output.note(String(format: "features of %d images ready in %.1f s", corpus.count - trainPairs,
                           Date().timeIntervalSince(started))
                    + (trainPairs > 0 ? ", \(trainPairs) training pairs read as batches draw them" : "")
                    + (corpus.skippedCount > 0 ? " (\(corpus.skippedCount) samples skipped)" : ""))
        for s in corpus.skipped.prefix(5) { output.note("skipped \(s.id): \(s.reason)") }

        let groundTruth = dataset.format == .product1m ? try OfficialGroundTruth.loadProduct1M(folder: dataset.root)
                                                       : OfficialGroundTruth(dataset: dataset)
        let gallery = corpus.positions(role: .gallery)
        // Queries that give fine-tuning pairs never measure the run.
        let trainingOptions = options
        func evaluator(split: String) -> RetrievalEvaluator {
            let heldOut = trainingMode == .finetune && trainingOptions.queryPairSplits.contains(split)
            return RetrievalEvaluator(corpus: corpus, gallery: gallery, queries: corpus.positions(split: split).filter {
                corpus.role(at: $0) == .query && !(heldOut && trainingOptions.isPairQuery(id: corpus.id(at: $0)))
            }, groundTruth: groundTruth, padID: tokenizer.padID)
        }
        let dev = devName.map(evaluator(split:))
        if let devName, let dev, trainingMode == .finetune, options.queryPairSplits.contains(devName) {
            output.note("\(devName): \(dev.queries.count) queries measure the run; the others give fine-tuning pairs")
        }
        let testSplit = dataset.split(named: "test").map(\.name)

        if zeroShotBaseline {
            // The zero-shot towers exactly as `vitrine eval --zero-shot` ranks with them, on the
            // queries that measure this run.
            let engine = try RetrievalEngine(dataset: dataset, system: .zeroShot)
            for (name, e) in [(devName, dev), (testSplit, testSplit.map(evaluator(split:)))] {
                guard let name, let e, let split = dataset.split(named: name) else { continue }
                let samples = e.queries.compactMap { split.sample(id: corpus.id(at: $0)) }
                func map10(_ mode: QueryMode) throws -> String {
                    let rankings = try engine.rankings(for: samples, mode: mode).rankings
                    return Self.fixed(try OfficialMetrics.evaluate(rankings, groundTruth: e.groundTruth).results.at(10)?.mAP ?? 0)
                }
                output.note("zero-shot \(name) mAP@10: caption \(try map10(.caption))  image \(try map10(.image))  both \(try map10(.pair))")
            }
        }

        // Model.
        let model: CaptureModel
        if options.preset == .tiny {
            model = CaptureModel(config: newConfig, seed: seed)
        } else if let initFrom {
            model = try Checkpoint.load(path: absolute(initFrom), expectedBackbone: network.identity,
                                        expectedTokenizer: try ComponentIdentity(tower.tokenizerFile, in: weights),
                                        weights: weights).0
        } else {
            model = try CaptureModel.pretrained(weights: weights, config: newConfig, seed: seed)
        }
        let identity = CheckpointIdentity(tokenizer: try ComponentIdentity(tower.tokenizerFile, in: weights),
                                          backbone: network.identity,
                                          data: "\(dataset.name): " + splits.map(\.name).joined(separator: "+")
                                              + ", \(corpus.count) pairs")
        let store = try CheckpointStore(directory: outDir)
        let flagList = try loadFlags(dataset: dataset, output: output)
        let control = TrainingControl(throttle: options.throttle)
        let trainer = try Trainer(model: model, corpus: corpus, options: options, store: store, identity: identity,
                                  flags: flagList, masking: tokenizer.masking,
                                  evaluate: dev.map { e -> (CaptureModel) throws -> Double in { try e.fusedMAP10($0) } },
                                  control: control, weights: options.preset == .tiny ? nil : weights)
        if let delay = ProcessInfo.processInfo.environment["VITRINE_TRAIN_WRITE_DELAY_MS"], let ms = Double(delay) {
            trainer.checkpointWriteDelay = ms / 1000
        }
        if trainer.ignoredFlags > 0 { output.note("\(trainer.ignoredFlags) flag(s) name items outside this dataset's splits; not used") }
        if let resume { try trainer.resume(from: absolute(resume)) }

        // Signals: finish the step, checkpoint, stop. SIGSTOP/SIGCONT need nothing.
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { control.cancel() }
            source.resume()
            sources.append(source)
        }
        let summary = trainer.run { output.event($0) }
        sources.forEach { $0.cancel() }

        if reportTest, let testSplit, let checkpoint = summary.checkpoint {
            let (best, _) = try Checkpoint.load(path: checkpoint, expectedBackbone: identity.backbone, weights: weights)
            let value = try evaluator(split: testSplit).fusedMAP10(best)
            output.note("\(testSplit) mAP@10 of \(checkpoint): \(Self.fixed(value))")
        }
        if summary.outcome == .failed { throw ExitCode(1) }
    }

    static func fixed(_ value: Double) -> String { String(format: "%.4f", value) }

    private func devSplitName(_ dataset: Dataset) throws -> String? {
        if let devSplit {
            guard dataset.split(named: devSplit)?.role == .query else {
                throw ValidationError("--dev-split: \(dataset.root) has no query split named \"\(devSplit)\"")
            }
            return devSplit
        }
        if dataset.split(named: "dev")?.role == .query { return "dev" }
        let queries = dataset.splits(role: .query)
        return queries.count == 1 ? queries[0].name : nil
    }

    /// The flags to train on: none with --no-flags; with --flags, a flags file (.csv, .jsonl, as
    /// `vitrine flags export` writes) or a flags store; otherwise the default store's flags for
    /// this dataset when that store exists.
    private func loadFlags(dataset: Dataset, output: EventOutput) throws -> [Annotations.Flag] {
        if noFlags { return [] }
        let key = dataset.identityKey  // as the explorer writes flags
        guard let flags else {
            let path = FlagStore.defaultPath()
            guard FileManager.default.fileExists(atPath: path) else { return [] }
            let found = try FlagStore(path: path).allFlags(dataset: key)
            if !found.isEmpty { output.note("\(found.count) flag(s) for this dataset from \(path) (--no-flags to leave them out)") }
            return found
        }
        let path = absolute(flags)
        if let format = FlagFileFormat(path: path) {
            let data: Data
            do { data = Data(try RegularFile.read(path, kind: "flags file", limit: 4 << 30)!) } catch {
                throw ValidationError("--flags: \(error)")
            }
            let contents = try FlagFile.decode(data, format: format, source: path)
            if !contents.malformed.isEmpty {
                output.note("--flags: \(contents.malformed.count) malformed line(s) in \(path) skipped")
            }
            return contents.flags
        }
        return try FlagStore(path: path).allFlags(dataset: key)
    }
}

/// Dev or test evaluation with the official protocol: rank the gallery for each query and
/// score mAP@10 with `OfficialMetrics`.
struct RetrievalEvaluator {
    /// The corpus, and the positions in it of the gallery and of the queries.
    let corpus: TrainingCorpus
    let gallery: [Int]
    let queries: [Int]
    let groundTruth: OfficialGroundTruth
    let padID: Int

    /// mAP@10 of the fused embeddings `e` (image + caption queries, the Product1M protocol).
    func fusedMAP10(_ model: CaptureModel) throws -> Double {
        let g = fused(model, gallery), q = fused(model, queries)
        guard let dimension = g.vectors.first?.count, !q.vectors.isEmpty else { return 0 }
        let matrix = try VectorMatrix(rows: g.vectors.flatMap { $0 }, dimension: dimension, ids: g.ids)
        let index = try VectorIndex(vectors: matrix)
        let rankings = try zip(q.ids, q.vectors).map { id, v in try index.ranking(queryID: id, query: v, k: 100) }
        return try OfficialMetrics.evaluate(rankings, groundTruth: groundTruth).results.at(10)?.mAP ?? 0
    }

    /// The ids and fused embeddings of the examples at `positions`, read 32 at a time; one that can
    /// no longer be read (its image changed since the run started) is left out.
    private func fused(_ model: CaptureModel, _ positions: [Int]) -> (ids: [String], vectors: [[Float]]) {
        let width = model.config.regionFeatureDim, length = model.config.maxTextLength
        var ids: [String] = [], vectors: [[Float]] = []
        for start in stride(from: 0, to: positions.count, by: 32) {
            let part = corpus.load(Array(positions[start ..< min(positions.count, start + 32)])).examples.compactMap { try? $0.get() }
            guard !part.isEmpty else { continue }
            let tokens = TokenBatch(sequences: part.map { Array($0.tokenIDs.prefix(length)) }, padID: padID)
            var features: [Float] = []
            for e in part { features += ImageTokens.features(cellMajor: e.cellFeatures, width: width) }
            ids += part.map(\.id)
            vectors += model.embed(tokens: tokens, imageFeatures: features).fused
        }
        return (ids, vectors)
    }
}

/// Where `vitrine train` reports: JSON lines on stdout, or a progress line and notes on stderr;
/// and in both cases every event as a JSON line in the run folder's events.jsonl.
final class EventOutput: @unchecked Sendable {
    let json: Bool
    private let bar: ProgressLine
    private var losses: [String: [Double]] = [:]
    private let log: TrainingEventLog?
    private var logFailed = false

    init(json: Bool, log: TrainingEventLog? = nil) {
        self.json = json
        self.log = log
        bar = ProgressLine(enabled: !json)
    }

    /// Appends the event's line to events.jsonl; a write that fails is said once, and the run goes on.
    func logOnly(_ event: TrainingEvent) {
        guard let log, !logFailed else { return }
        do { try log.append(event) } catch {
            logFailed = true
            note("\(error); the run goes on without it")
        }
    }

    private var lastPreparing = Date.distantPast

    /// A line for people (stderr in both modes, so stdout stays pure JSON with --json).
    func note(_ text: String) {
        if json { Console.error(SafeText.terminal(text)) } else { bar.finish(text) }
    }

    func event(_ event: TrainingEvent) {
        if case .preparing(let p) = event {
            // Preparation reports come per chunk of images: a few a second are enough.
            let now = Date()
            guard p.done >= p.total || now.timeIntervalSince(lastPreparing) >= 0.25 else { return }
            lastPreparing = now
        }
        logOnly(event)
        if json {
            Console.json(event.jsonLine())
            return
        }
        switch event {
        case .preparing(let p):
            bar.update("features \(p.done)/\(p.total) (cached \(p.cached), computed \(p.computed))",
                       fraction: Double(p.done) / Double(max(1, p.total)))
        case .estimate(let e):
            note(Self.describe(e))
        case .skipped(let s):
            note("skipped \(s.id): \(s.reason)")
        case .started(let plan):
            note("\(plan.mode.rawValue) (\(plan.preset.rawValue)): steps \(plan.startStep + 1)...\(plan.totalSteps), batch \(plan.batchSize), "
                 + "seed \(plan.seed), \(plan.flagPairs) flag pairs, checkpoints in \(plan.outputDirectory)")
        case .step(let r):
            let names = ["total", "robust", "mlm", "mrm", "clr"].filter { r.losses[$0] != nil }
            let text = names.map { $0 + " " + String(format: "%.3f", r.losses[$0]!) }.joined(separator: "  ")
            let speed = String(format: "lr %.1e  %.1f samples/s", r.learningRate, r.samplesPerSecond)
            bar.update("step \(r.step)/\(r.totalSteps)  \(text)  \(speed)  ETA \(Self.duration(r.etaSeconds))",
                       fraction: Double(r.step) / Double(max(1, r.totalSteps)))
            if !(isatty(2) != 0), r.step % 10 == 0 || r.step == r.totalSteps {
                note("step \(r.step)/\(r.totalSteps)  \(text)  \(speed)")
            }
        case .evaluation(let e):
            note(String(format: "step %d: dev mAP@10 %.4f (best %.4f)", e.step, e.devMAP10, e.bestMAP10) + (e.improved ? " *" : ""))
        case .checkpoint(let c):
            if !(isatty(2) != 0) { note("checkpoint \(c.path)") }
        case .paused(let step): note("paused at step \(step)")
        case .resumed(let step): note("resumed at step \(step)")
        case .finished(let s):
            let before = s.devMAP10Before.map { String(format: "%.4f", $0) } ?? "-"
            let after = s.devMAP10After.map { String(format: "%.4f", $0) } ?? "-"
            note("\(s.outcome) after \(s.steps) steps in \(Self.duration(s.wallSeconds)); dev mAP@10 \(before) -> \(after); "
                 + "model: \(s.checkpoint ?? "none written")")
        case .failed(let message):
            note("training failed: \(message)")
        }
    }

    /// The epoch estimate in a sentence: the epoch, what a step costs, and the cache's coverage.
    static func describe(_ e: EpochEstimate) -> String {
        var text = String(format: "an epoch is %d steps of %d pairs (%d pairs): about %@ on this machine "
                          + "(a step computes in %.2f s, updates in %.2f s and reads its batch in %.2f s from the feature cache",
                          e.stepsPerEpoch, e.batchSize, e.pairs, duration(e.laterEpochSeconds), e.computeSeconds,
                          e.optimizerSeconds, e.readSecondsCached)
        if e.cachedFraction < 1 {
            text += String(format: "); %.0f%% of %d sampled training images have cached features, so the first epoch "
                           + "takes about %@", e.cachedFraction * 100, e.sampled, duration(e.firstEpochSeconds))
            if let miss = e.missSeconds {
                text += String(format: " (a missing feature is computed in %.0f ms when first drawn; "
                               + "`vitrine features --split train` computes them beforehand on every core)", miss * 1000)
            }
        } else {
            text += ")"
        }
        return text
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
