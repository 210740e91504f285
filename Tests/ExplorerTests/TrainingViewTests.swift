import Explorer
import Foundation
import Testing
import Training

/// The training pane and dialog drawn into frames: sparklines, widths, ASCII, snapshots.
@Suite struct TrainingViewTests {
    static func pane(_ s: TrainingUIState, width: Int, height: Int, unicode: Bool = true) -> Frame {
        var frame = Frame(width: width, height: height)
        renderTrainingPane(s, in: Rect(x: 0, y: 0, width: width, height: height), unicode: unicode, frame: &frame)
        return frame
    }

    /// A run at step 24 of 40, evaluated twice.
    static func midRun() -> TrainingUIState {
        var s = TrainingPaneTests.running()
        for n in 1...24 {
            let x = Double(n)
            _ = updateTraining(&s, .event(TrainingPaneTests.step(n, total: 3.0 * (1.0 / (1 + x * 0.2)) + 0.1 * sin(x), robust: 0.6 - x * 0.01)))
        }
        _ = updateTraining(&s, .event(.evaluation(EvaluationReport(step: 10, devMAP10: 0.312, bestMAP10: 0.312, improved: true))))
        _ = updateTraining(&s, .event(.evaluation(EvaluationReport(step: 20, devMAP10: 0.351, bestMAP10: 0.351, improved: true))))
        return s
    }

    static func finished() -> TrainingUIState {
        var s = midRun()
        let summary = TrainingSummary(outcome: .completed, steps: 40, wallSeconds: 131, devMAP10Before: 0.284, devMAP10After: 0.402,
                                      checkpoint: "/runs/finetune-1/best.safetensors")
        _ = updateTraining(&s, .event(.finished(summary)))
        _ = updateTraining(&s, .command(.useNewModel))
        _ = updateTraining(&s, .reindexed(error: nil))
        return s
    }

    @Test func sparklineSpansTheLevels() {
        #expect(Sparkline.render([1, 2, 3, 4, 5, 6, 7, 8], width: 8, unicode: true) == "▁▂▃▄▅▆▇█")
        #expect(Sparkline.render([8, 1], width: 8, unicode: true) == "█▁", "fewer values than columns: one column each")
        #expect(Sparkline.render([1, 2, 3, 4, 5, 6, 7, 8], width: 8, unicode: false) == "_.-~=+*#")
        #expect(Sparkline.render([5, 5, 5], width: 3, unicode: true) == "▄▄▄", "a flat curve sits in the middle")
        #expect(Sparkline.render([1, .nan, 3], width: 3, unicode: true) == "▁!█", "a diverged value shows")
        #expect(Sparkline.render([], width: 5, unicode: true) == "")
        #expect(Sparkline.render([1, 2], width: 0, unicode: true) == "")
    }

    @Test func sparklineAveragesLongRunsIntoTheWidth() {
        // 100 values rising then falling, in 10 columns: the shape survives.
        let values = (0..<100).map { i in Double(i < 50 ? i : 99 - i) }
        let line = Sparkline.render(values, width: 10, unicode: true)
        #expect(line.count == 10)
        #expect(line.first == "▁" && line.last == "▁")
        #expect(line.contains("█"))
    }

