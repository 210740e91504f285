import Catalog
import Imaging

/// The explorer's update: pure. It changes the state for a message and returns
/// the effects (loading, decoding) the app must run off the UI thread.
public func update(_ state: inout ExplorerState, _ msg: Msg) -> [Effect] {
    switch msg {
    case .start(let start):
        return begin(&state, start)

    case .input(let event):
        // A key or click that moves what the large image shows: it is drawn once the selection rests.
        let shown = previewIdentity(state)
        var effects = handleInput(&state, event)
        if previewIdentity(state) != shown, !state.quitting {
            state.previewSerial += 1
            state.previewSettled = false
            effects.append(.restPreview(serial: state.previewSerial,
                                        seconds: state.capabilities.slowLink ? slowLinkRestSeconds : previewRestSeconds))
        }
        return effects

    case .previewRested(let serial):
        if serial == state.previewSerial { state.previewSettled = true }
        return []

    case .datasetLoaded(.success(let loaded)):
        let shown = state.loaded   // the dataset in part, when this is the rest of it
        let current = state.split?.name
        state.load = .loaded(loaded)
        state.training.settings.dataPath = loaded.dataset.root
        state.training.settings.flagsDataset = loaded.dataset.flagKey
        var filtering: [Effect] = []
        if let shown {
            // The same splits keep their place in the list, selection and filter; the current one
            // stays current.
            state.browsers = loaded.dataset.splits.map { split in
                shown.dataset.splits.firstIndex { $0.name == split.name }.map { state.browsers[$0] } ?? BrowserState()
            }
            state.splitIndex = loaded.dataset.splits.firstIndex { $0.name == current } ?? 0
            if state.browser.appliedFilter != state.filter { filtering = applyFilter(&state) }
        } else {
            state.browsers = Array(repeating: BrowserState(), count: loaded.dataset.splits.count)
            // Start on the gallery: what a retrieval analyst looks at first.
            state.splitIndex = loaded.dataset.splits.firstIndex { $0.role == .gallery } ?? 0
            filtering = applyFilter(&state)
        }
        let issues = loaded.dataset.issues.count
        if issues > 0 {
            state.status = StatusLine("\(issues) malformed line\(issues == 1 ? "" : "s") skipped; `vitrine info` lists them", role: .warning)
        }
        // Search opens on the whole dataset (a sample of any split can be a query).
        let ready = loaded.pendingSplits.isEmpty ? updateRetrieval(&state, .datasetReady) : []
        return filtering + requestImages(&state) + ready

    case .datasetLoaded(.failure(let failure)):
        state.load = .failed(failure.message)
        return []

    case .imageLoaded(let path, let result):
        switch result {
        case .success(let image): state.images.set(.ready(image), for: path)
        case .failure(let error): state.images.set(.failed(error.shortReason), for: path)
        }
        return []

    case .themeLoaded(.success(let theme)):
        state.theme = theme
        state.status = StatusLine("theme: \(theme.name)")
        return []

    case .themeLoaded(.failure(let failure)):
        state.status = StatusLine(failure.message, role: .error)
        return []

    case .retrieval(let message):
        return updateRetrieval(&state, message)

    case .training(let message):
        return updateTrainingUI(&state, message)

    case .filterFound(let found):
        return receiveFilterMatches(&state, found)

    case .pictureFailed(let reason):
        let key = state.keyName(.cycleImages).map { "; \($0) draws images another way" } ?? ""
        state.status = StatusLine("a picture could not be drawn: \(reason)\(key)", role: .warning)
        return []

    case .statusExpired(let serial):
        if state.status?.serial == serial { state.status = nil }
        return []

    case .exported(.success(let done)):
        state.status = StatusLine("wrote \(done.count) sample\(done.count == 1 ? "" : "s") to \(done.path)")
        return []

    case .review(let message):
        return updateReview(&state, message)

    case .guestClock(let idle, let session):
        return updateGuestClock(&state, idleSeconds: idle, sessionSeconds: session)

    case .workbench(let message):
        updateOfferScores(&state, message)
        return updateDashboard(&state, message) + updateCompare(&state, message)

    case .exported(.failure(let failure)):
        state.status = StatusLine("export failed: \(failure.message)", role: .error)
        return []
    }
}

