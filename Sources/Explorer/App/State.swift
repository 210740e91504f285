import Catalog
import Imaging
import SafeText

public struct Size: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
}

/// What is loaded.
public enum LoadState: Sendable {
    case loading(path: String)
    case failed(String)
    case loaded(LoadedDataset)
}

/// The dataset browser of one split: which samples the filter lets through,
/// which one is selected and where the list is scrolled.
public struct BrowserState: Sendable, Equatable {
    /// Indices into the split's samples that pass the filter, in file order.
    public var visible: [Int] = []
    /// Position in `visible` of the selected sample.
    public var selected: Int = 0
    /// Position in `visible` of the first row on screen.
    public var scroll: Int = 0
    /// The filter `visible` was computed for.
    public var appliedFilter: String? = nil
    /// The background filter of a large file-backed split, while it runs and once it is done:
    /// `visible` fills as it finds matches.
    public var search: FilterSearch? = nil
    /// The last background filter that ran to the end, with its matches: a filter whose text
    /// contains its text only re-checks these.
    public var lastComplete: CompletedFilter? = nil
}

public struct CompletedFilter: Sendable, Equatable {
    public var text: String
    public var matches: [Int]
}

/// A filter running over a large split off the UI thread (`Effect.filter`).
public struct FilterSearch: Sendable, Equatable {
    /// Tells this run's answers from those of runs it replaced.
    public var generation: Int
    /// Samples checked so far, and how many it checks (fewer when it narrows an earlier filter).
    public var checked: Int
    public var total: Int
    public var done: Bool
    /// The sample that was selected before the filter changed: selected again when it is found.
    public var reselect: Int?
}

/// What has the keys, with the view that fills the body under it: one value, so that no two of
/// them hold at once (a filter and a search both being typed, the help over a half-typed line).
public enum Focus: Sendable, Equatable {
    /// The dataset browser.
    case browser
    /// The search results (or an inspected ranking file).
    case results
    /// Typing a filter (`ExplorerState.filter`) over `screen`.
    case filter(over: Screen)
    /// Typing a search into the query bar over `screen`.
    case query(over: Screen)
    /// Typing an id to go to (`:`), over `screen`.
    case goto(String, over: Screen)
    /// Typing what to find among the search results (`/` there).
    case find(String)
    /// The help overlay, scrolled `scroll` lines down, over `screen`.
    case help(scroll: Int, over: Screen)

    /// The focus on a view of the body itself.
    public static func showing(_ screen: Screen) -> Focus {
        switch screen {
        case .browser: return .browser
        case .results: return .results
        }
    }

    /// The view that fills the body; setting it keeps what has the keys.
    public var screen: Screen {
        get {
            switch self {
            case .browser: return .browser
            case .results: return .results
            case .filter(let s), .query(let s), .goto(_, let s), .help(_, let s): return s
            case .find: return .results
            }
        }
        set {
            switch self {
            case .browser, .results: self = .showing(newValue)
            case .filter: self = .filter(over: newValue)
            case .query: self = .query(over: newValue)
            case .goto(let text, _): self = .goto(text, over: newValue)
            case .find(let text): self = newValue == .results ? .find(text) : .showing(newValue)
            case .help(let scroll, _): self = .help(scroll: scroll, over: newValue)
            }
        }
    }

    /// The focus once typing or the help ends: the view under it.
    public var closed: Focus { .showing(screen) }
}

/// A line of feedback in the footer (a theme that failed to load, ...).
public struct StatusLine: Sendable, Equatable {
    public var text: String
    public var role: Role
    /// Set for a line shown only for a while: the number its `.statusExpired` message carries.
    public var serial: Int?
    public init(_ text: String, role: Role = .dim, serial: Int? = nil) { self.text = text; self.role = role; self.serial = serial }
}

/// The explorer's whole state: a value. `update` changes it, `view` draws it.
public struct ExplorerState: Sendable {
    public var size: Size
    public var capabilities: TerminalCapabilities
    public var theme: Theme
    public var keyMap: KeyMap
    public var load: LoadState
    public var splitIndex = 0
    public var browsers: [BrowserState] = []
    /// The last generation given to a background filter (`FilterSearch`).
    public var filterGeneration = 0
    public var filter = ""
    /// What has the keys (the browser, the results, the filter or query being typed, the help)
    /// and which view fills the body under it. The training dialog and its cancel question
    /// are the training component's (`TrainingUIState.modalContext`) and come before it.
    public var focus: Focus = .browser
    public var images = ImageCache()
    public var status: StatusLine? = nil
    /// The number of the last status line shown for a while (`StatusLine.serial`).
    public var statusSerial = 0
    public var requestedTheme: String? = nil
    /// Theme names to cycle through, found once at start (update never reads the disk).
    public var themeNames: [String]
    public var quitting = false
    /// Largest side of decoded preview thumbnails.
    public var thumbnailSide = 256
    /// Queries, results, attention, inspect mode and flags.
    public var retrieval = RetrievalState()
    /// Rows kept free at the bottom of the body for a pane below the others (training progress);
    /// 0 for none. The layout gives it up on terminals too small to hold it.
    public var bottomPaneHeight = 0
    /// The training dialog, the training pane and the run it shows.
    public var training: TrainingUIState
    /// The review queue, while it is open (it takes the body and the keys).
    public var review: ReviewState? = nil
    /// The evaluation dashboard and the compare mode, while they are open (shown, they take the
    /// body and the keys; hidden, they wait for the results of a query opened from them).
    public var dashboard: DashboardState? = nil
    public var compare: CompareState? = nil
    /// The last generation given to workbench work (`WorkbenchEffect`).
    public var workbenchGeneration = 0
    /// A guest session's limits and state (`vitrine explore --guest`); nil for the host's own.
    public var guest: GuestState? = nil
    /// Whether the large images (the preview, the match, the query) are drawn: after a key moves
    /// the selection they wait until it has rested (`Effect.restPreview`), so that scrolling with a
    /// key held down sends list rows, not a picture a row (issue 14, frames that fit the link).
    public var previewSettled = true
    /// Tells the newest rest from older ones.
    public var previewSerial = 0
    /// The zoom view (`z`) is open over the browser, the results or the review queue.
    public var zoomed = false

