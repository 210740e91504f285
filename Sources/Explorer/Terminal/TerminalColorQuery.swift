#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Asks the terminal itself whether it shows 24-bit colour.
///
/// SSH forwards `TERM` but not `COLORTERM`, so a guest whose terminal shows 24-bit colour would
/// get 256 colours. When `COLORTERM` is missing, Vitrine asks the terminal before curses starts:
///
/// 1. `ESC[38;2;1;2;3m` sets a 24-bit foreground, and DECRQSS (`ESC P $ q m ESC \`) asks for
///    the SGR state back: a terminal that keeps 24-bit colours reports `38:2::1:2:3` or
///    `38;2;1;2;3` (one that folds them into its palette reports something else);
/// 2. XTGETTCAP (`ESC P + q 524742 ESC \`) asks for the terminfo capability `RGB`;
/// 3. `ESC[0m` puts the colours back;
/// 4. DA1 (`ESC [ c`) is the sentinel: every terminal answers it, and answers in order, so once
///    its reply is in nothing more is coming and the wait ends at once.
///
/// Either positive answer means truecolor. The wait is bounded (150 ms by default, less when the
/// terminal answers); meanwhile the terminal is out of canonical mode and echo, so the replies
/// neither show on screen nor wait for a newline, and the mode is restored afterwards. The
/// replies are read, not left for curses to take as keys; replies that come after the wait
/// gave up (a slow SSH link) are dropped by `LateReplyFilter`.
public enum TerminalColorQuery {
    /// The test colour of the SGR query (R, G, B).
    static let probe: (Int, Int, Int) = (1, 2, 3)

    /// The bytes sent: set the test colour, DECRQSS for SGR, XTGETTCAP for RGB, reset, DA1.
    public static let request: [UInt8] = Array("\u{1B}[38;2;1;2;3m\u{1B}P$qm\u{1B}\\\u{1B}P+q524742\u{1B}\\\u{1B}[0m\u{1B}[c".utf8)

    /// How long to wait for the sentinel by default.
    public static let defaultTimeoutMilliseconds = 150

    /// At most this many reply bytes are kept; past that the terminal is flooding and the rest
    /// is drained and dropped.
    static let bufferLimit = 4096

    /// Asks the terminal on `input` / `output` (both must be terminals) and waits for its
    /// answers, at most `timeoutMilliseconds`. Restores the terminal's mode before returning,
    /// and leaves no reply in the input queue (bytes typed during the wait are dropped too).
    public static func ask(input: Int32, output: Int32,
                           timeoutMilliseconds: Int = defaultTimeoutMilliseconds) -> TerminalColorAnswer {
        var reply = TerminalColorReply()
        let result = TerminalExchange.run(input: input, output: output, request: request,
                                          timeoutMilliseconds: timeoutMilliseconds, bufferLimit: bufferLimit) { buffer in
            reply = TerminalColorReply.parse(buffer)
            return reply.deviceAttributes
        }
        let elapsed: Int
        switch result {
        case .failed(let why): return .notAsked(why)
        case .done(_, let ms): elapsed = ms
        }
        if let via = reply.confirmation { return .truecolor(via: via, milliseconds: elapsed) }
        if reply.deviceAttributes { return .notConfirmed(milliseconds: elapsed) }
        return .noAnswer(milliseconds: elapsed)
    }

    static func monotonicMilliseconds() -> Int64 { TerminalExchange.monotonicMilliseconds() }
}

/// One question to the terminal and its answer (`TerminalColorQuery`, `GraphicsQuery`), read
/// under a time limit with the terminal out of canonical mode and echo (restored on every path).
/// `isComplete` sees the reply bytes so far after each read (not once past `bufferLimit`: the
/// terminal is flooding, and the rest is drained and dropped); bytes still unread when the wait
/// gives up are dropped from the input queue.
enum TerminalExchange {
    enum Result {
        case done(finished: Bool, milliseconds: Int)
        case failed(String)
    }

