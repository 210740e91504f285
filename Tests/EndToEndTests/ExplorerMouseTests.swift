import Foundation
import Testing

/// The mouse in a real (tmux) terminal. A click reaches the explorer as a terminal does send
/// it: the press, then the release as a separate write a moment later (xterm's X10 encoding,
/// which ncurses expects for TERM=tmux-256color). After every click the explorer must keep
/// answering background work (a thumbnail decoded, a signal) without waiting for a key.
@Suite struct ExplorerMouseTests {
    static var binary: String { ExplorerEndToEndTests.binary }

    /// Rows of the test dataset; the list shows them all at 100x30 (25 rows).
    static let rows = 24

    /// A Product1M folder whose images are large PNG files (3000 x 3000, so each thumbnail takes
    /// a good fraction of a second to decode: the release of a click always arrives before it
    /// is ready). The files stay small: each row of pixels is one colour, so the deflate stream is
    /// mostly 258-byte copies.
    static func slowImageDataset() throws -> String {
        let dir = NSTemporaryDirectory() + "vitrine-mouse-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        var gallery = ""
        for i in 0..<rows {
            let id = String(300_000 + i)
            gallery += "\(id)#####Row \(i) striped poster#####http://x/\(id).jpg#####http://x/\(id).jpg#####Brand \(i % 4) poster\n"
            let png = StripedPNG.encode(width: 3000, height: 3000) { y in
                (UInt8((y / 12 + i * 40) % 256), UInt8((y / 7 + i * 15) % 256), UInt8((i * 60) % 256))
            }
            try Data(png).write(to: URL(fileURLWithPath: dir + "/images/\(id).png"))
        }
        try gallery.write(toFile: dir + "/product1m_gallery_ossurl_v2.txt", atomically: true, encoding: .utf8)
        return dir
    }

    /// The bytes a terminal sends for a mouse button event in xterm's X10 encoding (0-based
    /// cell coordinates; button 0 is the left press, 3 a release).
    static func x10(button: Int, x: Int, y: Int) -> [String] {
        [0x1B, 0x5B, 0x4D, 32 + button, 33 + x, 33 + y].map { String(format: "%02x", $0) }
    }

    /// A left click at a cell: the press, then the release as its own write.
    func click(_ t: Tmux, x: Int, y: Int) throws {
        try t.run(["send-keys", "-t", "main", "-H"] + Self.x10(button: 0, x: x, y: y))
        usleep(30_000)
        try t.run(["send-keys", "-t", "main", "-H"] + Self.x10(button: 3, x: x, y: y))
    }

    func launch(_ t: Tmux, data: String) throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build first (make build): \(Self.binary)")
        try t.type("\(Tmux.quote(Self.binary)) explore --no-search --data \(Tmux.quote(data)); echo \"EXIT:$?\"")
        try t.keys("Enter")
    }

    /// The screen shows sample `index` (0-based) selected with its thumbnail drawn.
    static func showsImage(of index: Int, _ screen: String) -> Bool {
        screen.contains(" \(index + 1)/\(rows) ") && screen.contains("▀") && !screen.contains("loading image")
    }

    @Test func clickedRowsShowTheirImages() throws {
        let data = try Self.slowImageDataset()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let t = try Tmux(width: 100, height: 30, environment: ["COLORTERM": "truecolor"])
        try launch(t, data: data)
        try t.waitFor("the first thumbnail", timeout: 30) { Self.showsImage(of: 0, $0) }
        // The list's first sample is on screen row 3 (header, border, column titles above it).
        // Rows 6, 11, 16, 21: none of them near a row selected before, so none prefetched.
        for index in [6, 11, 16, 21] {
            try click(t, x: 12, y: 3 + index)
            try t.waitFor("sample \(index + 1)'s thumbnail after a click", timeout: 15) { Self.showsImage(of: index, $0) }
        }
        try t.keys("q")
        try t.waitFor(text: "EXIT:0")
    }

    @Test func aSignalAfterAClickStillQuits() throws {
        let t = try Tmux(width: 100, height: 30)
        try t.type("\(Tmux.quote(Self.binary)) explore --no-search --data \(Tmux.quote(ExplorerEndToEndTests.sampleData)); echo \"EXIT:$?\"")
        try t.keys("Enter")
        try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains(" 1/") }
        // The press selects the row; only then does the release arrive, as from a hand.
        try t.run(["send-keys", "-t", "main", "-H"] + Self.x10(button: 0, x: 12, y: 3 + 4))
        try t.waitFor(text: " 5/")
        try t.run(["send-keys", "-t", "main", "-H"] + Self.x10(button: 3, x: 12, y: 3 + 4))
        usleep(300_000)
        let shell = try t.pane("pane_pid")
        let status = try Tmux.spawnAndWait(["pkill", "-TERM", "-P", shell, "vitrine"], stdout: "/dev/null", stderr: "/dev/null")
        #expect(status == 0, "pkill found no vitrine process")
        try t.waitFor(text: "EXIT:143", timeout: 10)
        #expect(try t.pane("alternate_on") == "0", "still on the alternate screen")
    }

    @Test func anUnboundKeyIsExplainedForAFewSeconds() throws {
        let t = try Tmux(width: 100, height: 30)
        try t.type("\(Tmux.quote(Self.binary)) explore --no-search --data \(Tmux.quote(ExplorerEndToEndTests.sampleData)); echo \"EXIT:$?\"")
        try t.keys("Enter")
        try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains(" 1/") }
        try t.keys("Z")
        try t.waitFor(text: "Z: no action here — ? for help", timeout: 5)
        // The message goes by itself (a timer's message through the inbox), no key needed.
        try t.waitFor("the message to go", timeout: 10) { !$0.contains("no action here") }
        try t.keys("q")
        try t.waitFor(text: "EXIT:0")
    }

    @Test func vitrineKeysListsTheMouse() throws {
        let dir = NSTemporaryDirectory() + "vitrine-keys-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (args, name) in [(["keys"], "plain"), (["keys", "--markdown"], "markdown")] {
            let status = try Tmux.spawnAndWait([Self.binary] + args, stdout: dir + "/" + name, stderr: dir + "/err")
            #expect(status == 0)
        }
        let plain = try String(contentsOfFile: dir + "/plain", encoding: .utf8)
        #expect(plain.contains("  click                   Select the clicked sample"))
        #expect(plain.contains("  wheel-down              Move three samples down"))
        #expect(plain.contains("  click                   Highlight the clicked match"))
        let markdown = try String(contentsOfFile: dir + "/markdown", encoding: .utf8)
        #expect(markdown.contains("| Dataset browser | `click` | Select the clicked sample | `move.click` |"))
        // The README's table is the same (make readme-keys).
        let readme = try String(contentsOfFile: ExplorerEndToEndTests.repository + "/README.md", encoding: .utf8)
        #expect(readme.contains(markdown))
    }
}

