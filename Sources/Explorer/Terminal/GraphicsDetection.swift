import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How the explorer draws images: with the terminal's own pixels (kitty graphics protocol,
/// sixel, iTerm2's inline images) or with characters (half blocks; plain ASCII).
///
/// Detection only; the encoders have their own protocol enum under `Terminal/Graphics/`, and
/// the two are to be unified when detection is wired into the explorer.
/// Width and height in pixels.
public struct PixelSize: Sendable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
    public var description: String { "\(width)x\(height)" }
}

/// The replies to `GraphicsQuery` found in the bytes read so far.
public struct GraphicsReply: Sendable, Equatable {
    /// The kitty graphics query was answered: true for `OK`, false for an error.
    public var kitty: Bool?
    /// DA1's attribute list (nil until it is in): 4 means sixel.
    public var deviceAttributes: [Int]?
    /// `CSI 16 t`: one cell in pixels.
    public var cellPixels: PixelSize?
    /// `CSI 14 t`: the text area in pixels.
    public var textAreaPixels: PixelSize?

    public init(kitty: Bool? = nil, deviceAttributes: [Int]? = nil, cellPixels: PixelSize? = nil,
                textAreaPixels: PixelSize? = nil) {
        self.kitty = kitty; self.deviceAttributes = deviceAttributes
        self.cellPixels = cellPixels; self.textAreaPixels = textAreaPixels
    }

    /// DA1 (the sentinel) is in.
    public var sentinel: Bool { deviceAttributes != nil }

    /// DA1 lists attribute 4 (sixel graphics); the first number is the terminal's class.
    public var sixel: Bool { (deviceAttributes?.dropFirst().contains(4)) ?? false }

    private static let numberLimit = 100_000

    /// Reads the replies out of `bytes`: APC strings (`ESC _ ... ESC \`), DCS strings and
    /// control sequences; anything else (keys typed meanwhile, noise) is skipped, an unfinished
    /// sequence at the end waits for more. With `stopAtSentinel`, nothing after DA1's answer
    /// counts (outside tmux DA1 is the last reply); inside tmux, tmux answers DA1 itself before
    /// the outer terminal answers the passed-through kitty query, so parsing goes on.
    /// Only a well-formed `OK` for `kittyID` counts as kitty support.
    public static func parse(_ bytes: [UInt8], kittyID: Int, stopAtSentinel: Bool = true) -> GraphicsReply {
        var reply = GraphicsReply()
        TerminalReplyScanner.scan(bytes) { piece in
            switch piece {
            case .string(UInt8(ascii: "_"), let body):
                reply.read(apc: body, kittyID: kittyID)
            case .control(let params, UInt8(ascii: "c")) where params.first == UInt8(ascii: "?"):
                if reply.deviceAttributes == nil, let list = numbers(params.dropFirst()) {
                    reply.deviceAttributes = list
                    if stopAtSentinel { return false }
                }
            case .control(let params, UInt8(ascii: "t")):
                if let list = numbers(params), list.count == 3, list[1] > 0, list[2] > 0 {
                    let size = PixelSize(width: list[2], height: list[1])
                    if list[0] == 6 { reply.cellPixels = size }
                    if list[0] == 4 { reply.textAreaPixels = size }
                }
            default:
                break
            }
            return true
        }
        return reply
    }

    /// `1;2;4` as numbers; nil when it is not a list of small numbers.
    private static func numbers(_ bytes: ArraySlice<UInt8>) -> [Int]? {
        var list: [Int] = []
        for field in bytes.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false) {
            guard !field.isEmpty, field.count <= 6, field.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            let value = field.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard value < numberLimit else { return nil }
            list.append(value)
        }
        return list
    }

    /// One APC string's content: `G` keys `;` message, e.g. `Gi=31;OK`.
    private mutating func read(apc: ArraySlice<UInt8>, kittyID: Int) {
        guard apc.first == UInt8(ascii: "G") else { return }
        let text = String(decoding: apc.dropFirst(), as: UTF8.self)
        let parts = text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return }
        let keys = parts[0].split(separator: ",")
        guard keys.contains(where: { $0 == "i=\(kittyID)" }) else { return }
        let ok = parts[1] == "OK"
        kitty = (kitty ?? false) || ok
    }
}

