import Foundation
import Testing

/// `vitrine compare A B` as scripts use it (the release binary from $VITRINE_BIN), on SampleData
/// and small copies of it, with the index cache in a temporary folder.
@Suite(.serialized) struct CompareCommandTests {
    static let sampleData = ExplorerEndToEndTests.sampleData

    /// Runs the binary with `VITRINE_CACHE=cache`; stdout and stderr as bytes.
    func run(_ arguments: [String], cache: String) throws -> (status: Int32, stdout: [UInt8], stderr: String) {
        let dir = NSTemporaryDirectory() + "vitrine-compare-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let argv = ["/usr/bin/env", "VITRINE_CACHE=" + cache, "HOME=" + cache, ExplorerEndToEndTests.binary] + arguments
        let status = try Tmux.spawnAndWait(argv, stdout: dir + "/out", stderr: dir + "/err")
        let out = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: dir + "/out"))) ?? Data())
        return (status, out, (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? "")
    }

    func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    /// `vitrine eval ... --json`'s mAP at `top` ("top10", "top100").
    func evalMAP(_ object: [String: Any], _ top: String) -> Double? {
        (object[top] as? [String: Any])?["mAP"] as? Double
    }

    func temporaryFolder(_ name: String) throws -> String {
        let folder = NSTemporaryDirectory() + "vitrine-compare-\(name)-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    /// BM25 against random on SampleData's test split: each side's totals are exactly what
    /// `vitrine eval` prints for it, the mean difference is the difference of the means, and the
    /// gap (0.60 against 0.03) is significant.
    @Test func bm25AgainstRandomMatchesEvalAndIsSignificant() throws {
        let cache = try temporaryFolder("cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let r = try run(["compare", "bm25", "random", "--data", Self.sampleData, "--json", "--resamples", "2000", "--quiet"], cache: cache)
        #expect(r.status == 0, "\(r.stderr)")
        let c = try object(r.stdout)
        let a = try #require(c["a"] as? [String: Any]), b = try #require(c["b"] as? [String: Any])
        for (side, method) in [(a, "bm25"), (b, "random")] {
            let eval = try run(["eval", "--baseline", method, "--data", Self.sampleData, "--json", "--quiet"], cache: cache)
            #expect(eval.status == 0, "\(eval.stderr)")
            let official = try object(eval.stdout)
            #expect(side["mAP10"] as? Double == evalMAP(official, "top10"), "\(method): mAP@10 as eval prints it")
            #expect(side["mAP100"] as? Double == evalMAP(official, "top100"), "\(method): mAP@100 as eval prints it")
            #expect(side["kind"] as? String == "baseline" && side["ranker"] as? String == method)
        }
        let mapA = try #require(a["mAP10"] as? Double), mapB = try #require(b["mAP10"] as? Double)
        let mean = try #require(c["meanDeltaAP10"] as? Double)
        #expect(abs(mean - (mapB - mapA)) < 1e-12 && mean < -0.5)
        let perQuery = try #require(c["perQuery"] as? [[String: Any]])
        #expect(perQuery.count == 300 && c["queries"] as? Int == 300)
        let deltas = perQuery.compactMap { $0["deltaAP10"] as? Double }
        #expect(deltas.count == 300 && zip(deltas, deltas.dropFirst()).allSatisfy { $0 >= $1 - 1e-12 }, "most improved first")
        #expect((c["wins"] as? Int ?? 0) + (c["ties"] as? Int ?? 0) + (c["losses"] as? Int ?? 0) == 300)
        let test = try #require(c["test"] as? [String: Any]), bootstrap = try #require(c["bootstrap"] as? [String: Any])
        #expect(test["pValue"] as? Double == 1.0 / 2001 && test["significant"] as? Bool == true)
        let lower = try #require(bootstrap["lower"] as? Double), upper = try #require(bootstrap["upper"] as? Double)
        #expect(lower < mean && mean < upper && upper < 0)
        #expect((c["meanJaccard"] as? Double ?? 1) < 0.05)

        let text = try run(["compare", "bm25", "random", "--data", Self.sampleData, "--resamples", "2000", "--quiet"], cache: cache)
        let out = String(decoding: text.stdout, as: UTF8.self)
        #expect(text.status == 0, "\(text.stderr)")
        for part in ["caption BM25", "mAP@10 0.6005", "significantly worse", "Most improved by B", "Most worsened by B (10 of"] {
            #expect(out.contains(part), "\(part) in \(out)")
        }
    }

    /// A ranker against itself: no difference anywhere, p = 1, full overlap.
    @Test func aRankerAgainstItselfHasNoDifference() throws {
        let cache = try temporaryFolder("cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let r = try run(["compare", "bm25", "bm25", "--data", Self.sampleData, "--json", "--quiet"], cache: cache)
        #expect(r.status == 0, "\(r.stderr)")
        let c = try object(r.stdout)
        #expect(c["meanDeltaAP10"] as? Double == 0 && c["ties"] as? Int == 300 && c["meanJaccard"] as? Double == 1)
        #expect(abs((c["meanRBO"] as? Double ?? 0) - 1) < 1e-12)
        #expect((c["test"] as? [String: Any])?["pValue"] as? Double == 1)
        let perQuery = (c["perQuery"] as? [[String: Any]]) ?? []
        #expect(perQuery.count == 300 && perQuery.allSatisfy { $0["deltaAP10"] as? Double == 0 && $0["jaccard"] as? Double == 1 })
    }

    /// A ranking file is one more ranker: BM25's own dev rankings (from `eval --out`) against
    /// BM25 on dev agree exactly; on test they are refused with what to do.
    @Test func aRankingFileIsPairedByQueryID() throws {
        let cache = try temporaryFolder("cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let out = cache + "/bm25-dev"
        let eval = try run(["eval", "--baseline", "bm25", "--split", "dev", "--data", Self.sampleData, "--out", out, "--json", "--quiet"], cache: cache)
        #expect(eval.status == 0, "\(eval.stderr)")
        let file = out + "/retrieval_id_list.txt"
        let same = try run(["compare", "bm25", file, "--split", "dev", "--data", Self.sampleData, "--json", "--quiet"], cache: cache)
        #expect(same.status == 0, "\(same.stderr)")
        let c = try object(same.stdout)
        #expect((c["b"] as? [String: Any])?["mAP10"] as? Double == evalMAP(try object(eval.stdout), "top10"))
        #expect((c["b"] as? [String: Any])?["kind"] as? String == "rankings")
        #expect(c["meanDeltaAP10"] as? Double == 0 && (c["test"] as? [String: Any])?["pValue"] as? Double == 1)
        // The folder `eval --out` wrote names the file in it.
        let folder = try run(["compare", out, "bm25", "--split", "dev", "--data", Self.sampleData, "--quiet"], cache: cache)
        #expect(folder.status == 0, "\(folder.stderr)")
        #expect(String(decoding: folder.stdout, as: UTF8.self).contains("no difference"))

        let wrongSplit = try run(["compare", "bm25", file, "--data", Self.sampleData, "--quiet"], cache: cache)
        #expect(wrongSplit.status != 0)
        #expect(wrongSplit.stderr.contains("ranker B") && wrongSplit.stderr.contains("is not a query of the split (test)")
                && wrongSplit.stderr.contains("--split"), "\(wrongSplit.stderr)")
    }

    /// The zero-shot towers against the rankings `eval --zero-shot --out` wrote for them (on a
    /// small copy of SampleData): the same numbers, no difference.
    @Test func zeroShotAgainstItsOwnRankingFile() throws {
        let data = try QueryCommandTests().smallDataset(), cache = try temporaryFolder("cache")
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: cache) }
        let out = cache + "/zero-shot"
        let eval = try run(["eval", "--zero-shot", "--data", data, "--out", out, "--json", "--quiet"], cache: cache)
        #expect(eval.status == 0, "\(eval.stderr)")
        let r = try run(["compare", "zero-shot", out + "/retrieval_id_list.txt", "--data", data, "--json", "--quiet"], cache: cache)
        #expect(r.status == 0, "\(r.stderr)")
        let c = try object(r.stdout), official = try object(eval.stdout)
        for side in ["a", "b"] {
            #expect((c[side] as? [String: Any])?["mAP10"] as? Double == evalMAP(official, "top10"))
            #expect((c[side] as? [String: Any])?["mAP100"] as? Double == evalMAP(official, "top100"))
        }
        #expect((c["a"] as? [String: Any])?["kind"] as? String == "zero-shot")
        #expect(c["meanJaccard"] as? Double == 1 && (c["test"] as? [String: Any])?["pValue"] as? Double == 1)
    }

    @Test func badArgumentsSayWhatIsWrongAndWhatToDo() throws {
        let cache = try temporaryFolder("cache")
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let unknown = try run(["compare", "bm25", "bm26", "--data", Self.sampleData], cache: cache)
        #expect(unknown.status != 0 && unknown.stderr.contains("B: 'bm26' is not a ranker")
                && unknown.stderr.contains("zero-shot, bm25, colour, random"), "\(unknown.stderr)")
        let checkpoint = try run(["compare", cache + "/none.safetensors", "bm25", "--data", Self.sampleData], cache: cache)
        #expect(checkpoint.status != 0 && checkpoint.stderr.contains("A: cannot read the checkpoint"), "\(checkpoint.stderr)")
        let top = try run(["compare", "bm25", "random", "--top", "0", "--data", Self.sampleData], cache: cache)
        #expect(top.status != 0 && top.stderr.contains("--top must be 1 to 100"), "\(top.stderr)")
        let tower = try run(["compare", "bm25", "random", "--text-tower", "minilm", "--data", Self.sampleData], cache: cache)
        #expect(tower.status != 0 && tower.stderr.contains("neither A nor B is zero-shot"), "\(tower.stderr)")
        let missing = try run(["compare", "bm25"], cache: cache)
        #expect(missing.status != 0 && missing.stderr.contains("<B>"), "\(missing.stderr)")
        let split = try run(["compare", "bm25", "random", "--split", "train", "--data", Self.sampleData], cache: cache)
        #expect(split.status != 0 && split.stderr.contains("no query split named \"train\""), "\(split.stderr)")
    }

    /// Hostile captions, dataset name and ranking-file ids never reach the terminal as control
    /// sequences, in text, JSON or errors.
    @Test func hostileDataStaysInert() throws {
        let root = try temporaryFolder("hostile")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (data, galleryIDs, testIDs) = try HostileOutputTests.hostileDataset(in: root)
        let rankings = root + "/rank\u{1B}[1mings.txt"
        let lines = testIDs.map { $0 + "," + galleryIDs.joined(separator: ",") } + ["q\u{1B}]52;c;eA==\u{07}," + galleryIDs[0]]
        try (lines.joined(separator: "\n") + "\n").write(toFile: rankings, atomically: true, encoding: .utf8)
        let cache = root + "/cache"
        let text = try run(["compare", "bm25", "random", "--data", data, "--quiet"], cache: cache)
        let json = try run(["compare", "bm25", "random", "--data", data, "--json", "--quiet"], cache: cache)
        let file = try run(["compare", "bm25", rankings, "--data", data, "--quiet"], cache: cache)
        for (name, output) in [("text", text), ("json", json), ("ranking file", file)] {
            #expect(HostileOutputTests.leaks(in: output.stdout).isEmpty, "\(name) stdout")
            #expect(HostileOutputTests.leaks(in: Array(output.stderr.utf8)).isEmpty, "\(name) stderr")
        }
        #expect(text.status == 0 && json.status == 0, "\(text.stderr)\(json.stderr)")
        #expect(String(decoding: text.stdout, as: UTF8.self).contains("\\u{1b}"), "the hostile captions were shown, escaped")
        #expect((try? JSONSerialization.jsonObject(with: Data(json.stdout))) != nil)
        #expect(file.status != 0 && file.stderr.contains("line 4") && file.stderr.contains("\\u{1b}]52"), "\(file.stderr)")
    }
}
