import Foundation

enum PeakMemory {
    /// Peak resident memory, in KiB, of the process `argv`. It is started from a small Python
    /// parent: a process spawned straight from this test runner would inherit the runner's own
    /// high-water mark (Linux keeps it across the vfork and exec), which is far above the bound.
    /// Its standard output goes to `stdout` (discarded when nil).
    static func kib(_ argv: [String], stdout: String? = nil) throws -> (status: Int32, kib: Int) {
        let dir = NSTemporaryDirectory() + "vitrine-peak-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = "import resource, subprocess, sys\n"
            + "out = open(sys.argv[1], 'wb') if sys.argv[1] else subprocess.DEVNULL\n"
            + "r = subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)\n"
            + "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        let status = try Tmux.spawnAndWait(["python3", "-c", script, stdout ?? ""] + argv, stdout: dir + "/out", stderr: dir + "/err")
        let out = (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? ""
        let fields = out.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        guard status == 0, fields.count == 2 else { throw CocoaError(.fileReadCorruptFile) }
        return (Int32(fields[0]), fields[1])
    }
}

enum GeneratedData {
    /// A fresh folder in the temporary directory made by `vitrine sample-data --out DIR --quiet
    /// arguments...` (stops the tests when the generator fails).
    static func make(_ name: String, _ arguments: [String]) -> String {
        let dir = NSTemporaryDirectory() + "vitrine-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        let status = try? Tmux.spawnAndWait([ExplorerEndToEndTests.binary, "sample-data", "--out", dir, "--quiet"] + arguments,
                                            stdout: "/dev/null", stderr: "/dev/null")
        precondition(status == 0, "vitrine sample-data \(arguments.joined(separator: " ")) failed")
        return dir
    }
}
