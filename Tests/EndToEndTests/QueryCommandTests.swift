import Foundation
import Testing

/// `vitrine index` and `vitrine query` as scripts use them (the release binary from $VITRINE_BIN),
/// on a small copy of SampleData with the index cache in a temporary folder.
@Suite(.serialized) struct QueryCommandTests {
    static let repository = ExplorerEndToEndTests.repository

    /// Runs the binary with `VITRINE_CACHE=cache` (index files and backbone features go there).
    func run(_ arguments: [String], cache: String, input: [UInt8]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let dir = NSTemporaryDirectory() + "vitrine-query-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        if let input { try Data(input).write(to: URL(fileURLWithPath: dir + "/in")) }
        let argv = ["/usr/bin/env", "VITRINE_CACHE=" + cache, ExplorerEndToEndTests.binary] + arguments
        let status = try Tmux.spawnAndWait(argv, stdin: input == nil ? "/dev/null" : dir + "/in", stdout: dir + "/out",
                                           stderr: dir + "/err")
        return (status, (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? "")
    }

    /// A Product1M folder with the first 30 gallery and 5 test lines of SampleData and their images.
    func smallDataset() throws -> String {
        let folder = NSTemporaryDirectory() + "vitrine-query-data-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
        for (file, count) in [("product1m_gallery_ossurl_v2.txt", 30), ("product1m_test_ossurl_v2.txt", 5)] {
            let text = try String(contentsOfFile: Self.repository + "/SampleData/" + file, encoding: .utf8)
            let lines = text.split(separator: "\n").prefix(count)
            try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/" + file, atomically: true, encoding: .utf8)
            for line in lines {
                let id = String(line.prefix { $0 != "#" })
                try FileManager.default.copyItem(atPath: Self.repository + "/SampleData/images/\(id).jpg",
                                                 toPath: folder + "/images/\(id).jpg")
            }
        }
        return folder
    }

    func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// `--stdin` answers every line in order with the model loaded once: captions as text, JSON
    /// objects, and a line that cannot be answered gets an error object while the next ones go on.
    @Test func stdinAnswersOneJSONLinePerQuery() throws {
        let data = try smallDataset(), cache = NSTemporaryDirectory() + "vitrine-query-cache-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: cache) }
        let test = try String(contentsOfFile: data + "/product1m_test_ossurl_v2.txt", encoding: .utf8)
        let queryID = String(test.prefix { $0 != "#" })
        var input = Array("Lumessa 精华露\n\n{\"sample\": \"\(queryID)\", \"top\": 3}\n{\"caption\": \"x\", \"top\": 0}\n".utf8)
        input += [0x62, 0xFF, 0x0A]                                     // not UTF-8
        input += Array("{\"sample\": \"nope\"}\n{\"caption\": \"\\u001b[31m\", \"bogus\": 1}\n".utf8)
        input += Array(String(repeating: "a", count: (1 << 20) + 10).utf8) + [0x0A]   // over 1 MiB
        input += Array("{\"image\": \"\(data)/images/\(queryID).jpg\", \"kind\": \"single\"}".utf8)   // no final newline
        let r = try run(["query", "--stdin", "--data", data, "--top", "2", "--quiet"], cache: cache, input: input)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("\u{1B}"))
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let objects = try lines.map { try #require(try json($0) as? [String: Any]) }
        #expect(objects.map { $0["line"] as? Int } == [1, 3, 4, 5, 6, 7, 8, 9])
        #expect((objects[0]["matches"] as? [Any])?.count == 2)
        #expect((objects[1]["matches"] as? [Any])?.count == 3 && objects[1]["averagePrecision"] is Double)
        #expect(objects[2]["error"] as? String == "\"top\" must be a positive integer")
        #expect(objects[3]["error"] as? String == "the line is not valid UTF-8")
        #expect((objects[4]["error"] as? String)?.contains("nope") == true)
        #expect((objects[5]["error"] as? String)?.hasPrefix("unknown field 'bogus'") == true)
        #expect((objects[6]["error"] as? String)?.contains("above the limit") == true)
        #expect((objects[7]["matches"] as? [Any])?.count == 2)
    }

    @Test func stdinRefusesAQueryOnTheCommandLineToo() throws {
        let r = try run(["query", "--stdin", "a caption"], cache: NSTemporaryDirectory())
        #expect(r.status != 0 && r.stderr.contains("--stdin reads the queries from standard input"))
    }

    /// `kill -9` during an index build: the next build goes on from the rows the journal holds,
    /// and the index it writes ranks exactly as one built from scratch.
    @Test func aKilledIndexBuildResumes() throws {
        let cache = NSTemporaryDirectory() + "vitrine-query-cache-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let data = Self.repository + "/SampleData"
        // The backbone features from the shared cache (hard links), when it has them: what is
        // interrupted and resumed is the index build, and the images' features would only cost
        // a minute of both cores. The build still takes seconds (e5 on 894 captions), several
        // journal syncs.
        let shared = RetrievalEndToEndTests.cache + "/features"
        if FileManager.default.fileExists(atPath: shared) {
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            #expect(Tmux.wait(try Tmux.spawn(["/bin/cp", "-al", shared, cache + "/features"], stdout: "/dev/null", stderr: "/dev/null")) == 0)
        }
        let pid = try Tmux.spawn(["/usr/bin/env", "VITRINE_CACHE=" + cache, ExplorerEndToEndTests.binary, "index", "--data", data, "--quiet"],
                                 stdout: "/dev/null", stderr: "/dev/null")
        // Wait for the journal to hold a record (it is synced every two seconds), then kill.
        var journal: String? = nil
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let found = (FileManager.default.enumerator(atPath: cache + "/index")?.allObjects as? [String] ?? [])
                .first { $0.hasSuffix(".partial") }.map { cache + "/index/" + $0 }
            if let found, let size = try? FileManager.default.attributesOfItem(atPath: found)[.size] as? Int, size > 4096 {
                journal = found
                break
            }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let partial = try #require(journal, "no journal appeared")
        #expect(FileManager.default.fileExists(atPath: partial))

        let resumed = try run(["index", "--data", data, "--json"], cache: cache)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let report = try #require((try json(resumed.stdout) as? [[String: Any]])?.first)
        let done = report["resumedItems"] as? Int ?? 0
        #expect(done > 0 && done < 894, "resumed at \(done)")
        #expect((report["reason"] as? String)?.contains("resumed an interrupted build at \(done) items") == true)
        #expect(!FileManager.default.fileExists(atPath: partial), "the journal is removed once the index is written")

        let query = ["query", "--data", data, "--top", "20", "--json", "--sample"]
        let test = try String(contentsOfFile: data + "/product1m_test_ossurl_v2.txt", encoding: .utf8)
        let ids = test.split(separator: "\n").prefix(3).map { String($0.prefix { $0 != "#" }) }
        let before = try ids.map { try run(query + [$0], cache: cache).stdout }
        // An index built in one go: the shared cache's (`make test` builds it before the suites
        // start; this builds it only when it is missing or stale).
        let whole = RetrievalEndToEndTests.cache
        let checked = try run(["index", "--data", data, "--quiet"], cache: whole)
        #expect(checked.status == 0, "\(checked.stderr)")
        // The same items in the same order, scores equal to float rounding (a batch of captions
        // is padded to its longest, and the resumed build batched them differently).
        for (id, answer) in zip(ids, before) {
            let again = try run(query + [id], cache: whole).stdout
            func matches(_ s: String) throws -> [(String, Double)] {
                let o = try #require(try json(s) as? [String: Any])
                return (o["matches"] as? [[String: Any]] ?? []).map { ($0["id"] as? String ?? "", $0["score"] as? Double ?? -9) }
            }
            let a = try matches(answer), b = try matches(again)
            #expect(a.count == 20 && a.map(\.0) == b.map(\.0), "query \(id)")
            #expect(zip(a, b).allSatisfy { abs($0.1 - $1.1) < 1e-5 }, "query \(id): \(a) vs \(b)")
        }
    }

    /// `vitrine features` fills the cache (float16 by default), and a second run finds every entry.
    @Test func featuresFillTheCacheOnceAndResume() throws {
        let data = try smallDataset(), cache = NSTemporaryDirectory() + "vitrine-query-cache-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: cache) }
        let first = try run(["features", "--data", data, "--json"], cache: cache)
        #expect(first.status == 0, "\(first.stderr)")
        let a = try #require(try json(first.stdout) as? [String: Any])
        #expect(a["images"] as? Int == 35 && a["computed"] as? Int == 35 && a["cached"] as? Int == 0)
        #expect(a["precision"] as? String == "float16" && a["bytesPerImage"] as? Int == 96 + 320 * 49 * 2)
        let entries = (FileManager.default.enumerator(atPath: cache + "/features")?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".feat") }
        #expect(entries.count == 35)
        let size = try FileManager.default.attributesOfItem(atPath: cache + "/features/" + entries[0])[.size] as? Int
        #expect(size == 96 + 320 * 49 * 2)

        let second = try run(["features", "--data", data, "--split", "test", "--json"], cache: cache)
        let b = try #require(try json(second.stdout) as? [String: Any])
        #expect(b["images"] as? Int == 5 && b["computed"] as? Int == 0 && b["cached"] as? Int == 5)

        let bad = try run(["features", "--data", data, "--split", "nope"], cache: cache)
        #expect(bad.status != 0 && bad.stderr.contains("no split 'nope' in this dataset"))
    }

