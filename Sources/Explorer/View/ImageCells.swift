import Imaging

/// Draws images into frame cells: Unicode upper half blocks (two pixels a
/// cell, the top pixel as foreground, the bottom as background) when there is
/// colour and UTF-8; otherwise, or with `--images ascii`, an ASCII density ramp. Over a slow link
/// (`TerminalCapabilities.slowLink`), one colour a cell (a space on the mean of its two pixels) at
/// 3 bits a channel in truecolor and the nearest palette colour without dithering in 256 colours:
/// half the rows of detail, runs of equal colour that cost one attribute change, and only
/// background changes on the wire.
public enum ImageCells {
    /// The ramp from dark to bright, for terminals without colour or UTF-8.
    public static let asciiRamp: [Character] = Array(" .:-=+*#%@")

    /// The size in cells an image takes when fitted into `rect` (aspect kept:
    /// a half-block pixel is about square).
    public static func fittedSize(width: Int, height: Int, in rect: Rect, halfBlocks: Bool) -> (cols: Int, rows: Int) {
        guard width > 0, height > 0, rect.width > 0, rect.height > 0 else { return (0, 0) }
        let pxH = rect.height * 2   // pixels available vertically (both modes: a cell is ~1:2)
        let scale = min(Double(rect.width) / Double(width), Double(pxH) / Double(height))
        let cols = max(1, min(rect.width, Int((Double(width) * scale).rounded())))
        let pixRows = max(1, Int((Double(height) * scale).rounded()))
        let rows = max(1, min(rect.height, (pixRows + 1) / 2))
        return (cols, rows)
    }

    /// Draws `image` centred in `rect`. Returns the rectangle it covered.
    @discardableResult
    public static func draw(_ image: RGBImage, into frame: inout Frame, rect: Rect, capabilities: TerminalCapabilities) -> Rect {
        let halfBlocks = capabilities.imageMode != .ascii
        let (cols, rows) = fittedSize(width: image.width, height: image.height, in: rect, halfBlocks: halfBlocks)
        guard cols > 0, rows > 0 else { return Rect(x: rect.x, y: rect.y, width: 0, height: 0) }
        let x0 = rect.x + (rect.width - cols) / 2
        let y0 = rect.y + (rect.height - rows) / 2
        let scaled = image.resized(width: cols, height: rows * 2)
        let mode = capabilities.colorMode
        if halfBlocks && capabilities.slowLink {
            for r in 0..<rows {
                var foreground: RGB? = nil
                for c in 0..<cols {
                    let a = scaled[c, 2 * r], b = scaled[c, 2 * r + 1]
                    let mean = RGB(UInt8((Int(a.r) + Int(b.r)) / 2), UInt8((Int(a.g) + Int(b.g)) / 2), UInt8((Int(a.b) + Int(b.b)) / 2))
                    let colour = coarse(mean, mode: mode)
                    foreground = foreground ?? colour
                    frame[x0 + c, y0 + r] = Cell(text: " ", width: 1, style: CellStyle(.image, fg: foreground!, bg: colour))
                }
            }
            return Rect(x: x0, y: y0, width: cols, height: rows)
        }
        for r in 0..<rows {
            var foreground: RGB? = nil   // the row's last foreground colour
            for c in 0..<cols {
                let top = shown(scaled[c, 2 * r], x: x0 + c, y: 2 * (y0 + r), mode: mode)
                let bottom = shown(scaled[c, 2 * r + 1], x: x0 + c, y: 2 * (y0 + r) + 1, mode: mode)
                if halfBlocks && top == bottom {
                    // Both halves alike: a space on that background, keeping the foreground the
                    // cell before had, so that only the background changes on the wire.
                    frame[x0 + c, y0 + r] = Cell(text: " ", width: 1, style: CellStyle(.image, fg: foreground ?? top, bg: bottom))
                } else if halfBlocks {
                    foreground = top
                    frame[x0 + c, y0 + r] = Cell(text: "▀", width: 1, style: CellStyle(.image, fg: top, bg: bottom))
                } else {
                    let l = (luma(top) + luma(bottom)) / 2
                    let i = min(asciiRamp.count - 1, Int(l * Double(asciiRamp.count)))
                    frame[x0 + c, y0 + r] = Cell(text: String(asciiRamp[i]), width: 1, style: CellStyle(.image))
                }
            }
        }
        return Rect(x: x0, y: y0, width: cols, height: rows)
    }

    /// A pixel's colour as it is to be drawn: in 256 colours, the palette colour the ordered
    /// dither picks at (x, y) (screen column, pixel row: two a cell), so that an area averages
    /// to its true colour; in truecolor the colour at 4 bits a channel; in other modes the colour
    /// itself (the terminal back end maps it).
    @inline(__always)
    static func shown(_ c: RGB, x: Int, y: Int, mode: ColorMode) -> RGB {
        switch mode {
        case .ansi256: return ColorQuantizer.rgb(ofXterm256: ColorQuantizer.dithered256(c, x: x, y: y))
        // 4 bits a channel (4,096 colours, the middle of each step): neighbours of nearly one
        // colour become runs of one, which cost one attribute change on the wire, not one a cell.
        // At 5 bits a row step with the picture redrawn was 13.8 KB at 120x40, at 4 bits 11.3 KB
        // (README, "Frames over a slow link").
        case .truecolor: return RGB(c.r & 0xF0 | 8, c.g & 0xF0 | 8, c.b & 0xF0 | 8)
        default: return c
        }
    }

    /// A cell's colour over a slow link: 3 bits a channel (512 colours) in truecolor, the nearest
    /// palette colour (no dither, which would break runs) in 256 colours.
    static func coarse(_ c: RGB, mode: ColorMode) -> RGB {
        switch mode {
        case .ansi256: return ColorQuantizer.rgb(ofXterm256: ColorQuantizer.xterm256(c))
        case .truecolor: return RGB(c.r & 0xE0 | 0x10, c.g & 0xE0 | 0x10, c.b & 0xE0 | 0x10)
        default: return c
        }
    }

    /// Relative luminance in 0...1 (Rec. 709 weights on the 8-bit values).
    static func luma(_ c: RGB) -> Double {
        (0.2126 * Double(c.r) + 0.7152 * Double(c.g) + 0.0722 * Double(c.b)) / 256.0
    }
}
