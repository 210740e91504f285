import Support
import Annotations
import Capture
import Tensor

/// What a run trains: CAPTURE's pretraining tasks on captions and images, or instance-level
/// fine-tuning on labelled and flagged pairs (docs/model.md §5, "Losses").
public enum TrainingMode: String, Sendable, Codable, CaseIterable {
    /// `L_robust + a * L_CLR + b * L_MLM` on pairs from labels and annotators' flags.
    case finetune
    /// MLM + MRM + CLR on the train split's pairs; labels are not used.
    case pretrain

    /// As shown in the explorer's dialog and pane.
    public var title: String {
        switch self {
        case .finetune: return "fine-tune"
        case .pretrain: return "pretrain"
        }
    }
}

/// The size of a run (`vitrine train --preset`, the explorer's dialog): `TrainingOptions.preset`.
public enum TrainingPreset: String, Sendable, Codable, CaseIterable {
    case sample
    case small
    case full
    /// A small random model: seconds, for trying the pane and for tests.
    case tiny

    /// A few words on what the preset is for.
    public var note: String {
        switch self {
        case .sample: return "SampleData, minutes on 2 cores"
        case .small: return "a subset, under an hour"
        case .full: return "the whole train split, hours"
        case .tiny: return "a small random model, for tests"
        }
    }
}

/// How a run ended (the `finished` event's `outcome`).
public enum TrainingOutcome: String, Sendable, Codable, CaseIterable {
    /// Every step ran.
    case completed
    /// Patience ran out: the dev mAP@10 stopped improving.
    case earlyStopped = "early-stopped"
    /// Stopped by the user (SIGINT, SIGTERM, the explorer's cancel): a checkpoint was written.
    case cancelled
    /// An error ended the run (the `failed` event says which).
    case failed
}

/// Every setting of a training run. Start from a preset (`TrainingOptions.preset(_:mode:)`)
/// and change what you need; the options are saved with each checkpoint's trainer state.
public struct TrainingOptions: Sendable, Codable, Equatable {
    public var mode: TrainingMode
    /// The preset these options started from (reported in events; informative only).
    public var preset: TrainingPreset
    /// Optimiser steps of the whole run (a resumed run counts from its checkpoint's step).
    public var steps: Int
    /// Pairs per step. In fine-tuning, `batchSize / viewsPerLabel` labels of `viewsPerLabel`
    /// gallery items each, plus the items of up to `flagPairsPerBatch` flagged pairs and of the
    /// query pairs (`queryPairSplits`).
    public var batchSize: Int
    /// Peak learning rate of AdamW (after `warmupSteps`, then linear decay to 0).
    public var learningRate: Float
    public var warmupSteps: Int
    public var weightDecay: Float
    /// Global gradient-norm clipping (0: none).
    public var maxGradientNorm: Float
    /// Dropout of every transformer layer in training (hidden and attention).
    public var dropout: Float
    /// Seeds data order, masking and dropout: the same seed gives the same loss curve,
    /// interrupted and resumed or not.
    public var seed: UInt64
    /// How many of the text tower's layers (from the bottom) are frozen, embeddings included
    /// when > 0. The whole text tower: `textLayers`.
    public var frozenTextLayers: Int
    /// A dev evaluation every this many steps (0: only before the first and after the last step).
    public var evaluationInterval: Int
    /// Early stopping: stop after this many evaluations in a row without a better dev mAP@10
    /// (0: never stop early).
    public var patience: Int
    /// A checkpoint every this many steps (and at the end, on cancel and at each new best).
    public var checkpointInterval: Int
    /// Checkpoints kept besides the best one (at least 1).
    public var keepCheckpoints: Int
    /// Fine-tuning: margins and regulariser weights.
    public var objective: FineTuningObjective
    /// Fine-tuning: gallery items drawn per label (P x K sampling, K = this).
    public var viewsPerLabel: Int
    /// Fine-tuning: at most this many flagged pairs join each batch.
    public var flagPairsPerBatch: Int
    /// Fine-tuning: the query splits whose queries are paired with the gallery items of their
    /// labels. Empty by default: the dev split measures the run, and training on it would
    /// inflate that measure.
    public var queryPairSplits: [String]
    /// Fine-tuning: the share of the `queryPairSplits` queries used for pairs, chosen by a stable
    /// hash of their id (`isPairQuery`); the others stay unseen, so a dev split can give pairs
    /// and still measure the run on its held-out queries.
    public var queryPairShare: Double
    /// Fine-tuning: how annotators' disagreeing verdicts on one (query, match) are settled,
    /// as `vitrine flags pairs --rule` shows them; nil means `.majority`, the store's default
    /// (optional so that trainer states saved before this option still load).
    public var flagRule: DisagreementRule?
    /// The pretrained text tower's learning rate as a fraction of `learningRate` (nil: 1, the
    /// same rate; optional so that trainer states saved before this option still load).
    public var textLearningRateScale: Float?
    /// Fraction of wall time spent idle between steps (0 = full speed, 0.5 = half speed), so an
    /// interactive program sharing the cores stays responsive.
    public var throttle: Double

