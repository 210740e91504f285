import Foundation
import Testing

/// Issue 15 in the real binary: `vitrine explore --follow DIR` streams a run that another process
/// writes (here a real `vitrine train --preset tiny` started beside the explorer, as the PyTorch
/// twin would be) and offers its best model when it ends; and `vitrine train-probe` writes a
/// gradient for every tensor of a checkpoint.
@Suite struct FollowRunEndToEndTests {
    static var binary: String { ExplorerEndToEndTests.binary }
    static let sampleData = ExplorerEndToEndTests.sampleData

    /// The scale-out twin's Python (`make test` sets it to .setup/scaleout-venv/bin/python).
    static let twinPython = ProcessInfo.processInfo.environment["VITRINE_SCALEOUT_PYTHON"]

    @Test func followsARunStartedElsewhereAndRefreshesResultsWhenItEnds() throws {
        try follow(label: "fine-tune · tiny", steps: 120) { run, cache, weights, workDir in
            try Tmux.spawn([Self.binary, "train", "--preset", "tiny", "--steps", "120", "--throttle", "0.5",
                            "--data", Self.sampleData, "--out", run, "--no-flags"],
                           environment: ["VITRINE_CACHE": cache, "VITRINE_WEIGHTS": weights],
                           stdout: workDir + "/train.out", stderr: workDir + "/train.err", newProcessGroup: true)
        }
    }

    /// Issue 15's test 5: the run is the PyTorch twin's (`python -m vitrine_scaleout train`, the
    /// program `torchrun` starts on each rank), and its best model re-indexes the gallery.
    @Test(.enabled(if: twinPython != nil, "VITRINE_SCALEOUT_PYTHON is not set (make test sets it)"))
    func followsAPyTorchTwinRun() throws {
        let python = try #require(Self.twinPython)
        let scaleout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scaleout").path
        try follow(label: "fine-tune · tiny", steps: 60) { run, cache, weights, workDir in
            // The twin reads Vitrine's feature cache (its default), as on a cluster: `vitrine
            // features` fills what the run reads (the gallery's are there from the index).
            let filled = Tmux.wait(try Tmux.spawn([Self.binary, "features", "--data", Self.sampleData, "--split", "dev",
                                                   "--split", "gallery", "--quiet"],
                                                  environment: ["VITRINE_CACHE": cache, "VITRINE_WEIGHTS": weights],
                                                  stdout: workDir + "/features.out", stderr: workDir + "/features.err"))
            try #require(filled == 0, "vitrine features failed")
            return try Tmux.spawn([python, "-m", "vitrine_scaleout", "train", "--preset", "tiny", "--steps", "60",
                            "--data", Self.sampleData, "--out", run, "--no-flags", "--features", "cache", "--quiet"],
                           environment: ["VITRINE_CACHE": cache, "VITRINE_WEIGHTS": weights, "PYTHONPATH": scaleout,
                                         "OMP_NUM_THREADS": "1"],
                           stdout: workDir + "/train.out", stderr: workDir + "/train.err", newProcessGroup: true)
        }
    }

