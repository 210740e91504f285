#if canImport(Glibc)
import Support
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Imaging
import Tensor

/// The on-disk cache of backbone features (docs/data.md §6.1): one block-15 map per image,
/// keyed by the SHA-256 of the image file's content and the SHA-256 of the backbone's weights.
///
/// Layout: `<root>/<backbone name>-<first 16 digits of its SHA-256>/<2 digits>/<image SHA-256>.feat`,
/// where `<root>` is `$VITRINE_CACHE/features`, else `$XDG_CACHE_HOME/vitrine/features`, else
/// `~/.cache/vitrine/features` (`defaultRoot`). Entries of another backbone live in another
/// folder and are never read.
///
/// Entry format (little-endian), version 1:
///
/// | bytes | field |
/// |---|---|
/// | 4 | magic `VTFC` |
/// | 4 | format version (1) |
/// | 4 | element type: 1 = float32, 2 = float16 |
/// | 12 | shape: channels, height, width (320, 7, 7) |
/// | 32 | backbone weights SHA-256 (binary) |
/// | 32 | image content SHA-256 (binary) |
/// | 8 | FNV-1a 64 of the payload |
/// | rest | payload: the map `[channel][row][column]`, `channels * height * width` elements |
///
/// Writes are atomic and durable (Vitrine's one file writer: a temporary file in the same folder,
/// fsync, `rename`, fsync of the folder), so readers and concurrent writers (threads or processes)
/// only ever see whole entries; an entry damaged any other way fails its checksum and is computed again. An entry whose
/// version, backbone or image hash does not match is `stale`; one that cannot be parsed or
/// fails its checksum is `corrupt`; both are recomputed and replaced by
/// `features(forImagesAt:network:)`.
public struct FeatureCache: Sendable {
    /// How features are stored. float32 keeps them exactly; float16 halves the size
    /// (31 KB instead of 61 KB an image) at ~5e-4 relative rounding.
    public enum Precision: UInt32, Sendable {
        case float32 = 1
        case float16 = 2
    }

    /// The result of looking an image up.
    public enum Lookup: Sendable, Equatable {
        /// The stored map, `[channel][row][column]`.
        case hit([Float])
        /// No entry for this image.
        case miss
        /// An entry for another format version, backbone or image.
        case stale(String)
        /// An entry that cannot be read, is truncated, or fails its checksum.
        case corrupt(String)
    }

    /// Entry format version; entries of other versions are stale.
    public static let formatVersion: UInt32 = 1
    static let magic: [UInt8] = Array("VTFC".utf8)
    public static let headerBytes = 4 + 4 + 4 + 12 + 32 + 32 + 8

    /// The folder holding this backbone's entries.
    public let directory: String
    public let backbone: BackboneIdentity
    public let precision: Precision
    /// A read-only cache computes what it does not hold and stores nothing (a guest session,
    /// `vitrine explore --guest`, writes no file anywhere).
    public var readOnly = false
    /// Shape of an entry: channels, height, width.
    public let shape: (channels: Int, height: Int, width: Int)

    private let backboneDigest: [UInt8]

    /// - Parameters:
    ///   - root: the cache's root folder; `defaultRoot()` when nil. Created when needed.
    ///   - backbone: the backbone whose features are cached (its SHA-256 is part of the key).
    ///   - precision: how new entries are written; entries of either precision are read.
    /// - Throws: `FeatureCacheError.invalidHash` when the backbone's SHA-256 is not 64
    ///   hexadecimal digits.
    public init(root: String? = nil, backbone: BackboneIdentity, precision: Precision = .float32,
                shape: (channels: Int, height: Int, width: Int) = (EfficientNetLite0.featureChannels,
                                                                   EfficientNetLite0.featureSide,
                                                                   EfficientNetLite0.featureSide)) throws(FeatureCacheError) {
        guard let digest = Self.digest(hex: backbone.sha256) else {
            throw .invalidHash(backbone.sha256, what: "backbone \(backbone.name)")
        }
        let folderName = backbone.name.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        self.directory = (root ?? Self.defaultRoot()) + "/" + folderName + "-" + backbone.sha256.lowercased().prefix(16)
        self.backbone = backbone
        self.precision = precision
        self.shape = shape
        self.backboneDigest = digest
    }

