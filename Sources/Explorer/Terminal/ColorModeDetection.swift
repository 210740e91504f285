import CNcurses

/// What a terminfo entry says about colours and cursor movement.
public struct TerminfoEntry: Sendable, Equatable {
    /// The `colors` capability (-1 when absent).
    public var colors: Int
    /// The entry takes 24-bit colour values directly (`RGB` flag or 2^24 colours).
    public var direct: Bool
    /// The terminal can move the cursor (`cup`): full-screen programs need it.
    public var cursorAddressing: Bool
    public init(colors: Int, direct: Bool, cursorAddressing: Bool = true) {
        self.colors = colors; self.direct = direct; self.cursorAddressing = cursorAddressing
    }

    /// The richest mode this entry alone can show.
    public var bestMode: ColorMode {
        if direct { return .truecolor }
        if colors >= 256 { return .ansi256 }
        if colors >= 8 { return .ansi16 }
        return .none
    }
}

/// The outcome of colour detection: which terminfo entry to start curses
/// with and which colour mode to draw in.
public struct ColorModeDecision: Sendable, Equatable {
    /// The terminfo entry to open (`$TERM`, or a direct-colour sibling of it).
    public var terminalName: String
    public var colorMode: ColorMode
    /// Why, in a few words (for `--verbose` and bug reports).
    public var reason: String
    public init(terminalName: String, colorMode: ColorMode, reason: String) {
        self.terminalName = terminalName; self.colorMode = colorMode; self.reason = reason
    }
}

/// Decides the colour mode from the command line, the environment, terminfo and,
/// when `COLORTERM` is missing, the terminal's own answer.
///
/// Order: `--color` > `NO_COLOR` (set and non-empty: no colour) > a terminfo
/// entry with direct colour > `COLORTERM=truecolor|24bit` with a direct-colour
/// sibling entry (`tmux-direct` inside tmux, `<name>-direct` otherwise) >
/// `COLORTERM` unset or empty (SSH does not forward it) and the terminal, asked
/// (`TerminalColorQuery`), confirms 24-bit colour, with that sibling entry >
/// 256 colours > 16 (8-colour entries too) > none. A requested mode richer
/// than the terminal entry can express is lowered to what it can.
public enum ColorModeDetection {
    /// - Parameter askTerminal: asks the terminal whether it shows 24-bit colour (nil: do not
    ///   ask, as where standard input or output is not a terminal). Called at most once, and
    ///   only when the answer can change the decision: no `--color`, no `NO_COLOR`, an entry
    ///   without direct colour that has a direct sibling, and no `COLORTERM` (unset or empty;
    ///   any other value is the terminal's own word, so `COLORTERM=no` or `--color` skip the
    ///   question).
    public static func decide(
        override: ColorMode?,
        environment: [String: String],
        probe: (String) -> TerminfoEntry?,
        askTerminal: (() -> TerminalColorAnswer)? = nil
    ) throws(TerminalError) -> ColorModeDecision {
        guard let term = environment["TERM"], !term.isEmpty else { throw .noTerminalType }
        guard let info = probe(term) else { throw .unknownTerminal(term) }
        guard info.cursorAddressing else { throw .notFullScreen(term) }

        if let override {
            if override == .none { return ColorModeDecision(terminalName: term, colorMode: .none, reason: "--color none") }
            if override == .truecolor {
                if info.direct { return ColorModeDecision(terminalName: term, colorMode: .truecolor, reason: "--color truecolor") }
                if let direct = directSibling(of: term, environment: environment, probe: probe) {
                    return ColorModeDecision(terminalName: direct, colorMode: .truecolor,
                                             reason: "--color truecolor, terminfo \(direct)")
                }
            }
            let mode = min(override, info.bestMode)
            let reason = mode == override ? "--color \(override.rawValue)"
                : "--color \(override.rawValue), lowered to \(mode.rawValue): \(term) has \(info.colors) colours"
            return ColorModeDecision(terminalName: term, colorMode: mode, reason: reason)
        }

        if let noColor = environment["NO_COLOR"], !noColor.isEmpty {
            return ColorModeDecision(terminalName: term, colorMode: .none, reason: "NO_COLOR is set")
        }
        if info.direct {
            return ColorModeDecision(terminalName: term, colorMode: .truecolor, reason: "\(term) has direct colour")
        }
        let colorTerm = (environment["COLORTERM"] ?? "").lowercased()
        if colorTerm == "truecolor" || colorTerm == "24bit" {
            if let direct = directSibling(of: term, environment: environment, probe: probe) {
                return ColorModeDecision(terminalName: direct, colorMode: .truecolor,
                                         reason: "COLORTERM=\(colorTerm), terminfo \(direct)")
            }
        }
        var asked = ""
        if colorTerm.isEmpty, let askTerminal, let direct = directSibling(of: term, environment: environment, probe: probe) {
            let answer = askTerminal()
            if answer.confirmsTruecolor {
                return ColorModeDecision(terminalName: direct, colorMode: .truecolor,
                                         reason: "COLORTERM unset, \(answer), terminfo \(direct)")
            }
            asked = " (COLORTERM unset; \(answer))"
        }
        let mode = info.bestMode
        return ColorModeDecision(terminalName: term, colorMode: mode,
                                 reason: "\(term) has \(info.colors < 0 ? "no" : String(info.colors)) colours" + asked)
    }

