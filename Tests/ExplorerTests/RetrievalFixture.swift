import Annotations
import Catalog
import Explorer
import Foundation
import Imaging
import Retrieval

/// A deterministic retrieval service over the fixture's gallery: a caption ranks gallery items by
/// the share of the query's words their caption contains (ties by id); a sample query also
/// marks matches right or wrong by label and reports a standard AP. Attention: the first query
/// words with falling weights, and maps peaked on a cell chosen from the match id.
struct FakeRetrieval: RetrievalService {
    let dataset: Dataset
    var model = "zero-shot"

    func words(_ text: String) -> [String] {
        text.lowercased().split(separator: " ").map(String.init)
    }

    func queryParts(_ query: RetrievalQuery) throws -> (words: [String], labels: [String]?, exclude: String?) {
        switch query {
        case .caption(let t): return (words(t), nil, nil)
        case .imageFile: return ([], nil, nil)
        case .sample(let id, let mode):
            guard let s = dataset.splits.lazy.compactMap({ $0.sample(id: id) }).first else { throw LoadFailure("unknown sample \(id)") }
            let w = mode == .image ? words(s.product ?? "") : words(s.caption)
            return (w, s.labels.isEmpty ? nil : s.labels, id)
        }
    }

    func search(_ query: RetrievalQuery, top: Int, filter: RetrievalFilter, isCancelled: () -> Bool) throws -> SearchResult {
        let (w, labels, exclude) = try queryParts(query)
        let wanted = Set(w)
        let gallery = dataset.gallery!.samples.filter { $0.id != exclude }
        let scored = gallery.map { g -> (Sample, Float) in
            let gw = Set(words(g.caption))
            let shared = wanted.isEmpty ? 0 : Float(wanted.intersection(gw).count) / Float(wanted.count)
            return (g, shared * 0.9 + Float(Int(g.id)! % 7) / 100)
        }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.id < $1.0.id }
        let matches = scored.prefix(top).enumerated().map { i, p in
            RankedMatch(rank: i + 1, sampleID: p.0.id, score: p.1, isRelevant: labels.map { Set($0).contains(p.0.product ?? "") })
        }
        var ap: Double? = nil
        if labels != nil {
            var hits = 0, sum = 0.0
            for m in matches where m.isRelevant == true { hits += 1; sum += Double(hits) / Double(m.rank) }
            ap = hits == 0 ? 0 : sum / Double(hits)
        }
        return SearchResult(query: query, matches: matches, averagePrecision: ap, model: model, seconds: 0.0042)
    }

    func attention(for query: RetrievalQuery, match sampleID: String) throws -> AttentionSummary {
        let (w, _, _) = try queryParts(query)
        let peak = Int(sampleID)! % 49
        func oneHot(_ cell: Int) -> [Float] {
            var m = [Float](repeating: 0.5 / 48, count: 49)
            m[cell % 49] = 0.5
            return m
        }
        if case .sample(_, .image) = query {
            return AttentionSummary(tokens: [], side: 7, map: oneHot(peak), tokenMaps: [])
        }
        let weights: [Float] = [0.5, 0.3, 0.2]
        let tokens = zip(w.prefix(3), weights).map { TokenWeight(token: $0, weight: $1) }
        return AttentionSummary(tokens: tokens, side: 7, map: oneHot(peak), tokenMaps: tokens.indices.map { oneHot(peak + 8 * ($0 + 1)) })
    }
}

/// An in-memory flags store with the real store's replace-and-undo semantics for one annotator.
final class MemoryFlags: FlagService, @unchecked Sendable {
    private let lock = NSLock()
    private var rows: [Flag] = []
    private var current: Set<Int64> = []
    private var replaced: [Int64: Int64] = [:]

    func record(_ flag: Flag) throws -> Flag {
        lock.lock(); defer { lock.unlock() }
        var f = flag
        f.id = Int64(rows.count + 1)
        if let old = rows.first(where: { current.contains($0.id!) && $0.dataset == f.dataset && $0.query == f.query
                                            && $0.match == f.match && $0.model == f.model && $0.annotator == f.annotator }) {
            current.remove(old.id!)
            replaced[f.id!] = old.id!
        }
        rows.append(f)
        current.insert(f.id!)
        return f
    }

    func undo(id: Int64) throws -> Flag? {
        lock.lock(); defer { lock.unlock() }
        guard current.contains(id) else { throw LoadFailure("flag \(id) is not current") }
        current.remove(id)
        guard let old = replaced[id] else { return nil }
        current.insert(old)
        return rows[Int(old) - 1]
    }

    func flags(dataset: String, query: String?) throws -> [Flag] {
        lock.lock(); defer { lock.unlock() }
        return rows.filter { current.contains($0.id!) && $0.dataset == dataset && (query == nil || $0.query == query) }
    }

    private var skips: Set<[String]> = []

    func skip(dataset: String, query: String, match: String, model: String, annotator: String, at date: Date) throws {
        lock.lock(); defer { lock.unlock() }
        skips.insert([dataset, query, match, model, annotator])
    }

    func unskip(dataset: String, query: String, match: String, model: String, annotator: String) throws {
        lock.lock(); defer { lock.unlock() }
        skips.remove([dataset, query, match, model, annotator])
    }

