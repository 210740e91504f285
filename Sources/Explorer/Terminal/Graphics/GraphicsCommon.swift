import Foundation
import Imaging

// What the three terminal image encoders (kitty, sixel, iTerm2; issue 16) share: the protocol
// choice and its `--images` parser, the errors, the size limits, and the input type — an
// `RGBImage` scaled to exactly fill a rectangle of terminal cells.
//
// Every encoder is a pure function from pixels and numbers Vitrine controls (image ids, sizes)
// to bytes. Nothing derived from data (file names, captions) ever goes into an escape string.

/// How images are drawn in the terminal.
///
/// Shared enum for issue 16: detection (`GraphicsDetection.swift`) and drawing should both use
/// this one.
public enum GraphicsProtocol: String, Sendable, Equatable, CaseIterable {
    /// The kitty graphics protocol (kitty, WezTerm, Ghostty, Konsole).
    case kitty
    /// DEC sixel (foot, WezTerm, xterm +sixel, Windows Terminal, mlterm, tmux 3.4+ with sixel).
    case sixel
    /// iTerm2 inline images, OSC 1337 (iTerm2, WezTerm).
    case iterm
    /// Unicode half blocks, two pixels per cell (what the explorer draws today).
    case blocks
    /// Plain ASCII, no colour images.
    case ascii

    /// Whether the mode sends real pixels (one of the three image protocols).
    public var drawsPixels: Bool { self == .kitty || self == .sixel || self == .iterm }

    /// Whether, inside tmux, the mode's sequences go through the passthrough to the outer
    /// terminal: kitty's and iTerm2's do; sixel is drawn by tmux itself (3.4+ built with sixel).
    public var passesThroughTmux: Bool { self == .kitty || self == .iterm }
}

/// The value of `--images`: `auto` (decided by detection) or one fixed mode.
public enum ImagesOption: Sendable, Equatable, CustomStringConvertible {
    case auto
    case fixed(GraphicsProtocol)

    /// The accepted spellings, in the order the help text lists them.
    public static let accepted = ["auto"] + GraphicsProtocol.allCases.map(\.rawValue)

    /// Parses `auto|kitty|sixel|iterm|blocks|ascii` (case-insensitive, surrounding spaces
    /// ignored). `iterm2` is accepted for `iterm`.
    public static func parse(_ text: String) throws(GraphicsError) -> ImagesOption {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        if value == "auto" { return .auto }
        if value == "iterm2" { return .fixed(.iterm) }
        if let mode = GraphicsProtocol(rawValue: value) { return .fixed(mode) }
        throw GraphicsError.invalidOption(
            "--images: '\(GraphicsError.printable(text))' is not one of \(accepted.joined(separator: ", "))")
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .fixed(let mode): return mode.rawValue
        }
    }
}

/// Why an image could not be encoded (or an option parsed). The message is for people.
public enum GraphicsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A command-line value that is not accepted.
    case invalidOption(String)
    /// A size (cells, cell pixels, image pixels) that is zero, negative or absurdly large.
    case invalidSize(String)
    /// An image or placement id outside what the protocol allows.
    case invalidIdentifier(String)
    /// The PNG encoder failed.
    case encodingFailed(String)

    public var description: String {
        switch self {
        case .invalidOption(let m), .invalidSize(let m), .invalidIdentifier(let m), .encodingFailed(let m):
            return m
        }
    }

    /// `text` with control and non-ASCII characters replaced by `?` and cut to 40 characters,
    /// so that an error message cannot carry escape sequences.
    static func printable(_ text: String) -> String {
        let cleaned = text.unicodeScalars.prefix(40).map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" }
        return String(cleaned) + (text.unicodeScalars.count > 40 ? "..." : "")
    }
}

/// Upper bounds every encoder enforces before allocating anything.
public enum GraphicsLimits {
    /// Largest width or height of an encoded image, in pixels.
    public static let maxSide = 8192
    /// Largest pixel count of an encoded image (4096 x 4096).
    public static let maxPixels = 4096 * 4096
    /// Largest rectangle, in cells, an image may cover.
    public static let maxCells = 1000
    /// Largest cell size in pixels.
    public static let maxCellPixels = 512

    static func check(width: Int, height: Int, what: String) throws(GraphicsError) {
        guard width > 0, height > 0 else {
            throw GraphicsError.invalidSize("\(what): a \(width)x\(height) image has no pixels")
        }
        guard width <= maxSide, height <= maxSide, width * height <= maxPixels else {
            throw GraphicsError.invalidSize(
                "\(what): a \(width)x\(height) image is larger than the \(maxSide)-pixel side or \(maxPixels)-pixel limit")
        }
    }

    static func check(columns: Int, rows: Int, what: String) throws(GraphicsError) {
        guard columns > 0, rows > 0, columns <= maxCells, rows <= maxCells else {
            throw GraphicsError.invalidSize("\(what): \(columns)x\(rows) cells is outside 1...\(maxCells) per side")
        }
    }
}

/// The size of one terminal cell in pixels (from `TIOCGWINSZ` or `CSI 16 t`).
public struct CellPixelSize: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
}