/// What the terminal answered to `GraphicsQuery`.
public enum GraphicsAnswer: Sendable, Equatable, CustomStringConvertible {
    /// The sentinel came (outside tmux: the replies are complete).
    case answered(GraphicsReply, milliseconds: Int)
    /// The time ran out; `reply` holds what came before (inside tmux, tmux's own DA1).
    case timedOut(GraphicsReply, milliseconds: Int)
    /// The question could not be asked.
    case notAsked(String)

    public var reply: GraphicsReply? {
        switch self {
        case .answered(let r, _), .timedOut(let r, _): return r
        case .notAsked: return nil
        }
    }

    public var description: String {
        switch self {
        case .answered(_, let ms): return "the terminal answered in \(ms) ms"
        case .timedOut(let r, let ms):
            return r.sentinel ? "only DA1 came in \(ms) ms" : "the terminal did not answer in \(ms) ms"
        case .notAsked(let why): return "could not ask the terminal: \(why)"
        }
    }
}

/// Asks the terminal what pixels it can show, in one round trip, before curses starts:
///
/// 1. the kitty graphics query (`ESC _ G i=ID,s=1,v=1,a=q,t=d,f=24;AAAA ESC \`): a one-pixel
///    image that is checked and not stored; a kitty-capable terminal answers `ESC _ G i=ID;OK ESC \`;
/// 2. `CSI 16 t` and `CSI 14 t`: a cell and the text area in pixels (`CSI 6;h;w t`, `CSI 4;h;w t`);
/// 3. DA1 (`CSI c`), the sentinel: terminals answer in order, so once its reply is in nothing
///    more is coming; attribute 4 in it means sixel.
///
/// Inside tmux (`Route.tmuxPassthrough`) the kitty query goes through tmux's passthrough
/// (`ESC P tmux; ... ESC \`, every ESC doubled) to the outer terminal, while tmux itself answers
/// the size queries and DA1 (a 4 there is tmux's own sixel support). tmux answers at once and
/// the outer terminal later, so DA1 does not end the wait there: it ends when the kitty reply is
/// in too, or at the time limit.
///
/// The terminal is out of canonical mode and echo meanwhile and restored on every path; what
/// came in is read, and what arrived unread when the wait gives up is dropped from the input.
public enum GraphicsQuery {
    /// The image id of the kitty query.
    public static let kittyID = 7331

    public static let defaultTimeoutMilliseconds = 180

    static let bufferLimit = 4096

    /// The kitty graphics query.
    public static var kittyQuery: [UInt8] {
        Array("\u{1B}_Gi=\(kittyID),s=1,v=1,a=q,t=d,f=24;AAAA\u{1B}\\".utf8)
    }

    /// `bytes` wrapped in tmux's passthrough: `ESC P tmux;`, the bytes with each ESC doubled, `ESC \`.
    public static func tmuxPassthrough(_ bytes: [UInt8]) -> [UInt8] {
        var out = Array("\u{1B}Ptmux;".utf8)
        for b in bytes {
            if b == 0x1B { out.append(0x1B) }
            out.append(b)
        }
        return out + [0x1B, UInt8(ascii: "\\")]
    }

    /// Where the questions go.
    public enum Route: Sendable, Equatable {
        /// Straight to the terminal.
        case direct
        /// Inside tmux that allows passthrough: the kitty query to the outer terminal, the rest to tmux.
        case tmuxPassthrough
        /// No kitty query, only the size queries and DA1: inside tmux that does not allow
        /// passthrough (tmux would show the APC in the pane's title; it answers the rest itself)
        /// and inside GNU screen (which takes an APC for its hardstatus line).
        case withoutKittyQuery
    }

    /// What is sent: the kitty query (wrapped inside tmux, left out when tmux would not pass
    /// it), the size queries, DA1.
    public static func request(_ route: Route) -> [UInt8] {
        let kitty: [UInt8]
        switch route {
        case .direct: kitty = kittyQuery
        case .tmuxPassthrough: kitty = tmuxPassthrough(kittyQuery)
        case .withoutKittyQuery: kitty = []
        }
        return kitty + Array("\u{1B}[16t\u{1B}[14t\u{1B}[c".utf8)
    }

