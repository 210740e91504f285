#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Support

/// How the elements of a `VectorMatrix` are stored.
public enum VectorElementType: String, Sendable, Codable, CaseIterable {
    /// IEEE single precision, 4 bytes: the exact vectors.
    case float32 = "f32"
    /// bfloat16, 2 bytes: the compact copy scanned for candidates (see `VectorIndex`).
    case bfloat16 = "bf16"

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float32: return 4
        case .bfloat16: return 2
        }
    }
}

/// A read-only matrix of `count` vectors of `dimension` elements, row-major: the gallery
/// embeddings a `VectorIndex` searches. Held in memory or memory-mapped from a vector file.
///
/// ## Vector file format (version 1)
///
/// All integers little-endian.
///
/// | offset | size | content |
/// |---|---|---|
/// | 0 | 8 | magic `VTRNVECS` |
/// | 8 | 4 | format version (UInt32), 1 |
/// | 12 | 4 | header length H in bytes (UInt32) |
/// | 16 | H | header: a UTF-8 JSON object, padded with spaces so the data starts on a 64-byte boundary |
/// | 16 + H | count × dimension × element size | the vectors, row after row |
/// | ... | `idsBytes` | optional row ids, UTF-8, each followed by `\n` |
///
/// The header holds `count`, `dimension`, `dtype` (`f32` or `bf16`), `maxNorm` (the largest
/// row L2 norm of the float32 vectors, as a string that reads back exactly), `idsBytes` (0 when
/// there are no ids) and `fields`, free string metadata: the hashes of the checkpoint and the
/// dataset the vectors were computed from, which vectors they are (`e`, `z_t`, `z_v`), and so on.
/// Files are written atomically (a temporary file renamed over the old one).
public final class VectorMatrix: @unchecked Sendable {
    // Sendable: every stored property is immutable after init and the element storage is never
    // written once the matrix exists (mapped read-only or filled before init returns).

    public let count: Int
    public let dimension: Int
    public let elementType: VectorElementType
    /// Row ids (gallery item ids), one per row, or nil.
    public let ids: [String]?
    /// Free string metadata (hashes of the checkpoint and dataset, kind of vector...).
    public let fields: [String: String]
    /// The largest L2 norm of a row of the float32 vectors (for a bfloat16 matrix: of the float32
    /// vectors it was rounded from). Search error bounds scale with it.
    public let maxNorm: Float
    /// Where the file was mapped from, or nil for a matrix built in memory.
    public let path: String?

    let base: UnsafeRawPointer
    private let storage: Storage

    private enum Storage {
        case allocated(UnsafeMutableRawPointer)
        /// Rows inside a region owned by another object (a mapped vector file, or a section of a
        /// mapped index file), kept alive by this reference.
        case view(owner: AnyObject)
    }

    private init(count: Int, dimension: Int, elementType: VectorElementType, ids: [String]?, fields: [String: String],
                 maxNorm: Float, path: String?, base: UnsafeRawPointer, storage: Storage) {
        self.count = count
        self.dimension = dimension
        self.elementType = elementType
        self.ids = ids
        self.fields = fields
        self.maxNorm = maxNorm
        self.path = path
        self.base = base
        self.storage = storage
    }

    deinit {
        switch storage {
        case .allocated(let pointer): pointer.deallocate()
        case .view: break
        }
    }

    /// A float32 matrix over `count` rows that live at `base` inside memory kept alive by `owner`
    /// (a section of a memory-mapped gallery index). The caller has checked the bounds and that
    /// every value is finite and at most `largestMagnitude`; `maxNorm` is the largest row norm.
    convenience init(viewing base: UnsafeRawPointer, count: Int, dimension: Int, ids: [String]?, fields: [String: String],
         maxNorm: Float, path: String?, owner: AnyObject) {
        self.init(count: count, dimension: dimension, elementType: .float32, ids: ids, fields: fields,
                  maxNorm: maxNorm, path: path, base: base, storage: .view(owner: owner))
    }

    /// The largest row norm of `count` rows of `dimension` floats at `rows`, or nil when a value is
    /// not finite or above `largestMagnitude` (what `init(rows:...)` refuses).
    static func checkedMaxNorm(_ rows: UnsafePointer<Float>, count: Int, dimension: Int) -> Float? {
        var maxNorm: Float = 0
        for row in 0..<count {
            let start = rows + row * dimension
            for j in 0..<dimension where !start[j].isFinite || abs(start[j]) > largestMagnitude { return nil }
            maxNorm = max(maxNorm, norm(start, dimension))
        }
        return maxNorm
    }

