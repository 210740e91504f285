import Imaging

/// The semantic role of a cell. Themes map roles to colours; the view never
/// names a colour itself (except for image pixels, which carry their own).
public enum Role: String, CaseIterable, Sendable, Codable {
    case text            // ordinary text
    case dim             // secondary text: ids, counts, hints
    case header          // the header bar
    case headerDim       // secondary text in the header bar
    case border          // pane borders and separators
    case title           // pane titles
    case selection       // the selected row
    case accent          // highlights: the filter prompt, active split
    case match           // text matching the filter
    case label           // product labels
    case single          // the "single" tag
    case multi           // the "multi" tag
    case warning         // warnings: missing image, malformed lines
    case error           // errors
    case footer          // the footer bar
    case footerKey       // key names in the footer
    case overlay         // the help overlay's body
    case overlayTitle    // the help overlay's title and headings
    case placeholder     // image placeholders ("loading", "no image")
    case image           // image cells (colours come from the pixels)
}

/// How one cell looks: a role, plus optional explicit colours for image pixels.
public struct CellStyle: Hashable, Sendable {
    public var role: Role
    public var bold: Bool
    public var underline: Bool
    public var reverse: Bool
    /// Explicit foreground/background (image pixels). Nil: the role's colours.
    public var fg: RGB?
    public var bg: RGB?

    public init(_ role: Role, bold: Bool = false, underline: Bool = false, reverse: Bool = false, fg: RGB? = nil, bg: RGB? = nil) {
        self.role = role; self.bold = bold; self.underline = underline; self.reverse = reverse
        self.fg = fg; self.bg = bg
    }
}

/// One terminal cell. A wide character occupies its cell (width 2) and the
/// next one, which holds an empty `text` with width 0 (a continuation).
public struct Cell: Hashable, Sendable {
    public var text: String
    public var width: UInt8
    public var style: CellStyle

    public static let blank = Cell(text: " ", width: 1, style: CellStyle(.text))

    public init(text: String, width: UInt8, style: CellStyle) {
        self.text = text; self.width = width; self.style = style
    }

    public var isContinuation: Bool { width == 0 }
}

/// The whole screen as a grid of cells: what `view(state, size)` returns and
/// what every terminal back end draws.
public struct Frame: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]
    /// Where the terminal cursor should be shown (nil: hidden).
    public var cursor: (x: Int, y: Int)? {
        get { cursorX.map { ($0, cursorY) } }
        set { cursorX = newValue?.x; cursorY = newValue?.y ?? 0 }
    }
    private var cursorX: Int?
    private var cursorY = 0
    /// Pictures drawn with real pixels (kitty, sixel, iTerm2) over cells the view left blank, in
    /// drawing order. Empty unless the explorer draws pixels (`TerminalCapabilities.graphics`);
    /// the terminal back end places them after the cells (`GraphicsPainter`).
    public var pictures: [Picture] = []

    public init(width: Int, height: Int, fill: CellStyle = CellStyle(.text)) {
        self.width = max(0, width)
        self.height = max(0, height)
        self.cells = Array(repeating: Cell(text: " ", width: 1, style: fill), count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            cells[y * width + x] = newValue
        }
    }

    /// Fills a rectangle (clipped to the frame) with blanks of a style.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, style: CellStyle) {
        let x0 = max(0, x), y0 = max(0, y)
        let x1 = min(width, x + w), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 { for xx in x0..<x1 { cells[yy * width + xx] = Cell(text: " ", width: 1, style: style) } }
    }

    /// Writes `text` (already sanitised) from (x, y), clipped at `maxWidth`
    /// columns and at the frame's edge; wide characters never straddle the
    /// clip. Returns the number of columns written.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, maxWidth: Int = .max, style: CellStyle) -> Int {
        guard y >= 0, y < height, x < width else { return 0 }
        let limit = min(maxWidth, width - x)
        var col = 0
        for ch in text {
            let w = DisplayWidth.of(ch)
            if w == 0 {
                // A combining mark: attach it to the previous cell.
                if col > 0, x + col - 1 >= 0 {
                    var i = x + col - 1
                    if i > 0, self[i, y].isContinuation { i -= 1 }
                    cells[y * width + i].text.append(ch)
                }
                continue
            }
            if col + w > limit { break }
            let cx = x + col
            if cx >= 0 {
                // Overwriting half of a wide character leaves a blank, never half a glyph.
                repairBeforeWrite(x: cx, y: y)
                cells[y * width + cx] = Cell(text: String(ch), width: UInt8(w), style: style)
                if w == 2, cx + 1 < width {
                    repairBeforeWrite(x: cx + 1, y: y)
                    cells[y * width + cx + 1] = Cell(text: "", width: 0, style: style)
                }
            }
            col += w
        }
        return col
    }

    private mutating func repairBeforeWrite(x: Int, y: Int) {
        let c = cells[y * width + x]
        if c.isContinuation, x > 0 {
            cells[y * width + x - 1] = Cell(text: " ", width: 1, style: cells[y * width + x - 1].style)
        } else if c.width == 2, x + 1 < width {
            cells[y * width + x + 1] = Cell(text: " ", width: 1, style: c.style)
        }
    }

    /// The frame's text, one string per row (continuation cells omitted).
    public func textLines() -> [String] {
        (0..<height).map { y in
            var s = ""
            for x in 0..<width { let c = cells[y * width + x]; if !c.isContinuation { s += c.text } }
            return s
        }
    }

    public static func == (a: Frame, b: Frame) -> Bool {
        a.width == b.width && a.height == b.height && a.cells == b.cells && a.cursorX == b.cursorX && a.cursorY == b.cursorY
            && a.pictures == b.pictures
    }
}

