import Foundation
import Testing
import Annotations
import GRDB

/// A fresh folder for one test's store, removed at the end.
final class TemporaryFolder {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "vitrine-flags-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    var store: String { path + "/nested/folders/flags.sqlite" }
}

/// A flag at a fixed time (whole milliseconds), `seconds` after a fixed origin.
func flag(_ query: String, _ match: String, _ verdict: Verdict, by annotator: String = "ann",
          model: String = "zero-shot", dataset: String = "SampleData", at seconds: Double = 0) -> Flag {
    Flag(dataset: dataset, query: query, match: match, model: model, verdict: verdict, annotator: annotator,
         createdAt: Date(timeIntervalSince1970: 1_795_000_000 + seconds))
}

/// `flag` on query q1, match m1.
func flag(_ verdict: Verdict = .wrong, by annotator: String = "ann", model: String = "zero-shot",
          dataset: String = "SampleData", at seconds: Double = 0) -> Flag {
    flag("q1", "m1", verdict, by: annotator, model: model, dataset: dataset, at: seconds)
}

/// A flag without its id, to compare what was stored with what was given.
func content(_ f: Flag) -> Flag { var c = f; c.id = nil; return c }

@Suite struct FlagStoreRecordTests {
    @Test func createsItsFoldersAndReturnsTheFlagWithItsID() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        #expect(FileManager.default.fileExists(atPath: tmp.store))
        let given = Flag(dataset: "d", query: "q", match: "m", model: "zero-shot", verdict: .confirmed, annotator: "ann",
                         createdAt: Date(timeIntervalSince1970: 1_795_000_000.123_456_7))
        let stored = try store.record(given)
        let id = try #require(stored.id)
        #expect(id > 0)
        // The time is kept to the millisecond, rounded down.
        #expect(stored.createdAt == FlagTime.date(milliseconds: 1_795_000_000_123))
        #expect(try store.flags(dataset: "d", query: "q") == [stored])
        #expect(try store.storedFlag(id: id)?.status == .current)
        // A second store instance on the same file sees it.
        #expect(try FlagStore(path: tmp.store).flags(dataset: "d", query: nil) == [stored])
    }

    @Test func aNewVerdictReplacesTheAnnotatorsEarlierOneAndUndoRestoresIt() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        let first = try store.record(flag(.wrong, at: 0))
        let second = try store.record(flag(.confirmed, at: 10))
        #expect(try store.flags(dataset: "SampleData", query: "q1") == [second])

        let history = try store.history()
        #expect(history.map(\.flag.id) == [first.id, second.id])
        #expect(history[0].status == .replaced && history[0].replacedBy == second.id)
        #expect(history[0].endedAt == second.createdAt)
        #expect(history[1].status == .current && history[1].replaces == first.id)

        // Undo of the replaced verdict is refused, pointing at the newer one.
        #expect(throws: FlagStoreError.notCurrent(id: first.id!, status: .replaced, replacedBy: second.id)) {
            try store.undo(id: first.id!)
        }
        let restored = try store.undo(id: second.id!)
        #expect(restored == first)
        #expect(try store.flags(dataset: "SampleData", query: "q1") == [first])
        #expect(try store.storedFlag(id: second.id!)?.status == .undone)
        #expect(try store.storedFlag(id: second.id!)?.endedAt != nil)

        // Undo again: the first verdict goes too, and nothing is current.
        #expect(try store.undo(id: first.id!) == nil)
        #expect(try store.flags(dataset: "SampleData", query: "q1").isEmpty)
        #expect(throws: FlagStoreError.notCurrent(id: first.id!, status: .undone, replacedBy: nil)) { try store.undo(id: first.id!) }
        #expect(throws: FlagStoreError.unknownFlag(id: 9999, path: store.path)) { try store.undo(id: 9999) }
        // Nothing is ever deleted.
        #expect(try store.history().count == 2)
    }

    @Test func aChainOfReplacementsUndoesLikeAStack() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        let a = try store.record(flag(.wrong, at: 0))
        let b = try store.record(flag(.confirmed, at: 1))
        let c = try store.record(flag(.wrong, at: 2))
        #expect(try store.undo(id: c.id!) == b)
        #expect(try store.undo(id: b.id!) == a)
        #expect(try store.flags(dataset: "SampleData", query: "q1") == [a])
        // After the undos, a new verdict replaces `a` again.
        let d = try store.record(flag(.confirmed, at: 3))
        #expect(try store.storedFlag(id: a.id!)?.replacedBy == d.id)
        #expect(try store.flags(dataset: "SampleData", query: "q1") == [d])
    }

    @Test func annotatorsModelsQueriesAndDatasetsAreSeparateKeys() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        let ann = try store.record(flag(.wrong, by: "ann", at: 0))
        let bob = try store.record(flag(.confirmed, by: "bob", at: 1))
        let otherModel = try store.record(flag(.confirmed, by: "ann", model: "sha-1", at: 2))
        let otherMatch = try store.record(flag("q1", "m2", .wrong, at: 3))
        let otherQuery = try store.record(flag("q2", "m1", .wrong, at: 4))
        let otherDataset = try store.record(flag(.wrong, dataset: "Product1M", at: 5))
        #expect(try store.flags(dataset: "SampleData", query: "q1") == [ann, bob, otherModel, otherMatch])
        #expect(try store.flags(dataset: "SampleData", query: nil) == [ann, bob, otherModel, otherMatch, otherQuery])
        #expect(try store.flags(dataset: "Product1M", query: nil) == [otherDataset])
        #expect(try store.allFlags().count == 6)
        #expect(try store.allFlags(dataset: "Product1M") == [otherDataset])
        #expect(try store.datasets().map(\.dataset) == ["Product1M", "SampleData"])
        #expect(try store.datasets().map(\.flags) == [1, 5])
        #expect(try store.history(dataset: "SampleData", query: "q2").map(\.flag) == [otherQuery])
    }

    @Test func invalidFlagsAreRefusedWithTheReason() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        var empty = flag()
        empty.annotator = ""
        #expect(throws: FlagStoreError.invalidFlag(reason: "annotator is empty")) { try store.record(empty) }
        var nul = flag()
        nul.query = "caption:a\u{0}b"
        #expect(throws: FlagStoreError.invalidFlag(reason: "query contains a NUL character")) { try store.record(nul) }
        var far = flag()
        far.createdAt = Date(timeIntervalSince1970: 1e12)
        #expect(throws: FlagStoreError.self) { try store.record(far) }
        #expect(try store.history().isEmpty)
    }

    @Test func defaultPathFollowsTheDocumentedOrder() {
        // Only checks the shape under the environment the tests run in.
        let path = FlagStore.defaultPath()
        let env = ProcessInfo.processInfo.environment
        if let explicit = env["VITRINE_FLAGS"], !explicit.isEmpty {
            #expect(path == explicit)
        } else if let xdg = env["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            #expect(path == xdg + "/vitrine/flags.sqlite")
        } else {
            #expect(path.hasSuffix("/.local/share/vitrine/flags.sqlite"))
        }
    }
}