    static func run(input: Int32, output: Int32, request: [UInt8], timeoutMilliseconds: Int,
                    bufferLimit: Int, isComplete: ([UInt8]) -> Bool) -> Result {
        guard isatty(input) == 1, isatty(output) == 1 else { return .failed("not a terminal") }
        var saved = termios()
        guard tcgetattr(input, &saved) == 0 else { return .failed("tcgetattr: \(errorText())") }
        var quiet = saved
        // No echo (the replies must not show), no line buffering (they end in no newline), no
        // signals from keys (a Ctrl-C here would leave echo off) and a read that never blocks.
        quiet.c_lflag &= ~tcflag_t(ICANON | ECHO | ECHONL | ISIG | IEXTEN)
        withUnsafeMutableBytes(of: &quiet.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        guard setMode(input, &quiet) else { return .failed("tcsetattr: \(errorText())") }
        defer { _ = setMode(input, &saved) }

        let start = monotonicMilliseconds()
        let deadline = start + Int64(max(0, timeoutMilliseconds))
        guard writeAll(output, request, until: deadline) else {
            let why = errorText()
            drain(input)
            return .failed("cannot write to the terminal: \(why)")
        }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        var overflowed = false
        var finished = false
        while true {
            let remaining = deadline - monotonicMilliseconds()
            if remaining <= 0 { break }
            var fd = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
            let rc = poll(&fd, 1, Int32(clamping: remaining))
            if rc < 0 { if errno == EINTR { continue }; break }
            if rc == 0 { break }
            if fd.revents & Int16(POLLIN) == 0 { break }          // hung up, error
            let n = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR || errno == EAGAIN { continue }; break }
            if n == 0 { break }                                   // end of file: no terminal left
            if overflowed { continue }
            buffer += chunk[0..<n]
            if buffer.count > bufferLimit { overflowed = true; continue }
            if isComplete(buffer) { finished = true; break }
        }
        let elapsed = Int(monotonicMilliseconds() - start)
        // Whatever arrived unread in the last moment goes too; later replies are the caller's
        // (LateReplyFilter) to drop.
        if !finished { drain(input) }
        return .done(finished: finished, milliseconds: elapsed)
    }

    private static func setMode(_ fd: Int32, _ mode: inout termios) -> Bool {
        while tcsetattr(fd, TCSANOW, &mode) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }

    /// Writes every byte, retrying after EINTR and waiting (until `deadline`) when the
    /// descriptor is non-blocking and full.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], until deadline: Int64) -> Bool {
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n > 0 { written += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN {
                let remaining = deadline - monotonicMilliseconds()
                if remaining <= 0 { return false }
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, Int32(clamping: remaining))
                continue
            }
            return false
        }
        return true
    }

    /// Discards what is waiting in the input queue.
    private static func drain(_ fd: Int32) {
        while tcflush(fd, TCIFLUSH) != 0 && errno == EINTR {}
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }

    static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// What the terminal answered to `TerminalColorQuery`, in words for the colour decision's reason.
public enum TerminalColorAnswer: Sendable, Equatable, CustomStringConvertible {
    /// It confirmed 24-bit colour (`via`: "DECRQSS" or "XTGETTCAP").
    case truecolor(via: String, milliseconds: Int)
    /// It answered the sentinel (DA1) without confirming 24-bit colour first.
    case notConfirmed(milliseconds: Int)
    /// No sentinel before the time ran out (a terminal that answers nothing, or a slow link).
    case noAnswer(milliseconds: Int)
    /// The question could not be asked (not a terminal, the mode could not be set...).
    case notAsked(String)

    public var confirmsTruecolor: Bool {
        if case .truecolor = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .truecolor(let via, let ms):
            return via == "XTGETTCAP" ? "the terminal answered XTGETTCAP with the RGB capability in \(ms) ms"
                : "the terminal answered \(via) with 24-bit colour in \(ms) ms"
        case .notConfirmed(let ms): return "the terminal answered DA1 in \(ms) ms without reporting 24-bit colour"
        case .noAnswer(let ms): return "the terminal did not answer in \(ms) ms"
        case .notAsked(let why): return "could not ask the terminal: \(why)"
        }
    }
}

/// The replies to `TerminalColorQuery` found in the bytes read so far.
public struct TerminalColorReply: Sendable, Equatable {
    /// DECRQSS reported the SGR state: true when it held the 24-bit test colour.
    public var sgrReport: Bool?
    /// XTGETTCAP reported on `RGB`: true when the terminal has it.
    public var rgbCapability: Bool?
    /// The DA1 answer (the sentinel) is in: nothing more will come.
    public var deviceAttributes = false

    public init(sgrReport: Bool? = nil, rgbCapability: Bool? = nil, deviceAttributes: Bool = false) {
        self.sgrReport = sgrReport; self.rgbCapability = rgbCapability; self.deviceAttributes = deviceAttributes
    }

    /// Which answer confirmed 24-bit colour, if one did.
    public var confirmation: String? {
        if sgrReport == true { return "DECRQSS" }
        if rgbCapability == true { return "XTGETTCAP" }
        return nil
    }

