import CNcurses
import Imaging

/// Text attributes of a terminal cell.
public struct TextAttributes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let bold = TextAttributes(rawValue: UInt32(VT_ATTR_BOLD))
    public static let underline = TextAttributes(rawValue: UInt32(VT_ATTR_UNDERLINE))
    public static let reverse = TextAttributes(rawValue: UInt32(VT_ATTR_REVERSE))
    public static let dim = TextAttributes(rawValue: UInt32(VT_ATTR_DIM))
}

/// How a cell will look on this terminal: curses colour numbers and attributes.
public struct TerminalStyle: Hashable, Sendable {
    /// Curses colour numbers. -1: the terminal's default colour; otherwise a
    /// palette index (16 and 256 colours) or a 24-bit `0xRRGGBB` value when the
    /// terminal entry takes direct colour.
    public var fg: Int32
    public var bg: Int32
    public var attributes: TextAttributes
    public init(fg: Int32, bg: Int32, attributes: TextAttributes) {
        self.fg = fg; self.bg = bg; self.attributes = attributes
    }
}

/// Resolves cell styles against a theme and degrades them to a colour mode.
///
/// A cell's colours are its own (image pixels), else its role's, else the
/// theme's foreground and background. In 256 and 16 colours, role colours
/// are quantised with two guards so that a theme keeps its meaning: a role
/// background that differs from the screen background never collapses onto
/// it (a selection bar stays visible; in 16 colours it becomes the nearest
/// grey), and a role's text never takes the colour of its own background
/// (in 16 colours, text that would fall below 3:1 contrast takes the colour
/// with the most contrast on its background instead). Without colour, a role takes the theme's
/// `mono` attributes.
public struct StyleResolver: Sendable {
    public let theme: Theme
    public let mode: ColorMode
    /// Colours in 16-colour mode: 16, or 8 for terminals with only 8 colours.
    public let paletteSize: Int
    /// Colour numbers are 24-bit RGB values (the terminal entry is a direct-colour one).
    public let directColor: Bool
    private let roleStyles: [Role: TerminalStyle]

    /// - Parameters:
    ///   - directColor: whether colour numbers are 24-bit values; defaults to `mode == .truecolor`.
    ///     (A direct-colour terminal in a lower mode shows the quantised colours as RGB values.)
    public init(theme: Theme, mode: ColorMode, paletteSize: Int = 16, directColor: Bool? = nil) {
        self.theme = theme
        self.mode = mode
        self.paletteSize = paletteSize >= 16 ? 16 : 8
        self.directColor = directColor ?? (mode == .truecolor)
        var table: [Role: TerminalStyle] = [:]
        for role in Role.allCases { table[role] = Self.roleStyle(role, theme: theme, mode: mode,
                                                                 palette: self.paletteSize, direct: self.directColor) }
        roleStyles = table
    }

    /// The resolved style of a role (without any per-cell attributes or colours).
    public func style(for role: Role) -> TerminalStyle {
        roleStyles[role] ?? TerminalStyle(fg: -1, bg: -1, attributes: [])
    }

    /// The resolved style of a cell.
    @inline(__always)
    public func resolve(_ cell: CellStyle) -> TerminalStyle {
        var s = style(for: cell.role)
        if cell.bold { s.attributes.insert(.bold) }
        if cell.underline { s.attributes.insert(.underline) }
        if cell.reverse { s.attributes.insert(.reverse) }
        guard mode != .none else { return s }
        if let fg = cell.fg { s.fg = colorNumber(fg) }
        if let bg = cell.bg { s.bg = colorNumber(bg) }
        return s
    }

    /// The curses colour number of `c` in this mode (-1 in mode `.none`).
    public func colorNumber(_ c: RGB) -> Int32 {
        Self.encode(Self.index(c, mode: mode, palette: paletteSize, excluding: nil), mode: mode, direct: directColor)
    }

    // MARK: - Building the role table

