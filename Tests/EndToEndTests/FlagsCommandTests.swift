import Foundation
import Testing

/// `vitrine flags` as scripts and annotators use it: the real binary, several processes
/// on one store at once, and writers killed with SIGKILL.
@Suite struct FlagsCommandTests {
    static var binary: String { ExplorerEndToEndTests.binary }

    /// A scratch folder with a store path in it.
    final class Scratch {
        let path: String
        init() throws {
            path = NSTemporaryDirectory() + "vitrine-flags-e2e-\(getpid())-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        var store: String { path + "/store/flags.sqlite" }
        func write(_ name: String, _ text: String) throws -> String {
            let file = path + "/" + name
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            return file
        }
        func read(_ name: String) -> String { (try? String(contentsOfFile: path + "/" + name, encoding: .utf8)) ?? "" }
    }

    /// Runs `vitrine` with the arguments and waits for it.
    func vitrine(_ arguments: [String], in scratch: Scratch) throws -> (status: Int32, stdout: String, stderr: String) {
        let out = scratch.path + "/out.\(UUID().uuidString.prefix(6))", err = out + ".err"
        let status = try Tmux.spawnAndWait([Self.binary] + arguments, stdout: out, stderr: err)
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        return (status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Starts `argv` in its own process group (so the group can be killed at once), without waiting.
    static func start(_ argv: [String], stdout: String, stderr: String) throws -> pid_t {
        try Tmux.spawn(argv, stdout: stdout, stderr: stderr, newProcessGroup: true)
    }

    static func wait(_ pid: pid_t) -> Int32 { Tmux.wait(pid) }

    /// The JSON-lines export of the store, one object per line, parsed.
    func exported(_ scratch: Scratch) throws -> [[String: String]] {
        let r = try vitrine(["flags", "export", "--format", "jsonl", "--store", scratch.store], in: scratch)
        #expect(r.status == 0, "export failed: \(r.stderr)")
        return try r.stdout.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        }
    }

    static func csvLines(_ count: Int, prefix: String, annotator: String) -> String {
        var text = "dataset,query,match,model,verdict,annotator,createdAt\n"
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        for i in 0..<count {
            let stamp = formatter.string(from: Date(timeIntervalSince1970: 1_795_000_000 + Double(i) / 1000))
            text += "SampleData,\"\(prefix)\(i), \"\"quoted\"\"\",m\(i),zero-shot,\(i % 2 == 0 ? "wrong" : "confirmed"),\(annotator),\(stamp)\n"
        }
        return text
    }

    @Test func addListExportAndImportRoundTripNastyText() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build first (make build): \(Self.binary)")
        let s = try Scratch()
        let queries = ["caption:red, \"matte\" lipstick\nsecond line", "plain", "emoji 💄 \u{1B}[31mred"]
        for (i, q) in queries.enumerated() {
            let r = try vitrine(["flags", "add", "--store", s.store, "--dataset", "SampleData", "--query", q, "--match", "m,\(i)",
                                 "--verdict", i == 1 ? "confirmed" : "wrong", "--annotator", "ann", "--at", "2026-11-21T08:11:5\(i).12\(i)Z"], in: s)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == i + 1, "add prints the new id")
        }
        // list escapes control characters: no raw newline or ESC from the data reaches the terminal.
        let list = try vitrine(["flags", "list", "--store", s.store], in: s)
        #expect(list.status == 0)
        #expect(list.stdout.split(separator: "\n").count == 4, "\(list.stdout)")
        #expect(list.stdout.contains("lipstick\\nsecond line") && list.stdout.contains("\\u{1b}[31mred"))
        #expect(!list.stdout.contains("\u{1B}"))

        for format in ["csv", "jsonl"] {
            let first = s.path + "/first.\(format)", second = s.path + "/second.\(format)"
            #expect(try vitrine(["flags", "export", "--store", s.store, "--out", first], in: s).status == 0)
            let other = s.path + "/other-\(format).sqlite"
            let imported = try vitrine(["flags", "import", first, "--store", other], in: s)
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(imported.stdout.contains("3 added, 0 duplicates skipped"), "\(imported.stdout)")
            #expect(try vitrine(["flags", "export", "--store", other, "--format", format, "--out", second], in: s).status == 0)
            let a = try Data(contentsOf: URL(fileURLWithPath: first)), b = try Data(contentsOf: URL(fileURLWithPath: second))
            #expect(a == b && !a.isEmpty, "\(format) export -> import -> export differs")
        }
        let csv = s.read("first.csv")
        #expect(csv.hasPrefix("dataset,query,match,model,verdict,annotator,createdAt,modelName,role\r\n"))
        #expect(csv.contains("\"caption:red, \"\"matte\"\" lipstick\nsecond line\",\"m,0\""))
        #expect(csv.contains("2026-11-21T08:11:50.120Z"))

