import CSupport
import Explorer
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Real direct-colour terminfo strings (ncurses 6.4's database, `infocmp -1 -x NAME`).
private enum Entries {
    /// xterm-direct, tmux-direct, iterm2-direct, mintty-direct, mlterm-direct.
    static let xtermDirectSetaf = "\u{1B}[%?%p1%{8}%<%t3%p1%d%e38:2::%p1%{65536}%/%d:%p1%{256}%/%{255}%&%d:%p1%{255}%&%d%;m"
    static let xtermDirectSetab = "\u{1B}[%?%p1%{8}%<%t4%p1%d%e48:2::%p1%{65536}%/%d:%p1%{256}%/%{255}%&%d:%p1%{255}%&%d%;m"
    /// alacritty-direct, konsole-direct, st-direct, vte-direct: already the semicolon form.
    static let semicolonSetaf = "\u{1B}[%?%p1%{8}%<%t3%p1%d%e38;2;%p1%{65536}%/%d;%p1%{256}%/%{255}%&%d;%p1%{255}%&%d%;m"
    static let semicolonSetab = "\u{1B}[%?%p1%{8}%<%t4%p1%d%e48;2;%p1%{65536}%/%d;%p1%{256}%/%{255}%&%d;%p1%{255}%&%d%;m"
    /// kitty-direct, xterm-direct2: the colon form without the colour-space field.
    static let kittySetaf = "\u{1B}[%?%p1%{8}%<%t3%p1%d%e38:2:%p1%{65536}%/%d:%p1%{256}%/%{255}%&%d:%p1%{255}%&%d%;m"
    /// xterm-direct256: semicolons for the palette, colons for 24-bit.
    static let direct256Setaf = "\u{1B}[%?%p1%{8}%<%t3%p1%d%e%p1%{16}%<%t9%p1%{8}%-%d%e%?%p1%{256}%<%t38;5;%p1%d%e38:2::%p1%{65536}%/%d:%p1%{256}%/%{255}%&%d:%p1%{255}%&%d%;%;m"
    /// xterm-direct16: a character constant (%'R') in the expression.
    static let direct16Setaf = "\u{1B}[%?%p1%{8}%<%t3%p1%d%e%?%p1%{16}%<%t%p1%'R'%+%d%e38:2::%p1%{65536}%/%d:%p1%{256}%/%{255}%&%d:%p1%{255}%&%d%;%;m"
    /// xterm-256color (no extended colours in the colon form).
    static let xterm256Setaf = "\u{1B}[%?%p1%{8}%<%t3%p1%d%e%p1%{16}%<%t9%p1%{8}%-%d%e38;5;%p1%d%;m"
    /// hterm-256color: the palette in the colon form.
    static let htermSetab = "\u{1B}[%?%p1%{8}%<%t4%p1%d%e%p1%{16}%<%t10%p1%{8}%-%d%e48:5:%p1%d%;m"
}

@Suite("Truecolor escapes: the semicolon form")
struct SGRColorTemplateTests {
    @Test func directEntriesBecomeTheSemicolonForm() {
        #expect(SGRColorTemplate.semicolonForm(of: Entries.xtermDirectSetaf) == Entries.semicolonSetaf)
        #expect(SGRColorTemplate.semicolonForm(of: Entries.xtermDirectSetab) == Entries.semicolonSetab)
        #expect(SGRColorTemplate.semicolonForm(of: Entries.kittySetaf) == Entries.semicolonSetaf)
        #expect(SGRColorTemplate.semicolonForm(of: Entries.direct256Setaf)
                == "\u{1B}[%?%p1%{8}%<%t3%p1%d%e%p1%{16}%<%t9%p1%{8}%-%d%e%?%p1%{256}%<%t38;5;%p1%d%e38;2;%p1%{65536}%/%d;%p1%{256}%/%{255}%&%d;%p1%{255}%&%d%;%;m")
        #expect(SGRColorTemplate.semicolonForm(of: Entries.direct16Setaf)
                == "\u{1B}[%?%p1%{8}%<%t3%p1%d%e%?%p1%{16}%<%t%p1%'R'%+%d%e38;2;%p1%{65536}%/%d;%p1%{256}%/%{255}%&%d;%p1%{255}%&%d%;%;m")
        #expect(SGRColorTemplate.semicolonForm(of: Entries.htermSetab)
                == "\u{1B}[%?%p1%{8}%<%t4%p1%d%e%p1%{16}%<%t10%p1%{8}%-%d%e48;5;%p1%d%;m")
        // A colour space given: dropped (the semicolon form has no place for it).
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:2:0:%p1%d:%p2%d:%p3%dm") == "\u{1B}[38;2;%p1%d;%p2%d;%p3%dm")
        // Constant fields and printf-style formats are fields too.
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[0;38:2::255:%p1%:-3d:%p2%02dm") == "\u{1B}[0;38;2;255;%p1%:-3d;%p2%02dm")
    }

    @Test func entriesWithoutTheColonFormAreLeftAlone() {
        #expect(SGRColorTemplate.semicolonForm(of: Entries.semicolonSetaf) == nil)
        #expect(SGRColorTemplate.semicolonForm(of: Entries.xterm256Setaf) == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[3%p1%dm") == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "") == nil)
        // Not an SGR colour parameter: part of a longer number, or in the middle of a field.
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[138:2::1:2:3m") == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[1:38:2::1:2:3m") == nil)
    }

    @Test func stringsItDoesNotUnderstandAreLeftAlone() {
        // Unknown escapes or a cut-off string: nil, whatever colons they have.
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:2::%p1%z:1:2m") == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:2::%p1%{65536") == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:2::1:2:3m%") == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:2::1:2:3%'") == nil)
        // Fields that are not a colour's.
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:2::1:2m") == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:2::1:2:3:4:5m") == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:2:1::3m") == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:5:1:2m") == nil)
        #expect(SGRColorTemplate.semicolonForm(of: "\u{1B}[38:5:m") == nil)
    }

    @Test func theRewriteNeverGrowsAString() {
        for s in [Entries.xtermDirectSetaf, Entries.xtermDirectSetab, Entries.kittySetaf, Entries.direct256Setaf,
                  Entries.direct16Setaf, Entries.htermSetab] {
            let rewritten = SGRColorTemplate.semicolonForm(of: s)
            #expect(rewritten != nil)
            #expect((rewritten?.utf8.count ?? .max) <= s.utf8.count, "\(s.debugDescription)")
        }
    }

    /// ncurses' own tparm expands the rewritten strings to the semicolon form of the packed
    /// value R*65536 + G*256 + B, and small values to the 8 ANSI colours as before.
    @Test func ncursesExpandsTheRewrittenStrings() throws {
        let fg = try #require(SGRColorTemplate.semicolonForm(of: Entries.xtermDirectSetaf))
        let bg = try #require(SGRColorTemplate.semicolonForm(of: Entries.xtermDirectSetab))
        let colours: [(Int, Int, Int)] = [(1, 2, 3), (10, 20, 30), (255, 128, 1), (0, 0, 8), (255, 255, 255),
                                          (0, 255, 0), (128, 0, 128), (0x26, 0x2b, 0x36), (254, 1, 255)]
        for (r, g, b) in colours {
            let value = r << 16 | g << 8 | b
            #expect(SGRColorTemplate.expand(fg, value: value) == "\u{1B}[38;2;\(r);\(g);\(b)m")
            #expect(SGRColorTemplate.expand(bg, value: value) == "\u{1B}[48;2;\(r);\(g);\(b)m")
            // The entry as it was says the same in colons.
            #expect(SGRColorTemplate.expand(Entries.xtermDirectSetaf, value: value) == "\u{1B}[38:2::\(r):\(g):\(b)m")
        }
        for n in 0..<8 {
            #expect(SGRColorTemplate.expand(fg, value: n) == "\u{1B}[3\(n)m")
            #expect(SGRColorTemplate.expand(bg, value: n) == "\u{1B}[4\(n)m")
        }
        let direct256 = try #require(SGRColorTemplate.semicolonForm(of: Entries.direct256Setaf))
        #expect(SGRColorTemplate.expand(direct256, value: 200) == "\u{1B}[38;5;200m")
        #expect(SGRColorTemplate.expand(direct256, value: 0x102030) == "\u{1B}[38;2;16;32;48m")
    }

    @Test func theEscapeHatch() {
        #expect(TruecolorForm.from(environment: [:]) == .semicolon)
        #expect(TruecolorForm.from(environment: ["VITRINE_TRUECOLOR_FORM": "colon"]) == .colon)
        #expect(TruecolorForm.from(environment: ["VITRINE_TRUECOLOR_FORM": "Colon"]) == .colon)
        #expect(TruecolorForm.from(environment: ["VITRINE_TRUECOLOR_FORM": "semicolon"]) == .semicolon)
        #expect(TruecolorForm.from(environment: ["VITRINE_TRUECOLOR_FORM": "nonsense"]) == .semicolon)
    }
}