    /// A float32 matrix from `rows` (count × dimension values, row-major). Every value must be
    /// finite; `ids`, when given, has one id per row (ids may not contain a line break).
    public convenience init(rows: [Float], dimension: Int, ids: [String]? = nil, fields: [String: String] = [:]) throws(VectorMatrixError) {
        guard dimension > 0 else { throw .invalid("the dimension must be positive, got \(dimension)") }
        guard rows.count % dimension == 0 else {
            throw .invalid("\(rows.count) values do not make whole rows of \(dimension)")
        }
        let count = rows.count / dimension
        try Self.checkIDs(ids, count: count)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(1, rows.count * 4), alignment: 64)
        let floats = memory.bindMemory(to: Float.self, capacity: rows.count)
        rows.withUnsafeBufferPointer { floats.update(from: $0.baseAddress!, count: rows.count) }
        var maxNorm: Float = 0
        for row in 0..<count {
            let start = floats + row * dimension
            for j in 0..<dimension where !start[j].isFinite || abs(start[j]) > Self.largestMagnitude {
                memory.deallocate()
                throw .invalid("row \(row), element \(j) is \(start[j]): vectors must be finite and at most 1e15 in magnitude")
            }
            maxNorm = max(maxNorm, norm(start, dimension))
        }
        self.init(count: count, dimension: dimension, elementType: .float32, ids: ids, fields: fields,
                  maxNorm: maxNorm, path: nil, base: UnsafeRawPointer(memory), storage: .allocated(memory))
    }

    /// Values larger than this are refused: products stay below 1e30 and sums of up to 10^8 of
    /// them below Float's largest value, so no score is ever infinite or NaN.
    static let largestMagnitude: Float = 1e15

    /// This matrix with its elements rounded to bfloat16 (to nearest, ties to even), in memory.
    /// `maxNorm`, ids and fields are kept.
    public func bfloat16() -> VectorMatrix {
        precondition(elementType == .float32, "bfloat16(): the matrix is already \(elementType.rawValue)")
        let total = count * dimension
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(1, total * 2), alignment: 64)
        let halves = memory.bindMemory(to: UInt16.self, capacity: total)
        let floats = base.assumingMemoryBound(to: Float.self)
        for i in 0..<total { halves[i] = BFloat16.round(floats[i]) }
        return VectorMatrix(count: count, dimension: dimension, elementType: .bfloat16, ids: ids, fields: fields,
                            maxNorm: maxNorm, path: nil, base: UnsafeRawPointer(memory), storage: .allocated(memory))
    }

    /// Row `row` as floats (widened from bfloat16 for a compact matrix).
    public func row(_ row: Int) -> [Float] {
        precondition(row >= 0 && row < count, "row \(row) is out of 0..<\(count)")
        switch elementType {
        case .float32:
            let start = base.assumingMemoryBound(to: Float.self) + row * dimension
            return Array(UnsafeBufferPointer(start: start, count: dimension))
        case .bfloat16:
            let start = base.assumingMemoryBound(to: UInt16.self) + row * dimension
            return (0..<dimension).map { BFloat16.widen(start[$0]) }
        }
    }

    /// The float32 elements (count × dimension); only for a float32 matrix.
    var floats: UnsafePointer<Float> {
        precondition(elementType == .float32)
        return base.assumingMemoryBound(to: Float.self)
    }

    /// The bfloat16 elements (count × dimension); only for a bfloat16 matrix.
    var halves: UnsafePointer<UInt16> {
        precondition(elementType == .bfloat16)
        return base.assumingMemoryBound(to: UInt16.self)
    }

    // MARK: - File

    static let magic: [UInt8] = Array("VTRNVECS".utf8)
    /// The format version this build writes and reads.
    public static let formatVersion: UInt32 = 1

    private struct Header: Codable {
        var count: Int
        var dimension: Int
        var dtype: String
        var maxNorm: String
        var idsBytes: Int
        var fields: [String: String]
    }

    /// Writes the matrix to `path` in the vector file format, atomically.
    public func write(to path: String) throws {
        var idsBlock: [UInt8] = []
        if let ids {
            for id in ids {
                idsBlock += id.utf8
                idsBlock.append(0x0A)
            }
        }
        let header = Header(count: count, dimension: dimension, dtype: elementType.rawValue,
                            maxNorm: maxNorm.description, idsBytes: idsBlock.count, fields: fields)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var json: [UInt8]
        do { json = Array(try encoder.encode(header)) } catch {
            throw RetrievalFileError(path: path, message: "cannot encode the header: \(error)")
        }
        let unpadded = 16 + json.count
        json += [UInt8](repeating: 0x20, count: (64 - unpadded % 64) % 64)
        let prefix = MappedFilePreamble<Header>.encode(magic: Self.magic, version: Self.formatVersion, header: json)
        let dataBytes = count * dimension * elementType.byteCount
        try AtomicFile.write(to: path) { (append) throws in
            try prefix.withUnsafeBytes { (raw) throws in try append(raw) }
            try append(UnsafeRawBufferPointer(start: base, count: dataBytes))
            try idsBlock.withUnsafeBytes { (raw) throws in try append(raw) }
        }
    }

    /// Memory-maps the vector file at `path` (read-only). Checks the magic, version, header and
    /// size before any vector is read.
    public static func open(path: String) throws -> VectorMatrix {
        #if _endian(big)
        throw RetrievalFileError(path: path, message: "vector files are little-endian; this machine is big-endian")
        #endif
        func bad(_ reason: String) -> RetrievalFileError {
            RetrievalFileError(path: path, message: "not a valid vector file: \(reason); rebuild it (`vitrine index`)")
        }
        let (mapping, header, headerLength) = try mapFile(at: path, magic: magic, version: formatVersion, kind: "vector file",
                                                          bad: bad, header: Header.self)
        let length = mapping.length, bytes = mapping.bytes
        guard let type = VectorElementType(rawValue: header.dtype) else { throw bad("unknown dtype \"\(header.dtype)\"") }
        guard header.count >= 0, header.count <= length, (1 ... maxDimension).contains(header.dimension),
              header.idsBytes >= 0, header.idsBytes <= length else {
            throw bad("count \(header.count), dimension \(header.dimension) (the dimension must be 1...\(maxDimension))")
        }
        guard let maxNorm = Float(header.maxNorm), maxNorm.isFinite, maxNorm >= 0 else {
            throw bad("maxNorm \"\(header.maxNorm)\" is not a number")
        }
        let dataOffset = 16 + headerLength
        guard dataOffset % 64 == 0 else { throw bad("the data does not start on a 64-byte boundary") }
        // count ≤ length and dimension ≤ 65,536: no product or sum here can overflow.
        let dataBytes = header.count * header.dimension * type.byteCount
        guard dataOffset + dataBytes + header.idsBytes == length else {
            throw bad("it is \(length) bytes long, but its header announces \(header.count) × \(header.dimension) \(type.rawValue) values and \(header.idsBytes) bytes of ids (truncated or damaged?)")
        }
        let ids = header.idsBytes > 0
            ? try readIDLines(bytes[(dataOffset + dataBytes)...], count: header.count, bad: bad) : nil
        return VectorMatrix(count: header.count, dimension: header.dimension, elementType: type, ids: ids,
                            fields: header.fields, maxNorm: maxNorm, path: path,
                            base: UnsafeRawPointer(mapping.base + dataOffset), storage: .view(owner: mapping))
    }

    /// The largest vector dimension a file may declare (Vitrine's are 256 to 384).
    public static let maxDimension = 1 << 16

    static func checkIDs(_ ids: [String]?, count: Int) throws(VectorMatrixError) {
        guard let ids else { return }
        guard ids.count == count else { throw .invalid("\(ids.count) ids for \(count) rows") }
        for (row, id) in ids.enumerated() where id.utf8.contains(0x0A) {
            throw .invalid("the id of row \(row) contains a line break")
        }
    }
}

/// A matrix that cannot be built from the values given.
public enum VectorMatrixError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String)
    public var description: String {
        switch self {
        case .invalid(let reason): return "invalid vectors: \(reason)"
        }
    }
}

/// The L2 norm of `dimension` floats, accumulated in Double.
func norm(_ v: UnsafePointer<Float>, _ dimension: Int) -> Float {
    var sum = 0.0
    for j in 0..<dimension { sum += Double(v[j]) * Double(v[j]) }
    return Float(sum.squareRoot())
}