@Suite struct FlagPairTests {
    @Test func confirmedIsPositiveWrongIsNegativeOnePerAnnotator() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        try store.record(flag("q1", "m1", .confirmed, at: 0))
        try store.record(flag("q1", "m2", .wrong, at: 1))
        // The same annotator on another model's ranking: their latest verdict counts, once.
        try store.record(flag("q2", "m1", .confirmed, model: "old", at: 2))
        try store.record(flag("q2", "m1", .wrong, model: "new", at: 3))
        // Another dataset is not mixed in; undone verdicts are not pairs.
        try store.record(flag("q1", "m1", .wrong, dataset: "Other", at: 4))
        let undone = try store.record(flag("q3", "m3", .wrong, at: 5))
        try store.undo(id: undone.id!)

        let pairs = try store.pairs(dataset: "SampleData")
        #expect(pairs.map { "\($0.query)/\($0.match)/\($0.isPositive)/\($0.annotators)/\($0.contested)" }
                == ["q1/m1/true/1/false", "q1/m2/false/1/false", "q2/m1/false/1/false"])
    }

    @Test func disagreementsAreSettledByTheRule() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        // Two against one: majority says wrong although the latest says confirmed.
        try store.record(flag("q1", "m1", .wrong, by: "ann", at: 0))
        try store.record(flag("q1", "m1", .wrong, by: "bob", at: 1))
        try store.record(flag("q1", "m1", .confirmed, by: "cat", at: 2))
        // One against one: the later verdict wins under majority and latest.
        try store.record(flag("q2", "m1", .confirmed, by: "ann", at: 0))
        try store.record(flag("q2", "m1", .wrong, by: "bob", at: 5))
        // Agreement.
        try store.record(flag("q3", "m1", .confirmed, by: "ann", at: 0))
        try store.record(flag("q3", "m1", .confirmed, by: "bob", at: 1))

        func summary(_ rule: DisagreementRule) throws -> [String] {
            try store.pairs(dataset: "SampleData", rule: rule).map { "\($0.query):\($0.isPositive ? "+" : "-")\($0.contested ? "?" : "")" }
        }
        #expect(try summary(.majority) == ["q1:-?", "q2:-?", "q3:+"])
        #expect(try summary(.latest) == ["q1:+?", "q2:-?", "q3:+"])
        #expect(try summary(.exclude) == ["q3:+"])
        #expect(try store.pairs(dataset: "SampleData").first?.annotators == 3)
    }

    @Test func equalTimesGoToWrong() {
        let pairs = FlagStore.resolvePairs([flag(.confirmed, by: "ann", at: 7), flag(.wrong, by: "bob", at: 7)], rule: .majority)
        #expect(pairs.count == 1 && pairs[0].isPositive == false && pairs[0].contested)
    }
}

