import Catalog
import Dispatch
import Foundation
import Retrieval

/// Runs the workbench's effects (Sources/Explorer/Workbench): ranks a query split with a ranker and
/// scores it, compares two rankers, lists the models on disk. One job at a time on its own queue
/// (ranking a split takes the cores), each ranker's scored split kept for the session so that the
/// dashboard and the compare mode open again at once; work of a closed screen stops early.
final class WorkbenchRunner: @unchecked Sendable {
    private let inbox: Inbox
    private let service: ServiceSlot
    /// Shared with the results' searches: one search at a time on the session's service.
    private let searchLock: NSLock
    private let options: ExplorerOptions
    private let queue = DispatchQueue(label: "vitrine.workbench", qos: .userInitiated)
    private let lock = NSLock()
    private var scored: [String: RankerEvaluation] = [:]
    private var truth: (root: String, value: OfficialGroundTruth)?
    private var cancelled: Set<Int> = []

    init(inbox: Inbox, service: ServiceSlot, searchLock: NSLock, options: ExplorerOptions) {
        self.inbox = inbox; self.service = service; self.searchLock = searchLock; self.options = options
    }

    func run(_ effect: WorkbenchEffect, dataset: Dataset) {
        switch effect {
        case .cancel(let generation):
            lock.withLock { _ = cancelled.insert(generation) }
        case .scanModels(let generation):
            let runs = options.runsDirectory, extra = options.modelPath
            DispatchQueue.global(qos: .userInitiated).async { [inbox] in
                inbox.post(.workbench(.modelsFound(generation: generation, ModelScan.scan(runsDirectory: runs, extra: extra))))
            }
        case .evaluate(let generation, let split, let ranker):
            evaluate(generation: generation, split: split, ids: nil, ranker: ranker, dataset: dataset)
        case .evaluateQueries(let generation, let split, let ids, let ranker):
            evaluate(generation: generation, split: split, ids: ids, ranker: ranker, dataset: dataset)
        case .compare(let generation, let split, let a, let b):
            queue.async { [self] in
                guard !isCancelled(generation) else { return }
                let result = Result { () throws -> ComparisonSummary in
                    let first = try evaluation(of: a, split: split, dataset: dataset, generation: generation)
                    let second = try evaluation(of: b, split: split, dataset: dataset, generation: generation)
                    inbox.post(.workbench(.progress(generation: generation, what: "testing the difference", done: 0, total: 0)))
                    return try ComparisonSummary.compare(first, second, groundTruth: groundTruth(of: dataset))
                }.mapError(failure)
                guard !isCancelled(generation) else { return }
                inbox.post(.workbench(.compared(generation: generation, result)))
            }
        }
    }

    /// Scores `split` (or only the queries `ids` of it) with `ranker` and answers `evaluated`.
    private func evaluate(generation: Int, split: String, ids: [String]?, ranker: RankerSpec, dataset: Dataset) {
        queue.async { [self] in
            guard !isCancelled(generation) else { return }
            let result = Result { try evaluation(of: ranker, split: split, only: ids, dataset: dataset, generation: generation) }
                .mapError(failure)
            guard !isCancelled(generation) else { return }
            inbox.post(.workbench(.evaluated(generation: generation, ranker, result)))
        }
    }

    private func isCancelled(_ generation: Int) -> Bool { lock.withLock { cancelled.contains(generation) } }

    private func groundTruth(of dataset: Dataset) -> OfficialGroundTruth {
        if let truth, truth.root == dataset.root { return truth.value }
        let value = explorerGroundTruth(of: dataset)
        truth = (dataset.root, value)
        return value
    }

