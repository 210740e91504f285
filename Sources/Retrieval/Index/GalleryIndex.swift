#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Support

/// The vectors a gallery index can hold, one matrix ("section") each, rows in gallery order.
public enum IndexSection: String, Sendable, CaseIterable, Codable {
    /// Zero-shot text tower: MiniLM's mean-pooled, L2-normalised sentence embedding of each caption (384-d).
    case sentence
    /// Zero-shot image tower: the mean over the 7x7 cells of EfficientNet-Lite0's block-15 map,
    /// L2-normalised (320-d). Zero for an item whose image is missing or unreadable.
    case pooled
    /// The fused embedding `e` of (caption, image) (docs/model.md §6), 256-d unit vectors.
    case fused = "e"
    /// The text embedding `z_t` of the caption, 256-d unit vectors.
    case text = "z_t"
    /// The image embedding `z_v` of the image, 256-d unit vectors.
    case image = "z_v"
}

/// Which vectors an index was computed with, and from what: everything whose change makes the
/// stored vectors stale. Hashes are lower-case hexadecimal SHA-256.
public struct IndexIdentity: Sendable, Equatable, Codable {
    /// "zero-shot", or the checkpoint file's SHA-256.
    public var checkpoint: String
    /// A display name: "zero-shot" or the checkpoint's file name.
    public var checkpointName: String
    /// The backbone weights (EfficientNet-Lite0).
    public var backbone: String
    /// The tokenizer's vocabulary (MiniLM `vocab.txt`).
    public var tokenizer: String
    /// The text tower's weights (MiniLM `model.safetensors`); used by zero-shot vectors and by
    /// checkpoints that leave the frozen text tower out.
    public var textTower: String
    /// The gallery's content (`GalleryFingerprint`).
    public var dataset: String

    public init(checkpoint: String, checkpointName: String, backbone: String, tokenizer: String, textTower: String,
                dataset: String) {
        self.checkpoint = checkpoint; self.checkpointName = checkpointName; self.backbone = backbone
        self.tokenizer = tokenizer; self.textTower = textTower; self.dataset = dataset
    }

    /// The identity's value for zero-shot vectors.
    public static let zeroShot = "zero-shot"

    /// Why vectors made with `stored` are not valid for `self`, or nil when they are.
    public func staleness(of stored: IndexIdentity) -> String? {
        var changed: [String] = []
        if stored.checkpoint != checkpoint { changed.append("the model (\(stored.checkpointName) → \(checkpointName))") }
        if stored.backbone != backbone { changed.append("the backbone weights") }
        if stored.tokenizer != tokenizer { changed.append("the tokenizer") }
        if stored.textTower != textTower { changed.append("the text tower weights") }
        if stored.dataset != dataset { changed.append("the gallery (captions, image files or ids)") }
        return changed.isEmpty ? nil : "changed since it was built: " + changed.joined(separator: ", ")
    }
}

/// A gallery index on disk: the vectors of every gallery item for one model (or the zero-shot
/// towers), memory-mapped read-only.
///
/// ## Index file format (version 1)
///
/// All integers little-endian; float32 vectors row-major.
///
/// | offset | size | content |
/// |---|---|---|
/// | 0 | 8 | magic `VTRNINDX` |
/// | 8 | 4 | format version (UInt32), 1 |
/// | 12 | 4 | header length H in bytes (UInt32) |
/// | 16 | H | header: UTF-8 JSON, padded with spaces so that 16 + H is a multiple of 64 |
/// | … | … | each section's vectors, `count × dimension` float32, starting at its `offset` (a multiple of 64; zero padding between sections) |
/// | idsOffset | idsBytes | the gallery ids in row order, UTF-8, each followed by `\n` |
///
/// The header holds `identity` (`IndexIdentity`: checkpoint, backbone, tokenizer, text tower and
/// gallery hashes), `count`, `sections` (name, dimension, offset, maxNorm as a decimal string that
/// reads back exactly), `idsOffset`, `idsBytes`, `missingImages` (rows whose image could not be
/// read: their image-derived vectors are zero), `seconds` (build time) and `created` (ISO 8601).
/// The file must be exactly as long as the header says. Files are written to a temporary file,
/// fsynced and renamed, so a reader never sees a partial index.
public final class GalleryIndex: @unchecked Sendable {
    // Sendable: immutable after init; the mapping is read-only and unmapped in deinit.

    /// The format version this build writes and reads.
    public static let formatVersion: UInt32 = 1
    static let magic: [UInt8] = Array("VTRNINDX".utf8)

    /// Where the index was read from.
    public let path: String
    public let identity: IndexIdentity
    /// Gallery ids, one per row.
    public let ids: [String]
    /// Rows whose image could not be read when the index was built.
    public let missingImages: Int
    /// Seconds the build took.
    public let buildSeconds: Double
    private let sections: [IndexSection: VectorMatrix]
    private let mapping: MappedFile

