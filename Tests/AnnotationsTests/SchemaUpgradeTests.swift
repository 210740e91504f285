import Foundation
import Testing
import Annotations
import GRDB

/// Opening a schema v1 store brings it to v2 in one transaction and loses nothing.
///
/// The fixture `Fixtures/flags-v1.sqlite` was written by the v1 code itself (`vitrine flags add`
/// and `undo` of the build before schema v2) and holds, in dataset
/// `SampleData:/home/ana/vitrine/SampleData` unless said otherwise:
///
/// | id | annotator | model (v1) | status |
/// |---|---|---|---|
/// | 1, 2 | ana, ben | zero-shot | current |
/// | 3 | ana | best.safetensors | replaced by 4 |
/// | 4 | ana | best.safetensors | current, replaces 3 |
/// | 5 | ben | best.safetensors | current (query 716721315149, match 139635171379, wrong, 08:15) |
/// | 6 | ben | step-000400.safetensors | current (same pair, confirmed, 08:16) |
/// | 7 | ana | tiny-fixture.safetensors | current |
/// | 8 | carla | zero-shot | current (query `caption:serum, 30 ml 精华`) |
/// | 9 | ana | a SHA-256 given to `flags add --model` | current |
/// | 10 | ben | rankings:retrieval_id_list.txt | current |
/// | 11 | ben | zero-shot | undone |
/// | 12 | dan | missing-run.safetensors | current, dataset `Other:/data/Other` |
@Suite struct SchemaUpgradeTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/flags-v1.sqlite"
    static let givenSHA = "3b5d5c3712955042212316173ccf37be800c3e8f1b6a4a3c5b1a2e5e3b6a8f01"

    /// A copy of the fixture in a fresh folder (the fixture itself is never opened for writing).
    func copyOfFixture(_ tmp: TemporaryFolder) throws -> String {
        let path = tmp.path + "/flags.sqlite"
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: path)
        return path
    }

    /// Writes `bytes` to `folder/relative`, making its folders.
    @discardableResult
    func checkpoint(_ folder: String, _ relative: String, _ bytes: String) throws -> String {
        let path = folder + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func sha256(_ text: String) throws -> String { try FileDigests.sha256(ofFileAt: text) }

    /// The v1 rows as stored, by id: every column.
    func version1Rows(_ path: String) throws -> [Row] {
        try DatabaseQueue(path: path).read { try Row.fetchAll($0, sql: "SELECT * FROM flag ORDER BY id") }
    }

    @Test func theFixtureIsAVersion1Store() throws {
        let tmp = try TemporaryFolder()
        let path = try copyOfFixture(tmp)
        let rows = try version1Rows(path)
        #expect(rows.count == 12)
        let migrations = try DatabaseQueue(path: path).read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(migrations == ["v1"])
    }

    @Test func upgradingKeepsEveryVerdictAndKeysFoundFilesBySHA256() throws {
        let tmp = try TemporaryFolder()
        let path = try copyOfFixture(tmp)
        let before = try version1Rows(path)
        // Where the checkpoints are: one beside the runs, and one run whose best is a copy of a step.
        let folder = tmp.path + "/checkpoints"
        let tiny = try checkpoint(folder, "tiny-fixture.safetensors", "tiny")
        let best = try checkpoint(folder, "vitrine-runs/finetune-1/best.safetensors", "run one, step 400")
        try checkpoint(folder, "vitrine-runs/finetune-1/step-000400.safetensors", "run one, step 400")
        let tinySHA = try sha256(tiny), runSHA = try sha256(best)

        let store = try FlagStore(path: path, checkpointSearch: CheckpointSearch(folders: [folder]))
        let history = try store.history()

        // Nothing lost: the same ids with the same content, times and links.
        #expect(history.count == before.count)
        for (old, new) in zip(before, history) {
            #expect(new.flag.id == old["id"])
            #expect(new.flag.dataset == old["dataset"] && new.flag.query == old["query"] && new.flag.match == old["match"])
            #expect(new.flag.verdict.rawValue == old["verdict"] && new.flag.annotator == old["annotator"])
            #expect(FlagTime.milliseconds(new.flag.createdAt) == old["created_at_ms"])
            #expect(new.flag.modelName == (old["model"] as String).components(separatedBy: "/").last)
            #expect(new.flag.role == .annotator)
            #expect(new.replaces == old["replaces_id"])
            if new.flag.id != 5 {
                #expect(new.status.rawValue == old["status"] && new.replacedBy == old["replaced_by_id"])
                #expect(new.endedAt.map(FlagTime.milliseconds) == old["ended_at_ms"])
            }
        }
        let key = Dictionary(uniqueKeysWithValues: history.map { ($0.flag.id ?? 0, $0.flag.model) })
        #expect(key[1] == "legacy:zero-shot" && key[2] == "legacy:zero-shot" && key[8] == "legacy:zero-shot")
        #expect(key[3] == runSHA && key[4] == runSHA && key[5] == runSHA && key[6] == runSHA)
        #expect(key[7] == tinySHA)
        #expect(key[9] == Self.givenSHA)
        #expect(key[10] == "legacy:rankings:retrieval_id_list.txt")
        #expect(key[12] == "legacy:missing-run.safetensors")
        // best.safetensors and step-000400.safetensors are one file: ben's two current verdicts on
        // the pair became one, the later (6) current and the earlier (5) replaced by it.
        #expect(history[4].status == .replaced && history[4].replacedBy == 6)
        #expect(history[4].endedAt == history[5].flag.createdAt)
        #expect(history[5].status == .current)

        // The report says what became of each name.
        let upgrade = try #require(store.upgrade)
        let outcomes = Dictionary(uniqueKeysWithValues: upgrade.models.map { ($0.version1Value, $0.outcome) })
        #expect(outcomes["zero-shot"] == .notAFile)
        #expect(outcomes["best.safetensors"] == .found(path: best))
        #expect(outcomes["tiny-fixture.safetensors"] == .found(path: tiny))
        #expect(outcomes[Self.givenSHA] == .alreadyAKey)
        #expect(outcomes["missing-run.safetensors"] == .notFound)
        #expect(upgrade.models.map(\.verdicts).reduce(0, +) == 12)
        #expect(upgrade.merged == 1)
        #expect(upgrade.legacyVerdicts == 6)   // four zero-shot, the ranking file, the missing run

        // The schema is the current one (v3 adds only the review_skip table), with the documented columns; opening again changes nothing.
        let (migrations, columns) = try DatabaseQueue(path: path).read { db in
            (try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier"),
             try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info('flag') ORDER BY cid"))
        }
        #expect(migrations == FlagStore.schemaVersions)
        #expect(columns == ["id", "dataset", "query", "match", "model_key", "verdict", "annotator", "created_at_ms",
                            "status", "replaces_id", "replaced_by_id", "ended_at_ms", "model_name", "role"])
        let reopened = try FlagStore(path: path)
        #expect(reopened.upgrade == nil)
        #expect(try reopened.history() == history)
        // And it works as a v2 store: a new verdict on the run's checkpoint replaces ana's.
        let newer = try reopened.record(Flag(dataset: "SampleData:/home/ana/vitrine/SampleData", query: "269548109147", match: "254319162699",
                                             on: .checkpoint(sha256: runSHA, fileName: "best.safetensors"), verdict: .confirmed, annotator: "ana"))
        #expect(try reopened.storedFlag(id: 4)?.replacedBy == newer.id)
    }

    @Test func twoDifferentFilesOfOneNameStayLegacy() throws {
        let tmp = try TemporaryFolder()
        let path = try copyOfFixture(tmp)
        let folder = tmp.path + "/runs"
        let one = try checkpoint(folder, "a/best.safetensors", "run a")
        let two = try checkpoint(folder, "b/best.safetensors", "run b")
        try checkpoint(folder, "a/step-000400.safetensors", "run a")
        let store = try FlagStore(path: path, checkpointSearch: CheckpointSearch(folders: [folder]))
        let models = try store.history().map(\.flag.model)
        #expect(Array(models[2...4]) == Array(repeating: "legacy:best.safetensors", count: 3))
        #expect(models[5] == (try sha256(one)))
        #expect(store.upgrade?.models.first { $0.version1Value == "best.safetensors" }?.outcome == .ambiguous(paths: [one, two]))
        #expect(store.upgrade?.merged == 0)
        #expect(store.upgrade?.summary.contains { $0.contains("best.safetensors -> legacy:best.safetensors: 2 files by that name differ") } == true)
        // Nothing was merged: ben keeps two current verdicts, on two keys.
        #expect(try store.history().filter { $0.status == .current }.count == 10)
    }

    @Test func aFailedUpgradeLeavesTheVersion1StoreAsItWas() throws {
        let tmp = try TemporaryFolder()
        let path = try copyOfFixture(tmp)
        // A trigger that makes the upgrade's UPDATE fail, half way through the migration.
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "CREATE TRIGGER break_upgrade BEFORE UPDATE ON flag BEGIN SELECT RAISE(ABORT, 'injected failure'); END")
        }
        let before = try version1Rows(path)
        #expect(throws: (any Error).self) { try FlagStore(path: path, checkpointSearch: CheckpointSearch(folders: [])) }
        let (migrations, columns, indexes) = try DatabaseQueue(path: path).read { db in
            (try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"),
             try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info('flag') ORDER BY cid"),
             try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'flag_%' ORDER BY name"))
        }
        #expect(migrations == ["v1"])
        #expect(columns.contains("model") && !columns.contains("model_key") && !columns.contains("role"))
        #expect(indexes == ["flag_by_key", "flag_by_status", "flag_one_current_verdict"])
        #expect(try version1Rows(path) == before)
        // Without the obstacle the upgrade goes through.
        try DatabaseQueue(path: path).write { try $0.execute(sql: "DROP TRIGGER break_upgrade") }
        #expect(try FlagStore(path: path, checkpointSearch: CheckpointSearch(folders: [])).history().count == 12)
    }

    @Test func theSearchLooksTwoLevelsDownAndCountsAFileOnce() throws {
        let tmp = try TemporaryFolder()
        let root = tmp.path + "/root"
        let top = try checkpoint(root, "best.safetensors", "x")
        let deep = try checkpoint(root, "vitrine-runs/r1/best.safetensors", "y")
        try checkpoint(root, "vitrine-runs/r1/deeper/best.safetensors", "three levels down: not looked at")
        try checkpoint(root, ".hidden/best.safetensors", "hidden: not looked at")
        try FileManager.default.createSymbolicLink(atPath: root + "/link.safetensors", withDestinationPath: top)
        let search = CheckpointSearch(folders: [root])
        #expect(search.files(named: "best.safetensors") == [top, deep])
        #expect(search.files(named: "link.safetensors") == [root + "/link.safetensors"])
        #expect(search.files(named: top) == [top])
        #expect(search.files(named: "absent.safetensors").isEmpty)
        // The standard folders: $VITRINE_CHECKPOINTS, then the current directory, then the store's folder.
        let standard = CheckpointSearch.standard(storePath: "/data/flags/flags.sqlite",
                                                 environment: ["VITRINE_CHECKPOINTS": "/runs:relative:/more/"],
                                                 currentDirectory: "/work")
        #expect(standard.folders == ["/runs", "/more", "/work", "/data/flags"])
    }

    @Test func digestsAreCachedUntilTheFileChanges() throws {
        let tmp = try TemporaryFolder()
        let file = try checkpoint(tmp.path, "model.safetensors", "first")
        let first = try FileDigests.sha256(ofFileAt: file)
        #expect(first == "a7937b64b8caa58f03721bb6bacf5c78cb235febe0e70b1b84cd99541461a08e")   // sha256sum of "first"
        #expect(try FileDigests.sha256(ofFileAt: file) == first)
        try Data("second".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try FileDigests.sha256(ofFileAt: file) != first)
        #expect(throws: FlagStoreError.self) { try FileDigests.sha256(ofFileAt: tmp.path + "/missing.safetensors") }
        #expect(throws: FlagStoreError.self) { try FileDigests.sha256(ofFileAt: tmp.path) }
    }

    @Test func modelKeysAndLabels() {
        let sha = String(repeating: "0123456789abcdef", count: 4)
        #expect(FlagModel.checkpoint(sha256: sha.uppercased(), fileName: "best.safetensors").key == sha)
        #expect(FlagModel.checkpoint(sha256: sha, fileName: "best.safetensors").label == "best.safetensors (0123456789ab)")
        #expect(FlagModel.zeroShot(tower: "e5") == FlagModel(key: "zero-shot:e5", name: "zero-shot"))
        #expect(FlagModel.fromVersion1("zero-shot") == FlagModel(key: "legacy:zero-shot", name: "zero-shot"))
        #expect(FlagModel.fromVersion1("best.safetensors").isLegacy)
        #expect(FlagModel.fromVersion1(sha.uppercased()).key == sha)
        #expect(FlagModel.fromVersion1("zero-shot:minilm").key == "zero-shot:minilm")
        #expect(FlagModel.kind(of: "rankings:" + sha) == .rankings(sha256: sha))
        #expect(FlagModel.kind(of: "rankings:file.txt") == .other)
        #expect(FlagModel.anyModel.kind == .anyModel)
    }
}

