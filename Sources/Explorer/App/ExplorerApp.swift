import Annotations
import Catalog
import Dispatch
import Foundation
import Imaging
import Retrieval

/// How to start the explorer (the `vitrine explore` options).
public struct ExplorerOptions: Sendable {
    public var dataPath: String
    public var themeName: String
    public var keysFile: String?
    public var colorOverride: ColorMode?
    public var mouse: Bool
    public var strict: Bool
    /// Opens the retrieval engine once the dataset is loaded; nil: search is unavailable, for
    /// the reason in `retrievalUnavailable`.
    public var openRetrieval: RetrievalOpener?
    public var retrievalUnavailable: String
    /// Opens the flags store; nil (or a throwing opener): flags are off, with the reason shown.
    public var openFlags: (@Sendable () throws -> any FlagService)?
    /// Who is flagging (`--annotator`, else $USER).
    public var annotator: String
    /// A ranking file (`retrieval_id_list.txt`) to inspect (`--rankings`).
    public var rankingsPath: String?
    /// Opens the retrieval engine again with another model: a trained checkpoint, or the
    /// zero-shot towers for nil (the gallery is re-indexed with it: a finished run's offer, the
    /// model picker); nil: the results keep the model they started with.
    public var reopenRetrieval: (@Sendable (_ checkpoint: String?) -> RetrievalOpener)?
    /// The checkpoint `openRetrieval` searches with (`--model`); nil: the zero-shot towers.
    public var modelPath: String? = nil
    /// Where training runs started from the explorer write their folders.
    public var runsDirectory: String
    /// The flags store's path, handed to training runs that use the annotators' flags.
    public var flagsPath: String?
    /// Arguments added to every `vitrine train` started from the explorer (e.g. `--init-from CKPT`).
    public var trainingArguments: [String] = []
    /// Where `E` writes its exports (the current folder when nil).
    public var exportDirectory: String? = nil
    /// A guest session (`--guest`): its limits; nil for the host's own session. A guest's flags
    /// store is never opened and its searches go through `GuestRetrievalService`.
    public var guest: GuestLimits? = nil
    /// The host's lock file that guests' searches take turns on (`$VITRINE_GUEST_LOCK`).
    public var guestLockPath: String? = nil
    /// Start with the slow-link drawing (`--link slow`; `L` toggles it).
    public var slowLink = false
    /// How images are drawn (`--images`): `auto` asks the terminal.
    public var images: ImagesOption = .auto
    /// A run folder whose events.jsonl the training pane follows from the start (`--follow`).
    public var followDirectory: String? = nil

    public init(dataPath: String, themeName: String = "dark", keysFile: String? = nil, colorOverride: ColorMode? = nil, mouse: Bool = true, strict: Bool = false,
                openRetrieval: RetrievalOpener? = nil, retrievalUnavailable: String = "no retrieval engine configured",
                openFlags: (@Sendable () throws -> any FlagService)? = nil, annotator: String = FlagsSetup.defaultAnnotator(),
                rankingsPath: String? = nil, reopenRetrieval: (@Sendable (_ checkpoint: String?) -> RetrievalOpener)? = nil,
                runsDirectory: String = FileManager.default.currentDirectoryPath + "/vitrine-runs", flagsPath: String? = nil) {
        self.dataPath = dataPath; self.themeName = themeName; self.keysFile = keysFile
        self.colorOverride = colorOverride; self.mouse = mouse; self.strict = strict
        self.openRetrieval = openRetrieval; self.retrievalUnavailable = retrievalUnavailable
        self.openFlags = openFlags; self.annotator = annotator; self.rankingsPath = rankingsPath
        self.reopenRetrieval = reopenRetrieval; self.runsDirectory = runsDirectory; self.flagsPath = flagsPath
    }
}

