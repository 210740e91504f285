import Foundation
import Glibc
import Support

/// What ranked the matches a verdict was given on (docs/flags.md §1): the ``key`` flags are
/// kept under, exactly one per model, and a ``name`` to show.
///
/// | kind | key | name |
/// |---|---|---|
/// | a checkpoint | its file's SHA-256, 64 lower-case hex digits | its file name (`best.safetensors`) |
/// | the zero-shot towers | `zero-shot:<tower>` (`zero-shot:e5`, `zero-shot:minilm`) | `zero-shot` |
/// | a ranking file (`vitrine explore --rankings`) | `rankings:<its SHA-256>` | `rankings:<file name>` |
/// | a schema v1 name whose file was not found | `legacy:<the v1 value>` | the v1 value |
/// | an adjudicator's verdict (any model) | `any-model` | `any model` |
///
/// Two runs' `best.safetensors` are different keys; one file copied or renamed is the same key.
public struct FlagModel: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// What verdicts are grouped by (the store's `model_key` column).
    public var key: String
    /// For display only (the store's `model_name` column).
    public var name: String

    public init(key: String, name: String) { self.key = key; self.name = name }

    /// What a key says about the model.
    public enum Kind: Sendable, Equatable {
        case checkpoint(sha256: String)
        case zeroShot(tower: String)
        case rankings(sha256: String)
        /// A schema v1 value kept as it was (`legacy:` and the value).
        case legacy(name: String)
        case anyModel
        /// Not one of the forms above (only stores written through the API can hold one).
        case other
    }

    public var kind: Kind { Self.kind(of: key) }

    public static func kind(of key: String) -> Kind {
        if isSHA256(key) { return .checkpoint(sha256: key) }
        if key == anyModel.key { return .anyModel }
        if key.hasPrefix(zeroShotPrefix), key.count > zeroShotPrefix.count { return .zeroShot(tower: String(key.dropFirst(zeroShotPrefix.count))) }
        if key.hasPrefix(rankingsPrefix), isSHA256(String(key.dropFirst(rankingsPrefix.count))) {
            return .rankings(sha256: String(key.dropFirst(rankingsPrefix.count)))
        }
        if key.hasPrefix(legacyPrefix), key.count > legacyPrefix.count { return .legacy(name: String(key.dropFirst(legacyPrefix.count))) }
        return .other
    }

    /// Whether the key is a schema v1 name kept as `legacy:<name>` (its model is not known exactly).
    public var isLegacy: Bool { if case .legacy = kind { return true } else { return false } }

    static let zeroShotPrefix = "zero-shot:"
    static let rankingsPrefix = "rankings:"
    static let legacyPrefix = "legacy:"

    // MARK: Making one

    /// A checkpoint known by its digest.
    public static func checkpoint(sha256: String, fileName: String) -> FlagModel {
        FlagModel(key: sha256.lowercased(), name: fileName)
    }

    /// The checkpoint file at `path`: its SHA-256 (cached, see ``FileDigests``) and its file name.
    ///
    /// - Throws: `FlagStoreError.unreadableModelFile` when it is not a readable regular file.
    public static func checkpoint(atPath path: String) throws(FlagStoreError) -> FlagModel {
        checkpoint(sha256: try FileDigests.sha256(ofFileAt: path), fileName: (path as NSString).lastPathComponent)
    }

    /// The zero-shot towers with this text tower (`e5`, `minilm`).
    public static func zeroShot(tower: String) -> FlagModel {
        FlagModel(key: zeroShotPrefix + tower, name: "zero-shot")
    }

    /// A ranking file (`retrieval_id_list.txt`) inspected in the explorer, by its SHA-256.
    public static func rankings(atPath path: String) throws(FlagStoreError) -> FlagModel {
        FlagModel(key: rankingsPrefix + (try FileDigests.sha256(ofFileAt: path)),
                  name: rankingsPrefix + (path as NSString).lastPathComponent)
    }

    /// A schema v1 value whose model is not known exactly, kept under `legacy:<value>`.
    public static func legacy(_ version1Value: String) -> FlagModel {
        FlagModel(key: legacyPrefix + version1Value, name: version1Value)
    }

    /// What adjudicators' verdicts are recorded on: they settle a pair whatever model showed it.
    public static let anyModel = FlagModel(key: "any-model", name: "any model")

    /// A schema v1 `model` value (or the `model` field of a file exported before schema v2),
    /// without looking for files: a value already in a key's form (a SHA-256, `zero-shot:<tower>`,
    /// `legacy:<name>`...) is kept; anything else (`zero-shot`, `best.safetensors`) becomes
    /// `legacy:<value>`. v1 recorded `zero-shot` whatever the text tower, so it is legacy too.
    public static func fromVersion1(_ value: String) -> FlagModel {
        switch kind(of: value) {
        case .checkpoint(let sha): return FlagModel(key: sha, name: value)
        case .other: return isSHA256(value.lowercased()) ? FlagModel(key: value.lowercased(), name: value) : legacy(value)
        case .zeroShot: return FlagModel(key: value, name: "zero-shot")
        case .rankings, .legacy, .anyModel: return FlagModel(key: value, name: value)
        }
    }

    /// 64 lower-case hexadecimal digits.
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    // MARK: Showing one

    /// How lists show it: `best.safetensors (3f2a9c01b7e4)` for a checkpoint (the name and the
    /// digest's first 12 digits), `zero-shot:e5`, `rankings:<file> (<12 digits>)`, `legacy:<name>`,
    /// `any model`.
    public var label: String {
        switch kind {
        case .checkpoint(let sha):
            return name == key ? "sha256:" + sha.prefix(12) : "\(name) (\(sha.prefix(12)))"
        case .rankings(let sha): return "\(name) (\(sha.prefix(12)))"
        case .zeroShot, .legacy, .other: return key
        case .anyModel: return name
        }
    }

    public var description: String { label }
}

