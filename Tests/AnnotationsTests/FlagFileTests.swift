import Foundation
import Testing
import Annotations

/// Strings that break naive CSV and JSON writers, and the occasional terminal.
let nastyStrings: [String] = [
    "plain",
    "caption:red lipstick, matte, 3.5 g",
    "say \"hello\", \"world\"",
    "\"",
    "\"\"",
    ",",
    "line one\nline two",
    "windows\r\nline",
    "lone\rcarriage",
    "trailing newline\n",
    "  padded  ",
    "\ttab\tseparated\t",
    "back\\slash \\n not a newline",
    "{\"json\": [1, 2]}",
    "emoji 💄👩🏽‍🎨 and flags 🇫🇷",
    "e\u{301} combining and é precomposed",
    "right-to-left שלום مرحبا",
    "控制 \u{1B}[31m escape \u{7}bell \u{7F}del \u{9B}csi",
    "separators \u{2028} line \u{2029} paragraph",
    "zero\u{200B}width and BOM \u{FEFF} inside",
    "=SUM(A1:A2)",
]

func nastyFlags() -> [Flag] {
    var flags: [Flag] = []
    for (i, s) in nastyStrings.enumerated() {
        let verdict: Verdict = i % 2 == 0 ? .wrong : .confirmed
        let other = nastyStrings[(i + 7) % nastyStrings.count]
        flags.append(Flag(dataset: "set " + s, query: "caption:" + s, match: s, model: other, verdict: verdict,
                          annotator: other + " & " + s,
                          createdAt: FlagTime.date(milliseconds: 1_795_000_000_000 + Int64(i) * 1_001)))
    }
    return flags
}

@Suite struct FlagFileTests {
    @Test(arguments: FlagFileFormat.allCases)
    func exportImportExportIsExactWithNastyStrings(format: FlagFileFormat) throws {
        let tmpA = try TemporaryFolder(), tmpB = try TemporaryFolder()
        let a = try FlagStore(path: tmpA.store)
        for f in nastyFlags() { try a.record(f) }
        let exported = try a.export(format: format)

        let file = tmpB.path + "/flags." + format.rawValue
        try exported.write(to: URL(fileURLWithPath: file))
        let b = try FlagStore(path: tmpB.store)
        let report = try b.importFile(file)
        #expect(report.added == nastyStrings.count && report.duplicates == 0 && report.malformed.isEmpty, "\(report)")
        #expect(try b.allFlags().map(content) == nastyFlags().map(content))
        #expect(try b.export(format: format) == exported)

        // Importing again adds nothing.
        let again = try b.importFile(file)
        #expect(again.added == 0 && again.duplicates == nastyStrings.count)
        #expect(try b.history().count == nastyStrings.count)
    }

