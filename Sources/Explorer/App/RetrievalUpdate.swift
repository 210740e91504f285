import Annotations
import Catalog
import Foundation
import Retrieval

// The retrieval side of the pure update: the query bar, searches and their
// answers, the results pane, attention, the inspect mode and flags.

/// Everything that can happen to the retrieval half. The explorer wraps it in its own `Msg`
/// (`case retrieval(RetrievalMsg)`) and routes it to `updateRetrieval`.
public enum RetrievalMsg: Sendable {
    /// A key bound to a retrieval action (the query bar, the results pane, inspect mode, flags).
    case command(RetrievalCommand)
    /// A printable key typed into the query bar.
    case typed(Character)
    /// A click on the match at this position of the results.
    case highlight(Int)
    /// The dataset is loaded: time to open the engine and read the ranking file.
    case datasetReady
    /// The terminal was resized: keep the highlighted match on screen.
    case resized
    /// The gallery was re-indexed with a new model: rank the shown query again with it.
    case modelChanged
    /// Progress of the gallery index build while the retrieval engine opens.
    case indexEvent(IndexEvent)
    /// The retrieval engine is open (its index has `items` gallery items), or could not be.
    case engineOpened(Result<Int, LoadFailure>)
    /// The answer to the search of `generation` (stale when a newer search was started).
    case searchFinished(generation: Int, Result<SearchResult, LoadFailure>)
    /// The attention summary asked for with `generation`.
    case attentionFinished(generation: Int, match: String, Result<AttentionSummary, LoadFailure>)
    /// A flag was written (with its store id), or not.
    case flagRecorded(Result<Flag, LoadFailure>)
    /// A flag was removed from the store, or not.
    case flagUndone(Result<Flag, LoadFailure>)
    /// The current verdicts on one query's matches by one model.
    case flagsLoaded(query: String, model: String, Result<[Flag], LoadFailure>)
    /// A ranking file was read and scored for inspection.
    case rankingsLoaded(Result<InspectSession, LoadFailure>)
}

/// Work the retrieval update asks for. The explorer wraps it in its own `Effect`
/// (`case retrieval(RetrievalEffect)`), runs it and answers with a `RetrievalMsg`.
public enum RetrievalEffect: Sendable, Equatable {
    /// Open the retrieval engine for the loaded dataset (building its index, with progress).
    case openEngine
    /// Search; the answer carries `generation` so that a newer search makes it stale.
    /// A newer search effect supersedes one that has not started yet.
    case search(generation: Int, query: RetrievalQuery, top: Int)
    /// Compute the attention summary of one match (a newer request supersedes a queued one).
    case attention(generation: Int, query: RetrievalQuery, match: String)
    /// Write a flag to the store. The app stamps it with the time of writing.
    case recordFlag(Flag)
    /// Remove a flag (by its store id) from the store.
    case undoFlag(Flag)
    /// Read the current verdicts on a query's matches by a model.
    case loadFlags(dataset: String, query: String, model: String)
    /// Read and score a ranking file for the inspect mode.
    case loadRankings(path: String)
}

/// Everything a key can do to the retrieval half. The raw values are the ids of the action
/// registry, so a registry action maps to its command with `RetrievalCommand(rawValue: id.rawValue)`.
public enum RetrievalCommand: String, Sendable, Equatable, CaseIterable {
    case startSearch = "search.start"
    case searchWithSample = "search.sample"
    case cycleQueryMode = "search.mode"
    case toggleInspect = "inspect.toggle"
    case showResults = "results.show"
    case resultsDown = "results.down"
    case resultsUp = "results.up"
    case resultsPageDown = "results.page-down"
    case resultsPageUp = "results.page-up"
    case resultsTop = "results.top"
    case resultsBottom = "results.bottom"
    case resultsWheelDown = "results.wheel-down"
    case resultsWheelUp = "results.wheel-up"
    case resultsCycleMode = "results.mode"
    case resultsSearch = "results.search"
    case toggleAttention = "results.attention"
    case toggleQueryView = "results.query-view"
    case resultsOrder = "results.order"
    case resultsFind = "results.find"
    case nextAttentionToken = "results.attention-token"
    case flagWrong = "flag.wrong"
    case flagConfirm = "flag.confirm"
    case flagUndo = "flag.undo"
    case inspectNext = "inspect.next"
    case inspectPrevious = "inspect.previous"
    case closeResults = "results.close"
    case queryAccept = "query.accept"
    case queryCancel = "query.cancel"
    case queryDeleteBack = "query.delete-back"
    case queryDeleteWord = "query.delete-word"
    case queryClear = "query.clear"
    case queryHistoryPrevious = "query.history-previous"
    case queryHistoryNext = "query.history-next"
}

