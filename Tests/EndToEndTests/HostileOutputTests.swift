import Foundation
import Testing

/// Every subcommand's text and JSON output over data whose every field is hostile: a dataset (ids,
/// captions, labels, the folder's own name), a ranking file, a flags store and its CSV, theme and key
/// files, and paths in error messages, each carrying terminal control sequences (CSI colour, OSC 52
/// clipboard write, OSC 0 title, a C1 CSI, BEL, DEL, a bidirectional override). No byte of them may
/// reach standard output or standard error as a control character, and every JSON output must parse.
@Suite(.serialized) struct HostileOutputTests {
    static let repository = ExplorerEndToEndTests.repository

    /// The hostile pieces, each a different way into a terminal.
    static let payloads = [
        "\u{1B}[31mRED\u{1B}[0m",            // CSI: colour
        "\u{1B}]52;c;cHduZWQ=\u{07}",        // OSC 52: clipboard write
        "\u{1B}]0;pwned\u{1B}\\",            // OSC 0: window title, ST-terminated
        "\u{9B}2J",                          // C1 CSI: clear screen
        "bell\u{07}del\u{7F}",               // BEL, DEL
        "\u{202E}txt.exe",                   // right-to-left override
    ]
    static var hostile: String { payloads.joined(separator: " ") }

    /// What may never appear in output: C0 controls other than LF (and CR/TAB, which we never
    /// send either), DEL, C1 controls (as UTF-8 or as the raw byte 0x9B) and the bidi override.
    static func leaks(in bytes: [UInt8]) -> [String] {
        var found: [String] = []
        for (i, b) in bytes.enumerated() {
            if (b < 0x20 && b != 0x0A) || b == 0x7F || b == 0x9B && (i == 0 || bytes[i - 1] != 0xC2) {
                found.append(String(format: "byte 0x%02X at %d", b, i))
            }
            if b == 0xC2, i + 1 < bytes.count, (0x80 ... 0x9F).contains(bytes[i + 1]) {
                found.append(String(format: "C1 U+00%02X at %d", bytes[i + 1], i))
            }
            if b == 0xE2, i + 2 < bytes.count, bytes[i + 1] == 0x80, bytes[i + 2] == 0xAE {
                found.append("U+202E at \(i)")
            }
        }
        return found
    }

    struct Output {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    /// Runs the binary (no terminal: stdout and stderr are files) with the cache in `cache`.
    static func run(_ arguments: [String], cache: String, environment: [String] = [], stdin: String? = nil) throws -> Output {
        let dir = NSTemporaryDirectory() + "vitrine-hostile-run-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if let stdin { try stdin.write(toFile: dir + "/in", atomically: true, encoding: .utf8) }
        let argv = ["/usr/bin/env", "VITRINE_CACHE=" + cache, "HOME=" + cache, "XDG_CONFIG_HOME=" + cache + "/config"]
            + environment + [ExplorerEndToEndTests.binary] + arguments
        let status = try Tmux.spawnAndWait(argv, stdin: stdin == nil ? "/dev/null" : dir + "/in", stdout: dir + "/out",
                                           stderr: dir + "/err")
        let read = { (path: String) in [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()) }
        return Output(status: status, stdout: read(dir + "/out"), stderr: read(dir + "/err"))
    }

    /// A Product1M folder named with control sequences, built from SampleData's first lines with
    /// every caption and label hostile, plus lines whose ids are hostile (malformed: reported).
    /// `name` replaces the hostile folder name where a plain path is needed (sshd's configuration).
    static func hostileDataset(in root: String, name: String = "data \u{1B}[31mset\u{9B}2J") throws -> (folder: String, galleryIDs: [String], testIDs: [String]) {
        let folder = root + "/" + name
        try FileManager.default.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
        var galleryIDs: [String] = [], testIDs: [String] = []
        for (file, count) in [("product1m_gallery_ossurl_v2.txt", 12), ("product1m_test_ossurl_v2.txt", 3),
                              ("product1m_train_ossurl_v2.txt", 4), ("product1m_dev_ossurl_v2.txt", 2)] {
            let text = try String(contentsOfFile: repository + "/SampleData/" + file, encoding: .utf8)
            var out = ""
            for (n, line) in text.split(separator: "\n").prefix(count).enumerated() {
                let fields = line.components(separatedBy: "#####")
                let id = fields[0]
                let payload = payloads[n % payloads.count]
                out += [id, "caption \(payload) \(hostile)", fields[2], fields[3],
                        "label \(payload)#;#second \(hostile)"].joined(separator: "#####") + "\n"
                try FileManager.default.copyItem(atPath: repository + "/SampleData/images/\(id).jpg", toPath: folder + "/images/\(id).jpg")
                if file.contains("gallery") { galleryIDs.append(id) }
                if file.contains("test") { testIDs.append(id) }
            }
            // A line with a hostile id and one with a hostile field count: malformed, reported.
            out += "99\u{1B}[31m#####caption#####u#####u#####label\n"
            out += "\u{1B}]0;x\u{07}#####only two\n"
            try out.write(toFile: folder + "/" + file, atomically: true, encoding: .utf8)
        }
        return (folder, galleryIDs, testIDs)
    }

