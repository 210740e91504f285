import Support
import Foundation
import GRDB

/// The annotators' flags: an SQLite database (GRDB, WAL mode) that several processes
/// may use at once, two explorers and a `vitrine flags import` for instance.
///
/// Each write is one IMMEDIATE transaction, so writers queue on SQLite's lock (waiting
/// up to ``busyTimeout``) and never interleave; readers see a consistent snapshot while
/// a write is in flight. A committed flag survives the process being killed.
///
/// Semantics: every verdict is kept. An annotator's new verdict on a key (dataset,
/// query, match, model) replaces their earlier one in the same role, which stays in the
/// history with status `replaced`; undoing the new verdict makes the earlier one current
/// again. Different annotators' verdicts on one key live side by side. The model is a
/// ``FlagModel`` key: a checkpoint's SHA-256, never its file name.
///
/// Schema (GRDB migrations `v1`, then `v2`; docs/flags.md §3): one table `flag` with columns
/// `id`, `dataset`, `query`, `match`, `model_key`, `verdict` (`wrong`/`confirmed`),
/// `annotator`, `created_at_ms` (milliseconds since 1970 UTC), `status` (`current`/
/// `replaced`/`undone`), `replaces_id`, `replaced_by_id`, `ended_at_ms`, `model_name`,
/// `role` (`annotator`/`adjudicator`); a unique index allows one current verdict per
/// annotator, role and key. Opening a v1 store upgrades it in one transaction
/// (``SchemaUpgrade``, ``upgrade``).
public final class FlagStore: Sendable {
    /// The store's file.
    public let path: String
    private let pool: DatabasePool

    /// How long a write waits for another process's write to finish before it fails.
    public static let busyTimeout: TimeInterval = 15

    /// The schema versions this build knows, oldest first (GRDB migration identifiers).
    public static let schemaVersions: [String] = ["v1", "v2", "v3"]

    /// What opening the store did to bring a v1 store to v2 (nil when it was not this open
    /// that upgraded it, or there was nothing to upgrade).
    public let upgrade: SchemaUpgrade?

    /// Opens the store at `path`, creating its folders and the database if needed, and
    /// brings its schema up to date. A v1 store's verdicts get their checkpoint's SHA-256
    /// where `checkpointSearch` (default: ``CheckpointSearch/standard(storePath:environment:currentDirectory:)``)
    /// finds the file they name; the files are hashed before the upgrade's transaction starts.
    ///
    /// - Throws: ``FlagStoreError``: `.notASQLiteFile` for a file that is not SQLite,
    ///   `.notAFlagStore` for another program's database, `.newerSchema` for a store
    ///   written by a newer Vitrine, `.cannotCreate` when the folder cannot be made.
    public init(path: String, checkpointSearch: CheckpointSearch? = nil) throws {
        let path = URL(fileURLWithPath: path).standardizedFileURL.path
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw FlagStoreError.cannotCreate(path: path, reason: "it is a folder; give the path of a file in it, e.g. \(path)/flags.sqlite")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw FlagStoreError.cannotCreate(path: path, reason: "its folder \(folder) cannot be created (\(error.localizedDescription))")
        }

        var configuration = Configuration()
        configuration.label = "vitrine-flags"
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.foreignKeysEnabled = true
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch let error as DatabaseError {
            throw Self.openingError(error, path: path)
        }

