import Imaging
import Testing

/// Every PNG colour type / bit depth / interlace and every JPEG kind decodes to the right
/// colours and orientation. The fixtures and their expected colours come from
/// Fixtures/make_fixtures.py (see its header).
@Suite struct DecodeFixtureTests {
    @Test func manifestListsEveryKind() {
        let png = Set(Fixtures.manifest.png.map(\.file))
        for depth in [1, 2, 4, 8, 16] {
            #expect(png.contains("gray\(depth).png") && png.contains("gray\(depth)_interlaced.png"))
        }
        for name in ["gray8_trns", "gray_alpha8", "gray_alpha16", "rgb8", "rgb16", "rgb8_trns", "rgba8", "rgba16",
                     "palette1", "palette2", "palette4", "palette8", "palette4_trns"] {
            #expect(png.contains("\(name).png") && png.contains("\(name)_interlaced.png"), "\(name)")
        }
        let jpeg = Set(Fixtures.manifest.jpeg.map(\.file))
        for name in ["progressive", "gray", "cmyk_adobe", "cmyk_plain", "ycck"] + (1...8).map({ "orientation\($0)" }) {
            #expect(jpeg.contains("\(name).jpg"), "\(name)")
        }
    }

    /// PNG is lossless: every pixel must equal its quadrant's expected colour exactly
    /// (16-bit samples scaled to 8 bits, alpha composited over white).
    @Test(arguments: Fixtures.manifest.png)
    func pngDecodesExactly(_ entry: Fixtures.Entry) throws {
        let image = try ImageDecoder.decode(path: Fixtures.path(entry.file))
        #expect(image.width == entry.width && image.height == entry.height)
        var mismatches = 0
        for y in 0..<image.height {
            for x in 0..<image.width {
                let want = Fixtures.rgb(entry.expected[Fixtures.quadrant(x: x, y: y, width: image.width, height: image.height)])
                if image[x, y] != want {
                    if mismatches < 3 { Issue.record("\(entry.file) (\(x),\(y)): \(image[x, y].hex), expected \(want.hex)") }
                    mismatches += 1
                }
            }
        }
        #expect(mismatches == 0)
    }

    /// JPEG is lossy: quadrant centres within 12 of the designed colour and within 3 of what
    /// Pillow (also libjpeg) decodes. Orientation fixtures come out upright, 32 x 24.
    @Test(arguments: Fixtures.manifest.jpeg)
    func jpegDecodesToRightColoursAndOrientation(_ entry: Fixtures.Entry) throws {
        let image = try ImageDecoder.decode(path: Fixtures.path(entry.file))
        #expect(image.width == entry.width && image.height == entry.height)
        let centres = Fixtures.quadrantCentres(width: image.width, height: image.height)
        for (quadrant, point) in centres.enumerated() {
            let got = image[point.x, point.y]
            let designed = Fixtures.rgb(entry.expected[quadrant])
            #expect(Fixtures.distance(got, designed) <= 12, "\(entry.file) quadrant \(quadrant): \(got.hex) vs \(designed.hex)")
            if let pillow = entry.pillow {
                let reference = Fixtures.rgb(pillow[quadrant])
                #expect(Fixtures.distance(got, reference) <= 3, "\(entry.file) quadrant \(quadrant): \(got.hex) vs Pillow \(reference.hex)")
            }
        }
    }

    @Test func probeReadsHeaderSizeAfterOrientation() throws {
        let rotated = try ImageDecoder.probe(path: Fixtures.path("orientation6.jpg"))
        #expect(rotated.format == .jpeg && rotated.width == 32 && rotated.height == 24)
        let png = try ImageDecoder.probe(path: Fixtures.path("rgba16_interlaced.png"))
        #expect(png.format == .png && png.width == 32 && png.height == 24)
    }

