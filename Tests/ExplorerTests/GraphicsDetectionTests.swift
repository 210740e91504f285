import CSupport
import Explorer
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

private let kittyOK = b("\u{1B}_Gi=\(GraphicsQuery.kittyID);OK\u{1B}\\")
private let cell = b("\u{1B}[6;20;10t")
private let area = b("\u{1B}[4;800;1200t")
private let da1Plain = b("\u{1B}[?62;22c")
private let da1Sixel = b("\u{1B}[?62;4;22c")
private let env: [String: String] = ["TERM": "xterm-256color"]
private let tmuxEnv: [String: String] = ["TERM": "tmux-256color", "TMUX": "/tmp/tmux-1000/default,42,0", "TERM_PROGRAM": "tmux"]

@Suite("GraphicsDetection: a scripted terminal")
struct GraphicsDetectionTerminalTests {
    struct Run {
        let detection: GraphicsDetection
        let ms: Double
        let routes: [GraphicsQuery.Route]
        let answers: [GraphicsAnswer]
    }

    /// Detects on `terminal` with `environment`, tmux's passthrough answer `tmux`, and checks
    /// what every test checks: the tty mode restored, nothing left in the input.
    func detect(_ terminal: FakeTerminal, environment: [String: String] = env,
                tmux: TmuxPassthrough = .denied("test"), choice: ImagesOption = .auto,
                timeout: Int = 2000, sourceLocation: SourceLocation = #_sourceLocation) -> Run {
        let before = terminal.mode()
        var routes: [GraphicsQuery.Route] = []
        var answers: [GraphicsAnswer] = []
        let start = Date()
        let detection = GraphicsDetection.decide(choice: choice, environment: environment, tmuxCheck: { tmux }) { route in
            routes.append(route)
            let answer = GraphicsQuery.ask(input: terminal.slave, output: terminal.slave, route: route,
                                           timeoutMilliseconds: timeout)
            answers.append(answer)
            return answer
        }
        let ms = Date().timeIntervalSince(start) * 1000
        let after = terminal.mode()
        #expect(after.c_lflag == before.c_lflag, "local modes restored", sourceLocation: sourceLocation)
        #expect(after.c_iflag == before.c_iflag && after.c_oflag == before.c_oflag, sourceLocation: sourceLocation)
        #expect(withUnsafeBytes(of: after.c_cc) { Array($0) } == withUnsafeBytes(of: before.c_cc) { Array($0) },
                sourceLocation: sourceLocation)
        #expect(after.c_lflag & tcflag_t(ICANON) != 0 && after.c_lflag & tcflag_t(ECHO) != 0, sourceLocation: sourceLocation)
        #expect(terminal.pendingInput().isEmpty, "a reply was left in the input", sourceLocation: sourceLocation)
        return Run(detection: detection, ms: ms, routes: routes, answers: answers)
    }

    @Test func kittyAnswersOKAndDA1WithoutSixel() throws {
        let terminal = try FakeTerminal()
        terminal.play([(0, kittyOK + cell + area + da1Plain)])
        let run = detect(terminal)
        #expect(run.detection.mode == .kitty)
        #expect(run.detection.cellPixels == PixelSize(width: 10, height: 20))
        #expect(!run.detection.tmuxPassthrough)
        #expect(run.detection.reason.contains("kitty graphics query"))
        #expect(run.ms < 1000, "the sentinel ends the wait: \(run.ms) ms")
        #expect(run.routes == [.direct])
        #expect(run.answers.first?.reply?.textAreaPixels == PixelSize(width: 1200, height: 800))
        usleep(20_000)
        #expect(terminal.output == GraphicsQuery.request(.direct))
    }

    @Test func sixelFromDA1AndNoKittyReply() throws {
        let terminal = try FakeTerminal()
        terminal.play([(0, da1Sixel)])
        let run = detect(terminal)
        #expect(run.detection.mode == .sixel)
        #expect(run.detection.cellPixels == nil)
        #expect(run.detection.reason.contains("sixel"))
        #expect(run.ms < 1000)
    }

    @Test func bothPrefersKitty() throws {
        let terminal = try FakeTerminal()
        terminal.play([(0, kittyOK + cell + da1Sixel)])
        let run = detect(terminal)
        #expect(run.detection.mode == .kitty)
        #expect(run.answers.first?.reply?.sixel == true)
    }

    @Test func noAnswerAtAllKeepsTheTimeLimit() throws {
        let terminal = try FakeTerminal()
        terminal.play([])
        let run = detect(terminal, timeout: 120)
        #expect(run.detection.mode == .blocks)
        #expect(run.detection.reason.contains("did not answer"))
        #expect(run.ms >= 115 && run.ms < 600, "the time limit is kept: \(run.ms) ms")
        guard case .timedOut = run.answers.first else { Issue.record("\(run.answers)"); return }
    }

    @Test func aLateButInTimeAnswerCounts() throws {
        let terminal = try FakeTerminal()
        terminal.play([(0.08, kittyOK), (0.05, da1Plain)])
        let run = detect(terminal, timeout: 1500)
        #expect(run.detection.mode == .kitty)
        #expect(run.ms >= 120 && run.ms < 1000, "\(run.ms) ms")
    }

    @Test func anAnswerPastTheLimitIsNotWaitedFor() throws {
        // A slow link: the answer comes after the limit. The wait ends at the limit with blocks;
        // the late bytes land in the input after detection returned (curses' filter's to drop).
        let terminal = try FakeTerminal()
        terminal.play([(0.4, kittyOK + da1Plain)])
        let run = detect(terminal, timeout: 80)
        #expect(run.detection.mode == .blocks)
        #expect(run.ms < 380, "\(run.ms) ms")
        usleep(500_000)
        #expect(terminal.pendingInput() == kittyOK + da1Plain)
    }

    @Test func anAnswerSplitAcrossReads() throws {
        let terminal = try FakeTerminal()
        let whole = kittyOK + cell + da1Sixel
        // Cut inside the APC's terminator, inside the size reply and inside DA1's numbers.
        let cuts = [5, kittyOK.count - 1, kittyOK.count + 4, kittyOK.count + cell.count + 5, whole.count - 1]
        var steps: [FakeTerminal.Step] = []
        var from = 0
        for cut in cuts + [whole.count] {
            steps.append((0.02, Array(whole[from..<cut])))
            from = cut
        }
        terminal.play(steps)
        let run = detect(terminal)
        #expect(run.detection.mode == .kitty)
        #expect(run.detection.cellPixels == PixelSize(width: 10, height: 20))
        #expect(run.answers.first?.reply?.deviceAttributes == [62, 4, 22])
        guard case .answered = run.answers.first else { Issue.record("\(run.answers)"); return }
    }

    @Test func garbageAndPartialReplies() throws {
        let terminal = try FakeTerminal()
        // Keys typed meanwhile, an APC for another image id, an abandoned APC, a kitty error,
        // stray bytes, a broken CSI, then DA1 without 4.
        var junk = b("jk\u{1B}_Gi=1;OK\u{1B}\\\u{1B}_Gi=\(GraphicsQuery.kittyID);OK")
        junk += b("\u{1B}_Gi=\(GraphicsQuery.kittyID);ENOTSUPPORTED:no\u{1B}\\")
        junk += [0xFF, 0x00, 0x9B, 0x07, 0x1B, 0x1B] + b("\u{1B}[6;abc;t\u{1B}]11;rgb:0/0/0\u{07}_Gi=\(GraphicsQuery.kittyID);OK")
        terminal.play([(0, junk), (0.01, da1Plain)])
        let run = detect(terminal)
        #expect(run.detection.mode == .blocks)
        #expect(run.answers.first?.reply?.kitty == false)
        #expect(run.ms < 1000)
    }

    @Test func aFloodIsBoundedAndDrained() throws {
        let terminal = try FakeTerminal()
        terminal.play([(0, [UInt8](repeating: UInt8(ascii: "x"), count: 3000) + b("\u{1B}_G")
                         + [UInt8](repeating: UInt8(ascii: "y"), count: 9000))])
        let run = detect(terminal, timeout: 150)
        #expect(run.detection.mode == .blocks)
        #expect(run.ms >= 140 && run.ms < 800)
    }

    @Test func insideTmuxWithPassthrough() throws {
        // tmux answers the sizes and DA1 at once; the outer terminal's kitty reply comes later
        // through the passthrough, and the wait goes on for it.
        let terminal = try FakeTerminal()
        terminal.play([(0, cell + b("\u{1B}[?1;2c")), (0.05, kittyOK)])
        let run = detect(terminal, environment: tmuxEnv, tmux: .allowed)
        #expect(run.routes == [.tmuxPassthrough])
        #expect(run.detection.mode == .kitty)
        #expect(run.detection.tmuxPassthrough)
        #expect(run.detection.cellPixels == PixelSize(width: 10, height: 20))
        #expect(run.detection.reason.contains("allow-passthrough"))
        #expect(run.ms >= 45 && run.ms < 1000, "\(run.ms) ms")
        usleep(20_000)
        let sent = terminal.output
        #expect(sent == GraphicsQuery.request(.tmuxPassthrough))
        #expect(sent.starts(with: b("\u{1B}Ptmux;\u{1B}\u{1B}_Gi=\(GraphicsQuery.kittyID),")))
        #expect(GraphicsQuery.tmuxPassthrough(b("\u{1B}_Gx\u{1B}\\")) == b("\u{1B}Ptmux;\u{1B}\u{1B}_Gx\u{1B}\u{1B}\\\u{1B}\\"))
    }

    @Test func insideTmuxWithPassthroughButNoKittyOutside() throws {
        // Only tmux's DA1: the kitty reply is waited for until the limit, then blocks.
        let terminal = try FakeTerminal()
        terminal.play([(0, b("\u{1B}[?1;2c"))])
        let run = detect(terminal, environment: tmuxEnv, tmux: .allowed, timeout: 150)
        #expect(run.detection.mode == .blocks)
        #expect(!run.detection.tmuxPassthrough)
        #expect(run.ms >= 140 && run.ms < 700, "\(run.ms) ms")
    }

    @Test func insideTmuxWithoutPassthrough() throws {
        let terminal = try FakeTerminal()
        // Even a forged OK does not count: no kitty query went out.
        terminal.play([(0, kittyOK + b("\u{1B}[?1;2c"))])
        let run = detect(terminal, environment: tmuxEnv.merging(["KITTY_WINDOW_ID": "1"]) { $1 },
                         tmux: .denied("tmux allow-passthrough is off (set -g allow-passthrough on)"))
        #expect(run.routes == [.withoutKittyQuery])
        #expect(run.detection.mode == .blocks)
        #expect(!run.detection.tmuxPassthrough)
        #expect(run.detection.reason.contains("allow-passthrough is off"))
        #expect(run.detection.reason.contains("KITTY_WINDOW_ID suggests pixels"))
        usleep(20_000)
        #expect(terminal.output == GraphicsQuery.request(.withoutKittyQuery))
        #expect(!terminal.output.contains(UInt8(ascii: "_")), "no APC sent to tmux")
    }

    @Test func insideTmuxWithItsOwnSixel() throws {
        // tmux 3.4+ built with sixel lists 4 itself and draws sixel with no passthrough.
        let terminal = try FakeTerminal()
        terminal.play([(0, b("\u{1B}[?1;2;4c"))])
        let run = detect(terminal, environment: tmuxEnv, tmux: .denied("off"))
        #expect(run.detection.mode == .sixel)
        #expect(!run.detection.tmuxPassthrough)
        #expect(run.detection.reason.hasPrefix("tmux lists sixel"))
    }

    @Test func iTerm2ByItsEnvironment() throws {
        // iTerm2 has no query: LC_TERMINAL picks inline images, even over its sixel.
        for (variables, reply) in [(["LC_TERMINAL": "iTerm2"], da1Plain), (["TERM_PROGRAM": "iTerm.app"], da1Sixel)] {
            let terminal = try FakeTerminal()
            terminal.play([(0, reply)])
            let run = detect(terminal, environment: env.merging(variables) { $1 })
            #expect(run.detection.mode == .iterm, "\(variables)")
            #expect(run.detection.reason.contains("iTerm2"))
        }
        // Inside tmux only with passthrough.
        let inTmux = try FakeTerminal()
        inTmux.play([(0, da1Plain)])
        let tmuxRun = detect(inTmux, environment: tmuxEnv.merging(["LC_TERMINAL": "iTerm2"]) { $1 }, tmux: .allowed, timeout: 100)
        #expect(tmuxRun.detection.mode == .iterm && tmuxRun.detection.tmuxPassthrough)
        #expect(tmuxRun.detection.reason.hasSuffix("inside tmux with allow-passthrough"))
        let denied = try FakeTerminal()
        denied.play([(0, da1Plain)])
        #expect(detect(denied, environment: tmuxEnv.merging(["LC_TERMINAL": "iTerm2"]) { $1 }).detection.mode == .blocks)
    }

    @Test func hintsNeverOverrideANo() throws {
        for variables in [["TERM": "xterm-kitty"], ["KITTY_WINDOW_ID": "3"], ["TERM_PROGRAM": "ghostty"], ["KONSOLE_VERSION": "230800"]] {
            let terminal = try FakeTerminal()
            terminal.play([(0, da1Plain)])
            #expect(detect(terminal, environment: env.merging(variables) { $1 }).detection.mode == .blocks, "\(variables)")
        }
    }

    @Test func gnuScreenGetsNoKittyQuery() throws {
        let terminal = try FakeTerminal()
        terminal.play([(0, kittyOK + da1Sixel)])
        let run = detect(terminal, environment: ["TERM": "screen.xterm-256color", "STY": "123.pts-0.host"])
        #expect(run.routes == [.withoutKittyQuery])
        #expect(run.detection.mode == .sixel)
        #expect(run.detection.reason.hasSuffix("inside GNU screen, no kitty query"))
        usleep(20_000)
        #expect(terminal.output == GraphicsQuery.request(.withoutKittyQuery))
        var asked = 0
        let console = GraphicsDetection.decide(choice: .auto, environment: ["TERM": "linux"], tmuxCheck: { .allowed }) { _ in
            asked += 1; return .notAsked("x")
        }
        #expect(console.mode == .blocks && asked == 0)
    }

    @Test func notATerminal() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(GraphicsQuery.ask(input: fds[0], output: fds[1]) == .notAsked("not a terminal"))
        let d = GraphicsDetection.detect(choice: .auto, environment: env, input: fds[0], output: fds[1])
        #expect(d.mode == .blocks && d.reason == "could not ask the terminal (not a terminal)")
    }
}

