import Annotations
import Explorer
import Foundation
import Testing
import Training

/// The training runner with real child processes: small shell scripts that speak
/// `vitrine train --json`'s protocol (or break it).
@Suite(.serialized) struct TrainingProcessTests {
    /// Collects what a runner reports, for waiting on from the test.
    final class Inbox: @unchecked Sendable {
        private let condition = NSCondition()
        private var messages: [TrainingMsg] = []

        var handler: TrainingProcess.Handler { { [self] msg in condition.lock(); messages.append(msg); condition.broadcast(); condition.unlock() } }

        var all: [TrainingMsg] { condition.lock(); defer { condition.unlock() }; return messages }

        var events: [TrainingEvent] { all.compactMap { if case .event(let e) = $0 { return e } else { return nil } } }

        var exit: TrainingExit? { all.lazy.compactMap { if case .exited(let e) = $0 { return e } else { return nil } }.first }

        /// Waits (at most `seconds`) until `predicate` holds for the messages so far.
        @discardableResult
        func wait(seconds: Double = 10, until predicate: ([TrainingMsg]) -> Bool) -> Bool {
            let deadline = Date(timeIntervalSinceNow: seconds)
            condition.lock(); defer { condition.unlock() }
            while !predicate(messages) { if !condition.wait(until: deadline) { return predicate(messages) } }
            return true
        }
    }

    static func folder(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "vitrine-training-\(getpid())/\(name)"
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Writes a shell script and returns options that run it with /bin/sh.
    static func script(_ body: String, in dir: String, grace: Double = 5) -> (TrainingProcess.Options, [String]) {
        let path = dir + "/fake-train.sh"
        try! body.write(toFile: path, atomically: true, encoding: .utf8)
        return (TrainingProcess.Options(executable: "/bin/sh", niceness: 10, cancelGraceSeconds: grace), [path])
    }

    static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    static func stepLine(_ n: Int) -> String {
        TrainingEvent.step(StepReport(step: n, totalSteps: 1000, losses: ["total": 1.0 / Double(n)], learningRate: 1e-4,
                                      samplesPerSecond: 10, etaSeconds: 1)).jsonLine()
    }

    /// Fields of /proc/PID/stat after the command name: [0] is the state, [16] the nice value.
    static func stat(_ pid: Int32) -> [String]? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = s.lastIndex(of: ")") else { return nil }
        return s[s.index(after: close)...].split(separator: " ").map(String.init)
    }

    static func statusField(_ pid: Int32, _ name: String) -> String? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return s.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    /// The process is gone and reaped: not even a zombie is left.
    static func reaped(_ pid: Int32) -> Bool { kill(pid, 0) != 0 && errno == ESRCH }

