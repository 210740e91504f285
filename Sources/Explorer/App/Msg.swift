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

    public init(dataset: Dataset, loadSeconds: Double) {
        self.dataset = dataset
        self.searchIndexes = dataset.splits.map { SearchIndex(samples: $0.samples) }
        self.kindCounts = dataset.splits.map { split in
            (split.samples.count(where: { $0.kind == .single }), split.samples.count(where: { $0.kind == .multi }))
        }
        self.loadSeconds = loadSeconds
    }
}

/// Everything that can happen to the explorer.
public enum Msg: Sendable {
    case input(InputEvent)
    case datasetLoaded(Result<LoadedDataset, LoadFailure>)
    case imageLoaded(path: String, result: Result<RGBImage, ImagingError>)
    case themeLoaded(Result<Theme, LoadFailure>)
    /// Progress of the gallery index build while the retrieval engine opens.
    case indexEvent(IndexEvent)
    /// The retrieval engine is open (its index has `items` gallery items), or could not be.
    case engineOpened(Result<Int, LoadFailure>)
    /// The answer to the search of `generation` (stale when a newer search was started).
    case searchFinished(generation: Int, Result<SearchResult, LoadFailure>)
    /// The attention summary asked for with `generation`.
    case attentionFinished(generation: Int, match: String, Result<AttentionSummary, LoadFailure>)
    /// A flag was written (with its store id), or not.
    case flagRecorded(Result<Flag, LoadFailure>)
    /// A flag was removed from the store, or not.
    case flagUndone(Result<Flag, LoadFailure>)
    /// The current verdicts on one query's matches by one model.
    case flagsLoaded(query: String, model: String, Result<[Flag], LoadFailure>)
    /// A ranking file was read and scored for inspection.
    case rankingsLoaded(Result<InspectSession, LoadFailure>)
    /// The training dialog, pane and background run (Sources/Explorer/Training).
    case training(TrainingMsg)
    /// The time of the status line numbered `serial` is up (`Effect.expireStatus`).
    case statusExpired(serial: Int)
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
    /// Decode a thumbnail no larger than `maxSide` on either side.
    case loadImage(path: String, maxSide: Int)
    case loadTheme(name: String)
    /// Open the retrieval engine for the loaded dataset (building its index, with progress).
    case openEngine
    /// Search; the answer carries `generation` so that a newer search makes it stale.
    /// A newer search effect supersedes one that has not started yet.
    case search(generation: Int, query: RetrievalQuery, top: Int)
    /// Compute the attention summary of one match (a newer request supersedes a queued one).
    case attention(generation: Int, query: RetrievalQuery, match: String)
    /// Write a flag to the store. The app stamps it with the time of writing.
    case recordFlag(Flag)
    /// Remove a flag (by its store id) from the store.
    case undoFlag(Flag)
    /// Read the current verdicts on a query's matches by a model.
    case loadFlags(dataset: String, query: String, model: String)
    /// Read and score a ranking file for the inspect mode.
    case loadRankings(path: String)
    /// Start, pause, resume or cancel the background training run, or re-index the gallery
    /// with the checkpoint it produced.
    case training(TrainingEffect)
    /// Answer with `.statusExpired(serial)` after `seconds` (a status line shown for a while).
    case expireStatus(serial: Int, seconds: Double)
    case quit(exitCode: Int32)
}
