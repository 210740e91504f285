import Foundation
import Testing

/// `vitrine export`: the samples the explorer's filter lets through, as TSV or JSON lines.
@Suite struct ExportCommandTests {
    static let data = ExplorerEndToEndTests.sampleData

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let dir = NSTemporaryDirectory() + "vitrine-export-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let status = try Tmux.spawnAndWait([ExplorerEndToEndTests.binary] + arguments, stdout: dir + "/out", stderr: dir + "/err")
        return (status, (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? "")
    }

    @Test func theFilteredSamplesComeOutAsTheFilterChoseThem() throws {
        let jsonl = try Self.run(["export", "--data", Self.data, "--split", "dev", "--filter", "LUMESSA", "--format", "jsonl"])
        #expect(jsonl.status == 0)
        let objects = jsonl.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        // The same rule read straight from the split file: id, caption or a label contains it.
        let file = try String(contentsOfFile: Self.data + "/product1m_dev_ossurl_v2.txt", encoding: .utf8)
        let expected = file.split(separator: "\n").compactMap { line -> String? in
            let f = line.components(separatedBy: "#####")
            let labels = f.count > 4 ? f[4].components(separatedBy: "#;#") : []
            return ([f[0], f[1].lowercased()] + labels.map { $0.lowercased() }).contains { $0.contains("lumessa") } ? f[0] : nil
        }
        #expect(!expected.isEmpty)
        #expect(objects.map { $0["id"] as? String ?? "" } == expected)
        #expect(objects.allSatisfy { $0["split"] as? String == "dev" && ($0["labels"] as? [String]) != nil })

        let out = NSTemporaryDirectory() + "vitrine-export-\(getpid()).tsv"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let tsv = try Self.run(["export", "--data", Self.data, "--split", "dev", "--filter", "lumessa", "--out", out])
        #expect(tsv.status == 0 && tsv.stdout.isEmpty)
        #expect(tsv.stderr.contains("\(expected.count) of 150 samples of dev written to"))
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "id\tsplit\tline\tlabels\tcaption")
        #expect(rows.dropFirst().map { String($0.split(separator: "\t")[0]) } == expected)
        #expect(rows.dropFirst().allSatisfy { $0.split(separator: "\t", omittingEmptySubsequences: false).count == 5 })
    }

    @Test func badArgumentsSayWhatToDo() throws {
        let split = try Self.run(["export", "--data", Self.data, "--split", "nope"])
        #expect(split.status != 0 && split.stderr.contains("its splits: train, dev, test, gallery"))
        let format = try Self.run(["export", "--data", Self.data, "--format", "xml"])
        #expect(format.status != 0 && format.stderr.contains("use tsv or jsonl"))
        let place = try Self.run(["export", "--data", Self.data, "--out", "/nonexistent-folder/x.tsv"])
        #expect(place.status != 0 && place.stderr.contains("cannot write"))
    }
}
