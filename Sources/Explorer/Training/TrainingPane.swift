import Training

/// Where a training run is.
public enum TrainingRunStatus: Sendable, Equatable {
    /// `vitrine train` is being started; nothing has come back yet.
    case starting
    case running
    /// Stopped (SIGSTOP) by the user; `p` resumes it.
    case paused
    /// Asked to stop (SIGTERM); waiting for it to end.
    case cancelling
    /// Ended: "completed", "early-stopped" or "cancelled".
    case finished(outcome: TrainingOutcome)
    /// Failed; the message says what went wrong and what to do.
    case failed(message: String)
    /// A followed run (`--follow`) that the user stopped following; the run itself goes on in its own process.
    case unfollowed

    /// Whether a process is (or may still be) running.
    public var isActive: Bool {
        switch self {
        case .starting, .running, .paused, .cancelling: return true
        case .finished, .failed, .unfollowed: return false
        }
    }

    /// One word for the pane's border.
    public var word: String {
        switch self {
        case .starting: return "starting"
        case .running: return "running"
        case .paused: return "paused"
        case .cancelling: return "cancelling"
        case .finished(let outcome): return outcome == .cancelled ? "cancelled" : "finished"
        case .failed: return "failed"
        case .unfollowed: return "not followed"
        }
    }
}

/// Re-indexing the gallery with the model a run produced: offered when the run ends well,
/// done only once the user accepts (`TrainingCommand.useNewModel`).
public enum ReindexStatus: Sendable, Equatable {
    case none
    /// The run's checkpoint is offered; the model in use is unchanged until the user accepts.
    case offered(checkpoint: String)
    case running(checkpoint: String)
    case done(checkpoint: String)
    case failed(message: String)
}

/// A line the pane shows about the run besides its progress: what the follower says (waiting for
/// the file, a line skipped), or why a key does nothing for a run that is not the explorer's.
public struct TrainingNotice: Sendable, Equatable {
    public var text: String
    /// Drawn as a warning (a line skipped, a key that cannot act), else dim.
    public var warning: Bool
    public init(_ text: String, warning: Bool = false) { self.text = text; self.warning = warning }
}

/// The state of one run as the pane shows it: built from the events the
/// child process streams (or a followed run folder's events.jsonl), and kept after the run ends.
public struct TrainingPaneState: Sendable, Equatable {
    /// What was asked for. For a followed run, its mode and preset as its `started` event says
    /// (the rest is unused).
    public var request: TrainingRunRequest
    /// The run folder followed (`vitrine explore --follow`, the dialog's "follow a run"); nil for
    /// a run the explorer started itself. A followed run belongs to another process: it is never
    /// paused or cancelled from here.
    public var followedDirectory: String? = nil
    /// The latest notice (the follower's news, a key's answer).
    public var notice: TrainingNotice? = nil
    /// The process, once it is started.
    public var launch: TrainingLaunch? = nil
    /// The backbone features being prepared before the run starts (latest report).
    public var preparation: FeatureProgress? = nil
    /// What the run said it would do.
    public var plan: TrainingPlan? = nil
    /// Pretraining: how long an epoch takes on this machine (sent before the first step).
    public var epoch: EpochEstimate? = nil
    /// Samples drawn into batches that could not be read, and the last one's reason.
    public var skippedSamples = 0
    public var lastSkipped: SkippedExample? = nil
    public var status: TrainingRunStatus = .starting
    public var step = 0
    public var totalSteps: Int? = nil
    /// Each loss by name, over the whole run.
    public var losses: [String: LossSeries] = [:]
    public var learningRate: Double? = nil
    public var samplesPerSecond: Double? = nil
    public var etaSeconds: Double? = nil
    /// The latest dev evaluation, and the best one.
    public var devMAP10: Double? = nil
    public var bestMAP10: Double? = nil
    public var bestStep: Int? = nil
    /// The first dev evaluation (a stand-in for "before" if the summary has none).
    public var firstDevMAP10: Double? = nil
    public var lastCheckpoint: CheckpointReport? = nil
    public var summary: TrainingSummary? = nil
    public var exit: TrainingExit? = nil
    public var reindex: ReindexStatus = .none
    /// The "cancel the run?" question is showing.
    public var confirmingCancel = false