    @Test func csvIsRFC4180() throws {
        let f = Flag(dataset: "d", query: "caption:a, \"b\"\nc", match: "m", model: "zero-shot", verdict: .wrong,
                     annotator: "ann", createdAt: FlagTime.date(milliseconds: 1_795_248_718_123))
        let text = String(decoding: FlagFile.encode([f], format: .csv), as: UTF8.self)
        #expect(text == "dataset,query,match,model,verdict,annotator,createdAt,modelName,role\r\n"
                + "d,\"caption:a, \"\"b\"\"\nc\",m,zero-shot,wrong,ann,2026-11-21T08:11:58.123Z,zero-shot,annotator\r\n")
    }

    @Test func jsonLinesDecodeAsFlagObjects() throws {
        let flags = nastyFlags()
        let data = FlagFile.encode(flags, format: .jsonl)
        let lines = data.split(separator: UInt8(ascii: "\n"))
        #expect(lines.count == flags.count)
        // Every line is a JSON object that decodes as a `Flag` with JSONDecoder's ISO 8601 dates.
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        for (line, f) in zip(lines, flags) {
            let decoded = try decoder.decode(Flag.self, from: Data(line))
            #expect(decoded.query == f.query && decoded.annotator == f.annotator && decoded.verdict == f.verdict)
            #expect(abs(decoded.createdAt.timeIntervalSince(f.createdAt)) < 0.001)
            // No raw control characters, so the file is safe to cat.
            #expect(!line.contains { $0 < 0x20 })
        }
    }

    @Test func malformedCSVLinesAreReportedWithTheirLineNumbers() throws {
        let good = "SampleData,q1,m1,zero-shot,wrong,ann,2026-11-21T08:11:58.123Z"
        var bytes = Array("dataset,query,match,model,verdict,annotator,createdAt\n".utf8)  // line 1
        bytes += Array((good + "\n").utf8)                                                    // 2: fine
        bytes += Array("SampleData,\"multi\nline, quoted\",m1,zero-shot,confirmed,ann,2026-11-21T08:11:58Z\n".utf8) // 3-4: fine
        bytes += Array("SampleData,q1,m1,zero-shot,maybe,ann,2026-11-21T08:11:58Z\n".utf8)   // 5: verdict
        bytes += Array("SampleData,q1,m1,zero-shot,wrong,ann,yesterday\n".utf8)              // 6: time
        bytes += Array("SampleData,q1,m1,zero-shot,wrong,ann\n".utf8)                        // 7: 6 fields
        bytes += Array("SampleData,q\"1,m1,zero-shot,wrong,ann,2026-11-21T08:11:58Z\n".utf8) // 8: stray quote
        bytes += Array("SampleData,q1,".utf8) + [0xFF, 0xFE] + Array(",zero-shot,wrong,ann,2026-11-21T08:11:58Z\n".utf8) // 9: UTF-8
        bytes += Array("\n".utf8)                                                             // 10: blank, skipped
        bytes += Array("SampleData,,m1,zero-shot,wrong,ann,2026-11-21T08:11:58Z\n".utf8)     // 11: empty query
        bytes += Array("SampleData,\"q1\"x,m1,zero-shot,wrong,ann,2026-11-21T08:11:58Z\n".utf8) // 12: after quote
        bytes += Array((good.replacingOccurrences(of: "q1", with: "q9") + "\r\n").utf8)     // 13: fine (CRLF)
        bytes += Array("SampleData,\"never closed,m1\n".utf8)                                 // 14-: unterminated
        bytes += Array((good + "\n").utf8)
        let contents = try FlagFile.decode(Data(bytes), format: .csv)
        #expect(contents.lines == [2, 3, 13])
        #expect(contents.flags[1].query == "multi\nline, quoted")
        #expect(contents.malformed.map(\.line) == [5, 6, 7, 8, 9, 11, 12, 14])
        let reasons = contents.malformed.map(\.reason)
        #expect(reasons[0].contains("unknown verdict \"maybe\""))
        #expect(reasons[1].contains("createdAt \"yesterday\""))
        #expect(reasons[2].contains("6 fields"))
        #expect(reasons[3].contains("quote inside unquoted field 2"))
        #expect(reasons[4].contains("match is not valid UTF-8"))
        #expect(reasons[5].contains("query is empty"))
        #expect(reasons[6].contains("after the closing quote"))
        #expect(reasons[7].contains("never closed"))
    }

    @Test func malformedJSONLinesAreReportedWithTheirLineNumbers() throws {
        var bytes: [UInt8] = []
        let good = #"{"dataset":"d","query":"q","match":"m","model":"zero-shot","verdict":"wrong","annotator":"a","createdAt":"2026-11-21T08:11:58.123Z"}"#
        bytes += Array((good + "\n").utf8)                                                          // 1
        bytes += Array("not json at all\n".utf8)                                                    // 2
        bytes += Array("[1, 2, 3]\n".utf8)                                                          // 3
        bytes += Array((good.replacingOccurrences(of: #""annotator":"a","#, with: "") + "\n").utf8) // 4 missing
        bytes += Array((good.replacingOccurrences(of: #""match":"m""#, with: #""match":42"#) + "\n").utf8) // 5 number
        bytes += Array("  \n".utf8)                                                                 // 6 blank
        bytes += Array(#"{"dataset":"d","query":""#.utf8) + [0xC3, 0x28] + Array(#"","match":"m"}"#.utf8) + [0x0A] // 7
        bytes += Array((good.replacingOccurrences(of: "wrong", with: "WRONG") + "\r\n").utf8)     // 8 fine (case, CRLF)
        bytes += Array((good.replacingOccurrences(of: #""q""#, with: #""a\u0000b""#) + "\n").utf8) // 9 NUL
        bytes += Array((good.replacingOccurrences(of: "createdAt", with: "created_at")).utf8)      // 10 alias, no final newline
        let contents = try FlagFile.decode(Data(bytes), format: .jsonl)
        #expect(contents.lines == [1, 8, 10])
        #expect(contents.flags.map(\.verdict) == [.wrong, .wrong, .wrong])
        #expect(contents.malformed.map(\.line) == [2, 3, 4, 5, 7, 9])
        let reasons = contents.malformed.map(\.reason)
        #expect(reasons[0].contains("not valid JSON"))
        #expect(reasons[1].contains("not an object"))
        #expect(reasons[2].contains("annotator is missing"))
        #expect(reasons[3].contains("match is not a string"))
        #expect(reasons[4].contains("not valid UTF-8 (at byte 25"))
        #expect(reasons[5].contains("NUL"))
    }

    @Test func importReportsMalformedLinesAndImportsTheRest() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        let file = tmp.path + "/mixed.csv"
        try Data("""
            dataset,query,match,model,verdict,annotator,createdAt
            d,q1,m1,zero-shot,wrong,ann,2026-11-21T08:11:58.123Z
            d,q2,m1,zero-shot,perhaps,ann,2026-11-21T08:11:58.123Z
            d,q3,m1,zero-shot,confirmed,ann,2026-11-21T08:11:59.000Z

            """.utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: FlagStoreError.self) { try store.importFile(file, strict: true) }
        #expect(try store.allFlags().isEmpty, "strict mode imported something")
        let report = try store.importFile(file)
        #expect(report.read == 2 && report.added == 2)
        #expect(report.malformed == [MalformedLine(line: 3, reason: "unknown verdict \"perhaps\" (expected one of: wrong, confirmed)")])
        #expect(try store.allFlags().map(\.query) == ["q1", "q3"])
    }

    @Test func wholeFileProblemsAreErrors() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        let noHeader = tmp.path + "/noheader.csv"
        try Data("d,q1,m1,zero-shot,wrong,ann,2026-11-21T08:11:58.123Z\n".utf8).write(to: URL(fileURLWithPath: noHeader))
        #expect {
            try store.importFile(noHeader)
        } throws: { error in
            "\(error)".contains("line 1") && "\(error)".contains("lacks the columns")
        }
        let unknown = tmp.path + "/flags.txt"
        try Data().write(to: URL(fileURLWithPath: unknown))
        #expect { try store.importFile(unknown) } throws: { "\($0)".contains("--format") }
        #expect { try store.importFile(tmp.path + "/missing.csv") } throws: { "\($0)".contains("no such file") }
        // The same bytes import when the format is given.
        try Data("dataset,query,match,model,verdict,annotator,createdAt\r\n".utf8).write(to: URL(fileURLWithPath: unknown))
        #expect(try store.importFile(unknown, format: .csv).read == 0)
    }

    @Test func importKeepsTheNewestVerdictCurrentAndOlderOnesAsHistory() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        let mine = try store.record(flag(.wrong, at: 100))
        let older = flag(.confirmed, at: 50)
        let newer = flag(.confirmed, at: 200)
        let report = try store.importFlags([older, newer, flag(.wrong, by: "bob", at: 10)])
        #expect(report.added == 2 && report.keptAsHistory == 1 && report.duplicates == 0)
        let current = try store.flags(dataset: "SampleData", query: "q1")
        #expect(current.map(content) == [content(flag(.wrong, by: "bob", at: 10)), content(newer)])
        // The imported newer verdict replaced mine: undoing it brings mine back.
        let newerID = try #require(current.last?.id)
        #expect(try store.undo(id: newerID) == mine)
        let statuses = try store.history().map { "\($0.flag.createdAt.timeIntervalSince1970 - 1_795_000_000):\($0.status.rawValue)" }
        #expect(statuses == ["100.0:current", "50.0:replaced", "200.0:undone", "10.0:current"])
        // An undone verdict stays undone when the same file is imported again.
        #expect(try store.importFlags([newer]).duplicates == 1)
        #expect(try store.flags(dataset: "SampleData", query: "q1").map(\.id) == [current.first?.id, mine.id])
    }
}
