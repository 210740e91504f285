/// Where a training key applies; the explorer maps these to its own
/// `ActionContext` cases.
public enum TrainingKeyContext: String, Sendable, CaseIterable {
    /// Everywhere keys are commands (not while text is typed elsewhere).
    case global
    /// The training pane has the focus.
    case pane
    /// The "cancel the run?" question is showing.
    case confirm
    /// The training dialog is open. Keys bound to nothing here are text for
    /// its fields (`TrainingMsg.typed`), so global keys must not fall through.
    case dialog
    /// The model picker is open (a modal list).
    case picker
}

/// Everything a key can do to the training dialog and pane. The raw values
/// are the ids of the explorer's action registry (and of the key file), so a
/// registry action maps back with `TrainingCommand(rawValue: id.rawValue)`.
public enum TrainingCommand: String, Sendable, Equatable, CaseIterable {
    case open = "training.open"
    case togglePane = "training.toggle-pane"
    case pauseResume = "training.pause"
    case cancelRun = "training.cancel"
    case confirmCancel = "training.cancel-confirm"
    case keepRunning = "training.cancel-dismiss"
    case dialogNext = "training.dialog.next"
    case dialogPrevious = "training.dialog.previous"
    case dialogIncrease = "training.dialog.increase"
    case dialogDecrease = "training.dialog.decrease"
    case dialogStart = "training.dialog.start"
    case dialogClose = "training.dialog.close"
    case dialogDeleteBack = "training.dialog.delete-back"
    case dialogDeleteWord = "training.dialog.delete-word"
    case useNewModel = "training.use-model"
    case openModelPicker = "training.models"
    case pickerDown = "training.models.down"
    case pickerUp = "training.models.up"
    case pickerChoose = "training.models.choose"
    case pickerClose = "training.models.close"

    /// The help overlay's line for it.
    public var description: String {
        switch self {
        case .open: return "Train a model in the background (opens the training dialog; shows the pane while a run is going)"
        case .togglePane: return "Hide or show the training pane"
        case .pauseResume: return "Pause or resume the training run (a followed run: says how)"
        case .cancelRun: return "Cancel the training run, or stop following it (asks first)"
        case .confirmCancel: return "Yes, cancel the run (or stop following it)"
        case .keepRunning: return "No, keep the run going"
        case .dialogNext: return "Next field"
        case .dialogPrevious: return "Previous field"
        case .dialogIncrease: return "Next choice (mode, preset), more steps, flags on"
        case .dialogDecrease: return "Previous choice, fewer steps, flags off"
        case .dialogStart: return "Start the run"
        case .dialogClose: return "Close the dialog without starting"
        case .dialogDeleteBack: return "Delete the last character of the field"
        case .dialogDeleteWord: return "Delete the last word of the field"
        case .useNewModel: return "Search with the model a finished run offers (re-indexes the gallery in the background)"
        case .openModelPicker: return "Choose the model that searches: zero-shot or a checkpoint of the runs folder"
        case .pickerDown: return "The next model"
        case .pickerUp: return "The previous model"
        case .pickerChoose: return "Search with this model (re-indexes the gallery in the background)"
        case .pickerClose: return "Close the model picker"
        }
    }

    /// A short word for the footer; nil keeps it out.
    public var hint: String? {
        switch self {
        case .open: return "train"
        case .pauseResume: return "pause"
        case .cancelRun: return "cancel run"
        case .confirmCancel: return "yes"
        case .keepRunning: return "no"
        case .dialogStart: return "start"
        case .dialogClose: return "close"
        case .pickerChoose: return "use"
        case .pickerClose: return "close"
        default: return nil
        }
    }

    /// The keys it has unless the user's key file says otherwise.
    public var defaultKeys: [Key] {
        switch self {
        case .open: return [.char("t")]
        case .togglePane: return [.ctrl("t")]
        case .pauseResume: return [.char("p")]
        case .cancelRun: return [.char("x")]
        case .confirmCancel: return [.char("y"), .enter]
        case .keepRunning: return [.char("n"), .escape]
        case .dialogNext: return [.tab, .down]
        case .dialogPrevious: return [.backTab, .up]
        case .dialogIncrease: return [.right]
        case .dialogDecrease: return [.left]
        case .dialogStart: return [.enter]
        case .dialogClose: return [.escape]
        case .dialogDeleteBack: return [.backspace]
        case .dialogDeleteWord: return [.ctrl("w")]
        case .useNewModel: return [.char("U")]
        case .openModelPicker: return [.char("M")]
        case .pickerDown: return [.down, .char("j")]
        case .pickerUp: return [.up, .char("k")]
        case .pickerChoose: return [.enter]
        case .pickerClose: return [.escape, .char("M"), .char("q")]
        }
    }

    public var context: TrainingKeyContext {
        switch self {
        case .open, .togglePane, .useNewModel, .openModelPicker: return .global
        case .pauseResume, .cancelRun: return .pane
        case .confirmCancel, .keepRunning: return .confirm
        case .dialogNext, .dialogPrevious, .dialogIncrease, .dialogDecrease, .dialogStart, .dialogClose,
             .dialogDeleteBack, .dialogDeleteWord: return .dialog
        case .pickerDown, .pickerUp, .pickerChoose, .pickerClose: return .picker
        }
    }
}