    @Test func runningPane() {
        let frame = Self.pane(Self.midRun(), width: 60, height: 12)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("step 24/40"))
        #expect(text.contains("60%"))
        #expect(text.contains("lr 2.0e-04"))
        #expect(text.contains("40.0 samples/s"))
        #expect(text.contains("eta 6s"))
        #expect(text.contains("dev mAP@10 0.351"))
        #expect(text.contains("best 0.351 (step 20)"))
        #expect(text.contains("running"))
        #expect(text.contains("p pause"))
        #expect(text.contains("▁") || text.contains("█"), "loss sparklines")
        Snapshot.check(frame, "training-pane-running-60x12")
    }

    /// Before the first step, the pane shows the features being prepared (a cold cache takes a while).
    @Test func preparingPaneShowsFeatureProgress() {
        var s = TrainingUIState(settings: TrainingSettings(dataPath: "/data/SampleData", runsDirectory: "/runs"))
        _ = updateTraining(&s, .command(.open))
        _ = updateTraining(&s, .command(.dialogStart))
        _ = updateTraining(&s, .launched(TrainingLaunch(processID: 4242, outputDirectory: "/runs/finetune-1",
                                                        logPath: "/runs/finetune-1/train.log", niceness: 10)))
        var text = Self.pane(s, width: 60, height: 8).textLines().joined(separator: "\n")
        #expect(text.contains("starting vitrine train"))
        _ = updateTraining(&s, .event(.preparing(FeatureProgress(done: 300, total: 894, cached: 250, computed: 50))))
        #expect(s.run?.status == .starting)
        text = Self.pane(s, width: 60, height: 8).textLines().joined(separator: "\n")
        #expect(text.contains("preparing features 300/894 33%"))
        #expect(text.contains("cached 250, computed 50"))
        _ = updateTraining(&s, .event(.started(TrainingPaneTests.plan)))
        text = Self.pane(s, width: 60, height: 8).textLines().joined(separator: "\n")
        #expect(!text.contains("preparing") && text.contains("step 0/40"))
    }

    @Test func pausedAndConfirmingPane() {
        var s = Self.midRun()
        _ = updateTraining(&s, .event(.paused(step: 24)))
        _ = updateTraining(&s, .command(.cancelRun))
        let frame = Self.pane(s, width: 60, height: 12)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("paused"))
        #expect(text.contains("eta paused"))
        #expect(text.contains("Cancel the training run?"))
        #expect(frame.textLines()[10].contains("Cancel the training run?"), "the question sits on the last row")
        Snapshot.check(frame, "training-pane-confirm-60x12")
    }

    @Test func finishedPaneKeepsBeforeAfter() {
        let frame = Self.pane(Self.finished(), width: 72, height: 12)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("dev mAP@10 before 0.284 → after 0.402 (+0.118)"))
        #expect(text.contains("Gallery re-indexed with best.safetensors"))
        #expect(text.contains("40 steps in 2m 11s"))
        #expect(text.contains("finished"))
        Snapshot.check(frame, "training-pane-finished-72x12")
    }

    @Test func beforeAfterSurvivesAShortPane() {
        // Four rows inside the border: the least important lines go first.
        let frame = Self.pane(Self.finished(), width: 50, height: 6)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("before 0.284"))
        #expect(text.contains("step 40/40"))
    }

    @Test func failedPaneShowsTheMessageAndTheLog() {
        var s = Self.midRun()
        let exit = TrainingExit(reason: .exited(status: 3), cancelRequested: false,
                                logTail: ["features ready", "fatal: cannot map \u{1B}[31mfeatures.bin"], logPath: "/runs/finetune-1/train.log")
        _ = updateTraining(&s, .exited(exit))
        let frame = Self.pane(s, width: 60, height: 14)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("exited with status 3"))
        #expect(text.contains("failed"))
        #expect(text.contains("␛[31m"), "log text is shown, never sent")
        for cell in frame.cells { #expect(!cell.text.unicodeScalars.contains { $0.value < 0x20 }) }
        Snapshot.check(frame, "training-pane-failed-60x14")
    }

    @Test func asciiPaneHasOnlyASCII() {
        let frame = Self.pane(Self.midRun(), width: 60, height: 12, unicode: false)
        for line in frame.textLines() { #expect(line.unicodeScalars.allSatisfy { $0.isASCII }, "non-ASCII in \(line)") }
        #expect(frame.textLines().joined().contains("[#"), "an ASCII progress bar")
        Snapshot.check(frame, "training-pane-running-60x12-ascii")
    }

    @Test func everyWidthFits() {
        let states = [Self.midRun(), Self.finished()]
        for s in states {
            for width in [1, 10, 39, 40, 41, 55, 80, 133] {
                for height in [1, 2, 3, 5, 12] {
                    let frame = Self.pane(s, width: width, height: height)
                    for line in frame.textLines() { #expect(DisplayWidth.of(line) == width) }
                    if width < 40 || height < 3 {
                        let lines = frame.textLines()
                        #expect(lines.dropFirst().allSatisfy { $0.allSatisfy { $0 == " " } }, "below 40 columns: one line (\(width)x\(height))")
                    }
                }
            }
        }
    }

    @Test func narrowPaneIsOneLine() {
        let frame = Self.pane(Self.midRun(), width: 39, height: 5)
        let line = frame.textLines()[0]
        #expect(line.hasPrefix("train 24/40 60% · loss"))
        Snapshot.check(frame, "training-pane-narrow-39x5")
        let done = Self.pane(Self.finished(), width: 39, height: 1).textLines()[0]
        #expect(done.hasPrefix("train mAP@10 0.284→0.402 (+0.118)"))
    }

    @Test func preferredHeightFollowsTheContent() {
        var s = Self.midRun()
        // Progress, rate, mAP, four losses, the plan and the keys, inside a border.
        #expect(trainingPanePreferredHeight(s, width: 60) == 11)
        #expect(trainingPanePreferredHeight(s, width: 39) == 1)
        _ = updateTraining(&s, .command(.togglePane))
        #expect(trainingPanePreferredHeight(s, width: 60) == 0, "a hidden pane takes no room")
    }

    @Test func noRunDrawsNothing() {
        let s = TrainingUIState(settings: TrainingSettings(dataPath: "/d", runsDirectory: "/r"))
        let frame = Self.pane(s, width: 60, height: 10)
        #expect(frame == Frame(width: 60, height: 10))
    }

    @Test func paneDrawsOnlyInsideItsRect() {
        var frame = Frame(width: 80, height: 20, fill: CellStyle(.dim))
        renderTrainingPane(Self.midRun(), in: Rect(x: 10, y: 5, width: 50, height: 10), unicode: true, frame: &frame)
        for y in 0..<20 {
            for x in 0..<80 where !(10..<60).contains(x) || !(5..<15).contains(y) {
                #expect(frame[x, y].style.role == .dim, "drew outside the rect at \(x),\(y)")
            }
        }
    }

    @Test func dialogSnapshot() {
        var s = TrainingUIState(settings: TrainingSettings(dataPath: "/work/data/Product1M-sample", runsDirectory: "/runs", flagCount: 37))
        _ = updateTraining(&s, .command(.open))
        _ = updateTraining(&s, .command(.dialogNext))
        _ = updateTraining(&s, .command(.dialogNext))
        for c in "250" { _ = updateTraining(&s, .typed(c)) }
        var frame = Frame(width: 80, height: 24)
        renderTrainingDialog(s.dialog!, settings: s.settings, in: Rect(x: 0, y: 0, width: 80, height: 24), unicode: true, frame: &frame)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("Train a model"))
        #expect(text.contains("‹ fine-tune ›"))
        #expect(text.contains("250"))
        #expect(text.contains("/work/data/Product1M-sample"))
        #expect(text.contains("[x] use the annotators' flags as pairs (37 in the store)"))
        #expect(frame.cursor != nil, "the steps field shows a cursor")
        Snapshot.check(frame, "training-dialog-80x24")
    }

    @Test func dialogShowsItsErrorAndFitsASmallScreenInASCII() {
        var s = TrainingUIState(settings: TrainingSettings(dataPath: "", runsDirectory: "/runs"))
        _ = updateTraining(&s, .command(.open))
        _ = updateTraining(&s, .command(.dialogStart))
        var frame = Frame(width: 60, height: 16)
        renderTrainingDialog(s.dialog!, settings: s.settings, in: Rect(x: 0, y: 0, width: 60, height: 16), unicode: false, frame: &frame)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("Data is empty"))
        for line in frame.textLines() { #expect(line.unicodeScalars.allSatisfy { $0.isASCII }, "non-ASCII in \(line)") }
        Snapshot.check(frame, "training-dialog-60x16-ascii")
    }
}