@Suite("Terminal colour query: the replies")
struct TerminalColorReplyTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
    static let da1 = "\u{1B}[?62;22c"

    @Test func positiveAnswers() {
        for sgr in ["0;38:2::1:2:3m", "38:2:1:2:3m", "38:2:0:1:2:3m", "0;38;2;1;2;3m", "38;2;01;02;03m", "1;38;2;1;2;3;48;5;4m"] {
            for status in ["1", "0"] {
                let reply = TerminalColorReply.parse(Self.bytes("\u{1B}P\(status)$r\(sgr)\u{1B}\\" + Self.da1))
                #expect(reply == TerminalColorReply(sgrReport: true, deviceAttributes: true), "\(status) \(sgr)")
                #expect(reply.confirmation == "DECRQSS")
            }
        }
        let tcap = TerminalColorReply.parse(Self.bytes("\u{1B}P0$r\u{1B}\\\u{1B}P1+r524742=382F382F38\u{1B}\\" + Self.da1))
        #expect(tcap == TerminalColorReply(sgrReport: false, rgbCapability: true, deviceAttributes: true))
        #expect(tcap.confirmation == "XTGETTCAP")
        // A boolean RGB (no value), BEL as the terminator, in any order.
        let bel = TerminalColorReply.parse(Self.bytes("\u{1B}P1+r524742\u{07}" + Self.da1))
        #expect(bel.rgbCapability == true && bel.deviceAttributes)
    }

    @Test func negativeAnswers() {
        // DA1 only: the sentinel with nothing before it.
        #expect(TerminalColorReply.parse(Self.bytes(Self.da1)) == TerminalColorReply(deviceAttributes: true))
        #expect(TerminalColorReply.parse(Self.bytes("\u{1B}[?1;2c")).confirmation == nil)
        // Invalid requests, unknown capabilities, other colours (a palette terminal folds 1/2/3 to 16).
        let no = TerminalColorReply.parse(Self.bytes("\u{1B}P0$r\u{1B}\\\u{1B}P0+r524742\u{1B}\\" + Self.da1))
        #expect(no == TerminalColorReply(sgrReport: false, rgbCapability: false, deviceAttributes: true))
        for sgr in ["0;38;5;16m", "0;38;2;1;2;4m", "38:2::1:2m", "0m", "38;2;1;2m", "48;2;1;2;3m", "0;38:5:16m", "38:2::1:2:3"] {
            let reply = TerminalColorReply.parse(Self.bytes("\u{1B}P1$r\(sgr)\u{1B}\\" + Self.da1))
            #expect(reply.sgrReport == false && reply.confirmation == nil, "\(sgr)")
        }
        // A capability that is not RGB.
        #expect(TerminalColorReply.parse(Self.bytes("\u{1B}P1+r544e=78\u{1B}\\" + Self.da1)).rgbCapability == false)
    }

    @Test func unfinishedRepliesWaitForMore() {
        #expect(TerminalColorReply.parse(Self.bytes("\u{1B}P1$r0;38:2::1:2:3m")) == TerminalColorReply())
        #expect(TerminalColorReply.parse(Self.bytes("\u{1B}P1$r0;38:2::1:2:3m\u{1B}")) == TerminalColorReply())
        #expect(TerminalColorReply.parse(Self.bytes("\u{1B}P1$r0;38:2::1:2:3m\u{1B}\\\u{1B}[?62;2")) == TerminalColorReply(sgrReport: true))
        #expect(TerminalColorReply.parse(Self.bytes("\u{1B}")) == TerminalColorReply())
        #expect(TerminalColorReply.parse([]) == TerminalColorReply())
    }

    @Test func garbageAndHostileBytes() {
        // Keys typed meanwhile, stray escapes, other control sequences, a DCS abandoned by a
        // new sequence: skipped; the sentinel is still found.
        let noise = "jk\u{1B}\u{1B}[1;2R\u{1B}[>0;1c\u{1B}Pjunk\u{1B}[?1;2c"
        #expect(TerminalColorReply.parse(Self.bytes(noise)) == TerminalColorReply(deviceAttributes: true))
        // A forged positive answer after DA1 does not count (the sentinel ends the replies).
        let late = TerminalColorReply.parse(Self.bytes(Self.da1 + "\u{1B}P1$r38;2;1;2;3m\u{1B}\\"))
        #expect(late.confirmation == nil)
        // Positive answers only inside well-formed replies.
        let fake = "1$r38;2;1;2;3m \u{1B}[1$r38;2;1;2;3m \u{1B}P1$x38;2;1;2;3m\u{1B}\\ \u{1B}P+r524742\u{1B}\\" + Self.da1
        #expect(TerminalColorReply.parse(Self.bytes(fake)).confirmation == nil)
        // Huge numbers, invalid UTF-8, NULs, C1 bytes: no crash, no positive answer.
        let hostile: [UInt8] = Self.bytes("\u{1B}P1$r38;2;99999999999999999999999;2;3m\u{1B}\\") + [0xFF, 0xFE, 0, 0x9B, 0x90, 0x9C]
            + Self.bytes("\u{1B}P1$r38:2:::::::::1:2:3m\u{1B}\\\u{1B}[" + String(repeating: "9", count: 5000) + "c")
        let parsed = TerminalColorReply.parse(hostile)
        #expect(parsed.confirmation == nil)
        // Random bytes (a fixed seed): never a crash, never a confirmation without the test colour.
        var state: UInt64 = 7
        for _ in 0..<300 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(state % 200) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let pick = UInt8(truncatingIfNeeded: state >> 33)
                bytes.append([0x1B, 0x5B, 0x50, 0x3F, 0x63, 0x07, 0x5C, 0x24, 0x72, 0x3B, 0x3A, 0x6D][Int(pick) % 12] &+ (pick > 200 ? pick : 0))
            }
            let reply = TerminalColorReply.parse(bytes)
            if reply.sgrReport == true {
                #expect(String(decoding: bytes, as: UTF8.self).contains("1:2:3") || String(decoding: bytes, as: UTF8.self).contains("1;2;3"))
            }
        }
    }
}

