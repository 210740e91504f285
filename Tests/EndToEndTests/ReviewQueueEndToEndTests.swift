import Foundation
import Testing

/// The review queue in a real terminal: 20 pairs reviewed, the explorer quit and reopened, the
/// queue resumes at pair 21 (the "reviewed" state is the store's); then the filtered list exported.
@Suite struct ReviewQueueEndToEndTests {
    @Test func reviewTwentyQuitReopenResumeAtTwentyOneAndExport() throws {
        let weights = RetrievalEndToEndTests.weights
        try #require(FileManager.default.fileExists(atPath: weights), "the towers are missing: run `make weights` (looked in \(weights))")
        let t = try Tmux(width: 120, height: 36, environment: ["COLORTERM": "truecolor", "VITRINE_CACHE": RetrievalEndToEndTests.cache,
                                                               "VITRINE_WEIGHTS": weights])
        let store = t.workDir + "/flags.sqlite"
        let command = "cd \(Tmux.quote(t.workDir)) && \(Tmux.quote(ExplorerEndToEndTests.binary)) explore --data "
            + "\(Tmux.quote(ExplorerEndToEndTests.sampleData)) --flags \(Tmux.quote(store)) --annotator reviewer; echo \"EXIT:$?\""
        try t.type(command)
        try t.keys("Enter")
        _ = try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") }
        // The queue needs search: R until the index is open.
        func openQueue() throws {
            let deadline = Date().addingTimeInterval(300)
            repeat {
                try t.keys("R")
                // While the index is built R says so in the footer, until search opens and clears it.
                if (try? t.waitFor("the queue", timeout: 5) { $0.contains("review ·") }) != nil { return }
            } while Date() < deadline
        }
        try openQueue()
        var screen = ""
        screen = try t.waitFor("the queue", timeout: 120) { $0.contains("pair 1/100") && $0.contains("0 of 100 reviewed") }

        for i in 0 ..< 20 { try t.keys(["f", "c", "s"][i % 3]) }
        _ = try t.waitFor("20 reviewed and saved", timeout: 30) { $0.contains("20 of 100 reviewed") && !$0.contains("saving") }
        // Escape alone (a key right after it would read as Alt+key), then quit from the browser.
        try t.keys("Escape")
        _ = try t.waitFor("the browser", timeout: 10) { !$0.contains("review ·") && $0.contains("gallery ·") }
        try t.keys("q")
        _ = try t.waitFor(text: "EXIT:0", timeout: 10)

        try t.type("clear; " + command)
        try t.keys("Enter")
        _ = try t.waitFor("the gallery list again", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") && !$0.contains("EXIT:0") }
        try openQueue()
        _ = try t.waitFor("the queue resumed at 21", timeout: 120) { $0.contains("pair 21/100") && $0.contains("20 of 100 reviewed") }

        // The verdicts are the store's: 14 (the skips are not verdicts).
        let out = t.workDir + "/flags.jsonl"
        #expect(try Tmux.spawnAndWait([ExplorerEndToEndTests.binary, "flags", "export", "--store", store, "--format", "jsonl", "--out", out],
                                      stdout: "/dev/null", stderr: "/dev/null") == 0)
        let verdicts = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(verdicts.count == 14 && verdicts.allSatisfy { $0.contains("\"annotator\":\"reviewer\"") })

        // Leave the queue, filter the gallery, export what the filter shows.
        try t.keys("Escape")
        _ = try t.waitFor("the browser", timeout: 10) { !$0.contains("review ·") && $0.contains("gallery ·") }
        try t.keys("/")
        try t.type("lumessa")
        try t.keys("Enter", "E")
        screen = try t.waitFor("the export", timeout: 20) { $0.contains("wrote ") && $0.contains(" samples to ") }
        let files = try FileManager.default.contentsOfDirectory(atPath: t.workDir).filter { $0.hasPrefix("vitrine-gallery-filtered-") }
        let file = try #require(files.first, "no export in \(t.workDir)")
        let rows = try String(contentsOfFile: t.workDir + "/" + file, encoding: .utf8).split(separator: "\n")
        #expect(rows.count > 1 && rows.dropFirst().allSatisfy { $0.lowercased().contains("lumessa") })
        #expect(screen.contains("wrote \(rows.count - 1) samples"))
        try t.keys("q")
        _ = try t.waitFor(text: "EXIT:0", timeout: 10)
    }
}