/// The first update: the state the options ask for, and the dataset to load.
private func begin(_ state: inout ExplorerState, _ start: ExplorerStart) -> [Effect] {
    state.retrieval.engine = start.searchUnavailable.map { EngineStatus.unavailable($0) } ?? .opening
    state.retrieval.inspect.path = start.rankingsPath
    state.retrieval.flags.annotator = start.annotator
    switch start.flags {
    case .open:
        state.retrieval.flags.available = true
    case .notConfigured:
        state.retrieval.flags.available = false
        state.retrieval.flags.unavailableReason = "no flags store configured"
    case .failed(let error):
        state.retrieval.flags.unavailableReason = "cannot open the flags store: \(error)"
        state.status = StatusLine("flags are off: cannot open the store: \(error)", role: .warning)
    }
    state.training.settings.runsDirectory = start.runsDirectory
    state.training.settings.extraArguments = start.trainingArguments
    state.guest = start.guest.map(GuestState.init)
    if state.guest != nil { state.retrieval.flags.unavailableReason = "guests do not flag" }
    state.training.commandLineModel = start.modelPath
    if let model = start.modelPath { state.training.model.current = ModelEntry(checkpoint: model, note: "--model") }
    state.training.settings.flagsStore = start.flagsPath ?? (state.retrieval.flags.available ? start.defaultFlagsPath : nil)
    var effects: [Effect] = [.loadDataset(path: start.dataPath)]
    if let folder = start.followDirectory, state.guest == nil {
        effects += state.training.follow(folder).map(Effect.training)
        fitTrainingPane(&state)
    }
    return effects
}

// MARK: - The large image waits for the selection to rest

/// How long the selection must stay before the large image is drawn: long enough that a held key
/// (30 repeats a second) never waits for a picture, short enough not to be noticed.
let previewRestSeconds = 0.06
/// Over a slow link a picture costs a few hundred milliseconds of the link: wait a little longer.
let slowLinkRestSeconds = 0.15

/// What the large images show: the body, the selected sample, the highlighted match, the review pair.
private func previewIdentity(_ state: ExplorerState) -> [String] {
    [String(describing: state.screen), state.selectedSample?.id ?? "", state.retrieval.results.selectedRow?.sampleID ?? "",
     state.review.map { "\($0.position)" } ?? ""]
}

// MARK: - Training

/// Feeds a training message to the training component, keeps the bottom pane's height in step
/// with it, and refreshes the results once the gallery is re-indexed with the new model.
func updateTrainingUI(_ state: inout ExplorerState, _ message: TrainingMsg) -> [Effect] {
    func offers(_ state: ExplorerState) -> Bool {
        if case .offered? = state.training.run?.reindex { return true }
        return false
    }
    let offered = offers(state)
    var effects = updateTraining(&state.training, message).map(Effect.training)
    // A run offers its model: both it and the model in use are scored on dev as search ranks.
    if !offered, case .offered(let checkpoint)? = state.training.run?.reindex, let request = state.training.run?.request {
        effects += scoreOffer(&state, checkpoint: checkpoint, request: request)
    }
    if case .reindexed(nil) = message { effects += updateRetrieval(&state, .modelChanged) }
    // A switch of model that failed (the model in use stays) says why.
    if case .reindexed(let error?) = message { state.status = StatusLine(error, role: .error) }
    fitTrainingPane(&state)
    return effects
}

/// The bottom pane's height: what the training pane wants, at most a third of the screen.
func fitTrainingPane(_ state: inout ExplorerState) {
    guard state.training.showsPane else { state.bottomPaneHeight = 0; return }
    let want = trainingPanePreferredHeight(state.training, width: state.size.width)
    state.bottomPaneHeight = min(want, max(3, (state.size.height - 2) / 3))
}

// MARK: - Input