    public init(size: Size, capabilities: TerminalCapabilities, theme: Theme, keyMap: KeyMap = KeyMap(), dataPath: String,
                themeNames: [String] = ThemeLibrary.available()) {
        self.themeNames = themeNames
        self.size = size
        self.capabilities = capabilities
        self.theme = theme
        self.keyMap = keyMap
        self.load = .loading(path: dataPath)
        self.training = TrainingUIState(settings: TrainingSettings(dataPath: dataPath, runsDirectory: "vitrine-runs"))
    }

    // MARK: Derived

    public var loaded: LoadedDataset? {
        if case .loaded(let l) = load { return l }
        return nil
    }

    public var dataset: Dataset? { loaded?.dataset }

    /// A sample of any split by id, gallery first (result rows are gallery items).
    public func sample(id: String) -> Sample? {
        guard let d = dataset else { return nil }
        if let s = d.gallery?.sample(id: id) { return s }
        for split in d.splits where split.role != .gallery { if let s = split.sample(id: id) { return s } }
        return nil
    }

    public var split: Split? {
        guard let d = dataset, splitIndex < d.splits.count else { return nil }
        return d.splits[splitIndex]
    }

    public var browser: BrowserState {
        get { splitIndex < browsers.count ? browsers[splitIndex] : BrowserState() }
        set { if splitIndex < browsers.count { browsers[splitIndex] = newValue } }
    }

    public var selectedSample: Sample? {
        guard let s = split else { return nil }
        let b = browser
        guard b.selected >= 0, b.selected < b.visible.count else { return nil }
        return s.samples[b.visible[b.selected]]
    }

    /// How the user's key map names the first key of an action, as the screen shows keys;
    /// nil when the action has no key. Hints and messages name keys only through this.
    public func keyName(_ id: ActionID) -> String? {
        keyMap.keys(for: id).first.map { SafeText.inert(KeyName.display($0, unicode: capabilities.unicode), ascii: !capabilities.unicode) }
    }

    /// "KEY does" for each action that has a key, in order: the pieces of an on-screen hint.
    public func keyHints(_ hints: [(ActionID, String)]) -> [String] {
        hints.compactMap { id, does in keyName(id).map { "\($0) \(does)" } }
    }

    /// Which view fills the body: the browser or the search results (under whatever has the focus).
    public var screen: Screen {
        get { focus.screen }
        set { focus.screen = newValue }
    }

    /// How far the help overlay is scrolled; nil when it is not shown.
    public var helpScroll: Int? {
        if case .help(let scroll, _) = focus { return scroll }
        return nil
    }

    /// Whether keys are typed into the filter.
    public var editingFilter: Bool {
        if case .filter = focus { return true }
        return false
    }

    /// The id being typed to go to, while it is.
    public var gotoText: String? {
        if case .goto(let text, _) = focus { return text }
        return nil
    }

    /// What is being typed to find among the results, while it is.
    public var findText: String? {
        if case .find(let text) = focus { return text }
        return nil
    }

    /// Whether keys are typed into the query bar.
    public var editingQuery: Bool {
        if case .query = focus { return true }
        return false
    }

    public var context: ActionContext {
        if let modal = training.modalContext { return modal == .dialog ? .trainingDialog : modal == .picker ? .modelPicker : .trainingConfirm }
        if zoomed, focus == .browser || focus == .results { return .zoom }
        if review != nil, focus == .browser || focus == .results { return .review }
        if dashboard?.hidden == false, focus == .browser || focus == .results { return .dashboard }
        if compare?.hidden == false, focus == .browser || focus == .results { return .compare }
        switch focus {
        case .browser: return .browser
        case .results: return .results
        case .filter: return .filter
        case .query: return .query
        case .goto: return .goto
        case .find: return .find
        case .help: return .help
        }
    }
}
