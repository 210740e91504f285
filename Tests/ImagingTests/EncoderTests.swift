import Imaging
import Testing

@Suite struct EncoderTests {
    /// Baseline, 4:2:0, deterministic, and decodes back to the right colours.
    @Test func jpegIsBaseline420AndDeterministic() throws {
        let image = Fixtures.quadrantImage(width: 64, height: 48, colours: Fixtures.quadrantColours)
        let first = try JPEGEncoder.encode(image, quality: 90)
        let second = try JPEGEncoder.encode(image, quality: 90)
        #expect(first == second)
        #expect(Array(first.prefix(3)) == [0xFF, 0xD8, 0xFF] && Array(first.suffix(2)) == [0xFF, 0xD9])
        let sof = try #require(sof0Offset(first), "no SOF0 (baseline) frame header")
        #expect(first[sof + 9] == 3)                 // three components
        #expect(first[sof + 11] == 0x22)             // Y sampled 2x2
        #expect(first[sof + 14] == 0x11 && first[sof + 17] == 0x11) // Cb, Cr 1x1: 4:2:0
        #expect(first.firstIndex(of: [0xFF, 0xC2]) == nil) // not progressive

        let decoded = try ImageDecoder.decode(bytes: first, name: "round-trip.jpg")
        #expect(decoded.width == 64 && decoded.height == 48)
        for (quadrant, point) in Fixtures.quadrantCentres(width: 64, height: 48).enumerated() {
            #expect(Fixtures.distance(decoded[point.x, point.y], Fixtures.quadrantColours[quadrant]) <= 8)
        }
    }

    @Test func jpegQualityAndOddSizes() throws {
        let image = Fixtures.pattern(width: 120, height: 90)
        let low = try JPEGEncoder.encode(image, quality: 20)
        let high = try JPEGEncoder.encode(image, quality: 95)
        #expect(low.count < high.count)
        for (width, height) in [(1, 1), (17, 3), (3, 17)] {
            let small = RGBImage(width: width, height: height, fill: RGB(90, 160, 220))
            let decoded = try ImageDecoder.decode(bytes: JPEGEncoder.encode(small), name: "small.jpg")
            #expect(decoded.width == width && decoded.height == height)
            #expect(Fixtures.distance(decoded[0, 0], RGB(90, 160, 220)) <= 6)
        }
    }

    @Test func encoderRejectsBadArguments() {
        let image = RGBImage(width: 4, height: 4)
        for quality in [0, 101, -5] {
            let error = imagingError { try JPEGEncoder.encode(image, quality: quality) }
            if case .unsupported? = error?.kind {} else { Issue.record("quality \(quality): \(String(describing: error))") }
        }
        let empty = RGBImage(width: 0, height: 3)
        if case .unsupported? = imagingError({ try JPEGEncoder.encode(empty) })?.kind {} else { Issue.record("empty JPEG") }
        if case .unsupported? = imagingError({ try PNGEncoder.encode(empty) })?.kind {} else { Issue.record("empty PNG") }
        let tooWide = RGBImage(width: 70_000, height: 1)
        if case .unsupported? = imagingError({ try JPEGEncoder.encode(tooWide) })?.kind {} else { Issue.record("70000 wide JPEG") }
    }

    @Test func pngRoundTripIsExact() throws {
        let image = Fixtures.pattern(width: 61, height: 47)
        let bytes = try PNGEncoder.encode(image)
        #expect(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(try PNGEncoder.encode(image) == bytes)
        #expect(try ImageDecoder.decode(bytes: bytes, name: "round-trip.png") == image)
        let pixel = RGBImage(width: 1, height: 1, fill: RGB(1, 2, 3))
        #expect(try ImageDecoder.decode(bytes: PNGEncoder.encode(pixel), name: "pixel.png") == pixel)
    }
}
