import Explorer
import Testing
import Training

/// The training pane's update: a run's events, pause, resume, cancel, the end and re-indexing.
@Suite struct TrainingPaneTests {
    static let request = TrainingRunRequest(mode: .finetune, preset: .sample, steps: 40, dataPath: "/data/SampleData",
                                            useFlags: true, runsDirectory: "/runs")

    static let plan = TrainingPlan(mode: .finetune, preset: .sample, totalSteps: 40, batchSize: 16, startStep: 0, seed: 7,
                                   dataset: "SampleData", outputDirectory: "/runs/finetune-1", flagPairs: 12)

    static func step(_ n: Int, total: Double, robust: Double = 0.5) -> TrainingEvent {
        .step(StepReport(step: n, totalSteps: 40, losses: ["total": total, "robust": robust, "clr": 2.0, "mlm": 3.0],
                         learningRate: 2e-4, samplesPerSecond: 40, etaSeconds: Double(40 - n) * 0.4))
    }

    /// A run started from the dialog, launched, with its plan.
    static func running() -> TrainingUIState {
        var s = TrainingUIState(settings: TrainingSettings(dataPath: "/data/SampleData", runsDirectory: "/runs"))
        _ = updateTraining(&s, .command(.open))
        _ = updateTraining(&s, .command(.dialogStart))
        _ = updateTraining(&s, .launched(TrainingLaunch(processID: 4242, outputDirectory: "/runs/finetune-1",
                                                        logPath: "/runs/finetune-1/train.log", niceness: 10)))
        _ = updateTraining(&s, .event(.started(plan)))
        return s
    }

    @Test func stepsAndEvaluationsFillThePane() throws {
        var s = Self.running()
        #expect(s.run?.status == .running && s.run?.totalSteps == 40)
        for n in 1...10 { _ = updateTraining(&s, .event(Self.step(n, total: 4.0 - Double(n) * 0.2))) }
        _ = updateTraining(&s, .event(.evaluation(EvaluationReport(step: 10, devMAP10: 0.31, bestMAP10: 0.31, improved: true))))
        _ = updateTraining(&s, .event(.evaluation(EvaluationReport(step: 20, devMAP10: 0.29, bestMAP10: 0.31, improved: false))))
        let run = try #require(s.run)
        #expect(run.step == 10)
        #expect(run.lossNames == ["total", "robust", "clr", "mlm"])
        #expect(run.losses["total"]?.values.count == 10)
        #expect(abs((run.losses["total"]?.latest ?? 0) - 2.0) < 1e-12)
        #expect(run.learningRate == 2e-4 && run.samplesPerSecond == 40 && run.etaSeconds == 12)
        #expect(run.devMAP10 == 0.29 && run.bestMAP10 == 0.31 && run.bestStep == 10)
    }

    @Test func pauseResumeAndTheirEvents() {
        var s = Self.running()
        #expect(updateTraining(&s, .command(.pauseResume)) == [.pause])
        #expect(s.run?.status == .running, "paused only once the runner says so")
        _ = updateTraining(&s, .event(.paused(step: 3)))
        #expect(s.run?.status == .paused)
        _ = updateTraining(&s, .event(Self.step(4, total: 1)))   // a line already in the pipe
        #expect(s.run?.status == .paused)
        #expect(updateTraining(&s, .command(.pauseResume)) == [.resume])
        _ = updateTraining(&s, .event(.resumed(step: 4)))
        #expect(s.run?.status == .running)
    }

    @Test func cancelAsksFirst() {
        var s = Self.running()
        #expect(updateTraining(&s, .command(.cancelRun)).isEmpty)
        #expect(s.run?.confirmingCancel == true && s.modalContext == .confirm)
        #expect(updateTraining(&s, .command(.keepRunning)).isEmpty)
        #expect(s.run?.confirmingCancel == false && s.run?.status == .running)
        _ = updateTraining(&s, .command(.cancelRun))
        #expect(updateTraining(&s, .command(.confirmCancel)) == [.cancel])
        #expect(s.run?.status == .cancelling)
        #expect(updateTraining(&s, .command(.cancelRun)).isEmpty, "no second question while cancelling")
        #expect(updateTraining(&s, .command(.pauseResume)).isEmpty, "no pause while cancelling")
        // Killed before it could report: a cancelled run, not a failure.
        _ = updateTraining(&s, .exited(TrainingExit(reason: .signalled(signal: 9), cancelRequested: true, logTail: [], logPath: "/l")))
        #expect(s.run?.status == .finished(outcome: .cancelled))
        #expect(!s.isRunActive)
    }

