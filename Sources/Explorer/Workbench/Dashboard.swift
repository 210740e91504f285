import Catalog
import Retrieval

/// The evaluation dashboard (`D`): the official metrics of the session's model and of the
/// baselines on the query split, the AP@10 histogram over queries, per-label AP, precision@k and
/// recall@k curves, and drill-down from a bar or a label to its queries and from a query to its
/// results.
public struct DashboardState: Sendable, Equatable {
    /// A ranker's place on the dashboard: waiting, scored, or failed.
    public enum Slot: Sendable, Equatable {
        case pending
        case ready(RankerEvaluation)
        case failed(String)

        public var evaluation: RankerEvaluation? {
            if case .ready(let e) = self { return e }
            return nil
        }
    }

    /// Which panel has the keys.
    public enum Panel: Sendable, Equatable {
        case histogram, labels
    }

    /// A list of queries drilled into from a bar or a label.
    public struct Drill: Sendable, Equatable {
        public var title: String
        /// Positions in the model's `breakdown.queries`, worst AP@10 first.
        public var queries: [Int]
        public var selected = 0
        public init(title: String, queries: [Int]) { self.title = title; self.queries = queries }
    }

    public var generation: Int
    public var split: String
    /// The model that searched when the dashboard was built (rebuilt when it changes).
    public var model: ModelChoice
    /// The session's model, and the baselines in `baselineOrder`.
    public var session: Slot = .pending
    public var baselines: [BaselineMethod: Slot] = [:]
    /// What the background work is doing now.
    public var progress: WorkProgress? = nil
    public var panel: Panel = .histogram
    /// The histogram bar selected (0: AP@10 below 0.1).
    public var bin = 0
    public var labelOrder: EvaluationBreakdown.LabelOrder = .worst
    public var label = 0
    public var drill: Drill? = nil
    /// On a terminal too narrow for both, whether the lower half shows the curves (else the labels).
    public var curves = false
    /// Hidden while the results of a drilled-into query are shown (`D` shows it again).
    public var hidden = false

    /// The baselines, in the order they are scored and listed (the colour histogram, which decodes
    /// every image, last).
    public static let baselineOrder: [BaselineMethod] = [.bm25, .random, .colour]
    /// The histogram's bars.
    public static let bins = 10

    public init(generation: Int, split: String, model: ModelChoice) {
        self.generation = generation; self.split = split; self.model = model
        for m in Self.baselineOrder { baselines[m] = .pending }
    }

    /// The per-label table in the order chosen: sorted when the model's scores come and when the
    /// order changes, not at every frame (Product1M has thousands of labels).
    public private(set) var labels: [EvaluationBreakdown.LabelSummary] = []

    /// Sorts `labels` again in `labelOrder`.
    mutating func sortLabels() {
        labels = session.evaluation?.breakdown.labels(sortedBy: labelOrder) ?? []
    }
}

/// Opens the dashboard (`D`), or shows it again as it was when it is only hidden and the model
/// that searches is the same.
func startDashboard(_ state: inout ExplorerState) -> [Effect] {
    guard state.dataset != nil else { return [] }
    let model = state.training.model.current.choice
    if var shown = state.dashboard, shown.hidden, shown.model == model, shown.split == workbenchSplit(state)?.name {
        shown.hidden = false
        state.dashboard = shown
        state.compare?.hidden = true
        return []
    }
    guard let split = workbenchReady(&state, for: "the dashboard") else { return [] }
    state.workbenchGeneration += 1
    let generation = state.workbenchGeneration
    state.dashboard = DashboardState(generation: generation, split: split.name, model: model)
    state.compare?.hidden = true
    return [.workbench(.evaluate(generation: generation, split: split.name, ranker: .session))]
        + DashboardState.baselineOrder.map { .workbench(.evaluate(generation: generation, split: split.name, ranker: .baseline($0))) }
}

