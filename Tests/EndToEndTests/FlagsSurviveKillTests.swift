import Foundation
import Testing

/// Flags are someone's work: an explorer killed with SIGKILL right after the user flagged
/// (no chance to clean up) must leave every flag it acknowledged in the store.
@Suite struct FlagsSurviveKillTests {
    static var binary: String { ExplorerEndToEndTests.binary }

    /// The pid of the process whose command line contains `marker` (this test's own explorer;
    /// other tests run explorers at the same time).
    static func pid(withMarker marker: String) -> Int32? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = Int32(entry),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if argv.first.map({ $0.hasSuffix("vitrine") }) == true, argv.contains(marker) { return pid }
        }
        return nil
    }

    @Test func flagsOutliveAKilledExplorer() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build first (make build): \(Self.binary)")
        let weights = RetrievalEndToEndTests.weights
        try #require(FileManager.default.fileExists(atPath: weights), "the towers are missing: run `make weights` (looked in \(weights))")
        let t = try Tmux(width: 120, height: 36, environment: ["COLORTERM": "truecolor", "VITRINE_CACHE": RetrievalEndToEndTests.cache,
                                                               "VITRINE_WEIGHTS": weights])
        let store = t.workDir + "/flags.sqlite"
        let annotator = "killed-\(UUID().uuidString.prefix(8))"
        try t.type("\(Tmux.quote(Self.binary)) explore --data \(Tmux.quote(ExplorerEndToEndTests.sampleData)) --flags \(Tmux.quote(store)) --annotator \(annotator); echo \"EXIT:$?\"")
        try t.keys("Enter")
        _ = try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") }
        try t.keys("Enter")                                   // the first gallery item as a pair query
        _ = try t.waitFor("results", timeout: 300) { $0.contains("model zero-shot") && $0.contains("AP@") }

        // Three verdicts, each acknowledged by the store (the status line says so only once the
        // write is committed) before the next.
        try t.keys("f")
        _ = try t.waitFor(text: "flagged wrong: ", timeout: 10)
        try t.keys("j", "c")
        _ = try t.waitFor(text: "confirmed: ", timeout: 10)
        try t.keys("j", "f")
        _ = try t.waitFor("the third verdict acknowledged", timeout: 10) { $0.contains("flagged wrong: ") && !$0.contains("confirmed: ") }

        let pid = try #require(Self.pid(withMarker: annotator), "the explorer's process was not found")
        #expect(kill(pid, SIGKILL) == 0)
        _ = try t.waitFor(text: "EXIT:137", timeout: 10)

        let out = t.workDir + "/flags.jsonl"
        let status = try Tmux.spawnAndWait([Self.binary, "flags", "export", "--store", store, "--format", "jsonl", "--out", out],
                                           stdout: "/dev/null", stderr: t.workDir + "/export.err")
        #expect(status == 0, "the store is unreadable after the kill: \((try? String(contentsOfFile: t.workDir + "/export.err", encoding: .utf8)) ?? "")")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3, "expected the 3 acknowledged flags, got: \(lines)")
        #expect(lines.filter { $0.contains("\"wrong\"") }.count == 2)
        #expect(lines.allSatisfy { $0.contains(annotator) })
        // The explorer keeps them under the model's key (the zero-shot towers with their text
        // tower), its display name beside it.
        #expect(lines.allSatisfy { $0.contains("\"model\":\"zero-shot:e5\"") && $0.contains("\"modelName\":\"zero-shot\"") }, "\(lines)")
    }
}