    /// Opens the explorer on a run folder that does not exist yet, starts the run with `start`
    /// (another process), and checks the pane's progress, the pause key's answer, the offer of the
    /// run's best model at its end, the re-index with it, and the run's events.jsonl.
    func follow(label: String, steps: Int,
                start: (_ run: String, _ cache: String, _ weights: String, _ workDir: String) throws -> pid_t) throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build first (make build): \(Self.binary)")
        let weights = RetrievalEndToEndTests.weights, cache = RetrievalEndToEndTests.cache
        try #require(FileManager.default.fileExists(atPath: weights), "the towers are missing: run `make weights` (looked in \(weights))")
        let t = try Tmux(width: 120, height: 40, environment: ["COLORTERM": "truecolor", "VITRINE_CACHE": cache, "VITRINE_WEIGHTS": weights])
        let run = t.workDir + "/ddp-run"
        // The explorer first: the folder does not exist yet, and it says so while it waits.
        try t.type("\(Tmux.quote(Self.binary)) explore --data \(Tmux.quote(Self.sampleData)) --follow \(Tmux.quote(run)) "
                   + "--runs \(Tmux.quote(t.workDir + "/runs")) --flags \(Tmux.quote(t.workDir + "/flags.sqlite")); echo \"EXIT:$?\"")
        try t.keys("Enter")
        _ = try t.waitFor("the pane waiting for the folder", timeout: 20) { screen in
            screen.contains("gallery ·") && screen.contains("following · ddp-run") && screen.contains("does not exist (yet)")
        }
        // A zero-shot search: the results the run's model must refresh.
        try t.keys("Enter")
        _ = try t.waitFor("zero-shot results", timeout: 300) { $0.contains("model zero-shot") && $0.contains("AP@") }

        // The run, in a process of its own (not the explorer's child).
        let trainer = try start(run, cache, weights, t.workDir)
        var trainerDone = false
        defer { if !trainerDone { kill(-trainer, SIGKILL); _ = Tmux.wait(trainer) } }
        let trainerErrors = { (try? String(contentsOfFile: t.workDir + "/train.err", encoding: .utf8)) ?? "" }