    /// Direct-colour terminfo entries that could stand in for `term`, most
    /// likely first: `tmux-direct` when running inside tmux (`$TMUX`), then
    /// `<first part of TERM>-direct` (xterm-256color -> xterm-direct,
    /// tmux-256color -> tmux-direct, vte-256color -> vte-direct).
    public static func directCandidates(for term: String, environment: [String: String]) -> [String] {
        var names: [String] = []
        if let tmux = environment["TMUX"], !tmux.isEmpty { names.append("tmux-direct") }
        let base = term.split(separator: "-", maxSplits: 1).first.map(String.init) ?? term
        if !base.isEmpty { names.append(base + "-direct") }
        var seen = Set<String>()
        return names.filter { $0 != term && seen.insert($0).inserted }
    }

    static func directSibling(of term: String, environment: [String: String],
                              probe: (String) -> TerminfoEntry?) -> String? {
        directCandidates(for: term, environment: environment).first { probe($0)?.direct == true }
    }

    /// Reads an entry from the terminfo database (nil: no such entry). Must
    /// not be called while a curses screen is open.
    public static func probeTerminfo(_ name: String) -> TerminfoEntry? {
        var colors: Int32 = -1
        var direct: Int32 = 0
        var addressable: Int32 = 0
        guard vt_terminfo_probe(name, &colors, &direct, &addressable) != 0 else { return nil }
        return TerminfoEntry(colors: Int(colors), direct: direct != 0, cursorAddressing: addressable != 0)
    }
}

extension ColorMode: Comparable {
    /// none < 16 < 256 < truecolor.
    public static func < (a: ColorMode, b: ColorMode) -> Bool { a.richness < b.richness }

    var richness: Int {
        switch self {
        case .none: 0
        case .ansi16: 1
        case .ansi256: 2
        case .truecolor: 3
        }
    }
}

/// Why the terminal back end could not start.
public enum TerminalError: Error, CustomStringConvertible, Equatable {
    /// Standard input or output is not a terminal (a pipe, a file, a script).
    case notATerminal
    /// `TERM` is not set.
    case noTerminalType
    /// `TERM` names a type the terminfo database does not know.
    case unknownTerminal(String)
    /// `TERM` names a terminal that cannot move the cursor (such as `dumb`).
    case notFullScreen(String)
    /// Another terminal back end is already open in this process.
    case alreadyOpen
    /// curses or the system refused (the message says which call).
    case cannotStart(String)

    public var description: String {
        switch self {
        case .notATerminal:
            return "vitrine explore needs a terminal; use `vitrine info` in scripts"
        case .noTerminalType:
            return "TERM is not set, so vitrine cannot tell what terminal this is; set it (for example TERM=xterm-256color)"
        case .unknownTerminal(let name):
            return "the terminal type \"\(name)\" (TERM) is not in the terminfo database; set TERM to a known type such as xterm-256color, or install its entry (Debian: ncurses-term)"
        case .notFullScreen(let name):
            return "the terminal type \"\(name)\" (TERM) cannot move the cursor, and vitrine explore draws the whole screen; run it in a full terminal (xterm, tmux, ...), or use `vitrine info`"
        case .alreadyOpen:
            return "a terminal screen is already open in this process"
        case .cannotStart(let what):
            return "cannot start the terminal screen: \(what)"
        }
    }
}
