import Annotations
import Catalog
import Retrieval

/// Everything that can happen to a review queue. The explorer wraps it in `Msg.review`.
public enum ReviewMsg: Sendable, Equatable {
    /// The build searched `done` of `total` queries.
    case progress(generation: Int, done: Int, total: Int)
    case built(generation: Int, Result<ReviewBuild, LoadFailure>)
    /// A verdict was stored (the flag with its store id), or could not be.
    case recorded(ReviewedPair, Result<Flag, LoadFailure>)
    /// A skip (or an undo) was stored, or could not be.
    case written(Result<ReviewedPair, LoadFailure>)
}

/// Work a review queue asks for. The explorer wraps it in `Effect.review` and runs it.
public enum ReviewEffect: Sendable, Equatable {
    /// Search each query of `split` for its top `depth` matches with the session's model, and read
    /// which pairs `annotator` has reviewed with that model; answered by `progress` and `built`.
    case build(generation: Int, dataset: String, split: String, queryIDs: [String], depth: Int, annotator: String)
    /// Store a verdict; its model is the results' name for it (the app keys it).
    case record(Flag)
    /// Store an adjudicator's verdict as it is (on any model).
    case adjudicate(Flag)
    case skip(dataset: String, pair: ReviewedPair, modelKey: String, annotator: String)
    case unskip(dataset: String, pair: ReviewedPair, modelKey: String, annotator: String)
    case undoVerdict(Flag)
}

/// The split a queue is built from: `dev` when there is one, else the first query split.
func reviewSplit(_ dataset: Dataset) -> Split? {
    dataset.split(named: "dev").flatMap { $0.role == .query ? $0 : nil } ?? dataset.splits(role: .query).first
}

/// Opens a review queue (`R`), built in the background from the query split.
func startReview(_ state: inout ExplorerState) -> [Effect] {
    guard let dataset = state.dataset else { return [] }
    guard case .ready = state.retrieval.engine else {
        state.status = StatusLine("the review queue needs search: \(engineReason(state.retrieval.engine))", role: .warning)
        return []
    }
    guard state.retrieval.flags.available else {
        state.status = StatusLine("the review queue needs the flags store: \(state.retrieval.flags.unavailableReason ?? "no store")", role: .warning)
        return []
    }
    guard let split = reviewSplit(dataset) else {
        state.status = StatusLine("this dataset has no query split to review", role: .warning)
        return []
    }
    let ids = split.samples.indices.map { split.samples.id(at: $0) }
    let generation = (state.review?.generation ?? 0) + 1
    state.review = ReviewState(kind: state.review?.kind ?? .worst, generation: generation, total: ids.count)
    return [.review(.build(generation: generation, dataset: dataset.flagKey, split: split.name, queryIDs: ids, depth: 10,
                           annotator: state.retrieval.flags.annotator))]
}

/// The review update: pure.
func updateReview(_ state: inout ExplorerState, _ msg: ReviewMsg) -> [Effect] {
    switch msg {
    case .progress(let generation, let done, let total):
        guard state.review?.generation == generation, case .building = state.review?.status else { return [] }
        state.review?.status = .building(done: done, total: total)
        return []
    case .built(let generation, let result):
        guard var review = state.review, review.generation == generation else { return [] }
        switch result {
        case .success(let build):
            review.build = build
            review.status = .ready
            review.select(review.kind)
        case .failure(let failure):
            review.status = .failed(failure.message)
        }
        state.review = review
        return requestReviewImages(&state)
    case .recorded(let pair, let result):
        guard state.review != nil else { return [] }
        state.review!.pending -= 1
        switch result {
        case .success(let flag): state.review!.marks[pair] = .verdict(flag)
        case .failure(let failure):
            state.review!.marks[pair] = nil
            state.review!.undoStack.removeAll { $0 == pair }
            state.status = StatusLine("the verdict was not stored: \(failure.message)", role: .error)
        }
        return []
    case .written(let result):
        guard state.review != nil else { return [] }
        state.review!.pending -= 1
        if case .failure(let failure) = result {
            state.status = StatusLine("the review was not stored: \(failure.message)", role: .error)
        }
        return []
    }
}

