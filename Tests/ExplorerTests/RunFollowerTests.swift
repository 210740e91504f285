import Explorer
import Foundation
import Testing
import Training

/// Following a run folder's events.jsonl (`RunFollower`, `EventLineSplitter`) and what the
/// training pane does with a followed run: a file that appears, partial lines, a file cut short
/// or replaced, hostile and huge lines, the run's end and its model, keys that cannot act.
@Suite struct RunFollowerTests {
    /// What a follower hands the app, kept in order.
    final class Messages: @unchecked Sendable {
        private let lock = NSLock()
        private var all: [TrainingMsg] = []
        func add(_ m: TrainingMsg) { lock.lock(); all.append(m); lock.unlock() }
        /// Everything since the last call.
        func take() -> [TrainingMsg] { lock.lock(); defer { all = []; lock.unlock() }; return all }
    }

    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "run-follower-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    static func line(_ event: TrainingEvent) -> String { event.jsonLine() + "\n" }
    static let plan = TrainingPaneTests.plan
    static func step(_ n: Int) -> TrainingEvent { TrainingPaneTests.step(n, total: 3.0 - Double(n) * 0.1) }

    static func events(_ messages: [TrainingMsg]) -> [TrainingEvent] {
        messages.compactMap { if case .event(let e) = $0 { return e }; return nil }
    }
    static func news(_ messages: [TrainingMsg]) -> [FollowNews] {
        messages.compactMap { if case .followed(let n) = $0 { return n }; return nil }
    }

    // MARK: Lines

    @Test func theSplitterKeepsPartialLinesAndBoundsLongOnes() {
        var s = EventLineSplitter(maximumLineBytes: 16)
        #expect(s.feed(Array("abc".utf8)[...]) == [])
        #expect(s.pendingBytes == 3)
        #expect(s.feed(Array("def\nxy".utf8)[...]) == [.line("abcdef")], "a line completes across reads")
        #expect(s.feed(Array("\n\n".utf8)[...]) == [.line("xy"), .line("")])
        // A line over the limit, arriving in pieces: reported once, dropped up to its line feed.
        let long = String(repeating: "L", count: 40)
        #expect(s.feed(Array(long.prefix(10).utf8)[...]) == [])
        let report = s.feed(Array(long.dropFirst(10).utf8)[...])
        #expect(report.count == 1)
        if case .overlong(let prefix)? = report.first { #expect(prefix.hasPrefix("LLLL")) } else { Issue.record("no report: \(report)") }
        #expect(s.pendingBytes == 0, "memory stays bounded")
        #expect(s.feed(Array("LLLL\nok\n".utf8)[...]) == [.line("ok")], "the rest of the long line is dropped")
        // One read with a long complete line between short ones.
        #expect(s.feed(Array("a\n\(long)\nb\n".utf8)[...]).count == 3)
    }

    // MARK: The follower on real files

    @Test func waitsForTheFileThenReadsCompleteLinesOnly() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = dir + "/run"
        let messages = Messages()
        let follower = RunFollower(directory: run) { messages.add($0) }

        follower.poll()
        #expect(Self.news(messages.take()).contains { if case .waiting(let t) = $0 { return t.contains("does not exist") }; return false })
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        follower.poll()
        #expect(Self.news(messages.take()).contains { if case .waiting(let t) = $0 { return t.contains("no events yet") }; return false })
        follower.poll()
        #expect(messages.take().isEmpty, "the same news is not repeated at every look")

        let path = run + "/events.jsonl"
        let started = Self.line(.started(Self.plan))
        try Self.append(Self.line(.preparing(FeatureProgress(done: 1, total: 2, cached: 1, computed: 0))) + started.prefix(30), to: path)
        follower.poll()
        var got = messages.take()
        #expect(Self.events(got) == [.preparing(FeatureProgress(done: 1, total: 2, cached: 1, computed: 0))], "a partial line waits")
        #expect(Self.news(got).contains(.reading(path)))
        try Self.append(String(started.dropFirst(30)) + Self.line(Self.step(1)), to: path)
        follower.poll()
        got = messages.take()
        #expect(Self.events(got) == [.started(Self.plan), Self.step(1)])
    }

