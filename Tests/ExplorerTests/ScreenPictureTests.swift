import Catalog
import Explorer
import Foundation
import Imaging
import Testing

/// Pictures of whole screens in every mode (issue 16's report): a frame from `view`, its cells
/// painted as coloured boxes (a cell's background, and a box of its foreground where it has a
/// glyph; half blocks as their two pixels), and its pictures as the terminal would show them,
/// decoded from what `GraphicsPainter` writes (kitty payloads, sixel data, iTerm2 PNGs) at the
/// cursor positions it moves to. Written to $TMPDIR/vitrine-graphics-pictures/screen-*.png, and
/// checked: every picture's decoded pixels land inside its cells and match the source there.
@Suite struct ScreenPictureTests {
    static let cell = CellPixelSize(width: 10, height: 20)
    static let folder: URL = {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vitrine-graphics-pictures")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// The frame's cells as pixels (no font: a glyph is a box in its foreground colour).
    static func cells(_ frame: Frame, theme: Theme) -> RGBImage {
        let cw = cell.width, ch = cell.height
        var image = RGBImage(width: frame.width * cw, height: frame.height * ch, fill: theme.background)
        func fill(_ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ c: RGB) {
            for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { image[x, y] = c } }
        }
        for y in 0..<frame.height {
            for x in 0..<frame.width {
                let c = frame[x, y]
                let role = theme.style(for: c.style.role)
                var fg = c.style.fg ?? role.fg ?? theme.foreground
                var bg = c.style.bg ?? role.bg ?? theme.background
                if c.style.reverse || role.reverse { swap(&fg, &bg) }
                fill(x * cw, y * ch, cw, ch, bg)
                if c.text == "▀" {
                    fill(x * cw, y * ch, cw, ch / 2, fg)
                } else if !c.isContinuation, c.text != " " {
                    fill(x * cw + 2, y * ch + 5, cw * Int(max(1, c.width)) - 4, ch - 10, fg)
                }
            }
        }
        return image
    }

    /// Draws what the painter wrote over `image`: cursor moves, then kitty placements of the
    /// transmitted images, sixel images and iTerm2 PNGs at the cursor. Returns the rectangles
    /// (in pixels) drawn.
    static func paint(_ bytes: [UInt8], over image: inout RGBImage) throws -> [(x: Int, y: Int, image: RGBImage)] {
        var row = 0, col = 0
        var stored: [String: RGBImage] = [:]
        var pending: [Decoders.KittyCommand] = []
        var drawn: [(Int, Int, RGBImage)] = []
        func put(_ picture: RGBImage, columns: Int?, rows: Int?) {
            var p = picture
            if let columns, let rows, (columns * cell.width, rows * cell.height) != (p.width, p.height) {
                p = p.resized(width: columns * cell.width, height: rows * cell.height)
            }
            let x0 = col * cell.width, y0 = row * cell.height
            for y in 0..<p.height where y0 + y < image.height { for x in 0..<p.width where x0 + x < image.width {
                image[x0 + x, y0 + y] = p[x, y]
            } }
            drawn.append((x0, y0, p))
        }
        var i = 0
        while i < bytes.count {
            guard bytes[i] == 0x1B, i + 1 < bytes.count else { throw Decoders.DecodeFailure("stray byte \(bytes[i]) at \(i)") }
            switch bytes[i + 1] {
            case UInt8(ascii: "7"), UInt8(ascii: "8"):
                i += 2
            case UInt8(ascii: "["):
                var j = i + 2
                while j < bytes.count, bytes[j] != UInt8(ascii: "H") { j += 1 }
                let parts = String(decoding: bytes[(i + 2)..<j], as: UTF8.self).split(separator: ";").compactMap { Int($0) }
                row = parts[0] - 1; col = parts[1] - 1
                i = j + 1
            case UInt8(ascii: "_"), UInt8(ascii: "P"), UInt8(ascii: "]"):
                // APC, DCS or OSC: up to ST (or BEL for OSC).
                var j = i + 2
                while j < bytes.count, !(bytes[j] == 0x1B && j + 1 < bytes.count && bytes[j + 1] == 0x5C), !(bytes[i + 1] == UInt8(ascii: "]") && bytes[j] == 0x07) { j += 1 }
                let end = bytes[j] == 0x07 ? j + 1 : j + 2
                let sequence = Array(bytes[i..<end])
                switch bytes[i + 1] {
                case UInt8(ascii: "_"):
                    let command = Decoders.kittyCommands(sequence)![0]
                    if command.keys["a"] == "p", let id = command.keys["i"], let picture = stored[id] {
                        put(picture, columns: Int(command.keys["c"] ?? ""), rows: Int(command.keys["r"] ?? ""))
                    } else if command.keys["a"] == "t" || !pending.isEmpty {
                        pending.append(command)
                        if command.keys["m"] != "1" {
                            let decoded = Decoders.kittyImages(pending)![0]
                            stored[decoded.keys["i"]!] = try Decoders.kittyPixels(decoded)
                            pending = []
                        }
                    }
                case UInt8(ascii: "P"):
                    put(try Decoders.sixel(sequence).image, columns: nil, rows: nil)
                default:
                    let (_, file) = Decoders.iterm(sequence)!
                    put(try ImageDecoder.decode(bytes: file, name: "iterm.png"), columns: nil, rows: nil)
                }
                i = end
            default:
                throw Decoders.DecodeFailure("unknown escape at \(i)")
            }
        }
        return drawn
    }

