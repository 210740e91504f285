/// Where an action applies. Global actions work everywhere except while text
/// is being typed into the filter.
public enum ActionContext: String, Sendable, CaseIterable, Codable {
    case global, browser, results, zoom, filter, query, goto, find, review, dashboard, compare, help, trainingDialog, trainingConfirm, modelPicker

    public var title: String {
        switch self {
        case .global: return "Everywhere"
        case .browser: return "Dataset browser"
        case .results: return "Search results"
        case .filter: return "Typing a filter"
        case .query: return "Typing a search"
        case .goto: return "Typing an id to go to"
        case .find: return "Typing what to find in the results"
        case .review: return "Review queue"
        case .dashboard: return "Evaluation dashboard"
        case .compare: return "Compare mode"
        case .zoom: return "Zoom view"
        case .help: return "Help"
        case .trainingDialog: return "Training dialog"
        case .trainingConfirm: return "Cancel the training run?"
        case .modelPicker: return "Model picker"
        }
    }

    /// Contexts where printable keys are text being typed: only their own
    /// bindings apply (no global ones).
    public var isTextEntry: Bool { self == .filter || self == .query || self == .goto || self == .find }

    /// Modal contexts: only their own bindings apply, like text entry.
    public var isModal: Bool { self == .help || self == .review || self == .dashboard || self == .compare || self == .trainingDialog || self == .trainingConfirm || self == .modelPicker }
}

/// Everything a user can do with a key or the mouse. The one action registry drives
/// dispatch, the `?` help overlay, the footer hints and the README's key table.
public enum ActionID: String, Sendable, CaseIterable, Codable {
    case quit = "quit"
    case help = "help"
    case cycleTheme = "theme.next"
    case toggleLink = "link.toggle"
    case moveUp = "move.up"
    case moveDown = "move.down"
    case pageUp = "move.page-up"
    case pageDown = "move.page-down"
    case halfPageUp = "move.half-page-up"
    case halfPageDown = "move.half-page-down"
    case top = "move.top"
    case bottom = "move.bottom"
    case clickSample = "move.click"
    case wheelDown = "move.wheel-down"
    case wheelUp = "move.wheel-up"
    case nextSplit = "split.next"
    case previousSplit = "split.previous"
    case startFilter = "filter.start"
    case clearFilter = "filter.clear"
    case filterAccept = "filter.accept"
    case filterCancel = "filter.cancel"
    case filterDeleteBack = "filter.delete-back"
    case filterDeleteWord = "filter.delete-word"
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
    case clickMatch = "results.click"
    case resultsWheelDown = "results.wheel-down"
    case resultsWheelUp = "results.wheel-up"
    case resultsCycleMode = "results.mode"
    case resultsSearch = "results.search"
    case toggleAttention = "results.attention"
    case toggleQueryView = "results.query-view"
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
    case copyID = "copy.id"
    case reviewStart = "review.start"
    case reviewRight = "review.right"
    case reviewWrong = "review.wrong"
    case reviewSkip = "review.skip"
    case reviewUndo = "review.undo"
    case reviewNext = "review.next"
    case reviewPrevious = "review.previous"
    case reviewKind = "review.kind"
    case reviewClose = "review.close"
    case dashboardStart = "dashboard.start"
    case dashboardDown = "dashboard.down"
    case dashboardUp = "dashboard.up"
    case dashboardPanel = "dashboard.panel"
    case dashboardOpen = "dashboard.open"
    case dashboardSort = "dashboard.sort"
    case dashboardCurves = "dashboard.curves"
    case dashboardBack = "dashboard.back"
    case dashboardClose = "dashboard.close"
    case compareStart = "compare.start"
    case compareNext = "compare.next"
    case comparePrevious = "compare.previous"
    case compareDown = "compare.down"
    case compareUp = "compare.up"
    case compareOpen = "compare.open"
    case compareChoose = "compare.choose"
    case compareClose = "compare.close"
    case resultsOrder = "results.order"
    case resultsFind = "results.find"
    case findAccept = "find.accept"
    case findCancel = "find.cancel"
    case findDeleteBack = "find.delete-back"
    case exportList = "browser.export"
    case startGoto = "goto.start"
    case gotoAccept = "goto.accept"
    case gotoCancel = "goto.cancel"
    case gotoDeleteBack = "goto.delete-back"
    case helpClose = "help.close"
    case helpScrollUp = "help.scroll-up"
    case helpScrollDown = "help.scroll-down"
    case helpClick = "help.click"
    case helpWheelDown = "help.wheel-down"
    case helpWheelUp = "help.wheel-up"
    // Training (Sources/Explorer/Training/TrainingCommand.swift; raw values equal).
    case trainingOpen = "training.open"
    case trainingTogglePane = "training.toggle-pane"
    case trainingPause = "training.pause"
    case trainingCancel = "training.cancel"
    case trainingCancelConfirm = "training.cancel-confirm"
    case trainingCancelDismiss = "training.cancel-dismiss"
    case trainingDialogNext = "training.dialog.next"
    case trainingDialogPrevious = "training.dialog.previous"
    case trainingDialogIncrease = "training.dialog.increase"
    case trainingDialogDecrease = "training.dialog.decrease"
    case trainingDialogStart = "training.dialog.start"
    case trainingDialogClose = "training.dialog.close"
    case trainingDialogDeleteBack = "training.dialog.delete-back"
    case trainingDialogDeleteWord = "training.dialog.delete-word"
    case modelUseNew = "training.use-model"
    case modelPick = "training.models"
    case modelPickerDown = "training.models.down"
    case modelPickerUp = "training.models.up"
    case modelPickerChoose = "training.models.choose"
    case modelPickerClose = "training.models.close"
    case cycleImages = "images.next"
    case zoomOpen = "zoom.open"
    case reviewZoom = "review.zoom"
    case zoomClose = "zoom.close"
    case zoomNext = "zoom.next"
    case zoomPrevious = "zoom.previous"
    case zoomAttention = "zoom.attention"
}

