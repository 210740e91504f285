import Imaging
import Testing

/// Antialiased bilinear resizing, letterboxing and thumbnails.
@Suite struct ResizeTests {
    @Test(arguments: [(37, 23, 10, 7), (5, 5, 13, 9), (100, 1, 7, 1), (1, 1, 5, 5), (640, 480, 224, 168), (9, 300, 9, 11)])
    func constantImageStaysConstant(_ size: (Int, Int, Int, Int)) {
        let colour = RGB(13, 200, 127)
        let resized = RGBImage(width: size.0, height: size.1, fill: colour).resized(width: size.2, height: size.3)
        #expect(resized.width == size.2 && resized.height == size.3)
        #expect(resized == RGBImage(width: size.2, height: size.3, fill: colour))
    }

    /// Downscaling a checkerboard averages black and white (127.5, rounded up) away from the
    /// edges, where the filter is cut and renormalised.
    @Test(arguments: [(1, 2), (1, 8), (2, 4), (3, 12)])
    func checkerboardDownscaleAverages(_ pattern: (cell: Int, factor: Int)) {
        let side = 96
        var board = RGBImage(width: side, height: side)
        for y in 0..<side {
            for x in 0..<side where (x / pattern.cell + y / pattern.cell) % 2 == 1 {
                board[x, y] = RGB(255, 255, 255)
            }
        }
        let small = board.resized(width: side / pattern.factor, height: side / pattern.factor)
        let margin = 2
        for y in margin..<small.height - margin {
            for x in margin..<small.width - margin {
                let value = Int(small[x, y].r)
                #expect(abs(value - 128) <= 1, "(\(x),\(y)) = \(value)")
                #expect(small[x, y].g == small[x, y].r && small[x, y].b == small[x, y].r)
            }
        }
    }