    /// Ctrl-C (SIGINT) stops `vitrine features` after the batch in hand, with a report that says
    /// so and an exit status of 130; the next run computes only the rest.
    @Test func anInterruptedFeaturesRunReportsAndTheNextOneFinishes() throws {
        let cache = NSTemporaryDirectory() + "vitrine-features-int-\(UUID().uuidString.prefix(6))"
        let out = cache + "-out"
        defer { try? FileManager.default.removeItem(atPath: cache); try? FileManager.default.removeItem(atPath: out) }
        let data = Self.repository + "/SampleData"
        func entries() -> Int {
            (FileManager.default.enumerator(atPath: cache + "/features")?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".feat") }.count
        }
        // Two thirds of the shared cache's entries (hard links), when it has them: a third of the
        // images is enough to interrupt and resume, and spares both cores half a minute.
        let shared = RetrievalEndToEndTests.cache + "/features"
        if FileManager.default.fileExists(atPath: shared) {
            try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
            #expect(Tmux.wait(try Tmux.spawn(["/bin/cp", "-al", shared, cache + "/features"], stdout: "/dev/null", stderr: "/dev/null")) == 0)
            let files = (FileManager.default.enumerator(atPath: cache + "/features")?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".feat") }.sorted()
            for (i, file) in files.enumerated() where i % 3 == 0 { try FileManager.default.removeItem(atPath: cache + "/features/" + file) }
        }
        let seeded = entries()
        let pid = try Tmux.spawn(["/usr/bin/env", "VITRINE_CACHE=" + cache, ExplorerEndToEndTests.binary, "features", "--data", data, "--json"],
                                 stdout: out, stderr: "/dev/null")
        // Interrupt once some entries are written.
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, entries() < seeded + 40 {
            usleep(20_000)
        }
        kill(pid, SIGINT)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect((status >> 8) & 0xff == 130, "exit status \(status)")
        let first = try #require(try json(String(contentsOfFile: out, encoding: .utf8)) as? [String: Any])
        #expect(first["stopped"] as? Bool == true)
        let computed = first["computed"] as? Int ?? 0, cachedBefore = first["cached"] as? Int ?? 0
        let total = first["totalSamples"] as? Int ?? 0
        #expect(computed > 0 && computed + cachedBefore < total, "\(first)")

        let second = try run(["features", "--data", data, "--json"], cache: cache)
        #expect(second.status == 0)
        let report = try #require(try json(second.stdout) as? [String: Any])
        #expect(report["stopped"] as? Bool == false)
        #expect((report["cached"] as? Int ?? 0) >= computed + cachedBefore, "\(report)")
        #expect((report["computed"] as? Int ?? 0) > 0, "the seeded cache left nothing to resume: \(report)")
        #expect((report["cached"] as? Int ?? 0) + (report["computed"] as? Int ?? 0) == report["images"] as? Int)
    }

    @Test func indexBuildsOnceThenReuses() throws {
        let data = try smallDataset(), cache = NSTemporaryDirectory() + "vitrine-query-cache-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: cache) }
        let first = try run(["index", "--data", data, "--json"], cache: cache)
        #expect(first.status == 0, "\(first.stderr)")
        let reports = try #require(try json(first.stdout) as? [[String: Any]])
        #expect(reports.count == 1)
        #expect(reports[0]["system"] as? String == "zero-shot" && reports[0]["items"] as? Int == 30)
        #expect(reports[0]["built"] as? Bool == true && (reports[0]["itemsPerSecond"] as? Double ?? 0) > 0)
        let path = try #require(reports[0]["path"] as? String)
        #expect(path.hasPrefix(cache + "/index/") && FileManager.default.fileExists(atPath: path))
        #expect(!path.hasPrefix(data), "never written into the dataset")

        let second = try run(["index", "--data", data, "--json"], cache: cache)
        let again = try #require(try json(second.stdout) as? [[String: Any]])
        #expect(second.status == 0 && again[0]["built"] as? Bool == false && again[0]["itemsPerSecond"] is NSNull)

        let text = try run(["index", "--data", data], cache: cache)
        #expect(text.status == 0 && text.stdout.contains("zero-shot: 30 items, up to date"))
    }

    @Test func queryPrintsRankedMatchesAsJSON() throws {
        let data = try smallDataset(), cache = NSTemporaryDirectory() + "vitrine-query-cache-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: cache) }
        let gallery = try String(contentsOfFile: data + "/product1m_gallery_ossurl_v2.txt", encoding: .utf8)
        let galleryIDs = Set(gallery.split(separator: "\n").map { String($0.prefix { $0 != "#" }) })
        let test = try String(contentsOfFile: data + "/product1m_test_ossurl_v2.txt", encoding: .utf8)
        let queryID = String(test.prefix { $0 != "#" })

        let r = try run(["query", "--sample", queryID, "--top", "7", "--data", data, "--json"], cache: cache)
        #expect(r.status == 0, "\(r.stderr)")
        let out = try #require(try json(r.stdout) as? [String: Any])
        #expect(out["model"] as? String == "zero-shot")
        #expect((out["query"] as? [String: Any])?["sample"] as? String == queryID)
        let matches = try #require(out["matches"] as? [[String: Any]])
        #expect(matches.count == 7)
        #expect(matches.map { $0["rank"] as? Int } == (1...7).map { $0 })
        let scores = matches.compactMap { $0["score"] as? Double }
        #expect(scores.count == 7 && zip(scores, scores.dropFirst()).allSatisfy { $0 >= $1 })
        #expect(matches.allSatisfy { galleryIDs.contains($0["id"] as? String ?? "") && $0["relevant"] is Bool })
        let ap = try #require(out["averagePrecision"] as? Double)
        #expect((0...1).contains(ap))

        let caption = try run(["query", "面霜 正品", "--top", "3", "--data", data, "--json"], cache: cache)
        #expect(caption.status == 0, "\(caption.stderr)")
        let captionOut = try #require(try json(caption.stdout) as? [String: Any])
        #expect((captionOut["matches"] as? [[String: Any]])?.count == 3 && captionOut["averagePrecision"] is NSNull)
        #expect((captionOut["matches"] as? [[String: Any]])?.allSatisfy { $0["relevant"] is NSNull } == true)

        let table = try run(["query", "--sample", queryID, "--mode", "caption", "--top", "3", "--data", data], cache: cache)
        #expect(table.status == 0 && table.stdout.contains("AP@3") && table.stdout.contains("   1  "))

        // Filters: the gallery holds single products only, so `--kind multi` leaves nothing.
        let single = try run(["query", "面霜", "--kind", "single", "--top", "3", "--data", data, "--json"], cache: cache)
        #expect((try json(single.stdout) as? [String: Any]).flatMap { $0["matches"] as? [[String: Any]] }?.count == 3)
        let multi = try run(["query", "面霜", "--kind", "multi", "--top", "3", "--data", data, "--json"], cache: cache)
        #expect(multi.status == 0, "\(multi.stderr)")
        #expect((try json(multi.stdout) as? [String: Any]).flatMap { $0["matches"] as? [[String: Any]] }?.isEmpty == true)
        let label = try #require(matches.first?["label"] as? String ?? matches.first?["product"] as? String)
        let labelled = try run(["query", "面霜", "--label", label, "--top", "50", "--data", data, "--json"], cache: cache)
        let labelledMatches = (try json(labelled.stdout) as? [String: Any]).flatMap { $0["matches"] as? [[String: Any]] } ?? []
        #expect(!labelledMatches.isEmpty && labelledMatches.allSatisfy { ($0["label"] as? String ?? $0["product"] as? String) == label })
    }

    @Test func evalComparesZeroShotWithBaselinesAndReportsTheChosenSystem() throws {
        let data = try smallDataset(), cache = NSTemporaryDirectory() + "vitrine-query-cache-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: cache) }
        let table = try run(["eval", "--data", data, "--quiet"], cache: cache)
        #expect(table.status == 0, "\(table.stderr)")
        for row in ["zero-shot towers", "caption BM25", "colour histogram", "random"] { #expect(table.stdout.contains(row)) }

        let out = cache + "/zero-shot-eval"
        let chosen = try run(["eval", "--data", data, "--zero-shot", "--json", "--out", out, "--quiet"], cache: cache)
        #expect(chosen.status == 0, "\(chosen.stderr)")
        let object = try #require(try json(chosen.stdout) as? [String: [String: Double]])
        #expect(Set(object.keys) == ["top10", "top50", "top100"])
        #expect(object.values.allSatisfy { Set($0.keys) == ["mAP", "Prec", "mAR"] && $0.values.allSatisfy { (0...1).contains($0) } })
        let written = try String(contentsOfFile: out + "/metric_results.json", encoding: .utf8)
        #expect(written == chosen.stdout.trimmingCharacters(in: .newlines))
        let lines = try String(contentsOfFile: out + "/retrieval_id_list.txt", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5 && lines.allSatisfy { $0.split(separator: ",").count == 31 }, "5 queries, 30 gallery ids each")

        let both = try run(["eval", "--data", data, "--zero-shot", "--model", "x.safetensors"], cache: cache)
        #expect(both.status != 0 && both.stderr.contains("--zero-shot"))
    }

    @Test func badQueriesSayWhatIsWrong() throws {
        let cache = NSTemporaryDirectory() + "vitrine-query-cache-\(UUID().uuidString.prefix(6))"
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let none = try run(["query"], cache: cache)
        #expect(none.status != 0 && none.stderr.contains("--image"))
        let both = try run(["query", "cream", "--sample", "1"], cache: cache)
        #expect(both.status != 0 && both.stderr.contains("exactly one"))
        let mode = try run(["query", "--sample", "1", "--mode", "both"], cache: cache)
        #expect(mode.status != 0 && mode.stderr.contains("--mode"))
        let kind = try run(["query", "cream", "--kind", "several"], cache: cache)
        #expect(kind.status != 0 && kind.stderr.contains("'several' is invalid for '--kind") && kind.stderr.contains("'single' and 'multi'"))
    }
}