/// The retrieval update: changes the state for a retrieval message and returns the effects the
/// app must run (its own, wrapped in `Effect.retrieval`, and thumbnails of the matches).
public func updateRetrieval(_ state: inout ExplorerState, _ msg: RetrievalMsg) -> [Effect] {
    switch msg {
    case .command(let command):
        return performRetrieval(&state, command)

    case .typed(let c):
        state.retrieval.bar.text.append(c)
        state.retrieval.bar.historyPosition = nil
        return []

    case .highlight(let position):
        return moveResult(&state, to: position)

    case .datasetReady:
        // The engine (when one is configured) and the ranking file to inspect (when one was named).
        var effects: [Effect] = []
        if state.retrieval.engine == .opening { effects.append(.retrieval(.openEngine)) }
        if let path = state.retrieval.inspect.path { effects.append(.retrieval(.loadRankings(path: path))) }
        return effects

    case .resized:
        clampResultsScroll(&state)
        return requestResultImages(&state)

    case .modelChanged:
        // The new model ranked nothing yet: ask again with it (on the screen shown now).
        guard let query = state.retrieval.results.query, !state.retrieval.inspect.active else { return [] }
        let screen = state.screen
        let effects = startSearch(&state, query)
        state.screen = screen
        return effects

    case .indexEvent(let event):
        switch event {
        case .upToDate(let items): state.retrieval.engine = .ready(items: items)
        case .started(let items): state.retrieval.engine = .indexing(done: 0, total: items)
        case .progress(let done, let total): state.retrieval.engine = .indexing(done: done, total: total)
        case .finished(let items, _): state.retrieval.engine = .ready(items: items)
        }
        return []

    case .engineOpened(.success(let items)):
        state.retrieval.engine = .ready(items: items)
        return []

    case .engineOpened(.failure(let failure)):
        state.retrieval.engine = .failed(failure.message)
        state.status = StatusLine("search is unavailable: \(failure.message)", role: .error)
        var r = state.retrieval.results
        if r.searching { r.searching = false; r.error = failure.message }
        state.retrieval.results = r
        return []

    case .searchFinished(let generation, let result):
        guard generation == state.retrieval.results.generation, !state.retrieval.inspect.active else { return [] }
        var r = state.retrieval.results
        r.searching = false
        switch result {
        case .success(let answer):
            r.rows = answer.matches.map { ResultRow(rank: $0.rank, sampleID: $0.sampleID, score: $0.score, isRelevant: $0.isRelevant) }
            r.order = .rank
            r.averagePrecision = answer.averagePrecision
            r.model = answer.model
            r.seconds = answer.seconds
            r.error = nil
        case .failure(let failure):
            r.rows = []
            r.error = failure.message
        }
        r.selected = 0
        r.scroll = 0
        r.attention = nil
        state.retrieval.results = r
        return resultsChanged(&state)

    case .attentionFinished(let generation, let match, let result):
        guard generation == state.retrieval.results.attentionGeneration else { return [] }
        switch result {
        case .success(let summary): state.retrieval.results.attention = .ready(match: match, summary)
        case .failure(let failure): state.retrieval.results.attention = .failed(match: match, failure.message)
        }
        if let t = state.retrieval.results.attentionToken, case .ready(_, let s)? = state.retrieval.results.attention, t >= s.tokens.count {
            state.retrieval.results.attentionToken = nil
        }
        return []

    case .flagRecorded(let result):
        var f = state.retrieval.flags
        f.pending = max(0, f.pending - 1)
        switch result {
        case .success(let flag):
            f.undoStack.append(flag)
            state.status = StatusLine("\(flag.verdict == .wrong ? "flagged wrong" : "confirmed"): \(flag.match)"
                                      + (state.keyName(.flagUndo).map { " (\($0) undoes)" } ?? ""))
        case .failure(let failure):
            state.status = StatusLine("flag not saved: \(failure.message)", role: .error)
        }
        state.retrieval.flags = f
        // The store is the truth (it may hold another annotator's verdict): read it back.
        return result.isFailure ? reloadFlags(state) : []

    case .flagUndone(let result):
        state.retrieval.flags.pending = max(0, state.retrieval.flags.pending - 1)
        switch result {
        case .success(let flag): state.status = StatusLine("undone: \(flag.verdict == .wrong ? "flag" : "confirmation") of \(flag.match)")
        case .failure(let failure): state.status = StatusLine("undo failed: \(failure.message)", role: .error)
        }
        return reloadFlags(state)

    case .flagsLoaded(let query, let model, let result):
        guard let shown = state.retrieval.results.query, shown.flagKey == query, state.retrieval.results.model == model else { return [] }
        switch result {
        case .success(let flags):
            var verdicts: [String: Verdict] = [:]
            // The newest verdict on a match wins (several annotators may have one each).
            // `model` is the name the results show; the effect already kept only that model's key.
            for flag in flags.sorted(by: { $0.createdAt < $1.createdAt }) where flag.modelName == model { verdicts[flag.match] = flag.verdict }
            if state.retrieval.flags.pending == 0 { state.retrieval.flags.verdicts = verdicts }
        case .failure(let failure):
            state.status = StatusLine("cannot read flags: \(failure.message)", role: .error)
        }
        return []

    case .rankingsLoaded(.success(let session)):
        state.retrieval.inspect.session = session
        state.retrieval.inspect.error = nil
        state.status = StatusLine("\(session.queries.count) ranked queries in \(lastComponent(session.path)), mAP@10 \(format(session.meanAveragePrecision10))"
                                  + (state.keyName(.toggleInspect).map { "; \($0) inspects them" } ?? ""))
        if state.screen == .browser, !state.editingQuery { return showInspected(&state, at: 0) }
        return []

    case .rankingsLoaded(.failure(let failure)):
        state.retrieval.inspect.error = failure.message
        state.status = StatusLine("cannot inspect the ranking file: \(failure.message)", role: .error)
        return []
    }
}