        do {
            // GRDB sets synchronous=NORMAL for WAL, which survives a killed process but may
            // lose the last commits on power loss; a flag is a person's work, so pay the fsync.
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            let applied = try Self.checkOwnership(pool, path: path)
            var planned: [String: ModelUpgrade] = [:]
            if applied.contains("v1") && !applied.contains("v2") {
                // Looked up (and hashed) outside the upgrade's transaction, so the write lock is
                // held for the SQL only.
                let search = checkpointSearch ?? CheckpointSearch.standard(storePath: path)
                // Read in one snapshot with the migrations table: another store opening the same
                // file may upgrade it meanwhile (then there is nothing to plan).
                let values: [String] = try pool.read { db in
                    guard try !String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations").contains("v2") else { return [] }
                    return try String.fetchAll(db, sql: "SELECT DISTINCT model FROM flag")
                }
                for value in values {
                    let (model, outcome) = ModelUpgrade.resolve(value, search: search)
                    planned[value] = ModelUpgrade(version1Value: value, model: model, outcome: outcome, verdicts: 0)
                }
            }
            let record = UpgradeRecord()
            try Self.migrate(pool, Self.migrator(planned: planned, record: record))
            upgrade = applied.isEmpty ? nil : record.value   // a new store has nothing to upgrade
        } catch let error as DatabaseError {
            throw Self.openingError(error, path: path)
        }
    }

    /// Where the flags live unless told otherwise: `$VITRINE_FLAGS`, else
    /// `$XDG_DATA_HOME/vitrine/flags.sqlite`, else `~/.local/share/vitrine/flags.sqlite`.
    public static func defaultPath() -> String {
        let env = ProcessInfo.processInfo.environment
        if let explicit = env["VITRINE_FLAGS"], !explicit.isEmpty { return explicit }
        return UserFolders(environment: env).data + "/flags.sqlite"
    }

    /// The name verdicts are recorded under unless told otherwise: `$VITRINE_ANNOTATOR`,
    /// else `$USER`, else `$LOGNAME`, else "annotator".
    public static func defaultAnnotator() -> String {
        let env = ProcessInfo.processInfo.environment
        for key in ["VITRINE_ANNOTATOR", "USER", "LOGNAME"] {
            if let v = env[key], !v.isEmpty { return v }
        }
        return "annotator"
    }

    // MARK: Schema

    /// The migrations; `planned` holds the v2 keys of v1 model values already looked up, and
    /// `record` hears what the v2 upgrade did when it runs.
    private static func migrator(planned: [String: ModelUpgrade] = [:], record: UpgradeRecord? = nil) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE flag (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    dataset TEXT NOT NULL,
                    query TEXT NOT NULL,
                    match TEXT NOT NULL,
                    model TEXT NOT NULL,
                    verdict TEXT NOT NULL CHECK (verdict IN ('wrong', 'confirmed')),
                    annotator TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    status TEXT NOT NULL DEFAULT 'current' CHECK (status IN ('current', 'replaced', 'undone')),
                    replaces_id INTEGER REFERENCES flag(id),
                    replaced_by_id INTEGER REFERENCES flag(id),
                    ended_at_ms INTEGER
                );
                CREATE UNIQUE INDEX flag_one_current_verdict
                    ON flag(dataset, query, match, model, annotator) WHERE status = 'current';
                CREATE INDEX flag_by_key ON flag(dataset, query, match, model, annotator, created_at_ms);
                CREATE INDEX flag_by_status ON flag(status, dataset, query);
                """)
        }
        migrator.registerMigration("v2") { db in
            let upgrade = try upgradeToVersion2(db, planned: planned)
            record?.set(upgrade)
        }
        // v3: pairs an annotator skipped in a review queue (docs/flags.md, "Review queues").
        migrator.registerMigration("v3") { db in
            try db.execute(sql: """
                CREATE TABLE review_skip (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    dataset TEXT NOT NULL,
                    query TEXT NOT NULL,
                    match TEXT NOT NULL,
                    model_key TEXT NOT NULL,
                    annotator TEXT NOT NULL,
                    created_at_ms INTEGER NOT NULL,
                    UNIQUE (dataset, query, match, model_key, annotator)
                );
                """)
        }
        return migrator
    }

    /// Schema v2 (issue 13): the model column becomes `model_key` (a ``FlagModel`` key: the
    /// checkpoint's SHA-256 where the v1 file name can be resolved, else `legacy:<name>`),
    /// `model_name` keeps the v1 value for display (the file name), and `role` tells
    /// annotators from adjudicators (every v1 verdict is an annotator's). Runs inside the
    /// migration's one transaction: all of it or nothing. No row is deleted.
    private static func upgradeToVersion2(_ db: Database, planned: [String: ModelUpgrade]) throws -> SchemaUpgrade {
        try db.execute(sql: """
            DROP INDEX flag_one_current_verdict;
            DROP INDEX flag_by_key;
            ALTER TABLE flag RENAME COLUMN model TO model_key;
            ALTER TABLE flag ADD COLUMN model_name TEXT NOT NULL DEFAULT '';
            ALTER TABLE flag ADD COLUMN role TEXT NOT NULL DEFAULT 'annotator' CHECK (role IN ('annotator', 'adjudicator'));
            CREATE TEMP TABLE flag_v2_model (v1 TEXT PRIMARY KEY, key TEXT NOT NULL, name TEXT NOT NULL);
            """)
        var models: [ModelUpgrade] = []
        let insert = try db.makeStatement(sql: "INSERT INTO temp.flag_v2_model (v1, key, name) VALUES (?, ?, ?)")
        for row in try Row.fetchAll(db, sql: "SELECT model_key AS value, COUNT(*) AS n FROM flag GROUP BY model_key ORDER BY model_key") {
            let value: String = row["value"]
            // A value written after the files were looked up (by a v1 process) is not searched for.
            var entry = planned[value] ?? {
                let (model, outcome) = ModelUpgrade.resolve(value, search: CheckpointSearch(folders: []))
                return ModelUpgrade(version1Value: value, model: model, outcome: outcome, verdicts: 0)
            }()
            entry.verdicts = row["n"]
            try insert.execute(arguments: [value, entry.model.key, entry.model.name])
            models.append(entry)
        }
        // One statement: both columns are computed from the row as it was.
        try db.execute(sql: """
            UPDATE flag SET model_key = (SELECT key FROM temp.flag_v2_model WHERE v1 = flag.model_key),
                            model_name = (SELECT name FROM temp.flag_v2_model WHERE v1 = flag.model_key);
            DROP TABLE temp.flag_v2_model;
            """)
        let merged = try mergeCurrentDuplicates(db)
        try db.execute(sql: """
            CREATE UNIQUE INDEX flag_one_current_verdict
                ON flag(dataset, query, match, model_key, annotator, role) WHERE status = 'current';
            CREATE INDEX flag_by_key ON flag(dataset, query, match, model_key, annotator, role, created_at_ms);
            """)
        return SchemaUpgrade(models: models, merged: merged)
    }

    /// Two v1 names of one file (`best.safetensors` and the `step-….safetensors` it was copied
    /// from) become one key, so an annotator may hold two current verdicts on it: the later one
    /// (as ``isLater(_:than:)`` orders them) stays current, the others become `replaced` by it.
    /// Returns how many changed.
    private static func mergeCurrentDuplicates(_ db: Database) throws -> Int {
        let groups = try Row.fetchAll(db, sql: """
            SELECT dataset, query, match, model_key, annotator, role FROM flag WHERE status = 'current'
            GROUP BY dataset, query, match, model_key, annotator, role HAVING COUNT(*) > 1
            """)
        var merged = 0
        for group in groups {
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, verdict, created_at_ms FROM flag WHERE status = 'current'
                AND dataset = ? AND query = ? AND match = ? AND model_key = ? AND annotator = ? AND role = ?
                """, arguments: StatementArguments(group.databaseValues))
            let votes = rows.map { row -> (id: Int64, ms: Int64, wrong: Bool) in
                (row["id"], row["created_at_ms"], (row["verdict"] as String) == Verdict.wrong.rawValue)
            }
            guard let keep = votes.max(by: { a, b in (a.ms, a.wrong ? 1 : 0, a.id) < (b.ms, b.wrong ? 1 : 0, b.id) }) else { continue }
            for other in votes where other.id != keep.id {
                try db.execute(sql: "UPDATE flag SET status = 'replaced', replaced_by_id = ?, ended_at_ms = ? WHERE id = ?",
                               arguments: [keep.id, keep.ms, other.id])
                merged += 1
            }
        }
        return merged
    }

    /// Refuses another program's database and a store from a newer Vitrine before any
    /// migration touches them.
    /// Returns the migrations already applied.
    private static func checkOwnership(_ pool: DatabasePool, path: String) throws -> Set<String> {
        let (applied, tables) = try pool.read { db -> (Set<String>, [String]) in
            let applied = try migrator().appliedIdentifiers(db)
            let tables = try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
                """)
            return (applied, tables)
        }
        let known = Set(schemaVersions)
        if applied.isEmpty {
            let foreign = tables.filter { $0 != "grdb_migrations" }
            if !foreign.isEmpty { throw FlagStoreError.notAFlagStore(path: path) }
            return applied
        }
        let unknown = applied.subtracting(known)
        if !unknown.isEmpty {
            if applied.isDisjoint(with: known) { throw FlagStoreError.notAFlagStore(path: path) }
            throw FlagStoreError.newerSchema(path: path, unknownVersions: unknown.sorted())
        }
        return applied
    }

    /// Applies the missing migrations. Two processes opening a new store at once may
    /// both try: the loser's migration fails inside its transaction (the table exists),
    /// rolls back, and finds the schema complete.
    /// Runs the migrations not applied yet. Stores opened at once on one new or old file (other
    /// processes, other threads) race to migrate it: a migration that fails because another
    /// opener applied it in between is looked at again, up to a few times, from what is applied
    /// now.
    private static func migrate(_ pool: DatabasePool, _ migrator: DatabaseMigrator) throws {
        var attempts = 0
        while true {
            do {
                try migrator.migrate(pool)
                return
            } catch {
                if (try? pool.read(migrator.hasCompletedMigrations)) == true { return }
                attempts += 1
                if attempts >= 5 { throw error }
            }
        }
    }

    /// What the v2 migration did, handed out of its closure.
    private final class UpgradeRecord: @unchecked Sendable {
        // Sendable: `stored` is only touched while `lock` is held.
        private let lock = NSLock()
        private var stored: SchemaUpgrade?
        func set(_ upgrade: SchemaUpgrade) { lock.lock(); stored = upgrade; lock.unlock() }
        var value: SchemaUpgrade? { lock.lock(); defer { lock.unlock() }; return stored }
    }

    private static func openingError(_ error: DatabaseError, path: String) -> FlagStoreError {
        switch error.resultCode.primaryResultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT: return .notASQLiteFile(path: path)
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_READONLY:
            return .cannotCreate(path: path, reason: "SQLite cannot open it for writing (\(error.message ?? "\(error.resultCode)"))")
        default: return describe(error, path: path)
        }
    }

    private static func describe(_ error: DatabaseError, path: String) -> FlagStoreError {
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode.primaryResultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .database(path: path, reason: "another process held the store locked for more than \(Int(busyTimeout)) s (\(detail)); try again")
        case .SQLITE_FULL:
            return .database(path: path, reason: "the disk is full (\(detail)); free some space and try again")
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_CANTOPEN:
            return .database(path: path, reason: "the store cannot be written (\(detail)); check the file's permissions")
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return .database(path: path, reason: "the file is damaged or not an SQLite database (\(detail))")
        default:
            return .database(path: path, reason: detail)
        }
    }

    /// Runs a write transaction, turning SQLite failures into `FlagStoreError`.
    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.write(body)
        } catch let error as DatabaseError {
            throw Self.describe(error, path: path)
        }
    }

    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.read(body)
        } catch let error as DatabaseError {
            throw Self.describe(error, path: path)
        }
    }

    // MARK: Writing

    /// Records a verdict and returns it with its id (and its time rounded down to the
    /// millisecond, as stored). The annotator's earlier current verdict in the same role on
    /// the same (dataset, query, match, model key), if any, becomes `replaced`: it stays in
    /// the history, and `undo` of the new verdict restores it. `flag.id` is ignored. An
    /// adjudication is recorded the same way (``Flag/adjudication(dataset:query:match:verdict:adjudicator:createdAt:)``).
    ///
    /// - Throws: `FlagStoreError.invalidFlag` for an empty field, a NUL character or a
    ///   time outside years 1...9999; `.database` when the write fails.
    @discardableResult
    public func record(_ flag: Flag) throws -> Flag {
        try Self.validate(flag)
        let ms = FlagTime.milliseconds(flag.createdAt)
        return try write { db in
            let id = try Self.insertCurrent(db, flag, ms: ms)
            var stored = flag
            stored.id = id
            stored.createdAt = FlagTime.date(milliseconds: ms)
            return stored
        }
    }

    /// The columns that key a verdict, in the order of ``keyArguments(_:)``.
    private static let keyCondition = "dataset = ? AND query = ? AND match = ? AND model_key = ? AND annotator = ? AND role = ?"

    private static func keyArguments(_ flag: Flag) -> StatementArguments {
        [flag.dataset, flag.query, flag.match, flag.model, flag.annotator, flag.role.rawValue]
    }

    /// Inserts `flag` as the annotator's current verdict, replacing the earlier one.
    private static func insertCurrent(_ db: Database, _ flag: Flag, ms: Int64) throws -> Int64 {
        let previous = try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT id FROM flag WHERE \(keyCondition) AND status = 'current'
            """), arguments: keyArguments(flag))
        if let previous {
            try db.cachedStatement(sql: "UPDATE flag SET status = 'replaced', ended_at_ms = ? WHERE id = ?").execute(arguments: [ms, previous])
        }
        try db.cachedStatement(sql: """
            INSERT INTO flag (dataset, query, match, model_key, model_name, verdict, annotator, role, created_at_ms, status, replaces_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'current', ?)
            """).execute(arguments: [flag.dataset, flag.query, flag.match, flag.model, flag.modelName, flag.verdict.rawValue,
                                     flag.annotator, flag.role.rawValue, ms, previous])
        let id = db.lastInsertedRowID
        if let previous {
            try db.execute(sql: "UPDATE flag SET replaced_by_id = ? WHERE id = ?", arguments: [id, previous])
        }
        return id
    }

    /// Withdraws a current verdict. If it had replaced an earlier verdict of the same
    /// annotator, that one becomes current again and is returned.
    ///
    /// - Throws: `FlagStoreError.unknownFlag` for an id the store does not have,
    ///   `.notCurrent` for a verdict already undone or replaced (undo the newer one first).
    @discardableResult
    public func undo(id: Int64) throws -> Flag? {
        let now = FlagTime.milliseconds(Date())
        return try write { db -> Flag? in
            guard let row = try Row.fetchOne(db, sql: "SELECT status, replaces_id, replaced_by_id FROM flag WHERE id = ?", arguments: [id]) else {
                throw FlagStoreError.unknownFlag(id: id, path: path)
            }
            let status = FlagStatus(rawValue: row["status"]) ?? .undone
            guard status == .current else {
                throw FlagStoreError.notCurrent(id: id, status: status, replacedBy: row["replaced_by_id"])
            }
            try db.execute(sql: "UPDATE flag SET status = 'undone', ended_at_ms = ? WHERE id = ?", arguments: [now, id])
            guard let previous: Int64 = row["replaces_id"] else { return nil }
            try db.execute(sql: """
                UPDATE flag SET status = 'current', ended_at_ms = NULL, replaced_by_id = NULL
                WHERE id = ? AND status = 'replaced'
                """, arguments: [previous])
            guard db.changesCount > 0 else { return nil }
            return try Self.fetchRecords(db, where: "id = ?", [previous]).first?.flag
        }
    }

    /// How many verdicts one import transaction writes.
    public static let importBatchSize = 500

    /// Imports verdicts from another store's export, in transactions of
    /// ``importBatchSize`` (so that explorers writing at the same time wait only
    /// briefly; a reader sees whole batches). Each verdict is:
    /// - skipped as a duplicate when the store already has it (same key, annotator,
    ///   verdict and time, whatever its status: an undone verdict stays undone);
    /// - added as current when it is the annotator's newest on its key (an older current
    ///   verdict becomes `replaced`, as with `record`);
    /// - kept as history (`replaced`) when the annotator already has a newer verdict there.
    public func importFlags(_ flags: [Flag]) throws -> ImportReport {
        for flag in flags { try Self.validate(flag) }
        var report = ImportReport(read: flags.count)
        var start = 0
        while start < flags.count {
            let batch = flags[start..<min(flags.count, start + Self.importBatchSize)]
            let (added, duplicates, history) = try write { db -> (Int, Int, Int) in
                var added = 0, duplicates = 0, history = 0
                let sameVerdict = try db.cachedStatement(sql: """
                    SELECT EXISTS (SELECT 1 FROM flag WHERE \(Self.keyCondition) AND verdict = ? AND created_at_ms = ?)
                    """)
                let currentVerdict = try db.cachedStatement(sql: """
                    SELECT id, created_at_ms FROM flag WHERE \(Self.keyCondition) AND status = 'current'
                    """)
                let insertHistory = try db.cachedStatement(sql: """
                    INSERT INTO flag (dataset, query, match, model_key, model_name, verdict, annotator, role, created_at_ms, status, ended_at_ms)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'replaced', ?)
                    """)
                for flag in batch {
                    let ms = FlagTime.milliseconds(flag.createdAt)
                    let key = Self.keyArguments(flag)
                    if try Bool.fetchOne(sameVerdict, arguments: key + [flag.verdict.rawValue, ms]) ?? false {
                        duplicates += 1
                        continue
                    }
                    let current = try Row.fetchOne(currentVerdict, arguments: key)
                    if let current, (current["created_at_ms"] as Int64) >= ms {
                        try insertHistory.execute(arguments: [flag.dataset, flag.query, flag.match, flag.model, flag.modelName,
                                                              flag.verdict.rawValue, flag.annotator, flag.role.rawValue, ms,
                                                              current["created_at_ms"] as Int64])
                        history += 1
                    } else {
                        _ = try Self.insertCurrent(db, flag, ms: ms)
                        added += 1
                    }
                }
                return (added, duplicates, history)
            }
            report.added += added
            report.duplicates += duplicates
            report.keptAsHistory += history
            start += batch.count
        }
        return report
    }

    static func validate(_ flag: Flag) throws {
        for (name, value) in [("dataset", flag.dataset), ("query", flag.query), ("match", flag.match),
                              ("model", flag.model), ("modelName", flag.modelName), ("annotator", flag.annotator)] {
            if value.isEmpty { throw FlagStoreError.invalidFlag(reason: "\(name) is empty") }
            if value.utf8.contains(0) { throw FlagStoreError.invalidFlag(reason: "\(name) contains a NUL character") }
        }
        let ms = FlagTime.milliseconds(flag.createdAt)
        guard ms >= Self.earliest, ms <= Self.latest else {
            throw FlagStoreError.invalidFlag(reason: "its time \(flag.createdAt) is outside the years 0001...9999")
        }
    }

    /// 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z in milliseconds.
    private static let earliest: Int64 = -62_135_596_800_000
    private static let latest: Int64 = 253_402_300_799_999

    // MARK: Review queues

    /// Records that `annotator` skipped the pair (query, match) of `model` in a review queue: it
    /// counts as reviewed (`reviewedPairs`) without a verdict. Skipping it again changes nothing.
    public func skip(dataset: String, query: String, match: String, model: String, annotator: String, at date: Date = Date()) throws {
        try write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO review_skip (dataset, query, match, model_key, annotator, created_at_ms)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [dataset, query, match, model, annotator, FlagTime.milliseconds(date)])
        }
    }

    /// Withdraws a skip (undo in a review queue).
    public func unskip(dataset: String, query: String, match: String, model: String, annotator: String) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM review_skip WHERE dataset = ? AND query = ? AND match = ? AND model_key = ? AND annotator = ?",
                           arguments: [dataset, query, match, model, annotator])
        }
    }

    /// The pairs of `model` (its key) that `annotator` has reviewed in `dataset`: those with a
    /// current verdict of theirs (as annotator) and those they skipped.
    public func reviewedPairs(dataset: String, model: String, annotator: String) throws -> Set<ReviewedPair> {
        try read { db in
            var pairs = Set<ReviewedPair>()
            for row in try Row.fetchAll(db, sql: """
                SELECT query, match FROM flag
                WHERE status = 'current' AND role = 'annotator' AND dataset = ? AND model_key = ? AND annotator = ?
                UNION SELECT query, match FROM review_skip WHERE dataset = ? AND model_key = ? AND annotator = ?
                """, arguments: [dataset, model, annotator, dataset, model, annotator]) {
                pairs.insert(ReviewedPair(query: row["query"], match: row["match"]))
            }
            return pairs
        }
    }

    // MARK: Reading

    /// The current verdicts on a query of a dataset (all queries when `query` is nil),
    /// every annotator and model, oldest first.
    public func flags(dataset: String, query: String?) throws -> [Flag] {
        try read { db in
            if let query {
                return try Self.fetchRecords(db, where: "status = 'current' AND dataset = ? AND query = ?", [dataset, query]).map(\.flag)
            }
            return try Self.fetchRecords(db, where: "status = 'current' AND dataset = ?", [dataset]).map(\.flag)
        }
    }

    /// Every current verdict (of one dataset, or of all), oldest first; ties are ordered
    /// by content, never by id, so that an export of an imported export is identical.
    public func allFlags(dataset: String? = nil) throws -> [Flag] {
        try read { db in
            if let dataset {
                return try Self.fetchRecords(db, where: "status = 'current' AND dataset = ?", [dataset]).map(\.flag)
            }
            return try Self.fetchRecords(db, where: "status = 'current'", []).map(\.flag)
        }
    }

    /// Every stored verdict, current or not, with its status and links, in the order
    /// they were written (by id). Filters are optional.
    public func history(dataset: String? = nil, query: String? = nil) throws -> [FlagRecord] {
        var clauses: [String] = [], arguments: [any DatabaseValueConvertible] = []
        if let dataset { clauses.append("dataset = ?"); arguments.append(dataset) }
        if let query { clauses.append("query = ?"); arguments.append(query) }
        let condition = clauses.isEmpty ? "1" : clauses.joined(separator: " AND ")
        return try read { db in
            try Self.fetchRecords(db, where: condition, StatementArguments(arguments), orderBy: "id")
        }
    }

    /// One stored verdict by id, with its status, or nil.
    public func storedFlag(id: Int64) throws -> FlagRecord? {
        try read { db in try Self.fetchRecords(db, where: "id = ?", [id]).first }
    }

    /// The datasets that have current verdicts, with how many each.
    public func datasets() throws -> [(dataset: String, flags: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT dataset, COUNT(*) AS n FROM flag WHERE status = 'current' GROUP BY dataset ORDER BY dataset")
                .map { ($0["dataset"], $0["n"]) }
        }
    }

    /// Training pairs from a dataset's current verdicts: a confirmed match is a positive
    /// pair, a wrong one a negative. Each annotator counts once per (query, match) (their
    /// most recent verdict, whatever the model); `rule` settles disagreements between
    /// annotators (default: majority, ties to the most recent); an adjudicated pair takes the
    /// adjudicator's verdict whatever the rule. Sorted by query, match.
    public func pairs(dataset: String, rule: DisagreementRule = .majority) throws -> [FlagPair] {
        let flags = try read { db in
            try Self.fetchRecords(db, where: "status = 'current' AND dataset = ?", [dataset],
                                  orderBy: "query, match, created_at_ms, id").map(\.flag)
        }
        return Self.resolvePairs(flags, rule: rule)
    }

    /// `pairs` on verdicts already in hand (sorted or not).
    ///
    /// Per (query, match): annotators' verdicts are reduced to one each (their latest) and
    /// settled by `rule`; when the pair has an adjudicator's verdict, the latest adjudication
    /// decides it instead, under every rule (`exclude` included), and the pair is `adjudicated`.
    /// `annotators` and `contested` always describe the annotators' votes.
    public static func resolvePairs(_ flags: [Flag], rule: DisagreementRule) -> [FlagPair] {
        struct PairKey: Hashable { var query: String; var match: String }
        var groups: [PairKey: [Flag]] = [:]
        for f in flags { groups[PairKey(query: f.query, match: f.match), default: []].append(f) }
        var result: [FlagPair] = []
        result.reserveCapacity(groups.count)
        for (key, verdicts) in groups {
            let votes = latestPerAnnotator(verdicts.filter { $0.role == .annotator })
            let adjudication = verdicts.filter { $0.role == .adjudicator }.max { isLater($1, than: $0) }
            let wrong = votes.filter { $0.verdict == .wrong }.count
            let confirmed = votes.count - wrong
            let contested = wrong > 0 && confirmed > 0
            guard let latest = (votes + [adjudication].compactMap { $0 }).max(by: { isLater($1, than: $0) }) else { continue }
            let positive: Bool
            if let adjudication {
                positive = adjudication.verdict == .confirmed
            } else {
                let newestVote = votes.max { isLater($1, than: $0) } ?? latest
                switch rule {
                case .majority: positive = confirmed == wrong ? newestVote.verdict == .confirmed : confirmed > wrong
                case .latest: positive = newestVote.verdict == .confirmed
                case .exclude:
                    if contested { continue }
                    positive = confirmed > 0
                }
            }
            result.append(FlagPair(query: key.query, match: key.match, isPositive: positive, annotators: votes.count,
                                   contested: contested, latest: latest.createdAt, adjudicated: adjudication != nil))
        }
        return result.sorted { ($0.query, $0.match) < ($1.query, $1.match) }
    }

    /// One verdict per annotator: their latest (``isLater(_:than:)``), in no particular order.
    static func latestPerAnnotator(_ verdicts: [Flag]) -> [Flag] {
        var byAnnotator: [String: Flag] = [:]
        for f in verdicts {
            if let seen = byAnnotator[f.annotator], isLater(seen, than: f) { continue }
            byAnnotator[f.annotator] = f
        }
        return Array(byAnnotator.values)
    }

    /// Agreement between the annotators of the current verdicts (of one dataset, or all; on
    /// one model key, or all): see ``Agreement/report(_:)``. Adjudications count whatever
    /// the model.
    public func agreement(dataset: String? = nil, model: String? = nil) throws -> AgreementReport {
        let flags = try allFlags(dataset: dataset)
        return Agreement.report(flags.filter { model == nil || $0.model == model || $0.role == .adjudicator })
    }

    /// `a` is more recent than `b`: later time; at equal times the wrong verdict counts as
    /// later (the cautious choice), then the larger id.
    static func isLater(_ a: Flag, than b: Flag) -> Bool {
        if a.createdAt != b.createdAt { return a.createdAt > b.createdAt }
        if a.verdict != b.verdict { return a.verdict == .wrong }
        return (a.id ?? 0) > (b.id ?? 0)
    }

    // MARK: Export

    /// The current verdicts (of one dataset, or of all) as a flags file.
    public func export(format: FlagFileFormat, dataset: String? = nil) throws -> Data {
        FlagFile.encode(try allFlags(dataset: dataset), format: format)
    }

    // MARK: Rows

    private static let columns = "id, dataset, query, match, model_key, model_name, verdict, annotator, role, created_at_ms, status, replaces_id, replaced_by_id, ended_at_ms"
    private static let contentOrder = "created_at_ms, dataset, query, match, model_key, annotator, role, verdict, model_name"

    private static func fetchRecords(_ db: Database, where condition: String, _ arguments: StatementArguments,
                                     orderBy: String = contentOrder) throws -> [FlagRecord] {
        try Row.fetchAll(db, sql: "SELECT \(columns) FROM flag WHERE \(condition) ORDER BY \(orderBy)", arguments: arguments).map { row in
            let verdictText: String = row["verdict"]
            let statusText: String = row["status"]
            let roleText: String = row["role"]
            let flag = Flag(id: row["id"], dataset: row["dataset"], query: row["query"], match: row["match"],
                            model: row["model_key"], modelName: row["model_name"],
                            verdict: Verdict(rawValue: verdictText) ?? .wrong, annotator: row["annotator"],
                            role: FlagRole(rawValue: roleText) ?? .annotator,
                            createdAt: FlagTime.date(milliseconds: row["created_at_ms"]))
            let ended: Int64? = row["ended_at_ms"]
            return FlagRecord(flag: flag, status: FlagStatus(rawValue: statusText) ?? .undone,
                              replaces: row["replaces_id"], replacedBy: row["replaced_by_id"],
                              endedAt: ended.map { FlagTime.date(milliseconds: $0) })
        }
    }
}