private func handleInput(_ state: inout ExplorerState, _ event: InputEvent) -> [Effect] {
    switch event {
    case .resize(let w, let h):
        state.size = Size(width: w, height: h)
        fitTrainingPane(&state)
        clampScroll(&state)
        return updateRetrieval(&state, .resized)
    case .signal(let n):
        state.quitting = true
        return [.quit(exitCode: 128 + n)]
    case .wake:
        return []
    case .mouse(let m):
        return handleMouse(&state, m)
    case .key(let key):
        return handleKey(&state, key)
    }
}

private func handleKey(_ state: inout ExplorerState, _ key: Key) -> [Effect] {
    let context = state.context
    if state.load.isFailed, context == .browser, key == .escape || key == .enter {
        state.quitting = true
        return [.quit(exitCode: 1)]
    }
    if let id = state.keyMap.action(for: key, in: context) {
        // Any key press clears a stale status line (not the one it may set).
        state.status = nil
        state.guest?.warned = false
        guard state.allows(id) else {
            state.status = StatusLine("not for guests: a guest browses and searches, and nothing a guest does is kept", role: .warning)
            return []
        }
        if state.zoomed, !zoomKeepsOpen.contains(id) { state.zoomed = false }
        return perform(&state, id)
    }
    if context == .filter, case .char(let c) = key {
        state.filter.append(c)
        return applyFilter(&state) + requestImages(&state)
    }
    if context == .query, case .char(let c) = key {
        return updateRetrieval(&state, .typed(c))
    }
    if context == .find, case .char(let c) = key, let text = state.findText {
        state.focus = .find(text + String(c))
        return []
    }
    if context == .goto, case .char(let c) = key, let text = state.gotoText {
        state.focus = .goto(text + String(c), over: state.screen)
        return []
    }
    if context == .trainingDialog, case .char(let c) = key {
        return updateTrainingUI(&state, .typed(c))
    }
    return noActionHere(&state, key)
}

