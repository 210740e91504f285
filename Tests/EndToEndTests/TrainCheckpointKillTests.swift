import Foundation
import Testing

/// `vitrine train` killed with SIGKILL at varied moments, many of them inside a checkpoint
/// write (slowed by the VITRINE_TRAIN_WRITE_DELAY_MS test knob): the run folder's last
/// checkpoint must always load, and the run must resume from it.
@Suite(.serialized) struct TrainCheckpointKillTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var binary: String {
        ProcessInfo.processInfo.environment["VITRINE_BIN"].flatMap { $0.isEmpty ? nil : $0 }
            ?? repository + "/.build/release/vitrine"
    }

    /// A small Product1M-layout set (a few dozen images) and a feature cache, made once.
    static let fixture: (data: String, cache: String) = {
        let root = NSTemporaryDirectory() + "vitrine-train-kill-\(getpid())"
        let data = root + "/data", cache = root + "/cache"
        try? FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        if let pid = try? spawn(["sample-data", "--out", data, "--brands", "2", "--gallery-views", "2",
                                 "--train", "12", "--dev", "3", "--test", "3", "--quiet"], environment: [:],
                                stdout: root + "/gen.out", stderr: root + "/gen.err") {
            _ = wait(pid)
        }
        return (data, cache)
    }()

    /// Starts the binary with extra environment variables; output to files; returns its pid.
    static func spawn(_ arguments: [String], environment extra: [String: String], stdout: String, stderr: String) throws -> pid_t {
        try Tmux.spawn([binary] + arguments, environment: extra, stdout: stdout, stderr: stderr)
    }

    static func wait(_ pid: pid_t) -> Int32 { Tmux.wait(pid) }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let dir = NSTemporaryDirectory() + "vitrine-train-run-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pid = try spawn(arguments, environment: environment, stdout: dir + "/out", stderr: dir + "/err")
        let status = wait(pid)
        return (status, (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? "")
    }

    static func trainArguments(out: String) -> [String] {
        ["train", "--preset", "tiny", "--mode", "finetune", "--data", fixture.data, "--out", out, "--steps", "100000",
         "--checkpoint-every", "1", "--eval-every", "0", "--json"]
    }

    @Test func killDuringCheckpointWritesAlwaysLeavesALoadableCheckpoint() throws {
        let env = ["VITRINE_CACHE": Self.fixture.cache, "VITRINE_TRAIN_WRITE_DELAY_MS": "15"]
        let out = NSTemporaryDirectory() + "vitrine-train-kill-run-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let logs = NSTemporaryDirectory() + "vitrine-train-kill-logs-\(getpid())"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: logs) }
        var lastStep = -1
        // Ten kills, 0 to 79 ms after a checkpoint event (trial * 37 % 90: 0, 37, 74, 21, 58, 5,
        // 42, 79, 26, 63), while each write takes at least 15 ms: kills land before, inside and
        // after the writes of the next checkpoints.
        for trial in 0..<10 {
            // The first trial makes a new run; later ones resume it, so kills land at many steps.
            var arguments = Self.trainArguments(out: out)
            if trial > 0 { arguments += ["--resume", out] }
            let pid = try Self.spawn(arguments, environment: env, stdout: logs + "/out", stderr: logs + "/err")
            // Wait for the run to have written a checkpoint in this trial, then kill at a varied moment.
            let deadline = Date().addingTimeInterval(120)
            var written = false
            while Date() < deadline && !written {
                usleep(20_000)
                let text = (try? String(contentsOfFile: logs + "/out", encoding: .utf8)) ?? ""
                written = text.contains("\"event\":\"checkpoint\"")
            }
            #expect(written, "trial \(trial): no checkpoint within 120 s; stderr: \((try? String(contentsOfFile: logs + "/err", encoding: .utf8)) ?? "")")
            usleep(useconds_t(1_000 * (trial * 37 % 90)))
            kill(pid, SIGKILL)
            _ = Self.wait(pid)

            let manifest = try #require(FileManager.default.contents(atPath: out + "/training.json"), "trial \(trial): no manifest")
            let object = try #require(try JSONSerialization.jsonObject(with: manifest) as? [String: Any])
            let latest = try #require(object["latestStep"] as? Int)
            #expect(latest >= lastStep, "trial \(trial): the latest step went back from \(lastStep) to \(latest)")
            lastStep = latest
            let modelFile = out + String(format: "/step-%06d.safetensors", latest)
            for model in [modelFile, out + "/latest.safetensors"] {
                let check = try Self.run(["embed", "--model", model, "--caption", "nourishing cream"], environment: env)
                #expect(check.status == 0, "trial \(trial): \(model) does not load: \(check.err)")
                #expect(check.out.contains("\"z_t\""))
            }
        }
        // And the run continues from what the kills left.
        let resumed = try Self.run(Self.trainArguments(out: out).map { $0 == "100000" ? String(lastStep + 2) : $0 }
                                   + ["--resume", out], environment: ["VITRINE_CACHE": Self.fixture.cache])
        #expect(resumed.status == 0, "\(resumed.err)")
        let events = resumed.out.split(separator: "\n").map(String.init)
        // Feature-preparation events come first, then the run's plan.
        let started = events.first { $0.contains("\"event\":\"started\"") }
        #expect(started?.contains("\"startStep\":\(lastStep)") == true, "\(started ?? events.first ?? "")")
        #expect(events.last?.contains("\"outcome\":\"completed\"") == true, "\(events.last ?? "")")
    }

    @Test func sigtermFinishesTheStepWritesACheckpointAndReportsCancelled() throws {
        let env = ["VITRINE_CACHE": Self.fixture.cache]
        let out = NSTemporaryDirectory() + "vitrine-train-term-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let logs = NSTemporaryDirectory() + "vitrine-train-term-logs-\(getpid())"
        try FileManager.default.createDirectory(atPath: logs, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: logs) }
        var arguments = Self.trainArguments(out: out)
        arguments[arguments.firstIndex(of: "--checkpoint-every")! + 1] = "1000"
        let pid = try Self.spawn(arguments, environment: env, stdout: logs + "/out", stderr: logs + "/err")
        let deadline = Date().addingTimeInterval(120)
        var stepping = false
        while Date() < deadline && !stepping {
            usleep(20_000)
            stepping = ((try? String(contentsOfFile: logs + "/out", encoding: .utf8)) ?? "").contains("\"step\":3,")
        }
        // SIGSTOP/SIGCONT pause and continue it.
        kill(pid, SIGSTOP); usleep(200_000); kill(pid, SIGCONT); usleep(100_000)
        kill(pid, SIGTERM)
        let status = Self.wait(pid)
        #expect(status == 0, "\((try? String(contentsOfFile: logs + "/err", encoding: .utf8)) ?? "")")
        let lines = ((try? String(contentsOfFile: logs + "/out", encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(lines.last?.contains("\"outcome\":\"cancelled\"") == true, "\(lines.suffix(2))")
        #expect(lines.contains { $0.contains("\"event\":\"checkpoint\"") })
        #expect(FileManager.default.fileExists(atPath: out + "/latest.safetensors"))
    }
}
