import Foundation
import Testing

/// Training from the real explorer (issue 5): search, press `t`, start a short run (the `tiny`
/// preset: a small random model, seconds on 2 cores), watch its progress stream into the pane,
/// accept the model it offers (`U`) and see the gallery re-indexed and the results refreshed
/// with it, then choose zero-shot again in the model picker (`M`).
@Suite struct TrainingEndToEndTests {
    static var binary: String { ExplorerEndToEndTests.binary }
    static let sampleData = ExplorerEndToEndTests.sampleData

    @Test func shortRunStreamsIntoThePaneAndRefreshesResults() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build first (make build): \(Self.binary)")
        let weights = RetrievalEndToEndTests.weights
        try #require(FileManager.default.fileExists(atPath: weights), "the towers are missing: run `make weights` (looked in \(weights))")
        let t = try Tmux(width: 120, height: 40, environment: ["COLORTERM": "truecolor", "VITRINE_CACHE": RetrievalEndToEndTests.cache,
                                                               "VITRINE_WEIGHTS": weights])
        let runs = t.workDir + "/runs"
        let store = t.workDir + "/flags.sqlite"
        try t.type("\(Tmux.quote(Self.binary)) explore --data \(Tmux.quote(Self.sampleData)) --runs \(Tmux.quote(runs)) --flags \(Tmux.quote(store)); echo \"EXIT:$?\"")
        try t.keys("Enter")
        _ = try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") }

        // A zero-shot search first: the results the finished run must refresh.
        try t.keys("Enter")
        _ = try t.waitFor("zero-shot results", timeout: 300) { $0.contains("model zero-shot") && $0.contains("AP@") }

        // The dialog: Tab to the preset, ← wraps from "sample" to "tiny", Enter starts.
        try t.keys("t")
        _ = try t.waitFor("the training dialog", timeout: 10) { $0.contains("Preset") || $0.contains("preset") }
        try t.keys("Tab", "Left")
        _ = try t.waitFor("the tiny preset chosen", timeout: 5) { $0.contains("tiny") }
        try t.keys("Enter")

        // Progress streams into the pane: a step counter and a loss line.
        _ = try t.waitFor("progress in the training pane", timeout: 120) { screen in
            screen.contains("training ·") && screen.range(of: #"step \d+/\d+"#, options: .regularExpression) != nil
        }
        // The end: before/after dev mAP and the new model offered, not imposed (issue 13 point 6):
        // the header still names zero-shot until `U` accepts it.
        let offer = try t.waitFor("the run's end and its offer", timeout: 300) { screen in
            screen.contains("before") && screen.contains("after") && screen.contains("New model") && screen.contains("use it")
        }
        #expect(offer.contains("model: zero-shot") && offer.contains("model zero-shot"), "nothing changes before the user accepts")
        // The offer scores both models as search ranks on the dev queries that measured the run
        // (a `sample` fine-tuning run draws pairs from half of them; `tiny` from none): here all 150,
        // so the zero-shot figure is the one `vitrine eval --zero-shot --split dev` prints (0.7829).
        let scored = try t.waitFor("both models scored on dev", timeout: 300) { screen in
            screen.range(of: #"dev mAP@10 \d\.\d{3} vs \d\.\d{3} now \(zero-shot\), \d+ dev queries"#,
                         options: .regularExpression) != nil
        }
        #expect(scored.contains("vs 0.783 now (zero-shot), 150 dev queries"), "\(scored)")
        try t.keys("U")
        // Accepted: the gallery re-indexed with the new model and the results asked again with it
        // (the results and the header no longer say zero-shot).
        let end = try t.waitFor("refreshed results with the new model", timeout: 300) { screen in
            screen.contains("re-indexed") && !screen.contains("model zero-shot") && screen.contains("model ")
                && screen.contains("model: ") && screen.contains("/best")
        }
        #expect(end.contains("dev mAP@10"))

        // The model picker (`M`) lists zero-shot and the run's checkpoints; choosing zero-shot
        // re-indexes with the towers again.
        try t.keys("M")
        _ = try t.waitFor("the model picker with the run's checkpoints", timeout: 30) { screen in
            screen.contains("Model that searches") && screen.contains("zero-shot") && screen.contains("/best") && screen.contains("/latest")
        }
        try t.keys("k", "k", "Enter")
        _ = try t.waitFor("zero-shot results again", timeout: 300) { screen in
            screen.contains("model: zero-shot") && screen.contains("model zero-shot")
        }
        try t.keys("q")
        try t.waitFor(text: "EXIT:0", timeout: 30)

        // The run left its folder with a loadable last checkpoint and its log.
        let folders = try FileManager.default.contentsOfDirectory(atPath: runs)
        #expect(folders.count == 1, "expected one run folder in \(runs), got \(folders)")
        let files = try FileManager.default.contentsOfDirectory(atPath: runs + "/" + (folders.first ?? ""))
        #expect(files.contains { $0.hasSuffix(".safetensors") }, "no checkpoint in the run folder: \(files)")
        #expect(files.contains("train.log"))
    }
}
