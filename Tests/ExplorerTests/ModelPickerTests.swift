import Capture
import Explorer
import Foundation
import Retrieval
import Testing
import Training

/// Which model searches, chosen by the user (issue 13 point 6): the picker lists zero-shot and
/// the checkpoints of the runs folder with their step, dev mAP@10 and date; choosing one
/// re-indexes in the background; the header always names the model in use.
@Suite struct ModelPickerTests {
    let driver = Driver()

    static let utc = TimeZone(identifier: "UTC")!
    static let jan = Date(timeIntervalSince1970: 1_736_000_000)   // 2025-01-04 14:13 UTC

    /// A runs folder with two run folders (one fine-tune with best and latest, one pretraining run
    /// with only latest and no evaluation), an empty run folder and a stray file.
    static func runsFolder(_ name: String) throws -> String {
        let fm = FileManager.default
        let root = NSTemporaryDirectory() + "vitrine-model-picker-\(getpid())/\(name)"
        try? fm.removeItem(atPath: root)
        func run(_ folder: String, manifest: CheckpointManifest?, files: [String: Date]) throws {
            let dir = root + "/" + folder
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            if let manifest { try JSONEncoder().encode(manifest).write(to: URL(fileURLWithPath: dir + "/training.json")) }
            for (file, date) in files {
                try Data("not a real checkpoint".utf8).write(to: URL(fileURLWithPath: dir + "/" + file))
                try fm.setAttributes([.modificationDate: date], ofItemAtPath: dir + "/" + file)
            }
        }
        try run("finetune-20250104-141300", manifest: CheckpointManifest(latestStep: 400, bestStep: 300, bestMAP10: 0.412, steps: [300, 400]),
                files: ["best.safetensors": jan, "latest.safetensors": jan.addingTimeInterval(60)])
        try run("pretrain-20250101-090000", manifest: CheckpointManifest(latestStep: 50, bestStep: nil, bestMAP10: nil, steps: [50]),
                files: ["latest.safetensors": jan.addingTimeInterval(-86_400 * 3)])
        try run("empty", manifest: nil, files: [:])
        try Data().write(to: URL(fileURLWithPath: root + "/notes.txt"))
        return root
    }