/// Runs the explorer: the loop that draws `view(state)`, turns input into
/// messages, feeds them to `update` and runs the effects it returns off the
/// UI thread. Everything that touches the terminal goes through the back end.
public final class ExplorerApp {
    private let options: ExplorerOptions
    private let inbox = Inbox()
    private let decoder: DecodeScheduler
    private let work = DispatchQueue(label: "vitrine.work", qos: .userInitiated, attributes: .concurrent)
    private let trace: Trace
    private let searches = LatestJobRunner(label: "vitrine.search")
    private let attentions = LatestJobRunner(label: "vitrine.attention")
    private let filters = LatestJobRunner(label: "vitrine.filter")
    private let flagWriter = DispatchQueue(label: "vitrine.flags", qos: .userInitiated)
    private let service = ServiceSlot()
    /// One search at a time (`RetrievalService`'s contract): the results' searches and a review
    /// queue's build take turns, a query each.
    private let searchLock = NSLock()
    private var flagStore: (any FlagService)?
    /// Ranks and scores query splits for the dashboard and the compare mode.
    private lazy var workbench = WorkbenchRunner(inbox: inbox, service: service, searchLock: searchLock, options: options)
    /// The background training run started from the dialog, if any.
    private var trainingRun: TrainingProcess?
    /// The run folder followed (`--follow`, the dialog's "follow a run"), if any: another process's run.
    private var follower: RunFollower?
    /// The dataset as last loaded (effects that need it run after it is).
    private var dataset: Dataset?
    /// Why a guest session ended, once it has (said after the terminal is restored).
    public private(set) var guestEnded: String?
    /// When the session began and when its last key came (a guest session's clock).
    private let clock = GuestClock()

    public init(options: ExplorerOptions) {
        self.options = options
        self.decoder = DecodeScheduler(inbox: inbox, workers: 2)
        self.trace = Trace()
    }

    /// Runs until the user quits or a signal arrives; returns the exit code.
    /// Theme and key-file errors are thrown before the terminal is touched.
    public func run() throws -> Int32 {
        let theme = try ThemeLibrary.load(options.themeName)
        let keyMap = try KeyMap.load(path: options.keysFile)
        let backend = try NcursesBackend(colorOverride: options.colorOverride, mouse: options.mouse,
                                         images: options.images, compactPictures: options.guest != nil)
        trace.mark("images-" + backend.graphicsDecision.mode.rawValue)
        defer { backend.shutdown() }
        inbox.backend = backend
        return loop(backend: backend, theme: theme, keyMap: keyMap)
    }

    /// The loop itself, over any back end (the in-memory one in tests).
    public func loop(backend: TerminalBackend, theme: Theme, keyMap: KeyMap) -> Int32 {
        inbox.backend = backend
        let size = backend.size
        var state = ExplorerState(size: Size(width: size.width, height: size.height), capabilities: backend.capabilities,
                                  theme: theme, keyMap: keyMap, dataPath: options.dataPath)
        state.capabilities.slowLink = options.slowLink
        if state.capabilities.pixelProtocol != nil {
            // Real pixels show what a 256-pixel thumbnail cannot; fewer of them are kept.
            state.thumbnailSide = 1024
            state.images = ImageCache(capacity: 32)
        }
        // Start-up goes through update like everything else: it sets the state up and asks for the dataset.
        for effect in update(&state, .start(start())) {
            if case .quit(let code) = effect { return code }
            run(effect)
        }
        if options.guest != nil { clock.run(inbox: inbox) }
        defer { guestEnded = state.guest?.ended }
        // Whatever way the loop ends, a training run started here is told to stop (it writes
        // a checkpoint first) rather than left running behind a closed explorer.
        defer { trainingRun?.cancel() }
        // A followed run is another process's: only the reading stops.
        defer { follower?.stop() }
        var firstFrame = true
        var pictureFailures: [String] = []
        var shown: [String] = []        // trace marks of what the next frame shows
        var tracedFilter = -1           // the filter generation whose first matches were traced
        while true {
            backend.draw(view(state), theme: state.theme)
            // A picture the terminal could not be sent is said once, in the footer.
            let failures = backend.pictureFailures
            if failures != pictureFailures {
                pictureFailures = failures
                if let first = failures.first { inbox.post(.pictureFailed(first)) }
            }
            if firstFrame { trace.mark("first-frame"); firstFrame = false }
            for name in shown { trace.mark(name) }
            shown = []
            let events = backend.waitForEvents(timeoutMilliseconds: -1)
            if events.contains(where: { if case .key = $0 { return true }; if case .mouse = $0 { return true }; return false }) {
                clock.touched()
            }
            // A resize may come with another cell size (the font was zoomed): pictures follow it.
            if events.contains(where: { if case .resize = $0 { return true }; return false }),
               state.capabilities.cellPixels != backend.capabilities.cellPixels {
                state.capabilities.cellPixels = backend.capabilities.cellPixels
            }
            let messages = events.map(Msg.input) + inbox.drain()
            for msg in messages {
                if case .datasetLoaded(.success(let loaded)) = msg {
                    if dataset == nil { shown.append("first-rows") }
                    if loaded.pendingSplits.isEmpty { shown.append("dataset-loaded") }
                    dataset = loaded.dataset
                }
                if trace.isOn, case .filterFound(let found) = msg {
                    if !found.matches.isEmpty && tracedFilter != found.generation {
                        tracedFilter = found.generation
                        shown.append("filter-first-matches")
                    }
                    if found.done { shown.append("filter-done") }
                }
                for effect in update(&state, msg) {
                    if case .quit(let code) = effect { return code }
                    run(effect)
                }
            }
        }
    }

