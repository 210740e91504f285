import Foundation

/// What a training run reports as it goes: the one stream of typed events that the CLI
/// renders as a progress bar, `vitrine train --json` prints as JSON lines, and the
/// explorer's training pane reads back from a child process (docs/architecture.md §4: long work reports
/// progress as typed events).
///
/// JSON form (one object per line): `{"event": "<case>", ...fields of the payload}`;
/// its Codable conformance is written by hand in TrainingEventJSON.swift.
public enum TrainingEvent: Sendable, Equatable {
    /// Before the run: the backbone features of the corpus are being read from the cache or
    /// computed (on a cold cache this takes a while; sent a few times a second).
    case preparing(FeatureProgress)
    /// Pretraining, before the first step: how long an epoch over the training split will take on
    /// this machine, measured on the run's first batch.
    case estimate(EpochEstimate)
    /// A sample drawn into a batch could not be read (its image changed or went away since the
    /// run started); the step went on without it.
    case skipped(SkippedExample)
    /// The run is about to start: what it will do.
    case started(TrainingPlan)
    /// One optimiser step finished.
    case step(StepReport)
    /// A dev-split evaluation finished (official mAP@10).
    case evaluation(EvaluationReport)
    /// A checkpoint was written atomically and is now the last good one.
    case checkpoint(CheckpointReport)
    /// Pause / resume acknowledged (the run is idle while paused).
    case paused(step: Int)
    case resumed(step: Int)
    /// The run ended: completed, stopped early, or cancelled.
    case finished(TrainingSummary)
    /// The run failed; `message` says what, where and what to do.
    case failed(message: String)
}

/// The shape of a run, sent once at the start.
public struct TrainingPlan: Sendable, Equatable, Codable {
    public var mode: TrainingMode
    public var preset: TrainingPreset
    public var totalSteps: Int
    public var batchSize: Int
    public var startStep: Int
    public var seed: UInt64
    public var dataset: String
    public var outputDirectory: String
    public var flagPairs: Int
    public init(mode: TrainingMode, preset: TrainingPreset, totalSteps: Int, batchSize: Int, startStep: Int, seed: UInt64,
                dataset: String, outputDirectory: String, flagPairs: Int) {
        self.mode = mode; self.preset = preset; self.totalSteps = totalSteps; self.batchSize = batchSize
        self.startStep = startStep; self.seed = seed; self.dataset = dataset
        self.outputDirectory = outputDirectory; self.flagPairs = flagPairs
    }
}

/// How long an epoch will take, measured before the run on its first batch: the step's compute
/// (forward and backward) and the reading of its batch from the split and the feature cache. A
/// feature that is not in the cache yet is computed with the backbone when the sample is first
/// drawn, so the first epoch costs more than the later ones when the cache is cold.
public struct EpochEstimate: Sendable, Equatable, Codable {
    /// Pairs in an epoch (the training split's samples with an image), and steps in one.
    public var pairs: Int
    public var batchSize: Int
    public var stepsPerEpoch: Int
    /// Forward and backward of one step, and the optimiser's update, seconds.
    public var computeSeconds: Double
    public var optimizerSeconds: Double
    /// Reading one batch whose features are all cached, and computing one missing feature, seconds.
    public var readSecondsCached: Double
    public var missSeconds: Double?
    /// Of `sampled` random training samples, the share whose features are in the cache.
    public var cachedFraction: Double
    public var sampled: Int
    /// The first epoch (at the cache's present coverage) and every later one, seconds.
    public var firstEpochSeconds: Double
    public var laterEpochSeconds: Double

    public init(pairs: Int, batchSize: Int, stepsPerEpoch: Int, computeSeconds: Double, optimizerSeconds: Double,
                readSecondsCached: Double,
                missSeconds: Double?, cachedFraction: Double, sampled: Int, firstEpochSeconds: Double,
                laterEpochSeconds: Double) {
        self.pairs = pairs; self.batchSize = batchSize; self.stepsPerEpoch = stepsPerEpoch
        self.computeSeconds = computeSeconds; self.optimizerSeconds = optimizerSeconds
        self.readSecondsCached = readSecondsCached; self.missSeconds = missSeconds
        self.cachedFraction = cachedFraction; self.sampled = sampled
        self.firstEpochSeconds = firstEpochSeconds; self.laterEpochSeconds = laterEpochSeconds
    }
}

/// One step: its losses by name ("mlm", "mrm", "clr", "robust", "total"), learning rate,
/// throughput and the time left.
public struct StepReport: Sendable, Equatable, Codable {
    public var step: Int
    public var totalSteps: Int
    public var losses: [String: Double]
    public var learningRate: Double
    public var samplesPerSecond: Double
    public var etaSeconds: Double
    public init(step: Int, totalSteps: Int, losses: [String: Double], learningRate: Double,
                samplesPerSecond: Double, etaSeconds: Double) {
        self.step = step; self.totalSteps = totalSteps; self.losses = losses; self.learningRate = learningRate
        self.samplesPerSecond = samplesPerSecond; self.etaSeconds = etaSeconds
    }
}

public struct EvaluationReport: Sendable, Equatable, Codable {
    public var step: Int
    /// Official mAP@10 on the dev split.
    public var devMAP10: Double
    /// The best so far, and whether this one is it.
    public var bestMAP10: Double
    public var improved: Bool
    public init(step: Int, devMAP10: Double, bestMAP10: Double, improved: Bool) {
        self.step = step; self.devMAP10 = devMAP10; self.bestMAP10 = bestMAP10; self.improved = improved
    }
}

public struct CheckpointReport: Sendable, Equatable, Codable {
    public var step: Int
    public var path: String
    public init(step: Int, path: String) { self.step = step; self.path = path }
}

public struct TrainingSummary: Sendable, Equatable, Codable {
    /// "completed", "early-stopped" or "cancelled".
    public var outcome: TrainingOutcome
    public var steps: Int
    public var wallSeconds: Double
    /// Dev mAP@10 before the first step and at the end (nil when no dev split).
    public var devMAP10Before: Double?
    public var devMAP10After: Double?
    /// The checkpoint to use from now on (the best one when early stopping kept one).
    public var checkpoint: String?
    public init(outcome: TrainingOutcome, steps: Int, wallSeconds: Double, devMAP10Before: Double?,
                devMAP10After: Double?, checkpoint: String?) {
        self.outcome = outcome; self.steps = steps; self.wallSeconds = wallSeconds
        self.devMAP10Before = devMAP10Before; self.devMAP10After = devMAP10After; self.checkpoint = checkpoint
    }
}
