import Explorer
import Foundation
import Imaging
import Testing

// The terminal image encoders of issue 16, checked by decoding what they emit with decoders
// (GraphicsTestSupport.swift) written from the protocol descriptions (kitty APC chunks, sixel DCS, iTerm2 OSC 1337,
// tmux passthrough) and comparing the pixels with the source. The decoded pictures of each
// mode are written to $TMPDIR/vitrine-graphics-pictures/ and the bytes per mode are printed.

// MARK: - Helpers

private enum Pictures {
    static let folder: URL = {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vitrine-graphics-pictures")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func write(_ image: RGBImage, _ name: String) throws {
        let png = try PNGEncoder.encode(image)
        try Data(png).write(to: folder.appendingPathComponent(name + ".png"))
    }

    static let sampleImage: String = {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("SampleData/images").path
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".jpg") }.sorted()
        return dir + "/" + (names.first ?? "missing.jpg")
    }()

    /// A smooth two-axis gradient.
    static func gradient(width: Int, height: Int) -> RGBImage {
        var img = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                img[x, y] = RGB(UInt8(x * 255 / (width - 1)), UInt8(64 + y * 128 / (height - 1)),
                                UInt8(255 - x * 200 / (width - 1)))
            }
        }
        return img
    }
}

private func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

// MARK: - Tests

@Suite("GraphicsEncoder: options and frames")
struct GraphicsEncoderOptionTests {
    @Test func parsesImagesOption() throws {
        #expect(try ImagesOption.parse("auto") == .auto)
        #expect(try ImagesOption.parse("kitty") == .fixed(.kitty))
        #expect(try ImagesOption.parse(" Sixel ") == .fixed(.sixel))
        #expect(try ImagesOption.parse("iterm") == .fixed(.iterm))
        #expect(try ImagesOption.parse("iterm2") == .fixed(.iterm))
        #expect(try ImagesOption.parse("blocks") == .fixed(.blocks))
        #expect(try ImagesOption.parse("ascii") == .fixed(.ascii))
        #expect(ImagesOption.fixed(.sixel).description == "sixel")
        #expect(GraphicsProtocol.kitty.drawsPixels && !GraphicsProtocol.blocks.drawsPixels)
    }

    @Test func rejectsUnknownImagesOptionClearly() {
        #expect(throws: GraphicsError.invalidOption("--images: 'png' is not one of auto, kitty, sixel, iterm, blocks, ascii")) {
            try ImagesOption.parse("png")
        }
        // Control characters never reach the message.
        do {
            _ = try ImagesOption.parse("x\u{1B}]0;pwned\u{07}")
            Issue.record("accepted")
        } catch {
            #expect(!error.description.contains("\u{1B}") && !error.description.contains("\u{07}"))
            #expect(error.description.contains("'x?]0;pwned?'"))
        }
    }

    @Test func framesFillTheirCells() throws {
        let source = Pictures.gradient(width: 300, height: 100)
        let cell = CellPixelSize(width: 10, height: 20)
        let stretched = try GraphicsFrame.fitting(source, columns: 12, rows: 5, cellSize: cell, fit: .stretch)
        #expect(stretched.image.width == 120 && stretched.image.height == 100)
        #expect(stretched.columns == 12 && stretched.rows == 5)
        // 300x100 into 43x44 cells of 10x20 (430x880): 430x143, i.e. 43 columns and 8 rows.
        let contained = try GraphicsFrame.fitting(source, columns: 43, rows: 44, cellSize: cell,
                                                  fit: .contain(background: RGB(1, 2, 3)))
        #expect(contained.columns == 43 && contained.rows == 8)
        #expect(contained.image.width == 430 && contained.image.height == 160)
        #expect(contained.image[0, 0] == RGB(1, 2, 3))       // padding above
        #expect(contained.image[0, 80] != RGB(1, 2, 3))      // the picture in the middle
        #expect(throws: GraphicsError.self) {
            try GraphicsFrame(image: RGBImage(width: 10, height: 10), columns: 1, rows: 1, cellSize: cell)
        }
    }

    @Test func refusesAbsurdSizes() {
        let cell = CellPixelSize(width: 10, height: 20)
        let img = RGBImage(width: 4, height: 4)
        #expect(throws: GraphicsError.self) { try GraphicsFrame.fitting(img, columns: 0, rows: 4, cellSize: cell) }
        #expect(throws: GraphicsError.self) { try GraphicsFrame.fitting(img, columns: 5000, rows: 4, cellSize: cell) }
        #expect(throws: GraphicsError.self) {
            try GraphicsFrame.fitting(img, columns: 4, rows: 4, cellSize: CellPixelSize(width: 0, height: 20))
        }
        #expect(throws: GraphicsError.self) {  // 1000x1000 cells of 100x100 pixels: 10^10 pixels
            try GraphicsFrame.fitting(img, columns: 1000, rows: 1000, cellSize: CellPixelSize(width: 100, height: 100))
        }
        #expect(throws: GraphicsError.self) { try GraphicsFrame.fitting(RGBImage(width: 0, height: 0), columns: 4, rows: 4, cellSize: cell) }
        let wide = RGBImage(width: 9000, height: 1)
        #expect(throws: GraphicsError.self) { try KittyGraphics.transmit(wide, id: 1) }
        #expect(throws: GraphicsError.self) { try Sixel.encode(wide) }
        #expect(throws: GraphicsError.self) { try ITermInline.encode(wide, columns: 10, rows: 1) }
        #expect(throws: GraphicsError.self) { try ITermInline.encode(img, columns: 0, rows: 1) }
        #expect(throws: GraphicsError.self) { try Sixel.encode(img, options: SixelOptions(maxColors: 1)) }
        #expect(throws: GraphicsError.self) { try Sixel.encode(img, options: SixelOptions(maxColors: 257)) }
        #expect(throws: GraphicsError.self) { try Sixel.encode(RGBImage(width: 0, height: 0)) }
    }
}

