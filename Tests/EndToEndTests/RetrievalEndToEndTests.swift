import Foundation
import Testing

/// Retrieval in the real explorer, with the real engine (zero-shot towers, so the weights must
/// be there: `make weights`): type a caption and see ranked results with scores, use a sample as
/// the query and switch its mode, open the attention pane, flag a match and find the flag in the
/// store with `vitrine flags export`.
@Suite struct RetrievalEndToEndTests {
    static let repository = ExplorerEndToEndTests.repository
    static var binary: String { ExplorerEndToEndTests.binary }
    static let sampleData = ExplorerEndToEndTests.sampleData

    /// The index and feature caches are kept between runs (building them takes a while on 2 cores).
    /// The cache the end-to-end suites share (`make test` builds its SampleData index once, before
    /// the suites start, so that they do not all build it at once).
    static let cache = ProcessInfo.processInfo.environment["VITRINE_E2E_CACHE"].flatMap { $0.isEmpty ? nil : $0 }
        ?? NSTemporaryDirectory() + "vitrine-e2e-cache-\(getuid())"

    static var weights: String {
        ProcessInfo.processInfo.environment["VITRINE_WEIGHTS"].flatMap { $0.isEmpty ? nil : $0 } ?? repository + "/Weights"
    }

    /// Matches a results row: rank, a score with three decimals.
    static let scoredRow = #"\b1 [ ✓✗⚑★]{0,4}0\.\d{3} "#

    @Test func searchSwitchModeAttentionAndFlag() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build first (make build): \(Self.binary)")
        try #require(FileManager.default.fileExists(atPath: Self.weights), "the towers are missing: run `make weights` (looked in \(Self.weights))")
        let t = try Tmux(width: 120, height: 36, environment: ["COLORTERM": "truecolor", "VITRINE_CACHE": Self.cache,
                                                               "VITRINE_WEIGHTS": Self.weights])
        let store = t.workDir + "/flags.sqlite"
        try t.type("\(Tmux.quote(Self.binary)) explore --data \(Tmux.quote(Self.sampleData)) --flags \(Tmux.quote(store)) --annotator e2e-tester; echo \"EXIT:$?\"")
        try t.keys("Enter")
        _ = try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") }

        // Typing a caption never waits for the index: the bar echoes at once.
        let word = try firstLabelWord()
        try t.keys("s")
        try t.type(word + " cream")
        try t.waitFor(text: "search › \(word) cream", timeout: 5)
        try t.keys("Enter")
        var s = try t.waitFor("ranked results with scores", timeout: 300) { screen in
            screen.contains("caption “\(word) cream”") && screen.contains("model zero-shot")
                && screen.range(of: Self.scoredRow, options: .regularExpression) != nil
        }
        #expect(s.contains("results · "))

        // A gallery sample as the query (image + caption), then its mode switched.
        try t.keys("Escape")
        try t.waitFor(text: "Caption")
        try t.keys("Enter")
        s = try t.waitFor("a pair query", timeout: 60) { $0.contains("as image + caption") && $0.contains("AP@") && $0.contains("✓") }
        try t.keys("m")
        try t.waitFor("a caption query", timeout: 60) { $0.contains("as caption") && $0.range(of: Self.scoredRow, options: .regularExpression) != nil }
        try t.keys("m")
        try t.waitFor("an image query", timeout: 60) { $0.contains("as image ·") || $0.contains("as image") && !$0.contains("as image +") }

        // The attention pane of the highlighted match: an image query maps cell similarity.
        try t.keys("a")
        try t.waitFor("the attention pane", timeout: 60) { $0.contains("attention · #1") && $0.contains("overall map") }
        try t.keys("j")
        try t.waitFor("the attention of the second match", timeout: 60) { $0.contains("attention · #2") && $0.contains("overall map") }

        // Idle after all that work (the numeric pool's workers, the engine's threads): the
        // explorer sleeps until a key arrives and uses next to no CPU.
        let idle = try explorerCPUSeconds(t, over: 1.0)
        #expect(idle < 0.1, "the idle explorer used \(idle) s of CPU in 1 s")

        // Flag the second match wrong and confirm the third.
        try t.keys("f")
        try t.waitFor(text: "flagged wrong", timeout: 10)
        try t.keys("j", "c")
        try t.waitFor(text: "confirmed right", timeout: 10)
        try t.keys("q")
        try t.waitFor(text: "EXIT:0", timeout: 10)

        // The flags are in the store.
        let out = t.workDir + "/flags.jsonl"
        let status = try Tmux.spawnAndWait([Self.binary, "flags", "export", "--store", store, "--format", "jsonl", "--out", out],
                                           stdout: "/dev/null", stderr: t.workDir + "/export.err")
        #expect(status == 0, "vitrine flags export failed: \((try? String(contentsOfFile: t.workDir + "/export.err", encoding: .utf8)) ?? "")")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "expected 2 flags, got: \(lines)")
        #expect(lines.contains { $0.contains("\"wrong\"") && $0.contains("e2e-tester") })
        #expect(lines.contains { $0.contains("\"confirmed\"") && $0.contains("zero-shot") })
    }

    /// CPU seconds (user + system) the explorer running in the pane uses over `seconds`
    /// (from /proc: the shell's child's utime + stime, in clock ticks).
    func explorerCPUSeconds(_ t: Tmux, over seconds: Double) throws -> Double {
        let shell = try t.pane("pane_pid").trimmingCharacters(in: .whitespacesAndNewlines)
        let children = try String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)
        let pid = try #require(children.split(separator: " ").first.map(String.init), "no explorer under the pane's shell")
        func ticks() throws -> Double {
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
            let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
            return Double(fields[11])! + Double(fields[12])!
        }
        let before = try ticks()
        Thread.sleep(forTimeInterval: seconds)
        return (try ticks() - before) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A word from the first gallery label (the brand), to search for.
    func firstLabelWord() throws -> String {
        let text = try String(contentsOfFile: Self.sampleData + "/product1m_gallery_ossurl_v2.txt", encoding: .utf8)
        let first = text.split(separator: "\n").first ?? ""
        let label = first.components(separatedBy: "#####").last ?? ""
        return String(label.split(separator: " ").first ?? "x")
    }
}