/// A PNG (8-bit RGB) whose every row is one colour, written with a fixed-Huffman deflate stream
/// of 258-byte copies (RFC 1950/1951, PNG 1.2): a large image in a small file, with no codec.
enum StripedPNG {
    static func encode(width: Int, height: Int, colour: (Int) -> (UInt8, UInt8, UInt8)) -> [UInt8] {
        var bits = BitWriter()
        bits.put(1, 1)   // BFINAL
        bits.put(1, 2)   // BTYPE 01: fixed Huffman codes
        var adler = Adler32()
        for y in 0..<height {
            let (r, g, b) = colour(y)
            let pixel = [r, g, b]
            // Filter type 0, the first pixel as literals, the rest as copies 3 bytes back.
            bits.literal(0); adler.add(0)
            for v in pixel { bits.literal(Int(v)); adler.add(v) }
            var left = 3 * (width - 1)
            var index = 0
            while left >= 258 {
                bits.huffman(0xC0 + 5, 8)   // length code 285: 258 bytes
                bits.huffman(2, 5)          // distance code 2: 3 bytes back
                left -= 258
                index += 258
            }
            while left > 0 {
                let v = pixel[index % 3]
                bits.literal(Int(v))
                index += 1
                left -= 1
            }
            adler.add(row: pixel, count: 3 * (width - 1))
        }
        bits.huffman(0, 7)   // end of block
        bits.flush()
        var zlib: [UInt8] = [0x78, 0x01] + bits.bytes
        zlib += bigEndian(adler.value)

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png += chunk("IHDR", bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, 2, 0, 0, 0])
        png += chunk("IDAT", zlib)
        png += chunk("IEND", [])
        return png
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    struct Adler32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var value: UInt32 { b << 16 | a }
        mutating func add(_ v: UInt8) { a = (a + UInt32(v)) % 65521; b = (b + a) % 65521 }
        /// `count` bytes repeating `pattern` (continuing after the pattern's first copy).
        mutating func add(row pattern: [UInt8], count: Int) {
            for i in 0..<count { add(pattern[i % 3]) }
        }
    }

    /// Bits, least significant first, as deflate packs them.
    struct BitWriter {
        var bytes: [UInt8] = []
        var accumulator: UInt64 = 0
        var count = 0

        mutating func put(_ value: UInt32, _ n: Int) {
            accumulator |= UInt64(value) << UInt64(count)
            count += n
            while count >= 8 {
                bytes.append(UInt8(accumulator & 0xFF))
                accumulator >>= 8
                count -= 8
            }
        }

        /// A Huffman code: its bits go most significant first.
        mutating func huffman(_ code: UInt32, _ n: Int) {
            var reversed: UInt32 = 0
            for i in 0..<n where code >> UInt32(i) & 1 != 0 { reversed |= 1 << UInt32(n - 1 - i) }
            put(reversed, n)
        }

        /// A literal byte in the fixed code: 0-143 are 8 bits from 0x30, 144-255 9 bits from 0x190.
        mutating func literal(_ v: Int) {
            if v < 144 { huffman(UInt32(0x30 + v), 8) } else { huffman(UInt32(0x190 + v - 144), 9) }
        }

        mutating func flush() {
            if count > 0 { bytes.append(UInt8(accumulator & 0xFF)) }
            accumulator = 0
            count = 0
        }
    }
}
