import Foundation
import Imaging

/// How many colours the terminal can show. Vitrine degrades every theme and
/// every image to the mode it finds (or is told with `--color`).
public enum ColorMode: String, Sendable, CaseIterable, Codable {
    case truecolor
    case ansi256 = "256"
    case ansi16 = "16"
    case none
}

/// What the terminal can do, decided once at start (and on `--color`).
public struct TerminalCapabilities: Sendable, Equatable {
    public var colorMode: ColorMode
    /// The locale and terminal take UTF-8 (half blocks, CJK); otherwise ASCII only.
    public var unicode: Bool
    public var mouse: Bool
    /// The link to the terminal is slow (`--link slow`, `L`): images trade detail for bytes
    /// (`ImageCells`), and the large image waits longer for the selection to rest.
    public var slowLink: Bool
    /// How images are drawn now: real pixels (`.kitty`, `.sixel`, `.iterm`), half blocks or ASCII.
    /// Decided at start (`--images`, detection) and changed with the images key; pixels need
    /// `pixelProtocol` and `cellPixels`, and over a slow link images are blocks (`imageMode`).
    public var images: GraphicsProtocol
    /// The pixel protocol the terminal takes (detected, or forced with `--images`); nil: none.
    public var pixelProtocol: GraphicsProtocol?
    /// A cell's size in pixels, when the terminal reports it.
    public var cellPixels: CellPixelSize?

    public init(colorMode: ColorMode, unicode: Bool, mouse: Bool, slowLink: Bool = false,
                images: GraphicsProtocol = .blocks, pixelProtocol: GraphicsProtocol? = nil, cellPixels: CellPixelSize? = nil) {
        self.colorMode = colorMode; self.unicode = unicode; self.mouse = mouse; self.slowLink = slowLink
        self.images = images; self.pixelProtocol = pixelProtocol; self.cellPixels = cellPixels
    }

    /// The mode images are drawn in this frame: pixels only with a pixel protocol and a known cell
    /// size and not over a slow link (`--link slow` keeps blocks); ASCII where blocks cannot show.
    public var imageMode: GraphicsProtocol {
        if images.drawsPixels, images == pixelProtocol, cellPixels != nil, !slowLink { return images }
        if images == .ascii || !unicode || colorMode == .none { return .ascii }
        return .blocks
    }

    /// The modes the images key cycles through, best first: the pixel protocol (if any), blocks
    /// (with UTF-8 and colour), ASCII.
    public var imageModes: [GraphicsProtocol] {
        var modes: [GraphicsProtocol] = []
        if let p = pixelProtocol, cellPixels != nil { modes.append(p) }
        if unicode && colorMode != .none { modes.append(.blocks) }
        modes.append(.ascii)
        return modes
    }
}

/// A key press, decoded by the back end. Key names (for the key map and the
/// help) are produced and parsed by `KeyName`.
public enum Key: Hashable, Sendable {
    case char(Character)        // printable text, including space
    case ctrl(Character)        // ctrl-a ... ctrl-z (lower-case letter)
    case alt(Character)
    case up, down, left, right
    case pageUp, pageDown, home, end
    case enter, escape, backspace, delete, insert, tab, backTab
    case function(Int)          // F1 ... F12
    /// The mouse, named like keys so that the key map, the help and `vitrine keys` cover it:
    /// a left click (where it lands says which row) and the wheel. The back end reports
    /// `MouseEvent`s; `update` names them with these.
    case click, wheelUp, wheelDown
}

public enum MouseButton: Sendable, Equatable { case left, middle, right, wheelUp, wheelDown }

public struct MouseEvent: Sendable, Equatable {
    public var x: Int
    public var y: Int
    public var button: MouseButton
    public init(x: Int, y: Int, button: MouseButton) { self.x = x; self.y = y; self.button = button }
}

/// What the terminal reports.
public enum InputEvent: Sendable, Equatable {
    case key(Key)
    case mouse(MouseEvent)
    case resize(width: Int, height: Int)
    /// SIGINT, SIGTERM or SIGHUP arrived: the app must restore the terminal and exit.
    case signal(Int32)
    /// Another thread called `wake()`: there are messages from background work.
    case wake
}

/// A terminal back end: draws frames, reads input. The ncurses back end talks
/// to the real terminal; the in-memory back end keeps frames for tests.
public protocol TerminalBackend: AnyObject {
    var capabilities: TerminalCapabilities { get }
    var size: (width: Int, height: Int) { get }
    /// Draws a whole frame; the back end sends only what changed.
    func draw(_ frame: Frame, theme: Theme)
    /// Waits for input (at most `timeoutMilliseconds`, -1: forever) and returns
    /// what arrived; never blocks once something is there.
    func waitForEvents(timeoutMilliseconds: Int) -> [InputEvent]
    /// Thread-safe: wakes `waitForEvents` (it returns `.wake`).
    func wake()
    /// Restores the terminal. Idempotent; safe on every exit path.
    func shutdown()
    /// Asks the terminal to put `text` on the system clipboard (OSC 52, `Clipboard.sequence`);
    /// only ever for an explicit user action. Terminals that do not allow it ignore it.
    func setClipboard(_ text: String)
    /// Why pictures of the last frame could not be drawn (empty when all were, or none was asked).
    var pictureFailures: [String] { get }
}

extension TerminalBackend {
    public var pictureFailures: [String] { [] }
}

/// The OSC 52 clipboard write: `ESC ] 52 ; c ; <base64 of the UTF-8 text> BEL`. The text is
/// base64-encoded, so nothing in it (an id from a dataset) can end the sequence or start another.
public enum Clipboard {
    /// Longest text sent: some terminals drop longer OSC 52 writes whole.
    public static let maxBytes = 4096

    public static func sequence(for text: String) -> [UInt8] {
        let bytes = Array(text.utf8.prefix(maxBytes))
        return Array("\u{1B}]52;c;".utf8) + Array(Data(bytes).base64EncodedString().utf8) + [0x07]
    }
}