/// One entry of the registry.
public struct Action: Sendable {
    public let id: ActionID
    /// What it does, for the help and `vitrine keys`. A key it mentions is written as the id of
    /// its action in braces (`{query.accept}`): `KeyMap.describe` names the user's key there.
    public let description: String
    /// A short word for the footer; nil keeps it out of the footer.
    public let hint: String?
    public let defaultKeys: [Key]
    public let context: ActionContext

    public init(_ id: ActionID, _ description: String, hint: String? = nil, keys: [Key], context: ActionContext) {
        self.id = id; self.description = description; self.hint = hint
        self.defaultKeys = keys; self.context = context
    }
}

public enum ActionRegistry {
    /// Every action, in the order the help shows them.
    public static let all: [Action] = [
        Action(.quit, "Quit (Ctrl-C, SIGTERM and SIGHUP also quit cleanly)", hint: "quit", keys: [.char("q")], context: .global),
        Action(.help, "Show or hide this help", hint: "help", keys: [.char("?"), .function(1)], context: .global),
        Action(.copyID, "Copy the id of the selected sample or highlighted match to the clipboard (OSC 52; the terminal must allow it)", keys: [.char("y")], context: .global),
        Action(.reviewStart, "Review queue: walk (query, match) pairs that need a verdict, one key each; resumes where you stopped", hint: "review", keys: [.char("R")], context: .global),
        Action(.dashboardStart, "Evaluation dashboard: the official metrics of the model and the baselines on the query split, AP@10 histogram, per-label AP, precision and recall curves, with drill-down", hint: "dashboard", keys: [.char("D")], context: .global),
        Action(.compareStart, "Compare mode: the model that searches (A) against another model, a baseline or a ranking file (B), query by query", hint: "compare", keys: [.char("C")], context: .global),
        Action(.cycleTheme, "Switch to the next colour theme", hint: "theme", keys: [.char("T")], context: .global),
        Action(.toggleLink, "Slow link: images with less detail and fewer bytes, or full detail again (--link)", hint: "link", keys: [.char("L")], context: .global),
        Action(.cycleImages, "Draw images the next way the terminal can: real pixels (kitty, sixel or iTerm2), half blocks, ASCII (--images)", hint: "images", keys: [.char("I")], context: .global),
        Action(.zoomOpen, "Zoom: the selected sample or highlighted match as large as the terminal allows, beside the query image when the query has one", hint: "zoom", keys: [.char("z")], context: .global),
        Action(.zoomClose, "Leave the zoom view", hint: "back", keys: [.escape, .char("z")], context: .zoom),
        Action(.zoomNext, "The next sample, match or pair, zoomed", hint: "next", keys: [.down, .char("j")], context: .zoom),
        Action(.zoomPrevious, "The previous sample, match or pair, zoomed", keys: [.up, .char("k")], context: .zoom),
        Action(.zoomAttention, "Show or hide the attention map over the match", hint: "attention", keys: [.char("a")], context: .zoom),
        Action(.startGoto, "Go to a sample by its id, in any split ({goto.accept} goes)", keys: [.char(":")], context: .global),

        Action(.moveDown, "Select the next sample", keys: [.down, .char("j")], context: .browser),
        Action(.moveUp, "Select the previous sample", keys: [.up, .char("k")], context: .browser),
        Action(.pageDown, "Page down", keys: [.pageDown, .char(" ")], context: .browser),
        Action(.pageUp, "Page up", keys: [.pageUp, .char("b")], context: .browser),
        Action(.halfPageDown, "Half a page down", keys: [.ctrl("d")], context: .browser),
        Action(.halfPageUp, "Half a page up", keys: [.ctrl("u")], context: .browser),
        Action(.top, "Jump to the first sample", keys: [.home, .char("g")], context: .browser),
        Action(.bottom, "Jump to the last sample", keys: [.end, .char("G")], context: .browser),
        Action(.clickSample, "Select the clicked sample", keys: [.click], context: .browser),
        Action(.wheelDown, "Move three samples down", keys: [.wheelDown], context: .browser),
        Action(.wheelUp, "Move three samples up", keys: [.wheelUp], context: .browser),
        Action(.nextSplit, "Show the next split (train, dev, test, gallery)", hint: "split", keys: [.tab, .char("]")], context: .browser),
        Action(.previousSplit, "Show the previous split", keys: [.backTab, .char("[")], context: .browser),
        Action(.startFilter, "Filter by caption, label or id (incremental)", hint: "filter", keys: [.char("/")], context: .browser),
        Action(.clearFilter, "Clear the filter", keys: [.escape], context: .browser),
        Action(.startSearch, "Search the gallery: type a caption (or image:PATH for an image file), {query.accept} runs it", hint: "search", keys: [.char("s")], context: .browser),
        Action(.searchWithSample, "Search with the selected sample as the query (as its caption, image or both: see {search.mode})", hint: "query", keys: [.enter], context: .browser),
        Action(.cycleQueryMode, "Switch what a sample query uses: caption, image, or both (pair)", hint: "mode", keys: [.char("m")], context: .browser),
        Action(.showResults, "Show the last search results again", keys: [.char("r")], context: .browser),
        Action(.exportList, "Write the samples the filter shows (the whole split without one) to a TSV file in the current folder", keys: [.char("E")], context: .browser),
        Action(.toggleInspect, "Inspect a ranking file (--rankings FILE): its queries, worst AP first", keys: [.char("i")], context: .browser),

        Action(.resultsDown, "Highlight the next match", keys: [.down, .char("j")], context: .results),
        Action(.resultsUp, "Highlight the previous match", keys: [.up, .char("k")], context: .results),
        Action(.resultsPageDown, "Page down", keys: [.pageDown, .char(" ")], context: .results),
        Action(.resultsPageUp, "Page up", keys: [.pageUp, .char("b")], context: .results),
        Action(.resultsTop, "Highlight the first match", keys: [.home, .char("g")], context: .results),
        Action(.resultsBottom, "Highlight the last match", keys: [.end, .char("G")], context: .results),
        Action(.clickMatch, "Highlight the clicked match", keys: [.click], context: .results),
        Action(.resultsWheelDown, "Highlight the next match", keys: [.wheelDown], context: .results),
        Action(.resultsWheelUp, "Highlight the previous match", keys: [.wheelUp], context: .results),
        Action(.toggleAttention, "Show or hide the attention summary of the highlighted match", hint: "attention", keys: [.char("a")], context: .results),
        Action(.toggleQueryView, "Show the query itself (its image, caption and labels) beside the results instead of the highlighted match; again to go back", keys: [.char("v")], context: .results),
        Action(.nextAttentionToken, "Draw the map of the next query word (then the overall map again)", keys: [.char("w")], context: .results),
        Action(.flagWrong, "Flag the highlighted match as wrong (kept for fine-tuning)", hint: "wrong", keys: [.char("f")], context: .results),
        Action(.flagConfirm, "Confirm the highlighted match as right", hint: "right", keys: [.char("c")], context: .results),
        Action(.flagUndo, "Undo the last flag or confirmation of this session", hint: "undo", keys: [.char("u")], context: .results),
        Action(.resultsOrder, "List the matches by rank, by product label or by id (cycles)", keys: [.char("o")], context: .results),
        Action(.resultsFind, "Find a match by id, caption or label: the next one after the highlighted match ({find.accept} finds)", keys: [.char("/")], context: .results),
        Action(.resultsCycleMode, "Switch the sample query's mode (caption, image, pair) and search again", hint: "mode", keys: [.char("m")], context: .results),
        Action(.resultsSearch, "Type a new search", keys: [.char("s")], context: .results),
        Action(.inspectNext, "Inspecting a ranking file: the next query (better AP)", keys: [.char("n")], context: .results),
        Action(.inspectPrevious, "Inspecting a ranking file: the previous query (worse AP)", keys: [.char("N")], context: .results),
        Action(.closeResults, "Back to the dataset browser ({results.show} there shows these results again)", hint: "back", keys: [.escape, .left], context: .results),

        Action(.queryAccept, "Run the search", keys: [.enter], context: .query),
        Action(.queryCancel, "Stop typing and go back", keys: [.escape], context: .query),
        Action(.queryDeleteBack, "Delete the last character", keys: [.backspace], context: .query),
        Action(.queryDeleteWord, "Delete the last word", keys: [.ctrl("w")], context: .query),
        Action(.queryClear, "Clear the line", keys: [.ctrl("u")], context: .query),
        Action(.queryHistoryPrevious, "The previous search of this session", keys: [.up], context: .query),
        Action(.queryHistoryNext, "The next search of this session", keys: [.down], context: .query),

        Action(.filterAccept, "Keep the filter and go back to the list", keys: [.enter, .down, .up], context: .filter),
        Action(.filterCancel, "Clear the filter and go back to the list", keys: [.escape], context: .filter),
        Action(.filterDeleteBack, "Delete the last character", keys: [.backspace], context: .filter),
        Action(.filterDeleteWord, "Delete the last word", keys: [.ctrl("w")], context: .filter),

        Action(.reviewRight, "The match is right (a confirmed verdict), then the next pair", hint: "right", keys: [.char("c")], context: .review),
        Action(.reviewWrong, "The match is wrong (a wrong verdict), then the next pair", hint: "wrong", keys: [.char("f")], context: .review),
        Action(.reviewSkip, "Skip the pair (it counts as reviewed, with no verdict)", hint: "skip", keys: [.char("s")], context: .review),
        Action(.reviewUndo, "Undo the last verdict or skip of this queue", hint: "undo", keys: [.char("u")], context: .review),
        Action(.reviewNext, "The next pair", keys: [.down, .char("j")], context: .review),
        Action(.reviewPrevious, "The previous pair", keys: [.up, .char("k")], context: .review),
        Action(.reviewKind, "Which pairs: the worst queries' top 10, the matches the labels call wrong, or those without a verdict (cycles)", hint: "which", keys: [.char("K")], context: .review),
        Action(.reviewClose, "Leave the queue (it resumes at the first unreviewed pair)", hint: "leave", keys: [.escape, .char("q")], context: .review),
        Action(.reviewZoom, "Zoom: the query and the match side by side, as large as the terminal allows", hint: "zoom", keys: [.char("z")], context: .review),

        Action(.dashboardDown, "The next histogram bar (lower AP), label or query", keys: [.down, .char("j")], context: .dashboard),
        Action(.dashboardUp, "The previous histogram bar (higher AP), label or query", keys: [.up, .char("k")], context: .dashboard),
        Action(.dashboardPanel, "Switch between the AP@10 histogram and the per-label table", hint: "panel", keys: [.tab], context: .dashboard),
        Action(.dashboardOpen, "List the queries of the selected bar or label; on a listed query, show its results ({dashboard.start} comes back)", hint: "open", keys: [.enter], context: .dashboard),
        Action(.dashboardSort, "Sort the per-label table: worst mean AP@10, most queries, or name (cycles)", hint: "sort", keys: [.char("s")], context: .dashboard),
        Action(.dashboardCurves, "On a narrow terminal: show the precision@k and recall@k curves instead of the labels, or back", hint: "curves", keys: [.char("p")], context: .dashboard),
        Action(.dashboardBack, "Back from a list of queries; else leave the dashboard", hint: "back", keys: [.escape], context: .dashboard),
        Action(.dashboardClose, "Leave the dashboard", keys: [.char("q"), .char("D")], context: .dashboard),

        Action(.compareNext, "The next query by ΔAP@10 (from the most improved by B to the most worsened)", hint: "next", keys: [.char("n")], context: .compare),
        Action(.comparePrevious, "The previous query by ΔAP@10", keys: [.char("N")], context: .compare),
        Action(.compareDown, "Highlight the next row of both rankings (in the list of rankers: the next one)", keys: [.down, .char("j")], context: .compare),
        Action(.compareUp, "Highlight the previous row (in the list of rankers: the previous one)", keys: [.up, .char("k")], context: .compare),
        Action(.compareOpen, "In the list of rankers: compare with this one; else show the query's results ({compare.start} comes back)", hint: "open", keys: [.enter], context: .compare),
        Action(.compareChoose, "Choose another ranker B", hint: "B", keys: [.char("b")], context: .compare),
        Action(.compareClose, "Leave the compare mode (in the list of rankers: back to the comparison shown)", hint: "leave", keys: [.escape, .char("q")], context: .compare),

        Action(.findAccept, "Highlight the next match whose id, caption or label contains the text (from the highlighted one, wrapping)", keys: [.enter], context: .find),
        Action(.findCancel, "Stop typing", keys: [.escape], context: .find),
        Action(.findDeleteBack, "Delete the last character", keys: [.backspace], context: .find),

        Action(.gotoAccept, "Go to the sample with this id (current split first, then the others)", keys: [.enter], context: .goto),
        Action(.gotoCancel, "Stop typing and stay", keys: [.escape], context: .goto),
        Action(.gotoDeleteBack, "Delete the last character", keys: [.backspace], context: .goto),

        Action(.helpClose, "Close the help", keys: [.escape, .char("?"), .char("q")], context: .help),
        Action(.helpScrollDown, "Scroll the help down", keys: [.down, .char("j"), .pageDown], context: .help),
        Action(.helpScrollUp, "Scroll the help up", keys: [.up, .char("k"), .pageUp], context: .help),
        Action(.helpClick, "Close the help", keys: [.click], context: .help),
        Action(.helpWheelDown, "Scroll the help down", keys: [.wheelDown], context: .help),
        Action(.helpWheelUp, "Scroll the help up", keys: [.wheelUp], context: .help),
    ] + TrainingCommand.allCases.map { command in
        let context: ActionContext
        switch command.context {
        case .global, .pane: context = .global
        case .dialog: context = .trainingDialog
        case .confirm: context = .trainingConfirm
        case .picker: context = .modelPicker
        }
        return Action(ActionID(rawValue: command.rawValue)!, command.description, hint: command.hint,
                      keys: command.defaultKeys, context: context)
    }

    public static func action(_ id: ActionID) -> Action {
        all.first { $0.id == id }!
    }
}