/// Performs one action of the registry.
public func perform(_ state: inout ExplorerState, _ id: ActionID) -> [Effect] {
    let layout = Layout(state)
    switch id {
    case .quit:
        state.quitting = true
        return [.quit(exitCode: state.load.isFailed ? 1 : 0)]
    case .help:
        state.focus = state.helpScroll == nil ? .help(scroll: 0, over: state.screen) : state.focus.closed
        return []
    case .helpClose:
        if state.helpScroll != nil { state.focus = state.focus.closed }
        return []
    case .helpScrollDown:
        state.focus = .help(scroll: (state.helpScroll ?? 0) + 3, over: state.screen)
        return []
    case .helpScrollUp:
        state.focus = .help(scroll: max(0, (state.helpScroll ?? 0) - 3), over: state.screen)
        return []
    case .toggleLink:
        state.capabilities.slowLink.toggle()
        state.status = StatusLine(state.capabilities.slowLink
            ? "slow link: images coarse (one colour a cell), fewer bytes; L for full detail"
            : "images in full detail; L for a slow link")
        return []
    case .cycleTheme:
        let names = state.themeNames
        guard !names.isEmpty else {
            state.status = StatusLine("no theme files found; see README, \"Themes\"", role: .warning)
            return []
        }
        let current = names.firstIndex(of: state.theme.name) ?? -1
        let next = names[(current + 1) % names.count]
        state.requestedTheme = next
        return [.loadTheme(name: next)]
    case .moveDown: return move(&state, by: 1)
    case .moveUp: return move(&state, by: -1)
    case .pageDown: return move(&state, by: layout.listRows)
    case .pageUp: return move(&state, by: -layout.listRows)
    case .halfPageDown: return move(&state, by: max(1, layout.listRows / 2))
    case .halfPageUp: return move(&state, by: -max(1, layout.listRows / 2))
    case .top: return move(&state, to: 0)
    case .bottom: return move(&state, to: Int.max)
    // A click acts on the row under it (`handleMouse`); a key bound to it has no row.
    case .clickSample, .clickMatch: return []
    case .wheelDown: return move(&state, by: 3)
    case .wheelUp: return move(&state, by: -3)
    case .helpClick: return perform(&state, .helpClose)
    case .helpWheelDown: return perform(&state, .helpScrollDown)
    case .helpWheelUp: return perform(&state, .helpScrollUp)
    case .nextSplit: return switchSplit(&state, by: 1)
    case .previousSplit: return switchSplit(&state, by: -1)
    case .startFilter:
        state.focus = .filter(over: state.screen)
        return []
    case .exportList:
        guard let split = state.split else { return [] }
        if let search = state.browser.search, !search.done {
            state.status = StatusLine("the filter is still searching \(split.name); export once it is done", role: .warning)
            return []
        }
        let filter = state.filter.isEmpty ? "" : "-filtered"
        state.status = StatusLine("writing \(state.browser.visible.count) samples of \(split.name)…")
        return [.exportSamples(split: state.splitIndex, positions: state.browser.visible, name: split.name + filter)]
    case .zoomOpen, .reviewZoom, .zoomClose, .zoomNext, .zoomPrevious, .zoomAttention, .cycleImages:
        return performZoom(&state, id)
    case .reviewStart:
        return startReview(&state)
    case .dashboardStart:
        return startDashboard(&state)
    case .dashboardDown, .dashboardUp, .dashboardPanel, .dashboardOpen, .dashboardSort, .dashboardCurves, .dashboardBack, .dashboardClose:
        return performDashboard(&state, id)
    case .compareStart:
        return startCompare(&state)
    case .compareNext, .comparePrevious, .compareDown, .compareUp, .compareOpen, .compareChoose, .compareClose:
        return performCompare(&state, id)
    case .reviewRight, .reviewWrong, .reviewSkip, .reviewUndo, .reviewNext, .reviewPrevious, .reviewKind, .reviewClose:
        return performReview(&state, id)
    case .copyID:
        let id = state.screen == .results ? state.retrieval.results.selectedRow?.sampleID : state.selectedSample?.id
        guard let id else { return [] }
        state.status = StatusLine("copied \(id) to the clipboard (OSC 52)")
        return [.copyToClipboard(id)]
    case .findDeleteBack:
        if var text = state.findText, !text.isEmpty { text.removeLast(); state.focus = .find(text) }
        return []
    case .findCancel:
        if state.findText != nil { state.focus = .results }
        return []
    case .findAccept:
        return findInResults(&state)
    case .startGoto:
        guard state.dataset != nil else { return [] }
        state.focus = .goto("", over: state.screen)
        return []
    case .gotoDeleteBack:
        if var text = state.gotoText, !text.isEmpty { text.removeLast(); state.focus = .goto(text, over: state.screen) }
        return []
    case .gotoCancel:
        if state.gotoText != nil { state.focus = state.focus.closed }
        return []
    case .gotoAccept:
        return goTo(&state)
    case .clearFilter:
        guard !state.filter.isEmpty else { return [] }
        state.filter = ""
        return applyFilter(&state) + requestImages(&state)
    case .filterAccept:
        if state.editingFilter { state.focus = state.focus.closed }
        return []
    case .filterCancel:
        if state.editingFilter { state.focus = state.focus.closed }
        state.filter = ""
        return applyFilter(&state) + requestImages(&state)
    case .filterDeleteBack:
        guard !state.filter.isEmpty else { return [] }
        state.filter.removeLast()
        return applyFilter(&state) + requestImages(&state)
    case .filterDeleteWord:
        while state.filter.last == " " { state.filter.removeLast() }
        while let c = state.filter.last, c != " " { state.filter.removeLast() }
        return applyFilter(&state) + requestImages(&state)
    case .startSearch, .searchWithSample, .cycleQueryMode, .toggleInspect, .showResults,
         .resultsDown, .resultsUp, .resultsPageDown, .resultsPageUp, .resultsTop, .resultsBottom,
         .resultsWheelDown, .resultsWheelUp, .resultsCycleMode, .resultsSearch, .toggleAttention, .toggleQueryView, .resultsOrder, .resultsFind, .nextAttentionToken,
         .flagWrong, .flagConfirm, .flagUndo, .inspectNext, .inspectPrevious, .closeResults,
         .queryAccept, .queryCancel, .queryDeleteBack, .queryDeleteWord, .queryClear, .queryHistoryPrevious, .queryHistoryNext:
        // Raw values are equal (`RetrievalCommand`); a test checks every one maps.
        guard let command = RetrievalCommand(rawValue: id.rawValue) else { return [] }
        return updateRetrieval(&state, .command(command))
    case .trainingOpen, .trainingTogglePane, .trainingPause, .trainingCancel, .trainingCancelConfirm, .trainingCancelDismiss,
         .trainingDialogNext, .trainingDialogPrevious, .trainingDialogIncrease, .trainingDialogDecrease, .trainingDialogStart,
         .trainingDialogClose, .trainingDialogDeleteBack, .trainingDialogDeleteWord,
         .modelUseNew, .modelPick, .modelPickerDown, .modelPickerUp, .modelPickerChoose, .modelPickerClose:
        // Raw values are equal (`TrainingCommand`); a test checks every one maps.
        guard let command = TrainingCommand(rawValue: id.rawValue) else { return [] }
        return updateTrainingUI(&state, .command(command))
    }
}