/// Performs the actions of the query bar, the results pane, inspect mode and flags.
private func performRetrieval(_ state: inout ExplorerState, _ command: RetrievalCommand) -> [Effect] {
    switch command {
    case .startSearch, .resultsSearch:
        // A fresh line: the previous searches are one ↑ away.
        state.focus = .query(over: state.screen)
        state.retrieval.bar.historyPosition = nil
        state.retrieval.bar.text = ""
        return []

    case .searchWithSample:
        guard let sample = state.selectedSample else { return [] }
        return startSearch(&state, .sample(id: sample.id, mode: state.retrieval.mode))

    case .cycleQueryMode:
        state.retrieval.mode = nextMode(state.retrieval.mode)
        state.status = StatusLine("sample queries use: \(modeDescription(state.retrieval.mode))"
                                  + (state.keyName(.searchWithSample).map { " (\($0) searches)" } ?? ""))
        return []

    case .resultsCycleMode:
        state.retrieval.mode = nextMode(state.retrieval.mode)
        state.status = StatusLine("query mode: \(modeDescription(state.retrieval.mode))")
        guard case .sample(let sid, _)? = state.retrieval.results.query else { return [] }
        if state.retrieval.inspect.active {
            state.retrieval.results.query = .sample(id: sid, mode: state.retrieval.mode)
            state.retrieval.results.attention = nil
            return attentionIfShown(&state)
        }
        return startSearch(&state, .sample(id: sid, mode: state.retrieval.mode))

    case .toggleInspect:
        let inspect = state.retrieval.inspect
        guard inspect.session != nil else {
            let why = inspect.error.map { "the ranking file could not be read: \($0)" }
                ?? (inspect.path == nil ? "no ranking file: start with `vitrine explore --rankings FILE`" : "the ranking file is still loading")
            state.status = StatusLine(why, role: .warning)
            return []
        }
        return showInspected(&state, at: inspect.position)

    case .resultsDown: return moveResult(&state, by: 1)
    case .resultsUp: return moveResult(&state, by: -1)
    case .resultsPageDown: return moveResult(&state, by: Layout(state).resultRows)
    case .resultsPageUp: return moveResult(&state, by: -Layout(state).resultRows)
    case .resultsTop: return moveResult(&state, to: 0)
    case .resultsBottom: return moveResult(&state, to: Int.max)
    case .resultsWheelDown: return moveResult(&state, by: 1)
    case .resultsWheelUp: return moveResult(&state, by: -1)

    case .toggleAttention:
        state.retrieval.results.showAttention.toggle()
        if state.retrieval.results.showAttention { state.retrieval.results.showQuery = false }
        return attentionIfShown(&state)

    case .resultsOrder:
        return orderResults(&state, state.retrieval.results.order.next)

    case .resultsFind:
        guard !state.retrieval.results.rows.isEmpty else { return [] }
        state.focus = .find(state.retrieval.results.findText)
        return []

    case .toggleQueryView:
        guard state.retrieval.results.query != nil else { return [] }
        state.retrieval.results.showQuery.toggle()
        if state.retrieval.results.showQuery { state.retrieval.results.showAttention = false }
        return requestResultImages(&state)

    case .nextAttentionToken:
        guard state.retrieval.results.showAttention, case .ready(_, let summary)? = state.retrieval.results.attention,
              !summary.tokens.isEmpty else { return [] }
        let t = state.retrieval.results.attentionToken.map { $0 + 1 } ?? 0
        state.retrieval.results.attentionToken = t < summary.tokens.count ? t : nil
        return []

    case .flagWrong: return flag(&state, .wrong)
    case .flagConfirm: return flag(&state, .confirmed)

    case .flagUndo:
        guard let last = state.retrieval.flags.undoStack.popLast() else {
            state.status = StatusLine("nothing to undo: no flag was made in this session", role: .warning)
            return []
        }
        state.retrieval.flags.pending += 1
        if let q = state.retrieval.results.query, q.flagKey == last.query, state.retrieval.results.model == last.modelName {
            state.retrieval.flags.verdicts[last.match] = nil
        }
        return [.retrieval(.undoFlag(last))]

    case .inspectNext:
        guard state.retrieval.inspect.active else { return [] }
        return showInspected(&state, at: state.retrieval.inspect.position + 1)

    case .inspectPrevious:
        guard state.retrieval.inspect.active else { return [] }
        return showInspected(&state, at: state.retrieval.inspect.position - 1)

    case .showResults:
        guard state.retrieval.results.query != nil else {
            let hints = state.keyHints([(.startSearch, "types a caption"), (.searchWithSample, "uses the selected sample")])
            state.status = StatusLine("no search yet" + (hints.isEmpty ? "" : ": " + hints.joined(separator: ", ")), role: .warning)
            return []
        }
        state.screen = .results
        return requestResultImages(&state)

    case .closeResults:
        state.screen = .browser
        return requestImages(&state)

    case .queryAccept:
        var bar = state.retrieval.bar
        let text = bar.text.trimmingCharacters(in: .whitespaces)
        endQuery(&state)
        bar.historyPosition = nil
        guard !text.isEmpty else { state.retrieval.bar = bar; return [] }
        if bar.history.last != text { bar.history.append(text) }
        bar.text = text
        state.retrieval.bar = bar
        return startSearch(&state, parseQuery(text))

    case .queryCancel:
        endQuery(&state)
        state.retrieval.bar.historyPosition = nil
        return []

    case .queryDeleteBack:
        if !state.retrieval.bar.text.isEmpty { state.retrieval.bar.text.removeLast() }
        return []

    case .queryDeleteWord:
        var t = state.retrieval.bar.text
        while t.last == " " { t.removeLast() }
        while let c = t.last, c != " " { t.removeLast() }
        state.retrieval.bar.text = t
        return []

    case .queryClear:
        state.retrieval.bar.text = ""
        return []

    case .queryHistoryPrevious:
        var bar = state.retrieval.bar
        guard !bar.history.isEmpty else { return [] }
        if bar.historyPosition == nil { bar.draft = bar.text }
        let p = max(0, (bar.historyPosition ?? bar.history.count) - 1)
        bar.historyPosition = p
        bar.text = bar.history[p]
        state.retrieval.bar = bar
        return []

    case .queryHistoryNext:
        var bar = state.retrieval.bar
        guard let p = bar.historyPosition else { return [] }
        if p + 1 < bar.history.count {
            bar.historyPosition = p + 1
            bar.text = bar.history[p + 1]
        } else {
            bar.historyPosition = nil
            bar.text = bar.draft
        }
        state.retrieval.bar = bar
        return []
    }
}