    @Test func eventsArriveInOrderAndTheChildIsReaped() throws {
        let dir = Self.folder("ok")
        let plan = TrainingPlan(mode: .finetune, preset: .tiny, totalSteps: 3, batchSize: 4, startStep: 0, seed: 1,
                                dataset: "d", outputDirectory: dir, flagPairs: 0)
        let events: [TrainingEvent] = [
            .started(plan),
            .step(StepReport(step: 1, totalSteps: 3, losses: ["total": 2.5, "clr": .nan], learningRate: 1e-4, samplesPerSecond: 8, etaSeconds: 2)),
            .evaluation(EvaluationReport(step: 1, devMAP10: 0.25, bestMAP10: 0.25, improved: true)),
            .checkpoint(CheckpointReport(step: 1, path: dir + "/step-1.safetensors")),
            .finished(TrainingSummary(outcome: .completed, steps: 3, wallSeconds: 1.5, devMAP10Before: 0.2, devMAP10After: 0.25,
                                      checkpoint: dir + "/best.safetensors")),
        ]
        let lines = events.map { "printf '%s\\n' " + Self.shellQuoted($0.jsonLine()) }.joined(separator: "\n")
        let (options, args) = Self.script("""
            echo "stdin is $(readlink /proc/self/fd/0)" >&2
            \(lines)
            echo "all done" >&2
            exit 0
            """, in: dir)
        let inbox = Inbox()
        let process = try TrainingProcess.start(arguments: args, outputDirectory: dir, options: options, handler: inbox.handler)
        #expect(inbox.wait { $0.contains { if case .exited = $0 { return true } else { return false } } })
        #expect(process.waitUntilExit(timeout: 5))
        guard case .launched(let launch)? = inbox.all.first else { Issue.record("launched did not come first"); return }
        #expect(launch.processID == process.processID && launch.logPath == dir + "/train.log")
        // The NaN loss makes == fail on the step; compare the rest, and the step's finite parts.
        let got = inbox.events
        #expect(got.count == events.count)
        #expect(got.first == events.first)
        #expect(Array(got.dropFirst(2)) == Array(events.dropFirst(2)))
        if case .step(let r)? = got.dropFirst().first { #expect(r.losses["total"] == 2.5 && r.losses["clr"]!.isNaN) }
        let exit = try #require(inbox.exit)
        #expect(exit.reason == .exited(status: 0) && !exit.cancelRequested)
        #expect(exit.logTail == ["stdin is /dev/null", "all done"], "stderr goes to the log; stdin is /dev/null")
        #expect(Self.reaped(process.processID))
        #expect(!process.isRunning)
    }

    @Test func aNonZeroExitIsAFailureWithTheLogsLastLines() throws {
        let dir = Self.folder("crash")
        let (options, args) = Self.script("""
            printf '%s\\n' \(Self.shellQuoted(Self.stepLine(1)))
            echo "loading features" >&2
            echo "fatal: out of memory in sgemm" >&2
            exit 3
            """, in: dir)
        let inbox = Inbox()
        let process = try TrainingProcess.start(arguments: args, outputDirectory: dir, options: options, handler: inbox.handler)
        #expect(inbox.wait { $0.contains { if case .exited = $0 { return true } else { return false } } })
        let failures = inbox.events.compactMap { if case .failed(let m) = $0 { return m } else { return nil } }
        #expect(failures.count == 1)
        #expect(failures.first?.contains("exited with status 3") == true)
        #expect(failures.first?.contains("fatal: out of memory in sgemm") == true)
        #expect(inbox.exit?.reason == .exited(status: 3))
        #expect(inbox.exit?.logTail.suffix(2) == ["loading features", "fatal: out of memory in sgemm"])
        #expect(Self.reaped(process.processID))
        // The pane, fed the same messages, ends failed.
        var ui = TrainingUIState(settings: TrainingSettings(dataPath: "/d", runsDirectory: dir))
        ui.run = TrainingPaneState(request: TrainingRunRequest(mode: .finetune, preset: .tiny, steps: nil, dataPath: "/d", useFlags: false, runsDirectory: dir))
        for m in inbox.all { _ = updateTraining(&ui, m) }
        guard case .failed? = ui.run?.status else { Issue.record("the pane is not failed: \(String(describing: ui.run?.status))"); return }
    }

    @Test func aLineThatIsNotAnEventStopsTheRun() throws {
        let dir = Self.folder("garbage")
        let (options, args) = Self.script("""
            echo "Loading model... 42%"
            i=0; while [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
            """, in: dir)
        let inbox = Inbox()
        let started = Date()
        let process = try TrainingProcess.start(arguments: args, outputDirectory: dir, options: options, handler: inbox.handler)
        #expect(inbox.wait { $0.contains { if case .exited = $0 { return true } else { return false } } })
        #expect(Date().timeIntervalSince(started) < 8, "stopped at once, not after the script's 30 s")
        let failures = inbox.events.compactMap { if case .failed(let m) = $0 { return m } else { return nil } }
        #expect(failures.count == 1)
        #expect(failures.first?.contains("not a training event") == true)
        #expect(failures.first?.contains("Loading model") == true)
        #expect(inbox.exit?.reason == .signalled(signal: SIGTERM))
        #expect(Self.reaped(process.processID))
    }

    @Test func pauseStopsTheChildAndResumeLetsItGoOn() throws {
        let dir = Self.folder("pause")
        // A step every 20 ms for at most 20 s, with a clean end on SIGTERM (as vitrine train does).
        let finished = TrainingEvent.finished(TrainingSummary(outcome: .cancelled, steps: 0, wallSeconds: 0, devMAP10Before: nil,
                                                              devMAP10After: nil, checkpoint: nil)).jsonLine()
        let (options, args) = Self.script("""
            FINISHED=\(Self.shellQuoted(finished))
            trap 'printf "%s\\n" "$FINISHED"; exit 0' TERM
            i=0
            while [ $i -lt 1000 ]; do
              i=$((i+1))
              printf '{"event":"step","step":%d,"totalSteps":1000,"losses":{"total":1.5},"learningRate":0.0001,"samplesPerSecond":10,"etaSeconds":1}\\n' $i
              sleep 0.02
            done
            """, in: dir)
        let inbox = Inbox()
        let process = try TrainingProcess.start(arguments: args, outputDirectory: dir, options: options, handler: inbox.handler)
        let pid = process.processID
        #expect(inbox.wait { msgs in msgs.filter { if case .event(.step) = $0 { return true } else { return false } }.count >= 3 })

        // Lowered priority, clean signal mask.
        let nice = try #require(Self.stat(pid)?[16]).trimmingCharacters(in: .whitespaces)
        #expect(Int(nice)! >= 10, "the child runs at nice \(nice)")
        #expect(process.launch.niceness >= 10)
        // The shell blocks every signal for a moment around each fork (of `sleep`): the mask it
        // was started with shows between forks, so look a few times.
        var masks: [String?] = []
        for _ in 0..<50 {
            masks.append(Self.statusField(pid, "SigBlk"))
            if masks.last == "0000000000000000" { break }
            Thread.sleep(forTimeInterval: 0.003)
        }
        #expect(masks.last == "0000000000000000", "the child's blocked-signal mask was never empty: \(masks)")

        process.pause()
        #expect(inbox.wait { $0.contains { if case .event(.paused) = $0 { return true } else { return false } } })
        Thread.sleep(forTimeInterval: 0.2)
        #expect(Self.stat(pid)?.first == "T", "the child is stopped")
        let stepsWhilePaused = inbox.events.count
        Thread.sleep(forTimeInterval: 0.4)
        #expect(inbox.events.count == stepsWhilePaused, "no step while paused")

        process.resume()
        #expect(inbox.wait { msgs in msgs.filter { if case .event(.step) = $0 { return true } else { return false } }.count > stepsWhilePaused + 2 })
        #expect(inbox.events.contains { if case .resumed = $0 { return true } else { return false } })

        // Cancel while paused: SIGCONT lets the TERM handler run and report the end.
        process.pause()
        process.cancel()
        #expect(inbox.wait { $0.contains { if case .exited = $0 { return true } else { return false } } })
        #expect(inbox.events.last == .finished(TrainingSummary(outcome: .cancelled, steps: 0, wallSeconds: 0, devMAP10Before: nil,
                                                                 devMAP10After: nil, checkpoint: nil)))
        #expect(!inbox.events.contains { if case .failed = $0 { return true } else { return false } })
        #expect(inbox.exit?.cancelRequested == true && inbox.exit?.reason == .exited(status: 0))
        #expect(Self.reaped(pid))
    }

    @Test func cancelKillsAChildThatIgnoresTerm() throws {
        let dir = Self.folder("stubborn")
        let (options, args) = Self.script("""
            trap '' TERM
            printf '%s\\n' \(Self.shellQuoted(Self.stepLine(1)))
            i=0; while [ $i -lt 300 ]; do i=$((i+1)); sleep 0.1; done
            """, in: dir, grace: 0.5)
        let inbox = Inbox()
        let process = try TrainingProcess.start(arguments: args, outputDirectory: dir, options: options, handler: inbox.handler)
        #expect(inbox.wait { $0.contains { if case .event(.step) = $0 { return true } else { return false } } })
        process.cancel()
        #expect(inbox.wait { $0.contains { if case .exited = $0 { return true } else { return false } } })
        #expect(inbox.exit?.reason == .signalled(signal: SIGKILL))
        #expect(inbox.exit?.cancelRequested == true)
        #expect(!inbox.events.contains { if case .failed = $0 { return true } else { return false } }, "a cancelled run is not a failure")
        #expect(Self.reaped(process.processID))
    }

    @Test func aProgramThatCannotStartIsAClearError() {
        let dir = Self.folder("missing")
        let options = TrainingProcess.Options(executable: dir + "/no-such-vitrine")
        let error = #expect(throws: TrainingProcessError.self) {
            try TrainingProcess.start(arguments: ["train"], outputDirectory: dir, options: options, handler: { _ in })
        }
        #expect(error?.message.contains("cannot start \(dir)/no-such-vitrine") == true)
        #expect(error?.message.contains("No such file or directory") == true)
    }

    @Test func aRequestGetsItsOwnFolderItsFlagsAndItsArguments() throws {
        let dir = Self.folder("request")
        // An executable script stands in for vitrine: it logs its arguments and fails as a run would.
        let fake = dir + "/vitrine"
        try """
            #!/bin/sh
            for a in "$@"; do echo "arg: $a" >&2; done
            printf '%s\\n' '{"event":"failed","message":"no dataset here"}'
            exit 1
            """.write(toFile: fake, atomically: true, encoding: .utf8)
        chmod(fake, 0o755)
        let store = try FlagStore(path: dir + "/flags.sqlite")
        _ = try store.record(Flag(dataset: "SampleData", query: "q1", match: "m1", model: "zero-shot", verdict: .wrong, annotator: "ana"))
        _ = try store.record(Flag(dataset: "Other", query: "q2", match: "m2", model: "zero-shot", verdict: .confirmed, annotator: "ana"))
        let request = TrainingRunRequest(mode: .finetune, preset: .tiny, steps: 5, dataPath: "/nowhere", useFlags: true,
                                         flagsStore: dir + "/flags.sqlite", flagsDataset: "SampleData",
                                         runsDirectory: dir + "/runs", extraArguments: ["--throttle", "0.5"])
        let inbox = Inbox()
        let process = try TrainingProcess.start(request, options: TrainingProcess.Options(executable: fake), handler: inbox.handler)
        #expect(inbox.wait { $0.contains { if case .exited = $0 { return true } else { return false } } })
        #expect(process.waitUntilExit(timeout: 1))
        let folder = process.launch.outputDirectory
        #expect(folder.hasPrefix(dir + "/runs/finetune-"))
        let log = try String(contentsOfFile: folder + "/train.log", encoding: .utf8)
        let args = log.split(separator: "\n").filter { $0.hasPrefix("arg: ") }.map { String($0.dropFirst(5)) }
        #expect(args == request.arguments(outputDirectory: folder, flagsFile: folder + "/flags.jsonl"))
        let flags = try String(contentsOfFile: folder + "/flags.jsonl", encoding: .utf8)
        #expect(flags.split(separator: "\n").count == 1, "only the dataset's flags")
        #expect(flags.contains("\"q1\""))
        #expect(inbox.events == [.failed(message: "no dataset here")], "the run's own failure is reported once")
        #expect(inbox.exit?.reason == .exited(status: 1))
        // A second run in the same second gets a folder of its own.
        let second = try TrainingProcess.start(request, options: TrainingProcess.Options(executable: fake), handler: { _ in })
        #expect(second.waitUntilExit(timeout: 10))
        #expect(second.launch.outputDirectory != folder)
    }
}