    private func run(_ effect: Effect) {
        switch effect {
        case .loadDataset(let path):
            let strict = options.strict
            work.async { [inbox] in
                let start = DispatchTime.now()
                func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 }
                do {
                    // A large training split is scanned after the others are on screen.
                    let large = Dataset.largeSplits(in: path, over: Self.firstLookBytes)
                    if !large.isEmpty {
                        var first = LoadOptions(strict: strict)
                        first.skippedSplits = Set(large)
                        first.imageCensus = false   // images/ may hold a million files: listed in the second step
                        let partial = try Dataset.load(from: path, options: first)
                        inbox.post(.datasetLoaded(.success(LoadedDataset(dataset: partial, loadSeconds: seconds(),
                                                                         pendingSplits: large))))
                    }
                    let dataset = try Dataset.load(from: path, options: LoadOptions(strict: strict))
                    inbox.post(.datasetLoaded(.success(LoadedDataset(dataset: dataset, loadSeconds: seconds()))))
                } catch {
                    inbox.post(.datasetLoaded(.failure(LoadFailure(String(describing: error)))))
                }
            }
        case .loadImage(let path, let maxSide):
            decoder.submit(path: path, maxSide: maxSide)
        case .loadTheme(let name):
            work.async { [inbox] in
                do { inbox.post(.themeLoaded(.success(try ThemeLibrary.load(name)))) }
                catch { inbox.post(.themeLoaded(.failure(LoadFailure(String(describing: error))))) }
            }
        case .retrieval(let effect):
            runRetrieval(effect)
        case .training(let effect):
            runTraining(effect)
        case .filter(let split, let generation, let job):
            runFilter(split: split, generation: generation, job: job)
        case .exportSamples(let index, let positions, let name):
            guard let dataset, index < dataset.splits.count else { return }
            let split = dataset.splits[index]
            work.async { [inbox, options] in
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.dateFormat = "yyyyMMdd-HHmmss"
                let safeName = String(name.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) || $0 == "-" ? Character($0) : "_" })
                let folder = options.exportDirectory ?? FileManager.default.currentDirectoryPath
                let path = folder + "/vitrine-\(safeName)-\(formatter.string(from: Date())).tsv"
                do {
                    try SampleExport.write(split, positions: positions, format: .tsv, to: path)
                    inbox.post(.exported(.success(ExportDone(path: path, count: positions.count))))
                } catch {
                    inbox.post(.exported(.failure(LoadFailure("\(path): \(error)"))))
                }
            }
        case .review(let effect):
            runReview(effect)
        case .workbench(let effect):
            guard let dataset else { return }
            workbench.run(effect, dataset: dataset)
        case .copyToClipboard(let text):
            inbox.backend?.setClipboard(text)
        case .restPreview(let serial, let seconds):
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [inbox] in inbox.post(.previewRested(serial: serial)) }
        case .expireStatus(let serial, let seconds):
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [inbox] in inbox.post(.statusExpired(serial: serial)) }
        case .quit:
            break
        }
    }

    /// Filters a large split on the filter thread: the first matches are posted as soon as there
    /// are any, then at most every 100 ms; a newer filter (or a bare stop) makes it stop.
    private func runFilter(split: Int, generation: Int, job: FilterJob?) {
        guard let job, let dataset, split < dataset.splits.count else {
            filters.submit {}   // only stops the running one
            return
        }
        trace.mark("filter-start")
        let samples = dataset.splits[split].samples
        filters.submit { [inbox, filters] in
            var pending: [Int] = [], posted = 0, checked = 0, lastPost = DispatchTime.now()
            func post(done: Bool) {
                inbox.post(.filterFound(FilterFound(split: split, generation: generation, matches: pending,
                                                    checked: checked - posted, done: done)))
                pending.removeAll(keepingCapacity: true)
                posted = checked
                lastPost = DispatchTime.now()
            }
            let complete = SampleFilter(job.text).scan(samples, positions: job.within, batch: 10_000,
                                                       isCancelled: { filters.hasWaiting }) { matches, total in
                pending += matches
                checked = total
                let waited = Double(DispatchTime.now().uptimeNanoseconds - lastPost.uptimeNanoseconds) / 1e9
                if posted == 0 && !pending.isEmpty || waited > 0.1 { post(done: false) }
            }
            if complete { post(done: true) }
        }
    }

    /// Product1M split files above this size are opened after the others are shown.
    static let firstLookBytes = 32 << 20

    private func runRetrieval(_ effect: RetrievalEffect) {
        switch effect {
        case .openEngine:
            guard let open = options.openRetrieval, let dataset else {
                service.set(.failure(LoadFailure(options.retrievalUnavailable)))
                return
            }
            openEngine(guarded(open), for: dataset) { [inbox, service] result in
                switch result {
                case .success: break
                case .failure(let f):
                    service.set(.failure(f))
                    inbox.post(.retrieval(.engineOpened(.failure(f))))
                }
            }
        case .search(let generation, let query, let top):
            searches.submit { [inbox, service, searches, searchLock] in
                let result: Result<SearchResult, LoadFailure>
                switch service.wait() {
                case .failure(let f): result = .failure(f)
                case .success(let engine):
                    do {
                        result = .success(try searchLock.withLock {
                            try engine.search(query, top: top, filter: .none, isCancelled: { searches.hasWaiting })
                        })
                    }
                    catch is CancellationError { return }   // a newer search is waiting: this answer would be stale
                    catch { result = .failure(failure(error)) }
                }
                inbox.post(.retrieval(.searchFinished(generation: generation, result)))
            }
        case .attention(let generation, let query, let match):
            attentions.submit { [inbox, service] in
                let result: Result<AttentionSummary, LoadFailure>
                switch service.wait() {
                case .failure(let f): result = .failure(f)
                case .success(let engine):
                    do { result = .success(try engine.attention(for: query, match: match)) }
                    catch { result = .failure(failure(error)) }
                }
                inbox.post(.retrieval(.attentionFinished(generation: generation, match: match, result)))
            }
        case .recordFlag(let draft):
            guard let store = flagStore else { return }
            flagWriter.async { [inbox, service, rankingsPath = options.rankingsPath] in
                var flag = draft
                flag.createdAt = Date()
                do {
                    // The draft names the model as the results show it; the store keeps it by its key.
                    let model = try flagModel(shown: draft.model, service: service, rankingsPath: rankingsPath)
                    flag.model = model.key
                    flag.modelName = model.name
                    inbox.post(.retrieval(.flagRecorded(.success(try store.record(flag)))))
                } catch { inbox.post(.retrieval(.flagRecorded(.failure(failure(error))))) }
            }
        case .undoFlag(let flag):
            guard let store = flagStore else { return }
            flagWriter.async { [inbox] in
                do {
                    guard let id = flag.id else { throw LoadFailure("the flag on \(flag.match) has no store id yet") }
                    try store.undo(id: id)
                    inbox.post(.retrieval(.flagUndone(.success(flag))))
                } catch { inbox.post(.retrieval(.flagUndone(.failure(failure(error))))) }
            }
        case .loadFlags(let datasetKey, let query, let model):
            guard let store = flagStore else { return }
            flagWriter.async { [inbox, service, rankingsPath = options.rankingsPath] in
                do {
                    let key = try flagModel(shown: model, service: service, rankingsPath: rankingsPath).key
                    let flags = try store.flags(dataset: datasetKey, query: query).filter { $0.model == key }
                    inbox.post(.retrieval(.flagsLoaded(query: query, model: model, .success(flags))))
                } catch { inbox.post(.retrieval(.flagsLoaded(query: query, model: model, .failure(failure(error))))) }
            }
        case .loadRankings(let path):
            guard let dataset else { return }
            work.async { [inbox] in
                do { inbox.post(.retrieval(.rankingsLoaded(.success(try loadInspectSession(path: path, dataset: dataset))))) }
                catch { inbox.post(.retrieval(.rankingsLoaded(.failure(failure(error))))) }
            }
        }
    }

    /// A guest's engine: its searches through `GuestRetrievalService`.
    private func guarded(_ open: @escaping RetrievalOpener) -> RetrievalOpener {
        guard options.guest != nil else { return open }
        let lockPath = options.guestLockPath
        return { dataset, progress in
            GuestRetrievalService(wrapping: try open(dataset, progress), datasetRoot: dataset.root, lockPath: lockPath)
        }
    }

    /// Opens a retrieval engine off the UI thread (building its index, with progress in the
    /// footer); once open it serves every search and attention request. `done` hears how it went.
    private func openEngine(_ open: @escaping RetrievalOpener, for dataset: Dataset,
                            done: @escaping @Sendable (Result<Void, LoadFailure>) -> Void) {
        work.async { [inbox, service] in
            let throttle = ProgressThrottle()
            do {
                let engine = try open(dataset) { event in
                    if throttle.shouldPost(event) { inbox.post(.retrieval(.indexEvent(event))) }
                }
                service.set(.success(engine))
                inbox.post(.retrieval(.engineOpened(.success(throttle.items ?? dataset.gallery?.samples.count ?? 0))))
                done(.success(()))
            } catch {
                done(.failure(failure(error)))
            }
        }
    }

    /// Builds a review queue (every query searched with the session's model, on the work queue)
    /// and stores its verdicts and skips (on the flags thread, in order).
    private func runReview(_ effect: ReviewEffect) {
        guard let store = flagStore else { return }
        switch effect {
        case .build(let generation, let dataset, let split, let ids, let depth, let annotator):
            work.async { [inbox, service, searchLock] in
                do {
                    guard case .success(let engine) = service.wait() else { throw LoadFailure("search is not available") }
                    let answers = try searchEach(ids, with: engine, top: depth, lock: searchLock) { done in
                        inbox.post(.review(.progress(generation: generation, done: done, total: ids.count)))
                    }
                    let queries = zip(ids, answers).map { id, answer in
                        ReviewedQuery(queryID: id, averagePrecision: answer.averagePrecision, rows: answer.matches.map {
                            ResultRow(rank: $0.rank, sampleID: $0.sampleID, score: $0.score, isRelevant: $0.isRelevant)
                        })
                    }
                    let shown = answers.last?.model ?? ""
                    let model = try flagModel(shown: shown, service: service, rankingsPath: nil)
                    let reviewed = try store.reviewedPairs(dataset: dataset, model: model.key, annotator: annotator)
                    let current = try store.flags(dataset: dataset, query: nil)
                    let flagged = Set(current.filter { $0.model == model.key }.map { ReviewedPair(query: $0.query, match: $0.match) })
                    inbox.post(.review(.built(generation: generation, .success(ReviewBuild(
                        split: split, model: shown, modelKey: model.key, queries: queries, reviewed: reviewed, flagged: flagged,
                        disputes: ReviewDispute.find(in: current))))))
                } catch {
                    inbox.post(.review(.built(generation: generation, .failure(failure(error)))))
                }
            }
        case .record(let draft):
            flagWriter.async { [inbox, service] in
                var flag = draft
                flag.createdAt = Date()
                let pair = ReviewedPair(query: draft.query, match: draft.match)
                do {
                    let model = try flagModel(shown: draft.model, service: service, rankingsPath: nil)
                    flag.model = model.key
                    flag.modelName = model.name
                    inbox.post(.review(.recorded(pair, .success(try store.record(flag)))))
                } catch { inbox.post(.review(.recorded(pair, .failure(failure(error))))) }
            }
        case .adjudicate(let draft):
            flagWriter.async { [inbox] in
                var flag = draft
                flag.createdAt = Date()
                let pair = ReviewedPair(query: draft.query, match: draft.match)
                do { inbox.post(.review(.recorded(pair, .success(try store.record(flag))))) }
                catch { inbox.post(.review(.recorded(pair, .failure(failure(error))))) }
            }
        case .skip(let dataset, let pair, let key, let annotator):
            flagWriter.async { [inbox] in
                do {
                    try store.skip(dataset: dataset, query: pair.query, match: pair.match, model: key, annotator: annotator, at: Date())
                    inbox.post(.review(.written(.success(pair))))
                } catch { inbox.post(.review(.written(.failure(failure(error))))) }
            }
        case .unskip(let dataset, let pair, let key, let annotator):
            flagWriter.async { [inbox] in
                do {
                    try store.unskip(dataset: dataset, query: pair.query, match: pair.match, model: key, annotator: annotator)
                    inbox.post(.review(.written(.success(pair))))
                } catch { inbox.post(.review(.written(.failure(failure(error))))) }
            }
        case .undoVerdict(let flag):
            flagWriter.async { [inbox] in
                let pair = ReviewedPair(query: flag.query, match: flag.match)
                do {
                    guard let id = flag.id else { throw LoadFailure("the verdict on \(flag.match) has no store id yet") }
                    try store.undo(id: id)
                    inbox.post(.review(.written(.success(pair))))
                } catch { inbox.post(.review(.written(.failure(failure(error))))) }
            }
        }
    }

    private func runTraining(_ effect: TrainingEffect) {
        switch effect {
        case .start(let request):
            follower?.stop(); follower = nil
            do {
                trainingRun = try TrainingProcess.start(request) { [inbox] message in inbox.post(.training(message)) }
            } catch {
                inbox.post(.training(.launchFailed(String(describing: error))))
            }
        case .pause: trainingRun?.pause()
        case .resume: trainingRun?.resume()
        case .cancel: trainingRun?.cancel()
        case .reindex(let model):
            guard let reopen = options.reopenRetrieval, let dataset else {
                inbox.post(.training(.reindexed(error: "this explorer cannot switch models (started with --no-search?)")))
                return
            }
            let name = model.checkpointPath ?? "the zero-shot towers"
            openEngine(reopen(model.checkpointPath), for: dataset) { [inbox] result in
                switch result {
                case .success: inbox.post(.training(.reindexed(error: nil)))
                // The old engine stays in use.
                case .failure(let f): inbox.post(.training(.reindexed(error: "re-indexing with \(name) failed: \(f.message)")))
                }
            }
        case .follow(let directory):
            follower?.stop(); follower = nil
            do {
                follower = try RunFollower.start(directory: directory) { [inbox] message in inbox.post(.training(message)) }
            } catch {
                inbox.post(.training(.launchFailed(String(describing: error))))
            }
        case .stopFollowing:
            follower?.stop(); follower = nil
        case .scanModels(let runsDirectory, let extra):
            work.async { [inbox] in
                inbox.post(.training(.modelsFound(ModelScan.scan(runsDirectory: runsDirectory, extra: extra))))
            }
        }
    }

    /// The first message, from the options: whether an engine will open, the flags store (opened
    /// here: a failure only turns flags off), the annotator, the ranking file and training's settings.
    private func start() -> ExplorerStart {
        var flags = ExplorerStart.FlagsStore.notConfigured
        if options.guest == nil, let open = options.openFlags {
            do {
                flagStore = try open()
                flags = .open
            } catch {
                flags = .failed("\(error)")
            }
        }
        return ExplorerStart(dataPath: options.dataPath,
                             searchUnavailable: options.openRetrieval == nil ? options.retrievalUnavailable : nil,
                             rankingsPath: options.rankingsPath, annotator: options.annotator, flags: flags,
                             flagsPath: options.flagsPath, defaultFlagsPath: FlagStore.defaultPath(),
                             runsDirectory: options.runsDirectory, trainingArguments: options.trainingArguments,
                             modelPath: options.modelPath, guest: options.guest, followDirectory: options.followDirectory)
    }
}

