import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real pixels (issue 16) from the built binary, in tmux with every byte the explorer writes
/// piped to a file: kitty pictures are sent once and re-placed, deleted on resize, on quit, on
/// SIGTERM and on a crash; sixel pictures are wiped before the screen is left.
@Suite struct GraphicsEndToEndTests {
    static var binary: String { ExplorerEndToEndTests.binary }
    static let esc: UInt8 = 0x1B

    /// Starts `vitrine explore --images MODE` with a marker in its arguments (for `pkill -f`),
    /// tmux piping what it writes to a file; returns the file and the marker.
    func launch(_ t: Tmux, images: String, environment: String = "") throws -> (pipe: String, marker: String) {
        let pipe = t.workDir + "/pane-\(UUID().uuidString.prefix(6)).bytes"
        let marker = t.workDir + "/runs-\(UUID().uuidString.prefix(8))"
        try t.run(["pipe-pane", "-t", "main", "cat > \(Tmux.quote(pipe))"])
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build first (make build): \(Self.binary)")
        try t.type("clear; \(environment)\(Tmux.quote(Self.binary)) explore --no-search --images \(images) --runs \(Tmux.quote(marker)) --data \(Tmux.quote(ExplorerEndToEndTests.sampleData)); echo \"EXIT:$?\"")
        try t.keys("Enter")
        try t.waitFor("the gallery", timeout: 20) { $0.contains("gallery ·") && $0.contains(" 1/") }
        return (pipe, marker)
    }

