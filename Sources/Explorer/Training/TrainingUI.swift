import Foundation
import Training

/// A started `vitrine train` process.
public struct TrainingLaunch: Sendable, Equatable {
    public var processID: Int32
    /// The run's own output folder (checkpoints, `train.log`).
    public var outputDirectory: String
    /// Where the child's standard error goes.
    public var logPath: String
    /// The nice value the child runs at.
    public var niceness: Int32
    public init(processID: Int32, outputDirectory: String, logPath: String, niceness: Int32) {
        self.processID = processID; self.outputDirectory = outputDirectory; self.logPath = logPath; self.niceness = niceness
    }
}

/// How a training process ended.
public struct TrainingExit: Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// It called exit with this status.
        case exited(status: Int32)
        /// A signal ended it.
        case signalled(signal: Int32)
    }
    public var reason: Reason
    /// Whether the explorer had asked it to stop.
    public var cancelRequested: Bool
    /// The last lines of its log (standard error), for a failure.
    public var logTail: [String]
    public var logPath: String

    public init(reason: Reason, cancelRequested: Bool, logTail: [String], logPath: String) {
        self.reason = reason; self.cancelRequested = cancelRequested; self.logTail = logTail; self.logPath = logPath
    }

    public var succeeded: Bool { reason == .exited(status: 0) }

    /// "exited with status 3", "was killed by signal 9 (SIGKILL)".
    public var reasonText: String {
        switch reason {
        case .exited(let s): return "exited with status \(s)"
        case .signalled(let n): return "was killed by signal \(n)\(TrainingExit.signalName(n).map { " (\($0))" } ?? "")"
        }
    }

    /// What the pane says when the run died without reporting its end.
    public var failureMessage: String {
        var m = succeeded ? "vitrine train ended without reporting a result" : "vitrine train \(reasonText)"
        if let last = logTail.last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) { m += ": \(last)" }
        return m + ". The whole log is in \(logPath)."
    }

    static func signalName(_ n: Int32) -> String? {
        let names: [Int32: String] = [1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
                                      9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM"]
        return names[n]
    }
}

/// Everything that can happen to the training dialog and pane. The explorer
/// wraps it in its own `Msg` (`case training(TrainingMsg)`).
public enum TrainingMsg: Sendable, Equatable {
    /// A key bound to a training action.
    case command(TrainingCommand)
    /// A key bound to nothing while the dialog is open: text for its fields.
    case typed(Character)
    /// The process started (sent by the runner before any event).
    case launched(TrainingLaunch)
    /// It could not be started; the message says why and what to do.
    case launchFailed(String)
    /// An event from the run (decoded from its `--json` output, or made by
    /// the runner for pause, resume and failures).
    case event(TrainingEvent)
    /// The process ended and was reaped.
    case exited(TrainingExit)
    /// The gallery was re-indexed with the model asked for (nil), or could not be (the reason).
    case reindexed(error: String?)
    /// The models found on disk for the picker (`TrainingEffect.scanModels`).
    case modelsFound([ModelEntry])
    /// What the follower of a run folder says besides the run's events (`RunFollower`).
    case followed(FollowNews)
}

/// Work the training update asks for. The explorer wraps it in its own
/// `Effect` (`case training(TrainingEffect)`) and runs it.
public enum TrainingEffect: Sendable, Equatable {
    /// Start `vitrine train` in the background (`TrainingProcess.start`).
    case start(TrainingRunRequest)
    /// Stop the running process (SIGSTOP) / let it go on (SIGCONT).
    case pause
    case resume
    /// End it: SIGTERM, then SIGKILL after a grace period.
    case cancel
    /// Re-index the gallery with this model (a checkpoint or the zero-shot towers) and refresh
    /// the results, then answer `TrainingMsg.reindexed`.
    case reindex(model: ModelChoice)
    /// List the models on disk: the runs folder's checkpoints and `extra` (the `--model` one);
    /// answered by `TrainingMsg.modelsFound`.
    case scanModels(runsDirectory: String, extra: String?)
    /// Follow a run folder's events.jsonl (`RunFollower.start`); the events come as `.event`,
    /// the rest as `.followed`, a folder that cannot be followed as `.launchFailed`.
    case follow(directory: String)
    /// Stop reading the followed run's events (the run is not ours: nothing is signalled).
    case stopFollowing
}