    /// Reads the replies out of `bytes`: DCS strings (`ESC P ... ESC \`) and control sequences
    /// (`ESC [ ... final`) up to and including the DA1 answer; anything else (keys typed
    /// meanwhile, noise) is skipped, and an unfinished sequence at the end waits for more bytes.
    /// Only well-formed positive answers about the test colour count: a hostile or confused
    /// terminal can at worst say no.
    public static func parse(_ bytes: [UInt8]) -> TerminalColorReply {
        var reply = TerminalColorReply()
        TerminalReplyScanner.scan(bytes) { piece in
            switch piece {
            case .string(UInt8(ascii: "P"), let body):
                reply.read(dcs: body)
            case .control(let parameters, UInt8(ascii: "c")) where parameters.first == UInt8(ascii: "?"):
                reply.deviceAttributes = true
                return false
            default:
                break
            }
            return true
        }
        return reply
    }

    /// One DCS string's content (between `ESC P` and the terminator).
    private mutating func read(dcs: ArraySlice<UInt8>) {
        let s = Array(dcs)
        guard s.count >= 3, s[0] == UInt8(ascii: "0") || s[0] == UInt8(ascii: "1") else { return }
        let body = String(decoding: s[3...], as: UTF8.self)
        if s[1] == UInt8(ascii: "$"), s[2] == UInt8(ascii: "r") {
            // DECRPSS. Terminals disagree on which of 0 and 1 means valid (DEC's manuals and
            // xterm differ), so the content decides.
            let found = Self.holdsTestColour(sgr: body)
            sgrReport = (sgrReport ?? false) || found
        } else if s[1] == UInt8(ascii: "+"), s[2] == UInt8(ascii: "r") {
            // XTGETTCAP: 1+r NAME[=VALUE];... for known names, 0+r for unknown ones.
            let known = s[0] == UInt8(ascii: "1")
                && body.split(separator: ";").contains { $0.split(separator: "=", maxSplits: 1).first?.uppercased() == "524742" }
            rgbCapability = (rgbCapability ?? false) || known
        }
    }

    /// Whether an SGR state (`0;38:2::1:2:3m`, `38;2;1;2;3m`) holds the test colour as a
    /// foreground, in the colon form (with or without the colour space) or the semicolon form.
    static func holdsTestColour(sgr: String) -> Bool {
        guard sgr.hasSuffix("m") else { return false }
        let params = sgr.dropLast().split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        let (r, g, b) = TerminalColorQuery.probe
        for (k, param) in params.enumerated() {
            let sub = param.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
            if sub.count > 1 {
                if sub[0] == 38, sub[1] == 2, sub.count == 5 || sub.count == 6, Array(sub.suffix(3)) == [r, g, b] { return true }
            } else if Int(param) == 38, k + 4 < params.count,
                      params[(k + 1)...(k + 4)].map({ Int($0) }) == [2, r, g, b] {
                return true
            }
        }
        return false
    }
}

/// Splits what a terminal sent into the pieces the queries read (`TerminalColorReply.parse`,
/// `GraphicsReply.parse`): strings (DCS `ESC P`, APC `ESC _`, OSC `ESC ]`, PM `ESC ^`, SOS
/// `ESC X`, each ended by ST `ESC \` or BEL; another ESC abandons one) and control sequences
/// (`ESC [`, parameter bytes 0x30-0x3F, intermediates 0x20-0x2F, one final byte 0x40-0x7E).
/// Anything else (keys typed meanwhile, noise) is skipped.
enum TerminalReplyScanner {
    enum Piece {
        /// A terminated string: its introducer (`P`, `_`, ...) and what lies between it and the end.
        case string(UInt8, ArraySlice<UInt8>)
        /// A control sequence: its parameter and intermediate bytes, and its final byte.
        case control(ArraySlice<UInt8>, UInt8)
    }

    private static let esc: UInt8 = 0x1B
    private static let stringIntroducers: Set<UInt8> = [UInt8(ascii: "P"), UInt8(ascii: "_"), UInt8(ascii: "]"),
                                                        UInt8(ascii: "^"), UInt8(ascii: "X")]

    /// Hands each complete piece of `bytes` to `visit`, in order, until `visit` returns false;
    /// an unfinished sequence at the end is left for more bytes.
    static func scan(_ bytes: [UInt8], _ visit: (Piece) -> Bool) {
        var i = 0
        let n = bytes.count
        while i < n {
            guard bytes[i] == esc, i + 1 < n else { i += 1; continue }
            let kind = bytes[i + 1]
            if stringIntroducers.contains(kind) {
                var j = i + 2
                while j < n, bytes[j] != esc, bytes[j] != 0x07 { j += 1 }
                if j >= n || (bytes[j] == esc && j + 1 >= n) { return }            // more to come
                let terminated = bytes[j] == 0x07 || bytes[j + 1] == UInt8(ascii: "\\")
                if terminated, !visit(.string(kind, bytes[(i + 2)..<j])) { return }
                i = terminated ? (bytes[j] == 0x07 ? j + 1 : j + 2) : j
            } else if kind == UInt8(ascii: "[") {
                var j = i + 2
                while j < n, (0x30...0x3F).contains(bytes[j]) { j += 1 }
                while j < n, (0x20...0x2F).contains(bytes[j]) { j += 1 }
                if j >= n { return }                                                // more to come
                guard (0x40...0x7E).contains(bytes[j]) else { i = j; continue }     // broken: resync
                if !visit(.control(bytes[(i + 2)..<j], bytes[j])) { return }
                i = j + 1
            } else {
                i += 1
            }
        }
    }
}

