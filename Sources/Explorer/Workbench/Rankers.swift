import Catalog
import Retrieval

// The analyst's workbench (the evaluation dashboard and the compare mode) scores whole query
// splits: every query ranked by a ranker, then scored with the official protocol (docs/data.md §2).
// This file holds what both screens share: which rankers there are, a ranker's scored split, and
// the messages and effects of that work (run by the app off the UI thread).

/// A ranker the workbench can score a split with.
public enum RankerSpec: Sendable, Equatable, Hashable {
    /// The model that searches in this session, whatever it is now.
    case session
    /// The zero-shot towers or a checkpoint, opened on its own (the session's model stays).
    case model(ModelChoice)
    /// A baseline of `vitrine eval --baseline`.
    case baseline(BaselineMethod)
    /// A ranking file (`retrieval_id_list.txt`), as `vitrine eval --rankings` reads it.
    case rankingFile(String)
}

/// One entry of the list a compare mode's second ranker is chosen from.
public struct RankerEntry: Sendable, Equatable {
    public var spec: RankerSpec
    /// What the list shows (data from disk: the view cleans it).
    public var name: String
    /// What else is known ("step 400 · dev mAP@10 0.81", "BM25 over captions").
    public var detail: String
    public init(spec: RankerSpec, name: String, detail: String = "") { self.spec = spec; self.name = name; self.detail = detail }

    /// The choices for B when A is the session's model: the other models found (zero-shot and
    /// checkpoints), the ranking file given with `--rankings`, and the baselines.
    public static func choices(models: [ModelEntry], inUse: ModelChoice, rankingsPath: String?) -> [RankerEntry] {
        var entries: [RankerEntry] = []
        for m in models where m.choice != inUse {
            var detail: [String] = []
            if let step = m.step { detail.append("step \(step)") }
            // The run's own figure, on the dev queries it held out (not comparable with a search of all of dev).
            if let map = m.devMAP10 { detail.append("its run's dev mAP@10 " + format(map)) }
            if let note = m.note { detail.append(note) }
            entries.append(RankerEntry(spec: .model(m.choice), name: m.name, detail: detail.joined(separator: " · ")))
        }
        if let rankingsPath {
            entries.append(RankerEntry(spec: .rankingFile(rankingsPath), name: "ranking file " + lastComponent(rankingsPath),
                                       detail: "--rankings"))
        }
        for method in BaselineMethod.allCases {
            entries.append(RankerEntry(spec: .baseline(method), name: method.rawValue, detail: method.title))
        }
        return entries
    }
}

/// A query split ranked by one ranker and scored with the official protocol.
public struct RankerEvaluation: Sendable, Equatable {
    public var ranker: RankerSpec
    /// The ranker's name as tables show it ("zero-shot", "finetune-1/best", "bm25").
    public var title: String
    public var split: String
    /// One ranking per query of the split, in the split's order (top 100).
    public var rankings: [Ranking]
    /// The official metrics of the whole split (mAP, precision and mAR at 10, 50 and 100).
    public var official: OfficialMetricResults
    /// Per query AP, per-label AP, the AP@10 histogram, precision@k and recall@k.
    public var breakdown: EvaluationBreakdown
    /// Each query's ranked matches with right/wrong by the labels, same order as `rankings`.
    public var rows: [[ResultRow]]

    public init(ranker: RankerSpec, title: String, split: String, rankings: [Ranking], official: OfficialMetricResults,
                breakdown: EvaluationBreakdown, rows: [[ResultRow]]) {
        self.ranker = ranker; self.title = title; self.split = split; self.rankings = rankings
        self.official = official; self.breakdown = breakdown; self.rows = rows
    }

    /// Scores `rankings` against `groundTruth`: the official metrics, the breakdown and the rows
    /// (a match is right when it is a gallery item whose first label is one of the query's, the
    /// official script's membership).
    public static func score(ranker: RankerSpec, title: String, split: String, rankings: [Ranking],
                             groundTruth: OfficialGroundTruth) throws -> RankerEvaluation {
        let report: OfficialReport
        do { report = try OfficialMetrics.evaluate(rankings, groundTruth: groundTruth) } catch {
            throw LoadFailure("\(title): \(error)")
        }
        let rows = rankings.map { resultRows(of: $0, groundTruth: groundTruth) }
        return RankerEvaluation(ranker: ranker, title: title, split: split, rankings: rankings, official: report.results,
                                breakdown: EvaluationBreakdown(rankings: rankings, groundTruth: groundTruth), rows: rows)
    }

    /// mAP@10 of the split.
    public var meanAP10: Double { official.at(10)?.mAP ?? 0 }
}

/// A ranking's rows, marked right or wrong by the labels the official script uses; nil marks for a
/// query without labels.
public func resultRows(of ranking: Ranking, groundTruth: OfficialGroundTruth) -> [ResultRow] {
    let labels = groundTruth.labels(ofQuery: ranking.queryID)
    return ranking.galleryIDs.enumerated().map { i, id in
        let relevant: Bool? = labels.map { ls in groundTruth.label(ofGalleryItem: id).map { ls.contains($0) } ?? false }
        return ResultRow(rank: i + 1, sampleID: id, score: ranking.scores.isEmpty ? nil : ranking.scores[i], isRelevant: relevant)
    }
}

/// The official ground truth of a dataset as the explorer scores with it: Product1M's own files
/// when they can be read, else the labels of the loaded splits (docs/data.md §2.2).
public func explorerGroundTruth(of dataset: Dataset) -> OfficialGroundTruth {
    if dataset.format == .product1m, let t = try? OfficialGroundTruth.loadProduct1M(folder: dataset.root) { return t }
    return OfficialGroundTruth(dataset: dataset)
}