        // Undo the newest; the store's list shrinks; undoing it again says why not.
        #expect(try vitrine(["flags", "undo", "3", "--store", s.store], in: s).status == 0)
        #expect(try exported(s).count == 2)
        let again = try vitrine(["flags", "undo", "3", "--store", s.store], in: s)
        #expect(again.status != 0 && again.stderr.contains("not current"))
    }

    @Test func badInputSaysWhatWhereAndWhatToDo() throws {
        let s = try Scratch()
        let bad = try s.write("bad.csv", """
            dataset,query,match,model,verdict,annotator,createdAt
            SampleData,q1,m1,zero-shot,wrong,ann,2026-11-21T08:11:58.123Z
            SampleData,q2,m1,zero-shot,meh,ann,2026-11-21T08:11:58.123Z
            SampleData,"q3
            still q3",m1,zero-shot,wrong,ann,2026-11-21T08:11:58.123Z
            SampleData,q4,m1,zero-shot,wrong,ann,not a time

            """)
        let r = try vitrine(["flags", "import", bad, "--store", s.store], in: s)
        #expect(r.status == 1)
        #expect(r.stdout.contains("2 added") && r.stdout.contains("2 malformed lines"), "\(r.stdout)")
        #expect(r.stderr.contains("line 3: unknown verdict \"meh\""), "\(r.stderr)")
        #expect(r.stderr.contains("line 6: createdAt \"not a time\""), "\(r.stderr)")
        // Strict: nothing at all.
        let strictStore = s.path + "/strict.sqlite"
        let strict = try vitrine(["flags", "import", bad, "--strict", "--store", strictStore], in: s)
        #expect(strict.status != 0 && strict.stderr.contains("nothing imported"), "\(strict.stderr)")

        let notSQLite = try s.write("notes.sqlite", String(repeating: "not a database\n", count: 100))
        let opened = try vitrine(["flags", "list", "--store", notSQLite], in: s)
        #expect(opened.status != 0 && opened.stderr.contains(notSQLite) && opened.stderr.contains("not an SQLite database"), "\(opened.stderr)")

        let invalid = s.path + "/latin1.jsonl"
        try Data(#"{"dataset":"d","query":"caf"#.utf8 + [0xE9] + #"","match":"m","model":"x","verdict":"wrong","annotator":"a","createdAt":"2026-11-21T08:11:58Z"}"#.utf8 + [0x0A])
            .write(to: URL(fileURLWithPath: invalid))
        let latin = try vitrine(["flags", "import", invalid, "--store", s.store], in: s)
        #expect(latin.status == 1 && latin.stderr.contains("line 1: not valid UTF-8"), "\(latin.stderr)")

        let verdict = try vitrine(["flags", "add", "--store", s.store, "--dataset", "d", "--query", "q", "--match", "m", "--verdict", "maybe"], in: s)
        #expect(verdict.status != 0 && verdict.stderr.contains("'maybe' is invalid for '--verdict") && verdict.stderr.contains("'wrong' and 'confirmed'"), "\(verdict.stderr)")
        let format = try vitrine(["flags", "import", try s.write("flags.txt", "x"), "--store", s.store], in: s)
        #expect(format.status != 0 && format.stderr.contains("--format csv|jsonl"), "\(format.stderr)")
    }

    @Test func severalProcessesWritingAtOnceLoseNothing() throws {
        let s = try Scratch()
        let loops = 4, adds = 20, importLines = 1500
        var pids: [pid_t] = []
        // The store does not exist yet: the processes race to create it too.
        for w in 0..<loops {
            let script = """
                for i in $(seq 1 \(adds)); do
                  "$0" flags add --store "$1" --dataset SampleData --query "w\(w)-q$i" --match "m$i" --verdict wrong --annotator "writer\(w)" >/dev/null || exit 1
                done
                """
            pids.append(try Self.start(["bash", "-c", script, Self.binary, s.store], stdout: s.path + "/loop\(w).out", stderr: s.path + "/loop\(w).err"))
        }
        for k in 0..<2 {
            let file = try s.write("import\(k).csv", Self.csvLines(importLines, prefix: "import\(k)-", annotator: "importer\(k)"))
            pids.append(try Self.start([Self.binary, "flags", "import", file, "--store", s.store],
                                       stdout: s.path + "/import\(k).out", stderr: s.path + "/import\(k).err"))
        }
        for (i, pid) in pids.enumerated() {
            let status = Self.wait(pid)
            let name = i < loops ? "loop\(i)" : "import\(i - loops)"
            #expect(status == 0, "\(name) exited \(status): \(s.read(name + ".err"))")
        }
        let flags = try exported(s)
        #expect(flags.count == loops * adds + 2 * importLines)
        for w in 0..<loops {
            let mine = Set(flags.filter { $0["annotator"] == "writer\(w)" }.compactMap { $0["query"] })
            #expect(mine == Set((1...adds).map { "w\(w)-q\($0)" }), "writer\(w) lost flags")
        }
        for k in 0..<2 {
            #expect(flags.filter { $0["annotator"] == "importer\(k)" }.count == importLines)
        }
    }

    @Test func aWriterKilledMidStreamLeavesEveryCommittedFlag() throws {
        let s = try Scratch()
        // 1. A stream of single adds; each one's query is logged only after it committed.
        let script = """
            for i in $(seq 1 100000); do
              "$0" flags add --store "$1" --dataset SampleData --query "q$i" --match m --verdict confirmed --annotator ann >/dev/null || exit 1
              echo "q$i" >> "$2"
            done
            """
        let log = s.path + "/committed.log"
        let loop = try Self.start(["bash", "-c", script, Self.binary, s.store, log], stdout: s.path + "/loop.out", stderr: s.path + "/loop.err")
        let deadline = Date().addingTimeInterval(20)
        while s.read("committed.log").split(separator: "\n").count < 15 && Date() < deadline { usleep(20_000) }
        usleep(UInt32.random(in: 0..<40_000))          // land anywhere inside the next add
        kill(-loop, SIGKILL)                            // bash and the vitrine it is running
        #expect(Self.wait(loop) == 128 + SIGKILL)
        let committed = s.read("committed.log").split(separator: "\n").map(String.init)
        #expect(committed.count >= 15, "the add loop did not get going: \(s.read("loop.err"))")
        let stored = Set(try exported(s).compactMap { $0["query"] })
        #expect(Set(committed).isSubset(of: stored), "committed flags missing: \(Set(committed).subtracting(stored).sorted())")
        #expect(stored.count <= committed.count + 1, "more flags than adds were started")

        // 2. A long import killed while it writes: the store holds whole batches, a prefix of the file.
        let lines = 20_000
        let file = try s.write("big.csv", Self.csvLines(lines, prefix: "big", annotator: "bulk"))
        let other = s.path + "/bulk/flags.sqlite"
        let importer = try Self.start([Self.binary, "flags", "import", file, "--store", other], stdout: s.path + "/big.out", stderr: s.path + "/big.err")
        let walDeadline = Date().addingTimeInterval(20)
        while Date() < walDeadline {
            let size = (try? FileManager.default.attributesOfItem(atPath: other + "-wal")[.size] as? Int) ?? 0
            if size > 150_000 { break }      // a batch or two are in
            usleep(5_000)
        }
        kill(importer, SIGKILL)
        _ = Self.wait(importer)
        let list = try vitrine(["flags", "export", "--format", "jsonl", "--store", other], in: s)
        #expect(list.status == 0, "the store is not readable after SIGKILL: \(list.stderr)")
        let queries = list.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])?["query"]
        }
        #expect(queries.count < lines, "the import ended before it was killed: this run proves nothing")
        #expect(queries.count % 500 == 0, "a partial batch is visible: \(queries.count)")
        #expect(queries == (0..<queries.count).map { "big\($0), \"quoted\"" }, "not a prefix of the file")
        // Importing again completes it; what was committed is skipped.
        let resumed = try vitrine(["flags", "import", file, "--store", other], in: s)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("\(lines - queries.count) added, \(queries.count) duplicate"), "\(resumed.stdout)")
    }

    /// One huge field (1 MB, imported from a file) costs its own row and no more: `flags list`
    /// stays linear (it was quadratic in the longest field: 145 s for 100 KB) and its cells are
    /// cut with an ellipsis, while `flags export` still gives the field whole.
    @Test func aHugeFieldDoesNotStallTheList() throws {
        let scratch = try Scratch()
        let huge = String(repeating: "商品 ", count: 350_000)
        var csv = "dataset,query,match,model,verdict,annotator,createdAt\r\n"
        csv += "ds,\"caption:\(huge)\",m1,zero-shot,wrong,ana,2026-11-21T08:11:58.123Z\r\n"
        csv += "ds,q2,m2,zero-shot,confirmed,ben,2026-11-21T08:11:59.123Z\r\n"
        let file = try scratch.write("huge.csv", csv)
        #expect(try vitrine(["flags", "import", file, "--store", scratch.store], in: scratch).status == 0)
        let start = Date()
        let list = try vitrine(["flags", "list", "--store", scratch.store], in: scratch)
        let seconds = Date().timeIntervalSince(start)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(seconds < 20, "flags list took \(seconds) s")
        #expect(list.stdout.utf8.count < 2_000, "the list holds \(list.stdout.utf8.count) bytes")
        #expect(list.stdout.contains("…") && list.stdout.contains("q2"))
        let export = try vitrine(["flags", "export", "--store", scratch.store, "--format", "csv"], in: scratch)
        #expect(export.stdout.contains(huge))
    }
}