@Suite("GraphicsEncoder: kitty")
struct GraphicsEncoderKittyTests {
    @Test(arguments: [KittyGraphics.Format.rgb, .rgba, .png])
    func transmissionDecodesToTheSourceExactly(format: KittyGraphics.Format) throws {
        let image = Pictures.gradient(width: 130, height: 70)  // 27,300 RGB bytes: several chunks
        let bytes = try KittyGraphics.transmit(image, id: 42, format: format,
                                               placement: .init(columns: 13, rows: 4, placementID: 3))
        let commands = try #require(Decoders.kittyCommands(bytes))
        let images = try #require(Decoders.kittyImages(commands))
        #expect(images.count == 1)
        let first = images[0]
        #expect(first.keys["a"] == "T" && first.keys["i"] == "42" && first.keys["q"] == "2")
        #expect(first.keys["c"] == "13" && first.keys["r"] == "4" && first.keys["C"] == "1" && first.keys["p"] == "3")
        #expect(first.keys["f"] == (format == .rgb ? "24" : format == .rgba ? "32" : "100"))
        #expect(try Decoders.kittyPixels(first) == image)
        if format != .png { #expect(first.chunks > 1) }
    }

    @Test func chunksFollowTheProtocol() throws {
        let image = Pictures.gradient(width: 200, height: 100)  // 60,000 bytes, 80,000 base64
        let commands = try KittyGraphics.transmitCommands(image, id: 7)
        let parsed = try #require(Decoders.kittyCommands(commands.flatMap { $0 }))
        #expect(parsed.count == (80_000 + 4095) / 4096)
        for (n, c) in parsed.enumerated() {
            #expect(c.payload.utf8.count <= 4096)
            let last = n == parsed.count - 1
            #expect(c.keys["m"] == (last ? "0" : "1"))
            if !last { #expect(c.payload.utf8.count % 4 == 0) }
            if n > 0 { #expect(Set(c.keys.keys) == ["m", "q"]) }
        }
        #expect(parsed[0].keys["a"] == "t" && parsed[0].keys["s"] == "200" && parsed[0].keys["v"] == "100")
        #expect(parsed[0].keys["c"] == nil)
        // A small image is one command, without m.
        let small = try #require(Decoders.kittyCommands(try KittyGraphics.transmit(RGBImage(width: 2, height: 2), id: 1)))
        #expect(small.count == 1 && small[0].keys["m"] == nil)
        // Only digits, letters, '=' and ',' in the control data: nothing data-derived.
        for c in commands {
            let control = c.prefix { $0 != UInt8(ascii: ";") }.dropFirst(3)
            #expect(control.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x3D || $0 == 0x2C })
        }
    }

    @Test func alphaTravelsWithRGBA() throws {
        let image = Pictures.gradient(width: 4, height: 2)
        let alpha: [UInt8] = [0, 32, 64, 96, 128, 160, 192, 255]
        let bytes = try KittyGraphics.transmit(image, id: 9, format: .rgba, alpha: alpha)
        let parsed = try #require(Decoders.kittyCommands(bytes))
        let decoded = try #require(Decoders.kittyImages(parsed))
        #expect((0..<8).map { decoded[0].data[$0 * 4 + 3] } == alpha)
        #expect(throws: GraphicsError.self) { try KittyGraphics.transmit(image, id: 9, format: .rgba, alpha: [1, 2]) }
        #expect(throws: GraphicsError.self) { try KittyGraphics.transmit(image, id: 9, format: .rgb, alpha: alpha) }
    }

    @Test func placementAndDeletion() throws {
        #expect(text(try KittyGraphics.place(id: 5, .init(columns: 43, rows: 22)))
                == "\u{1B}_Ga=p,i=5,c=43,r=22,C=1,q=2\u{1B}\\")
        #expect(text(try KittyGraphics.place(id: 5, .init(columns: 8, rows: 4, placementID: 2)))
                == "\u{1B}_Ga=p,i=5,c=8,r=4,C=1,p=2,q=2\u{1B}\\")
        #expect(text(try KittyGraphics.deletePlacements(id: 5)) == "\u{1B}_Ga=d,d=i,i=5,q=2\u{1B}\\")
        #expect(text(try KittyGraphics.deletePlacements(id: 5, placementID: 2)) == "\u{1B}_Ga=d,d=i,i=5,p=2,q=2\u{1B}\\")
        #expect(text(try KittyGraphics.deleteImage(id: 4_294_967_295)) == "\u{1B}_Ga=d,d=I,i=4294967295,q=2\u{1B}\\")
        #expect(text(KittyGraphics.deleteAll) == "\u{1B}_Ga=d,d=A,q=2\u{1B}\\")
        #expect(throws: GraphicsError.self) { try KittyGraphics.place(id: 0, .init(columns: 1, rows: 1)) }
        #expect(throws: GraphicsError.self) { try KittyGraphics.place(id: 1, .init(columns: 1, rows: 1, placementID: 0)) }
        #expect(throws: GraphicsError.self) { try KittyGraphics.place(id: 1, .init(columns: 0, rows: 1)) }
        #expect(throws: GraphicsError.self) { try KittyGraphics.deleteImage(id: 0) }
        #expect(throws: GraphicsError.self) { try KittyGraphics.transmit(RGBImage(width: 1, height: 1), id: 0) }
    }
}

@Suite("GraphicsEncoder: sixel")
struct GraphicsEncoderSixelTests {
    @Test func fewColoursRoundTripWithinRegisterRounding() throws {
        // 7 colours, height not a multiple of 6: the image's own palette, exact up to the 0...100 scale.
        var image = RGBImage(width: 37, height: 23, fill: RGB(10, 20, 30))
        let colours = [RGB(255, 0, 0), RGB(0, 255, 0), RGB(0, 0, 255), RGB(200, 200, 17), RGB(1, 2, 3), RGB(128, 129, 130)]
        for y in 0..<23 { for x in 0..<37 where (x * 7 + y * 3) % 5 != 0 { image[x, y] = colours[(x / 5 + y) % 6] } }
        for dither in [false, true] {
            let bytes = try Sixel.encode(image, options: SixelOptions(dither: dither))
            let decoded = try Decoders.sixel(bytes)
            #expect(decoded.registers == 7)
            let error = ErrorStats(image, decoded.image)
            #expect(error.max <= 1, "dither \(dither): \(error)")
        }
    }

