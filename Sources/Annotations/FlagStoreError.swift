import Foundation

/// What went wrong with a flag store or a flags file: each case says what, where, and
/// (in `description`) what to do about it.
public enum FlagStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file exists but is not an SQLite database (or is damaged beyond opening).
    case notASQLiteFile(path: String)
    /// An SQLite database, but another program's: it has tables and none of ours.
    case notAFlagStore(path: String)
    /// The store was migrated by a newer Vitrine: it has schema versions this build does not know.
    case newerSchema(path: String, unknownVersions: [String])
    /// The store's folder could not be created, or the path is a folder.
    case cannotCreate(path: String, reason: String)
    /// Any other SQLite failure (disk full, permissions, a lock held too long...).
    case database(path: String, reason: String)
    /// A flag that cannot be stored as given (an empty field, a NUL character, a date out of range).
    case invalidFlag(reason: String)
    /// `undo(id:)` for an id the store does not have.
    case unknownFlag(id: Int64, path: String)
    /// `undo(id:)` for a flag that is not an annotator's current verdict.
    case notCurrent(id: Int64, status: FlagStatus, replacedBy: Int64?)
    /// A flags file (import) that cannot be read as a whole: unreadable, missing header...
    case unreadableFile(path: String, reason: String)
    /// Import in strict mode refused a file with malformed lines (nothing was imported).
    case malformedLines(path: String, lines: [MalformedLine])
    /// A checkpoint (or ranking file) named as a model cannot be read to compute its SHA-256.
    case unreadableModelFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .notASQLiteFile(let path):
            return "\(path) is not an SQLite database (or it is damaged). Pass another store with --store PATH or set VITRINE_FLAGS; move this file away if it was created by mistake."
        case .notAFlagStore(let path):
            return "\(path) is an SQLite database of another program (it has tables, none of them Vitrine's flags). Pass another store with --store PATH or set VITRINE_FLAGS."
        case .newerSchema(let path, let versions):
            return "the flag store \(path) was written by a newer Vitrine (schema versions \(versions.joined(separator: ", ")) are unknown to this build). Upgrade Vitrine, or use another store with --store PATH."
        case .cannotCreate(let path, let reason):
            return "cannot create the flag store \(path): \(reason). Check that its folder is writable, or pass another path with --store PATH or VITRINE_FLAGS."
        case .database(let path, let reason):
            return "flag store \(path): \(reason)"
        case .invalidFlag(let reason):
            return "invalid flag: \(reason)"
        case .unknownFlag(let id, let path):
            return "there is no flag \(id) in \(path); `vitrine flags list --history` shows the ids."
        case .notCurrent(let id, let status, let replacedBy):
            if let newer = replacedBy {
                return "flag \(id) is not current: it was replaced by flag \(newer); undo \(newer) first."
            }
            return "flag \(id) is not current (it is \(status.rawValue)); only an annotator's current verdict can be undone."
        case .unreadableFile(let path, let reason):
            return "cannot import \(path): \(reason)"
        case .malformedLines(let path, let lines):
            let shown = lines.prefix(20).map { "  \($0)" }.joined(separator: "\n")
            let more = lines.count > 20 ? "\n  ... and \(lines.count - 20) more" : ""
            return "\(path): \(lines.count) malformed line\(lines.count == 1 ? "" : "s"), nothing imported (strict mode):\n\(shown)\(more)\nFix them, or import without --strict to skip them."
        case .unreadableModelFile(let path, let reason):
            return "cannot read the model file \(path) to compute its SHA-256 (\(reason)); flags name a checkpoint by its content, so give the path of a readable .safetensors file."
        }
    }
}

/// One line of a flags file that could not be read, and why.
public struct MalformedLine: Error, Sendable, Equatable, Hashable, CustomStringConvertible {
    /// 1-based line number (for a CSV record spanning lines, the line it starts on).
    public var line: Int
    public var reason: String
    public init(line: Int, reason: String) { self.line = line; self.reason = reason }
    public var description: String { "line \(line): \(reason)" }
}