/// Lets index progress through at most about 20 times a second (first and last always).
final class ProgressThrottle: @unchecked Sendable {
    private let lock = NSLock()
    private var last: UInt64 = 0
    private var _items: Int?

    /// The gallery size the last `upToDate` or `finished` event reported.
    var items: Int? { lock.lock(); defer { lock.unlock() }; return _items }

    func shouldPost(_ event: IndexEvent) -> Bool {
        lock.lock(); defer { lock.unlock() }
        switch event {
        case .upToDate(let n), .finished(let n, _): _items = n; return true
        case .started: return true
        case .progress(let done, let total):
            let now = DispatchTime.now().uptimeNanoseconds
            if done < total && now - last < 50_000_000 { return false }
            last = now
            return true
        }
    }
}

/// Messages from background work, handed to the UI thread.
final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [Msg] = []
    private weak var _backend: TerminalBackend?

    var backend: TerminalBackend? {
        get { lock.lock(); defer { lock.unlock() }; return _backend }
        set { lock.lock(); _backend = newValue; lock.unlock() }
    }

    func post(_ msg: Msg) {
        lock.lock()
        messages.append(msg)
        let b = _backend
        lock.unlock()
        b?.wake()
    }

    func drain() -> [Msg] {
        lock.lock(); defer { lock.unlock() }
        let m = messages
        messages.removeAll()
        return m
    }
}

