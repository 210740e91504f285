import CSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Colour over SSH: the bytes the explorer sends in truecolor mode (the semicolon form
/// `ESC[38;2;R;G;Bm`, not the colon form of ncurses' direct-colour entries), and the question it
/// asks a terminal when COLORTERM is missing (SSH does not forward it). In tmux (a real terminal
/// that answers DA1 and nothing else) and in a pseudo-terminal played by the test, which answers
/// yes, no, late or never.
@Suite struct TruecolorEndToEndTests {
    static var binary: String { ExplorerEndToEndTests.binary }
    static let request = Array("\u{1B}[38;2;1;2;3m\u{1B}P$qm\u{1B}\\\u{1B}P+q524742\u{1B}\\\u{1B}[0m\u{1B}[c".utf8)
    static let da1 = Array("\u{1B}[?62;22c".utf8)
    static let yes = Array("\u{1B}P1$r0;38:2::1:2:3m\u{1B}\\".utf8) + da1

    // MARK: - tmux

    /// Starts the explorer in `t` with tmux piping everything the pane's program writes to a file.
    func launchPiped(_ t: Tmux, environment: String = "") throws -> String {
        let pipe = t.workDir + "/pane-\(UUID().uuidString.prefix(6)).bytes"
        try t.run(["pipe-pane", "-t", "main", "cat > \(Tmux.quote(pipe))"])
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build first (make build): \(Self.binary)")
        try t.type("clear; \(environment)\(Tmux.quote(Self.binary)) explore --no-search --data \(Tmux.quote(ExplorerEndToEndTests.sampleData)); echo \"EXIT:$?\"")
        try t.keys("Enter")
        return pipe
    }

    func quitAndRead(_ t: Tmux, pipe: String) throws -> [UInt8] {
        try t.keys("q")
        try t.waitFor(text: "EXIT:0")
        try t.run(["pipe-pane", "-t", "main"])          // closes the pipe
        usleep(100_000)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: pipe)))
    }

    @Test func truecolorIsSentInTheSemicolonForm() throws {
        let t = try Tmux(width: 120, height: 36, environment: ["COLORTERM": "truecolor"])
        let pipe = try launchPiped(t)
        try t.waitFor("the preview image", timeout: 20) { $0.contains("gallery ·") && $0.contains("▀") }
        let bytes = try quitAndRead(t, pipe: pipe)
        // tmux-256color + COLORTERM=truecolor: tmux-direct, whose setaf/setab say 38:2::R:G:B.
        #expect(bytes.includes(Array("\u{1B}[38;2;".utf8)), "no semicolon-form foreground")
        #expect(bytes.includes(Array("\u{1B}[48;2;".utf8)), "no semicolon-form background")
        #expect(!bytes.includes(Array("38:2:".utf8)) && !bytes.includes(Array("48:2:".utf8)), "colon form sent")
        #expect(!bytes.includes(Self.request), "COLORTERM was set: no question")

        // The escape hatch keeps the entry's own form.
        let colon = try launchPiped(t, environment: "VITRINE_TRUECOLOR_FORM=colon ")
        try t.waitFor("the preview image", timeout: 20) { $0.contains("gallery ·") && $0.contains("▀") }
        let kept = try quitAndRead(t, pipe: colon)
        #expect(kept.includes(Array("\u{1B}[38:2::".utf8)) && kept.includes(Array("\u{1B}[48:2::".utf8)))
        #expect(!kept.includes(Array("38;2;".utf8)) && !kept.includes(Array("48;2;".utf8)))
    }

    @Test func withoutColortermTmuxIsAskedAndNothingStrayIsLeft() throws {
        // tmux answers DA1 and neither DECRQSS nor XTGETTCAP: the question ends on the sentinel,
        // the explorer keeps 256 colours, and no reply shows or acts as a key.
        let t = try Tmux(width: 100, height: 30)
        let pipe = try launchPiped(t)
        var s = try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains(" 1/") }
        try t.keys("j")
        s = try t.waitFor(text: " 2/")
        for stray in ["1;2c", "?1;2", "$r", "+r", "524742", "^[", "␛"] {
            #expect(!s.contains(stray), "\(stray) on the screen:\n\(s)")
        }
        #expect(!s.contains("go to id:") && !s.contains("─ Keys"), "a reply was read as keys:\n\(s)")
        let coloured = try t.screenWithColours()
        #expect(!coloured.contains("38;2;") && !coloured.contains("48;2;"), "tmux did not say yes, yet 24-bit colours")
        let bytes = try quitAndRead(t, pipe: pipe)
        // Asked once, before curses took the terminal (the pane's bytes start with the shell's echo).
        let asked = try #require(bytes.firstOffset(of: Self.request), "the question was not asked")
        let started = try #require(bytes.firstOffset(of: Array("\u{1B}[?1049h".utf8)))
        #expect(asked < started)
        #expect(!Array(bytes[(asked + 1)...]).includes(Self.request), "asked twice")
        try ExplorerEndToEndTests().expectRestored(t, exitCode: 0)
        let after = try t.screen().joined(separator: "\n")
        for stray in ["1;2c", "$r", "+r", "^["] { #expect(!after.contains(stray), "\(stray) left in the shell:\n\(after)") }

        // `vitrine doctor` asks the same way and says why: the sentinel, not the time limit,
        // ended the wait. (Its line is read from the pane's bytes: on screen it wraps.)
        let doctorPipe = t.workDir + "/doctor.bytes"
        try t.run(["pipe-pane", "-t", "main", "cat > \(Tmux.quote(doctorPipe))"])
        try t.type("clear; \(Tmux.quote(Self.binary)) doctor; echo DOCTOR:$?")
        try t.keys("Enter")
        try t.waitFor(text: "DOCTOR:0")
        try t.run(["pipe-pane", "-t", "main"])
        usleep(100_000)
        let doctor = String(decoding: try Data(contentsOf: URL(fileURLWithPath: doctorPipe)), as: UTF8.self)
        let line = doctor.split(whereSeparator: \.isNewline).first { $0.hasPrefix("colour") }.map(String.init) ?? doctor
        #expect(line.contains("256: tmux-256color has 256 colours (COLORTERM unset; the terminal answered DA1 in"), "\(line)")
    }

    // MARK: - A pseudo-terminal played by the test

    @Test func aTerminalThatSaysYesGetsTruecolorInTheSemicolonForm() throws {
        let run = try FakeTerminalRun(answer: Self.yes)
        let after = try run.afterQuestion()
        #expect(after.includes(Array("\u{1B}[?1049h".utf8)), "curses started after the question")
        #expect(after.includes(Array("\u{1B}[38;2;".utf8)) && after.includes(Array("\u{1B}[48;2;".utf8)))
        #expect(!run.output.includes(Array("38:2:".utf8)) && !run.output.includes(Array("48:2:".utf8)))
        #expect(run.status == 0)
    }

    @Test func theColonFormOnRequest() throws {
        let run = try FakeTerminalRun(answer: Self.yes, environment: ["VITRINE_TRUECOLOR_FORM": "colon"])
        let after = try run.afterQuestion()
        #expect(after.includes(Array("\u{1B}[38:2::".utf8)) && !after.includes(Array("38;2;".utf8)))
        #expect(run.status == 0)
    }

    @Test func aTerminalThatAnswersOnlyDA1Gets256Colours() throws {
        let run = try FakeTerminalRun(answer: Self.da1)
        let after = try run.afterQuestion()
        #expect(after.includes(Array("\u{1B}[38;5;".utf8)) && !after.includes(Array("38;2;".utf8)))
        #expect(run.status == 0)
    }

    @Test func aLateAnswerIsNotReadAsKeys() throws {
        // The answer comes after the explorer stopped waiting (a slow link). Read as keys, its
        // `:` would open "go to" and the `q` below would go into it; dropped, `q` quits.
        let run = try FakeTerminalRun(answer: Self.yes, delay: 0.6)
        let after = try run.afterQuestion()
        #expect(after.includes(Array("\u{1B}[38;5;".utf8)) && !after.includes(Array("38;2;".utf8)))
        #expect(run.status == 0, "the explorer did not quit on q: the late answer was read as keys")
    }

    @Test func aTerminalThatNeverAnswers() throws {
        let run = try FakeTerminalRun(answer: nil)
        #expect(try run.afterQuestion().includes(Array("\u{1B}[38;5;".utf8)))
        #expect(run.status == 0)
    }
}