    /// A header longer than probe's first read (five 64 KB APP15 segments before the frame
    /// header) is still probed correctly, by reading the whole file.
    @Test func probeReadsPastLongHeaders() throws {
        let jpeg = try JPEGEncoder.encode(Fixtures.quadrantImage(width: 40, height: 30, colours: Fixtures.quadrantColours))
        let segment: [UInt8] = [0xFF, 0xEF, 0xFF, 0xF0] + [UInt8](repeating: 0x20, count: 0xFFF0 - 2)
        let padded = Array(jpeg.prefix(2)) + Array([[UInt8]](repeating: segment, count: 5).joined()) + Array(jpeg.dropFirst(2))
        #expect(padded.count > 320_000)
        let directory = try TemporaryDirectory()
        let path = try directory.write("long-header.jpg", padded)
        let probed = try ImageDecoder.probe(path: path)
        #expect(probed.format == .jpeg && probed.width == 40 && probed.height == 30)
        #expect(try ImageDecoder.decode(path: path).width == 40)
        // Cut inside those segments, the file really is truncated.
        let cut = try directory.write("cut-header.jpg", Array(padded.prefix(300_000)))
        #expect(imagingError { try ImageDecoder.probe(path: cut) }?.kind == .truncated)
    }

    @Test func formatComesFromContentNotExtension() throws {
        let directory = try TemporaryDirectory()
        let png = try PNGEncoder.encode(Fixtures.quadrantImage(width: 8, height: 6, colours: Fixtures.quadrantColours))
        let misnamed = try directory.write("actually-a-png.jpg", png)
        let image = try ImageDecoder.decode(path: misnamed)
        #expect(image[0, 0] == Fixtures.quadrantColours[0])
        #expect(try ImageDecoder.probe(path: misnamed).format == .png)
        #expect(ImageFormat(magicBytes: png) == .png)
        #expect(ImageFormat(magicBytes: [0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(ImageFormat(magicBytes: Array("GIF89a".utf8)) == nil)
    }

    /// JPEG DCT scaling: a 1200 x 900 photo thumbnailed to 100 comes out 100 x 75 with the
    /// right colours, and an EXIF-rotated file is thumbnailed upright.
    @Test func jpegThumbnailUsesScaledDecode() throws {
        let directory = try TemporaryDirectory()
        let big = Fixtures.quadrantImage(width: 1200, height: 900, colours: Fixtures.quadrantColours)
        let path = try directory.write("big.jpg", try JPEGEncoder.encode(big, quality: 90))
        let thumbnail = try ImageDecoder.thumbnail(path: path, maxSide: 100)
        #expect(thumbnail.width == 100 && thumbnail.height == 75)
        for (quadrant, point) in Fixtures.quadrantCentres(width: 100, height: 75).enumerated() {
            #expect(Fixtures.distance(thumbnail[point.x, point.y], Fixtures.quadrantColours[quadrant]) <= 12)
        }
        // Compare with the full decode followed by the same thumbnail: close, not identical.
        let reference = try ImageDecoder.decode(path: path).thumbnail(maxSide: 100)
        #expect(reference.width == 100 && reference.height == 75)

        let rotated = try ImageDecoder.thumbnail(path: Fixtures.path("orientation6.jpg"), maxSide: 16)
        #expect(rotated.width == 16 && rotated.height == 12)
        #expect(Fixtures.distance(rotated[4, 3], Fixtures.quadrantColours[0]) <= 16)
        #expect(Fixtures.distance(rotated[12, 9], Fixtures.quadrantColours[3]) <= 16)

        // Never upscales.
        let small = try ImageDecoder.thumbnail(path: Fixtures.path("rgb8.png"), maxSide: 500)
        #expect(small.width == 32 && small.height == 24)
    }

    @Test func decodeFromMemoryMatchesDecodeFromFile() throws {
        let path = Fixtures.path("palette4_trns_interlaced.png")
        let fromFile = try ImageDecoder.decode(path: path)
        let bytes = try ImageDecoder.decode(bytes: Fixtures.readBytes(path), name: "memory.png")
        #expect(fromFile == bytes)
    }
}