    /// Values of PIL's `Image.resize((w, h), Image.BILINEAR)` on the fixture pattern, printed by
    /// Fixtures/make_fixtures.py (Pillow 13.0.0): (x, y, r, g, b). PIL rounds its intermediate
    /// image to 8 bits and uses 22-bit fixed-point weights, we keep Float: at most 1 apart.
    @Test func matchesPILBilinearSamples() {
        let source = Fixtures.pattern(width: 61, height: 47)
        let references: [(size: (Int, Int), samples: [(Int, Int, Int, Int, Int)])] = [
            ((17, 13), [(0, 0, 7, 118, 18), (1, 1, 20, 128, 143), (5, 3, 81, 127, 123), (8, 6, 127, 128, 120),
                        (16, 12, 248, 133, 140), (10, 0, 158, 121, 74)]),
            ((40, 47), [(0, 0, 2, 0, 0), (1, 1, 7, 34, 13), (5, 3, 33, 212, 166), (8, 6, 53, 247, 147),
                        (16, 12, 105, 0, 125), (10, 0, 66, 253, 0)]),
            ((61, 20), [(0, 0, 0, 56, 0), (1, 1, 4, 163, 21), (5, 3, 21, 147, 119), (8, 6, 34, 171, 85),
                        (16, 12, 68, 168, 117), (10, 0, 42, 199, 61)]),
            ((150, 101), [(0, 0, 0, 0, 0), (1, 1, 0, 0, 0), (5, 3, 7, 33, 14), (8, 6, 12, 11, 52),
                          (16, 12, 26, 81, 214), (10, 0, 16, 255, 0)]),
        ]
        for reference in references {
            let resized = source.resized(width: reference.size.0, height: reference.size.1)
            for (x, y, r, g, b) in reference.samples {
                let got = resized[x, y]
                #expect(Fixtures.distance(got, RGB(UInt8(r), UInt8(g), UInt8(b))) <= 1,
                        "\(reference.size) at (\(x),\(y)): \(got) vs PIL (\(r), \(g), \(b))")
            }
        }
    }

    /// Whole images against PIL's output, saved by the fixture script as PNG.
    @Test(arguments: Fixtures.manifest.resize)
    func matchesPILBilinearEverywhere(_ reference: Fixtures.ResizeReference) throws {
        let expected = try ImageDecoder.decode(path: Fixtures.path(reference.file))
        let resized = Fixtures.pattern(width: reference.source[0], height: reference.source[1])
            .resized(width: reference.size[0], height: reference.size[1])
        #expect(resized.width == expected.width && resized.height == expected.height)
        var worst = 0, off = 0
        for (a, b) in zip(resized.pixels, expected.pixels) {
            let difference = abs(Int(a) - Int(b))
            worst = max(worst, difference)
            if difference != 0 { off += 1 }
        }
        #expect(worst <= 1, "largest difference \(worst)")
        // Off-by-one samples come from PIL rounding its intermediate image to 8 bits.
        #expect(off * 8 < resized.pixels.count, "\(off) of \(resized.pixels.count) samples differ by 1")
    }

    @Test func sameSizeIsIdentity() {
        let image = Fixtures.pattern(width: 20, height: 10)
        #expect(image.resized(width: 20, height: 10) == image)
    }

    // MARK: letterbox

    /// Geometry from docs/model.md §3.2: scale = side / max(w, h), content max(1, round(w * scale)) x
    /// max(1, round(h * scale)) (half to even), offsets floor((side - content) / 2).
    @Test(arguments: [
        (640, 480, 224, 0, 28, 224, 168),     // landscape
        (300, 600, 224, 56, 0, 112, 224),     // portrait
        (100, 100, 224, 0, 0, 224, 224),      // square, upscaled
        (1000, 333, 224, 0, 74, 224, 75),     // 74.592 -> 75
        (448, 225, 224, 0, 56, 224, 112),     // 112.5 -> 112 (half to even, as Python's round)
        (448, 227, 224, 0, 55, 224, 114),     // 113.5 -> 114
        (1000, 1, 224, 0, 111, 224, 1),       // never below one pixel
        (1, 1, 224, 0, 0, 224, 224),
        (61, 47, 32, 0, 3, 32, 25),           // 24.66 -> 25
    ])
    func letterboxGeometry(_ c: (Int, Int, Int, Int, Int, Int, Int)) {
        let expected = LetterboxGeometry(side: c.2, offsetX: c.3, offsetY: c.4, contentWidth: c.5, contentHeight: c.6)
        #expect(LetterboxGeometry(width: c.0, height: c.1, side: c.2) == expected)
        let (image, geometry) = RGBImage(width: c.0, height: c.1, fill: RGB(250, 10, 60)).letterboxed(side: c.2)
        #expect(geometry == expected)
        #expect(image.width == c.2 && image.height == c.2)
        // Inside the content: the image's colour; outside: 127 on every channel.
        for y in 0..<image.height {
            for x in 0..<image.width {
                let inside = x >= geometry.offsetX && x < geometry.offsetX + geometry.contentWidth
                    && y >= geometry.offsetY && y < geometry.offsetY + geometry.contentHeight
                if image[x, y] != (inside ? RGB(250, 10, 60) : RGB(127, 127, 127)) {
                    Issue.record("(\(x),\(y)) = \(image[x, y]) (inside: \(inside))")
                    return
                }
            }
        }
    }

    @Test func letterboxDefaultsAndContent() {
        let source = Fixtures.pattern(width: 61, height: 47)
        let (image, geometry) = source.letterboxed()
        #expect(geometry.side == 224 && image.width == 224)
        #expect(geometry == LetterboxGeometry(side: 224, offsetX: 0, offsetY: 25, contentWidth: 224, contentHeight: 173))
        let content = source.resized(width: geometry.contentWidth, height: geometry.contentHeight)
        for y in [0, 1, 86, 172] {
            for x in [0, 5, 111, 223] {
                #expect(image[geometry.offsetX + x, geometry.offsetY + y] == content[x, y])
            }
        }
        let (custom, _) = source.letterboxed(side: 80, fill: 0)
        #expect(custom[0, 0] == RGB(0, 0, 0) && custom.width == 80)
        let (empty, emptyGeometry) = RGBImage(width: 0, height: 0).letterboxed(side: 4)
        #expect(empty == RGBImage(width: 4, height: 4, fill: RGB(127, 127, 127)))
        #expect(emptyGeometry.contentWidth == 0 && emptyGeometry.contentHeight == 0)
    }

    // MARK: thumbnail

    @Test func thumbnailKeepsAspectAndNeverUpscales() {
        let image = Fixtures.pattern(width: 300, height: 200)
        let thumbnail = image.thumbnail(maxSide: 100)
        #expect(thumbnail.width == 100 && thumbnail.height == 67)
        let portrait = Fixtures.pattern(width: 30, height: 91).thumbnail(maxSide: 45)
        #expect(portrait.width == 15 && portrait.height == 45)
        #expect(image.thumbnail(maxSide: 300) == image)
        #expect(image.thumbnail(maxSide: 1000) == image)
        #expect(Fixtures.pattern(width: 1000, height: 2).thumbnail(maxSide: 10).height == 1)
    }
}