    /// `$VITRINE_CACHE/features`, else `$XDG_CACHE_HOME/vitrine/features`, else
    /// `$HOME/.cache/vitrine/features`.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        UserFolders(environment: environment).cache + "/features"
    }

    /// Elements in one entry.
    public var elementCount: Int { shape.channels * shape.height * shape.width }

    /// Where the entry for the image with content hash `imageSHA256` lives.
    public func path(forImageSHA256 imageSHA256: String) -> String {
        let key = imageSHA256.lowercased()
        return directory + "/" + key.prefix(2) + "/" + key + ".feat"
    }

    // MARK: Reading and writing one entry

    /// Looks up the features of the image whose content has SHA-256 `imageSHA256`.
    public func load(imageSHA256: String) -> Lookup {
        guard let imageDigest = Self.digest(hex: imageSHA256) else {
            return .corrupt("\(imageSHA256) is not a SHA-256 (64 hexadecimal digits)")
        }
        let path = path(forImageSHA256: imageSHA256)
        let bytes: [UInt8]
        switch Self.readFile(path, maxBytes: Self.headerBytes + elementCount * 4) {
        case .missing: return .miss
        case .failed(let reason): return .corrupt("\(path): \(reason)")
        case .read(let contents): bytes = contents
        }
        return bytes.withUnsafeBytes { raw -> Lookup in
            guard raw.count >= Self.headerBytes else {
                return .corrupt("\(path): \(raw.count) bytes, shorter than the \(Self.headerBytes)-byte header")
            }
            guard Array(raw[0 ..< 4]) == Self.magic else { return .corrupt("\(path): not a feature cache entry (bad magic)") }
            func word(_ offset: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
            let version = word(4)
            guard version == Self.formatVersion else {
                return .stale("\(path): format version \(version), this build reads \(Self.formatVersion)")
            }
            guard let storedPrecision = Precision(rawValue: word(8)) else {
                return .corrupt("\(path): unknown element type \(word(8))")
            }
            let storedShape = (Int(word(12)), Int(word(16)), Int(word(20)))
            guard storedShape == (shape.channels, shape.height, shape.width) else {
                return .stale("\(path): shape \(storedShape), expected \((shape.channels, shape.height, shape.width))")
            }
            guard Array(raw[24 ..< 56]) == backboneDigest else {
                return .stale("\(path): made by another backbone")
            }
            guard Array(raw[56 ..< 88]) == imageDigest else {
                return .stale("\(path): made for another image")
            }
            let checksum = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 88, as: UInt64.self))
            let payloadBytes = elementCount * (storedPrecision == .float32 ? 4 : 2)
            guard raw.count == Self.headerBytes + payloadBytes else {
                return .corrupt("\(path): \(raw.count) bytes, expected \(Self.headerBytes + payloadBytes) (truncated?)")
            }
            let payload = UnsafeRawBufferPointer(rebasing: raw[Self.headerBytes...])
            guard Self.fnv1a(payload) == checksum else { return .corrupt("\(path): checksum mismatch") }
            var values = [Float](repeating: 0, count: elementCount)
            values.withUnsafeMutableBufferPointer { out in
                switch storedPrecision {
                case .float32:
                    for i in 0 ..< elementCount {
                        out[i] = Float(bitPattern: UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                    }
                case .float16:
                    for i in 0 ..< elementCount {
                        out[i] = Float(Float16(bitPattern: UInt16(littleEndian: payload.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    }
                }
            }
            return .hit(values)
        }
    }

    /// Stores `features` (`elementCount` floats, `[channel][row][column]`) for the image whose
    /// content has SHA-256 `imageSHA256`, replacing any earlier entry atomically.
    public func store(_ features: [Float], imageSHA256: String) throws(FeatureCacheError) {
        guard features.count == elementCount else {
            throw .wrongSize(features.count, expected: elementCount)
        }
        guard let imageDigest = Self.digest(hex: imageSHA256) else { throw .invalidHash(imageSHA256, what: "image") }
        var payload = [UInt8]()
        payload.reserveCapacity(elementCount * 4)
        switch precision {
        case .float32:
            for value in features { Self.append(value.bitPattern, to: &payload) }
        case .float16:
            for value in features { Self.append(Float16(value).bitPattern, to: &payload) }
        }
        var entry = [UInt8]()
        entry.reserveCapacity(Self.headerBytes + payload.count)
        entry += Self.magic
        Self.append(Self.formatVersion, to: &entry)
        Self.append(precision.rawValue, to: &entry)
        Self.append(UInt32(shape.channels), to: &entry)
        Self.append(UInt32(shape.height), to: &entry)
        Self.append(UInt32(shape.width), to: &entry)
        entry += backboneDigest
        entry += imageDigest
        payload.withUnsafeBytes { Self.append(Self.fnv1a($0), to: &entry) }
        entry += payload
        try Self.writeAtomically(entry, to: path(forImageSHA256: imageSHA256))
    }

    /// Removes the entry of one image, if any.
    public func remove(imageSHA256: String) {
        unlink(path(forImageSHA256: imageSHA256))
    }

    // MARK: Images through the cache

    /// What `features(forImagesAt:network:)` did.
    public struct Outcome: Sendable {
        /// One result per path, in order: the map (`[channel][row][column]`) or why the image
        /// could not be read.
        public var features: [Result<[Float], BackboneError>]
        /// Entries read from the cache.
        public var hits: Int
        /// Images run through the network (misses, stale and corrupt entries).
        public var computed: Int
        /// Entries that were stale or corrupt, with the reason (they were recomputed).
        public var replaced: [String]
        /// Entries that could not be written (the features are still returned).
        public var writeFailures: [FeatureCacheError]
    }

    /// The block-15 features of the image files at `paths`: read from the cache when there, else
    /// decoded, letterboxed (`EfficientNetLite0.modelInput`), run through `network` in batches
    /// of `batchSize` and stored. Each file is read once: its bytes are both hashed and decoded.
    /// Reading, hashing, decoding and storing are spread over the cores, a batch at a time.
    /// An unreadable or undecodable file gives that path a `BackboneError.image` and does not
    /// stop the others.
    ///
    /// - Precondition: `network.identity == backbone`.
    public func features(forImagesAt paths: [String], network: EfficientNetLite0, batchSize: Int = 32) -> Outcome {
        precondition(network.identity == backbone,
                     "FeatureCache for \(backbone) used with the features of \(network.identity)")
        precondition(batchSize > 0, "features(forImagesAt:): batchSize must be positive")
        var outcome = Outcome(features: Array(repeating: .success([]), count: paths.count),
                              hits: 0, computed: 0, replaced: [], writeFailures: [])
        var start = 0
        while start < paths.count {
            let batch = start ..< min(paths.count, start + batchSize)
            // 1. Read, hash, look up and (on a miss) decode, concurrently.
            var prepared = [Prepared](repeating: .failed(ImagingError(file: "", kind: .empty)), count: batch.count)
            prepared.withUnsafeMutableBufferPointer { slots in
                Parallel.forEachRange(batch.count, workPerItem: Parallel.minimumParallelWork) { items in
                    for item in items { slots[item] = prepare(paths[batch.lowerBound + item]) }
                }
            }
            var pending: [(index: Int, hash: String, image: RGBImage)] = []
            for (offset, item) in prepared.enumerated() {
                let index = batch.lowerBound + offset
                switch item {
                case .hit(let map):
                    outcome.features[index] = .success(map)
                    outcome.hits += 1
                case .failed(let error):
                    outcome.features[index] = .failure(.image(error))
                case .compute(let hash, let image, let replacing):
                    if let replacing { outcome.replaced.append(replacing) }
                    pending.append((index, hash, image))
                }
            }
            // 2. The network on the misses, then the entries written concurrently.
            if !pending.isEmpty {
                let maps = network.features(pending.map(\.image))
                var failures = [FeatureCacheError?](repeating: nil, count: pending.count)
                failures.withUnsafeMutableBufferPointer { slots in
                    Parallel.forEachRange(pending.count, workPerItem: Parallel.minimumParallelWork) { items in
                        for item in items {
                            do throws(FeatureCacheError) {
                                if !readOnly { try store(maps[item], imageSHA256: pending[item].hash) }
                            } catch {
                                slots[item] = error
                            }
                        }
                    }
                }
                for (item, map) in zip(pending, maps) { outcome.features[item.index] = .success(map) }
                outcome.writeFailures += failures.compactMap { $0 }
                outcome.computed += pending.count
            }
            start = batch.upperBound
        }
        return outcome
    }

    /// Whether the cache holds an entry for the image file at `path` (its content hashed; the entry
    /// not read or checked); nil when the file cannot be read. For estimating a cache's coverage.
    public func hasEntry(forImageAt path: String) -> Bool? {
        guard let bytes = try? Self.readImageFile(path) else { return nil }
        return access(self.path(forImageSHA256: ContentHash.sha256(bytes)), F_OK) == 0
    }

    /// One image file after reading, hashing and looking it up.
    private enum Prepared {
        case hit([Float])
        case failed(ImagingError)
        /// To run through the network; `replacing` says why an existing entry is replaced.
        case compute(hash: String, image: RGBImage, replacing: String?)
    }

    private func prepare(_ path: String) -> Prepared {
        let bytes: [UInt8]
        do { bytes = try Self.readImageFile(path) } catch { return .failed(error) }
        let hash = ContentHash.sha256(bytes)
        let replacing: String?
        switch load(imageSHA256: hash) {
        case .hit(let map): return .hit(map)
        case .miss: replacing = nil
        case .stale(let reason), .corrupt(let reason): replacing = reason
        }
        do {
            let image = try ImageDecoder.decode(bytes: bytes, name: path)
            return .compute(hash: hash, image: EfficientNetLite0.modelInput(image), replacing: replacing)
        } catch {
            return .failed(error)
        }
    }

    // MARK: Helpers

    /// 32 bytes from 64 hexadecimal digits, or nil.
    static func digest(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0") ... UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a") ... UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A") ... UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        for i in stride(from: 0, to: 64, by: 2) {
            guard let high = value(digits[i]), let low = value(digits[i + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 { FNV1a.hash(bytes) }

    static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    enum FileRead {
        case missing
        case failed(String)
        case read([UInt8])
    }

    /// Reads a whole regular file of at most `maxBytes`.
    static func readFile(_ path: String, maxBytes: Int) -> FileRead {
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if descriptor < 0 {
            return errno == ENOENT ? .missing : .failed(String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return .failed(String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .failed("not a regular file") }
        let size = Int(info.st_size)
        guard size <= maxBytes else { return .failed("\(size) bytes, above the \(maxBytes)-byte limit") }
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var done = 0
            while done < size {
                let got = read(descriptor, buffer.baseAddress! + done, size - done)
                if got < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    break
                }
                if got == 0 { break }
                done += got
            }
            count = done
        }
        if let failure { return .failed(failure) }
        return .read(bytes)
    }

    /// An image file's bytes, with the errors `ImageDecoder` would give for the same file.
    static func readImageFile(_ path: String, limits: DecodeLimits = .default) throws(ImagingError) -> [UInt8] {
        switch readFile(path, maxBytes: limits.maxFileBytes) {
        case .missing:
            throw ImagingError(file: path, kind: .notFound)
        case .failed(let reason):
            // Let the decoder's own reader describe the problem (permissions, a directory...).
            _ = try ImageDecoder.probe(path: path)
            throw ImagingError(file: path, kind: .unreadable(reason))
        case .read(let bytes):
            guard !bytes.isEmpty else { throw ImagingError(file: path, kind: .empty) }
            return bytes
        }
    }

    /// Writes `bytes` to `path` atomically and durably (docs/architecture.md §5), creating its folder.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(FeatureCacheError) {
        let folder = String(path[..<path.lastIndex(of: "/")!])
        do {
            try makeFolder(folder)
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw .unwritable(path: error.path, reason: error.message)
        }
    }
}

/// Why a feature cache entry could not be written.
public enum FeatureCacheError: Error, CustomStringConvertible, Sendable, Equatable {
    case unwritable(path: String, reason: String)
    case invalidHash(String, what: String)
    case wrongSize(Int, expected: Int)

    public var description: String {
        switch self {
        case .unwritable(let path, let reason):
            "feature cache: cannot write \(path) (\(reason)); check the folder's permissions and free space, "
                + "or point VITRINE_CACHE at a writable folder"
        case .invalidHash(let hash, let what):
            "feature cache: the \(what) hash \"\(hash)\" is not a SHA-256 (64 hexadecimal digits)"
        case .wrongSize(let count, let expected):
            "feature cache: \(count) features given, an entry holds \(expected)"
        }
    }
}