@Suite struct FlagStoreFileTests {
    @Test func notAnSQLiteFileIsRefusedWithItsPath() throws {
        let tmp = try TemporaryFolder()
        let path = tmp.path + "/notes.sqlite"
        try Data(String(repeating: "These are not the flags you are looking for.\n", count: 200).utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: FlagStoreError.notASQLiteFile(path: path)) { try FlagStore(path: path) }
        let error = FlagStoreError.notASQLiteFile(path: path).description
        #expect(error.contains(path) && error.contains("--store"))
    }

    @Test func aFolderIsRefused() throws {
        let tmp = try TemporaryFolder()
        #expect(throws: FlagStoreError.self) { try FlagStore(path: tmp.path) }
    }

    @Test func timesFormatAndParseExactly() throws {
        #expect(FlagTime.format(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(FlagTime.format(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(FlagTime.format(milliseconds: 951_782_400_000) == "2000-02-29T00:00:00.000Z")
        #expect(FlagTime.format(milliseconds: 1_795_248_718_123) == "2026-11-21T08:11:58.123Z")
        #expect(FlagTime.parseMilliseconds("2026-11-21T08:11:58.123Z") == 1_795_248_718_123)
        #expect(FlagTime.parseMilliseconds("2026-11-21T09:11:58.1239+01:00") == 1_795_248_718_123)
        #expect(FlagTime.parseMilliseconds("2026-11-21 03:11:58-0500") == 1_795_248_718_000)
        for bad in ["2026-11-21", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-21T24:00:00Z",
                    "2026-11-21T08:11:58", "2026-11-21T08:11:58.Z", "yesterday", "2026-11-21T08:11:58Zjunk"] {
            #expect(FlagTime.parse(bad) == nil, "\(bad)")
        }
        // Every millisecond count in a wide range survives format -> parse.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let ms = Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &rng)
            #expect(FlagTime.parseMilliseconds(FlagTime.format(milliseconds: ms)) == ms)
        }
    }
}

/// Stores that are not ours, or not ours yet: made with GRDB directly.
@Suite struct ForeignStoreTests {
    @Test func anotherProgramsDatabaseIsRefused() throws {
        let tmp = try TemporaryFolder()
        let path = tmp.path + "/other.sqlite"
        try DatabaseQueue(path: path).write { try $0.execute(sql: "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)") }
        #expect(throws: FlagStoreError.notAFlagStore(path: path)) { try FlagStore(path: path) }
        // And it was not touched: no flag table was added.
        let tables = try DatabaseQueue(path: path).read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") }
        #expect(tables == ["photos"])
    }

    @Test func aStoreFromANewerVitrineIsRefusedAndLeftAlone() throws {
        let tmp = try TemporaryFolder()
        let store = try FlagStore(path: tmp.store)
        try store.record(flag())
        try DatabaseQueue(path: tmp.store).write {
            try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v4')")
            try $0.execute(sql: "ALTER TABLE flag ADD COLUMN confidence REAL")
        }
        #expect(throws: FlagStoreError.newerSchema(path: tmp.store, unknownVersions: ["v4"])) { try FlagStore(path: tmp.store) }
        #expect(FlagStoreError.newerSchema(path: tmp.store, unknownVersions: ["v4"]).description.contains("Upgrade Vitrine"))
    }

    @Test func theStoreIsInWALModeWithTheDocumentedSchema() throws {
        let tmp = try TemporaryFolder()
        _ = try FlagStore(path: tmp.store)
        let (mode, migrations, columns) = try DatabaseQueue(path: tmp.store).read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"),
             try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"),
             try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info('flag') ORDER BY cid"))
        }
        #expect(mode == "wal")
        #expect(migrations == FlagStore.schemaVersions)
        #expect(columns == ["id", "dataset", "query", "match", "model_key", "verdict", "annotator", "created_at_ms",
                            "status", "replaces_id", "replaced_by_id", "ended_at_ms", "model_name", "role"])
    }
}