    /// Number of rows (gallery items).
    public var count: Int { ids.count }

    /// The vectors of `section`, or nil when the index does not hold it.
    public func vectors(_ section: IndexSection) -> VectorMatrix? { sections[section] }

    /// Whether the file was cut short while it was in use (another process truncated it in
    /// place): the vectors past its new end read as zeros, so results from it are wrong and the
    /// index must be rebuilt.
    public var damagedWhileInUse: Bool { mapping.truncatedWhileMapped }

    /// The sections the index holds.
    public var sectionNames: [IndexSection] { IndexSection.allCases.filter { sections[$0] != nil } }

    private init(path: String, identity: IndexIdentity, ids: [String], missingImages: Int, buildSeconds: Double,
                 sections: [IndexSection: VectorMatrix], mapping: MappedFile) {
        self.path = path; self.identity = identity; self.ids = ids; self.missingImages = missingImages
        self.buildSeconds = buildSeconds; self.sections = sections; self.mapping = mapping
    }

    private struct Header: Codable {
        struct Section: Codable {
            var name: IndexSection
            var dimension: Int
            var offset: Int
            var maxNorm: String
        }
        var identity: IndexIdentity
        var count: Int
        var sections: [Section]
        var idsOffset: Int
        var idsBytes: Int
        var missingImages: Int
        var seconds: Double
        var created: String
    }

    // MARK: Writing

    /// One section to write: `rows` holds `ids.count × dimension` finite floats.
    public struct SectionData: Sendable {
        public var section: IndexSection
        public var dimension: Int
        public var rows: [Float]
        public init(section: IndexSection, dimension: Int, rows: [Float]) {
            self.section = section; self.dimension = dimension; self.rows = rows
        }
    }

    /// Writes an index file at `path` atomically (creating its folder).
    public static func write(to path: String, identity: IndexIdentity, ids: [String], sections: [SectionData],
                             missingImages: Int, seconds: Double) throws {
        try VectorMatrix.checkIDsForIndex(ids)
        guard Set(sections.map(\.section)).count == sections.count else {
            throw RetrievalFileError(path: path, message: "an index cannot hold the same section twice")
        }
        var headerSections: [Header.Section] = []
        var offset = 0  // relative to the end of the header, fixed below
        for data in sections {
            guard data.dimension > 0, data.rows.count == ids.count * data.dimension else {
                throw RetrievalFileError(path: path, message: "section \(data.section.rawValue) has \(data.rows.count) values, expected \(ids.count) × \(data.dimension)")
            }
            let maxNorm = data.rows.withUnsafeBufferPointer {
                VectorMatrix.checkedMaxNorm($0.baseAddress ?? UnsafePointer(bitPattern: 64)!, count: ids.count, dimension: data.dimension)
            }
            guard let maxNorm else {
                throw RetrievalFileError(path: path, message: "section \(data.section.rawValue) holds a value that is not finite or above 1e15")
            }
            headerSections.append(.init(name: data.section, dimension: data.dimension, offset: offset, maxNorm: maxNorm.description))
            offset += roundUp64(data.rows.count * 4)
        }
        var idsBlock: [UInt8] = []
        for id in ids { idsBlock += id.utf8; idsBlock.append(0x0A) }
        let created = ISO8601DateFormatter().string(from: Date())

        // The header's length depends on the offsets it holds: encode with relative offsets, pad,
        // then shift the offsets by the data start and re-encode, padding to the same length.
        func encode(_ header: Header) throws -> [UInt8] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            do { return Array(try encoder.encode(header)) } catch {
                throw RetrievalFileError(path: path, message: "cannot encode the index header: \(error)")
            }
        }
        var header = Header(identity: identity, count: ids.count, sections: headerSections, idsOffset: offset,
                            idsBytes: idsBlock.count, missingImages: missingImages, seconds: seconds, created: created)
        // Reserve room for offsets growing by the data start (at most 20 digits each).
        let slack = 24 * (sections.count + 1)
        let firstGuess = try encode(header).count + slack
        let dataStart = roundUp64(16 + firstGuess)
        for i in header.sections.indices { header.sections[i].offset += dataStart }
        header.idsOffset += dataStart
        var json = try encode(header)
        guard 16 + json.count <= dataStart else {
            throw RetrievalFileError(path: path, message: "internal error: the index header outgrew its room")
        }
        json += [UInt8](repeating: 0x20, count: dataStart - 16 - json.count)