@Suite("GraphicsDetection: replies, choices, tmux")
struct GraphicsDetectionParsingTests {
    let id = GraphicsQuery.kittyID

    @Test func parsesEachReply() {
        let r = GraphicsReply.parse(kittyOK + cell + area + da1Sixel, kittyID: id)
        #expect(r == GraphicsReply(kitty: true, deviceAttributes: [62, 4, 22], cellPixels: PixelSize(width: 10, height: 20),
                                   textAreaPixels: PixelSize(width: 1200, height: 800)))
        #expect(r.sixel && r.sentinel)
        // BEL as terminator, extra keys in the APC.
        #expect(GraphicsReply.parse(b("\u{1B}_Gi=\(id),p=1;OK\u{07}") + da1Plain, kittyID: id).kitty == true)
        // DA1 with only the class number, or the class 4 itself: no sixel.
        #expect(!GraphicsReply.parse(b("\u{1B}[?4c"), kittyID: id).sixel)
        #expect(GraphicsReply.parse(b("\u{1B}[?1;2;4c"), kittyID: id).sixel)
        #expect(GraphicsReply.parse(b("\u{1B}[?62;4c"), kittyID: id).sixel)
        // Not DA1: secondary DA, a DA1 without '?'.
        #expect(!GraphicsReply.parse(b("\u{1B}[>0;4c\u{1B}[0;4c"), kittyID: id).sentinel)
    }

    @Test func stopsAtTheSentinelOutsideTmuxOnly() {
        let bytes = da1Plain + kittyOK
        #expect(GraphicsReply.parse(bytes, kittyID: id).kitty == nil)
        #expect(GraphicsReply.parse(bytes, kittyID: id, stopAtSentinel: false).kitty == true)
    }

    @Test func unfinishedRepliesWaitForMore() {
        #expect(GraphicsReply.parse(b("\u{1B}_Gi=\(id);OK"), kittyID: id) == GraphicsReply())
        #expect(GraphicsReply.parse(b("\u{1B}_Gi=\(id);OK\u{1B}"), kittyID: id) == GraphicsReply())
        #expect(GraphicsReply.parse(kittyOK + b("\u{1B}[?62;4"), kittyID: id) == GraphicsReply(kitty: true))
        #expect(GraphicsReply.parse([0x1B], kittyID: id) == GraphicsReply())
    }

    @Test func hostileBytes() {
        // Huge numbers, zero sizes, wrong ids: nothing counts.
        let bytes = b("\u{1B}[6;0;10t\u{1B}[6;99999999999;10t\u{1B}_Gi=\(id)0;OK\u{1B}\\\u{1B}_Gi=\(id);OKAY\u{1B}\\\u{1B}[?" + String(repeating: "9", count: 5000) + "c")
        let r = GraphicsReply.parse(bytes, kittyID: id)
        #expect(r.cellPixels == nil && r.kitty == false && !r.sentinel)
        var state: UInt64 = 11
        for _ in 0..<300 {
            var random: [UInt8] = []
            for _ in 0..<Int(state % 200) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let pick = UInt8(truncatingIfNeeded: state >> 33)
                random.append([0x1B, 0x5B, 0x5F, 0x3F, 0x63, 0x07, 0x5C, 0x47, 0x3B, 0x34, 0x74, 0x4F][Int(pick) % 12] &+ (pick > 200 ? pick : 0))
            }
            let reply = GraphicsReply.parse(random, kittyID: id, stopAtSentinel: state % 2 == 0)
            #expect(reply.kitty != true, "a kitty OK needs the id")
        }
    }

    @Test func theChoice() throws {
        #expect(try ImagesOption.parse("auto") == .auto)
        for mode in GraphicsProtocol.allCases {
            #expect(try ImagesOption.parse(mode.rawValue) == .fixed(mode))
            #expect(try ImagesOption.parse(" \(mode.rawValue.uppercased()) ") == .fixed(mode))
        }
        #expect(throws: GraphicsError.invalidOption("--images: 'png' is not one of auto, kitty, sixel, iterm, blocks, ascii")) {
            try ImagesOption.parse("png")
        }
        #expect(throws: GraphicsError.self) { try ImagesOption.parse("") }
    }

    @Test func aForcedModeAsksNothing() {
        var asked = 0, checked = 0
        let d = GraphicsDetection.decide(choice: .fixed(.sixel), environment: tmuxEnv,
                                         tmuxCheck: { checked += 1; return .allowed }) { _ in asked += 1; return .notAsked("x") }
        #expect(d == GraphicsDetection(mode: .sixel, reason: "--images sixel", tmuxPassthrough: false))
        #expect(asked == 0 && checked == 0)
        for (mode, through) in [(GraphicsProtocol.kitty, true), (.iterm, true), (.blocks, false), (.ascii, false)] {
            let forced = GraphicsDetection.decide(choice: .fixed(mode), environment: tmuxEnv, tmuxCheck: { .allowed }) { _ in .notAsked("x") }
            #expect(forced.mode == mode && forced.tmuxPassthrough == through)
            #expect(!GraphicsDetection.decide(choice: .fixed(mode), environment: env, tmuxCheck: { .allowed }) { _ in .notAsked("x") }.tmuxPassthrough)
        }
    }

    @Test func dumbTerminalsAreNotAsked() {
        var asked = 0
        let d = GraphicsDetection.decide(choice: .auto, environment: ["TERM": "dumb"], tmuxCheck: { .allowed }) { _ in
            asked += 1; return .notAsked("x")
        }
        #expect(d.mode == .ascii && asked == 0)
    }

    @Test func tmuxSetting() {
        #expect(TmuxPassthrough.interpret("on\n") == .allowed)
        #expect(TmuxPassthrough.interpret("all") == .allowed)
        #expect(TmuxPassthrough.interpret("off\n") == .denied("tmux allow-passthrough is off (set -g allow-passthrough on)"))
        #expect(TmuxPassthrough.interpret("") == .denied("tmux allow-passthrough is unset (set -g allow-passthrough on)"))
        // Outside tmux the check is never made.
        var checked = 0
        _ = GraphicsDetection.decide(choice: .auto, environment: env, tmuxCheck: { checked += 1; return .allowed }) { _ in
            .answered(GraphicsReply(deviceAttributes: [1]), milliseconds: 1)
        }
        #expect(checked == 0)
    }

    @Test func theRequest() {
        #expect(GraphicsQuery.kittyQuery == b("\u{1B}_Gi=\(id),s=1,v=1,a=q,t=d,f=24;AAAA\u{1B}\\"))
        #expect(GraphicsQuery.request(.direct) == GraphicsQuery.kittyQuery + b("\u{1B}[16t\u{1B}[14t\u{1B}[c"))
        #expect(GraphicsQuery.request(.withoutKittyQuery) == b("\u{1B}[16t\u{1B}[14t\u{1B}[c"))
    }
}