/// The dashboard's part of a workbench message.
func updateDashboard(_ state: inout ExplorerState, _ msg: WorkbenchMsg) -> [Effect] {
    guard var dashboard = state.dashboard else { return [] }
    switch msg {
    case .progress(let generation, let what, let done, let total):
        guard generation == dashboard.generation else { return [] }
        dashboard.progress = WorkProgress(what: what, done: done, total: total)
    case .evaluated(let generation, let ranker, let result):
        guard generation == dashboard.generation else { return [] }
        let slot: DashboardState.Slot
        switch result {
        case .success(let e): slot = .ready(e)
        case .failure(let f): slot = .failed(f.message)
        }
        switch ranker {
        case .session:
            dashboard.session = slot
            dashboard.sortLabels()
            // Open on the lowest bar that has queries: where the failures are.
            if let histogram = slot.evaluation?.breakdown.histogram(bins: DashboardState.bins) {
                dashboard.bin = histogram.firstIndex { $0 > 0 } ?? 0
            }
        case .baseline(let method): dashboard.baselines[method] = slot
        default: return []
        }
        let done = dashboard.session != .pending && !dashboard.baselines.values.contains(.pending)
        if done { dashboard.progress = nil }
    case .compared, .modelsFound:
        return []
    }
    state.dashboard = dashboard
    return []
}

/// A dashboard key.
func performDashboard(_ state: inout ExplorerState, _ id: ActionID) -> [Effect] {
    guard var d = state.dashboard else { return [] }
    let evaluation = d.session.evaluation
    switch id {
    case .dashboardClose:
        state.dashboard = nil
        return [.workbench(.cancel(generation: d.generation))]
    case .dashboardBack:
        if d.drill != nil { d.drill = nil } else { state.dashboard = nil; return [.workbench(.cancel(generation: d.generation))] }
    case .dashboardPanel:
        d.drill = nil
        d.panel = d.panel == .histogram ? .labels : .histogram
    case .dashboardCurves:
        d.curves.toggle()
    case .dashboardSort:
        let all = EvaluationBreakdown.LabelOrder.allCases
        d.labelOrder = all[(all.firstIndex(of: d.labelOrder)! + 1) % all.count]
        d.sortLabels()
        d.label = 0
        state.status = StatusLine("labels sorted by " + labelOrderWords(d.labelOrder))
    case .dashboardDown, .dashboardUp:
        let step = id == .dashboardDown ? 1 : -1
        if var drill = d.drill {
            drill.selected = min(max(0, drill.selected + step), max(0, drill.queries.count - 1))
            d.drill = drill
        } else if d.panel == .histogram {
            // Bars are drawn best first (top) to worst (bottom): down goes to lower AP.
            d.bin = min(max(0, d.bin - step), DashboardState.bins - 1)
        } else {
            d.label = min(max(0, d.label + step), max(0, d.labels.count - 1))
        }
    case .dashboardOpen:
        guard let evaluation else { return [] }
        let breakdown = evaluation.breakdown
        if let drill = d.drill {
            guard drill.selected < drill.queries.count else { return [] }
            let query = breakdown.queries[drill.queries[drill.selected]]
            d.hidden = true
            state.dashboard = d
            return openQueryResults(&state, queryID: query.queryID)
        }
        if d.panel == .histogram {
            let width = 1.0 / Double(DashboardState.bins)
            let low = Double(d.bin) * width
            let title = "AP@10 " + format(low, digits: 1) + (d.bin == DashboardState.bins - 1 ? "–1.0" : "–" + format(low + width, digits: 1))
            d.drill = DashboardState.Drill(title: title, queries: breakdown.queries(inBin: d.bin, of: DashboardState.bins))
        } else {
            let labels = d.labels
            guard d.label < labels.count else { return [] }
            d.drill = DashboardState.Drill(title: "label " + labels[d.label].label, queries: breakdown.queries(withLabel: labels[d.label].label))
        }
    default:
        return []
    }
    state.dashboard = d
    return []
}

func labelOrderWords(_ order: EvaluationBreakdown.LabelOrder) -> String {
    switch order {
    case .worst: return "mean AP@10, worst first"
    case .queries: return "number of queries, most first"
    case .name: return "name"
    }
}