    /// `ranker`'s scored split, from this session's earlier work when there is one.
    private func evaluation(of ranker: RankerSpec, split name: String, only ids: [String]? = nil, dataset: Dataset,
                            generation: Int) throws -> RankerEvaluation {
        guard let split = dataset.split(named: name), split.role == .query else {
            throw LoadFailure("\(dataset.root) has no query split named \(name)")
        }
        let key: String
        switch ranker {
        case .session:
            guard case .success(let engine) = service.wait() else { throw LoadFailure("search is not available") }
            key = "session:" + (engine.flagModel?.key ?? "?")
        case .model(let choice): key = "model:" + (choice.checkpointPath ?? "zero-shot")
        case .baseline(let method): key = "baseline:" + method.rawValue
        case .rankingFile(let path): key = "file:" + path
        }
        // A subset (a run's held-out queries) is scored each time; a whole split is kept.
        let cacheKey = key + "|" + name
        if ids == nil, let known = lock.withLock({ scored[cacheKey] }) { return known }
        let (title, rankings) = try rank(split, only: ids, with: ranker, dataset: dataset, generation: generation)
        let result = try RankerEvaluation.score(ranker: ranker, title: title, split: name, rankings: rankings,
                                                groundTruth: groundTruth(of: dataset))
        if ids == nil { lock.withLock { scored[cacheKey] = result } }
        return result
    }

    private func progress(_ generation: Int, _ what: String, _ done: Int, _ total: Int) {
        inbox.post(.workbench(.progress(generation: generation, what: what, done: done, total: total)))
    }

    /// Every query of `split` ranked (top 100, the official depth), in the split's order.
    private func rank(_ split: Split, only subset: [String]?, with ranker: RankerSpec, dataset: Dataset,
                      generation: Int) throws -> (String, [Ranking]) {
        let ids = subset ?? split.samples.indices.map { split.samples.id(at: $0) }
        switch ranker {
        case .session:
            guard case .success(let engine) = service.wait() else { throw LoadFailure("search is not available") }
            return try search(ids, with: engine, title: nil, locked: true, generation: generation)
        case .model(let choice):
            guard let reopen = options.reopenRetrieval else { throw LoadFailure("this explorer cannot open another model") }
            let title = choice.checkpointPath.map(ModelEntry.name(ofCheckpoint:)) ?? "zero-shot"
            let throttle = ProgressThrottle()
            let engine = try reopen(choice.checkpointPath)(dataset) { [self] event in
                if throttle.shouldPost(event), case .progress(let done, let total) = event {
                    progress(generation, "\(title): indexing the gallery", done, total)
                }
            }
            return try search(ids, with: engine, title: title, locked: false, generation: generation)
        case .baseline(let method):
            guard let gallery = dataset.gallery, !gallery.samples.isEmpty else { throw LoadFailure("\(dataset.root) has no gallery") }
            progress(generation, method.title + ": ranking", 0, 0)
            let queries = subset.map { $0.compactMap(split.sample(id:)) } ?? Array(split.samples)
            let run = BaselineRun(method, queries: queries, gallery: Array(gallery.samples), top: 100, seed: 0) { [self] event in
                if case .decodedImages(let done, let total) = event, done % 50 == 0 || done == total {
                    progress(generation, method.title + ": decoding images", done, total)
                }
            }
            return (method.rawValue, run.rankings)
        case .rankingFile(let path):
            let rankings = try RankingFile.read(path: path)
            do { try RankerComparison.checkPairing(rankings, side: .b, queryIDs: ids) } catch {
                throw LoadFailure("\(path): \(error) (the file must rank each query of \(split.name) once)")
            }
            // In the split's order, as the other rankers' are.
            var byID: [String: Ranking] = [:]
            for r in rankings { byID[r.queryID] = r }
            return ("file " + lastComponent(path), ids.map { byID[$0] ?? Ranking(queryID: $0, galleryIDs: []) })
        }
    }

    /// Searches each query id as a pair query (the protocol's) for its top 100; the title is the
    /// model's name as the results show it unless given.
    private func search(_ ids: [String], with engine: any RetrievalService, title: String?, locked: Bool,
                        generation: Int) throws -> (String, [Ranking]) {
        let answers = try searchEach(ids, with: engine, top: 100, lock: locked ? searchLock : nil,
                                     isCancelled: { isCancelled(generation) }) { done in
            progress(generation, (title ?? "the model") + ": ranking the queries", done, ids.count)
        }
        let rankings = zip(ids, answers).map { id, answer in
            Ranking(queryID: id, galleryIDs: answer.matches.map(\.sampleID), scores: answer.matches.map(\.score))
        }
        return (title ?? answers.last?.model ?? "", rankings)
    }
}
