import Explorer
import Imaging
import Testing

/// A small deterministic generator for property checks.
private struct LCG {
    var state: UInt64
    mutating func next() -> UInt8 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return UInt8(truncatingIfNeeded: state >> 33)
    }
    mutating func color() -> RGB { RGB(next(), next(), next()) }
}

/// The smallest perceptual distance from `c` to any of the 240 fixed colours, by trying each.
private func bruteForceXterm256Distance(_ c: RGB) -> Float {
    (16..<256).map { ColorQuantizer.perceptualDistance(c, ColorQuantizer.rgb(ofXterm256: $0)) }.min()!
}

@Suite("Colour quantiser")
struct ColorQuantizerTests {
    @Test func paletteValues() {
        #expect(ColorQuantizer.rgb(ofXterm256: 16) == RGB(0, 0, 0))
        #expect(ColorQuantizer.rgb(ofXterm256: 21) == RGB(0, 0, 255))
        #expect(ColorQuantizer.rgb(ofXterm256: 196) == RGB(255, 0, 0))
        #expect(ColorQuantizer.rgb(ofXterm256: 67) == RGB(95, 135, 175))
        #expect(ColorQuantizer.rgb(ofXterm256: 231) == RGB(255, 255, 255))
        #expect(ColorQuantizer.rgb(ofXterm256: 232) == RGB(8, 8, 8))
        #expect(ColorQuantizer.rgb(ofXterm256: 255) == RGB(238, 238, 238))
        #expect(ColorQuantizer.rgb(ofXterm256: 9) == RGB(255, 0, 0))
    }

    @Test func cubeAndRampColoursMapToThemselves() {
        for i in 16..<256 {
            #expect(ColorQuantizer.xterm256(ColorQuantizer.rgb(ofXterm256: i)) == i, "index \(i)")
        }
    }

    @Test func greysStayGrey() {
        for v in 0...255 {
            let c = RGB(UInt8(v), UInt8(v), UInt8(v))
            let i = ColorQuantizer.xterm256(c)
            let q = ColorQuantizer.rgb(ofXterm256: i)
            #expect(q.r == q.g && q.g == q.b, "grey \(v) became \(q.hex)")
            #expect(ColorQuantizer.perceptualDistance(c, q) == bruteForceXterm256Distance(c), "grey \(v)")
        }
        // Between the cube's greys the ramp is closer.
        #expect(ColorQuantizer.xterm256(RGB(128, 128, 128)) == 244)
        #expect(ColorQuantizer.xterm256(RGB(18, 18, 18)) == 233)
    }

    @Test func xterm256IsTheNearestColour() {
        var rng = LCG(state: 42)
        for _ in 0..<3000 {
            let c = rng.color()
            let i = ColorQuantizer.xterm256(c)
            #expect((16..<256).contains(i))
            #expect(ColorQuantizer.perceptualDistance(c, ColorQuantizer.rgb(ofXterm256: i)) == bruteForceXterm256Distance(c), "\(c.hex)")
        }
    }

    @Test func ansi16() {
        #expect(ColorQuantizer.ansi16(RGB(255, 0, 0)) == 9)
        #expect(ColorQuantizer.ansi16(RGB(200, 10, 10)) == 1)
        #expect(ColorQuantizer.ansi16(RGB(0, 0, 0)) == 0)
        #expect(ColorQuantizer.ansi16(RGB(255, 255, 255)) == 15)
        #expect(ColorQuantizer.ansi16(RGB(120, 120, 130)) == 8)
        for i in 0..<16 { #expect(ColorQuantizer.ansi16(ColorQuantizer.ansiPalette[i]) == i) }
        #expect(ColorQuantizer.nearest(RGB(255, 0, 0), among: 0..<16, excluding: 9) == 1)
    }
}

@Suite("Style resolution and colour degradation")
struct StyleResolverTests {
    let theme: Theme = {
        var t = Theme.derived(name: "t", foreground: RGB(0xd0, 0xd4, 0xdc), background: RGB(0x16, 0x18, 0x1d))
        t.roles[.selection] = RoleStyle(fg: RGB(255, 255, 255), bg: RGB(0x26, 0x2b, 0x36), bold: true)
        t.roles[.title] = RoleStyle(fg: RGB(0x82, 0xb8, 0xff))
        t.mono[.selection] = RoleStyle(reverse: true)
        t.mono[.title] = RoleStyle(bold: true, underline: true)
        return t
    }()

