import Training
import Foundation

/// What the explorer tells the training dialog: the dataset it has open, where
/// runs go, the flags store and its size. Filled in by the app (which may read
/// the disk); the dialog itself never does.
public struct TrainingSettings: Sendable, Equatable {
    /// The dataset folder the dialog proposes.
    public var dataPath: String
    /// The folder under which every run gets its own output folder.
    public var runsDirectory: String
    /// The annotators' flags store; nil: `vitrine train`'s default.
    public var flagsStore: String?
    /// The dataset name flags are recorded under (nil: every flag in the store).
    public var flagsDataset: String?
    /// How many flags the store holds for this dataset, when known (shown in the dialog).
    public var flagCount: Int?
    /// Arguments added to every run (the checkpoint to start from, the weights folder).
    public var extraArguments: [String]

    public init(dataPath: String, runsDirectory: String, flagsStore: String? = nil, flagsDataset: String? = nil,
                flagCount: Int? = nil, extraArguments: [String] = []) {
        self.dataPath = dataPath; self.runsDirectory = runsDirectory; self.flagsStore = flagsStore
        self.flagsDataset = flagsDataset; self.flagCount = flagCount; self.extraArguments = extraArguments
    }

    /// The checkpoint a run starts from (`--init-from` among the extra arguments); nil: the
    /// pretrained towers. It follows the model that searches: a run started from the explorer
    /// fine-tunes what the user is looking at.
    public var initFrom: String? {
        get {
            guard let i = extraArguments.lastIndex(of: "--init-from"), i + 1 < extraArguments.count else { return nil }
            return extraArguments[i + 1]
        }
        set {
            var kept: [String] = []
            var i = 0
            while i < extraArguments.count {
                if extraArguments[i] == "--init-from" { i += 2; continue }
                kept.append(extraArguments[i])
                i += 1
            }
            if let newValue { kept += ["--init-from", newValue] }
            extraArguments = kept
        }
    }
}

/// The dialog's fields, in Tab order (`folder` only when following a run, which has no others).
public enum TrainingDialogField: Int, Sendable, Equatable, CaseIterable {
    case mode, preset, steps, data, flags, folder

    public var label: String {
        switch self {
        case .mode: return "Mode"
        case .preset: return "Preset"
        case .steps: return "Steps"
        case .data: return "Data"
        case .flags: return "Flags"
        case .folder: return "Folder"
        }
    }
}

/// The training dialog opened by `t`: a value, changed by `handle` and `type`.
public struct TrainingDialogState: Sendable, Equatable {
    public var mode: TrainingMode
    public var preset: TrainingPreset
    /// The steps as typed; empty means the preset's own number.
    public var stepsText: String
    public var dataPath: String
    public var useFlags: Bool
    /// The mode field's third choice, "follow a run": show a run folder's progress (its
    /// events.jsonl, whoever writes it) instead of starting a run.
    public var following = false
    /// The run folder to follow, as typed.
    public var followPath: String
    public var focus: TrainingDialogField = .mode
    /// Why the last Enter did not start a run.
    public var error: String? = nil

    /// The most steps the field takes (seven digits).
    public static let maximumSteps = 9_999_999
    /// How far ←/→ move the steps.
    public static let stepIncrement = 100

    /// A dialog with the explorer's settings, keeping the choices of the last
    /// run started from it when there was one.
    public init(settings: TrainingSettings, previous: TrainingRunRequest? = nil) {
        mode = previous?.mode ?? .finetune
        preset = previous?.preset ?? .sample
        stepsText = previous?.steps.map(String.init) ?? ""
        dataPath = settings.dataPath
        useFlags = previous?.useFlags ?? true
        followPath = settings.runsDirectory.hasSuffix("/") ? settings.runsDirectory : settings.runsDirectory + "/"
    }

    /// The fields shown, in Tab order.
    public var fields: [TrainingDialogField] {
        following ? [.mode, .folder] : [.mode, .preset, .steps, .data, .flags]
    }

    /// What Enter, Esc and the other keys lead to.
    public enum Outcome: Sendable, Equatable {
        case stay
        case close
        case start(TrainingRunRequest)
        /// Follow the run folder at this path.
        case follow(String)
    }

    /// Whether the flags field applies (flags only make pairs when fine-tuning).
    public var flagsApply: Bool { mode == .finetune }