/// An attention map to tint a picture with: `side` x `side` non-negative weights, row-major,
/// over the picture (which is the letterboxed square the model saw).
public struct AttentionTint: Sendable, Equatable {
    public var map: [Float]
    public var side: Int
    public init(map: [Float], side: Int) { self.map = map; self.side = side }
}

/// A picture in a frame: `source` fitted (aspect kept, centred) into the cells of `rect`, which the
/// view leaves blank. `key` names what it shows: two pictures with one key and one rectangle are
/// the same picture, so a back end compares keys, never pixels. Keys are built by the view from
/// paths and numbers; they never reach the terminal.
public struct Picture: Sendable, Equatable {
    /// The cells it covers, inside the frame.
    public var rect: Rect
    public var key: String
    public var source: RGBImage
    /// Drawn over the pixels (the attention view), applied when the picture is encoded.
    public var tint: AttentionTint?

    public init(rect: Rect, key: String, source: RGBImage, tint: AttentionTint? = nil) {
        self.rect = rect; self.key = key; self.source = source; self.tint = tint
    }

    /// Same key, same rectangle: the same picture (pixels are not compared).
    public static func == (a: Picture, b: Picture) -> Bool { a.key == b.key && a.rect == b.rect }
}

extension Frame {
    /// A pane's border around `r` (box-drawing characters, or `-|+` without UTF-8), in the border role.
    public mutating func drawBorder(_ r: Rect, unicode: Bool) {
        guard r.width >= 2, r.height >= 2 else { return }
        let (h, v, tl, tr, bl, br) = unicode ? ("─", "│", "┌", "┐", "└", "┘") : ("-", "|", "+", "+", "+", "+")
        let s = CellStyle(.border)
        for x in r.x + 1..<r.maxX - 1 {
            put(h, x: x, y: r.y, style: s)
            put(h, x: x, y: r.maxY - 1, style: s)
        }
        for y in r.y + 1..<r.maxY - 1 {
            put(v, x: r.x, y: y, style: s)
            put(v, x: r.maxX - 1, y: y, style: s)
        }
        put(tl, x: r.x, y: r.y, style: s); put(tr, x: r.maxX - 1, y: r.y, style: s)
        put(bl, x: r.x, y: r.maxY - 1, style: s); put(br, x: r.maxX - 1, y: r.maxY - 1, style: s)
    }
}
