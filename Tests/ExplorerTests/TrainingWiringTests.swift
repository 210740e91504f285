import Explorer
import Retrieval
import Testing
import Training

/// The training component wired into the explorer: `t` opens the dialog from the browser and
/// the results, the dialog's keys are its own (no global key leaks through), Enter asks the app
/// to start a run, events open the bottom pane, and a finished run's re-index refreshes the
/// results with the new model.
@Suite struct TrainingWiringTests {
    let driver = Driver()

    func starts(_ effects: [Effect]) -> [TrainingRunRequest] {
        effects.compactMap { if case .training(.start(let r)) = $0 { return r } else { return nil } }
    }

    @Test func tOpensTheDialogWhoseKeysAreItsOwn() {
        var s = Driver.state()
        _ = Fixture.key(&s, .char("t"))
        #expect(s.training.dialog != nil)
        #expect(s.context == .trainingDialog)
        // q is not quit inside the dialog, and ? is not help.
        _ = Fixture.key(&s, .char("q"))
        _ = Fixture.key(&s, .char("?"))
        #expect(!s.quitting && s.helpScroll == nil)
        _ = Fixture.key(&s, .escape)
        #expect(s.training.dialog == nil && s.context == .browser)
    }

    @Test func enterStartsARunForTheLoadedDataset() {
        var s = Driver.state()
        _ = Fixture.key(&s, .char("t"))
        _ = Fixture.key(&s, .tab)
        _ = Fixture.key(&s, .left)                   // the preset wraps from sample to tiny
        let effects = Fixture.key(&s, .enter)
        let requests = starts(effects)
        #expect(requests.count == 1)
        #expect(requests.first?.preset == .tiny)
        #expect(requests.first?.dataPath == Fixture.dataset.root)
        #expect(s.training.dialog == nil)
    }

    @Test func eventsOpenThePaneAndAFinishedRunRefreshesTheResults() {
        var s = Driver.state(width: 100, height: 36)
        driver.search(&s, "aurelle")
        let generation = s.retrieval.results.generation
        _ = Fixture.key(&s, .char("t"))
        _ = Fixture.key(&s, .enter)
        _ = update(&s, .training(.launched(TrainingLaunch(processID: 4242, outputDirectory: "/tmp/run", logPath: "/tmp/run/train.log", niceness: 10))))
        _ = update(&s, .training(.event(.step(StepReport(step: 1, totalSteps: 4, losses: ["total": 3.2, "mlm": 2.0],
                                                          learningRate: 1e-4, samplesPerSecond: 20, etaSeconds: 3)))))
        #expect(s.training.showsPane)
        #expect(s.bottomPaneHeight > 0 && s.bottomPaneHeight <= (36 - 2) / 3)
        let frame = view(s).textLines().joined(separator: "\n")
        #expect(frame.contains("training ·") && frame.contains("step 1/4"))

        let end = update(&s, .training(.event(.finished(TrainingSummary(outcome: .completed, steps: 4, wallSeconds: 9,
                                                                           devMAP10Before: 0.2, devMAP10After: 0.3,
                                                                           checkpoint: "/tmp/run/best.safetensors")))))
        #expect(!end.contains { if case .training(.reindex) = $0 { return true } else { return false } }, "offered, not imposed")
        #expect(Fixture.key(&s, .char("U")).contains(.training(.reindex(model: .checkpoint("/tmp/run/best.safetensors")))))
        // Re-indexed: the shown query is asked again (a new generation), the screen stays.
        let refresh = update(&s, .training(.reindexed(error: nil)))
        #expect(refresh.contains { if case .retrieval(.search(let g, .caption("aurelle"), _)) = $0 { return g > generation } else { return false } })
        #expect(s.screen == .results)
        #expect(view(s).textLines().joined(separator: "\n").contains("0.200"))
    }

    @Test func hiddenPaneStillShowsTheSummaryInTheFooter() {
        var s = Driver.state(width: 100, height: 30)
        _ = Fixture.key(&s, .char("t"))
        _ = Fixture.key(&s, .enter)
        _ = update(&s, .training(.launched(TrainingLaunch(processID: 4242, outputDirectory: "/tmp/run", logPath: "/tmp/run/train.log", niceness: 10))))
        _ = update(&s, .training(.event(.step(StepReport(step: 2, totalSteps: 9, losses: ["total": 1.5],
                                                          learningRate: 1e-4, samplesPerSecond: 20, etaSeconds: 3)))))
        _ = Fixture.key(&s, .ctrl("t"))
        #expect(!s.training.showsPane && s.bottomPaneHeight == 0)
        let footer = view(s).textLines().last ?? ""
        #expect(footer.contains("train ") && footer.contains("2"))
    }
}