    @Test func runLengthAndBandsAreCompact() throws {
        let flat = RGBImage(width: 200, height: 60, fill: RGB(90, 120, 200))
        let bytes = try Sixel.encode(flat)
        let decoded = try Decoders.sixel(bytes)
        #expect(decoded.image == RGBImage(width: 200, height: 60, fill: RGB(89, 120, 199)) || ErrorStats(flat, decoded.image).max <= 1)
        #expect(decoded.registers == 1 && decoded.colourLines == 10 && decoded.repeats == 10)
        #expect(bytes.count < 140, "\(bytes.count) bytes for a flat 200x60 image")
        #expect(text(bytes).hasPrefix("\u{1B}P0;1;0q\"1;1;200;60#0;2;35;47;78#0!200~-#0!200~-"))
        #expect(text(bytes).hasSuffix("#0!200~\u{1B}\\"))
    }

    @Test func paletteIsSizedToTheImage() {
        #expect(Sixel.colorBudget(width: 430, height: 440, maxColors: 256) == 256)
        #expect(Sixel.colorBudget(width: 40, height: 40, maxColors: 256) == 100)
        #expect(Sixel.colorBudget(width: 2, height: 2, maxColors: 256) == 2)
        #expect(Sixel.colorBudget(width: 430, height: 440, maxColors: 16) == 16)
    }

