/// A rectangle of cells.
public struct Rect: Sendable, Equatable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = max(0, width); self.height = max(0, height)
    }
    public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < x + width && py >= y && py < y + height }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    /// The rectangle less a margin on every side.
    public func inset(_ d: Int) -> Rect { Rect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d) }
}

/// Where each part of the screen goes, for a terminal size. Shared by `view`
/// (drawing) and `update` (paging, mouse hit-testing), so they always agree.
public struct Layout: Sendable, Equatable {
    public static let minimumWidth = 60
    public static let minimumHeight = 16

    public let size: Size
    public let header: Rect
    public let browser: Rect      // the list pane, border included
    public let preview: Rect      // the preview pane, border included
    public let footer: Rect
    /// A pane across the bottom of the body (training progress); zero height when there is none.
    public let bottom: Rect

    public var tooSmall: Bool { size.width < Layout.minimumWidth || size.height < Layout.minimumHeight }

    /// Rows of samples the list shows (inside its border, below its column header).
    public var listRows: Int { max(1, browser.height - 3) }
    /// The first screen row of the list's samples.
    public var listTop: Int { browser.y + 2 }

    /// The results pane's rows: the first screen row of matches, how many rows each match takes
    /// (3 with a thumbnail when there is room, else 1) and how many matches fit.
    public var resultsTop: Int { browser.y + 3 }
    public var resultRowHeight: Int { browser.height - 4 >= 12 && browser.width >= 44 ? 3 : 1 }
    public var resultRows: Int { max(1, (browser.height - 4) / resultRowHeight) }

    /// The layout for a state (its size and bottom pane).
    public init(_ state: ExplorerState) {
        self.init(size: state.size, bottomPaneHeight: state.bottomPaneHeight)
    }

    /// `bottomPaneHeight` rows are kept for a pane below the others when the body keeps at least
    /// the minimum height without them; otherwise the bottom pane gets no rows.
    public init(size: Size, bottomPaneHeight: Int = 0) {
        self.size = size
        let w = size.width, h = size.height
        header = Rect(x: 0, y: 0, width: w, height: 1)
        footer = Rect(x: 0, y: h - 1, width: w, height: 1)
        let bottomH = bottomPaneHeight > 0 && h - 2 - bottomPaneHeight >= Layout.minimumHeight - 2 ? bottomPaneHeight : 0
        bottom = Rect(x: 0, y: h - 1 - bottomH, width: w, height: bottomH)
        let bodyH = max(0, h - 2 - bottomH)
        // The list takes a bit more than half; the preview needs room for an image.
        let listW = w >= 120 ? w * 11 / 20 : max(30, w * 13 / 25)
        browser = Rect(x: 0, y: 1, width: listW, height: bodyH)
        preview = Rect(x: listW, y: 1, width: w - listW, height: bodyH)
    }
}
