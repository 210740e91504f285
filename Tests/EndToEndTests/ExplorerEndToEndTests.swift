import Foundation
import Testing

/// The real `vitrine` binary in a real (tmux) terminal: start, move, filter,
/// help, resize, quit, signals, colour modes, hostile data. Every wait polls
/// the screen with a time bound.
@Suite struct ExplorerEndToEndTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var binary: String {
        ProcessInfo.processInfo.environment["VITRINE_BIN"].flatMap { $0.isEmpty ? nil : $0 }
            ?? repository + "/.build/release/vitrine"
    }
    static let sampleData = repository + "/SampleData"

    /// Starts the explorer in `t`'s shell; the shell prints EXIT:<code> after it.
    func launch(_ t: Tmux, _ arguments: String = "") throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build first (make build): \(Self.binary)")
        try t.type("\(Tmux.quote(Self.binary)) explore --data \(Tmux.quote(Self.sampleData)) \(arguments); echo \"EXIT:$?\"")
        try t.keys("Enter")
    }

    func waitForBrowser(_ t: Tmux) throws -> String {
        try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") }
    }

    func expectRestored(_ t: Tmux, exitCode: Int) throws {
        try t.waitFor(text: "EXIT:\(exitCode)")
        #expect(try t.pane("alternate_on") == "0", "still on the alternate screen")
        #expect(try t.pane("cursor_flag") == "1", "cursor left hidden")
        #expect(try t.pane("mouse_any_flag") == "0", "mouse reporting left on")
        // The tty is back in cooked mode with echo.
        try t.type("stty -a | tr ' ;' '\\n\\n' | grep -E '^-?(icanon|echo|icrnl)$' | tr '\\n' ' '; echo :STTY")
        try t.keys("Enter")
        let s = try t.waitFor(text: " :STTY")
        let line = s.components(separatedBy: "\n").last { $0.hasSuffix(" :STTY") } ?? ""
        #expect(line.contains("icanon") && !line.contains("-icanon"), "tty not restored: \(line)")
        #expect(line.contains("echo") && !line.contains("-echo"), "tty not restored: \(line)")
    }

    @Test func browseFilterHelpResizeAndQuit() throws {
        let t = try Tmux(width: 100, height: 30, environment: ["COLORTERM": "truecolor"])
        try launch(t)
        var s = try waitForBrowser(t)
        #expect(try t.pane("alternate_on") == "1")
        #expect(s.contains("Vitrine"))
        #expect(s.contains("Caption"))

        // Move: the position in the list's bottom border follows.
        try t.keys("j", "j", "j")
        try t.waitFor(text: "4/")
        try t.keys("G")
        s = try t.waitFor("the end of the list") { screen in
            guard let r = screen.range(of: #"(\d+)/\1 "#, options: .regularExpression) else { return false }
            return !r.isEmpty
        }
        try t.keys("g")
        try t.waitFor(text: " 1/")

        // Filter by a label word taken from the data itself.
        let word = try firstLabelWord()
        try t.keys("/")
        try t.type(word)
        s = try t.waitFor(text: "matching “\(word)”")
        try t.keys("Enter")
        let rows = s.components(separatedBy: "\n").filter { $0.contains("single") }
        #expect(!rows.isEmpty, "no rows after filtering for \(word)")

        // Switch split and come back.
        try t.keys("Tab")
        s = try t.waitFor("another split") { !$0.contains("gallery ·") }
        try t.keys("BTab")
        try waitForBrowserFiltered(t, word)

        // Help overlay.
        try t.keys("?")
        try t.waitFor(text: "Show or hide this help")
        try t.keys("Escape")
        try t.waitFor("the help to close") { !$0.contains("Show or hide this help") }

        // Cycle the theme: the footer says which one is on.
        try t.keys("T")
        try t.waitFor(text: "theme: ")

        // Resize: bigger, too small, back.
        try t.resize(width: 160, height: 48)
        s = try t.waitFor("the 160-column layout") { screen in
            let lines = screen.components(separatedBy: "\n")
            return lines.count >= 48 && lines[1].hasSuffix("┐") && lines[1].count >= 150
        }
        try t.resize(width: 50, height: 12)
        try t.waitFor(text: "Terminal too small")
        try t.resize(width: 100, height: 30)
        try waitForBrowserFiltered(t, word)

        try t.keys("q")
        try expectRestored(t, exitCode: 0)
    }

    func waitForBrowserFiltered(_ t: Tmux, _ word: String) throws {
        try t.waitFor("the filtered gallery") { $0.contains("gallery ·") && $0.contains("“\(word)”") }
    }

    @Test(arguments: [("TERM", 15), ("HUP", 1)])
    func signalRestoresTheTerminal(signal: String, number: Int) throws {
        let t = try Tmux(width: 90, height: 26)
        try launch(t)
        _ = try waitForBrowser(t)
        let shell = try t.pane("pane_pid")
        let status = try Tmux.spawnAndWait(["pkill", "-\(signal)", "-P", shell, "vitrine"], stdout: "/dev/null", stderr: "/dev/null")
        #expect(status == 0, "pkill found no vitrine process")
        try expectRestored(t, exitCode: 128 + number)
    }

    @Test func controlCQuits() throws {
        let t = try Tmux(width: 90, height: 26)
        try launch(t)
        _ = try waitForBrowser(t)
        try t.keys("C-c")
        try expectRestored(t, exitCode: 130)
    }

    @Test func noColourAndNoUTF8FallBackToASCII() throws {
        let t = try Tmux(width: 100, height: 30, environment: ["NO_COLOR": "1", "LC_ALL": "C", "LANG": "C"])
        try launch(t)
        let s = try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ") && $0.contains("1/") }
        #expect(!s.contains("│") && !s.contains("▀"), "box drawing or half blocks without UTF-8")
        let coloured = try t.screenWithColours()
        // Attributes and the default colours (39, 49) only: no colour code.
        let colourCode = #"[\[;](3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]"#
        #expect(coloured.range(of: colourCode, options: .regularExpression) == nil, "colour escapes with NO_COLOR")
        try t.keys("q")
        try t.waitFor(text: "EXIT:0")
    }

    @Test func imagesAreDrawnInTruecolor() throws {
        let t = try Tmux(width: 120, height: 36, environment: ["COLORTERM": "truecolor"])
        try launch(t)
        _ = try waitForBrowser(t)
        try t.waitFor("the preview image", timeout: 15) { $0.contains("▀") }
        let coloured = try t.screenWithColours()
        #expect(coloured.contains("38;2;") || coloured.contains("48;2;"), "no 24-bit colours on the screen")
        try t.keys("q")
        try t.waitFor(text: "EXIT:0")
    }

    @Test func hostileCaptionsNeverReachTheTerminal() throws {
        // A tiny Product1M set whose caption and label carry escape sequences.
        let dir = NSTemporaryDirectory() + "vitrine-hostile-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let evil = "\u{1B}]0;PWNED\u{07}\u{1B}[2J\u{1B}[31mRED 面霜\u{9B}31m"
        let line = "123456#####\(evil) 正品#####http://x/1.jpg#####http://x/1.jpg#####Brand\u{1B}[5m 面霜\n"
        try line.write(toFile: dir + "/product1m_gallery_ossurl_v2.txt", atomically: true, encoding: .utf8)
        let t = try Tmux(width: 100, height: 30)
        try t.type("\(Tmux.quote(Self.binary)) explore --data \(Tmux.quote(dir)); echo \"EXIT:$?\"")
        try t.keys("Enter")
        let s = try t.waitFor(text: "RED")
        #expect(s.contains("␛"), "escape not shown as a visible symbol")
        #expect(try t.pane("pane_title") != "PWNED", "an OSC title sequence from data reached the terminal")
        let coloured = try t.screenWithColours()
        #expect(!coloured.contains("\u{1B}[5m"), "blink from data reached the terminal")
        try t.keys("q")
        try t.waitFor(text: "EXIT:0")
    }

    /// A word from the first gallery label (the brand), to filter by.
    func firstLabelWord() throws -> String {
        let text = try String(contentsOfFile: Self.sampleData + "/product1m_gallery_ossurl_v2.txt", encoding: .utf8)
        let first = text.split(separator: "\n").first ?? ""
        let label = first.components(separatedBy: "#####").last ?? ""
        return String(label.split(separator: " ").first ?? "x")
    }
}