    /// Applies a dialog command. Commands of the pane are ignored.
    public mutating func handle(_ command: TrainingCommand, settings: TrainingSettings) -> Outcome {
        switch command {
        case .dialogNext:
            let all = fields
            focus = all[((all.firstIndex(of: focus) ?? 0) + 1) % all.count]
        case .dialogPrevious:
            let all = fields
            focus = all[((all.firstIndex(of: focus) ?? 0) + all.count - 1) % all.count]
        case .dialogIncrease:
            change(by: 1)
        case .dialogDecrease:
            change(by: -1)
        case .dialogDeleteBack:
            switch focus {
            case .steps: if !stepsText.isEmpty { stepsText.removeLast() }
            case .data: if !dataPath.isEmpty { dataPath.removeLast() }
            case .folder: if !followPath.isEmpty { followPath.removeLast() }
            default: break
            }
        case .dialogDeleteWord:
            switch focus {
            case .steps: stepsText = ""
            case .data: Self.deleteWord(&dataPath)
            case .folder: Self.deleteWord(&followPath)
            default: break
            }
        case .dialogClose:
            return .close
        case .dialogStart:
            if following {
                let path = followPath.trimmingCharacters(in: .whitespaces)
                guard !path.isEmpty else { error = "Folder is empty: type the run folder to follow (it holds events.jsonl)"; return .stay }
                error = nil
                return .follow(path)
            }
            switch request(settings: settings) {
            case .success(let r): error = nil; return .start(r)
            case .failure(let e): error = e.message
            }
        case .open, .togglePane, .pauseResume, .cancelRun, .confirmCancel, .keepRunning,
             .useNewModel, .openModelPicker, .pickerDown, .pickerUp, .pickerChoose, .pickerClose:
            break
        }
        return .stay
    }

    /// A typed character: text in the steps (digits) and data fields; a space
    /// changes the choice or toggle in the others.
    public mutating func type(_ c: Character) {
        error = nil
        switch focus {
        case .steps:
            guard c.isASCII, c.isNumber else {
                error = "Steps takes digits only (empty: the preset's own number)"
                return
            }
            if stepsText.isEmpty && c == "0" { return }
            if stepsText.count < String(TrainingDialogState.maximumSteps).count { stepsText.append(c) }
        case .data, .folder:
            // Control characters never reach a field (paste of a path with a newline).
            guard c.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else { return }
            if focus == .data { dataPath.append(c) } else { followPath.append(c) }
        case .mode, .preset, .flags:
            guard c == " " else { return }
            if focus == .flags { if flagsApply { useFlags.toggle() } } else { change(by: 1) }
        }
    }

    private mutating func change(by delta: Int) {
        error = nil
        switch focus {
        case .mode:
            // Fine-tuning, pretraining, follow a run.
            let choices: [TrainingMode?] = TrainingMode.allCases + [nil]
            let next = cycle(choices, following ? nil : mode, delta)
            following = next == nil
            if let next { mode = next }
        case .preset:
            preset = cycle(TrainingPreset.allCases, preset, delta)
        case .steps:
            let current = Int(stepsText) ?? 0
            let inc = TrainingDialogState.stepIncrement
            // Snap to the increment, then move; going below one increment means the preset's own number.
            let snapped = delta > 0 ? (current / inc + 1) * inc : ((current - 1) / inc) * inc
            stepsText = snapped <= 0 ? "" : String(min(snapped, TrainingDialogState.maximumSteps))
        case .data, .folder:
            break
        case .flags:
            guard flagsApply else { return }
            useFlags = delta > 0 ? true : (delta < 0 ? false : !useFlags)
        }
    }

    /// Back to the previous path separator or space, like a shell's ctrl-w.
    private static func deleteWord(_ text: inout String) {
        while let c = text.last, c == "/" || c == " " { text.removeLast() }
        while let c = text.last, c != "/" && c != " " { text.removeLast() }
    }

    private func cycle<T: Equatable>(_ all: [T], _ value: T, _ delta: Int) -> T {
        let i = all.firstIndex(of: value) ?? 0
        return all[((i + delta) % all.count + all.count) % all.count]
    }

    /// The run the dialog describes, or why it cannot start.
    public func request(settings: TrainingSettings) -> Result<TrainingRunRequest, TrainingDialogError> {
        let data = dataPath.trimmingCharacters(in: .whitespaces)
        guard !data.isEmpty else { return .failure(TrainingDialogError("Data is empty: type the dataset folder to train on")) }
        var steps: Int? = nil
        if !stepsText.isEmpty {
            guard let n = Int(stepsText), n >= 1 else {
                return .failure(TrainingDialogError("Steps must be a whole number from 1 to \(TrainingDialogState.maximumSteps), or empty for the preset's own"))
            }
            steps = n
        }
        return .success(TrainingRunRequest(mode: mode, preset: preset, steps: steps, dataPath: data, useFlags: useFlags,
                                           flagsStore: settings.flagsStore, flagsDataset: settings.flagsDataset,
                                           runsDirectory: settings.runsDirectory,
                                           extraArguments: settings.extraArguments))
    }
}

/// Why the dialog cannot start a run, in words for the dialog's error line.
public struct TrainingDialogError: Error, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