    public init(mode: TrainingMode, preset: TrainingPreset, steps: Int, batchSize: Int, learningRate: Float,
                warmupSteps: Int, weightDecay: Float = 0.01, maxGradientNorm: Float = 1, dropout: Float = 0.1,
                seed: UInt64 = 0, frozenTextLayers: Int, evaluationInterval: Int, patience: Int,
                checkpointInterval: Int, keepCheckpoints: Int = 2,
                objective: FineTuningObjective = TrainingOptions.defaultObjective,
                viewsPerLabel: Int = 2, flagPairsPerBatch: Int = 4,
                queryPairSplits: [String] = [], queryPairShare: Double = 1, flagRule: DisagreementRule? = nil,
                throttle: Double = 0) {
        self.mode = mode; self.preset = preset; self.steps = steps; self.batchSize = batchSize
        self.learningRate = learningRate; self.warmupSteps = warmupSteps; self.weightDecay = weightDecay
        self.maxGradientNorm = maxGradientNorm; self.dropout = dropout; self.seed = seed
        self.frozenTextLayers = frozenTextLayers; self.evaluationInterval = evaluationInterval
        self.patience = patience; self.checkpointInterval = checkpointInterval
        self.keepCheckpoints = keepCheckpoints; self.objective = objective
        self.viewsPerLabel = viewsPerLabel
        self.flagPairsPerBatch = flagPairsPerBatch; self.queryPairSplits = queryPairSplits
        self.queryPairShare = queryPairShare
        self.flagRule = flagRule
        self.throttle = throttle
    }

    /// Whether the query `id` of one of `queryPairSplits` gives fine-tuning pairs: the first
    /// `queryPairShare` of ids by their FNV-1a hash, the same on every machine and run.
    public func isPairQuery(id: String) -> Bool {
        var hash = FNV1a.hash(id)
        hash ^= hash >> 33
        return Double(hash % 1_000_000) / 1_000_000 < queryPairShare
    }

    /// The fine-tuning objective's defaults: `m_pos` 0.3 (stop pulling pairs closer than a
    /// cosine of ~0.955), `m_neg` 1.0 (push pairs apart until their cosine is at most 0.5),
    /// CLR weight 0.5, MLM weight 0.1.
    public static let defaultObjective = FineTuningObjective(positiveMargin: 0.3, negativeMargin: 1.0,
                                                             clrWeight: 0.5, mlmWeight: 0.1)

    /// A named preset:
    /// - `sample`: SampleData on a 2-core laptop in minutes: fine-tuning freezes the whole text
    ///   tower and trains the image stream, co-attention, cross stream and heads.
    /// - `small`: a longer run that also trains the top two text layers.
    /// - `full`: Product1M-sized runs (every layer trains).
    /// - `tiny`: a very small model from random initialisation (no MiniLM), for tests and
    ///   smoke checks; see `tinyConfig`.
    ///
    /// The text tower changes two presets. `sample` freezes the whole of MiniLM (150 steps), and
    /// all of e5 but its top two layers, at a learning rate of 3e-4 for 400 steps: chosen on
    /// SampleData's dev split, where a frozen e5 learned too slowly (dev mAP@10 0.643 after 150
    /// steps, 0.679 after 300 at a higher rate) and training the top two layers gave 0.830 (2e-4)
    /// and 0.842 (3e-4) after 300 steps, still rising (docs/model.md §5.3). `small` freezes all
    /// but the top two layers of either tower.
    public static func preset(_ name: TrainingPreset, mode: TrainingMode, tower: TextTower = .miniLM) -> TrainingOptions {
        var options = basePreset(name, mode: mode)
        let textLayers = tower.textLayers
        switch (name, tower) {
        case (.sample, .miniLM): options.frozenTextLayers = textLayers
        case (.sample, .e5):
            options.frozenTextLayers = textLayers - 2
            options.learningRate = 3e-4
            options.steps = 400
        case (.small, _): options.frozenTextLayers = max(0, textLayers - 2)
        case (.full, _), (.tiny, _): break
        }
        return options
    }