    func reviewedPairs(dataset: String, model: String, annotator: String) throws -> Set<ReviewedPair> {
        lock.lock(); defer { lock.unlock() }
        var pairs = Set(rows.filter { current.contains($0.id!) && $0.dataset == dataset && $0.model == model && $0.annotator == annotator }
            .map { ReviewedPair(query: $0.query, match: $0.match) })
        for s in skips where s[0] == dataset && s[3] == model && s[4] == annotator { pairs.insert(ReviewedPair(query: s[1], match: s[2])) }
        return pairs
    }
}

/// Runs effects synchronously, as the app would in the background, feeding the answers back.
struct Driver {
    var service: (any RetrievalService)?
    var flags: (any FlagService)?

    init(service: (any RetrievalService)? = FakeRetrieval(dataset: Fixture.dataset), flags: (any FlagService)? = MemoryFlags()) {
        self.service = service
        self.flags = flags
    }

    /// A loaded fixture state with the engine ready and a flags store open.
    static func state(width: Int = 100, height: Int = 30, colorMode: ColorMode = .truecolor, unicode: Bool = true,
                      flags: Bool = true) -> ExplorerState {
        var s = ExplorerState(size: Size(width: width, height: height),
                              capabilities: TerminalCapabilities(colorMode: colorMode, unicode: unicode, mouse: true),
                              theme: Fixture.theme, dataPath: Fixture.folder, themeNames: ["dark", "light"])
        s.retrieval.engine = .ready(items: Fixture.dataset.gallery!.samples.count)
        s.retrieval.flags.available = flags
        s.retrieval.flags.annotator = "ann"
        let effects = update(&s, .datasetLoaded(.success(LoadedDataset(dataset: Fixture.dataset, loadSeconds: 0))))
        Driver().run(&s, effects)
        s.status = nil
        return s
    }

    /// Runs `effects` and every effect their answers ask for.
    func run(_ state: inout ExplorerState, _ effects: [Effect]) {
        var queue = effects
        while !queue.isEmpty {
            let e = queue.removeFirst()
            if let msg = answer(e) { queue += update(&state, msg) }
        }
    }

    /// The message an effect's background work would post.
    func answer(_ effect: Effect) -> Msg? {
        switch effect {
        case .loadImage(let path, let side):
            do { return .imageLoaded(path: path, result: .success(try ImageDecoder.thumbnail(path: path, maxSide: side))) }
            catch { return .imageLoaded(path: path, result: .failure(error)) }
        case .retrieval(let effect):
            return answerRetrieval(effect).map(Msg.retrieval)
        case .restPreview(let serial, _):
            return .previewRested(serial: serial)
        case .loadDataset, .loadTheme, .training, .expireStatus, .quit, .filter, .copyToClipboard, .exportSamples, .review, .workbench:
            return nil
        }
    }

    /// The message a retrieval effect's background work would post.
    func answerRetrieval(_ effect: RetrievalEffect) -> RetrievalMsg? {
        switch effect {
        case .search(let generation, let query, let top):
            guard let service else { return .searchFinished(generation: generation, .failure(LoadFailure("no service"))) }
            do { return .searchFinished(generation: generation, .success(try service.search(query, top: top, filter: .none, isCancelled: { false }))) }
            catch { return .searchFinished(generation: generation, .failure(LoadFailure("\(error)"))) }
        case .attention(let generation, let query, let match):
            guard let service else { return nil }
            do { return .attentionFinished(generation: generation, match: match, .success(try service.attention(for: query, match: match))) }
            catch { return .attentionFinished(generation: generation, match: match, .failure(LoadFailure("\(error)"))) }
        case .recordFlag(var flag):
            guard let flags else { return nil }
            flag.createdAt = Date(timeIntervalSince1970: 1_700_000_000)
            do { return .flagRecorded(.success(try flags.record(flag))) }
            catch { return .flagRecorded(.failure(LoadFailure("\(error)"))) }
        case .undoFlag(let flag):
            guard let flags else { return nil }
            do { try flags.undo(id: flag.id!); return .flagUndone(.success(flag)) }
            catch { return .flagUndone(.failure(LoadFailure("\(error)"))) }
        case .loadFlags(let dataset, let query, let model):
            guard let flags else { return nil }
            do { return .flagsLoaded(query: query, model: model, .success(try flags.flags(dataset: dataset, query: query).filter { $0.model == model })) }
            catch { return .flagsLoaded(query: query, model: model, .failure(LoadFailure("\(error)"))) }
        case .loadRankings(let path):
            do { return .rankingsLoaded(.success(try loadInspectSession(path: path, dataset: Fixture.dataset))) }
            catch { return .rankingsLoaded(.failure(LoadFailure("\(error)"))) }
        case .openEngine:
            return nil
        }
    }

    func key(_ state: inout ExplorerState, _ k: Key) { run(&state, update(&state, .input(.key(k)))) }

    func type(_ state: inout ExplorerState, _ text: String) { for c in text { key(&state, .char(c)) } }

    /// Types a caption into the query bar and runs it.
    func search(_ state: inout ExplorerState, _ caption: String) {
        key(&state, .char("s"))
        type(&state, caption)
        key(&state, .enter)
    }
}