    @Test func noSubcommandLetsControlSequencesThrough() throws {
        let root = NSTemporaryDirectory() + "vitrine-hostile-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = root + "/cache"
        let (data, galleryIDs, testIDs) = try Self.hostileDataset(in: root)
        let payloads = Self.payloads, hostile = Self.hostile

        // A ranking file with hostile query and gallery ids (and one real line).
        let rankings = root + "/rank\u{1B}[1mings.txt"
        let realLine: String = testIDs[0] + "," + galleryIDs.joined(separator: ",")
        let hostileLine: String = "q\u{1B}]52;c;eA==\u{07}," + galleryIDs[0] + ",g\u{9B}31m"
        let rankingText: String = realLine + "\n" + hostileLine + "\n" + "\u{202E}evil,\u{1B}[2J\n"
        try rankingText.write(toFile: rankings, atomically: true, encoding: .utf8)

        // A flags CSV whose every field is hostile, one with a hostile header named twice.
        let csv = root + "/flags.csv"
        var rows = ["dataset,query,match,model,verdict,annotator,createdAt"]
        for (i, p) in payloads.enumerated() {
            rows.append("\"ds \(p)\",\"q \(p)\",\"m \(p)\",\"model \(p)\",wrong,\"ann \(p)\",2026-11-21T08:11:5\(i).123Z")
        }
        rows.append("\"ds\",\"q\",\"m\",\"model\",\"verdict \u{1B}[31m\",\"ann\",2026-11-21T08:11:58.123Z")
        try (rows.joined(separator: "\r\n") + "\r\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let badHeader = root + "/bad-header.csv"
        try "dataset,query,match,model,verdict,annotator,createdAt,x\u{1B}[31m,X\u{1B}[31m\r\n".write(toFile: badHeader, atomically: true, encoding: .utf8)
        let store = root + "/flags.sqlite"

        // Theme and key files with hostile names and contents.
        let themes = root + "/themes"
        try FileManager.default.createDirectory(atPath: themes, withIntermediateDirectories: true)
        try "[colors]\n".write(toFile: themes + "/x\u{1B}]0;t\u{07}.toml", atomically: true, encoding: .utf8)
        let keys = root + "/keys.toml"
        try "[keys]\n\"move.\u{1B}[31mdown\" = [\"\u{9B}x\"]\n".write(toFile: keys, atomically: true, encoding: .utf8)

        let themeEnv = ["VITRINE_THEMES=" + themes]
        // `tabs`: a TSV export into a file or pipe, whose own field separators are tabs (a tab in
        // the data is written as \t: SampleExportTests).
        struct Case { var name: String; var arguments: [String]; var environment: [String]; var json: Bool; var stdin: String?; var tabs: Bool }
        var cases: [Case] = []
        func add(_ name: String, _ arguments: [String], _ environment: [String] = [], json: Bool = false, stdin: String? = nil,
                 tabs: Bool = false) {
            cases.append(Case(name: name, arguments: arguments, environment: environment, json: json, stdin: stdin, tabs: tabs))
        }
        add("info text", ["info", "--data", data])
        add("info json", ["info", "--data", data, "--json"], json: true)
        add("index text", ["index", "--data", data])
        add("index json", ["index", "--data", data, "--json"], json: true)
        add("query caption text", ["query", "caption " + hostile, "--data", data, "--top", "5"])
        add("query caption json", ["query", "caption " + hostile, "--data", data, "--top", "5", "--json"], json: true)
        add("query sample text", ["query", "--sample", testIDs[0], "--data", data])
        add("query sample json", ["query", "--sample", testIDs[0], "--data", data, "--json"], json: true)
        add("query label text", ["query", "x", "--label", "label " + payloads[0], "--data", data])
        add("query unknown sample", ["query", "--sample", "s\u{1B}[31m", "--data", data])
        add("query missing image", ["query", "--image", root + "/no\u{1B}]0;t\u{07}.jpg", "--data", data])
        add("query stdin json lines", ["query", "--stdin", "--data", data, "--top", "3"], stdin: "caption " + hostile + "\n{\"sample\": \"" + testIDs[0] + "\"}\n{\"sample\": \"s\u{1B}[31m\"}\n{\"bogus\u{1B}[31m\": 1}\n")
        add("features text", ["features", "--data", data])
        add("features json", ["features", "--data", data, "--json"], json: true)
        add("features unknown split", ["features", "--data", data, "--split", "x\u{1B}[31m"])
        add("eval rankings text", ["eval", "--data", data, "--rankings", rankings])
        add("eval rankings json", ["eval", "--data", data, "--rankings", rankings, "--json"], json: true)
        add("eval bm25 text", ["eval", "--data", data, "--baseline", "bm25"])
        add("eval bm25 json", ["eval", "--data", data, "--baseline", "bm25", "--json"], json: true)
        add("eval out with hostile ids", ["eval", "--data", data, "--rankings", rankings, "--out", root + "/out"])
        add("embed json", ["embed", "--caption", hostile, "--json"], json: true)
        add("export tsv", ["export", "--data", data], tabs: true)
        add("export jsonl, filtered", ["export", "--data", data, "--split", "test", "--filter", "a", "--format", "jsonl"])
        add("export to a file", ["export", "--data", data, "--out", root + "/samples.tsv"])
        add("export unknown split", ["export", "--data", data, "--split", "x\u{1B}[31m"])
        add("compare bm25 random text", ["compare", "bm25", "random", "--data", data])
        add("compare bm25 random json", ["compare", "bm25", "random", "--data", data, "--json"], json: true)
        add("flags import", ["flags", "import", csv, "--store", store])
        add("flags import bad header", ["flags", "import", badHeader, "--store", store])
        add("flags add", ["flags", "add", "--store", store, "--dataset", "d " + hostile, "--query", "q " + hostile, "--match", "m " + hostile, "--verdict", "wrong", "--annotator", "a " + hostile])
        add("flags list", ["flags", "list", "--store", store])
        add("flags export csv to a file", ["flags", "export", "--store", store, "--format", "csv", "--out", root + "/export.csv"])
        add("flags export jsonl", ["flags", "export", "--store", store, "--format", "jsonl"])
        add("flags pairs", ["flags", "pairs", "--store", store, "--dataset", "ds " + payloads[0]])
        add("flags bad verdict", ["flags", "add", "--store", store, "--dataset", "d", "--query", "q", "--match", "m", "--verdict", "v\u{1B}[31m"])
        add("themes", ["themes"], themeEnv)
        add("doctor", ["doctor"], themeEnv)
        add("keys with hostile file", ["keys", "--keys", keys])
        add("missing data folder", ["info", "--data", root + "/nope\u{1B}[31m"])
        add("unknown option", ["info", "--\u{1B}[31mx"])
        add("sample-data hostile folder", ["sample-data", "--out", root + "/sd\u{1B}[31m", "--no-images", "--train", "3", "--dev", "1", "--test", "1", "--brands", "1", "--gallery-views", "1", "--quiet"])
        if ProcessInfo.processInfo.environment["VITRINE_HOSTILE_TRAIN"] != "0" {
            add("train json", ["train", "--data", data, "--preset", "tiny", "--steps", "1", "--out", root + "/run", "--no-flags", "--json"])
        }
        var coverage: [String] = []
        for c in cases {
            let output = try Self.run(c.arguments, cache: cache, environment: c.environment, stdin: c.stdin)
            for (stream, bytes) in [("stdout", output.stdout), ("stderr", output.stderr)] {
                let leaks = Self.leaks(in: c.tabs && stream == "stdout" ? bytes.filter { $0 != 0x09 } : bytes)
                #expect(leaks.isEmpty, "\(c.name) \(stream) (status \(output.status)): \(leaks.prefix(5)) in \(String(decoding: bytes.prefix(600), as: UTF8.self).debugDescription)")
            }
            if c.json {
                #expect(output.status == 0, "\(c.name): \(String(decoding: output.stderr, as: UTF8.self))")
                #expect((try? JSONSerialization.jsonObject(with: Data(output.stdout))) != nil, "\(c.name): stdout is not JSON")
            }
            coverage.append("\(c.name): status \(output.status), \(output.stdout.count)+\(output.stderr.count) bytes")
        }
        // A CSV export into a pipe is the file format itself, byte for byte (CSV cannot escape a
        // control character): exactly what --out writes. On a terminal it is escaped
        // (SafeTextTests: terminalLines keeping CRLF).
        let piped = try Self.run(["flags", "export", "--store", store, "--format", "csv"], cache: cache)
        let file = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/export.csv")))
        #expect(piped.stdout == file && !Self.leaks(in: file).isEmpty, "the export is exact, hostile bytes included")
        // An exported file is as safe to print as the output.
        let exported = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/samples.tsv")))
        #expect(Self.leaks(in: exported.filter { $0 != 0x09 }).isEmpty && String(decoding: exported, as: UTF8.self).contains("\\u{1B}"))
        // The hostile data did reach the output (escaped), so the checks above saw it.
        let info = try Self.run(["info", "--data", data], cache: cache)
        #expect(String(decoding: info.stdout, as: UTF8.self).contains("\\u{1b}[31mset"))
        let list = try Self.run(["flags", "list", "--store", store], cache: cache)
        #expect(String(decoding: list.stdout, as: UTF8.self).contains("\\u{1b}]52;c;cHduZWQ="))
        print("hostile-output coverage (\(cases.count) runs):\n  " + coverage.joined(separator: "\n  "))
    }
}