    private static func basePreset(_ name: TrainingPreset, mode: TrainingMode) -> TrainingOptions {
        switch (name, mode) {
        case (.sample, .finetune):
            return TrainingOptions(mode: mode, preset: name, steps: 150, batchSize: 16, learningRate: 2e-4,
                                   warmupSteps: 10, frozenTextLayers: 6, evaluationInterval: 50, patience: 2,
                                   checkpointInterval: 50,
                                   objective: FineTuningObjective(positiveMargin: 0.4, negativeMargin: 1.0,
                                                                  clrWeight: 0.2, mlmWeight: 0),
                                   viewsPerLabel: 2, queryPairSplits: ["dev"], queryPairShare: 0.5)
        case (.sample, .pretrain):
            return TrainingOptions(mode: mode, preset: name, steps: 150, batchSize: 16, learningRate: 1e-4,
                                   warmupSteps: 10, frozenTextLayers: 6, evaluationInterval: 0, patience: 0,
                                   checkpointInterval: 50)
        case (.small, _):
            return TrainingOptions(mode: mode, preset: name, steps: 1_000, batchSize: 24, learningRate: 1e-4,
                                   warmupSteps: 50, frozenTextLayers: 4, evaluationInterval: 200,
                                   patience: mode == .finetune ? 3 : 0, checkpointInterval: 200,
                                   viewsPerLabel: 2)
        case (.full, _):
            return TrainingOptions(mode: mode, preset: name, steps: 20_000, batchSize: 32, learningRate: 5e-5,
                                   warmupSteps: 1_000, frozenTextLayers: 0, evaluationInterval: 1_000,
                                   patience: mode == .finetune ? 5 : 0, checkpointInterval: 1_000, keepCheckpoints: 3,
                                   viewsPerLabel: 2)
        case (.tiny, _):
            return TrainingOptions(mode: mode, preset: name, steps: 40, batchSize: 8, learningRate: 1e-3,
                                   warmupSteps: 2, dropout: 0, frozenTextLayers: 0, evaluationInterval: 0,
                                   patience: 0, checkpointInterval: 10, viewsPerLabel: 2,
                                   flagPairsPerBatch: 2)
        }
    }

    /// The `tiny` preset's model: BERT's vocabulary and the backbone's feature shape (so real
    /// captions and cached features fit), everything else minimal.
    public static var tinyConfig: CaptureConfig {
        var c = CaptureConfig()
        c.hidden = 32; c.heads = 2; c.intermediate = 64; c.maxPositions = 64
        c.textLayers = 1; c.imageLayers = 1; c.coLayers = 1; c.crossLayers = 1
        c.clrDim = 16; c.fusedDim = 16
        return c
    }

    /// Checks the options against a model configuration; the message says which option to change.
    public func validate(config: CaptureConfig) throws(TrainingError) {
        func fail(_ message: String) -> TrainingError { .invalidOptions(message) }
        guard steps > 0 else { throw fail("steps must be positive (got \(steps))") }
        guard batchSize >= 2 else { throw fail("the batch needs at least 2 pairs for CLR's negatives (got \(batchSize))") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("the learning rate must be positive (got \(learningRate))") }
        guard warmupSteps >= 0, weightDecay >= 0, maxGradientNorm >= 0 else {
            throw fail("warm-up steps, weight decay and the gradient clip must not be negative")
        }
        guard (0..<1).contains(dropout) else { throw fail("dropout must be in [0, 1) (got \(dropout))") }
        guard (0...config.textLayers).contains(frozenTextLayers) else {
            throw fail("frozen text layers must be 0...\(config.textLayers) (got \(frozenTextLayers))")
        }
        guard evaluationInterval >= 0, patience >= 0 else { throw fail("the evaluation interval and patience must not be negative") }
        guard checkpointInterval > 0 else { throw fail("the checkpoint interval must be positive (got \(checkpointInterval))") }
        guard keepCheckpoints >= 1 else { throw fail("keep at least 1 checkpoint (got \(keepCheckpoints))") }
        if let scale = textLearningRateScale {
            guard scale > 0, scale <= 10, scale.isFinite else { throw fail("the text tower's learning-rate scale must be in (0, 10] (got \(scale))") }
        }
        guard (0...1).contains(queryPairShare) else { throw fail("the query pair share must be in [0, 1] (got \(queryPairShare))") }
        guard (0..<0.95).contains(throttle) else { throw fail("throttle must be in [0, 0.95) (got \(throttle))") }
        if mode == .finetune {
            guard viewsPerLabel >= 1, batchSize / viewsPerLabel >= 2 else {
                throw fail("fine-tuning needs at least 2 labels per batch: batch size \(batchSize) / views per label \(viewsPerLabel)")
            }
            guard flagPairsPerBatch >= 0 else { throw fail("flag pairs per batch must not be negative") }
        }
    }
}

/// Why a training run could not start or go on. Each case says what to do.
public enum TrainingError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidOptions(String)
    /// The data has too little of what the mode needs.
    case insufficientData(String)
    /// A checkpoint or trainer state that cannot be used to resume.
    case resume(path: String, reason: String)
    /// Writing a checkpoint failed.
    case checkpointWrite(path: String, reason: String)
    /// The dev evaluation closure failed.
    case evaluation(String)
    /// A `vitrine train-probe` batch file that cannot be used.
    case probe(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidOptions(let m): return "invalid training options: \(m)"
        case .insufficientData(let m): return "not enough training data: \(m)"
        case .resume(let path, let reason): return "cannot resume from \(path): \(reason)"
        case .checkpointWrite(let path, let reason):
            return "cannot write checkpoint \(path): \(reason); check the output folder's free space and permissions"
        case .evaluation(let m): return "dev evaluation failed: \(m)"
        case .probe(let path, let reason):
            return "probe batch \(path): \(reason); see docs/model.md §8.7 for the batch file's tensors and metadata"
        }
    }
}