@Suite("Terminal colour query: late replies")
struct LateReplyFilterTests {
    static func chars(_ s: String) -> [(code: Bool, value: UInt32)] { s.unicodeScalars.map { (false, $0.value) } }
    static func text(_ raw: [(code: Bool, value: UInt32)]) -> String {
        String(String.UnicodeScalarView(raw.compactMap { $0.code ? nil : Unicode.Scalar($0.value) }))
    }

    @Test func dropsRepliesAndDisarmsAfterTheSentinel() {
        var filter = LateReplyFilter(armedAt: 1000)
        #expect(filter.isArmed(at: 1000))
        let batch = Self.chars("j\u{1B}P1$r0;38:2::1:2:3m\u{1B}\\\u{1B}P0+r524742\u{1B}\\k")
        #expect(Self.text(filter.strip(batch, now: 1100)) == "jk")
        #expect(filter.isArmed(at: 1100))
        let rest = Self.chars("\u{1B}[?62;22cq")
        #expect(Self.text(filter.strip(rest, now: 1200)) == "q")
        #expect(!filter.isArmed(at: 1200))
        // Disarmed: the same bytes are keys again.
        #expect(filter.strip(rest, now: 1300).count == rest.count)
    }

    @Test func keepsKeys() {
        var filter = LateReplyFilter(armedAt: 0)
        // Escape, Alt+P, an unfinished DCS, a CSI that is not DA1's answer, key codes between.
        for keys in ["\u{1B}", "\u{1B}P", "\u{1B}Pabc", "\u{1B}[1;5C", "\u{1B}[c", "\u{1B}[?25h", "\u{1B}[?1;2"] {
            let raw = Self.chars(keys)
            #expect(filter.strip(raw, now: 10).count == raw.count, "\(keys.debugDescription)")
        }
        var split = Self.chars("\u{1B}P1$r")
        split.append((true, 0o402))
        split += Self.chars("x\u{1B}\\")
        #expect(filter.strip(split, now: 10).count == split.count)
        #expect(filter.isArmed(at: 10))
    }