    @Test func gradientWithAndWithoutDithering() throws {
        let image = Pictures.gradient(width: 240, height: 96)
        let options = [SixelOptions(maxColors: 16, dither: false), SixelOptions(maxColors: 16, dither: true)]
        var results: [(pixel: ErrorStats, block: Double)] = []
        for o in options {
            let decoded = try Decoders.sixel(try Sixel.encode(image, options: o)).image
            #expect(decoded.width == 240 && decoded.height == 96)
            results.append((ErrorStats(image, decoded), ErrorStats.blockMean(image, decoded, block: 6)))
            try Pictures.write(decoded, "gradient-sixel-16-colours-\(o.dither ? "dither" : "nodither")")
        }
        try Pictures.write(image, "gradient-source")
        print("sixel gradient 240x96, 16 colours: no dither per-pixel \(results[0].pixel), 6x6-block mean "
              + String(format: "%.2f", results[0].block) + "; dither per-pixel \(results[1].pixel), 6x6-block mean "
              + String(format: "%.2f", results[1].block))
        #expect(results[0].pixel.mean < 16)
        // Dithering trades per-pixel error for a much closer local average.
        #expect(results[1].block < results[0].block * 0.6)
        // With 256 colours the gradient is close without dithering.
        let full = try Decoders.sixel(try Sixel.encode(image, options: SixelOptions(dither: false))).image
        #expect(ErrorStats(image, full).mean < 3)
    }
}

@Suite("GraphicsEncoder: iTerm2 and tmux")
struct GraphicsEncoderITermTests {
    @Test func inlineImageDecodesExactly() throws {
        let image = Pictures.gradient(width: 50, height: 40)
        for terminator in [ITermInline.Terminator.bel, .st] {
            let bytes = try ITermInline.encode(image, columns: 5, rows: 2, terminator: terminator)
            let (arguments, file) = try #require(Decoders.iterm(bytes))
            #expect(arguments == ["inline": "1", "width": "5c", "height": "2c", "preserveAspectRatio": "0",
                                  "size": String(file.count)])
            #expect(try ImageDecoder.decode(bytes: file, name: "iterm.png") == image)
        }
    }

    @Test func tmuxPassthroughUnwrapsToTheOriginal() throws {
        let image = Pictures.gradient(width: 100, height: 60)
        let kitty = try KittyGraphics.transmitCommands(image, id: 3, format: .rgb,
                                                       placement: .init(columns: 10, rows: 3))
        let wrapped = GraphicsPassthrough.tmux(sequences: kitty)
        #expect(Decoders.tmuxUnwrap(wrapped) == kitty.flatMap { $0 })
        // One wrapper per chunk, each starting ESC P tmux ;
        #expect(text(wrapped).components(separatedBy: "\u{1B}Ptmux;").count - 1 == kitty.count)
        for sequence in [try Sixel.encode(image), try ITermInline.encode(image, columns: 10, rows: 3, terminator: .st),
                         KittyGraphics.deleteAll] {
            #expect(Decoders.tmuxUnwrap(GraphicsPassthrough.tmux(sequence)) == sequence)
        }
        #expect(text(GraphicsPassthrough.tmux(KittyGraphics.deleteAll)) == "\u{1B}Ptmux;\u{1B}\u{1B}_Ga=d,d=A,q=2\u{1B}\u{1B}\\\u{1B}\\")
    }
}