/// The mouse goes through the key map as keys do (`click`, `wheel-up` and `wheel-down` are
/// bound to actions); a click's action is carried out on the row under it. While a filter or a
/// search is being typed, the mouse acts on the list or the results beside it.
private func handleMouse(_ state: inout ExplorerState, _ m: MouseEvent) -> [Effect] {
    let key: Key
    switch m.button {
    case .left: key = .click
    case .wheelUp: key = .wheelUp
    case .wheelDown: key = .wheelDown
    case .middle, .right: return []
    }
    var context = state.context
    if context.isTextEntry { context = state.screen == .results ? .results : .browser }
    guard let id = state.keyMap.action(for: key, in: context) else { return [] }
    // A click's two actions act on the row under it; every other action is performed as a key's.
    let layout = Layout(state)
    if id == .clickSample {
        guard state.screen == .browser, layout.browser.contains(x: m.x, y: m.y) else { return [] }
        let row = m.y - layout.listTop
        guard row >= 0, row < layout.listRows else { return [] }
        return move(&state, to: state.browser.scroll + row)
    }
    if id == .clickMatch {
        guard state.screen == .results, layout.browser.contains(x: m.x, y: m.y), m.y >= layout.resultsTop else { return [] }
        let row = (m.y - layout.resultsTop) / layout.resultRowHeight
        guard row < layout.resultRows else { return [] }
        return updateRetrieval(&state, .highlight(state.retrieval.results.scroll + row))
    }
    return perform(&state, id)
}

/// Says for a few seconds that a key does nothing here (and which key shows the help).
private func noActionHere(_ state: inout ExplorerState, _ key: Key) -> [Effect] {
    state.statusSerial += 1
    var text = "\(KeyName.quoted(key)): no action here"
    if !state.context.isModal, let help = state.keyName(.help) { text += " — \(help) for help" }
    state.status = StatusLine(text, serial: state.statusSerial)
    return [.expireStatus(serial: state.statusSerial, seconds: 3)]
}

// MARK: - Browser

private func move(_ state: inout ExplorerState, by delta: Int) -> [Effect] {
    let b = state.browser
    let target = delta > 0 && b.selected > Int.max - delta ? Int.max : b.selected + delta
    return move(&state, to: target)
}

private func move(_ state: inout ExplorerState, to position: Int) -> [Effect] {
    var b = state.browser
    guard !b.visible.isEmpty else { return [] }
    let p = min(max(0, position), b.visible.count - 1)
    guard p != b.selected else { return [] }
    b.selected = p
    state.browser = b
    clampScroll(&state)
    return requestImages(&state)
}

/// Lists the matches in `order`, the highlighted one kept highlighted.
func orderResults(_ state: inout ExplorerState, _ order: ResultOrder) -> [Effect] {
    var r = state.retrieval.results
    guard !r.rows.isEmpty else { return [] }
    let highlighted = r.selectedRow?.sampleID
    let current = state
    let label = { (row: ResultRow) in current.sample(id: row.sampleID)?.product ?? "\u{10FFFF}" }
    switch order {
    case .rank: r.rows.sort { $0.rank < $1.rank }
    case .label: r.rows.sort { (label($0), $0.rank) < (label($1), $1.rank) }
    case .id: r.rows.sort { ($0.sampleID, $0.rank) < ($1.sampleID, $1.rank) }
    }
    r.order = order
    r.selected = r.rows.firstIndex { $0.sampleID == highlighted } ?? 0
    state.retrieval.results = r
    state.status = StatusLine("matches by \(order.rawValue)")
    let position = state.retrieval.results.selected
    state.retrieval.results.selected = -1   // so that moving to it counts as a move
    return moveResult(&state, to: position)
}

