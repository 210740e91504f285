import Catalog
import Retrieval

/// The compare mode (`C`): the session's model (A) against a second ranker (B) chosen from a list,
/// on the whole query split; both rankings of one query side by side, the queries walked by ΔAP@10.
public struct CompareState: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        /// The list of second rankers is open (`entries` nil while the runs folder is scanned).
        case choosing(entries: [RankerEntry]?, selected: Int)
        /// Ranking and scoring.
        case running(WorkProgress)
        case ready(ComparisonSummary)
        case failed(String)
    }

    public var status: Status
    /// Tells this mode's answers from those of work it replaced.
    public var generation: Int
    public var split: String
    /// The model that searched (A) when the mode opened.
    public var model: ModelChoice
    /// The second ranker, once chosen.
    public var b: RankerEntry? = nil
    /// The comparison shown before the list was opened again (`b`): back to it on Esc.
    public var previous: ComparisonSummary? = nil
    /// Position in `byDelta` of the query shown, and the highlighted row of its two rankings.
    public var position = 0
    public var row = 0
    /// Hidden while the results of a query opened from it are shown (`C` shows it again).
    public var hidden = false

    public init(status: Status, generation: Int, split: String, model: ModelChoice) {
        self.status = status; self.generation = generation; self.split = split; self.model = model
    }

    public var summary: ComparisonSummary? {
        if case .ready(let s) = status { return s }
        return nil
    }

    /// The query shown: its comparison and its rows from A and B.
    public var shown: (query: QueryComparison, a: [ResultRow], b: [ResultRow])? {
        guard let s = summary, position >= 0, position < s.byDelta.count else { return nil }
        let q = s.byDelta[position]
        guard q.position < s.a.rows.count, q.position < s.b.rows.count else { return nil }
        return (q, s.a.rows[q.position], s.b.rows[q.position])
    }
}

/// Opens the compare mode: the list of second rankers, the models on disk scanned in the background.
func startCompare(_ state: inout ExplorerState) -> [Effect] {
    guard state.dataset != nil else { return [] }
    if var shown = state.compare, shown.hidden, shown.model == state.training.model.current.choice,
       shown.split == workbenchSplit(state)?.name {
        shown.hidden = false
        state.compare = shown
        state.dashboard?.hidden = true
        return []
    }
    guard let split = workbenchReady(&state, for: "comparing") else { return [] }
    state.workbenchGeneration += 1
    state.compare = CompareState(status: .choosing(entries: nil, selected: 0), generation: state.workbenchGeneration, split: split.name,
                                 model: state.training.model.current.choice)
    state.dashboard?.hidden = true
    return [.workbench(.scanModels(generation: state.workbenchGeneration))]
}

/// The compare mode's part of a workbench message.
func updateCompare(_ state: inout ExplorerState, _ msg: WorkbenchMsg) -> [Effect] {
    guard var compare = state.compare else { return [] }
    switch msg {
    case .modelsFound(let generation, let models):
        guard generation == compare.generation, case .choosing(nil, _) = compare.status else { return [] }
        let entries = RankerEntry.choices(models: models, inUse: state.training.model.current.choice,
                                          rankingsPath: state.retrieval.inspect.path)
        compare.status = .choosing(entries: entries, selected: 0)
    case .progress(let generation, let what, let done, let total):
        guard generation == compare.generation, case .running = compare.status else { return [] }
        compare.status = .running(WorkProgress(what: what, done: done, total: total))
    case .compared(let generation, let result):
        guard generation == compare.generation else { return [] }
        switch result {
        case .success(let summary):
            compare.status = .ready(summary)
            compare.previous = nil
            compare.position = 0
            compare.row = 0
        case .failure(let f):
            compare.status = .failed(f.message)
        }
    case .evaluated:
        return []
    }
    state.compare = compare
    return []
}

/// A compare-mode key.
func performCompare(_ state: inout ExplorerState, _ id: ActionID) -> [Effect] {
    guard var compare = state.compare else { return [] }
    if case .choosing(let entries, let selected) = compare.status {
        let count = entries?.count ?? 0
        switch id {
        case .compareDown: compare.status = .choosing(entries: entries, selected: min(max(0, count - 1), selected + 1))
        case .compareUp: compare.status = .choosing(entries: entries, selected: max(0, selected - 1))
        case .compareOpen:
            guard let entries, selected < count else { return [] }
            state.workbenchGeneration += 1
            compare.generation = state.workbenchGeneration
            compare.b = entries[selected]
            compare.status = .running(WorkProgress(what: "starting", done: 0, total: 0))
            state.compare = compare
            return [.workbench(.compare(generation: compare.generation, split: compare.split, a: .session, b: entries[selected].spec))]
        case .compareClose:
            // Back to the comparison the list was opened from, if there was one.
            if let previous = compare.previous {
                compare.status = .ready(previous)
                compare.previous = nil
            } else {
                state.compare = nil
                return [.workbench(.cancel(generation: compare.generation))]
            }
        default:
            return []
        }
        state.compare = compare
        return []
    }
    switch id {
    case .compareClose:
        state.compare = nil
        return [.workbench(.cancel(generation: compare.generation))]
    case .compareChoose:
        // Another B: the list again, the models on disk looked for again (a run may have ended).
        let stale = compare.generation
        state.workbenchGeneration += 1
        compare.generation = state.workbenchGeneration
        compare.previous = compare.summary
        compare.status = .choosing(entries: nil, selected: 0)
        state.compare = compare
        return [.workbench(.cancel(generation: stale)), .workbench(.scanModels(generation: compare.generation))]
    case .compareNext, .comparePrevious:
        guard let s = compare.summary, !s.byDelta.isEmpty else { return [] }
        compare.position = min(max(0, compare.position + (id == .compareNext ? 1 : -1)), s.byDelta.count - 1)
        compare.row = 0
    case .compareDown, .compareUp:
        guard let shown = compare.shown else { return [] }
        let rows = max(shown.a.count, shown.b.count)
        compare.row = min(max(0, compare.row + (id == .compareDown ? 1 : -1)), max(0, rows - 1))
    case .compareOpen:
        // The query's own results, searched with the session's model.
        guard let shown = compare.shown else { return [] }
        compare.hidden = true
        state.compare = compare
        return openQueryResults(&state, queryID: shown.query.queryID)
    default:
        return []
    }
    state.compare = compare
    return []
}

/// Leaves the workbench for the results of one query of the split, as a pair query (the
/// protocol's), searched with the session's model.
func openQueryResults(_ state: inout ExplorerState, queryID: String) -> [Effect] {
    state.retrieval.mode = .pair
    return startSearch(&state, .sample(id: queryID, mode: .pair))
}