@Suite("GraphicsEncoder: a SampleData photo in every mode")
struct GraphicsEncoderPhotoTests {
    @Test func everyModeOnAPreviewArea() throws {
        let source = try ImageDecoder.decode(path: Pictures.sampleImage)
        // The preview pane at 120x40: 43x44 cells, here at 10x20-pixel cells.
        let cell = CellPixelSize(width: 10, height: 20)
        let frame = try GraphicsFrame.fitting(source, columns: 43, rows: 44, cellSize: cell,
                                              fit: .contain(background: RGB(0, 0, 0)))
        let image = frame.image
        try Pictures.write(image, "photo-source")
        var report: [String] = ["preview \(frame.columns)x\(frame.rows) cells of 10x20 px = \(image.width)x\(image.height) px from \(source.width)x\(source.height) (\((Pictures.sampleImage as NSString).lastPathComponent))"]
        func line(_ mode: String, _ bytes: [UInt8], _ ms: Double, _ extra: String = "") {
            report.append(mode.padding(toLength: 28, withPad: " ", startingAt: 0)
                          + String(format: "%9d bytes  %7.1f ms", bytes.count, ms) + (extra.isEmpty ? "" : "  " + extra))
        }

        for format in [KittyGraphics.Format.rgb, .rgba, .png] {
            var bytes: [UInt8] = []
            let ms = try milliseconds { bytes = try KittyGraphics.transmit(frame, id: 1, format: format, display: true) }
            let parsed = try #require(Decoders.kittyCommands(bytes))
        let decoded = try #require(Decoders.kittyImages(parsed))
            let pixels = try Decoders.kittyPixels(decoded[0])
            #expect(pixels == image)
            let name = format == .rgb ? "rgb" : format == .rgba ? "rgba" : "png"
            try Pictures.write(pixels, "photo-kitty-\(name)")
            line("kitty f=\(format == .rgb ? 24 : format == .rgba ? 32 : 100) (\(name))", bytes, ms, "\(decoded[0].chunks) chunks, exact")
            if format == .png {
                line("kitty png via tmux", GraphicsPassthrough.tmux(sequences: try KittyGraphics.transmitCommands(
                    image, id: 1, format: .png, placement: .init(columns: frame.columns, rows: frame.rows))), 0)
                line("kitty re-place (a=p)", try KittyGraphics.place(id: 1, .init(columns: frame.columns, rows: frame.rows)), 0)
            }
        }

        for dither in [false, true] {
            var bytes: [UInt8] = []
            let ms = try milliseconds { bytes = try Sixel.encode(frame, options: SixelOptions(dither: dither)) }
            let decoded = try Decoders.sixel(bytes)
            let error = ErrorStats(image, decoded.image)
            let block = ErrorStats.blockMean(image, decoded.image, block: 4)
            try Pictures.write(decoded.image, "photo-sixel-\(dither ? "dither" : "nodither")")
            line("sixel \(dither ? "dithered" : "not dithered")", bytes, ms,
                 "\(decoded.registers) colours, error per channel \(error), 4x4-block mean " + String(format: "%.2f", block))
            #expect(decoded.registers <= 256 && decoded.registers > 64)
            #expect(error.mean < (dither ? 10 : 6), "\(error)")
            #expect(block < 4, "\(block)")
        }

        var iterm: [UInt8] = []
        let ms = try milliseconds { iterm = try ITermInline.encode(frame) }
        let (_, file) = try #require(Decoders.iterm(iterm))
        let decoded = try ImageDecoder.decode(bytes: file, name: "iterm.png")
        #expect(decoded == image)
        try Pictures.write(decoded, "photo-iterm")
        line("iterm2 (png)", iterm, ms, "exact")
        report.append("pictures: \(Pictures.folder.path)")
        print(report.map { "[graphics] " + $0 }.joined(separator: "\n"))
    }

    /// Sixel error over many SampleData photos at their own size (no upscaling to smooth them).
    @Test func sixelErrorAcrossSampleDataPhotos() throws {
        let dir = (Pictures.sampleImage as NSString).deletingLastPathComponent
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".jpg") }.sorted()
        let chosen = stride(from: 0, to: names.count, by: max(1, names.count / 40)).prefix(40).map { names[$0] }
        var lines: [String] = []
        for dither in [false, true] {
            var means: [Double] = [], worst = 0, blocks: [Double] = [], bytes = 0, pixels = 0
            for name in chosen {
                let image = try ImageDecoder.decode(path: dir + "/" + name)
                let encoded = try Sixel.encode(image, options: SixelOptions(dither: dither))
                let decoded = try Decoders.sixel(encoded).image
                let error = ErrorStats(image, decoded)
                means.append(error.mean); worst = max(worst, error.max)
                blocks.append(ErrorStats.blockMean(image, decoded, block: 4))
                bytes += encoded.count; pixels += image.width * image.height
            }
            let mean = means.reduce(0, +) / Double(means.count)
            lines.append(String(format: "[graphics] sixel %@ over %d SampleData photos at native size: mean abs error per channel %.2f (worst photo %.2f), max %d, 4x4-block mean %.2f, %.2f bytes/pixel",
                                dither ? "dithered" : "not dithered", chosen.count, mean, means.max() ?? 0, worst,
                                blocks.reduce(0, +) / Double(blocks.count), Double(bytes) / Double(pixels)))
            #expect(mean < (dither ? 5 : 3.5))
            #expect((means.max() ?? 0) < (dither ? 10 : 7))
        }
        print(lines.joined(separator: "\n"))
    }
}
