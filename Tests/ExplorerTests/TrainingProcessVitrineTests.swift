import Explorer
import Foundation
import Testing
import Training

/// The runner with the real `vitrine train` (preset tiny on SampleData): only when
/// VITRINE_BIN names a release binary, like the end-to-end tests.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["VITRINE_BIN"].map { !$0.isEmpty } ?? false,
                             "set VITRINE_BIN to a release vitrine binary"))
struct TrainingProcessVitrineTests {
    static let binary = ProcessInfo.processInfo.environment["VITRINE_BIN"] ?? ""
    /// The repository's SampleData, found from this file.
    static let sampleData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("SampleData").path

    static func request(steps: Int, runs: String) -> TrainingRunRequest {
        TrainingRunRequest(mode: .finetune, preset: .tiny, steps: steps, dataPath: sampleData, useFlags: false, runsDirectory: runs)
    }

    static func runs(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "vitrine-training-real-\(getpid())/\(name)"
        try? FileManager.default.removeItem(atPath: dir)
        return dir
    }

    @Test func aTinyRunStreamsIntoThePaneAndOffersItsModel() throws {
        let inbox = TrainingProcessTests.Inbox()
        let request = Self.request(steps: 12, runs: Self.runs("tiny"))
        let process = try TrainingProcess.start(request, options: TrainingProcess.Options(executable: Self.binary), handler: inbox.handler)
        #expect(inbox.wait(seconds: 300) { $0.contains { if case .exited = $0 { return true } else { return false } } })
        #expect(process.waitUntilExit(timeout: 5))
        var ui = TrainingUIState(settings: TrainingSettings(dataPath: Self.sampleData, runsDirectory: request.runsDirectory))
        ui.run = TrainingPaneState(request: request)
        var effects: [TrainingEffect] = []
        for m in inbox.all { effects += updateTraining(&ui, m) }
        let run = try #require(ui.run)
        #expect(run.status == .finished(outcome: .completed), "log: \(inbox.exit?.logTail ?? [])")
        #expect(run.step == 12 && run.totalSteps == 12)
        #expect(run.losses["total"]?.values.count == 12)
        #expect(run.beforeAfter?.before != nil && run.beforeAfter?.after != nil)
        #expect(!effects.contains { if case .reindex = $0 { return true } else { return false } }, "offered, not imposed")
        #expect({ if case .offered(let c) = run.reindex { return c.hasSuffix(".safetensors") } else { return false } }())
        #expect(updateTraining(&ui, .command(.useNewModel)).contains { if case .reindex(.checkpoint) = $0 { return true } else { return false } })
        #expect(inbox.exit?.reason == .exited(status: 0))
        #expect(TrainingProcessTests.reaped(process.processID))
    }

    @Test func cancelEndsARealRunWithACheckpoint() throws {
        let inbox = TrainingProcessTests.Inbox()
        let request = Self.request(steps: 100_000, runs: Self.runs("cancel"))
        let process = try TrainingProcess.start(request, options: TrainingProcess.Options(executable: Self.binary), handler: inbox.handler)
        #expect(inbox.wait(seconds: 300) { msgs in msgs.filter { if case .event(.step) = $0 { return true } else { return false } }.count >= 3 })
        process.pause()
        Thread.sleep(forTimeInterval: 0.3)
        #expect(TrainingProcessTests.stat(process.processID)?.first == "T")
        process.cancel()
        #expect(inbox.wait(seconds: 60) { $0.contains { if case .exited = $0 { return true } else { return false } } })
        let finished = inbox.events.compactMap { if case .finished(let s) = $0 { return s } else { return nil } }.first
        #expect(finished?.outcome == .cancelled, "log: \(inbox.exit?.logTail ?? [])")
        #expect(finished?.checkpoint.map { FileManager.default.fileExists(atPath: $0) } == true)
        #expect(inbox.exit?.cancelRequested == true)
        #expect(TrainingProcessTests.reaped(process.processID))
    }
}