    /// Whether the wait is over.
    static func complete(_ reply: GraphicsReply, route: Route) -> Bool {
        route == .tmuxPassthrough ? reply.sentinel && reply.kitty != nil : reply.sentinel
    }

    /// Asks the terminal on `input` / `output` (both terminals), waiting at most `timeoutMilliseconds`.
    public static func ask(input: Int32, output: Int32, route: Route = .direct,
                           timeoutMilliseconds: Int = defaultTimeoutMilliseconds) -> GraphicsAnswer {
        let stop = route != .tmuxPassthrough
        var reply = GraphicsReply()
        let result = TerminalExchange.run(input: input, output: output, request: request(route),
                                          timeoutMilliseconds: timeoutMilliseconds,
                                          bufferLimit: bufferLimit) { buffer in
            reply = GraphicsReply.parse(buffer, kittyID: kittyID, stopAtSentinel: stop)
            return complete(reply, route: route)
        }
        switch result {
        case .failed(let why): return .notAsked(why)
        case .done(let finished, let ms):
            if route == .withoutKittyQuery { reply.kitty = nil }
            return finished ? .answered(reply, milliseconds: ms) : .timedOut(reply, milliseconds: ms)
        }
    }
}

/// Whether tmux lets escape sequences through to the outer terminal.
public enum TmuxPassthrough: Sendable, Equatable {
    case allowed
    /// Not allowed, or it could not be found out; why, in words.
    case denied(String)

    /// Asks the tmux server (`tmux show -gv allow-passthrough`): `on` or `all` allow it.
    public static func check() -> TmuxPassthrough {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tmux", "show", "-gv", "allow-passthrough"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return .denied("cannot run tmux") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return .denied("tmux show allow-passthrough failed") }
        return interpret(String(decoding: data, as: UTF8.self))
    }

    /// The value `tmux show -gv allow-passthrough` printed.
    public static func interpret(_ value: String) -> TmuxPassthrough {
        let word = value.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        if word == "on" || word == "all" { return .allowed }
        return .denied("tmux allow-passthrough is \(word.isEmpty ? "unset" : word)"
                       + " (set -g allow-passthrough on)")
    }
}

/// The decision: which mode, why (one line for `vitrine doctor`), the cell size when the
/// terminal told it, and whether pixels go through tmux's passthrough.
public struct GraphicsDetection: Sendable, Equatable {
    public var mode: GraphicsProtocol
    public var reason: String
    public var cellPixels: PixelSize?
    public var tmuxPassthrough: Bool

    public init(mode: GraphicsProtocol, reason: String, cellPixels: PixelSize? = nil, tmuxPassthrough: Bool = false) {
        self.mode = mode; self.reason = reason; self.cellPixels = cellPixels; self.tmuxPassthrough = tmuxPassthrough
    }