/// Highlights the next match (after the highlighted one, wrapping) whose id, caption or label
/// contains the text typed after `/`, as the browser's filter compares them.
private func findInResults(_ state: inout ExplorerState) -> [Effect] {
    guard let text = state.findText else { return [] }
    state.focus = .results
    state.retrieval.results.findText = text
    let rows = state.retrieval.results.rows
    guard !text.isEmpty, !rows.isEmpty else { return [] }
    let filter = SampleFilter(text)
    let start = max(0, state.retrieval.results.selected)
    for step in 1 ... rows.count {
        let p = (start + step) % rows.count
        let row = rows[p]
        let matches = state.sample(id: row.sampleID).map(filter.matches) ?? row.sampleID.contains(text)
        if matches {
            state.status = StatusLine("“\(text)”: match #\(row.rank)" + (p <= start ? " (from the top)" : ""))
            if p == start { return [] }
            return moveResult(&state, to: p)
        }
    }
    state.status = StatusLine("no match of these results contains “\(text)”", role: .warning)
    return []
}

/// Goes to the sample whose id was typed (`:`): in the current split, else the first other split
/// that has it; the browser shows it selected, the filter cleared if it hid it.
private func goTo(_ state: inout ExplorerState) -> [Effect] {
    guard let text = state.gotoText else { return [] }
    state.focus = .browser
    let id = text.trimmingCharacters(in: .whitespaces)
    guard !id.isEmpty, let loaded = state.loaded else { return [] }
    let splits = loaded.dataset.splits
    let order = [state.splitIndex] + splits.indices.filter { $0 != state.splitIndex }
    guard let (index, position) = order.lazy.compactMap({ i in splits[i].position(ofID: id).map { (i, $0) } }).first else {
        let pending = loaded.pendingSplits.isEmpty ? "" : " yet (\(loaded.pendingSplits.joined(separator: ", ")) is still being indexed)"
        state.status = StatusLine("No sample has the id “\(id)” in any split\(pending).", role: .warning)
        return []
    }
    state.splitIndex = index
    var effects = state.browser.appliedFilter != state.filter ? applyFilter(&state) : []
    var cleared = false
    if binarySearch(state.browser.visible, position) == nil, !state.filter.isEmpty {
        state.filter = ""
        effects = applyFilter(&state)
        cleared = true
    }
    if let k = binarySearch(state.browser.visible, position) {
        state.browser.selected = k
        clampScroll(&state)
    }
    let split = splits[index]
    state.status = StatusLine("\(id): \(split.name), line \(split.samples[position].line)" + (cleared ? "; the filter was cleared to show it" : ""))
    return effects + requestImages(&state)
}

private func switchSplit(_ state: inout ExplorerState, by delta: Int) -> [Effect] {
    guard let d = state.dataset, d.splits.count > 1 else { return [] }
    let n = d.splits.count
    state.splitIndex = ((state.splitIndex + delta) % n + n) % n
    let filtering = state.browser.appliedFilter != state.filter ? applyFilter(&state) : []
    return filtering + requestImages(&state)
}