/// The explorer in a pseudo-terminal that the test plays: TERM=xterm-256color without
/// COLORTERM; the terminal answers the colour question with `answer` (`delay` seconds after
/// it), waits for the gallery, presses q and collects every byte until the explorer exits.
final class FakeTerminalRun {
    private(set) var output: [UInt8] = []
    private(set) var status: Int32 = -1

    init(answer: [UInt8]?, delay: TimeInterval = 0, environment extra: [String: String] = [:]) throws {
        var master: Int32 = -1, slave: Int32 = -1
        guard vitrine_open_pty_pair(&master, &slave) == 0 else { throw POSIXError(.ENODEV) }
        defer { close(master) }
        let home = NSTemporaryDirectory() + "vitrine-fake-tty-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "TERM": "xterm-256color",
                   "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "HOME": home, "XDG_CONFIG_HOME": home + "/config",
                   "XDG_CACHE_HOME": home + "/cache", "XDG_DATA_HOME": home + "/data", "COLUMNS": "100", "LINES": "30"]
        for (k, v) in extra { env[k] = v }
        let pid = try Self.spawn([TruecolorEndToEndTests.binary, "explore", "--no-search", "--data", ExplorerEndToEndTests.sampleData],
                                 terminal: slave, environment: env)
        close(slave)