    @Test func aFinishedRunOffersItsModelAndKeepsBeforeAfter() throws {
        var s = Self.running()
        _ = updateTraining(&s, .event(.evaluation(EvaluationReport(step: 0, devMAP10: 0.30, bestMAP10: 0.30, improved: true))))
        for n in 1...40 { _ = updateTraining(&s, .event(Self.step(n, total: 1.0 / Double(n)))) }
        let summary = TrainingSummary(outcome: .completed, steps: 40, wallSeconds: 95, devMAP10Before: 0.30, devMAP10After: 0.42,
                                      checkpoint: "/runs/finetune-1/best.safetensors")
        // Offered, not imposed: the model in use is unchanged until the user accepts.
        #expect(updateTraining(&s, .event(.finished(summary))).isEmpty)
        #expect(s.run?.status == .finished(outcome: .completed))
        #expect(s.run?.reindex == .offered(checkpoint: "/runs/finetune-1/best.safetensors"))
        #expect(s.model.current == .zeroShot && s.model.switching == nil)
        _ = updateTraining(&s, .exited(TrainingExit(reason: .exited(status: 0), cancelRequested: false, logTail: [], logPath: "/l")))
        #expect(s.run?.status == .finished(outcome: .completed), "a clean exit after the end changes nothing")
        _ = updateTraining(&s, .reindexed(error: nil))
        #expect(s.run?.reindex == .offered(checkpoint: "/runs/finetune-1/best.safetensors"), "a stray answer accepts nothing")
        // Accepting re-indexes with the run's checkpoint; once done, it is the model in use.
        #expect(updateTraining(&s, .command(.useNewModel)) == [.reindex(model: .checkpoint("/runs/finetune-1/best.safetensors"))])
        #expect(s.run?.reindex == .running(checkpoint: "/runs/finetune-1/best.safetensors"))
        #expect(s.model.switching?.name == "finetune-1/best" && s.model.switching?.devMAP10 == 0.42)
        #expect(updateTraining(&s, .command(.useNewModel)).isEmpty, "accepting twice re-indexes once")
        _ = updateTraining(&s, .reindexed(error: nil))
        #expect(s.run?.reindex == .done(checkpoint: "/runs/finetune-1/best.safetensors"))
        #expect(s.model.current.choice == .checkpoint("/runs/finetune-1/best.safetensors") && s.model.switching == nil)
        #expect(s.model.current.step == 0, "the run's best step (its only evaluation, at step 0)")
        #expect(updateTraining(&s, .command(.useNewModel)).isEmpty, "nothing is offered any more")
        let ba = try #require(s.run?.beforeAfter)
        #expect(ba.before == 0.30 && ba.after == 0.42)
        // Pause and cancel do nothing to a finished run; the pane can be hidden and shown again.
        #expect(updateTraining(&s, .command(.pauseResume)).isEmpty)
        #expect(updateTraining(&s, .command(.cancelRun)).isEmpty && s.run?.confirmingCancel == false)
        _ = updateTraining(&s, .command(.togglePane))
        #expect(!s.showsPane)
        _ = updateTraining(&s, .command(.togglePane))
        #expect(s.showsPane)
    }

    @Test func aFailedReindexIsShown() {
        var s = Self.running()
        let summary = TrainingSummary(outcome: .earlyStopped, steps: 30, wallSeconds: 60, devMAP10Before: 0.3, devMAP10After: 0.35,
                                      checkpoint: "/runs/finetune-1/best.safetensors")
        #expect(updateTraining(&s, .event(.finished(summary))).isEmpty)
        #expect(updateTraining(&s, .command(.useNewModel)) == [.reindex(model: .checkpoint("/runs/finetune-1/best.safetensors"))])
        _ = updateTraining(&s, .reindexed(error: "cannot read best.safetensors: truncated"))
        #expect(s.run?.reindex == .failed(message: "cannot read best.safetensors: truncated"))
        #expect(s.model.current == .zeroShot && s.model.switching == nil, "the old model stays in use")
        _ = updateTraining(&s, .reindexed(error: nil))
        #expect(s.run?.reindex == .failed(message: "cannot read best.safetensors: truncated"), "a stray answer changes nothing")
    }

    @Test func aCancelledRunIsNotReindexed() {
        var s = Self.running()
        let summary = TrainingSummary(outcome: .cancelled, steps: 5, wallSeconds: 10, devMAP10Before: 0.3, devMAP10After: 0.3,
                                      checkpoint: "/runs/finetune-1/latest.safetensors")
        #expect(updateTraining(&s, .event(.finished(summary))).isEmpty)
        #expect(s.run?.reindex == ReindexStatus.none)
        #expect(updateTraining(&s, .command(.useNewModel)).isEmpty, "nothing to accept")
    }

    @Test func aCrashIsAFailureWithTheLogsWords() {
        var s = Self.running()
        _ = updateTraining(&s, .event(Self.step(1, total: 3)))
        let exit = TrainingExit(reason: .exited(status: 3), cancelRequested: false, logTail: ["loading", "error: out of memory", ""],
                                logPath: "/runs/finetune-1/train.log")
        _ = updateTraining(&s, .exited(exit))
        guard case .failed(let message)? = s.run?.status else { Issue.record("not failed: \(String(describing: s.run?.status))"); return }
        #expect(message.contains("exited with status 3"))
        #expect(message.contains("error: out of memory"))
        #expect(message.contains("/runs/finetune-1/train.log"))
    }

    @Test func theFirstFailureIsKept() {
        var s = Self.running()
        _ = updateTraining(&s, .event(.failed(message: "dev split missing")))
        _ = updateTraining(&s, .event(.failed(message: "vitrine train exited with status 1")))
        #expect(s.run?.status == .failed(message: "dev split missing"))
    }

    @Test func aLaunchFailureFailsTheRun() {
        var s = TrainingUIState(settings: TrainingSettings(dataPath: "/d", runsDirectory: "/r"))
        _ = updateTraining(&s, .command(.open))
        _ = updateTraining(&s, .command(.dialogStart))
        _ = updateTraining(&s, .launchFailed("cannot start /x: No such file or directory"))
        #expect(s.run?.status == .failed(message: "cannot start /x: No such file or directory"))
        #expect(updateTraining(&s, .command(.pauseResume)).isEmpty)
    }

    @Test func lossSeriesStaysBoundedAndCoversTheWholeRun() {
        var series = LossSeries(capacity: 8)
        for i in 0..<100 { series.append(Double(i)) }
        #expect(series.values.count < 8)
        #expect(series.stride == 16)
        // Averages of consecutive blocks: increasing, starting near the first values.
        #expect(series.values.first == 7.5)
        #expect(zip(series.values, series.values.dropFirst()).allSatisfy { $0 < $1 })
        #expect(series.latest == 99)
        #expect(series.displayValues.count == series.values.count + 1, "the partly filled last value is shown")
    }
}
