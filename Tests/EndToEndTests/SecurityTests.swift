import Foundation
import Testing

/// What a hostile user tried with the release binary (issue 10 §2): each case crashed, hung, read
/// outside the dataset or silently did the wrong thing before; now each is a clear error or works.
@Suite(.serialized) struct SecurityTests {
    static let repository = ExplorerEndToEndTests.repository

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var seconds: Double
    }

    /// Runs `argv` (through the shell when `shell` is set) and waits; kills it after 60 s.
    static func run(_ argv: [String], cache: String) throws -> Output {
        let dir = NSTemporaryDirectory() + "vitrine-security-run-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let start = Date()
        let full = ["/usr/bin/timeout", "-s", "KILL", "60", "/usr/bin/env", "VITRINE_CACHE=" + cache, "HOME=" + cache] + argv
        let status = try Tmux.spawnAndWait(full, stdout: dir + "/out", stderr: dir + "/err")
        return Output(status: status, stdout: (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? "",
                      seconds: Date().timeIntervalSince(start))
    }

    static func vitrine(_ arguments: [String], cache: String) throws -> Output {
        try run([ExplorerEndToEndTests.binary] + arguments, cache: cache)
    }

    final class Scratch {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "vitrine-security-\(getpid())-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var cache: String { path + "/cache" }

        /// A Product1M folder with SampleData's first 20 gallery and 3 test lines and their images.
        func dataset(_ name: String = "data") throws -> String {
            let folder = path + "/" + name
            try FileManager.default.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
            for (file, count) in [("product1m_gallery_ossurl_v2.txt", 20), ("product1m_test_ossurl_v2.txt", 3)] {
                let text = try String(contentsOfFile: repository + "/SampleData/" + file, encoding: .utf8)
                let lines = text.split(separator: "\n").prefix(count)
                try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/" + file, atomically: true, encoding: .utf8)
                for line in lines {
                    let id = String(line.prefix { $0 != "#" })
                    try FileManager.default.copyItem(atPath: repository + "/SampleData/images/\(id).jpg", toPath: folder + "/images/\(id).jpg")
                }
            }
            return folder
        }
    }

    @Test func anEnormousTopIsNotATrap() throws {
        let scratch = try Scratch()
        let data = try scratch.dataset()
        let r = try Self.vitrine(["query", "serum", "--data", data, "--top", "9223372036854775807", "--json"], cache: scratch.cache)
        #expect(r.status == 0, "\(r.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect((object["matches"] as? [Any])?.count == 20)
    }

    /// A cache entry whose header declares a section of dimension 2^61 trapped on every later query;
    /// now it is treated as damaged and rebuilt.
    @Test func aHostileIndexHeaderIsRebuiltNotFatal() throws {
        let scratch = try Scratch()
        let data = try scratch.dataset()
        let first = try Self.vitrine(["index", "--data", data, "--json"], cache: scratch.cache)
        #expect(first.status == 0, "\(first.stderr)")
        let reports = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [[String: Any]])
        let path = try #require(reports.first?["path"] as? String)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
        var header = String(decoding: bytes[16 ..< 16 + headerLength], as: UTF8.self)
        let needle = "\"dimension\":384"
        #expect(header.contains(needle))
        let hostile = "\"dimension\":2305843009213693952"
        header = header.replacingOccurrences(of: needle, with: hostile)
        // The header is padded with spaces: give back as many as the hostile value took.
        let grown = hostile.utf8.count - needle.utf8.count
        #expect(header.hasSuffix(String(repeating: " ", count: grown)))
        header.removeLast(grown)
        bytes.replaceSubrange(16 ..< 16 + headerLength, with: Array(header.utf8))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for _ in 0 ..< 2 {
            let r = try Self.vitrine(["query", "serum", "--data", data, "--top", "3"], cache: scratch.cache)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.split(separator: "\n").count == 4, "\(r.stdout)")
        }
    }

    /// Where a file is expected, a FIFO or a device is refused at once: it used to hang forever
    /// (a FIFO waits for a writer) or read until memory ran out (/dev/zero).
    @Test func fifosAndDevicesAreRefusedAtOnce() throws {
        let scratch = try Scratch()
        let data = try scratch.dataset()
        let fifo = scratch.path + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let zeroLink = scratch.path + "/zero.safetensors"
        try FileManager.default.createSymbolicLink(atPath: zeroLink, withDestinationPath: "/dev/zero")
        let cases: [(String, [String])] = [
            ("eval --rankings FIFO", ["eval", "--data", data, "--rankings", fifo]),
            ("query --model FIFO", ["query", "x", "--data", data, "--model", fifo]),
            ("query --model /dev/zero", ["query", "x", "--data", data, "--model", "/dev/zero"]),
            ("query --model link to /dev/zero", ["query", "x", "--data", data, "--model", zeroLink]),
            ("flags import FIFO", ["flags", "import", fifo, "--format", "csv", "--store", scratch.path + "/f.sqlite"]),
        ]
        for (name, arguments) in cases {
            let r = try Self.vitrine(arguments, cache: scratch.cache)
            #expect(r.status != 0 && r.status != 137, "\(name): status \(r.status)")
            #expect(r.seconds < 30, "\(name) took \(r.seconds) s")
            #expect(r.stderr.contains("regular file") || r.stderr.contains("FIFO") || r.stderr.contains("device"), "\(name): \(r.stderr)")
        }
        // A split file that is a FIFO, or a symbolic link to /dev/zero.
        let test = data + "/product1m_test_ossurl_v2.txt"
        try FileManager.default.removeItem(atPath: test)
        #expect(mkfifo(test, 0o600) == 0)
        var r = try Self.vitrine(["info", "--data", data], cache: scratch.cache)
        #expect(r.status != 0 && r.seconds < 30 && r.stderr.contains("FIFO"), "\(r.stderr)")
        try FileManager.default.removeItem(atPath: test)
        try FileManager.default.createSymbolicLink(atPath: test, withDestinationPath: "/dev/zero")
        r = try Self.vitrine(["info", "--data", data], cache: scratch.cache)
        #expect(r.status != 0 && r.seconds < 30 && r.stderr.contains("device"), "\(r.stderr)")
    }

    /// A vitrine binary outside its checkout finds nothing from the working directory's ancestors.
    @Test func theInstallationIsFoundFromTheExecutableNotTheWorkingDirectory() throws {
        let scratch = try Scratch()
        let bin = scratch.path + "/elsewhere/vitrine"
        try FileManager.default.createDirectory(atPath: scratch.path + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: ExplorerEndToEndTests.binary, toPath: bin)
        // Planted where the old search looked: above the working directory.
        try FileManager.default.createDirectory(atPath: scratch.path + "/Weights", withIntermediateDirectories: true)
        _ = try scratch.dataset("SampleData")
        let work = scratch.path + "/work/deeper"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let r = try Self.run(["/bin/sh", "-c", "cd '\(work)' && exec env -u VITRINE_WEIGHTS -u VITRINE_DATA -u VITRINE_HOME '\(bin)' info"],
                             cache: scratch.cache)
        #expect(r.status != 0 && r.stderr.contains("no dataset given"), "\(r.stdout)\(r.stderr)")
        let embed = try Self.run(["/bin/sh", "-c", "cd '\(work)' && exec env -u VITRINE_WEIGHTS -u VITRINE_HOME '\(bin)' embed --caption x"],
                                 cache: scratch.cache)
        #expect(embed.status != 0 && embed.stderr.contains("not installed"), "\(embed.stderr)")
        #expect(!embed.stderr.contains(scratch.path + "/Weights"))
        // VITRINE_HOME names an installation explicitly.
        let home = try Self.run(["/bin/sh", "-c", "cd '\(work)' && exec env -u VITRINE_DATA VITRINE_HOME='\(scratch.path)' '\(bin)' info --json"],
                                cache: scratch.cache)
        #expect(home.status == 0 && home.stdout.contains("SampleData"), "\(home.stderr)")
    }

    @Test func optionsAPresetOrModeCannotUseAreErrors() throws {
        let scratch = try Scratch()
        for arguments in [["train", "--preset", "tiny", "--init-from", "/nonexistent"],
                          ["train", "--mode", "pretrain", "--positive-margin", "0.1"],
                          ["train", "--mode", "pretrain", "--flags", "/nonexistent"],
                          ["train", "--no-flags", "--flag-rule", "latest"]] {
            let r = try Self.vitrine(arguments, cache: scratch.cache)
            #expect(r.status == 64, "\(arguments): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("Error:"), "\(arguments): \(r.stderr)")
        }
    }
}