    @Test func expires() {
        var filter = LateReplyFilter(armedAt: 0)
        let raw = Self.chars("\u{1B}[?62;22c")
        #expect(!filter.isArmed(at: LateReplyFilter.window))
        #expect(filter.strip(raw, now: LateReplyFilter.window).count == raw.count)
        var unarmed = LateReplyFilter()
        #expect(unarmed.strip(raw, now: 0).count == raw.count)
    }
}


/// A pseudo-terminal whose far side a thread plays: it collects what the program writes and,
/// once a query's last request (DA1, `ESC [ c`) is in, sends its answer or plays a script. The
/// program under test uses `slave` as its terminal (the colour and the graphics queries' tests).
final class FakeTerminal: @unchecked Sendable {
    let master: Int32
    let slave: Int32

    /// What the playing thread shares with the test (the thread does not hold the terminal, so
    /// that its descriptors are closed only once the thread is done).
    private final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var received: [UInt8] = []
        var stopped = false
        let done = DispatchSemaphore(value: 0)
        var isStopped: Bool { lock.withLock { stopped } }
    }
    private let shared = Shared()
    private var playing = false

    init() throws {
        var m: Int32 = -1, s: Int32 = -1
        guard vitrine_open_pty_pair(&m, &s) == 0 else { throw POSIXError(.ENODEV) }
        (master, slave) = (m, s)
        _ = fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        stop()
        if playing { _ = shared.done.wait(timeout: .now() + 5) }
        close(slave)
        close(master)
    }

    /// One step of what the terminal sends: `bytes` after `delay` seconds.
    typealias Step = (delay: TimeInterval, bytes: [UInt8])

    /// Starts the terminal's side: `answer` goes out (nil: nothing ever does) `delay` seconds
    /// after the request's DA1.
    func play(answer: [UInt8]?, delay: TimeInterval = 0) {
        play(answer.map { [(delay, $0)] } ?? [])
    }

    /// Starts the terminal's side from a script: once the request's last question (DA1,
    /// `ESC [ c`) is in, each step's bytes go out after its delay, in separate writes (so an
    /// answer can arrive split across reads).
    func play(_ script: [Step]) {
        let shared = self.shared, master = self.master
        playing = true
        let da1 = Array("\u{1B}[c".utf8)
        Thread {
            defer { shared.done.signal() }
            var next = 0
            var due: Date?
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !shared.isStopped {
                var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 2) > 0 {
                    let n = read(master, &buffer, buffer.count)
                    if n > 0 { shared.lock.withLock { shared.received += buffer[0..<n] } }
                }
                if due == nil, next < script.count, shared.lock.withLock({ shared.received.ends(with: da1) }) {
                    due = Date().addingTimeInterval(script[next].delay)
                }
                if let when = due, Date() >= when, next < script.count {
                    Self.write(script[next].bytes, to: master, shared: shared)
                    next += 1
                    due = next < script.count ? Date().addingTimeInterval(script[next].delay) : nil
                }
            }
        }.start()
    }

    /// Writes all of `bytes` to the non-blocking master, waiting while the pty is full, until stopped.
    private static func write(_ bytes: [UInt8], to fd: Int32, shared: Shared) {
        var written = 0
        while written < bytes.count, !shared.isStopped {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n > 0 { written += n; continue }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&p, 1, 10)
        }
    }

    var output: [UInt8] { shared.lock.withLock { shared.received } }
    func stop() { shared.lock.withLock { shared.stopped = true } }

    /// Bytes waiting in the program's input queue, read without waiting (the slave is put in
    /// non-canonical mode for it, then back).
    func pendingInput() -> [UInt8] {
        var mode = termios()
        tcgetattr(slave, &mode)
        var raw = mode
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &raw.c_cc) { $0[Int(VMIN)] = 0; $0[Int(VTIME)] = 0 }
        tcsetattr(slave, TCSANOW, &raw)
        defer { tcsetattr(slave, TCSANOW, &mode) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var p = pollfd(fd: slave, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { break }
            let n = read(slave, &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }

    /// Turns echo off as curses' `noecho` does.
    func echoOff() {
        var mode = termios()
        tcgetattr(slave, &mode)
        mode.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(slave, TCSANOW, &mode)
    }

    func mode() -> termios {
        var m = termios()
        tcgetattr(slave, &m)
        return m
    }
}

/// A flag one thread sets and another reads.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
    func includes(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}

@Suite("Terminal colour query: a scripted terminal")
struct TerminalColorQueryTests {
    static let da1 = Array("\u{1B}[?62;22c".utf8)

    func ask(_ terminal: FakeTerminal, timeout: Int = 150) -> (TerminalColorAnswer, Double) {
        let start = Date()
        let answer = TerminalColorQuery.ask(input: terminal.slave, output: terminal.slave, timeoutMilliseconds: timeout)
        return (answer, Date().timeIntervalSince(start) * 1000)
    }

    func expectModeRestored(_ terminal: FakeTerminal, _ before: termios) {
        let after = terminal.mode()
        #expect(after.c_lflag == before.c_lflag)
        #expect(after.c_iflag == before.c_iflag && after.c_oflag == before.c_oflag)
        #expect(withUnsafeBytes(of: after.c_cc) { Array($0) } == withUnsafeBytes(of: before.c_cc) { Array($0) })
        #expect(after.c_lflag & tcflag_t(ICANON) != 0 && after.c_lflag & tcflag_t(ECHO) != 0)
    }

    @Test(arguments: [
        ("\u{1B}P1$r0;38:2::1:2:3m\u{1B}\\", "DECRQSS"),
        ("\u{1B}P1$r0;38;2;1;2;3m\u{1B}\\\u{1B}P0+r524742\u{1B}\\", "DECRQSS"),
        ("\u{1B}P0$r\u{1B}\\\u{1B}P1+r524742=382F382F38\u{1B}\\", "XTGETTCAP"),
    ])
    func aTerminalThatSaysYes(reply: String, via: String) throws {
        let terminal = try FakeTerminal()
        let before = terminal.mode()
        terminal.play(answer: Array(reply.utf8) + Self.da1)
        let (answer, ms) = ask(terminal, timeout: 2000)
        guard case .truecolor(let how, _) = answer else { Issue.record("\(answer)"); return }
        #expect(how == via)
        #expect(answer.description.contains(via))
        #expect(ms < 1000, "the sentinel ends the wait, not the time limit: \(ms) ms")
        expectModeRestored(terminal, before)
        #expect(terminal.pendingInput().isEmpty, "a reply was left for curses to read as keys")
        // What the terminal got: the request, the colours put back.
        usleep(30_000)
        #expect(terminal.output == TerminalColorQuery.request)
        #expect(TerminalColorQuery.request.ends(with: Array("\u{1B}[0m\u{1B}[c".utf8)))
    }

    @Test func aTerminalThatAnswersOnlyDA1() throws {
        let terminal = try FakeTerminal()
        let before = terminal.mode()
        terminal.play(answer: Self.da1)
        let (answer, ms) = ask(terminal, timeout: 2000)
        guard case .notConfirmed = answer else { Issue.record("\(answer)"); return }
        #expect(ms < 1000, "the sentinel ends the wait at once, not the time limit: \(ms) ms")
        #expect(answer.description.contains("DA1"))
        expectModeRestored(terminal, before)
        #expect(terminal.pendingInput().isEmpty)
    }

    @Test func aTerminalThatNeverAnswers() throws {
        let terminal = try FakeTerminal()
        let before = terminal.mode()
        terminal.play(answer: nil)
        let (answer, ms) = ask(terminal, timeout: 120)
        guard case .noAnswer = answer else { Issue.record("\(answer)"); return }
        #expect(ms >= 115 && ms < 600, "the time limit is kept: \(ms) ms")
        expectModeRestored(terminal, before)
        #expect(terminal.pendingInput().isEmpty)
    }

    @Test func aSlowTerminalIsCutOffAndItsLateReplyFiltered() throws {
        // A slow link: the answers come after the time limit. The query stops waiting; the
        // replies land in the input queue, where curses reads them and LateReplyFilter drops them.
        let terminal = try FakeTerminal()
        let reply = Array("\u{1B}P1$r0;38:2::1:2:3m\u{1B}\\".utf8) + Self.da1
        terminal.play(answer: reply, delay: 0.5)
        let (answer, ms) = ask(terminal, timeout: 80)
        terminal.echoOff()                          // as curses does next
        let armed = LateReplyFilter(armedAt: 0)
        guard case .noAnswer = answer else { Issue.record("\(answer)"); return }
        #expect(ms < 450, "waited for the late reply: \(ms) ms")
        usleep(700_000)
        let late = terminal.pendingInput()
        #expect(late == reply)
        var filter = armed
        #expect(filter.strip(late.map { (false, UInt32($0)) }, now: 1).isEmpty)
        #expect(!filter.isArmed(at: 1))
        #expect(terminal.output == TerminalColorQuery.request, "nothing echoed")
    }

    @Test func aHostileTerminal() throws {
        // Garbage, forged and malformed answers, then the sentinel: no, and quickly.
        let terminal = try FakeTerminal()
        let before = terminal.mode()
        var junk: [UInt8] = Array("\u{1B}P1$r38;5;16m\u{1B}\\\u{1B}P0+r524742\u{1B}\\\u{1B}Punterminated".utf8)
        junk += [0xFF, 0x00, 0x9B, 0x07, 0x1B, 0x1B] + Array("\u{1B}[6n\u{1B}]11;rgb:0000/0000/0000\u{07}1$r38;2;1;2;3m".utf8)
        terminal.play(answer: junk + Self.da1)
        let (answer, ms) = ask(terminal, timeout: 2000)
        guard case .notConfirmed = answer else { Issue.record("\(answer)"); return }
        #expect(ms < 1000)
        expectModeRestored(terminal, before)
        #expect(terminal.pendingInput().isEmpty)
    }

    @Test func aFloodingTerminal() throws {
        // Endless bytes and no sentinel: the time limit holds, memory stays bounded, and the
        // queue is drained.
        let terminal = try FakeTerminal()
        let before = terminal.mode()
        terminal.play(answer: [UInt8](repeating: UInt8(ascii: "x"), count: 3000) + Array("\u{1B}P".utf8)
                      + [UInt8](repeating: UInt8(ascii: "y"), count: 9000))
        let (answer, ms) = ask(terminal, timeout: 150)
        guard case .noAnswer = answer else { Issue.record("\(answer)"); return }
        #expect(ms >= 140 && ms < 800)
        expectModeRestored(terminal, before)
        #expect(terminal.pendingInput().isEmpty)
    }

    @Test func signalsDoNotCutTheWaitShort() throws {
        // EINTR from poll and read: the query carries on and still hears the answer.
        let terminal = try FakeTerminal()
        terminal.play(answer: Array("\u{1B}P1$r0;38:2::1:2:3m\u{1B}\\".utf8) + Self.da1, delay: 0.06)
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        action.sa_flags = 0                         // no SA_RESTART: poll and read fail with EINTR
        sigemptyset(&action.sa_mask)
        var previous = sigaction()
        sigaction(SIGUSR2, &action, &previous)
        var usr2 = sigset_t(), oldMask = sigset_t()
        sigemptyset(&usr2)
        sigaddset(&usr2, SIGUSR2)
        pthread_sigmask(SIG_UNBLOCK, &usr2, &oldMask)
        defer {
            pthread_sigmask(SIG_SETMASK, &oldMask, nil)
            sigaction(SIGUSR2, &previous, nil)
        }
        let me = pthread_self()
        let finished = StopFlag()
        let stopped = DispatchSemaphore(value: 0)
        Thread {
            while !finished.isSet {
                pthread_kill(me, SIGUSR2)
                usleep(5_000)
            }
            stopped.signal()
        }.start()
        let (answer, _) = ask(terminal, timeout: 1000)
        finished.set()
        stopped.wait()
        usleep(10_000)                              // a signal still pending is delivered here
        #expect(answer.confirmsTruecolor, "\(answer)")
    }

    @Test func notATerminal() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(TerminalColorQuery.ask(input: fds[0], output: fds[1]) == .notAsked("not a terminal"))
    }
}