/// SHA-256 digests of files, remembered in memory for the life of the process by the file's
/// identity (device, inode, size, modification time to the nanosecond): a checkpoint is
/// hashed once however often its flags are read or written, and hashed again when it changes.
///
/// Hashing costs about 2.1 s for a 470 MB checkpoint (measured with `vitrine flags add --model`
/// on one Xeon core; `sha256sum` takes 1.6 s), 0.35 s for a 75 MB one; the digest is computed in
/// 1 MiB pieces and never holds the file. The explorer does not hash at all: the retrieval engine
/// already computed the checkpoint's SHA-256 when it opened (docs/flags.md §1).
public enum FileDigests {
    private struct Identity: Hashable {
        var device: UInt64, inode: UInt64, size: Int64, seconds: Int, nanoseconds: Int
    }

    private final class Cache: @unchecked Sendable {
        // Sendable: `digests` is only touched while `lock` is held.
        let lock = NSLock()
        var digests: [Identity: String] = [:]
    }

    private static let cache = Cache()

    /// The SHA-256 of the regular file at `path`, lower-case hex.
    ///
    /// - Throws: `FlagStoreError.unreadableModelFile` when it is missing, not a regular file or
    ///   unreadable.
    public static func sha256(ofFileAt path: String) throws(FlagStoreError) -> String {
        guard let before = identity(path) else {
            throw FlagStoreError.unreadableModelFile(path: path, reason: String(cString: strerror(errno)))
        }
        cache.lock.lock()
        let known = cache.digests[before]
        cache.lock.unlock()
        if let known { return known }
        let digest: String
        do { digest = try ContentHash.sha256(fileAt: path) } catch {
            throw FlagStoreError.unreadableModelFile(path: path, reason: error.reason)
        }
        // Remembered only if the file did not change while it was read.
        if identity(path) == before {
            cache.lock.lock()
            cache.digests[before] = digest
            cache.lock.unlock()
        }
        return digest
    }

    private static func identity(_ path: String) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                        seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
    }
}