/// Two rankers compared on one split, query by query (docs/data.md §2.6), with what the compare
/// mode shows of the totals.
public struct ComparisonSummary: Sendable, Equatable {
    public var a: RankerEvaluation
    public var b: RankerEvaluation
    /// The queries by ΔAP@10 = B − A, most improved first (`RankerComparison.byDelta`).
    public var byDelta: [QueryComparison]
    /// Depth of the overlap measures.
    public var depth: Int
    public var meanDeltaAP10: Double
    public var meanJaccard: Double
    public var meanRBO: Double
    public var wins: Int
    public var ties: Int
    public var losses: Int
    /// Two-sided paired sign-flip test of the mean ΔAP@10, and a bootstrap 95% interval.
    public var pValue: Double
    public var intervalLower: Double
    public var intervalUpper: Double
    public var resamples: Int

    /// Compares `a` and `b` (scored on the same split) as `vitrine compare` does, with the same
    /// test, interval and seeds.
    public static func compare(_ a: RankerEvaluation, _ b: RankerEvaluation, groundTruth: OfficialGroundTruth, depth: Int = 10,
                               resamples: Int = 10_000, seed: UInt64 = 0) throws -> ComparisonSummary {
        let ids = a.rankings.map(\.queryID)
        let comparison: RankerComparison
        do {
            comparison = try RankerComparison(queryIDs: ids, a: a.rankings, b: b.rankings, groundTruth: groundTruth, depth: depth)
        } catch { throw LoadFailure(String(describing: error)) }
        let deltas = comparison.deltasAP10
        let test = SignFlipTest(differences: deltas, resamples: resamples, seed: seed)
        let interval = BootstrapInterval(differences: deltas, level: 0.95, resamples: resamples, seed: seed ^ BootstrapInterval.seedSalt)
        let outcome = comparison.outcome
        return ComparisonSummary(a: a, b: b, byDelta: comparison.byDelta, depth: depth, meanDeltaAP10: comparison.meanDeltaAP10,
                                 meanJaccard: comparison.meanJaccard, meanRBO: comparison.meanRBO,
                                 wins: outcome.wins, ties: outcome.ties, losses: outcome.losses, pValue: test.pValue,
                                 intervalLower: interval.lower, intervalUpper: interval.upper, resamples: resamples)
    }
}

/// How far a piece of background work has come: `what` is at `done` of `total`.
public struct WorkProgress: Sendable, Equatable {
    public var what: String
    public var done: Int
    public var total: Int
    public init(what: String, done: Int, total: Int) { self.what = what; self.done = done; self.total = total }
}

/// What the workbench's background work answers. The explorer wraps it in `Msg.workbench`.
public enum WorkbenchMsg: Sendable, Equatable {
    /// Work of `generation` is at `done` of `total` in the step named `what`.
    case progress(generation: Int, what: String, done: Int, total: Int)
    /// A ranker scored a split (the dashboard's model and baselines).
    case evaluated(generation: Int, RankerSpec, Result<RankerEvaluation, LoadFailure>)
    /// Two rankers compared (the compare mode).
    case compared(generation: Int, Result<ComparisonSummary, LoadFailure>)
    /// The models on disk, for the compare mode's list of second rankers.
    case modelsFound(generation: Int, [ModelEntry])
}

/// Work the workbench asks for. The explorer wraps it in `Effect.workbench`; the app runs one job
/// at a time (ranking a split takes the cores) and keeps what it scored for the session.
public enum WorkbenchEffect: Sendable, Equatable {
    /// Rank every query of `split` with `ranker` and score it; answered by `progress` and `evaluated`.
    case evaluate(generation: Int, split: String, ranker: RankerSpec)
    /// The same for only these queries of `split`, in this order (a run's held-out queries).
    case evaluateQueries(generation: Int, split: String, queryIDs: [String], ranker: RankerSpec)
    /// Score `split` with both rankers and compare them; answered by `progress` and `compared`.
    case compare(generation: Int, split: String, a: RankerSpec, b: RankerSpec)
    /// List the models under the runs folder (and `--model`); answered by `modelsFound`.
    case scanModels(generation: Int)
    /// The screen that asked for the work of `generation` was closed: stop it, answer nothing.
    case cancel(generation: Int)
}

/// The query split the workbench scores: the one the browser shows when it is a query split, else
/// Product1M's test split, else the first query split.
func workbenchSplit(_ state: ExplorerState) -> Split? {
    guard let dataset = state.dataset else { return nil }
    if let shown = state.split, shown.role == .query { return shown }
    if let test = dataset.split(named: "test"), test.role == .query { return test }
    return dataset.splits(role: .query).first
}

/// The split a workbench screen opens on when search is open; otherwise nil, with the reason in
/// the status line ("`what` needs search: …").
func workbenchReady(_ state: inout ExplorerState, for what: String) -> Split? {
    guard case .ready = state.retrieval.engine else {
        state.status = StatusLine("\(what) needs search: \(engineReason(state.retrieval.engine))", role: .warning)
        return nil
    }
    guard let split = workbenchSplit(state) else {
        state.status = StatusLine("this dataset has no query split for \(what)", role: .warning)
        return nil
    }
    return split
}

/// Why search is not ready, in words.
func engineReason(_ status: EngineStatus) -> String {
    switch status {
    case .unavailable(let why), .failed(let why): return why
    case .opening, .indexing: return "the gallery is still being indexed"
    case .ready: return "ready"
    }
}