    @Test func aFileCutShortOrReplacedIsReadAgainFromItsStart() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/events.jsonl"
        let messages = Messages()
        let follower = RunFollower(directory: dir) { messages.add($0) }
        try Self.append(Self.line(.started(Self.plan)) + Self.line(Self.step(1)) + Self.line(Self.step(2)), to: path)
        follower.poll()
        #expect(Self.events(messages.take()).count == 3)

        // Cut short (a new run truncated it): read again from the start.
        try Data(Self.line(.started(Self.plan)).utf8).write(to: URL(fileURLWithPath: path))
        follower.poll()
        var got = messages.take()
        #expect(Self.news(got).contains { if case .restarted(let t) = $0 { return t.contains("cut short") }; return false })
        #expect(Self.events(got) == [.started(Self.plan)])

        // Replaced by another file (renamed over it, as an atomic writer does).
        let other = dir + "/events.jsonl.tmp"
        try Data((Self.line(.started(Self.plan)) + Self.line(Self.step(7))).utf8).write(to: URL(fileURLWithPath: other))
        #expect(rename(other, path) == 0)
        follower.poll()
        got = messages.take()
        #expect(Self.news(got).contains { if case .restarted(let t) = $0 { return t.contains("replaced") }; return false })
        #expect(Self.events(got) == [.started(Self.plan), Self.step(7)])