/// All the explorer keeps about training: the dialog when it is open, the
/// current or last run, and whether its pane shows.
public struct TrainingUIState: Sendable, Equatable {
    public var settings: TrainingSettings
    public var dialog: TrainingDialogState? = nil
    /// The current run, or the last one (kept, with its before/after line, until another starts).
    public var run: TrainingPaneState? = nil
    /// Whether the pane is shown (it is shown when a run starts).
    public var paneVisible = false
    /// The last request started, so that the dialog opens with its choices.
    public var lastRequest: TrainingRunRequest? = nil
    /// The model that ranks the results, and the one being switched to.
    public var model = ModelInUse()
    /// The checkpoint given on the command line (`--model`), listed by the picker.
    public var commandLineModel: String? = nil
    /// The model picker, while it is open.
    public var picker: ModelPickerState? = nil
    /// A finished run's offer scored as search ranks (Sources/Explorer/Workbench/OfferScore.swift).
    public var offerScores: OfferScores? = nil

    public init(settings: TrainingSettings) { self.settings = settings }

    /// Whether a run is going (starting, running, paused or being cancelled).
    public var isRunActive: Bool { run?.status.isActive ?? false }

    /// The key context training imposes, if any: the dialog, then the cancel
    /// question, take all keys while they show. Nil: the explorer's own
    /// (`.pane` when it has given the training pane the focus).
    public var modalContext: TrainingKeyContext? {
        if dialog != nil { return .dialog }
        if picker != nil { return .picker }
        if run?.confirmingCancel == true { return .confirm }
        return nil
    }

    /// Whether the pane takes room on the screen.
    public var showsPane: Bool { paneVisible && run != nil }

    /// Starts following the run folder `directory` in the pane (`--follow`, the dialog).
    public mutating func follow(_ directory: String) -> [TrainingEffect] {
        run = TrainingPaneState(following: directory)
        paneVisible = true
        return [.follow(directory: directory)]
    }
}

/// What `x` says for a run the explorer follows but did not start (it then offers to stop following).
let followedCancelNotice = "This run belongs to another process: Vitrine cannot cancel it. Stop it where it runs "
    + "(Ctrl-C in its terminal, or kill -TERM its process; it writes a checkpoint first). Vitrine can only stop following it."

/// What `p` says for a run the explorer follows but did not start.
let followedPauseNotice = "This run belongs to another process: Vitrine only reads its events.jsonl and cannot pause it. "
    + "Pause it where it runs (Ctrl-Z in its terminal, or kill -STOP its process; for torchrun, its launcher's process group)."

/// The training update: pure. Changes the state for a message and returns
/// the effects the app must run.
public func updateTraining(_ state: inout TrainingUIState, _ msg: TrainingMsg) -> [TrainingEffect] {
    switch msg {
    case .command(let command):
        return performTraining(&state, command)

    case .typed(let c):
        state.dialog?.type(c)
        return []

    case .launched(let launch):
        state.run?.launch = launch
        return []

    case .launchFailed(let message):
        state.run?.status = .failed(message: message)
        state.run?.confirmingCancel = false
        return []

    case .event(let event):
        guard state.run != nil else { return [] }
        return state.run!.apply(event)

    case .exited(let exit):
        state.run?.processExited(exit)
        return []

    case .reindexed(let error):
        if let target = state.model.switching {
            state.model.switching = nil
            if let error { state.model.lastError = error } else {
                state.model.current = target
                state.model.lastError = nil
                // The next run started here starts from the model that searches now.
                state.settings.initFrom = target.choice.checkpointPath
            }
        }
        guard case .running(let checkpoint)? = state.run?.reindex else { return [] }
        state.run?.reindex = error.map { .failed(message: $0) } ?? .done(checkpoint: checkpoint)
        return []

    case .followed(let news):
        guard let folder = state.run?.followedDirectory else { return [] }
        switch news {
        case .waiting(let text):
            state.run!.notice = TrainingNotice(text)
        case .reading:
            // The pane's "events from" line says where they come from.
            state.run!.notice = nil
        case .skipped(let text):
            state.run!.notice = TrainingNotice(text, warning: true)
        case .restarted(let text):
            // The file is read again from its start: what was shown came from the old one.
            state.run = TrainingPaneState(following: folder)
            state.run!.notice = TrainingNotice(text, warning: true)
        case .ended(let checkpoint):
            guard let run = state.run else { return [] }
            switch run.status {
            case .finished(let outcome) where outcome == .cancelled:
                break
            case .finished, .failed:
                if let checkpoint {
                    state.run!.reindex = .offered(checkpoint: checkpoint)
                } else {
                    state.run!.notice = TrainingNotice("The run left no model in \(folder) (no best.safetensors, and its "
                        + "finished event names none that exists here).", warning: true)
                }
            default:
                break
            }
        }
        return []

    case .modelsFound(let entries):
        // What the disk says of the model in use (its step, its mAP) is kept with it.
        if let found = entries.first(where: { $0.choice == state.model.current.choice }) {
            var current = found
            current.step = found.step ?? state.model.current.step
            current.devMAP10 = found.devMAP10 ?? state.model.current.devMAP10
            state.model.current = current
        }
        guard state.picker != nil else { return [] }
        state.picker!.entries = entries
        // The picker opens on the model in use.
        state.picker!.selected = entries.firstIndex { $0.choice == (state.model.switching ?? state.model.current).choice } ?? 0
        return []
    }
}