/// How a source image is fitted into a cell rectangle.
public enum GraphicsFit: Sendable, Equatable {
    /// Scaled to fill the whole rectangle (the aspect ratio is not kept).
    case stretch
    /// Scaled to fit inside the rectangle keeping its aspect ratio, centred and padded with
    /// `background` to the smallest whole number of cells that holds it.
    case contain(background: RGB)
}

/// An image ready for a terminal: exactly `columns * cellSize.width` by
/// `rows * cellSize.height` pixels, covering `columns` x `rows` cells.
public struct GraphicsFrame: Sendable, Equatable {
    public let image: RGBImage
    public let columns: Int
    public let rows: Int
    public let cellSize: CellPixelSize

    /// A frame from an image that already has the exact pixel size of the cell rectangle.
    public init(image: RGBImage, columns: Int, rows: Int, cellSize: CellPixelSize) throws(GraphicsError) {
        try GraphicsFrame.checkGeometry(columns: columns, rows: rows, cellSize: cellSize)
        guard image.width == columns * cellSize.width, image.height == rows * cellSize.height else {
            throw GraphicsError.invalidSize(
                "frame: a \(image.width)x\(image.height) image does not fill \(columns)x\(rows) cells of "
                + "\(cellSize.width)x\(cellSize.height) pixels")
        }
        self.image = image
        self.columns = columns
        self.rows = rows
        self.cellSize = cellSize
    }

    /// `source` scaled (antialiased bilinear, `RGBImage.resized`) into at most `columns` x `rows`
    /// cells of `cellSize` pixels.
    public static func fitting(_ source: RGBImage, columns: Int, rows: Int, cellSize: CellPixelSize,
                               fit: GraphicsFit = .contain(background: RGB(0, 0, 0))) throws(GraphicsError) -> GraphicsFrame {
        try checkGeometry(columns: columns, rows: rows, cellSize: cellSize)
        guard source.width > 0, source.height > 0 else {
            throw GraphicsError.invalidSize("frame: the source image is empty (\(source.width)x\(source.height))")
        }
        let boxWidth = columns * cellSize.width, boxHeight = rows * cellSize.height
        switch fit {
        case .stretch:
            return try GraphicsFrame(image: source.resized(width: boxWidth, height: boxHeight),
                                     columns: columns, rows: rows, cellSize: cellSize)
        case .contain(let background):
            let scale = min(Double(boxWidth) / Double(source.width), Double(boxHeight) / Double(source.height))
            let width = min(boxWidth, max(1, Int((Double(source.width) * scale).rounded())))
            let height = min(boxHeight, max(1, Int((Double(source.height) * scale).rounded())))
            let usedColumns = (width + cellSize.width - 1) / cellSize.width
            let usedRows = (height + cellSize.height - 1) / cellSize.height
            let scaled = source.resized(width: width, height: height)
            var canvas = RGBImage(width: usedColumns * cellSize.width, height: usedRows * cellSize.height, fill: background)
            let left = (canvas.width - width) / 2, top = (canvas.height - height) / 2
            for y in 0..<height {
                let from = y * width * 3, to = ((top + y) * canvas.width + left) * 3
                canvas.pixels.replaceSubrange(to..<(to + width * 3), with: scaled.pixels[from..<(from + width * 3)])
            }
            return try GraphicsFrame(image: canvas, columns: usedColumns, rows: usedRows, cellSize: cellSize)
        }
    }

    private static func checkGeometry(columns: Int, rows: Int, cellSize: CellPixelSize) throws(GraphicsError) {
        try GraphicsLimits.check(columns: columns, rows: rows, what: "frame")
        guard cellSize.width > 0, cellSize.height > 0,
              cellSize.width <= GraphicsLimits.maxCellPixels, cellSize.height <= GraphicsLimits.maxCellPixels else {
            throw GraphicsError.invalidSize(
                "frame: a \(cellSize.width)x\(cellSize.height)-pixel cell is outside 1...\(GraphicsLimits.maxCellPixels)")
        }
        try GraphicsLimits.check(width: columns * cellSize.width, height: rows * cellSize.height, what: "frame")
    }
}

/// Cursor moves an image is drawn with (all three protocols draw at the cursor).
public enum GraphicsCursor {
    /// `ESC [ row+1 ; column+1 H`: moves to the zero-based `row`, `column`.
    public static func moveTo(row: Int, column: Int) -> [UInt8] {
        Array("\u{1B}[\(max(0, row) + 1);\(max(0, column) + 1)H".utf8)
    }
    /// `ESC 7` (DECSC): saves the cursor position.
    public static let save: [UInt8] = [0x1B, 0x37]
    /// `ESC 8` (DECRC): restores it.
    public static let restore: [UInt8] = [0x1B, 0x38]
}

/// Standard base64 with padding (RFC 4648 §4), which all three protocols use.
enum GraphicsBase64 {
    static func encode(_ bytes: [UInt8]) -> [UInt8] {
        Array(Data(bytes).base64EncodedString().utf8)
    }
}