    /// The most loss curves a run keeps (Vitrine's runs report four).
    public static let maximumLossSeries = 16

    public init(request: TrainingRunRequest) { self.request = request }

    /// A run followed in `directory`, before any of its events.
    public init(following directory: String) {
        request = TrainingRunRequest(mode: .finetune, preset: .sample, steps: nil, dataPath: "", useFlags: false,
                                     runsDirectory: directory)
        followedDirectory = directory
    }

    /// Whether the run is followed from its folder rather than started here.
    public var isFollowed: Bool { followedDirectory != nil }

    /// Losses in the order shown: the total first, then the run's own terms, then any other.
    public var lossNames: [String] {
        let known = ["total", "robust", "clr", "mlm", "mrm"]
        return known.filter { losses[$0] != nil } + losses.keys.filter { !known.contains($0) }.sorted()
    }

    /// Dev mAP@10 before the run and at its end, once it has ended.
    public var beforeAfter: (before: Double?, after: Double?)? {
        guard let s = summary else { return nil }
        return (s.devMAP10Before ?? firstDevMAP10, s.devMAP10After ?? bestMAP10)
    }

    /// Applies one event from the run; returns what the app must do. A run that ends well
    /// offers its checkpoint (`reindex = .offered`); nothing is re-indexed until the user accepts.
    public mutating func apply(_ event: TrainingEvent) -> [TrainingEffect] {
        switch event {
        case .preparing(let progress):
            preparation = progress
        case .estimate(let estimate):
            epoch = estimate
        case .skipped(let skipped):
            skippedSamples += 1
            lastSkipped = skipped
        case .started(let plan):
            if let folder = followedDirectory {
                // A run appended to the file after the one shown ended (`--resume`): a new run.
                if !status.isActive { self = TrainingPaneState(following: folder) }
                request.mode = plan.mode
                request.preset = plan.preset
            }
            self.plan = plan
            totalSteps = plan.totalSteps
            step = plan.startStep
            if status == .starting { status = .running }
        case .step(let r):
            step = r.step
            totalSteps = r.totalSteps
            // At most `maximumLossSeries` curves: a followed run's file may name any number of losses.
            for (name, value) in r.losses where losses[name] != nil || losses.count < Self.maximumLossSeries {
                losses[name, default: LossSeries()].append(value)
            }
            learningRate = r.learningRate
            samplesPerSecond = r.samplesPerSecond
            etaSeconds = r.etaSeconds
            if status == .starting { status = .running }
        case .evaluation(let e):
            devMAP10 = e.devMAP10
            if firstDevMAP10 == nil { firstDevMAP10 = e.devMAP10 }
            if e.improved { bestStep = e.step }
            bestMAP10 = e.bestMAP10
        case .checkpoint(let c):
            lastCheckpoint = c
        case .paused(let s):
            step = max(step, s)
            if status == .running || status == .starting { status = .paused }
        case .resumed(let s):
            step = max(step, s)
            if status == .paused { status = .running }
        case .finished(let summary):
            self.summary = summary
            step = max(step, summary.steps)
            status = .finished(outcome: summary.outcome)
            confirmingCancel = false
            // A followed run's model is the one in its folder, found by the follower (`FollowNews.ended`).
            if summary.outcome != .cancelled, !isFollowed, let checkpoint = summary.checkpoint {
                reindex = .offered(checkpoint: checkpoint)
            }
        case .failed(let message):
            // The first failure is the cause; later ones (the exit it led to) add nothing.
            if status.isActive { status = .failed(message: message) }
            confirmingCancel = false
        }
        return []
    }

    /// The process ended: a run that had not reported its end was cancelled
    /// (when asked to) or failed.
    public mutating func processExited(_ exit: TrainingExit) {
        self.exit = exit
        confirmingCancel = false
        guard status.isActive else { return }
        if status == .cancelling || exit.cancelRequested {
            status = .finished(outcome: .cancelled)
        } else {
            status = .failed(message: exit.failureMessage)
        }
    }
}
