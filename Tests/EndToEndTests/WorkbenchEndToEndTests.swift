import Foundation
import Testing

/// The evaluation dashboard and the compare mode in a real terminal, with the release binary on
/// SampleData: their figures are exactly those of `vitrine compare` (the same rankings, the same
/// official scores, the same test and seeds), and drill-down reaches a query's results and back.
@Suite struct WorkbenchEndToEndTests {
    @Test func dashboardAndCompareAgreeWithTheCommandLine() throws {
        let weights = RetrievalEndToEndTests.weights
        try #require(FileManager.default.fileExists(atPath: weights), "the towers are missing: run `make weights` (looked in \(weights))")
        let environment = ["COLORTERM": "truecolor", "VITRINE_CACHE": RetrievalEndToEndTests.cache, "VITRINE_WEIGHTS": weights]
        // What the command line says of the zero-shot towers against BM25 on the dev split.
        let out = NSTemporaryDirectory() + "vitrine-workbench-e2e-\(getpid()).json"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let argv = ["/usr/bin/env"] + environment.map { "\($0.key)=\($0.value)" }
            + [ExplorerEndToEndTests.binary, "compare", "zero-shot", "bm25", "--data", ExplorerEndToEndTests.sampleData, "--split", "dev", "--json", "--quiet"]
        #expect(try Tmux.spawnAndWait(argv, stdout: out, stderr: "/dev/null") == 0)
        let cli = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let a = try #require((cli["a"] as? [String: Any])?["mAP10"] as? Double)
        let b = try #require((cli["b"] as? [String: Any])?["mAP10"] as? Double)
        let p = try #require((cli["test"] as? [String: Any])?["pValue"] as? Double)
        let bootstrap = try #require(cli["bootstrap"] as? [String: Any])
        let lower = try #require(bootstrap["lower"] as? Double), upper = try #require(bootstrap["upper"] as? Double)
        let first = try #require((cli["perQuery"] as? [[String: Any]])?.first?["query"] as? String)
        func f(_ x: Double) -> String { String(format: "%.3f", x) }
        func signed(_ x: Double) -> String { (x >= 0 ? "+" : "") + f(x) }

        let t = try Tmux(width: 160, height: 48, environment: environment)
        let command = "cd \(Tmux.quote(t.workDir)) && \(Tmux.quote(ExplorerEndToEndTests.binary)) explore --data "
            + "\(Tmux.quote(ExplorerEndToEndTests.sampleData)) --flags \(Tmux.quote(t.workDir + "/flags.sqlite")); echo \"EXIT:$?\""
        try t.type(command)
        try t.keys("Enter")
        _ = try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") }
        // The dev split (150 queries; the screens score the query split the browser shows).
        try t.keys("Tab", "Tab")
        _ = try t.waitFor("the dev split", timeout: 20) { $0.contains("dev ·") }
        // Both screens need search: D until the index is open.
        let deadline = Date().addingTimeInterval(300)
        repeat {
            try t.keys("D")
            // While the index is built D says so in the footer (until search opens and clears it).
            if (try? t.waitFor("the dashboard", timeout: 5) { $0.contains("official metrics") }) != nil { break }
        } while Date() < deadline

        // The dashboard: the model's mAP@10 and BM25's as the command line has them, all four rankers scored.
        var screen = try t.waitFor("every ranker scored", timeout: 180) {
            $0.contains("mAP@10") && $0.contains("random ") && !$0.contains("…  ") && $0.contains("150 queries") && !$0.contains("decoding")
        }
        let rows = screen.split(separator: "\n").map(String.init)
        let modelRow = try #require(rows.first { $0.contains("│ zero-shot") })
        let bm25Row = try #require(rows.first { $0.contains("│ caption BM25") })
        #expect(modelRow.contains(" " + f(a) + " "), "\(modelRow) against \(a)")
        #expect(bm25Row.contains(" " + f(b) + " "), "\(bm25Row) against \(b)")
        #expect(screen.contains("AP@10 over queries") && screen.contains("per-label AP@10") && screen.contains("precision@k"))
        // Drill into the lowest bar with queries, open its first query's results, come back.
        try t.keys("Enter")
        screen = try t.waitFor("the bar's queries", timeout: 10) { $0.contains("queries · AP@10 ") }
        try t.keys("Enter")
        screen = try t.waitFor("the query's results", timeout: 30) { $0.contains("results ·") && $0.contains("query sample") }
        try t.keys("D")
        _ = try t.waitFor("the dashboard again, as it was", timeout: 10) { $0.contains("queries · AP@10 ") }
        try t.keys("q")
        _ = try t.waitFor("the results", timeout: 10) { !$0.contains("official metrics") && $0.contains("results ·") }

        // The compare mode against BM25 (the list: no checkpoints here, then the baselines).
        try t.keys("C")
        _ = try t.waitFor("the list of rankers", timeout: 20) { $0.contains("choose B") && $0.contains("bm25") }
        try t.keys("Enter")
        screen = try t.waitFor("the comparison", timeout: 180) { $0.contains("ΔmAP@10") }
        #expect(screen.contains("A zero-shot  mAP@10 " + f(a)) && screen.contains("B bm25  mAP@10 " + f(b)), "\(screen)")
        #expect(screen.contains("ΔmAP@10 " + signed(b - a)) || screen.contains("ΔmAP@10 " + signed((b - a) * (1 + 1e-12))))
        #expect(screen.contains("p = " + f(p)) && screen.contains("95% CI [" + signed(lower) + ", " + signed(upper) + "]"), "\(screen)")
        #expect(screen.contains("query 1/150 by ΔAP · " + first), "\(screen)")
        try t.keys("n")
        _ = try t.waitFor("the next query", timeout: 10) { $0.contains("query 2/150 by ΔAP") }
        try t.keys("Escape")
        _ = try t.waitFor("the results again", timeout: 10) { !$0.contains("ΔmAP@10") && $0.contains("results ·") }
        try t.keys("q")
        _ = try t.waitFor(text: "EXIT:0", timeout: 10)
    }
}