        // The pane starts over on a restart.
        var s = TrainingUIState(settings: TrainingSettings(dataPath: "/d", runsDirectory: "/r"))
        _ = s.follow(dir)
        for m in [TrainingMsg.event(.started(Self.plan)), .event(Self.step(5))] { _ = updateTraining(&s, m) }
        _ = updateTraining(&s, .followed(.restarted("events.jsonl was replaced")))
        #expect(s.run?.step == 0 && s.run?.losses.isEmpty == true && s.run?.followedDirectory == dir)
    }

    @Test func hostileAndHugeLinesAreReportedInertAndSkipped() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/events.jsonl"
        let messages = Messages()
        let follower = RunFollower(directory: dir, options: RunFollower.Options(maximumLineBytes: 4096)) { messages.add($0) }
        let hostile = "\u{1B}]0;owned\u{07}\u{1B}[2J{\"event\": \"step\"\u{9B}31m}\n"
        let huge = "{\"event\": \"failed\", \"message\": \"" + String(repeating: "x", count: 100_000) + "\"}\n"
        // Valid JSON, numbers no run has: a step past Int's range of percentages, an endless ETA.
        let absurd = "{\"event\":\"step\",\"step\":9000000000000000000,\"totalSteps\":1,\"losses\":{},\"learningRate\":0,"
            + "\"samplesPerSecond\":0,\"etaSeconds\":1e300}\n"
        let manyLosses = Self.line(.step(StepReport(step: 1, totalSteps: 2, losses: Dictionary(uniqueKeysWithValues: (0 ..< 40).map { ("l\($0)", 1.0) }),
                                                    learningRate: 0, samplesPerSecond: 0, etaSeconds: 0)))
        try Self.append(Self.line(.started(Self.plan)) + hostile + huge + absurd + manyLosses + "\u{00}\u{FF}garbage\n" + Self.line(Self.step(3)), to: path)
        follower.poll()
        let got = messages.take()
        #expect(Self.events(got) == [.started(Self.plan), Self.step(3)], "only the real events go through")
        let skipped = Self.news(got).compactMap { if case .skipped(let t) = $0 { return t }; return nil }
        #expect(skipped.count == 5, "\(skipped)")
        #expect(skipped.contains { $0.contains("line 2") && $0.contains("not a training event") })
        #expect(skipped.contains { $0.contains("line 3") && $0.contains("over 4 KiB") })
        #expect(skipped.contains { $0.contains("line 4") && $0.contains("step") })
        #expect(skipped.contains { $0.contains("line 5") && $0.contains("losses") })
        #expect(skipped.allSatisfy { $0.utf8.count < 600 }, "reports are short")

        // The pane shows the report inert: no escape, no C1 control reaches the screen.
        var s = TrainingUIState(settings: TrainingSettings(dataPath: "/d", runsDirectory: "/r"))
        _ = s.follow(dir)
        for m in got { _ = updateTraining(&s, m) }
        _ = updateTraining(&s, .followed(.skipped(skipped[0])))
        let frame = TrainingViewTests.pane(s, width: 100, height: 14)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("not a training event"), "\(text)")
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" || (0x7F ... 0x9F).contains($0.value) }, "\(text)")
        // Even if such an event reached the pane, its numbers cannot crash the drawing.
        var t = s
        _ = updateTraining(&t, .event(.step(StepReport(step: Int.max, totalSteps: 1, losses: ["total": .infinity],
                                                      learningRate: .nan, samplesPerSecond: -1, etaSeconds: 1e300))))
        _ = TrainingViewTests.pane(t, width: 100, height: 14)
        _ = trainingSummaryLine(t.run!, width: 60, unicode: true)
        // Nor can events that each name other losses grow the pane's curves without bound.
        for k in 0 ..< 5 {
            let names = Dictionary(uniqueKeysWithValues: (0 ..< 10).map { ("loss\(k)-\($0)", 1.0) })
            _ = updateTraining(&t, .event(.step(StepReport(step: k, totalSteps: 9, losses: names, learningRate: 0,
                                                          samplesPerSecond: 0, etaSeconds: 0))))
        }
        #expect(t.run!.losses.count == TrainingPaneState.maximumLossSeries)
    }

    @Test func theEndOffersTheRunsBestModelFromItsFolder() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/events.jsonl"
        let messages = Messages()
        let follower = RunFollower(directory: dir) { messages.add($0) }
        // The finished event names a path of the machine that trained; the folder holds best.safetensors.
        FileManager.default.createFile(atPath: dir + "/best.safetensors", contents: Data([0]))
        let summary = TrainingSummary(outcome: .completed, steps: 40, wallSeconds: 9, devMAP10Before: 0.2, devMAP10After: 0.5,
                                      checkpoint: "/elsewhere/run/best.safetensors")
        try Self.append(Self.line(.started(Self.plan)) + Self.line(Self.step(40)) + Self.line(.finished(summary)), to: path)
        follower.poll()
        let got = messages.take()
        #expect(Self.news(got).last == .ended(checkpoint: dir + "/best.safetensors"))

        var s = TrainingUIState(settings: TrainingSettings(dataPath: "/d", runsDirectory: "/r"))
        _ = s.follow(dir)
        for m in got { _ = updateTraining(&s, m) }
        #expect(s.run?.status == .finished(outcome: .completed))
        #expect(s.run?.reindex == .offered(checkpoint: dir + "/best.safetensors"))
        #expect(updateTraining(&s, .command(.useNewModel)) == [.reindex(model: .checkpoint(dir + "/best.safetensors"))])

        // Without best.safetensors, the finished event's checkpoint by its name in the folder.
        try FileManager.default.removeItem(atPath: dir + "/best.safetensors")
        FileManager.default.createFile(atPath: dir + "/latest.safetensors", contents: Data([0]))
        var other = summary
        other.checkpoint = "/elsewhere/run/latest.safetensors"
        try Self.append(Self.line(.started(Self.plan)) + Self.line(.finished(other)), to: path)
        follower.poll()
        #expect(Self.news(messages.take()).last == .ended(checkpoint: dir + "/latest.safetensors"))
    }

    // MARK: The pane's keys for a run that is not ours

    @Test func pauseAndCancelSayTheRunIsAnotherProcesss() throws {
        var s = TrainingUIState(settings: TrainingSettings(dataPath: "/d", runsDirectory: "/r"))
        let effects = s.follow("/runs/ddp")
        #expect(effects == [.follow(directory: "/runs/ddp")])
        #expect(s.paneVisible && s.isRunActive && s.run?.isFollowed == true)
        _ = updateTraining(&s, .event(.started(Self.plan)))
        #expect(updateTraining(&s, .command(.pauseResume)).isEmpty, "nothing is signalled")
        #expect(s.run?.status == .running)
        #expect(s.run?.notice?.text.contains("belongs to another process") == true && s.run?.notice?.warning == true)

        #expect(updateTraining(&s, .command(.cancelRun)).isEmpty)
        #expect(s.run?.confirmingCancel == true && s.run?.notice?.text.contains("Ctrl-C") == true)
        let asked = TrainingViewTests.pane(s, width: 100, height: 14).textLines().joined(separator: "\n")
        #expect(asked.contains("Stop following this run?") && !asked.contains("Cancel the training run"), "\(asked)")
        #expect(updateTraining(&s, .command(.confirmCancel)) == [.stopFollowing], "only the following stops")
        #expect(s.run?.status == .unfollowed && !s.isRunActive)
        let after = TrainingViewTests.pane(s, width: 100, height: 14).textLines().joined(separator: "\n")
        #expect(after.contains("goes on in its own process"), "\(after)")
        // A cancelled followed run offers nothing, like the explorer's own.
        var c = TrainingUIState(settings: TrainingSettings(dataPath: "/d", runsDirectory: "/r"))
        _ = c.follow("/runs/ddp")
        _ = updateTraining(&c, .event(.finished(TrainingSummary(outcome: .cancelled, steps: 3, wallSeconds: 1, devMAP10Before: nil,
                                                                devMAP10After: nil, checkpoint: "/runs/ddp/best.safetensors"))))
        _ = updateTraining(&c, .followed(.ended(checkpoint: "/runs/ddp/best.safetensors")))
        #expect(c.run?.reindex == ReindexStatus.none)
    }

    @Test func theDialogsFollowChoice() throws {
        var s = TrainingUIState(settings: TrainingSettings(dataPath: "/d", runsDirectory: "/runs"))
        _ = updateTraining(&s, .command(.open))
        _ = updateTraining(&s, .command(.dialogIncrease))
        _ = updateTraining(&s, .command(.dialogIncrease))
        #expect(s.dialog?.following == true && s.dialog?.fields == [.mode, .folder])
        _ = updateTraining(&s, .command(.dialogNext))
        #expect(s.dialog?.focus == .folder && s.dialog?.followPath == "/runs/")
        for c in "ddp-1\u{1B}" { _ = updateTraining(&s, .typed(c)) }
        let drawn = { () -> String in
            var frame = Frame(width: 80, height: 20)
            renderTrainingDialog(s.dialog!, settings: s.settings, in: Rect(x: 0, y: 0, width: 80, height: 20), unicode: true, frame: &frame)
            return frame.textLines().joined(separator: "\n")
        }()
        #expect(drawn.contains("Follow a run") && drawn.contains("/runs/ddp-1") && drawn.contains("follow"), "\(drawn)")
        #expect(updateTraining(&s, .command(.dialogStart)) == [.follow(directory: "/runs/ddp-1")])
        #expect(s.dialog == nil && s.run?.followedDirectory == "/runs/ddp-1" && s.paneVisible)
    }

    @Test func aPathThatIsAFileCannotBeFollowed() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/file", contents: Data())
        #expect(RunFollower.folderProblem(dir + "/file")?.contains("is a file, not a run folder") == true)
        #expect(RunFollower.folderProblem(dir) == nil)
        #expect(RunFollower.folderProblem(dir + "/not-yet") == nil, "a folder that does not exist yet is waited for")
        #expect(throws: TrainingProcessError.self) { try RunFollower.start(directory: dir + "/file") { _ in } }
    }
}