    @Test func truecolorUsesExactColours() {
        let r = StyleResolver(theme: theme, mode: .truecolor)
        let s = r.resolve(CellStyle(.selection))
        #expect(s.fg == 0xffffff)
        #expect(s.bg == 0x262b36)
        #expect(s.attributes == [.bold])
        // Roles without colours take the theme's.
        let text = r.resolve(CellStyle(.text, underline: true))
        #expect(text.fg == 0xd0d4dc && text.bg == 0x16181d)
        #expect(text.attributes == [.underline])
        // Image pixels carry their own colours; values under 8 would be read as ANSI colours.
        let px = r.resolve(CellStyle(.image, fg: RGB(1, 2, 3), bg: RGB(0, 0, 3)))
        #expect(px.fg == 0x010203)
        #expect(px.bg == 8)
    }

    @Test func ansi256QuantisesAndKeepsBarsVisible() {
        let r = StyleResolver(theme: theme, mode: .ansi256)
        let screen = r.style(for: .text).bg
        #expect(screen == Int32(ColorQuantizer.xterm256(theme.background)))
        let sel = r.style(for: .selection)
        #expect(sel.bg != screen)
        #expect((16..<256).contains(Int(sel.bg)))
        let px = r.resolve(CellStyle(.image, fg: RGB(255, 0, 0), bg: RGB(0, 0, 255)))
        #expect(px.fg == 196 && px.bg == 21)
    }

    @Test func ansi16KeepsBarsAndTextApart() {
        let r = StyleResolver(theme: theme, mode: .ansi16)
        let text = r.style(for: .text)
        #expect(text.bg == 0)
        let sel = r.style(for: .selection)
        // The dark-grey bar would collapse onto black: it becomes the nearest other grey.
        #expect(sel.bg == 8)
        #expect(sel.fg != sel.bg)

        let eight = StyleResolver(theme: theme, mode: .ansi16, paletteSize: 8)
        let bar = eight.style(for: .selection)
        #expect(bar.bg == 7)
        #expect(bar.fg == 0, "white text on a light-grey bar must switch to the readable colour")
        let px = eight.resolve(CellStyle(.image, fg: RGB(255, 0, 0), bg: RGB(0, 0, 0)))
        #expect(px.fg == 1 && px.bg == 0)
    }

    @Test func noColourUsesMonoAttributes() {
        let r = StyleResolver(theme: theme, mode: .none)
        let sel = r.resolve(CellStyle(.selection, fg: RGB(1, 2, 3)))
        #expect(sel.fg == -1 && sel.bg == -1)
        #expect(sel.attributes == [.reverse])
        #expect(r.resolve(CellStyle(.title)).attributes == [.bold, .underline])
        #expect(r.resolve(CellStyle(.text, bold: true)).attributes == [.bold])
    }

    @Test func directColourTerminalInA256ColourMode() {
        let r = StyleResolver(theme: theme, mode: .ansi256, directColor: true)
        let px = r.resolve(CellStyle(.image, fg: RGB(250, 5, 5)))
        #expect(px.fg == 0xff0000)
    }
}

@Suite("Colour mode detection")
struct ColorModeDetectionTests {
    /// A fake terminfo database: the entries Debian's ncurses-base and ncurses-term provide.
    static let entries: [String: TerminfoEntry] = [
        "xterm": TerminfoEntry(colors: 8, direct: false),
        "xterm-256color": TerminfoEntry(colors: 256, direct: false),
        "xterm-direct": TerminfoEntry(colors: 1 << 24, direct: true),
        "tmux-256color": TerminfoEntry(colors: 256, direct: false),
        "tmux-direct": TerminfoEntry(colors: 1 << 24, direct: true),
        "screen-256color": TerminfoEntry(colors: 256, direct: false),
        "vt100": TerminfoEntry(colors: -1, direct: false),
        "dumb": TerminfoEntry(colors: -1, direct: false, cursorAddressing: false),
    ]

    func decide(_ env: [String: String], override: ColorMode? = nil) throws -> ColorModeDecision {
        try ColorModeDetection.decide(override: override, environment: env) { Self.entries[$0] }
    }

    @Test func plainTerminals() throws {
        #expect(try decide(["TERM": "xterm-256color"]) == ColorModeDecision(terminalName: "xterm-256color", colorMode: .ansi256, reason: "xterm-256color has 256 colours"))
        #expect(try decide(["TERM": "xterm"]).colorMode == .ansi16)
        #expect(try decide(["TERM": "vt100"]).colorMode == .none)
        #expect(try decide(["TERM": "xterm-direct"]).colorMode == .truecolor)
    }

