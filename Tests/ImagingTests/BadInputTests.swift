import Foundation
import Imaging
import Testing

/// Runs `body` and returns the `ImagingError` it threw, or nil. Any other error is a test
/// failure. (Closure literals infer `throws(any Error)`, so the typed error is recovered here.)
func imagingError<T>(_ body: () throws -> T, sourceLocation: SourceLocation = #_sourceLocation) -> ImagingError? {
    do {
        _ = try body()
        return nil
    } catch let error as ImagingError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Offset of the first SOF0 segment's marker (FF C0) found by walking the JPEG's segments.
func sof0Offset(_ jpeg: [UInt8]) -> Int? {
    var position = 2
    while position + 4 <= jpeg.count, jpeg[position] == 0xFF {
        let marker = jpeg[position + 1]
        if marker == 0xC0 { return position }
        if marker == 0xDA { return nil }
        position += 2 + Int(jpeg[position + 2]) << 8 + Int(jpeg[position + 3])
    }
    return nil
}

/// Offset of the first byte of entropy-coded data (just after the SOS segment).
func scanDataOffset(_ jpeg: [UInt8]) -> Int? {
    var position = 2
    while position + 4 <= jpeg.count, jpeg[position] == 0xFF {
        let length = Int(jpeg[position + 2]) << 8 + Int(jpeg[position + 3])
        if jpeg[position + 1] == 0xDA { return position + 2 + length }
        position += 2 + length
    }
    return nil
}

/// Bad input of every kind gives a typed error that names the file: never a crash, a hang or
/// a grey-filled image.
@Suite struct BadInputTests {
    /// A detailed 256 x 192 photo-like JPEG (the resize pattern), so cuts land in scan data.
    static let jpeg: [UInt8] = try! JPEGEncoder.encode(Fixtures.pattern(width: 256, height: 192), quality: 90)
    static let png: [UInt8] = try! PNGEncoder.encode(Fixtures.pattern(width: 64, height: 48))

    // MARK: truncated

    @Test func truncatedJPEGIsAnErrorNotAGreyImage() throws {
        let directory = try TemporaryDirectory()
        let jpeg = Self.jpeg
        // Mid-scan, in the tables, right after SOI, and only the EOI marker missing.
        for cut in [jpeg.count / 2, jpeg.count * 9 / 10, 200, 3, jpeg.count - 2] {
            let path = try directory.write("cut-\(cut).jpg", Array(jpeg.prefix(cut)))
            let error = imagingError { try ImageDecoder.decode(path: path) }
            #expect(error?.kind == .truncated, "cut at \(cut) of \(jpeg.count): \(String(describing: error))")
            #expect(error?.file == path)
            #expect(error?.shortReason == "truncated JPEG")
            #expect(error?.description == "\(path): truncated JPEG (the file ends early); re-download or replace it")
            let thumbnail = imagingError { try ImageDecoder.thumbnail(path: path, maxSide: 32) }
            #expect(thumbnail?.kind == .truncated)
        }
        #expect(imagingError { try ImageDecoder.decode(bytes: jpeg, name: "whole.jpg") } == nil)
    }

    @Test func truncatedProgressiveJPEG() throws {
        let bytes = try Fixtures.readBytes(Fixtures.path("progressive.jpg"))
        for cut in [bytes.count * 6 / 10, bytes.count - 2] {
            let error = imagingError { try ImageDecoder.decode(bytes: Array(bytes.prefix(cut)), name: "p.jpg") }
            #expect(error?.kind == .truncated, "cut at \(cut): \(String(describing: error))")
        }
    }

    @Test func truncatedPNG() throws {
        let directory = try TemporaryDirectory()
        let png = Self.png
        // Inside the signature's successor, inside IHDR, mid-IDAT, and the IEND chunk missing.
        for cut in [9, 20, png.count / 2, png.count - 12, png.count - 1] {
            let path = try directory.write("cut-\(cut).png", Array(png.prefix(cut)))
            let error = imagingError { try ImageDecoder.decode(path: path) }
            #expect(error?.kind == .truncated, "cut at \(cut) of \(png.count): \(String(describing: error))")
            #expect(error?.shortReason == "truncated PNG")
            #expect(error?.description.hasPrefix(path + ": truncated PNG") == true)
        }
        let interlaced = try Fixtures.readBytes(Fixtures.path("rgba16_interlaced.png"))
        let error = imagingError { try ImageDecoder.decode(bytes: Array(interlaced.prefix(interlaced.count - 30)), name: "i.png") }
        #expect(error?.kind == .truncated)
    }

    // MARK: corrupt

    @Test func corruptJPEG() throws {
        let jpeg = Self.jpeg
        let scan = try #require(scanDataOffset(jpeg))
        // An EOI marker in the middle of the entropy-coded data: the scan ends early.
        var cut = jpeg
        let middle = (scan + jpeg.count) / 2
        cut[middle] = 0xFF
        cut[middle + 1] = 0xD9
        let early = imagingError { try ImageDecoder.decode(bytes: cut, name: "early-eoi.jpg") }
        guard case .corrupt(let detail)? = early?.kind else {
            Issue.record("expected corrupt, got \(String(describing: early))")
            return
        }
        #expect(!detail.isEmpty)
        #expect(early?.shortReason == "corrupt JPEG")

        // A frame header with a wrong segment length.
        var badHeader = jpeg
        let sof = try #require(sof0Offset(jpeg))
        badHeader[sof + 3] = 5
        let header = imagingError { try ImageDecoder.decode(bytes: badHeader, name: "bad-sof.jpg") }
        if case .corrupt? = header?.kind {} else { Issue.record("expected corrupt, got \(String(describing: header))") }

        // 12-bit precision is valid JPEG that libjpeg (8-bit build) does not decode.
        var twelveBit = jpeg
        twelveBit[sof + 4] = 12
        let unsupported = imagingError { try ImageDecoder.decode(bytes: twelveBit, name: "12bit.jpg") }
        if case .unsupported? = unsupported?.kind {} else { Issue.record("expected unsupported, got \(String(describing: unsupported))") }
    }

    @Test func corruptPNG() throws {
        let png = Self.png
        // A flipped bit in IHDR's width: the chunk's CRC no longer matches.
        var header = png
        header[18] ^= 0x01
        let crc = imagingError { try ImageDecoder.decode(bytes: header, name: "crc.png") }
        guard case .corrupt(let detail)? = crc?.kind else {
            Issue.record("expected corrupt, got \(String(describing: crc))")
            return
        }
        #expect(detail.contains("CRC"))

        // Garbage in the zlib stream, with the CRC fixed so only inflate can notice.
        let idat = try #require(png.firstIndex(of: Array("IDAT".utf8)))
        let length = Int(png[idat - 4]) << 24 | Int(png[idat - 3]) << 16 | Int(png[idat - 2]) << 8 | Int(png[idat - 1])
        var zlib = png
        for i in 0..<min(16, length) { zlib[idat + 4 + i] = 0xFF ^ UInt8(i) }
        let checksum = crc32(zlib[idat..<idat + 4 + length])
        for i in 0..<4 { zlib[idat + 4 + length + i] = UInt8(truncatingIfNeeded: checksum >> (24 - 8 * UInt32(i))) }
        let inflate = imagingError { try ImageDecoder.decode(bytes: zlib, name: "zlib.png") }
        if case .corrupt? = inflate?.kind {} else { Issue.record("expected corrupt, got \(String(describing: inflate))") }
    }

    /// Random damage never crashes or hangs: every outcome is an image or an ImagingError.
    @Test func randomDamageNeverCrashes() throws {
        var generator = SplitMix64(state: 0x5EED)
        let progressive = try Fixtures.readBytes(Fixtures.path("progressive.jpg"))
        let interlaced = try Fixtures.readBytes(Fixtures.path("palette4_trns_interlaced.png"))
        let start = ContinuousClock.now
        var failures = 0, successes = 0
        for original in [Self.jpeg, Self.png, progressive, interlaced] {
            for _ in 0..<150 {
                var bytes = original
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: // flip a few bytes anywhere after the magic
                    for _ in 0..<Int.random(in: 1...8, using: &generator) {
                        bytes[Int.random(in: 8..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                    }
                case 1: // cut anywhere
                    bytes = Array(bytes.prefix(Int.random(in: 1..<bytes.count, using: &generator)))
                default: // overwrite a run with one value
                    let at = Int.random(in: 8..<bytes.count - 1, using: &generator)
                    let run = Int.random(in: 1...64, using: &generator)
                    let value = UInt8.random(in: 0...255, using: &generator)
                    for i in at..<min(bytes.count, at + run) { bytes[i] = value }
                }
                switch Result(catching: { () throws(ImagingError) -> RGBImage in try ImageDecoder.decode(bytes: bytes, name: "fuzz") }) {
                case .success(let image):
                    successes += 1
                    #expect(image.pixels.count == image.width * image.height * 3)
                case .failure(let error):
                    failures += 1
                    #expect(error.file == "fuzz")
                    #expect(error.kind != .notFound && error.kind != .empty)
                }
            }
        }
        #expect(failures > 100 && successes + failures == 600)
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    // MARK: empty, not an image

    @Test func emptyFile() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("empty.jpg", [])
        let error = imagingError { try ImageDecoder.decode(path: path) }
        #expect(error == ImagingError(file: path, kind: .empty))
        #expect(error?.shortReason == "empty file")
        #expect(imagingError { try ImageDecoder.probe(path: path) }?.kind == .empty)
        #expect(imagingError { try ImageDecoder.decode(bytes: [], name: "none") }?.kind == .empty)
    }

    @Test func notAnImage() throws {
        let directory = try TemporaryDirectory()
        let text = try directory.write("notes.jpg", Array("these are not pixels\n".utf8))
        #expect(imagingError { try ImageDecoder.decode(path: text) } == ImagingError(file: text, kind: .notAnImage))
        let html = try directory.write("page.png", Array("<!DOCTYPE html><html><body>404</body></html>".utf8))
        #expect(imagingError { try ImageDecoder.decode(path: html) }?.kind == .notAnImage)
        #expect(imagingError { try ImageDecoder.probe(path: html) }?.kind == .notAnImage)
        #expect(imagingError { try ImageDecoder.decode(bytes: [0xFF, 0xD8], name: "two") }?.kind == .notAnImage)

        let gif = try directory.write("anim.jpg", Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 20))
        let error = imagingError { try ImageDecoder.decode(path: gif) }
        guard case .unsupported(let detail)? = error?.kind else {
            Issue.record("expected unsupported, got \(String(describing: error))")
            return
        }
        #expect(detail.contains("GIF"))
        #expect(error?.description.hasPrefix("\(gif): unsupported image (a GIF file") == true)
    }

    // MARK: too large, refused before allocation

    @Test func hugeJPEGHeaderIsRefusedBeforeAllocating() throws {
        let sof = try #require(sof0Offset(Self.jpeg))
        for side in [60_000, 65_535] {
            var huge = Self.jpeg
            huge[sof + 5] = UInt8(side >> 8); huge[sof + 6] = UInt8(side & 0xFF) // height
            huge[sof + 7] = UInt8(side >> 8); huge[sof + 8] = UInt8(side & 0xFF) // width
            let start = ContinuousClock.now
            let error = imagingError { try ImageDecoder.decode(bytes: huge, name: "huge.jpg") }
            #expect(ContinuousClock.now - start < .milliseconds(500))
            #expect(error?.kind == .tooLarge(width: side, height: side, limit: 50_000_000), "\(String(describing: error))")
            #expect(error?.shortReason == "image too large")
            let thumbnail = imagingError { try ImageDecoder.thumbnail(bytes: huge, name: "huge.jpg", maxSide: 64) }
            #expect(thumbnail?.kind == .tooLarge(width: side, height: side, limit: 50_000_000))
        }
    }

    @Test func hugePNGHeaderIsRefusedBeforeAllocating() throws {
        var huge = Self.png
        for (offset, value) in [(16, UInt32(100_000)), (20, UInt32(100_000))] {
            for i in 0..<4 { huge[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(i))) }
        }
        let checksum = crc32(huge[12..<29])
        for i in 0..<4 { huge[29 + i] = UInt8(truncatingIfNeeded: checksum >> (24 - 8 * UInt32(i))) }
        let directory = try TemporaryDirectory()
        let path = try directory.write("huge.png", huge)
        let start = ContinuousClock.now
        let error = imagingError { try ImageDecoder.decode(path: path) }
        #expect(ContinuousClock.now - start < .milliseconds(500))
        #expect(error == ImagingError(file: path, kind: .tooLarge(width: 100_000, height: 100_000, limit: 50_000_000), format: .png))
        #expect(error?.description == "\(path): image too large (100000x100000 = 10000000000 pixels, the limit is 50000000); "
            + "downscale it or raise the pixel limit")
        // The header is valid, so probing (which allocates nothing) still reports the size.
        let probed = try ImageDecoder.probe(path: path)
        #expect(probed.format == .png && probed.width == 100_000 && probed.height == 100_000)

        // Sides above PNG's 2^31 - 1 are not a large image but an invalid one.
        var invalid = huge
        for i in 16..<24 { invalid[i] = 0xF0 }
        let invalidChecksum = crc32(invalid[12..<29])
        for i in 0..<4 { invalid[29 + i] = UInt8(truncatingIfNeeded: invalidChecksum >> (24 - 8 * UInt32(i))) }
        let invalidError = imagingError { try ImageDecoder.decode(bytes: invalid, name: "invalid.png") }
        if case .corrupt? = invalidError?.kind {} else { Issue.record("expected corrupt, got \(String(describing: invalidError))") }
    }

    @Test func configurableLimits() throws {
        let tight = DecodeLimits(maxPixels: 1_000)
        let jpegError = imagingError { try ImageDecoder.decode(bytes: Self.jpeg, name: "a.jpg", limits: tight) }
        #expect(jpegError?.kind == .tooLarge(width: 256, height: 192, limit: 1_000))
        let pngError = imagingError { try ImageDecoder.decode(bytes: Self.png, name: "a.png", limits: tight) }
        #expect(pngError?.kind == .tooLarge(width: 64, height: 48, limit: 1_000))
        #expect(imagingError { try ImageDecoder.decode(bytes: Self.png, name: "a.png", limits: DecodeLimits(maxPixels: 64 * 48)) } == nil)

        let directory = try TemporaryDirectory()
        let path = try directory.write("a.png", Self.png)
        let small = DecodeLimits(maxFileBytes: 100)
        guard case .unreadable(let reason)? = imagingError({ try ImageDecoder.decode(path: path, limits: small) })?.kind else {
            Issue.record("expected unreadable for a file over maxFileBytes")
            return
        }
        #expect(reason.contains("file size limit"))
        #expect(imagingError { try ImageDecoder.decode(bytes: Self.png, name: "a.png", limits: small) }?.kind
            == .unreadable("\(Self.png.count) bytes, above the 100-byte file size limit"))
    }

    // MARK: files that cannot be read

    @Test func missingAndUnreadableFiles() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.path + "/no-such-file.jpg"
        #expect(imagingError { try ImageDecoder.decode(path: missing) } == ImagingError(file: missing, kind: .notFound))
        #expect(imagingError { try ImageDecoder.probe(path: missing) }?.kind == .notFound)
        #expect(imagingError { try ImageDecoder.thumbnail(path: missing, maxSide: 10) }?.description
            == "\(missing): file not found; check the path and the data set's location")
        #expect(imagingError { try ImageDecoder.decode(path: directory.path + "/a/b.png") }?.kind == .notFound)

        #expect(imagingError { try ImageDecoder.decode(path: directory.path) }?.kind == .unreadable("it is a directory"))

        // A FIFO would block a naive reader forever.
        let fifo = directory.path + "/pipe.jpg"
        #expect(mkfifo(fifo, 0o600) == 0)
        let start = ContinuousClock.now
        #expect(imagingError { try ImageDecoder.decode(path: fifo) }?.kind == .unreadable("not a regular file"))
        #expect(ContinuousClock.now - start < .seconds(2))
    }
}