@Suite("Colour mode detection: asking the terminal")
struct ColorModeAskTests {
    func decide(_ env: [String: String], override: ColorMode? = nil,
                answer: TerminalColorAnswer) throws -> (ColorModeDecision, asked: Int) {
        var asked = 0
        let d = try ColorModeDetection.decide(override: override, environment: env,
                                              probe: { ColorModeDetectionTests.entries[$0] },
                                              askTerminal: { asked += 1; return answer })
        return (d, asked)
    }

    let yes = TerminalColorAnswer.truecolor(via: "DECRQSS", milliseconds: 3)
    let no = TerminalColorAnswer.notConfirmed(milliseconds: 2)

    @Test func aTerminalThatConfirmsGetsTheDirectEntry() throws {
        let (d, asked) = try decide(["TERM": "xterm-256color"], answer: yes)
        #expect(asked == 1)
        #expect(d == ColorModeDecision(terminalName: "xterm-direct", colorMode: .truecolor,
                                       reason: "COLORTERM unset, the terminal answered DECRQSS with 24-bit colour in 3 ms, terminfo xterm-direct"))
        let (tmux, _) = try decide(["TERM": "screen-256color", "TMUX": "/tmp/t,1,0", "COLORTERM": ""],
                                   answer: .truecolor(via: "XTGETTCAP", milliseconds: 1))
        #expect(tmux.terminalName == "tmux-direct" && tmux.colorMode == .truecolor)
        #expect(tmux.reason.contains("XTGETTCAP with the RGB capability"))
        // An 8-colour entry with a direct sibling goes to truecolor too, as with COLORTERM.
        #expect(try decide(["TERM": "xterm"], answer: yes).0.colorMode == .truecolor)
    }

    @Test func otherwiseTheTerminfoFallbackSaysWhy() throws {
        let (d, asked) = try decide(["TERM": "xterm-256color"], answer: no)
        #expect(asked == 1)
        #expect(d == ColorModeDecision(terminalName: "xterm-256color", colorMode: .ansi256,
                                       reason: "xterm-256color has 256 colours (COLORTERM unset; the terminal answered DA1 in 2 ms without reporting 24-bit colour)"))
        let (silent, _) = try decide(["TERM": "tmux-256color"], answer: .noAnswer(milliseconds: 150))
        #expect(silent.colorMode == .ansi256 && silent.reason.hasSuffix("(COLORTERM unset; the terminal did not answer in 150 ms)"))
    }

    @Test func askedOnlyWhenTheAnswerMatters() throws {
        let cases: [([String: String], ColorMode?, ColorMode)] = [
            (["TERM": "xterm-256color", "COLORTERM": "truecolor"], nil, .truecolor),   // COLORTERM says so
            (["TERM": "xterm-256color", "COLORTERM": "no"], nil, .ansi256),            // COLORTERM says otherwise
            (["TERM": "xterm-256color", "NO_COLOR": "1"], nil, .none),
            (["TERM": "xterm-256color"], .ansi256, .ansi256),                          // --color
            (["TERM": "xterm-256color"], .truecolor, .truecolor),
            (["TERM": "xterm-direct"], nil, .truecolor),                               // the entry is direct
            (["TERM": "screen-256color"], nil, .ansi256),                              // no direct sibling
            (["TERM": "vt100"], nil, .none),
        ]
        for (env, override, mode) in cases {
            let (d, asked) = try decide(env, override: override, answer: yes)
            #expect(asked == 0, "\(env) \(String(describing: override))")
            #expect(d.colorMode == mode, "\(env)")
        }
        // Without a way to ask (not a terminal), today's decision and reason, unchanged.
        #expect(try ColorModeDetection.decide(override: nil, environment: ["TERM": "xterm-256color"],
                                              probe: { ColorModeDetectionTests.entries[$0] }).reason == "xterm-256color has 256 colours")
    }
}