    @Test func colortermPicksADirectColourEntry() throws {
        let d = try decide(["TERM": "xterm-256color", "COLORTERM": "truecolor"])
        #expect(d.terminalName == "xterm-direct" && d.colorMode == .truecolor)
        #expect(try decide(["TERM": "xterm-256color", "COLORTERM": "24bit"]).colorMode == .truecolor)
        #expect(try decide(["TERM": "xterm-256color", "COLORTERM": "yes"]).colorMode == .ansi256)
    }

    @Test func insideTmux() throws {
        let tmux = "/tmp/tmux-1000/default,1234,0"
        // tmux-256color: 256 colours unless COLORTERM asks for more, then tmux-direct.
        #expect(try decide(["TERM": "tmux-256color", "TMUX": tmux]).colorMode == .ansi256)
        let direct = try decide(["TERM": "tmux-256color", "TMUX": tmux, "COLORTERM": "truecolor"])
        #expect(direct.terminalName == "tmux-direct" && direct.colorMode == .truecolor)
        // screen-256color has no direct sibling, but inside tmux tmux-direct stands in.
        #expect(try decide(["TERM": "screen-256color", "TMUX": tmux]).colorMode == .ansi256)
        let screen = try decide(["TERM": "screen-256color", "TMUX": tmux, "COLORTERM": "truecolor"])
        #expect(screen.terminalName == "tmux-direct" && screen.colorMode == .truecolor)
        // GNU screen itself (no $TMUX): stays at 256 colours.
        let gnuScreen = try decide(["TERM": "screen-256color", "COLORTERM": "truecolor"])
        #expect(gnuScreen.terminalName == "screen-256color" && gnuScreen.colorMode == .ansi256)
    }

    @Test func noColorAndOverrides() throws {
        #expect(try decide(["TERM": "xterm-direct", "NO_COLOR": "1"]).colorMode == .none)
        #expect(try decide(["TERM": "xterm-256color", "NO_COLOR": ""]).colorMode == .ansi256)
        // --color wins over NO_COLOR and COLORTERM.
        #expect(try decide(["TERM": "xterm-256color", "NO_COLOR": "1"], override: .ansi16).colorMode == .ansi16)
        #expect(try decide(["TERM": "xterm-direct", "COLORTERM": "truecolor"], override: .ansi256).colorMode == .ansi256)
        let forced = try decide(["TERM": "xterm-256color"], override: .truecolor)
        #expect(forced.terminalName == "xterm-direct" && forced.colorMode == .truecolor)
        // A mode the terminal cannot show is lowered.
        #expect(try decide(["TERM": "xterm"], override: .ansi256).colorMode == .ansi16)
        #expect(try decide(["TERM": "screen-256color"], override: .truecolor).colorMode == .ansi256)
    }

    @Test func unknownOrMissingTerminal() {
        #expect(throws: TerminalError.unknownTerminal("nosuch")) { try decide(["TERM": "nosuch"]) }
        #expect(throws: TerminalError.noTerminalType) { try decide([:]) }
        #expect(throws: TerminalError.notFullScreen("dumb")) { try decide(["TERM": "dumb"]) }
        #expect(TerminalError.notATerminal.description.contains("vitrine info"))
    }

    @Test func candidates() {
        #expect(ColorModeDetection.directCandidates(for: "xterm-256color", environment: [:]) == ["xterm-direct"])
        #expect(ColorModeDetection.directCandidates(for: "screen-256color", environment: ["TMUX": "x"]) == ["tmux-direct", "screen-direct"])
        #expect(ColorModeDetection.directCandidates(for: "tmux-256color", environment: ["TMUX": "x"]) == ["tmux-direct"])
    }

    /// Reads the real terminfo database (ncurses-base is always installed with ncurses).
    @Test func realTerminfo() {
        let xterm = ColorModeDetection.probeTerminfo("xterm-256color")
        #expect(xterm == TerminfoEntry(colors: 256, direct: false, cursorAddressing: true))
        #expect(ColorModeDetection.probeTerminfo("dumb")?.cursorAddressing == false)
        #expect(ColorModeDetection.probeTerminfo("no-such-terminal-type") == nil)
    }
}