private func performTraining(_ state: inout TrainingUIState, _ command: TrainingCommand) -> [TrainingEffect] {
    if state.dialog != nil {
        switch state.dialog!.handle(command, settings: state.settings) {
        case .stay:
            return []
        case .close:
            state.dialog = nil
            return []
        case .start(let request):
            state.dialog = nil
            state.lastRequest = request
            state.run = TrainingPaneState(request: request)
            state.paneVisible = true
            return [.start(request)]
        case .follow(let directory):
            state.dialog = nil
            return state.follow(directory)
        }
    }
    if state.picker != nil {
        return performPicker(&state, command)
    }
    switch command {
    case .open:
        if state.isRunActive {
            // One run at a time: show the one that is going.
            state.paneVisible = true
        } else {
            state.dialog = TrainingDialogState(settings: state.settings, previous: state.lastRequest)
        }
        return []
    case .togglePane:
        guard state.run != nil else { return [] }
        state.paneVisible.toggle()
        if !state.paneVisible { state.run?.confirmingCancel = false }
        return []
    case .pauseResume:
        // A followed run is another process's: say so rather than pretend.
        if let run = state.run, run.isFollowed {
            if run.status.isActive {
                state.run!.notice = TrainingNotice(followedPauseNotice, warning: true)
                state.paneVisible = true
            }
            return []
        }
        switch state.run?.status {
        case .running?: return state.run?.launch != nil ? [.pause] : []
        case .paused?: return [.resume]
        default: return []
        }
    case .cancelRun:
        guard let run = state.run, run.status.isActive, run.status != .cancelling else { return [] }
        state.run!.confirmingCancel = true
        state.paneVisible = true
        if run.isFollowed { state.run!.notice = TrainingNotice(followedCancelNotice, warning: true) }
        return []
    case .confirmCancel:
        guard let run = state.run, run.confirmingCancel else { return [] }
        state.run!.confirmingCancel = false
        guard run.status.isActive, run.status != .cancelling else { return [] }
        // A followed run goes on in its own process: only the following stops.
        if run.isFollowed {
            state.run!.status = .unfollowed
            state.run!.notice = nil
            return [.stopFollowing]
        }
        state.run!.status = .cancelling
        return [.cancel]
    case .keepRunning:
        state.run?.confirmingCancel = false
        return []
    case .dialogNext, .dialogPrevious, .dialogIncrease, .dialogDecrease, .dialogStart, .dialogClose,
         .dialogDeleteBack, .dialogDeleteWord:
        return []
    case .useNewModel:
        guard case .offered(let checkpoint)? = state.run?.reindex else { return [] }
        guard state.model.switching == nil else { return [] }
        state.run!.reindex = .running(checkpoint: checkpoint)
        let run = state.run!
        state.model.switching = ModelEntry(checkpoint: checkpoint, step: run.bestStep ?? run.summary?.steps,
                                           devMAP10: run.summary?.devMAP10After ?? run.bestMAP10)
        return [.reindex(model: .checkpoint(checkpoint))]
    case .openModelPicker:
        state.picker = ModelPickerState()
        return [.scanModels(runsDirectory: state.settings.runsDirectory, extra: state.commandLineModel)]
    case .pickerDown, .pickerUp, .pickerChoose, .pickerClose:
        return []
    }
}

/// The picker's keys: move, choose (the gallery is re-indexed with the model chosen), close.
private func performPicker(_ state: inout TrainingUIState, _ command: TrainingCommand) -> [TrainingEffect] {
    guard var picker = state.picker else { return [] }
    let count = picker.entries?.count ?? 0
    switch command {
    case .pickerDown:
        if count > 0 { picker.selected = min(count - 1, picker.selected + 1) }
    case .pickerUp:
        picker.selected = max(0, picker.selected - 1)
    case .pickerClose, .openModelPicker:
        state.picker = nil
        return []
    case .pickerChoose:
        guard let entries = picker.entries, picker.selected < entries.count else { return [] }
        let entry = entries[picker.selected]
        state.picker = nil
        // The model in use, or the one already being indexed: nothing to do.
        guard entry.choice != (state.model.switching ?? state.model.current).choice else { return [] }
        // One re-index at a time: the one going finishes first.
        guard state.model.switching == nil else { return [] }
        state.model.switching = entry
        if case .offered(let c)? = state.run?.reindex, entry.choice == .checkpoint(c) { state.run!.reindex = .running(checkpoint: c) }
        return [.reindex(model: entry.choice)]
    default:
        return []
    }
    state.picker = picker
    return []
}