    func zoomed(_ mode: GraphicsProtocol?, attention: Bool = false) -> ExplorerState {
        let driver = Driver()
        var s = Driver.state(width: 120, height: 40)
        if let mode { ZoomViewTests.pixels(&s, mode) }
        driver.key(&s, .char("j"))
        driver.key(&s, .enter)
        driver.key(&s, .char("z"))
        if attention { driver.key(&s, .char("a")) }
        s.status = nil
        return s
    }

    @Test(arguments: [GraphicsProtocol.kitty, .sixel, .iterm, .blocks])
    func theZoomViewInEachMode(_ mode: GraphicsProtocol) throws {
        for attention in [false, true] {
            let s = zoomed(mode == .blocks ? nil : mode, attention: attention)
            let frame = view(s)
            var image = Self.cells(frame, theme: s.theme)
            if mode.drawsPixels {
                #expect(frame.pictures.count == 2)
                let painter = GraphicsPainter(options: GraphicsPainterOptions(protocolKind: mode, cellSize: Self.cell, background: s.theme.background))
                let plan = painter.plan(frame.pictures, screenCleared: true, frameHeight: frame.height)
                #expect(plan.failures.isEmpty, "\(plan.failures)")
                let drawn = try Self.paint(plan.output, over: &image)
                #expect(drawn.count == 2)
                // Each decoded picture lands on its cells and shows its source there.
                for (picture, shown) in zip(frame.pictures, drawn) {
                    #expect(shown.x == picture.rect.x * Self.cell.width && shown.y == picture.rect.y * Self.cell.height)
                    #expect(shown.image.width == picture.rect.width * Self.cell.width)
                    // A tinted picture's pixels are checked by GraphicsPainterTests.
                    guard picture.tint == nil else { continue }
                    let expected = try GraphicsFrame.fitting(picture.source, columns: picture.rect.width, rows: picture.rect.height, cellSize: Self.cell,
                                                             fit: .contain(background: s.theme.background)).image
                    let error = ErrorStats(expected, shown.image)
                    #expect(mode == .sixel ? error.mean < 12 : error.max == 0, "\(mode): \(error)")
                }
            } else {
                #expect(frame.pictures.isEmpty)
            }
            let png = try PNGEncoder.encode(image)
            try Data(png).write(to: Self.folder.appendingPathComponent("screen-zoom-\(mode.rawValue)\(attention ? "-attention" : "").png"))
        }
    }
}