/// Keys stop going to the query bar.
private func endQuery(_ state: inout ExplorerState) {
    if state.editingQuery { state.focus = state.focus.closed }
}

/// The query a line of the query bar states: `image:PATH` searches with an image file, anything
/// else is a caption.
public func parseQuery(_ line: String) -> RetrievalQuery {
    if line.hasPrefix("image:") {
        let path = line.dropFirst("image:".count).trimmingCharacters(in: .whitespaces)
        if !path.isEmpty { return .imageFile(path: path) }
    }
    return .caption(line)
}

// MARK: - Searching

/// Starts a search: a new generation (older answers become stale), the results pane shown empty
/// with "searching" until the answer comes.
func startSearch(_ state: inout ExplorerState, _ query: RetrievalQuery) -> [Effect] {
    var r = state.retrieval.results
    r.generation += 1
    r.query = query
    r.searching = true
    r.error = nil
    r.rows = []
    r.averagePrecision = nil
    r.model = ""
    r.selected = 0
    r.scroll = 0
    r.attention = nil
    r.attentionToken = nil
    state.retrieval.results = r
    state.retrieval.inspect.active = false
    state.retrieval.flags.verdicts = [:]
    state.screen = .results
    if case .unavailable(let why) = state.retrieval.engine {
        state.retrieval.results.searching = false
        state.retrieval.results.error = "search is unavailable: \(why)"
        return []
    }
    if case .failed(let why) = state.retrieval.engine {
        state.retrieval.results.searching = false
        state.retrieval.results.error = "search is unavailable: \(why)"
        return []
    }
    return [.retrieval(.search(generation: r.generation, query: query, top: state.retrieval.top))]
}

