import Annotations
import Catalog
import Dispatch
import Foundation
import Retrieval

/// What the explorer needs of a retrieval engine: ranked matches for a query and the attention
/// summary of one match. `Retrieval.RetrievalEngine` is adapted to it where the explorer is
/// started (`vitrine explore`); tests use a deterministic implementation. Calls come from
/// background threads, one search and one attention computation at a time at most.
public protocol RetrievalService: Sendable {
    /// The `top` best gallery matches of `query` that pass `filter`, best first. May throw
    /// `CancellationError` when `isCancelled` answers true (a newer search is waiting).
    func search(_ query: RetrievalQuery, top: Int, filter: RetrievalFilter, isCancelled: () -> Bool) throws -> SearchResult
    /// Why `sampleID` matched `query` (docs/model.md §7, "Attention summary of a match").
    func attention(for query: RetrievalQuery, match sampleID: String) throws -> AttentionSummary
    /// The model flags on these results are kept under (docs/flags.md §1: a checkpoint by its
    /// SHA-256); nil for a service that cannot say, whose flags are kept under the model name its
    /// results show.
    var flagModel: FlagModel? { get }
}

extension RetrievalService {
    public var flagModel: FlagModel? { nil }
}

/// Opens a retrieval service for a loaded dataset, reporting the index build as events. It runs
/// off the UI thread and may take long (a first index build embeds the whole gallery).
public typealias RetrievalOpener = @Sendable (_ dataset: Dataset, _ progress: @escaping @Sendable (IndexEvent) -> Void) throws -> any RetrievalService

/// What the explorer needs of the flags store (`Annotations.FlagStore` conforms).
public protocol FlagService: Sendable {
    /// Writes a verdict; returns it with its id. Replaces the annotator's earlier verdict on the
    /// same dataset, query, match and model.
    @discardableResult func record(_ flag: Flag) throws -> Flag
    /// Withdraws the verdict with this id; returns the earlier verdict it had replaced, which is
    /// current again, if any.
    @discardableResult func undo(id: Int64) throws -> Flag?
    /// The current verdicts of a dataset, of one query or of all.
    func flags(dataset: String, query: String?) throws -> [Flag]
    /// Review queues: a pair skipped (it counts as reviewed), a skip withdrawn, and the pairs an
    /// annotator has reviewed with a model key (their current verdicts and skips).
    func skip(dataset: String, query: String, match: String, model: String, annotator: String, at date: Date) throws
    func unskip(dataset: String, query: String, match: String, model: String, annotator: String) throws
    func reviewedPairs(dataset: String, model: String, annotator: String) throws -> Set<ReviewedPair>
}

extension FlagStore: FlagService {}

/// The flags store as the explorer opens it (for `vitrine explore`).
public enum FlagsSetup {
    /// Opens `Annotations.FlagStore` at `path`, or at `FlagStore.defaultPath()` when nil.
    public static func opener(path: String?) -> @Sendable () throws -> any FlagService {
        let p = path ?? FlagStore.defaultPath()
        return { try FlagStore(path: p) }
    }

    /// `$VITRINE_ANNOTATOR`, else `$USER`, else `$LOGNAME`, else "annotator".
    public static func defaultAnnotator() -> String { FlagStore.defaultAnnotator() }
}

/// `Retrieval.RetrievalEngine` as the explorer's retrieval service.
public struct EngineRetrievalService: RetrievalService {
    public let engine: RetrievalEngine
    public init(engine: RetrievalEngine) { self.engine = engine }

    public func search(_ query: RetrievalQuery, top: Int, filter: RetrievalFilter, isCancelled: () -> Bool) throws -> SearchResult {
        try engine.search(query, top: top, filter: filter, isCancelled: isCancelled)
    }

    public func attention(for query: RetrievalQuery, match sampleID: String) throws -> AttentionSummary {
        try engine.attention(for: query, match: sampleID)
    }

    /// The zero-shot towers as `zero-shot:<text tower>`; a checkpoint by the SHA-256 the engine
    /// computed of it when it opened (the gallery index's identity), so nothing is hashed again.
    public var flagModel: FlagModel? {
        switch engine.system {
        case .zeroShot: return .zeroShot(tower: engine.options.zeroShotTextTower.rawValue)
        case .model: return .checkpoint(sha256: engine.index.identity.checkpoint, fileName: engine.modelName)
        }
    }

    /// Opens `RetrievalEngine` with `system` and `options` for the explorer's dataset (building
    /// the gallery index when it is missing or stale, with progress).
    public static func opener(system: RetrievalSystem, options: RetrievalOptions = RetrievalOptions()) -> RetrievalOpener {
        { dataset, progress in
            EngineRetrievalService(engine: try RetrievalEngine(dataset: dataset, system: system, options: options, progress: progress))
        }
    }
}