        _ = try t.waitFor("the followed run's progress", timeout: 120) { screen in
            screen.contains("following · \(label)") && screen.range(of: #"step \d+/\#(steps)"#, options: .regularExpression) != nil
                && screen.contains("x stop following")
        }
        // `p` does not pretend: the run belongs to another process.
        try t.keys("p")
        _ = try t.waitFor("the pause key's answer", timeout: 10) { $0.contains("belongs to another process") }

        // The end: before/after and the run's best model offered from its folder.
        let offer = try t.waitFor("the run's end and its offer", timeout: 300) { screen in
            screen.contains("finished") && screen.contains("before") && screen.contains("after")
                && screen.contains("New model ddp-run/best") && screen.contains("use it")
        }
        #expect(offer.contains("model: zero-shot"), "nothing changes before the user accepts")
        #expect(Tmux.wait(trainer) == 0, "the run failed: \(trainerErrors())")
        trainerDone = true

        try t.keys("U")
        _ = try t.waitFor("results refreshed with the run's model", timeout: 300) { screen in
            screen.contains("re-indexed") && screen.contains("model: ddp-run/best") && !screen.contains("model zero-shot")
        }
        try t.keys("q")
        try t.waitFor(text: "EXIT:0", timeout: 30)

        // The run's events.jsonl: the lines --json would print, ending with the finished one.
        let lines = try String(contentsOfFile: run + "/events.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.first?.contains("\"event\":\"preparing\"") == true || lines.first?.contains("\"event\":\"started\"") == true)
        #expect(lines.last?.contains("\"event\":\"finished\"") == true && lines.last?.contains("\"outcome\":\"completed\"") == true)
        #expect(lines.filter { $0.contains("\"event\":\"step\"") }.count == steps)
    }

    // MARK: train-probe

    /// A safetensors file of F32 tensors, written by hand (this suite links none of Vitrine's modules).
    static func writeSafetensors(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String], to path: String) throws {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        var data = Data()
        for t in tensors {
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            offset += 4 * t.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json); out.append(data)
        try out.write(to: URL(fileURLWithPath: path))
    }

    /// A safetensors file's header: tensor names and metadata.
    static func readHeader(_ path: String) throws -> (names: Set<String>, metadata: [String: String]) {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        let object = try #require(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8 ..< 8 + length)) as? [String: Any])
        return (Set(object.keys.filter { $0 != "__metadata__" }), object["__metadata__"] as? [String: String] ?? [:])
    }

    @Test func trainProbeWritesAGradientForEveryTensorAndRefusesABadBatch() throws {
        let weights = RetrievalEndToEndTests.weights, cache = RetrievalEndToEndTests.cache
        try #require(FileManager.default.fileExists(atPath: weights), "the towers are missing: run `make weights` (looked in \(weights))")
        let dir = NSTemporaryDirectory() + "vitrine-probe-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = ["VITRINE_CACHE": cache, "VITRINE_WEIGHTS": weights]
        func vitrine(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
            let pid = try Tmux.spawn([Self.binary] + arguments, environment: env, stdout: dir + "/out", stderr: dir + "/err")
            let status = Tmux.wait(pid)
            return (status, (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? "")
        }
        // A checkpoint: one step of the tiny preset (its own random model; every tensor in the file).
        let trained = try vitrine(["train", "--preset", "tiny", "--steps", "1", "--no-eval",
                                   "--data", Self.sampleData, "--out", dir + "/run"])
        try #require(trained.status == 0, "\(trained.stderr)")
        let checkpoint = dir + "/run/latest.safetensors"

        // A pretraining batch of 2 rows of 5 tokens, the default grid of 49 cells of 320.
        let (B, L, cells, D) = (2, 5, 49, 320)
        var chosen = [Float](repeating: 0, count: B * cells); chosen[3] = 1; chosen[cells + 10] = 1
        let features = (0 ..< B * cells * D).map { Float(($0 * 7919) % 1000) / 1000 }
        var masked = features
        for i in 0 ..< D { masked[3 * D + i] = 0; masked[(cells + 10) * D + i] = 0 }
        let batch: [(name: String, shape: [Int], values: [Float])] = [
            ("ids", [B, L], [0, 500, 250, 700, 2, 0, 900, 2, 1, 1]),
            ("attention_mask", [B, L], [1, 1, 1, 1, 1, 1, 1, 1, 0, 0]),
            ("mlm_targets", [B, L], [-1, 612, -1, -1, -1, -1, -1, -1, -1, -1]),
            ("features", [B, cells, D], masked), ("mrm_targets", [B, cells, D], features), ("mrm_chosen", [B, cells], chosen),
        ]
        let objective = #"{"mlm": 1, "mrm": 1, "clr": 1, "robust": 0, "mPos": 0.3, "mNeg": 1.2, "temperature": 0.07}"#
        try Self.writeSafetensors(batch, metadata: ["mode": "pretrain", "objective": objective], to: dir + "/batch.safetensors")
        let probed = try vitrine(["train-probe", "--model", checkpoint, "--batch", dir + "/batch.safetensors", "--out", dir + "/grads.safetensors"])
        try #require(probed.status == 0, "\(probed.stderr)")
        let model = try Self.readHeader(checkpoint), grads = try Self.readHeader(dir + "/grads.safetensors")
        #expect(grads.names == Set(model.names.map { "grad." + $0 }), "a gradient for every tensor of the checkpoint")
        let lossText = try #require(grads.metadata["losses"])
        let losses = try #require(try JSONSerialization.jsonObject(with: Data(lossText.utf8)) as? [String: Double])
        #expect(Set(losses.keys) == ["mlm", "mrm", "clr", "total"])
        #expect(abs(losses["total"]! - (losses["mlm"]! + losses["mrm"]! + losses["clr"]!)) < 1e-3)

        // Hidden from the help, like serve-session.
        let help = try vitrine(["--help"])
        let helpText = (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? ""
        #expect(help.status == 0 && !helpText.contains("train-probe") && helpText.contains("train"))

        // A NaN in the features: refused, with the tensor named, and nothing written.
        var bad = batch
        bad[3].values[17] = .nan
        try Self.writeSafetensors(bad, metadata: ["mode": "pretrain", "objective": objective], to: dir + "/bad.safetensors")
        let refused = try vitrine(["train-probe", "--model", checkpoint, "--batch", dir + "/bad.safetensors", "--out", dir + "/bad-grads.safetensors"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("\"features\"") && refused.stderr.contains("not finite"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/bad-grads.safetensors"))
    }
}
