import Foundation
import Glibc

/// Where the schema v2 upgrade looks for the checkpoint a v1 verdict named (docs/flags.md §3.1).
///
/// Schema v1 recorded a checkpoint by its file name only (`best.safetensors`), which does not
/// say which run's file it was. The upgrade looks for files of that name in ``folders``, each
/// folder itself and its subfolders one and two levels down (where `vitrine train` puts its
/// runs: `./vitrine-runs/<run>/best.safetensors`), hidden folders left out, and gives the
/// verdicts the file's SHA-256 when every file found by that name has the same content. No
/// file, or files of that name that differ (two runs' `best.safetensors`), leave the verdicts
/// under `legacy:<name>`. A v1 value that is an absolute path is looked at there only.
public struct CheckpointSearch: Sendable, Equatable {
    /// The folders searched, in order.
    public var folders: [String]

    /// At most this many folders are visited for one name (a search started in `/` stops there).
    public static let folderLimit = 20_000

    public init(folders: [String]) { self.folders = folders }

    /// The folders of `$VITRINE_CHECKPOINTS` (colon-separated absolute paths), the current
    /// directory, and the store's folder, without repeats.
    public static func standard(storePath: String,
                                environment: [String: String] = ProcessInfo.processInfo.environment,
                                currentDirectory: String = FileManager.default.currentDirectoryPath) -> CheckpointSearch {
        var folders: [String] = []
        for part in (environment["VITRINE_CHECKPOINTS"] ?? "").split(separator: ":") where part.hasPrefix("/") {
            folders.append(String(part))
        }
        folders.append(currentDirectory)
        folders.append((storePath as NSString).deletingLastPathComponent)
        var seen = Set<String>()
        return CheckpointSearch(folders: folders.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
                                               .filter { seen.insert($0).inserted })
    }

    /// The regular files called `name` (or at the absolute path `name`), one path per file
    /// (links to one file count once), in the order found.
    public func files(named name: String) -> [String] {
        guard !name.isEmpty, !name.utf8.contains(0) else { return [] }
        if name.hasPrefix("/") { return Self.isRegularFile(name) ? [name] : [] }
        var found: [String] = [], seen = Set<String>(), visited = 0
        for folder in folders {
            var level = [folder]
            for depth in 0...2 {
                var next: [String] = []
                for dir in level {
                    visited += 1
                    if visited > Self.folderLimit { return found }
                    let candidate = dir + "/" + name
                    if Self.isRegularFile(candidate), seen.insert(Self.realPath(candidate)).inserted { found.append(candidate) }
                    if depth < 2 { next += Self.subfolders(of: dir) }
                }
                level = next
            }
        }
        return found
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    private static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func subfolders(of dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var out: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            var info = stat()
            let path = dir + "/" + name
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { out.append(path) }
        }
        return out
    }
}

/// What the upgrade to schema v2 did with one v1 `model` value.
public struct ModelUpgrade: Sendable, Equatable {
    /// How the value's key was decided.
    public enum Outcome: Sendable, Equatable {
        /// The value was already a key (a SHA-256 given to `vitrine flags add --model`).
        case alreadyAKey
        /// One file by that name was found (or several with the same content): its SHA-256.
        case found(path: String)
        /// No readable file by that name in the searched folders: `legacy:<value>`.
        case notFound
        /// Files of that name with different contents (two runs' `best.safetensors`): `legacy:<value>`.
        case ambiguous(paths: [String])
        /// Not a file name (`zero-shot`, whose text tower v1 did not record; a ranking file's
        /// name): `legacy:<value>`.
        case notAFile
    }

    /// The v1 value (a file name, `zero-shot`...).
    public var version1Value: String
    /// The key and name its verdicts have now.
    public var model: FlagModel
    public var outcome: Outcome
    /// How many stored verdicts (every status) had this value.
    public var verdicts: Int

    public init(version1Value: String, model: FlagModel, outcome: Outcome, verdicts: Int) {
        self.version1Value = version1Value; self.model = model; self.outcome = outcome; self.verdicts = verdicts
    }

    /// The key for a v1 value: kept when it is one, else the SHA-256 of the one file it names
    /// in `search`, else `legacy:<value>`.
    public static func resolve(_ value: String, search: CheckpointSearch) -> (model: FlagModel, outcome: Outcome) {
        let plain = FlagModel.fromVersion1(value)
        if !plain.isLegacy { return (plain, .alreadyAKey) }
        if value == "zero-shot" || value.hasPrefix(FlagModel.rankingsPrefix) { return (plain, .notAFile) }
        let files = search.files(named: value)
        var digests: [String: String] = [:]   // digest -> first path with it
        for file in files {
            guard let digest = try? FileDigests.sha256(ofFileAt: file) else { continue }
            if digests[digest] == nil { digests[digest] = file }
        }
        if digests.count == 1, let (digest, path) = digests.first {
            return (.checkpoint(sha256: digest, fileName: (value as NSString).lastPathComponent), .found(path: path))
        }
        if digests.count > 1 { return (plain, .ambiguous(paths: files)) }
        return (plain, .notFound)
    }
}

/// What opening a v1 store did to bring it to schema v2 (``FlagStore/upgrade``).
public struct SchemaUpgrade: Sendable, Equatable {
    /// One entry per distinct v1 model value, by value.
    public var models: [ModelUpgrade]
    /// Current verdicts that stopped being current because two v1 names turned out to be one
    /// file (the annotator's later verdict on the pair stays current; the other is kept as
    /// `replaced`).
    public var merged: Int

    public init(models: [ModelUpgrade], merged: Int) { self.models = models; self.merged = merged }

    /// Stored verdicts left under a `legacy:` key.
    public var legacyVerdicts: Int { models.filter(\.model.isLegacy).map(\.verdicts).reduce(0, +) }

    /// Lines for a person: what each v1 name became.
    public var summary: [String] {
        var lines = ["upgraded the flag store to schema v2: verdicts are now kept by the model's content (SHA-256), not its file name"]
        for m in models {
            let n = "\(m.verdicts) verdict\(m.verdicts == 1 ? "" : "s")"
            switch m.outcome {
            case .alreadyAKey: lines.append("  \(m.version1Value): kept as it is (\(n))")
            case .found(let path): lines.append("  \(m.version1Value) -> \(m.model.label), found at \(path) (\(n))")
            case .notFound: lines.append("  \(m.version1Value) -> \(m.model.key): no file by that name found (\(n))")
            case .ambiguous(let paths):
                lines.append("  \(m.version1Value) -> \(m.model.key): \(paths.count) files by that name differ, e.g. \(paths.prefix(2).joined(separator: ", ")) (\(n))")
            case .notAFile: lines.append("  \(m.version1Value) -> \(m.model.key): not a checkpoint file (\(n))")
            }
        }
        if merged > 0 {
            lines.append("  \(merged) current verdict\(merged == 1 ? "" : "s") recorded under two names of one file became history (the later one stays current)")
        }
        return lines
    }
}