/// Drops replies to `TerminalColorQuery` that arrive after it stopped waiting, so that curses
/// does not hand them to the explorer as keys (`ESC`, `P`, `1`, `$`, ... `?`, `6`, `2`, `c`).
///
/// Armed only when the query ran out of time without the sentinel, and only until the sentinel
/// (DA1's answer, the last reply) has gone by or a few seconds have passed. Only complete
/// replies within one batch of input are dropped: a DCS string (`ESC P ... ESC \`) or DA1's
/// answer (`ESC [ ? digits and ; c`). A terminal sends each reply in one write, so it arrives
/// in one piece; a user's keys (Escape, Alt+P) do not look like that.
public struct LateReplyFilter: Sendable {
    /// How long after the query replies are still expected.
    public static let window: Int64 = 5000

    private var until: Int64
    /// DA1 answers still to come: each query that gave up ends with one.
    private var pendingSentinels: Int

    /// An unarmed filter.
    public init() { until = 0; pendingSentinels = 0 }

    /// Armed from `now` (monotonic milliseconds) for `window`, for the late answers of
    /// `queries` queries that each end with DA1.
    public init(armedAt now: Int64, queries: Int = 1) { until = now + Self.window; pendingSentinels = max(1, queries) }

    /// The same filter, armed for one more query that gave up at `now`.
    public func adding(queryAt now: Int64) -> LateReplyFilter {
        var filter = self
        filter.pendingSentinels = isArmed(at: now) ? pendingSentinels + 1 : 1
        filter.until = now + Self.window
        return filter
    }

    public func isArmed(at now: Int64) -> Bool { now < until }

    /// `input` (characters, and curses key codes that are never part of a reply) less the
    /// replies in it: DCS and APC strings, size reports (`CSI … t`) and DA1. Disarms once the
    /// last expected DA1 answer has been dropped.
    public mutating func strip(_ input: [(code: Bool, value: UInt32)], now: Int64) -> [(code: Bool, value: UInt32)] {
        guard isArmed(at: now) else { return input }
        var kept: [(code: Bool, value: UInt32)] = []
        kept.reserveCapacity(input.count)
        func char(_ k: Int) -> UInt32? { k < input.count && !input[k].code ? input[k].value : nil }
        var i = 0
        while i < input.count {
            if char(i) == 0x1B, let next = char(i + 1) {
                // DCS (the colour query's answer) and APC (the kitty graphics query's).
                if next == UInt32(UInt8(ascii: "P")) || next == UInt32(UInt8(ascii: "_")) {
                    var j = i + 2
                    while let c = char(j), c != 0x1B, c != 0x07, j - i < 1024 { j += 1 }
                    if char(j) == 0x07 { i = j + 1; continue }
                    if char(j) == 0x1B, char(j + 1) == UInt32(UInt8(ascii: "\\")) { i = j + 2; continue }
                } else if next == UInt32(UInt8(ascii: "[")), let first = char(i + 2), (0x30...0x39).contains(first) {
                    // A size report (`CSI 6;h;w t`, `CSI 4;h;w t`): digits and semicolons, then `t`.
                    var j = i + 2
                    while let c = char(j), (0x30...0x39).contains(c) || c == UInt32(UInt8(ascii: ";")), j - i < 32 { j += 1 }
                    if char(j) == UInt32(UInt8(ascii: "t")) { i = j + 1; continue }
                } else if next == UInt32(UInt8(ascii: "[")), char(i + 2) == UInt32(UInt8(ascii: "?")) {
                    var j = i + 3
                    while let c = char(j), (0x30...0x39).contains(c) || c == UInt32(UInt8(ascii: ";")) { j += 1 }
                    if char(j) == UInt32(UInt8(ascii: "c")) {
                        i = j + 1
                        pendingSentinels -= 1
                        if pendingSentinels <= 0 {
                            until = 0
                            kept += input[i...]
                            return kept
                        }
                        continue
                    }
                }
            }
            kept.append(input[i])
            i += 1
        }
        return kept
    }
}