/// Files exported before schema v2 (seven columns) import with their model as a v1 value.
@Suite struct VersionOneFileTests {
    @Test func aSevenColumnFileImportsUnderLegacyKeysAndRolesAreRead() throws {
        let csv = """
            dataset,query,match,model,verdict,annotator,createdAt
            d,q1,m1,best.safetensors,wrong,ann,2026-11-21T08:11:58.123Z
            d,q1,m1,zero-shot,confirmed,bob,2026-11-21T08:11:59.000Z
            d,q2,m1,\(String(repeating: "ab", count: 32)),confirmed,bob,2026-11-21T08:12:00.000Z

            """
        let old = try FlagFile.decode(Data(csv.utf8), format: .csv)
        #expect(old.flags.map(\.model) == ["legacy:best.safetensors", "legacy:zero-shot", String(repeating: "ab", count: 32)])
        #expect(old.flags.map(\.modelName) == ["best.safetensors", "zero-shot", String(repeating: "ab", count: 32)])
        #expect(old.flags.allSatisfy { $0.role == .annotator })

        let jsonl = """
            {"dataset":"d","query":"q","match":"m","model":"zero-shot:e5","verdict":"wrong","annotator":"a","createdAt":"2026-11-21T08:11:58.123Z","modelName":"zero-shot","role":"Adjudicator"}
            {"dataset":"d","query":"q","match":"m","model":"any-model","verdict":"wrong","annotator":"a","createdAt":"2026-11-21T08:11:58.123Z","modelName":"any model","role":"judge"}
            {"dataset":"d","query":"q","match":"m","model":"x","verdict":"wrong","annotator":"a","createdAt":"2026-11-21T08:11:58.123Z","modelName":""}

            """
        let new = try FlagFile.decode(Data(jsonl.utf8), format: .jsonl)
        #expect(new.flags.count == 1 && new.flags[0].role == .adjudicator && new.flags[0].model == "zero-shot:e5")
        #expect(new.malformed.map(\.line) == [2, 3])
        #expect(new.malformed[0].reason.contains("unknown role \"judge\""))
        #expect(new.malformed[1].reason.contains("modelName is empty"))
    }
}