/// Shows the inspected file's query at `position` (clamped) in the results pane.
private func showInspected(_ state: inout ExplorerState, at position: Int) -> [Effect] {
    guard let session = state.retrieval.inspect.session, !session.queries.isEmpty else { return [] }
    let p = min(max(0, position), session.queries.count - 1)
    let q = session.queries[p]
    state.retrieval.inspect.position = p
    state.retrieval.inspect.active = true
    var r = state.retrieval.results
    r.generation += 1            // any search still running is now stale
    r.query = .sample(id: q.queryID, mode: state.retrieval.mode)
    r.searching = false
    r.error = nil
    r.rows = q.rows
    r.order = .rank
    r.averagePrecision = q.averagePrecision10
    r.model = "rankings:" + lastComponent(session.path)
    r.seconds = 0
    r.selected = 0
    r.scroll = 0
    r.attention = nil
    r.attentionToken = nil
    state.retrieval.results = r
    state.retrieval.flags.verdicts = [:]
    state.screen = .results
    return resultsChanged(&state)
}

/// After new rows: thumbnails, the flags of this query, the attention of the first match.
private func resultsChanged(_ state: inout ExplorerState) -> [Effect] {
    clampResultsScroll(&state)
    return requestResultImages(&state) + reloadFlags(state) + attentionIfShown(&state)
}

private func reloadFlags(_ state: ExplorerState) -> [Effect] {
    guard state.retrieval.flags.available, let d = state.dataset, let q = state.retrieval.results.query,
          !state.retrieval.results.model.isEmpty else { return [] }
    return [.retrieval(.loadFlags(dataset: d.flagKey, query: q.flagKey, model: state.retrieval.results.model))]
}

/// Asks for the highlighted match's attention summary when the attention pane is shown and it
/// is not already there or on its way.
private func attentionIfShown(_ state: inout ExplorerState) -> [Effect] {
    var r = state.retrieval.results
    guard r.showAttention, let row = r.selectedRow, let query = r.query else { return [] }
    // Already shown or asked for this match (changing the query clears it).
    if let slot = r.attention, slot.match == row.sampleID { return [] }
    if case .unavailable(let why) = state.retrieval.engine {
        r.attention = .failed(match: row.sampleID, "attention is unavailable: \(why)")
        state.retrieval.results = r
        return []
    }
    r.attentionGeneration += 1
    r.attention = .loading(match: row.sampleID)
    r.attentionToken = nil
    state.retrieval.results = r
    return [.retrieval(.attention(generation: r.attentionGeneration, query: query, match: row.sampleID))]
}

