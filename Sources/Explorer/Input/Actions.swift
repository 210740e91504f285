/// Where an action applies. Global actions work everywhere except while text
/// is being typed into the filter.
public enum ActionContext: String, Sendable, CaseIterable, Codable {
    case global, browser, filter, help

    public var title: String {
        switch self {
        case .global: return "Everywhere"
        case .browser: return "Dataset browser"
        case .filter: return "Typing a filter"
        case .help: return "Help"
        }
    }
}

/// Everything a user can do with a key. The one action registry drives
/// dispatch, the `?` help overlay, the footer hints and the README's key table.
public enum ActionID: String, Sendable, CaseIterable, Codable {
    case quit = "quit"
    case help = "help"
    case cycleTheme = "theme.next"
    case moveUp = "move.up"
    case moveDown = "move.down"
    case pageUp = "move.page-up"
    case pageDown = "move.page-down"
    case halfPageUp = "move.half-page-up"
    case halfPageDown = "move.half-page-down"
    case top = "move.top"
    case bottom = "move.bottom"
    case nextSplit = "split.next"
    case previousSplit = "split.previous"
    case startFilter = "filter.start"
    case clearFilter = "filter.clear"
    case filterAccept = "filter.accept"
    case filterCancel = "filter.cancel"
    case filterDeleteBack = "filter.delete-back"
    case filterDeleteWord = "filter.delete-word"
    case helpClose = "help.close"
    case helpScrollUp = "help.scroll-up"
    case helpScrollDown = "help.scroll-down"
}

/// One entry of the registry.
public struct Action: Sendable {
    public let id: ActionID
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
        Action(.cycleTheme, "Switch to the next colour theme", hint: "theme", keys: [.char("T")], context: .global),

        Action(.moveDown, "Select the next sample", keys: [.down, .char("j")], context: .browser),
        Action(.moveUp, "Select the previous sample", keys: [.up, .char("k")], context: .browser),
        Action(.pageDown, "Page down", keys: [.pageDown, .char(" ")], context: .browser),
        Action(.pageUp, "Page up", keys: [.pageUp, .char("b")], context: .browser),
        Action(.halfPageDown, "Half a page down", keys: [.ctrl("d")], context: .browser),
        Action(.halfPageUp, "Half a page up", keys: [.ctrl("u")], context: .browser),
        Action(.top, "Jump to the first sample", keys: [.home, .char("g")], context: .browser),
        Action(.bottom, "Jump to the last sample", keys: [.end, .char("G")], context: .browser),
        Action(.nextSplit, "Show the next split (train, dev, test, gallery)", hint: "split", keys: [.tab, .char("]")], context: .browser),
        Action(.previousSplit, "Show the previous split", keys: [.backTab, .char("[")], context: .browser),
        Action(.startFilter, "Filter by caption, label or id (incremental)", hint: "filter", keys: [.char("/")], context: .browser),
        Action(.clearFilter, "Clear the filter", keys: [.escape], context: .browser),

        Action(.filterAccept, "Keep the filter and go back to the list", keys: [.enter, .down, .up], context: .filter),
        Action(.filterCancel, "Clear the filter and go back to the list", keys: [.escape], context: .filter),
        Action(.filterDeleteBack, "Delete the last character", keys: [.backspace], context: .filter),
        Action(.filterDeleteWord, "Delete the last word", keys: [.ctrl("w")], context: .filter),

        Action(.helpClose, "Close the help", keys: [.escape, .char("?"), .char("q")], context: .help),
        Action(.helpScrollDown, "Scroll the help down", keys: [.down, .char("j"), .pageDown], context: .help),
        Action(.helpScrollUp, "Scroll the help up", keys: [.up, .char("k"), .pageUp], context: .help),
    ]

    public static func action(_ id: ActionID) -> Action {
        all.first { $0.id == id }!
    }
}
