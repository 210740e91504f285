import Annotations
import Catalog
import Imaging
import Retrieval

/// A loaded dataset with what the browser needs of it.
public struct LoadedDataset: Sendable {
    public let dataset: Dataset
    public let searchIndexes: [SearchIndex]   // one per split, same order
    /// Single and multi sample counts, one per split, same order.
    public let kindCounts: [(single: Int, multi: Int)]
    public let loadSeconds: Double
    /// Splits still being opened (a large training split is scanned after the others are shown);
    /// another `datasetLoaded` with all of them follows.
    public let pendingSplits: [String]

    public init(dataset: Dataset, loadSeconds: Double, pendingSplits: [String] = []) {
        self.dataset = dataset
        self.pendingSplits = pendingSplits
        self.searchIndexes = dataset.splits.map { SearchIndex(samples: $0.samples) }
        self.kindCounts = dataset.splits.map(\.kindCounts)
        self.loadSeconds = loadSeconds
    }
}

/// A filter to run over a split in the background.
public struct FilterJob: Sendable, Equatable {
    public var text: String
    /// Only these positions (the matches of a filter this one narrows), or all.
    public var within: [Int]?

    public init(text: String, within: [Int]?) { self.text = text; self.within = within }
}

/// What a background filter reports: matches among the samples checked since its last report.
public struct FilterFound: Sendable, Equatable {
    public var split: Int
    public var generation: Int
    public var matches: [Int]
    public var checked: Int
    public var done: Bool

    public init(split: Int, generation: Int, matches: [Int], checked: Int, done: Bool) {
        self.split = split; self.generation = generation; self.matches = matches; self.checked = checked; self.done = done
    }
}

/// Everything that can happen to the explorer.
public enum Msg: Sendable {
    /// The first message: how the explorer starts. Its update sets the state up and asks for
    /// the dataset.
    case start(ExplorerStart)
    case input(InputEvent)
    case datasetLoaded(Result<LoadedDataset, LoadFailure>)
    case imageLoaded(path: String, result: Result<RGBImage, ImagingError>)
    case themeLoaded(Result<Theme, LoadFailure>)
    /// The retrieval half: the engine, searches, results, attention, inspect mode and flags
    /// (`RetrievalMsg`, `App/RetrievalUpdate.swift`).
    case retrieval(RetrievalMsg)
    /// The training dialog, pane and background run (Sources/Explorer/Training).
    case training(TrainingMsg)
    /// A background filter found `matches` (ascending positions in the split) among the next samples
    /// it checked (`Effect.filter`).
    case filterFound(FilterFound)
    /// The time of the status line numbered `serial` is up (`Effect.expireStatus`).
    case statusExpired(serial: Int)
    /// The samples of an export were written to `path` (`Effect.exportSamples`), or could not be.
    case exported(Result<ExportDone, LoadFailure>)
    /// The review queue (Sources/Explorer/Review).
    case review(ReviewMsg)
    /// The evaluation dashboard and the compare mode (Sources/Explorer/Workbench).
    case workbench(WorkbenchMsg)
    /// A guest session's clock: seconds since the last key and since the session began
    /// (Sources/Explorer/Guest).
    case guestClock(idleSeconds: Double, sessionSeconds: Double)
    /// The selection has rested since the move numbered `serial` (`Effect.restPreview`).
    case previewRested(serial: Int)
    /// The terminal back end could not draw a picture (`GraphicsPainter`'s reason, no data in it).
    case pictureFailed(String)
}

/// An export that was written.
public struct ExportDone: Sendable, Equatable {
    public var path: String
    public var count: Int
    public init(path: String, count: Int) { self.path = path; self.count = count }
}

/// How the explorer starts (`Msg.start`): the options that shape its state, and how opening the
/// flags store went (the app opens it before the first update: an update never touches the disk).
public struct ExplorerStart: Sendable, Equatable {
    /// The flags store at start.
    public enum FlagsStore: Sendable, Equatable {
        /// None was configured.
        case notConfigured
        case open
        /// It could not be opened, for this reason.
        case failed(String)
    }

    public var dataPath: String
    /// Why search is unavailable; nil when an engine opens once the dataset is loaded.
    public var searchUnavailable: String?
    /// A ranking file to inspect (`--rankings`).
    public var rankingsPath: String?
    public var annotator: String
    public var flags: FlagsStore
    /// The flags store named for training runs, if one was; else `defaultFlagsPath` when the
    /// store is open.
    public var flagsPath: String?
    public var defaultFlagsPath: String
    /// Where training runs write their folders, and the arguments added to every run.
    public var runsDirectory: String
    public var trainingArguments: [String]
    /// The checkpoint that searches at start (`--model`); nil: the zero-shot towers.
    public var modelPath: String?
    /// A guest session's limits (`--guest`); nil for the host's own session.
    public var guest: GuestLimits? = nil
    /// A run folder to follow in the training pane from the start (`--follow`).
    public var followDirectory: String? = nil

    public init(dataPath: String, searchUnavailable: String?, rankingsPath: String?, annotator: String, flags: FlagsStore,
                flagsPath: String?, defaultFlagsPath: String, runsDirectory: String, trainingArguments: [String],
                modelPath: String? = nil, guest: GuestLimits? = nil, followDirectory: String? = nil) {
        self.dataPath = dataPath; self.searchUnavailable = searchUnavailable; self.rankingsPath = rankingsPath
        self.annotator = annotator; self.flags = flags; self.flagsPath = flagsPath; self.defaultFlagsPath = defaultFlagsPath
        self.runsDirectory = runsDirectory; self.trainingArguments = trainingArguments
        self.modelPath = modelPath
        self.guest = guest
        self.followDirectory = followDirectory
    }
}

/// An error from background work, as text for the screen.
public struct LoadFailure: Error, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// Work the update asks for; the app runs it off the UI thread and answers
/// with a message.
public enum Effect: Sendable, Equatable {
    case loadDataset(path: String)
    /// Run `job` off the UI thread (answered by `Msg.filterFound`), or with no job only stop the
    /// split's running filter: any run of `split` with another generation stops.
    case filter(split: Int, generation: Int, job: FilterJob?)
    /// Decode a thumbnail no larger than `maxSide` on either side.
    case loadImage(path: String, maxSide: Int)
    case loadTheme(name: String)
    /// Open the engine, search, compute attention, record, undo or read flags, read a ranking
    /// file (`RetrievalEffect`).
    case retrieval(RetrievalEffect)
    /// Start, pause, resume or cancel the background training run, or re-index the gallery
    /// with the checkpoint it produced.
    case training(TrainingEffect)
    /// Answer with `.statusExpired(serial)` after `seconds` (a status line shown for a while).
    case expireStatus(serial: Int, seconds: Double)
    /// Write the samples at `positions` of split `split` as TSV to a new file in the export
    /// folder (`ExplorerOptions.exportDirectory`, else the current one) named `vitrine-<name>-<date and time>.tsv`; answered by `Msg.exported`.
    case exportSamples(split: Int, positions: [Int], name: String)
    /// Build the review queue, store its verdicts and skips (Sources/Explorer/Review).
    case review(ReviewEffect)
    /// Rank and score query splits for the dashboard and the compare mode (Sources/Explorer/Workbench).
    case workbench(WorkbenchEffect)
    /// Answer with `.previewRested(serial)` after `seconds` (the large images wait for the
    /// selection to rest).
    case restPreview(serial: Int, seconds: Double)
    /// Put this text on the clipboard through the terminal (OSC 52): an explicit user action.
    case copyToClipboard(String)
    case quit(exitCode: Int32)
}