        let prefix = MappedFilePreamble<Header>.encode(magic: magic, version: formatVersion, header: json)
        try makeFolder((path as NSString).deletingLastPathComponent)
        try AtomicFile.write(to: path) { (append) throws in
            try prefix.withUnsafeBytes { (raw) throws in try append(raw) }
            for data in sections {
                let bytes = data.rows.count * 4
                try data.rows.withUnsafeBytes { (raw) throws in try append(raw) }
                let padding = [UInt8](repeating: 0, count: roundUp64(bytes) - bytes)
                try padding.withUnsafeBytes { (raw) throws in try append(raw) }
            }
            try idsBlock.withUnsafeBytes { (raw) throws in try append(raw) }
        }
    }

    // MARK: Reading

    /// Memory-maps the index file at `path` (read-only), checking its magic, version, header,
    /// length, ids, and that every vector is finite, before returning.
    /// - Throws: `RetrievalFileError` saying what is wrong and that `vitrine index` rebuilds it.
    public static func open(path: String) throws -> GalleryIndex {
        #if _endian(big)
        throw RetrievalFileError(path: path, message: "index files are little-endian; this machine is big-endian")
        #endif
        func bad(_ reason: String) -> RetrievalFileError {
            RetrievalFileError(path: path, message: "not a valid gallery index: \(reason); delete it or rebuild it with `vitrine index`")
        }
        let (mapping, header, headerLength) = try mapFile(at: path, magic: magic, version: formatVersion, kind: "gallery index",
                                                          bad: bad, header: Header.self)
        let length = mapping.length, bytes = mapping.bytes
        guard header.count >= 0, header.idsBytes >= 0, header.missingImages >= 0 else {
            throw bad("negative sizes in its header")
        }
        // Every size is checked against the file's own length before it sizes anything, so no
        // header value can overflow an offset or ask for memory.
        guard header.count <= length, header.idsBytes <= length, header.sections.count <= IndexSection.allCases.count else {
            throw bad("its header announces more than the file holds")
        }
        var expectedEnd = roundUp64(16 + headerLength)
        for section in header.sections {
            guard (1 ... VectorMatrix.maxDimension).contains(section.dimension) else {
                throw bad("section \(section.name.rawValue) has dimension \(section.dimension), outside 1...\(VectorMatrix.maxDimension)")
            }
            guard section.offset == expectedEnd else {
                throw bad("section \(section.name.rawValue) is not where the format puts it")
            }
            // count ≤ length and dimension ≤ 65,536: the product cannot overflow.
            let bytesNeeded = header.count * section.dimension * 4
            guard bytesNeeded <= length - expectedEnd else {
                throw bad("section \(section.name.rawValue) runs past the end of the file (truncated or damaged?)")
            }
            expectedEnd += roundUp64(bytesNeeded)
        }
        guard header.idsOffset == expectedEnd, header.idsBytes == length - expectedEnd else {
            throw bad("it is \(length) bytes long, but its header announces \(expectedEnd + header.idsBytes) (truncated or damaged?)")
        }
        let ids = try readIDLines(bytes[header.idsOffset..<length], count: header.count, bad: bad)
        var sections: [IndexSection: VectorMatrix] = [:]
        for section in header.sections {
            guard sections[section.name] == nil else { throw bad("section \(section.name.rawValue) appears twice") }
            let rows = UnsafeRawPointer(mapping.base + section.offset).assumingMemoryBound(to: Float.self)
            guard let maxNorm = VectorMatrix.checkedMaxNorm(rows, count: header.count, dimension: section.dimension) else {
                throw bad("section \(section.name.rawValue) holds a value that is not finite (damaged?)")
            }
            sections[section.name] = VectorMatrix(
                viewing: UnsafeRawPointer(rows), count: header.count, dimension: section.dimension, ids: ids,
                fields: ["section": section.name.rawValue, "checkpoint": header.identity.checkpoint],
                maxNorm: maxNorm, path: path, owner: mapping)
        }
        return try GalleryIndex(path: path, identity: header.identity, ids: ids, missingImages: header.missingImages,
                            buildSeconds: header.seconds, sections: sections, mapping: mapping)
            .checkedIntact(bad)
    }
}

func roundUp64(_ n: Int) -> Int { (n + 63) / 64 * 64 }

extension GalleryIndex {
    /// Self, unless the file was truncated while it was being checked.
    fileprivate func checkedIntact(_ bad: (String) -> RetrievalFileError) throws -> GalleryIndex {
        guard !damagedWhileInUse else { throw bad("it was truncated while it was read") }
        return self
    }
}

extension VectorMatrix {
    /// Ids must not contain line breaks (they are stored one per line).
    static func checkIDsForIndex(_ ids: [String]) throws {
        for (row, id) in ids.enumerated() where id.utf8.contains(0x0A) {
            throw RetrievalFileError(path: "gallery index", message: "the id of row \(row) contains a line break")
        }
    }
}