// MARK: - Results pane

private func moveResult(_ state: inout ExplorerState, by delta: Int) -> [Effect] {
    let s = state.retrieval.results.selected
    let target = delta > 0 && s > Int.max - delta ? Int.max : s + delta
    return moveResult(&state, to: target)
}

func moveResult(_ state: inout ExplorerState, to position: Int) -> [Effect] {
    let count = state.retrieval.results.rows.count
    guard count > 0 else { return [] }
    let p = min(max(0, position), count - 1)
    guard p != state.retrieval.results.selected else { return [] }
    state.retrieval.results.selected = p
    clampResultsScroll(&state)
    return requestResultImages(&state) + attentionIfShown(&state)
}

/// Keeps the highlighted match on screen.
private func clampResultsScroll(_ state: inout ExplorerState) {
    let rows = Layout(state).resultRows
    var r = state.retrieval.results
    let count = r.rows.count
    guard count > 0 else { r.scroll = 0; r.selected = 0; state.retrieval.results = r; return }
    r.selected = min(max(0, r.selected), count - 1)
    if r.selected < r.scroll { r.scroll = r.selected }
    if r.selected >= r.scroll + rows { r.scroll = r.selected - rows + 1 }
    r.scroll = min(max(0, r.scroll), max(0, count - rows))
    state.retrieval.results = r
}

/// Asks for the thumbnails of the matches on screen and of the query sample.
private func requestResultImages(_ state: inout ExplorerState) -> [Effect] {
    guard state.screen == .results else { return [] }
    let r = state.retrieval.results
    var ids: [String] = []
    if let row = r.selectedRow { ids.append(row.sampleID) }
    if case .sample(let qid, _)? = r.query { ids.append(qid) }
    let visible = Layout(state).resultRows
    for i in r.scroll..<min(r.rows.count, r.scroll + visible + 1) where i != r.selected { ids.append(r.rows[i].sampleID) }
    var paths = ids.compactMap { state.sample(id: $0)?.imagePath }
    if case .imageFile(let path)? = r.query, r.showQuery { paths.insert(path, at: 0) }
    var effects: [Effect] = []
    for path in paths {
        if state.images[path] == nil {
            state.images.set(.loading, for: path)
            effects.append(.loadImage(path: path, maxSide: state.thumbnailSide))
        } else {
            state.images.touch(path)
        }
    }
    return effects
}

// MARK: - Flags

private func flag(_ state: inout ExplorerState, _ verdict: Verdict) -> [Effect] {
    guard state.retrieval.flags.available else {
        state.status = StatusLine("flags are off: \(state.retrieval.flags.unavailableReason ?? "no flag store")", role: .warning)
        return []
    }
    let r = state.retrieval.results
    guard let row = r.selectedRow, let query = r.query, let dataset = state.dataset, !r.model.isEmpty else { return [] }
    let flag = Flag(dataset: dataset.flagKey, query: query.flagKey, match: row.sampleID, model: r.model,
                    verdict: verdict, annotator: state.retrieval.flags.annotator, createdAt: .init(timeIntervalSince1970: 0))
    state.retrieval.flags.verdicts[row.sampleID] = verdict
    state.retrieval.flags.pending += 1
    return [.retrieval(.recordFlag(flag))]
}

// MARK: - Helpers

func nextMode(_ m: QueryMode) -> QueryMode {
    let all = QueryMode.allCases
    return all[(all.firstIndex(of: m)! + 1) % all.count]
}

func modeDescription(_ m: QueryMode) -> String {
    switch m {
    case .caption: return "caption"
    case .image: return "image"
    case .pair: return "image + caption"
    }
}

func lastComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}

func format(_ x: Double, digits: Int = 3) -> String {
    guard x.isFinite else { return "–" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let v = (x * scale).rounded() / scale
    var s = "\(v)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

extension Result {
    var isFailure: Bool { if case .failure = self { return true } else { return false } }
}