/// Decodes thumbnails on a few worker threads, newest request first (the
/// image the user is looking at now matters more than one scrolled past).
final class DecodeScheduler: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [(path: String, maxSide: Int)] = []
    private var running = 0
    private let workers: Int
    private let inbox: Inbox
    private let queue = DispatchQueue(label: "vitrine.decode", qos: .userInitiated, attributes: .concurrent)

    init(inbox: Inbox, workers: Int) { self.inbox = inbox; self.workers = workers }

    func submit(path: String, maxSide: Int) {
        lock.lock()
        pending.append((path, maxSide))
        let start = running < workers
        if start { running += 1 }
        lock.unlock()
        if start { queue.async { self.drainLoop() } }
    }

    private func drainLoop() {
        while true {
            lock.lock()
            guard let job = pending.popLast() else { running -= 1; lock.unlock(); return }
            lock.unlock()
            let result: Result<RGBImage, ImagingError>
            do { result = .success(try ImageDecoder.thumbnail(path: job.path, maxSide: job.maxSide)) }
            catch { result = .failure(error) }
            inbox.post(.imageLoaded(path: job.path, result: result))
        }
    }
}

/// Timing marks for the benchmarks: with VITRINE_TRACE=FILE set, appends
/// `NAME MILLISECONDS` (since the process started) to FILE.
final class Trace: @unchecked Sendable {
    private let path: String?
    init() { path = ProcessInfo.processInfo.environment["VITRINE_TRACE"].flatMap { $0.isEmpty ? nil : $0 } }

    var isOn: Bool { path != nil }

    func mark(_ name: String) {
        guard let path else { return }
        let ms = ProcessClock.millisecondsSinceStart()
        let line = "\(name) \(String(format: "%.1f", ms))\n"
        if let h = FileHandle(forWritingAtPath: path) {
            h.seekToEndOfFile(); h.write(line.data(using: .utf8)!); try? h.close()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: line.data(using: .utf8))
        }
    }
}

/// Milliseconds since this process started, from the kernel's record of its
/// start (so it includes the dynamic loader and the runtime's own start).
public enum ProcessClock {
    public static func millisecondsSinceStart() -> Double {
        // /proc/self/stat field 22: start time in clock ticks after boot.
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return -1 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return -1 }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        let now = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        return (now - ticks / hz) * 1000
    }
}