/// Recomputes the visible samples of the current split for the filter,
/// keeping the selected sample selected when it still passes. A large split read from its file
/// is filtered in the background (`Effect.filter`); `visible` then fills as matches are found,
/// and a filter that extends a finished one only re-checks its matches.
func applyFilter(_ state: inout ExplorerState) -> [Effect] {
    guard let loaded = state.loaded, state.splitIndex < loaded.searchIndexes.count else { return [] }
    let index = loaded.searchIndexes[state.splitIndex]
    var b = state.browser
    let running = b.search.map { !$0.done } ?? false
    // While a search has found nothing yet, the sample to select again is still the one before it.
    let previous: Int? = b.selected < b.visible.count ? b.visible[b.selected] : running ? b.search?.reselect : nil
    b.appliedFilter = state.filter
    if index.filtersInBackground && !state.filter.isEmpty {
        state.filterGeneration += 1
        let generation = state.filterGeneration
        var within: [Int]? = nil
        if let base = b.lastComplete, SampleFilter(base.text).narrows(to: SampleFilter(state.filter)) {
            within = base.matches
        }
        b.search = FilterSearch(generation: generation, checked: 0, total: within?.count ?? index.count, done: false,
                                reselect: previous)
        b.visible = []
        b.selected = 0
        b.scroll = 0
        state.browser = b
        return [.filter(split: state.splitIndex, generation: generation, job: FilterJob(text: state.filter, within: within))]
    }
    b.visible = index.matches(state.filter)
    b.search = nil
    if let p = previous, let i = binarySearch(b.visible, p) { b.selected = i } else { b.selected = 0 }
    state.browser = b
    clampScroll(&state)
    guard running else { return [] }
    state.filterGeneration += 1
    return [.filter(split: state.splitIndex, generation: state.filterGeneration, job: nil)]
}

/// Matches from a background filter: appended to the split's visible samples if they answer its
/// current filter (an answer to a replaced filter is dropped).
func receiveFilterMatches(_ state: inout ExplorerState, _ found: FilterFound) -> [Effect] {
    guard found.split < state.browsers.count, var search = state.browsers[found.split].search,
          search.generation == found.generation else { return [] }
    var b = state.browsers[found.split]
    let start = b.visible.count
    b.visible += found.matches
    search.checked += found.checked
    search.done = found.done
    if let p = search.reselect, let i = found.matches.firstIndex(of: p), b.selected == 0 {
        b.selected = start + i
        search.reselect = nil
    }
    b.search = search
    if found.done, let text = b.appliedFilter { b.lastComplete = CompletedFilter(text: text, matches: b.visible) }
    state.browsers[found.split] = b
    guard found.split == state.splitIndex else { return [] }
    clampScroll(&state)
    return start == 0 && !found.matches.isEmpty || b.selected >= start ? requestImages(&state) : []
}

private func binarySearch(_ a: [Int], _ x: Int) -> Int? {
    var lo = 0, hi = a.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if a[mid] < x { lo = mid + 1 } else { hi = mid }
    }
    return lo < a.count && a[lo] == x ? lo : nil
}

/// Keeps the selection on screen, with a little context above and below.
func clampScroll(_ state: inout ExplorerState) {
    let rows = Layout(state).listRows
    var b = state.browser
    let count = b.visible.count
    guard count > 0 else { b.scroll = 0; b.selected = 0; state.browser = b; return }
    b.selected = min(max(0, b.selected), count - 1)
    let margin = rows > 8 ? 2 : 0
    if b.selected < b.scroll + margin { b.scroll = b.selected - margin }
    if b.selected >= b.scroll + rows - margin { b.scroll = b.selected - rows + 1 + margin }
    b.scroll = min(max(0, b.scroll), max(0, count - rows))
    state.browser = b
}

/// Asks for the selected sample's image and its neighbours' (prefetch), when
/// they are not cached or on their way.
public func requestImages(_ state: inout ExplorerState) -> [Effect] {
    guard let split = state.split else { return [] }
    let b = state.browser
    guard !b.visible.isEmpty else { return [] }
    var effects: [Effect] = []
    for offset in [0, 1, -1, 2] {
        let p = b.selected + offset
        guard p >= 0, p < b.visible.count, let path = split.samples[b.visible[p]].imagePath else { continue }
        if state.images[path] == nil {
            state.images.set(.loading, for: path)
            effects.append(.loadImage(path: path, maxSide: state.thumbnailSide))
        } else if offset == 0 {
            state.images.touch(path)
        }
    }
    return effects
}

extension LoadState {
    var isFailed: Bool { if case .failed = self { return true } else { return false } }
}