/// Runs the newest of a kind of job on one background thread: submitting a job while another
/// waits replaces the waiting one (a stale search is dropped before it starts); the running one
/// finishes (its answer is recognised as stale by its generation).
final class LatestJobRunner: @unchecked Sendable {
    private let lock = NSLock()
    private var waiting: (@Sendable () -> Void)?
    private var running = false
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label, qos: .userInitiated) }

    /// Whether a newer job waits (the running one may stop early: its answer would be stale).
    var hasWaiting: Bool { lock.lock(); defer { lock.unlock() }; return waiting != nil }

    func submit(_ job: @escaping @Sendable () -> Void) {
        lock.lock()
        waiting = job
        let start = !running
        if start { running = true }
        lock.unlock()
        if start { queue.async { self.drain() } }
    }

    private func drain() {
        while true {
            lock.lock()
            guard let job = waiting else { running = false; lock.unlock(); return }
            waiting = nil
            lock.unlock()
            job()
        }
    }
}

/// The retrieval service once it is open: jobs submitted before wait for it (off the UI thread).
final class ServiceSlot: @unchecked Sendable {
    private let condition = NSCondition()
    private var state: Result<any RetrievalService, LoadFailure>?

    func set(_ result: Result<any RetrievalService, LoadFailure>) {
        condition.lock(); state = result; condition.broadcast(); condition.unlock()
    }

    /// Waits until the service is open (or failed to open).
    func wait() -> Result<any RetrievalService, LoadFailure> {
        condition.lock(); defer { condition.unlock() }
        while state == nil { condition.wait() }
        return state!
    }

    /// The service if it is open now (no waiting).
    var current: (any RetrievalService)? {
        condition.lock(); defer { condition.unlock() }
        if case .success(let service)? = state { return service }
        return nil
    }
}

/// The model flags are kept under for results shown as ranked by `shown` (`ResultsState.model`):
/// a ranking file being inspected by its SHA-256, else the open service's model (a checkpoint by
/// its SHA-256), else, for a service that cannot say (tests), the shown name itself.
///
/// - Throws: when the service now ranks with another model than the one shown (a training run's
///   checkpoint replaced it: the results are refreshed), or the ranking file cannot be read.
func flagModel(shown: String, service: ServiceSlot, rankingsPath: String?) throws -> FlagModel {
    if shown.hasPrefix("rankings:"), let rankingsPath {
        do { return try FlagModel.rankings(atPath: rankingsPath) } catch { throw LoadFailure(error.description) }
    }
    guard let model = service.current?.flagModel else { return FlagModel(key: shown, name: shown) }
    guard model.name == shown else {
        throw LoadFailure("the results shown were ranked by \(shown), search now uses \(model.name); search again")
    }
    return model
}

/// Searches each sample id as a pair query (the Product1M protocol) for its top `top` matches,
/// in order, taking `lock` (when given) around each search so that the results' searches get their
/// turns; `progress` hears after every tenth query and the last. Throws `LoadFailure("cancelled")`
/// when `isCancelled` says so between queries. Used by the review queue's build and the workbench.
func searchEach(_ ids: [String], with engine: any RetrievalService, top: Int, lock: NSLock?,
                isCancelled: () -> Bool = { false }, progress: (Int) -> Void) throws -> [SearchResult] {
    var answers: [SearchResult] = []
    answers.reserveCapacity(ids.count)
    for (i, id) in ids.enumerated() {
        if isCancelled() { throw LoadFailure("cancelled") }
        let search = { try engine.search(.sample(id: id, mode: .pair), top: top, filter: .none, isCancelled: { false }) }
        answers.append(try lock.map { try $0.withLock(search) } ?? search())
        if (i + 1) % 10 == 0 || i + 1 == ids.count { progress(i + 1) }
    }
    return answers
}

/// A message for an error from background work.
func failure(_ error: any Error) -> LoadFailure {
    if let f = error as? LoadFailure { return f }
    return LoadFailure(String(describing: error))
}

/// Reads a ranking file and scores it against the dataset's labels with the official protocol.
public func loadInspectSession(path: String, dataset: Dataset) throws -> InspectSession {
    guard FileManager.default.fileExists(atPath: path) else {
        throw LoadFailure("\(path): no such file (give a retrieval_id_list.txt made by `vitrine eval --out DIR` or another system)")
    }
    let rankings = try RankingFile.read(path: path)
    do {
        return try InspectSession.build(path: path, rankings: rankings, groundTruth: explorerGroundTruth(of: dataset))
    } catch {
        throw LoadFailure("\(path): \(error)")
    }
}
