import Catalog
import Training

// A finished run offers its model (docs/model.md §5). The run's own before/after figures start from
// the run's initial model, which is not always what searches now (the zero-shot towers rank with
// the pretrained sentence embedding, a run's untrained start with its fused one). The offer
// therefore scores both the model in use and the offered checkpoint the way search ranks (pair
// queries, the official mAP@10) on the dev queries that measured the run, in the background;
// opening the offered checkpoint builds its gallery index, so accepting the offer is then quick.

/// Dev mAP@10 of the model in use and of the offered checkpoint, as search ranks them.
public struct OfferScores: Sendable, Equatable {
    public var checkpoint: String
    /// The model in use when the scoring started, and its score once known.
    public var current: ModelChoice
    public var currentMAP10: Double? = nil
    public var offeredMAP10: Double? = nil
    /// Why scoring failed, if it did.
    public var failure: String? = nil
    public var split: String
    /// How many of the split's queries are scored, and whether they are the ones the run held out
    /// (the others gave it fine-tuning pairs).
    public var queries = 0
    public var heldOut = false
    /// Tells this scoring's answers from others'.
    public var generation: Int
    public init(checkpoint: String, current: ModelChoice, split: String, generation: Int) {
        self.checkpoint = checkpoint; self.current = current; self.split = split; self.generation = generation
    }
}

/// The split a training run evaluates on (as `vitrine train` picks it without `--dev-split`):
/// dev when it is a query split, else the only query split.
func trainingDevSplit(_ dataset: Dataset) -> Split? {
    if let dev = dataset.split(named: "dev"), dev.role == .query { return dev }
    let queries = dataset.splits(role: .query)
    return queries.count == 1 ? queries[0] : nil
}

/// Starts scoring an offer: the model in use and `checkpoint` on the dev queries that measured the
/// run, when search is open. A fine-tuning run draws pairs from part of dev's queries
/// (`TrainingOptions.queryPairSplits`, `isPairQuery`): those are left out, or the new model would
/// be scored on queries it was trained on.
func scoreOffer(_ state: inout ExplorerState, checkpoint: String, request: TrainingRunRequest) -> [Effect] {
    guard case .ready = state.retrieval.engine, let dataset = state.dataset, let split = trainingDevSplit(dataset) else { return [] }
    let all = split.samples.indices.map { split.samples.id(at: $0) }
    let options = TrainingOptions.preset(request.preset, mode: request.mode)
    let heldOut = request.mode == .finetune && options.queryPairSplits.contains(split.name)
        ? all.filter { !options.isPairQuery(id: $0) } : all
    guard !heldOut.isEmpty else { return [] }
    state.workbenchGeneration += 1
    let generation = state.workbenchGeneration
    var scores = OfferScores(checkpoint: checkpoint, current: state.training.model.current.choice, split: split.name, generation: generation)
    scores.queries = heldOut.count
    scores.heldOut = heldOut.count < all.count
    state.training.offerScores = scores
    return [.workbench(.evaluateQueries(generation: generation, split: split.name, queryIDs: heldOut, ranker: .session)),
            .workbench(.evaluateQueries(generation: generation, split: split.name, queryIDs: heldOut,
                                        ranker: .model(.checkpoint(checkpoint))))]
}

/// Keeps an offer's scores as they come.
func updateOfferScores(_ state: inout ExplorerState, _ msg: WorkbenchMsg) {
    guard var scores = state.training.offerScores, case .evaluated(let generation, let ranker, let result) = msg,
          generation == scores.generation else { return }
    switch result {
    case .success(let evaluation):
        if ranker == .session { scores.currentMAP10 = evaluation.meanAP10 }
        if ranker == .model(.checkpoint(scores.checkpoint)) { scores.offeredMAP10 = evaluation.meanAP10 }
    case .failure(let f):
        scores.failure = f.message
    }
    state.training.offerScores = scores
}