/// A review key.
func performReview(_ state: inout ExplorerState, _ id: ActionID) -> [Effect] {
    guard var review = state.review else { return [] }
    switch id {
    case .reviewClose:
        state.review = nil
        return []
    case .reviewNext, .reviewPrevious:
        guard !review.items.isEmpty else { return [] }
        review.position = min(max(0, review.position + (id == .reviewNext ? 1 : -1)), review.items.count - 1)
        state.review = review
        return requestReviewImages(&state)
    case .reviewKind:
        guard case .ready = review.status else { return [] }
        review.select(review.kind.next)
        state.review = review
        state.status = StatusLine("review: \(review.kind.title)")
        return requestReviewImages(&state)
    case .reviewRight, .reviewWrong, .reviewSkip:
        guard case .ready = review.status, let item = review.current, let build = review.build,
              let dataset = state.dataset, review.pending < 50 else { return [] }
        let pair = item.pair
        var effects: [Effect]
        if item.dispute != nil {
            guard id != .reviewSkip else {
                // Skipping a dispute stores nothing: it stays open for the next adjudicator.
                review.advance()
                state.review = review
                return requestReviewImages(&state)
            }
            let ruling = Flag.adjudication(dataset: dataset.flagKey, query: pair.query, match: pair.match,
                                           verdict: id == .reviewRight ? .confirmed : .wrong,
                                           adjudicator: state.retrieval.flags.annotator, createdAt: .init(timeIntervalSince1970: 0))
            review.marks[pair] = .verdict(ruling)
            effects = [.review(.adjudicate(ruling))]
        } else if id == .reviewSkip {
            review.marks[pair] = .skipped
            effects = [.review(.skip(dataset: dataset.flagKey, pair: pair, modelKey: build.modelKey,
                                     annotator: state.retrieval.flags.annotator))]
        } else {
            let draft = Flag(dataset: dataset.flagKey, query: pair.query, match: pair.match, model: build.model,
                             verdict: id == .reviewRight ? .confirmed : .wrong, annotator: state.retrieval.flags.annotator,
                             createdAt: .init(timeIntervalSince1970: 0))
            review.marks[pair] = .verdict(draft)
            effects = [.review(.record(draft))]
        }
        review.pending += 1
        review.undoStack.append(pair)
        review.advance()
        state.review = review
        return effects + requestReviewImages(&state)
    case .reviewUndo:
        guard let pair = review.undoStack.last, let mark = review.marks[pair], let dataset = state.dataset,
              let build = review.build else { return [] }
        let effect: Effect
        switch mark {
        case .skipped:
            effect = .review(.unskip(dataset: dataset.flagKey, pair: pair, modelKey: build.modelKey,
                                     annotator: state.retrieval.flags.annotator))
        case .verdict(let flag):
            guard flag.id != nil else {
                state.status = StatusLine("the last verdict is still being stored; undo again in a moment", role: .warning)
                return []
            }
            effect = .review(.undoVerdict(flag))
        }
        review.undoStack.removeLast()
        review.marks[pair] = nil
        review.pending += 1
        if let i = review.items.firstIndex(where: { $0.pair == pair }) { review.position = i }
        state.review = review
        return [effect] + requestReviewImages(&state)
    default:
        return []
    }
}

/// The images of the pair shown (query and match) and of the next one.
func requestReviewImages(_ state: inout ExplorerState) -> [Effect] {
    guard let review = state.review, !review.items.isEmpty else { return [] }
    var effects: [Effect] = []
    for p in [review.position, review.position + 1] where p < review.items.count {
        for id in [review.items[p].queryID, review.items[p].row.sampleID] {
            guard let path = state.sample(id: id)?.imagePath, state.images[path] == nil else { continue }
            state.images.set(.loading, for: path)
            effects.append(.loadImage(path: path, maxSide: state.thumbnailSide))
        }
    }
    return effects
}
