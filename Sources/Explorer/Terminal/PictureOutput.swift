import CNcurses
import Imaging
#if canImport(Glibc)
import Glibc
#endif

/// A picture written straight to a terminal, outside the explorer (`vitrine show`): the same
/// fitting and encoders as the explorer's pictures, with the cursor left on the line below.
public enum PictureOutput {
    /// The terminal's size in cells, and a cell's size in pixels when the terminal reports it.
    public static func windowSize(fd: Int32 = STDOUT_FILENO) -> (columns: Int, rows: Int, cell: CellPixelSize?)? {
        var cols: Int32 = 0, rows: Int32 = 0, xp: Int32 = 0, yp: Int32 = 0
        guard vt_winsize(fd, &cols, &rows, &xp, &yp) != 0, cols > 0, rows > 0 else { return nil }
        let cell = xp > 0 && yp > 0 ? CellPixelSize(width: Int(xp / cols), height: Int(yp / rows)) : nil
        return (Int(cols), Int(rows), cell.flatMap { $0.width > 0 && $0.height > 0 ? $0 : nil })
    }

    /// The bytes that draw `image` fitted into `columns` x `rows` cells in `mode`, then move to the
    /// line below it. `compact`: PNG for kitty, no dithering for sixel. `truecolor` picks 24-bit
    /// colours for half blocks (else the 256-colour palette).
    public static func encode(_ image: RGBImage, mode: GraphicsProtocol, columns: Int, rows: Int, cell: CellPixelSize,
                              compact: Bool, truecolor: Bool, tmuxPassthrough: Bool = false) throws(GraphicsError) -> (bytes: [UInt8], columns: Int, rows: Int) {
        switch mode {
        case .kitty, .sixel, .iterm:
            let (c, r) = PictureFit.cells(width: image.width, height: image.height, columns: columns, rows: rows, cell: cell)
            guard c > 0, r > 0 else { throw GraphicsError.invalidSize("show: nothing fits in \(columns)x\(rows) cells") }
            let frame = try GraphicsFrame.fitting(image, columns: c, rows: r, cellSize: cell)
            var out: [UInt8]
            switch mode {
            case .kitty:
                let commands = try KittyGraphics.transmitCommands(frame.image, id: 1, format: compact ? .png : .rgb,
                                                                  placement: KittyGraphics.Placement(columns: frame.columns, rows: frame.rows))
                out = tmuxPassthrough ? GraphicsPassthrough.tmux(sequences: commands) : commands.flatMap { $0 }
            case .sixel:
                out = try Sixel.encode(frame, options: SixelOptions(dither: !compact))
            default:
                let inline = try ITermInline.encode(frame)
                out = tmuxPassthrough ? GraphicsPassthrough.tmux(inline) : inline
            }
            // kitty leaves the cursor where it was (C=1); sixel and iTerm2 leave it on the image's
            // last row. Either way: the start of the line below the picture.
            if mode == .kitty { out += Array(String(repeating: "\n", count: frame.rows).utf8) } else { out += [0x0A] }
            return (out, frame.columns, frame.rows)
        case .blocks, .ascii:
            var caps = TerminalCapabilities(colorMode: truecolor ? .truecolor : .ansi256, unicode: true, mouse: false)
            caps.images = mode
            var frame = Frame(width: columns, height: rows)
            let rect = ImageCells.draw(image, into: &frame, rect: Rect(x: 0, y: 0, width: columns, height: rows), capabilities: caps)
            var out = ""
            for y in rect.y..<rect.maxY {
                for x in rect.x..<rect.maxX {
                    let c = frame[x, y]
                    if mode == .blocks, let fg = c.style.fg, let bg = c.style.bg {
                        out += "\u{1B}[" + colour(fg, base: 38, truecolor: truecolor) + ";" + colour(bg, base: 48, truecolor: truecolor) + "m" + c.text
                    } else {
                        out += c.text
                    }
                }
                out += mode == .blocks ? "\u{1B}[0m\n" : "\n"
            }
            return (Array(out.utf8), rect.width, rect.height)
        }
    }

    static func colour(_ c: RGB, base: Int, truecolor: Bool) -> String {
        truecolor ? "\(base);2;\(c.r);\(c.g);\(c.b)" : "\(base);5;\(ColorQuantizer.xterm256(c))"
    }
}