        var answerAt: Date?
        var answered = false, quitSent = false
        let deadline = Date().addingTimeInterval(30)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var exitStatus: Int32?
        while Date() < deadline {
            var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 10) > 0 {
                let n = read(master, &buffer, buffer.count)
                if n > 0 { output += buffer[0..<n] }
            }
            if answerAt == nil, output.includes(TruecolorEndToEndTests.request) { answerAt = Date().addingTimeInterval(delay) }
            if let at = answerAt, !answered, let answer, Date() >= at {
                answered = true
                _ = answer.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
            }
            // The gallery is drawn (and any late answer has had its time): quit.
            let ready = output.includes(Array("gallery".utf8)) && (answer == nil || answered)
            if ready, !quitSent, answerAt.map({ Date().timeIntervalSince($0) > 0.4 }) ?? false {
                quitSent = true
                _ = [UInt8(ascii: "q")].withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
            }
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                exitStatus = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                while true {   // what is left
                    var q = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                    guard poll(&q, 1, 50) > 0 else { break }
                    let n = read(master, &buffer, buffer.count)
                    if n <= 0 { break }
                    output += buffer[0..<n]
                }
                break
            }
        }
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            waitpid(pid, &raw, 0)
        }
        status = exitStatus ?? -1
    }

    /// What the explorer wrote after its question (the question must come first).
    func afterQuestion() throws -> [UInt8] {
        let request = TruecolorEndToEndTests.request
        try #require(output.starts(with: request), "the question is the first thing sent: \(String(decoding: output.prefix(80), as: UTF8.self).debugDescription)")
        return Array(output[request.count...])
    }

    /// Starts `argv` with the terminal as its standard input, output and error, the environment
    /// given (only that) and a clean signal state.
    static func spawn(_ argv: [String], terminal: Int32, environment: [String: String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_adddup2(&actions, terminal, fd) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for e in envp { free(e) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, envp)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        return pid
    }
}


extension Array where Element == UInt8 {
    func includes(_ needle: [UInt8]) -> Bool { firstOffset(of: needle) != nil }

    func firstOffset(of needle: [UInt8]) -> Int? {
        guard !needle.isEmpty, needle.count <= count else { return needle.isEmpty ? 0 : nil }
        let first = needle[0]
        var i = 0
        while i + needle.count <= count {
            if self[i] == first && self[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
