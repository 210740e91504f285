import Catalog
import Imaging

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
    case quit(exitCode: Int32)
}
