import Foundation
import Testing

/// `vitrine flags stats`, `adjudicate` and model keys through the real binary: several
/// annotators on one store, checkpoints identified by content, a v1 store upgraded on open.
@Suite struct FlagsStatsCommandTests {
    typealias Scratch = FlagsCommandTests.Scratch
    static let dataset = "SampleData:/data/SampleData"
    /// An annotator's name with a terminal control sequence in it.
    static let nasty = "eve\u{1B}[31m"

    /// Runs `vitrine` with the arguments (and extra environment) in the scratch folder (the
    /// current directory is searched when a v1 store is upgraded) and waits for it.
    func vitrine(_ arguments: [String], in scratch: Scratch, environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let out = scratch.path + "/out.\(UUID().uuidString.prefix(6))", err = out + ".err"
        let argv = ["bash", "-c", "cd \"$1\" && shift && exec \"$@\"", "vitrine-in", scratch.path, FlagsCommandTests.binary] + arguments
        let pid = try Tmux.spawn(argv, environment: environment, stdout: out, stderr: err)
        let status = Tmux.wait(pid)
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        return (status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    func add(_ s: Scratch, _ query: String, _ verdict: String, by annotator: String, model: String = "zero-shot") throws {
        let r = try vitrine(["flags", "add", "--store", s.store, "--dataset", Self.dataset, "--query", query, "--match", "m1",
                             "--model", model, "--verdict", verdict, "--annotator", annotator], in: s)
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func statsCompareAnnotatorsAndAdjudicationDecidesPairs() throws {
        #expect(FileManager.default.isExecutableFile(atPath: FlagsCommandTests.binary), "build first (make build): \(FlagsCommandTests.binary)")
        let s = try Scratch()
        // ann and bob share q1...q5:  q1 (w, w)  q2 (w, c)  q3 (c, c)  q4 (c, w)  q5 (w, w).
        for (q, ann, bob) in [("q1", "wrong", "wrong"), ("q2", "wrong", "confirmed"), ("q3", "confirmed", "confirmed"),
                              ("q4", "confirmed", "wrong"), ("q5", "wrong", "wrong")] {
            try add(s, q, ann, by: "ann")
            try add(s, q, bob, by: "bob")
        }
        try add(s, "q1", "confirmed", by: Self.nasty)
        let adjudicated = try vitrine(["flags", "adjudicate", "--store", s.store, "--dataset", Self.dataset, "--query", "q2",
                                       "--match", "m1", "--verdict", "confirmed", "--annotator", "judge"], in: s)
        #expect(adjudicated.status == 0 && Int(adjudicated.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == 12, "\(adjudicated.stderr)")

        // Text: counts, agreement and kappa, disagreements; data escaped.
        let text = try vitrine(["flags", "stats", "--store", s.store, "--dataset", Self.dataset], in: s)
        #expect(text.status == 0, "\(text.stderr)")
        // ann/bob: a = 2, b = 1, c = 1, d = 1 (n = 5): p_o = 3/5; p_e = (3/5)(3/5) + (2/5)(2/5) = 13/25;
        // κ = (15/25 − 13/25) / (12/25) = 1/6.
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("ann ") && $0.split(separator: " ") == ["ann", "3", "2", "5", "5"] }, "\(text.stdout)")
        #expect(lines.contains { $0.hasPrefix("ann / bob") && $0.split(separator: " ").suffix(4) == ["5", "3", "60.0%", "0.167"] }, "\(text.stdout)")
        #expect(text.stdout.contains("3 pairs with disagreeing annotators"))
        #expect(lines.contains { $0.hasPrefix("q2") && $0.contains("ann: wrong, bob: confirmed") && $0.hasSuffix("confirmed (judge)") })
        #expect(text.stdout.contains("eve\\u{1b}[31m"))
        #expect(!text.stdout.contains("\u{1B}") && !text.stderr.contains("\u{1B}"))
        #expect(text.stderr.contains("3 annotators, 3 disagreeing pairs (2 not adjudicated), 1 adjudicated pair"), "\(text.stderr)")

        // JSON: the same figures, strings escaped.
        let json = try vitrine(["flags", "stats", "--store", s.store, "--json"], in: s)
        #expect(json.status == 0 && !json.stdout.contains("\u{1B}"), "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let agreement = try #require(object["agreement"] as? [[String: Any]])
        #expect(agreement.count == 3)
        let annBob = try #require(agreement.first { ($0["annotators"] as? [String]) == ["ann", "bob"] })
        #expect(annBob["shared"] as? Int == 5 && annBob["agreed"] as? Int == 3)
        #expect(abs((annBob["kappa"] as? Double ?? 9) - 1.0 / 6) < 1e-9)
        #expect(abs((annBob["expected"] as? Double ?? 9) - 0.52) < 1e-9)
        // ann and eve share q1 only, and disagree: p_o = p_e = 0, κ = 0.
        let annEve = try #require(agreement.first { ($0["annotators"] as? [String]) == ["ann", Self.nasty] })
        #expect(annEve["shared"] as? Int == 1 && annEve["kappa"] as? Double == 0)
        let disagreements = try #require(object["disagreements"] as? [[String: Any]])
        #expect(disagreements.compactMap { $0["query"] as? String } == ["q1", "q2", "q4"])
        let q2 = try #require(disagreements.first { $0["query"] as? String == "q2" }?["adjudication"] as? [String: Any])
        #expect(q2["annotator"] as? String == "judge" && q2["verdict"] as? String == "confirmed")
        #expect(object["adjudicatedPairs"] as? Int == 1)

        // Pairs: the adjudicated q2 is positive under every rule, even exclude.
        for rule in ["majority", "latest", "exclude"] {
            let pairs = try vitrine(["flags", "pairs", "--store", s.store, "--dataset", Self.dataset, "--rule", rule], in: s)
            #expect(pairs.status == 0, "\(pairs.stderr)")
            let q2Line = pairs.stdout.split(separator: "\n").first { $0.contains(" q2 ") }
            #expect(q2Line?.hasPrefix("positive") == true && q2Line?.contains("adjudicated") == true, "\(rule): \(pairs.stdout)")
            #expect(pairs.stdout.contains(" q4 ") == (rule != "exclude"))
        }
        // The list shows the adjudicator as such.
        let list = try vitrine(["flags", "list", "--store", s.store], in: s)
        #expect(list.stdout.contains("judge (adjudicator)") && list.stdout.contains("any model") && list.stdout.contains("zero-shot:e5"))
    }

    @Test func checkpointsAreKeptByContentNotByFileName() throws {
        let s = try Scratch()
        // Two runs, each with its best.safetensors; and a copy of run one's under another name.
        let runs = s.path + "/vitrine-runs"
        for (run, content) in [("one", "run one"), ("two", "run two")] {
            try FileManager.default.createDirectory(atPath: runs + "/" + run, withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: runs + "/\(run)/best.safetensors"))
        }
        try FileManager.default.copyItem(atPath: runs + "/one/best.safetensors", toPath: s.path + "/copy.safetensors")
        let one = "cc071f76252f8e899e0e67183f43af304e2c77ec6315ccf1280e81d3d744af4b"   // sha256sum of "run one"
        let two = "bdd82bc754e08b46cd4746bcb104a25489ea59b0fbea0f83211f2d41dfeadcfb"   // and of "run two"
        try add(s, "q1", "wrong", by: "ann", model: runs + "/one/best.safetensors")
        try add(s, "q1", "confirmed", by: "ann", model: runs + "/two/best.safetensors")
        // The copy is run one's model: this verdict replaces the first one.
        try add(s, "q1", "confirmed", by: "ann", model: s.path + "/copy.safetensors")
        try add(s, "q1", "wrong", by: "ann", model: two.uppercased())
        let flags = try FlagsCommandTests().exported(s)
        // Oldest first: the copy's verdict, then the one given by digest (named by it).
        #expect(flags.map { $0["model"] ?? "" } == [one, two])
        #expect(flags.map { $0["modelName"] ?? "" } == ["copy.safetensors", two])
        #expect(flags.map { $0["verdict"] ?? "" } == ["confirmed", "wrong"])
        #expect(flags.allSatisfy { $0["role"] == "annotator" })
        let history = try vitrine(["flags", "list", "--store", s.store, "--history"], in: s)
        #expect(history.stdout.contains("best.safetensors (cc071f76252f)") && history.stdout.contains("best.safetensors (bdd82bc754e0)"))
        #expect(history.stdout.contains("copy.safetensors (cc071f76252f)"))

        // --model of stats selects one model's verdicts, by file or by key.
        let byFile = try vitrine(["flags", "stats", "--store", s.store, "--model", runs + "/one/best.safetensors", "--json"], in: s)
        let byKey = try vitrine(["flags", "stats", "--store", s.store, "--model", one, "--json"], in: s)
        #expect(byFile.status == 0 && byFile.stdout == byKey.stdout.replacingOccurrences(of: "\"name\":\"\(one)\"", with: "\"name\":\"best.safetensors\""),
                "\(byFile.stdout)\n\(byKey.stdout)")
        #expect(byFile.stdout.contains("\"confirmed\":1,\"total\":1"))