    private static func roleStyle(_ role: Role, theme: Theme, mode: ColorMode, palette: Int, direct: Bool) -> TerminalStyle {
        let rs = theme.style(for: role)
        if mode == .none {
            let m = theme.mono[role] ?? RoleStyle()
            return TerminalStyle(fg: -1, bg: -1, attributes: attributes(of: m))
        }
        let attrs = attributes(of: rs)
        let fgRGB = rs.fg ?? theme.foreground
        let bgRGB = rs.bg ?? theme.background

        // The screen background, and this role's background kept apart from it.
        let screen = index(theme.background, mode: mode, palette: palette, excluding: nil)
        var bgIndex = index(bgRGB, mode: mode, palette: palette, excluding: nil)
        var fgIndex = index(fgRGB, mode: mode, palette: palette, excluding: nil)
        switch mode {
        case .ansi256:
            // The palette is dense: the next nearest colour is close.
            if bgRGB != theme.background, bgIndex == screen {
                bgIndex = index(bgRGB, mode: mode, palette: palette, excluding: screen)
            }
            if fgRGB != bgRGB, fgIndex == bgIndex {
                fgIndex = index(fgRGB, mode: mode, palette: palette, excluding: bgIndex)
            }
        case .ansi16:
            // Few colours: a bar that would vanish becomes the nearest grey
            // (black, dark grey, light grey, white), and text that would lose
            // its contrast (below 3:1 where the theme had more) takes the colour
            // with the most contrast on its background.
            if bgRGB != theme.background, bgIndex == screen {
                let greys = palette == 16 ? [0, 8, 7, 15] : [0, 7]
                bgIndex = greys.filter { $0 != screen }.min {
                    ColorQuantizer.distance(bgRGB, ColorQuantizer.ansiPalette[$0]) < ColorQuantizer.distance(bgRGB, ColorQuantizer.ansiPalette[$1])
                } ?? bgIndex
            }
            let shown = Contrast.ratio(ColorQuantizer.ansiPalette[fgIndex], ColorQuantizer.ansiPalette[bgIndex])
            if (fgRGB != bgRGB && fgIndex == bgIndex) || (shown < 3 && Contrast.ratio(fgRGB, bgRGB) >= 3) {
                fgIndex = readable(on: bgIndex, palette: palette)
            }
        case .truecolor, .none:
            break
        }
        return TerminalStyle(fg: encode(fgIndex, mode: mode, direct: direct),
                             bg: encode(bgIndex, mode: mode, direct: direct), attributes: attrs)
    }

    /// The palette colour with the most contrast on the palette colour `background`.
    private static func readable(on background: Int, palette: Int) -> Int {
        let bg = ColorQuantizer.ansiPalette[background]
        return (0..<palette).filter { $0 != background }.max {
            Contrast.ratio(ColorQuantizer.ansiPalette[$0], bg) < Contrast.ratio(ColorQuantizer.ansiPalette[$1], bg)
        } ?? background
    }

    private static func attributes(of rs: RoleStyle) -> TextAttributes {
        var a: TextAttributes = []
        if rs.bold { a.insert(.bold) }
        if rs.underline { a.insert(.underline) }
        if rs.reverse { a.insert(.reverse) }
        if rs.dim { a.insert(.dim) }
        return a
    }

    /// The palette index (or 24-bit value in truecolor) of a colour.
    @inline(__always)
    private static func index(_ c: RGB, mode: ColorMode, palette: Int, excluding: Int?) -> Int {
        switch mode {
        case .truecolor:
            return Int(c.r) << 16 | Int(c.g) << 8 | Int(c.b)
        case .ansi256:
            if let excluding { return ColorQuantizer.nearest256(c, excluding: excluding) }
            return ColorQuantizer.xterm256(c)
        case .ansi16:
            return ColorQuantizer.nearest(c, among: 0..<palette, excluding: excluding)
        case .none:
            return -1
        }
    }

    /// The curses colour number for a palette index (or 24-bit value).
    @inline(__always)
    private static func encode(_ index: Int, mode: ColorMode, direct: Bool) -> Int32 {
        guard direct, index >= 0 else { return Int32(index) }
        let rgb = mode == .truecolor ? index : {
            let c = ColorQuantizer.rgb(ofXterm256: index)
            return Int(c.r) << 16 | Int(c.g) << 8 | Int(c.b)
        }()
        // Direct-colour entries read values below 8 as the ANSI colours 0-7:
        // near-black blues 0x000000...0x000007 become 0x000008 (indistinguishable).
        return Int32(max(rgb, 8))
    }
}
