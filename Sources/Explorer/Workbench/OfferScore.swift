import Catalog

// A finished run offers its model (docs/model.md §5). The run's own dev mAP@10 is measured on the
// fused embedding alone and starts from the run's initial model, so it cannot be set next to what
// searches now. The offer therefore scores both the model in use and the offered checkpoint on the
// run's dev split the way search ranks (pair queries, the official mAP@10), in the background;
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

/// Starts scoring an offer: the model in use and `checkpoint` on the dev split, when search is open.
func scoreOffer(_ state: inout ExplorerState, checkpoint: String) -> [Effect] {
    guard case .ready = state.retrieval.engine, let dataset = state.dataset, let split = trainingDevSplit(dataset) else { return [] }
    state.workbenchGeneration += 1
    let generation = state.workbenchGeneration
    state.training.offerScores = OfferScores(checkpoint: checkpoint, current: state.training.model.current.choice,
                                             split: split.name, generation: generation)
    return [.workbench(.evaluate(generation: generation, split: split.name, ranker: .session)),
            .workbench(.evaluate(generation: generation, split: split.name, ranker: .model(.checkpoint(checkpoint))))]
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