        // What --model does not accept, it says, with what it does.
        let missing = try vitrine(["flags", "add", "--store", s.store, "--dataset", "d", "--query", "q", "--match", "m",
                                   "--model", "best.safetensors", "--verdict", "wrong"], in: s)
        #expect(missing.status != 0 && missing.stderr.contains("no such checkpoint file") && missing.stderr.contains("SHA-256"), "\(missing.stderr)")
        let tower = try vitrine(["flags", "add", "--store", s.store, "--dataset", "d", "--query", "q", "--match", "m",
                                 "--model", "zero-shot:nope", "--verdict", "wrong"], in: s)
        #expect(tower.status != 0 && tower.stderr.contains("zero-shot:e5 or zero-shot:minilm"), "\(tower.stderr)")
        let help = try vitrine(["flags", "add", "--help"], in: s)
        #expect(help.stdout.contains("SHA-256") && help.stdout.contains("zero-shot:TOWER"))
    }

    @Test func aVersion1StoreIsUpgradedOnOpenAndSaysSo() throws {
        let s = try Scratch()
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path
            + "/AnnotationsTests/Fixtures/flags-v1.sqlite"
        try FileManager.default.createDirectory(atPath: s.path + "/store", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixture, toPath: s.store)
        // The store's folder is searched: the checkpoint named in the fixture is found there.
        try Data("tiny".utf8).write(to: URL(fileURLWithPath: s.path + "/store/tiny-fixture.safetensors"))
        let first = try vitrine(["flags", "list", "--store", s.store], in: s, environment: ["VITRINE_CHECKPOINTS": ""])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("upgraded the flag store to schema v2"))
        #expect(first.stderr.contains("tiny-fixture.safetensors -> tiny-fixture.safetensors (8950abfda7b7), found at \(s.path)/store/tiny-fixture.safetensors (1 verdict)"), "\(first.stderr)")
        #expect(first.stderr.contains("zero-shot -> legacy:zero-shot: not a checkpoint file (4 verdicts)"))
        #expect(first.stderr.contains("under a legacy: model key"))
        #expect(first.stdout.split(separator: "\n").count == 11, "ten current verdicts and the header: \(first.stdout)")
        #expect(first.stdout.contains("tiny-fixture.safetensors (8950abfda7b7)") && first.stdout.contains("legacy:zero-shot"))
        let second = try vitrine(["flags", "list", "--store", s.store, "--history"], in: s)
        #expect(second.status == 0 && !second.stderr.contains("upgraded the flag store"))
        #expect(second.stdout.split(separator: "\n").count == 13, "all twelve verdicts are kept: \(second.stdout)")
    }
}