    @Test func theScanListsZeroShotThenEveryCheckpointWithStepMAPAndDate() throws {
        let root = try Self.runsFolder("scan")
        let extra = NSTemporaryDirectory() + "vitrine-model-picker-\(getpid())/given.safetensors"
        try Data("x".utf8).write(to: URL(fileURLWithPath: extra))
        let entries = ModelScan.scan(runsDirectory: root, extra: extra)
        #expect(entries.map(\.name) == ["zero-shot", "vitrine-model-picker-\(getpid())/given",
                                        "finetune-20250104-141300/best", "finetune-20250104-141300/latest",
                                        "pretrain-20250101-090000/latest"])
        #expect(entries[0] == .zeroShot)
        #expect(entries[1].note == "--model" && entries[1].choice == .checkpoint(extra))
        let best = entries[2], latest = entries[3], pretrain = entries[4]
        #expect(best.choice == .checkpoint(root + "/finetune-20250104-141300/best.safetensors"))
        #expect(best.step == 300 && best.devMAP10 == 0.412 && best.modified == Self.jan)
        #expect(latest.step == 400 && latest.devMAP10 == nil, "the latest is not the best: its mAP is not known")
        #expect(latest.modified == Self.jan.addingTimeInterval(60))
        #expect(pretrain.step == 50 && pretrain.devMAP10 == nil)
        // A folder that is not there lists zero-shot only.
        #expect(ModelScan.scan(runsDirectory: root + "/nowhere", extra: nil) == [.zeroShot])
        // A real checkpoint without a run folder's manifest: the step its own metadata records.
        var config = CaptureConfig()
        config.hidden = 16; config.heads = 2; config.intermediate = 32; config.vocabSize = 50; config.maxPositions = 16
        config.textLayers = 1; config.imageLayers = 1; config.coLayers = 1; config.crossLayers = 1
        config.clrDim = 8; config.fusedDim = 8; config.regionFeatureDim = 12; config.imageTokens = 5; config.maxTextLength = 8
        let identity = ComponentIdentity(name: "test", sha256: String(repeating: "ab", count: 32))
        try Checkpoint.save(CaptureModel(config: config), to: extra,
                            metadata: CheckpointMetadata(config: config, tokenizer: identity, backbone: identity, step: 1234, data: "toy"))
        #expect(ModelScan.scan(runsDirectory: root, extra: extra)[1].step == 1234)
    }

    @Test func mOpensThePickerWhichScansOffTheUIThread() throws {
        var s = Driver.state()
        s.training.settings.runsDirectory = "/runs"
        let effects = Fixture.key(&s, .char("M"))
        #expect(effects == [.training(.scanModels(runsDirectory: "/runs", extra: nil))])
        #expect(s.context == .modelPicker && s.training.picker?.entries == nil)
        // Its keys are its own: q closes it rather than quitting.
        _ = Fixture.key(&s, .char("q"))
        #expect(!s.quitting && s.training.picker == nil && s.context == .browser)
    }

    @Test func choosingAnEntryReindexesWithItAndZeroShotCanBeChosenBack() throws {
        let root = try Self.runsFolder("choose")
        var s = Driver.state(width: 160, height: 48)
        driver.search(&s, "aurelle")
        let generation = s.retrieval.results.generation
        _ = Fixture.key(&s, .char("M"))
        _ = update(&s, .training(.modelsFound(ModelScan.scan(runsDirectory: root, extra: nil))))
        #expect(s.training.picker?.selected == 0, "it opens on the model in use")
        _ = Fixture.key(&s, .char("j"))
        let chosen = Fixture.key(&s, .enter)
        let best = root + "/finetune-20250104-141300/best.safetensors"
        #expect(chosen == [.training(.reindex(model: .checkpoint(best)))])
        #expect(s.training.picker == nil && s.training.model.current == .zeroShot, "nothing changes until it is indexed")
        #expect(view(s).textLines()[0].contains("model: zero-shot → finetune-20250104-141300/best…"))
        // Indexed: the shown query is asked again with the new model, which the header names.
        let refresh = update(&s, .training(.reindexed(error: nil)))
        #expect(refresh.contains { if case .retrieval(.search(let g, _, _)) = $0 { return g > generation } else { return false } })
        #expect(s.training.model.current.choice == .checkpoint(best))
        #expect(view(s).textLines()[0].contains("model: finetune-20250104-141300/best (step 300)"))
        // A run started now fine-tunes the model that searches: the dialog says so, the run gets it.
        #expect(s.training.settings.initFrom == best)
        _ = Fixture.key(&s, .char("t"))
        #expect(view(s).textLines().joined().contains("From    finetune-20250104-141300/best, the model that searches"))
        _ = Fixture.key(&s, .escape)

        // Back to zero-shot: the picker marks the model in use and opens on it.
        _ = Fixture.key(&s, .char("M"))
        _ = update(&s, .training(.modelsFound(ModelScan.scan(runsDirectory: root, extra: nil))))
        #expect(s.training.picker?.selected == 1)
        #expect(Fixture.key(&s, .enter).isEmpty, "the model in use is not indexed again")
        _ = Fixture.key(&s, .char("M"))
        _ = update(&s, .training(.modelsFound(ModelScan.scan(runsDirectory: root, extra: nil))))
        _ = Fixture.key(&s, .char("k"))
        #expect(Fixture.key(&s, .enter) == [.training(.reindex(model: .zeroShot))])
        _ = update(&s, .training(.reindexed(error: nil)))
        #expect(s.training.model.current == .zeroShot)
        #expect(s.training.settings.initFrom == nil, "a run starts from the pretrained towers again")
        _ = Fixture.key(&s, .char("t"))
        #expect(view(s).textLines().joined().contains("From    the pretrained towers, as zero-shot searches"))
        _ = Fixture.key(&s, .escape)
        // Esc closes without a change.
        _ = Fixture.key(&s, .char("M"))
        #expect(Fixture.key(&s, .escape).isEmpty && s.training.picker == nil)
    }

    @Test func aFailedSwitchKeepsTheModelInUse() {
        var s = Driver.state()
        _ = Fixture.key(&s, .char("M"))
        _ = update(&s, .training(.modelsFound([.zeroShot, ModelEntry(checkpoint: "/r/a/best.safetensors", step: 3)])))
        _ = Fixture.key(&s, .down)
        #expect(Fixture.key(&s, .enter) == [.training(.reindex(model: .checkpoint("/r/a/best.safetensors")))])
        _ = update(&s, .training(.reindexed(error: "re-indexing with /r/a/best.safetensors failed: truncated")))
        #expect(s.training.model.current == .zeroShot && s.training.model.switching == nil)
        #expect(s.training.model.lastError?.contains("truncated") == true)
        #expect(s.status?.role == .error && s.status?.text.contains("truncated") == true, "the failure is said")
    }

    @Test func theOfferNamesBothModelsAndUAcceptsIt() throws {
        var s = Driver.state(width: 120, height: 40)
        s.training.model.current = ModelEntry(checkpoint: "/runs/old/best.safetensors", step: 100, devMAP10: 0.301)
        _ = Fixture.key(&s, .char("t"))
        // Pretraining draws no pairs from dev: every dev query measures the run. (A fine-tuning
        // run holds out the dev queries that gave it no pairs; the fixture's two both give pairs.)
        s.training.dialog?.mode = .pretrain
        _ = Fixture.key(&s, .enter)
        _ = update(&s, .training(.event(.evaluation(EvaluationReport(step: 20, devMAP10: 0.35, bestMAP10: 0.35, improved: true)))))
        let end = update(&s, .training(.event(.finished(TrainingSummary(outcome: .completed, steps: 40, wallSeconds: 9,
                                                                           devMAP10Before: 0.3, devMAP10After: 0.35,
                                                                           checkpoint: "/runs/new/best.safetensors")))))
        // Both models are scored as search ranks on the dev queries that measured the run (the
        // run's own 0.350 starts from its own untrained model).
        let dev = "dev"
        let held = ["200001", "200002"]
        #expect(end == [.workbench(.evaluateQueries(generation: 1, split: dev, queryIDs: held, ranker: .session)),
                        .workbench(.evaluateQueries(generation: 1, split: dev, queryIDs: held,
                                                    ranker: .model(.checkpoint("/runs/new/best.safetensors"))))])
        var text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("New model new/best (step 20) · scoring it and old/best on dev"), "\(text)")
        let engine = FakeRetrieval(dataset: Fixture.dataset)
        let rankings = try held.map { id in
            let answer = try engine.search(.sample(id: id, mode: .pair), top: 100, filter: .none, isCancelled: { false })
            return Ranking(queryID: id, galleryIDs: answer.matches.map(\.sampleID))
        }
        let scored = try RankerEvaluation.score(ranker: .session, title: "old/best", split: dev, rankings: rankings,
                                                groundTruth: explorerGroundTruth(of: Fixture.dataset))
        _ = update(&s, .workbench(.evaluated(generation: 1, .session, .success(scored))))
        _ = update(&s, .workbench(.evaluated(generation: 1, .model(.checkpoint("/runs/new/best.safetensors")), .success(scored))))
        text = view(s).textLines().joined(separator: "\n")
        let map = String(format: "%.3f", scored.meanAP10)
        #expect(text.contains("New model new/best (step 20) · dev mAP@10 \(map) vs \(map) now (old/best), 2 dev queries"), "\(text)")
        #expect(text.contains("U use it"))
        #expect(view(s).textLines()[0].contains("model: old/best (step 100)"), "nothing changes until the user accepts")
        #expect(Fixture.key(&s, .char("U")) == [.training(.reindex(model: .checkpoint("/runs/new/best.safetensors")))])
    }

    @Test func anOfferThatCannotBeScoredSaysWhyAndWithoutSearchShowsTheRunsFigure() throws {
        func finished(_ s: inout ExplorerState, mode: TrainingMode = .pretrain) -> [Effect] {
            _ = Fixture.key(&s, .char("t"))
            s.training.dialog?.mode = mode
            _ = Fixture.key(&s, .enter)
            return update(&s, .training(.event(.finished(TrainingSummary(outcome: .completed, steps: 40, wallSeconds: 9,
                                                                         devMAP10Before: 0.3, devMAP10After: 0.35,
                                                                         checkpoint: "/runs/new/best.safetensors")))))
        }
        var s = Driver.state(width: 120, height: 40)
        #expect(finished(&s).count == 2)
        _ = update(&s, .workbench(.evaluated(generation: 1, .model(.checkpoint("/runs/new/best.safetensors")),
                                             .failure(LoadFailure("cannot open the checkpoint: truncated")))))
        #expect(view(s).textLines().joined().contains("could not score it against zero-shot: cannot open the checkpoint: truncated"))
        var offline = Driver.state(width: 120, height: 40)
        offline.retrieval.engine = .failed("no weights")
        #expect(finished(&offline).isEmpty)
        #expect(view(offline).textLines().joined().contains("New model new/best · dev mAP@10 0.350 · now zero-shot"))
        // A fine-tuning run that drew pairs from every dev query leaves none to compare on: the run's figure.
        var noneHeld = Driver.state(width: 120, height: 40)
        let options = TrainingOptions.preset(.sample, mode: .finetune)
        try #require(["200001", "200002"].allSatisfy(options.isPairQuery(id:)))
        #expect(finished(&noneHeld, mode: .finetune).isEmpty)
        #expect(view(noneHeld).textLines().joined().contains("New model new/best · dev mAP@10 0.350 · now zero-shot"))
    }

    @Test func theHeaderNamesTheModelAt80And160ColumnsAndCleansNamesFromDisk() {
        for width in [80, 160] {
            var s = Driver.state(width: width, height: 24)
            #expect(view(s).textLines()[0].contains("model: zero-shot"), "\(width) columns")
            s.training.model.current = ModelEntry(checkpoint: "/runs/finetune-1/best.safetensors", step: 400)
            let header = view(s).textLines()[0]
            #expect(header.contains(width >= 160 ? "model: finetune-1/best (step 400)" : "finetune-1/best"), "\(width): \(header)")
            // A hostile folder name reaches the terminal inert.
            s.training.model.current = ModelEntry(checkpoint: "/runs/evil\u{1B}]52;c;aGk=\u{07}/best.safetensors")
            let frame = view(s)
            #expect(!frame.textLines().joined().unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        }
        // Without search there is no model to name.
        let browse = Fixture.state(width: 160, height: 24)
        #expect(!view(browse).textLines()[0].contains("model"))
    }

    static func pickerState(width: Int, height: Int) -> ExplorerState {
        var s = Driver.state(width: width, height: height)
        s.training.settings.runsDirectory = "/home/ana/vitrine-runs"
        s.training.model.current = ModelEntry(checkpoint: "/home/ana/vitrine-runs/finetune-20250104-141300/best.safetensors", step: 300)
        _ = Fixture.key(&s, .char("M"))
        let entries: [ModelEntry] = [
            .zeroShot,
            ModelEntry(checkpoint: "/home/ana/ckpt/given.safetensors", modified: jan.addingTimeInterval(-86_400 * 30), note: "--model"),
            ModelEntry(checkpoint: "/home/ana/vitrine-runs/finetune-20250104-141300/best.safetensors", step: 300, devMAP10: 0.412, modified: jan),
            ModelEntry(checkpoint: "/home/ana/vitrine-runs/finetune-20250104-141300/latest.safetensors", step: 400, modified: jan.addingTimeInterval(60)),
            ModelEntry(checkpoint: "/home/ana/vitrine-runs/pretrain-20250101-090000/latest.safetensors", step: 50, modified: jan.addingTimeInterval(-86_400 * 3)),
        ]
        _ = update(&s, .training(.modelsFound(entries)))
        s.training.picker?.timeZone = utc
        _ = Fixture.key(&s, .down)
        return s
    }

    @Test func pickerSnapshot80x24() {
        Snapshot.check(view(Self.pickerState(width: 80, height: 24)), "model-picker-80x24")
    }

    @Test func pickerSnapshot160x48() {
        Snapshot.check(view(Self.pickerState(width: 160, height: 48)), "model-picker-160x48")
    }
}