    /// Decides from the override, the environment and (when it matters) the terminal's answer.
    /// `tmuxCheck` is asked only inside tmux; `ask` (the query, by the route it takes) only
    /// when the choice is `auto`.
    ///
    /// Order: kitty if the terminal answered OK; iTerm2's inline images if the environment
    /// names iTerm2 (it has no query; WezTerm also answers kitty's); sixel if DA1 lists 4;
    /// otherwise blocks (ascii for a dumb terminal). Environment hints never override an answer
    /// that says no.
    public static func decide(choice: ImagesOption, environment: [String: String],
                              tmuxCheck: () -> TmuxPassthrough,
                              ask: (GraphicsQuery.Route) -> GraphicsAnswer) -> GraphicsDetection {
        let term = environment["TERM"] ?? ""
        let inTmux = !(environment["TMUX"] ?? "").isEmpty
        if case .fixed(let mode) = choice {
            return GraphicsDetection(mode: mode, reason: "--images \(mode.rawValue)",
                                     tmuxPassthrough: inTmux && mode.passesThroughTmux)
        }
        if term == "dumb" || term.isEmpty && environment["TERM_PROGRAM"] == nil {
            return GraphicsDetection(mode: term == "dumb" ? .ascii : .blocks,
                                     reason: term == "dumb" ? "TERM=dumb" : "TERM unset")
        }
        if term == "linux" {
            return GraphicsDetection(mode: .blocks, reason: "TERM=linux: the console shows no pixels")
        }
        let inScreen = !inTmux && (environment["STY"] != nil || term.hasPrefix("screen"))
        var passthrough = false
        var notes: [String] = []
        if inTmux {
            switch tmuxCheck() {
            case .allowed:
                passthrough = true
                notes.append("inside tmux with allow-passthrough")
            case .denied(let why):
                // tmux's own sixel (3.4+) needs no passthrough; asking DA1 alone is harmless.
                notes.append("inside tmux, \(why)")
            }
        }
        if inScreen { notes.append("inside GNU screen, no kitty query") }
        let route: GraphicsQuery.Route = inTmux ? (passthrough ? .tmuxPassthrough : .withoutKittyQuery)
            : inScreen ? .withoutKittyQuery : .direct
        let answer = ask(route)
        let reply = answer.reply ?? GraphicsReply()
        // Without a kitty query, whatever says OK is not an answer.
        let kitty = reply.kitty == true && route != .withoutKittyQuery
        let itermHint = Self.itermHint(environment, inTmux: inTmux)
        let context = notes.isEmpty ? "" : "; " + notes.joined(separator: "; ")
        let how = answer.description
        func make(_ mode: GraphicsProtocol, _ why: String) -> GraphicsDetection {
            GraphicsDetection(mode: mode, reason: why + context, cellPixels: reply.cellPixels,
                              tmuxPassthrough: passthrough && mode.passesThroughTmux)
        }
        if kitty {
            return make(.kitty, "the terminal answered the kitty graphics query (\(how))")
        }
        if let hint = itermHint, !inTmux || passthrough {
            return make(.iterm, "\(hint) names iTerm2, whose inline images have no query (\(how))")
        }
        if reply.sixel {
            let who = inTmux ? "tmux" : "the terminal"
            return make(.sixel, "\(who) lists sixel (4) in its DA1 answer (\(how))")
        }
        var why: String
        switch answer {
        case .notAsked(let text): why = "could not ask the terminal (\(text))"
        case .timedOut(let r, let ms) where !r.sentinel: why = "the terminal did not answer in \(ms) ms"
        default: why = "neither kitty graphics nor sixel in the terminal's answer (\(how))"
        }
        if let hint = Self.pixelHint(environment), inTmux && !passthrough {
            why += "; \(hint) suggests pixels, tmux needs allow-passthrough"
        }
        return make(.blocks, why)
    }

    /// The variable naming iTerm2 (or WezTerm, which shows iTerm2's inline images too), if any.
    static func itermHint(_ env: [String: String], inTmux: Bool) -> String? {
        if env["LC_TERMINAL"] == "iTerm2" { return "LC_TERMINAL=iTerm2" }
        if !inTmux, env["TERM_PROGRAM"] == "iTerm.app" { return "TERM_PROGRAM=iTerm.app" }
        if !inTmux, env["TERM_PROGRAM"] == "WezTerm" { return "TERM_PROGRAM=WezTerm" }
        return nil
    }

    /// A variable that suggests a terminal with pixels (for the reason only).
    static func pixelHint(_ env: [String: String]) -> String? {
        if env["KITTY_WINDOW_ID"] != nil { return "KITTY_WINDOW_ID" }
        if env["TERM"] == "xterm-kitty" { return "TERM=xterm-kitty" }
        if let program = env["TERM_PROGRAM"], ["WezTerm", "ghostty", "iTerm.app"].contains(program) { return "TERM_PROGRAM=\(program)" }
        if env["KONSOLE_VERSION"] != nil { return "KONSOLE_VERSION" }
        if env["LC_TERMINAL"] == "iTerm2" { return "LC_TERMINAL=iTerm2" }
        return nil
    }

    /// Detection on a real terminal: tmux is asked with `tmux show`, the terminal on `input`/`output`.
    public static func detect(choice: ImagesOption, environment: [String: String] = ProcessInfo.processInfo.environment,
                              input: Int32 = 0, output: Int32 = 1,
                              timeoutMilliseconds: Int = GraphicsQuery.defaultTimeoutMilliseconds) -> GraphicsDetection {
        decide(choice: choice, environment: environment, tmuxCheck: TmuxPassthrough.check) { route in
            GraphicsQuery.ask(input: input, output: output, route: route, timeoutMilliseconds: timeoutMilliseconds)
        }
    }
}