    static func read(_ pipe: String) -> [UInt8] {
        (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: pipe)))) ?? []
    }

    /// Waits until the piped bytes hold `count` commands matching `predicate`.
    @discardableResult
    func waitForCommands(_ pipe: String, _ what: String, count: Int = 1, timeout: Double = 10,
                         _ predicate: ([String: String]) -> Bool) throws -> [UInt8] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let bytes = Self.read(pipe)
            if Self.kittyCommands(bytes).filter({ predicate($0.keys) }).count >= count { return bytes }
            if Date() > deadline { Issue.record("timed out waiting for \(what)"); return bytes }
            usleep(50_000)
        }
    }

    /// The kitty commands in `bytes` (tmux's passthrough unwrapped): their offsets and control keys.
    static func kittyCommands(_ bytes: [UInt8]) -> [(offset: Int, keys: [String: String])] {
        var out: [(Int, [String: String])] = []
        var i = 0
        while i + 2 < bytes.count {
            // `ESC _ G`, or inside the passthrough `ESC ESC _ G`.
            if bytes[i] == esc, bytes[i + 1] == UInt8(ascii: "_"), bytes[i + 2] == UInt8(ascii: "G") {
                var j = i + 3
                var control: [UInt8] = []
                while j < bytes.count, bytes[j] != UInt8(ascii: ";"), bytes[j] != esc { control.append(bytes[j]); j += 1 }
                var keys: [String: String] = [:]
                for pair in String(decoding: control, as: UTF8.self).split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    if kv.count == 2 { keys[String(kv[0])] = String(kv[1]) }
                }
                out.append((i, keys))
                i = j
                continue
            }
            i += 1
        }
        return out
    }

    /// Ids transmitted (`a=t`) and ids freed (`d=I`, or every image with `d=A`), in order.
    static func ledger(_ bytes: [UInt8]) -> (sent: [String], freed: Set<String>, lastFree: Int?) {
        var sent: [String] = [], freed = Set<String>(), lastFree: Int?
        for (offset, k) in kittyCommands(bytes) {
            if k["a"] == "t" || k["a"] == "T", let id = k["i"] { sent.append(id); freed.remove(id) }
            if k["a"] == "d", k["d"] == "I", let id = k["i"] { freed.insert(id); lastFree = offset }
            if k["a"] == "d", k["d"] == "A" { freed.formUnion(sent); lastFree = offset }
        }
        return (sent, freed, lastFree)
    }

    @Test func kittyPicturesAreSentOnceReplacedAndDeleted() throws {
        let t = try Tmux(width: 120, height: 36, environment: ["COLORTERM": "truecolor"])
        let (pipe, _) = try launch(t, images: "kitty")
        try waitForCommands(pipe, "the preview's placement") { $0["a"] == "p" }
        // Nothing of the picture is drawn as half blocks.
        #expect(!(try t.screen().joined()).contains("▀"))
        try t.keys("j")
        try t.waitFor(text: " 2/")
        try waitForCommands(pipe, "the second preview", count: 2) { $0["a"] == "t" }
        try t.keys("k")
        try t.waitFor(text: " 1/")
        var bytes = try waitForCommands(pipe, "the first preview placed again", count: 3) { $0["a"] == "p" }
        var (sent, _, _) = Self.ledger(bytes)
        #expect(sent.count == 2, "the first picture was sent again: \(sent)")
        #expect(Set(sent).count == 2)

        // A resize: every picture held is deleted, and the preview sent again at its new size.
        let before = bytes.count
        try t.resize(width: 100, height: 30)
        bytes = try waitForCommands(pipe, "the picture after the resize", count: 3) { $0["a"] == "t" }
        let afterResize = Self.kittyCommands(Array(bytes[before...])).map(\.keys)
        #expect(afterResize.contains { $0["a"] == "d" && $0["d"] == "I" }, "no delete after the resize: \(afterResize)")

        // Quit: every id sent is freed, before the alternate screen is left.
        try t.keys("q")
        try t.waitFor(text: "EXIT:0")
        try t.run(["pipe-pane", "-t", "main"])
        usleep(100_000)
        bytes = Self.read(pipe)
        let ledger = Self.ledger(bytes)
        sent = ledger.sent
        #expect(Set(sent).isSubset(of: ledger.freed), "left in the terminal: \(Set(sent).subtracting(ledger.freed))")
        let leave = try #require(lastOffset(of: Array("\u{1B}[?1049l".utf8), in: bytes))
        #expect((ledger.lastFree ?? Int.max) < leave, "deleted after leaving the alternate screen")
        try ExplorerEndToEndTests().expectRestored(t, exitCode: 0)
    }

    @Test func sigtermAndACrashDeleteThePictures() throws {
        let t = try Tmux(width: 120, height: 36, environment: ["COLORTERM": "truecolor"])
        for (signal, code) in [("TERM", 143), ("SEGV", 139)] {
            // Swift's backtracer would print (and in a terminal, wait) before the process dies.
            let (pipe, marker) = try launch(t, images: "kitty", environment: "SWIFT_BACKTRACE=enable=no ")
            try waitForCommands(pipe, "the preview's placement") { $0["a"] == "p" }
            let pids = Self.processes(containing: marker)
            #expect(pids.count == 1, "the explorer's process: \(pids)")
            for pid in pids { kill(pid, signal == "TERM" ? SIGTERM : SIGSEGV) }
            try t.waitFor(text: "EXIT:\(code)", timeout: 15)
            try t.run(["pipe-pane", "-t", "main"])
            usleep(100_000)
            let bytes = Self.read(pipe)
            let ledger = Self.ledger(bytes)
            #expect(!ledger.sent.isEmpty)
            #expect(Set(ledger.sent).isSubset(of: ledger.freed), "SIG\(signal): left \(Set(ledger.sent).subtracting(ledger.freed))")
            if let leave = lastOffset(of: Array("\u{1B}[?1049l".utf8), in: bytes) {
                #expect((ledger.lastFree ?? Int.max) < leave, "SIG\(signal): deleted after leaving the alternate screen")
            }
            #expect(try t.pane("alternate_on") == "0", "SIG\(signal): still on the alternate screen")
            try t.type("clear")
            try t.keys("Enter")
        }
    }

    @Test func sixelPicturesAreDrawnInPlaceAndWipedOnQuit() throws {
        let t = try Tmux(width: 120, height: 36, environment: ["COLORTERM": "truecolor"])
        let (pipe, _) = try launch(t, images: "sixel")
        let header = Array("\u{1B}P0;1;0q".utf8)
        let deadline = Date().addingTimeInterval(10)
        while !Self.read(pipe).includes(header), Date() < deadline { usleep(50_000) }
        #expect(Self.read(pipe).includes(header), "no sixel image was sent")
        try t.keys("q")
        try t.waitFor(text: "EXIT:0")
        try t.run(["pipe-pane", "-t", "main"])
        usleep(100_000)
        let bytes = Self.read(pipe)
        let lastSixel = try #require(lastOffset(of: header, in: bytes))
        let leave = try #require(lastOffset(of: Array("\u{1B}[?1049l".utf8), in: bytes))
        // The screen is cleared (tmux-256color's clear: ESC [ H ESC [ J) after the last picture.
        let clear = lastOffset(of: Array("\u{1B}[H\u{1B}[J".utf8), in: bytes) ?? lastOffset(of: Array("\u{1B}[2J".utf8), in: bytes)
        #expect(clear.map { $0 > lastSixel && $0 < leave } == true, "no clear between the last sixel and the exit")
        // Sixel is never wrapped for tmux's passthrough (tmux draws it itself).
        #expect(!bytes.includes(Array("\u{1B}Ptmux;\u{1B}\u{1B}P".utf8)))
        try ExplorerEndToEndTests().expectRestored(t, exitCode: 0)
    }

    @Test func showDrawsAnImageFileInEachModeAndRefusesBadInput() throws {
        let image = ExplorerEndToEndTests.sampleData + "/images/" + (try FileManager.default
            .contentsOfDirectory(atPath: ExplorerEndToEndTests.sampleData + "/images").filter { $0.hasSuffix(".jpg") }.sorted()[0])
        let scratch = NSTemporaryDirectory() + "vitrine-show-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let run = { (arguments: [String]) throws -> HostileOutputTests.Output in
            try HostileOutputTests.run(arguments, cache: scratch)
        }
        let common = ["show", "--size", "20x8", "--cell-pixels", "10x20", "--stats"]
        let kitty = try run(common + ["--images", "kitty", image])
        #expect(kitty.status == 0)
        // One transmit-and-display (a=T) in chunks, then 8 line feeds under the picture.
        let stream = kitty.stdout
        let cut = stream.firstIndex(of: 0x0A) ?? stream.count
        #expect(Array(stream[cut...]) == [UInt8](repeating: 0x0A, count: stream.count - cut))
        let stats = String(decoding: kitty.stderr, as: UTF8.self)
        #expect(stats.contains("kitty: ") && stats.contains(" bytes, encoded in "), "\(stats)")
        #expect(stream.count > 20 * 10 * 8 * 20 * 3 / 2, "a raw RGB picture of up to 200x160 pixels")
        let sixel = try run(common + ["--images", "sixel", "--compact", image])
        #expect(sixel.status == 0 && sixel.stdout.starts(with: Array("\u{1B}P0;1;0q".utf8)) && sixel.stdout.last == 0x0A)
        let iterm = try run(common + ["--images", "iterm", image])
        #expect(iterm.status == 0 && iterm.stdout.starts(with: Array("\u{1B}]1337;File=inline=1;".utf8)))
        // Not a terminal and no --images: half blocks in ANSI colours, one line per row.
        let blocks = try run(["show", "--size", "20x8", image])
        #expect(blocks.status == 0 && String(decoding: blocks.stdout, as: UTF8.self).contains("▀"))
        // Bad input: a clear error, nothing on standard output, the file's name escaped.
        let hostile = scratch + "/bad \u{1B}[31mname.jpg"
        try Data([0xFF, 0xD8, 0xFF, 0x00]).write(to: URL(fileURLWithPath: hostile))
        for (arguments, says) in [(["show", hostile], "bad "), (["show", "--size", "0x5", image], "--size"),
                                  (["show", "--images", "pixels", image], "--images"),
                                  (["show", "--cell-pixels", "10x9999", image], "--cell-pixels"),
                                  (["show", scratch + "/missing.jpg"], "missing.jpg")] {
            let out = try run(arguments)
            let err = String(decoding: out.stderr, as: UTF8.self)
            #expect(out.status != 0 && out.stdout.isEmpty, "\(arguments)")
            #expect(err.contains(says) && !out.stderr.contains(0x1B), "\(arguments): \(err)")
        }
    }

    /// The processes whose command line contains `marker` (read from /proc: no procps needed).
    static func processes(containing marker: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { name -> pid_t? in
            guard let pid = pid_t(name), pid != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { return nil }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return arguments.first?.hasSuffix("/vitrine") == true && arguments.contains(marker) ? pid : nil
        }
    }

    func lastOffset(of needle: [UInt8], in bytes: [UInt8]) -> Int? {
        guard !needle.isEmpty, needle.count <= bytes.count else { return nil }
        var i = bytes.count - needle.count
        while i >= 0 {
            if bytes[i] == needle[0] && bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i -= 1
        }
        return nil
    }
}
