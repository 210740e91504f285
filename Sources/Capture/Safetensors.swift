#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Support
import SafeText
import Tensor

// safetensors (https://github.com/huggingface/safetensors), the format of Vitrine's
// checkpoints and of the pretrained towers (docs/model.md §8.1, "The safetensors container"):
//
//   bytes 0..<8      N, the header's length, unsigned 64-bit little-endian
//   bytes 8..<8+N    the header: a JSON object, UTF-8, starting with `{`, possibly padded
//                    with trailing spaces. Each key is a tensor name mapped to
//                    {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]};
//                    the optional key "__metadata__" maps to an object of strings.
//   bytes 8+N...     the tensors' data, little-endian, row-major; offsets are relative to
//                    this point. The tensors cover it exactly, without gaps or overlaps.

/// The element types a safetensors file may declare.
public enum SafetensorsDType: String, Sendable, CaseIterable, Codable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: 1
        }
    }

    /// Whether `SafetensorsFile` converts this type to `Float` when reading (F32, F16, BF16);
    /// these are also the types it writes.
    public var isReadableAsFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// One tensor's description in a safetensors header.
public struct SafetensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let dataRange: Range<Int>

    /// The number of elements, the product of `shape` (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// What went wrong with a safetensors file, where, and what to do about it.
public struct SafetensorsError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The file could not be opened or read (missing, permissions, a directory...).
        case unreadable(String)
        /// The bytes do not look like safetensors at all.
        case notSafetensors(String)
        /// The file ends before the header or the tensors it declares.
        case truncated(expectedBytes: Int, actualBytes: Int)
        /// The header is not the JSON object safetensors requires.
        case corruptHeader(String)
        /// One entry of the header is inconsistent (shape versus bytes, offsets, dtype).
        case invalidEntry(tensor: String, reason: String)
        /// A tensor the caller needs is not in the file.
        case missingTensor(tensor: String, expectedShape: [Int]?)
        /// The tensor exists with another shape.
        case wrongShape(tensor: String, expected: [Int], actual: [Int])
        /// The tensor's element type cannot be read as asked.
        case wrongDType(tensor: String, actual: String, expected: String)
        /// A tensor handed to `write` is inconsistent (values versus shape, name, dtype).
        case invalidTensor(tensor: String, reason: String)
        /// The file could not be written.
        case unwritable(String)
    }

    /// The file concerned.
    public let path: String
    public let kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    /// Quotes data from the file (tensor names, dtypes) by SafeText's rule: a hostile header
    /// cannot put control sequences into an error message.
    public var description: String {
        switch kind {
        case .unreadable(let reason):
            "cannot read \(path): \(reason)"
        case .notSafetensors(let reason):
            "\(path) is not a safetensors file: \(reason)"
        case .truncated(let expected, let actual):
            "\(path) is truncated: it should have at least \(expected) bytes but has \(actual) "
                + "(an interrupted download or copy?); fetch or copy it again"
        case .corruptHeader(let reason):
            "\(path) has a corrupt safetensors header: \(reason)"
        case .invalidEntry(let tensor, let reason):
            "\(path): tensor \"\(SafeText.terminal(tensor))\" is invalid: \(reason)"
        case .missingTensor(let tensor, let shape):
            "\(path) has no tensor \"\(SafeText.terminal(tensor))\""
                + (shape.map { " (expected shape \(Self.format($0)))" } ?? "")
                + "; is it the right file for this model?"
        case .wrongShape(let tensor, let expected, let actual):
            "\(path): tensor \"\(SafeText.terminal(tensor))\" has shape \(Self.format(actual)), expected \(Self.format(expected)); "
                + "the file was made for another model configuration"
        case .wrongDType(let tensor, let actual, let expected):
            "\(path): tensor \"\(SafeText.terminal(tensor))\" has dtype \(SafeText.terminal(actual)), expected \(expected)"
        case .invalidTensor(let tensor, let reason):
            "cannot write \(path): tensor \"\(SafeText.terminal(tensor))\" \(reason)"
        case .unwritable(let reason):
            "cannot write \(path): \(reason)"
        }
    }

    static func format(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}

/// A safetensors file opened for reading: its header is parsed and checked, its data is
/// memory-mapped and converted to `Float` tensor by tensor on request.
///
/// ```swift
/// let file = try SafetensorsFile.read(path: "Weights/minilm/model.safetensors")
/// let words = try file.tensor("embeddings.word_embeddings.weight", shape: [30_522, 384])
/// ```
///
/// Every structural property is validated when the file is opened (header length and JSON,
/// known dtypes, shapes against byte counts, offsets inside the file, no overlaps or gaps), so
/// later reads cannot run out of bounds. Values can be copied concurrently from several threads.
public struct SafetensorsFile: Sendable {
    /// Largest header accepted, as in the reference implementation (100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// The path the file was read from.
    public let path: String
    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Every tensor, sorted by name.
    public let entries: [SafetensorsEntry]

    private let index: [String: Int]
    private let bytes: FileBytes
    /// Offset of the data section in `bytes`.
    private let dataStart: Int

    /// The tensor names, sorted.
    public var names: [String] { entries.map(\.name) }

    /// Opens and validates the safetensors file at `path`.
    public static func read(path: String) throws(SafetensorsError) -> SafetensorsFile {
        let bytes = try FileBytes(path: path)
        return try SafetensorsFile(path: path, bytes: bytes)
    }

    private init(path: String, bytes: FileBytes) throws(SafetensorsError) {
        func fail(_ kind: SafetensorsError.Kind) -> SafetensorsError { SafetensorsError(path: path, kind: kind) }
        let size = bytes.count
        guard size >= 8 else {
            throw fail(.notSafetensors(size == 0 ? "the file is empty" : "only \(size) bytes, fewer than the 8-byte header length"))
        }
        var headerLength: UInt64 = 0
        for i in 0 ..< 8 { headerLength |= UInt64(bytes.base.load(fromByteOffset: i, as: UInt8.self)) << (8 * UInt64(i)) }
        guard headerLength >= 2, headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw fail(.notSafetensors("its first 8 bytes give a header length of \(headerLength) bytes, "
                + "outside 2...\(Self.maxHeaderBytes)"))
        }
        let headerEnd = 8 + Int(headerLength)
        guard headerEnd <= size else {
            throw fail(.truncated(expectedBytes: headerEnd, actualBytes: size))
        }
        let header = UnsafeRawBufferPointer(start: bytes.base + 8, count: Int(headerLength))
        guard header[0] == UInt8(ascii: "{") else {
            throw fail(.notSafetensors("the header does not start with '{'"))
        }

        let parsed: ParsedHeader
        do {
            parsed = try JSONDecoder().decode(ParsedHeader.self, from: Data(header))
        } catch let error as HeaderProblem {
            throw fail(error.kind)
        } catch let error as DecodingError {
            throw fail(.corruptHeader(Self.explain(error)))
        } catch {
            throw fail(.corruptHeader("\(error)"))
        }

        let dataSize = size - headerEnd
        // The data must be covered exactly: sorted by offset, each tensor starts where the last
        // one ended, and the last one ends at the end of the file.
        let byOffset = parsed.entries.sorted {
            ($0.dataRange.lowerBound, $0.dataRange.upperBound, $0.name) < ($1.dataRange.lowerBound, $1.dataRange.upperBound, $1.name)
        }
        var position = 0
        var previous: String?
        for entry in byOffset {
            if entry.dataRange.lowerBound < position {
                throw fail(.invalidEntry(tensor: entry.name, reason: "its bytes \(entry.dataRange) overlap tensor \"\(previous ?? "")\""))
            }
            if entry.dataRange.lowerBound > position {
                throw fail(.invalidEntry(tensor: entry.name, reason: "its bytes start at \(entry.dataRange.lowerBound), "
                    + "leaving \(entry.dataRange.lowerBound - position) unused bytes before it"))
            }
            position = entry.dataRange.upperBound
            previous = entry.name
        }
        if position > dataSize {
            throw fail(.truncated(expectedBytes: headerEnd + position, actualBytes: size))
        }
        if position < dataSize {
            throw fail(.corruptHeader("\(dataSize - position) bytes after the last tensor belong to no tensor"))
        }

        self.path = path
        self.metadata = parsed.metadata
        self.entries = parsed.entries.sorted { $0.name < $1.name }
        var index = [String: Int](minimumCapacity: entries.count)
        for (i, entry) in entries.enumerated() { index[entry.name] = i }
        self.index = index
        self.bytes = bytes
        self.dataStart = headerEnd
    }

    /// The header entry for `name`, or nil.
    public func entry(_ name: String) -> SafetensorsEntry? {
        index[name].map { entries[$0] }
    }

    /// Whether the file has a tensor called `name`.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The tensor `name` as `Float`s in row-major order, checking that its shape is `shape`.
    /// F32 is copied as is; F16 and BF16 are widened exactly.
    public func tensor(_ name: String, shape: [Int]) throws(SafetensorsError) -> [Float] {
        let entry = try floatEntry(name, shape: shape)
        let values = [Float](unsafeUninitializedCapacity: entry.elementCount) { buffer, count in
            convert(entry, into: buffer)
            count = entry.elementCount
        }
        try checkIntact()
        return values
    }

    /// Throws when the file was cut short after it was mapped: what was read past its new end
    /// was zeros, not the file.
    private func checkIntact() throws(SafetensorsError) {
        if bytes.truncatedWhileMapped {
            throw SafetensorsError(path: path, kind: .unreadable("the file was cut short while it was read; copy it again"))
        }
    }

    /// The tensor `name` as `Float`s in row-major order, whatever its shape, with that shape.
    public func tensor(_ name: String) throws(SafetensorsError) -> (shape: [Int], values: [Float]) {
        guard let found = entry(name) else {
            throw SafetensorsError(path: path, kind: .missingTensor(tensor: name, expectedShape: nil))
        }
        return (found.shape, try tensor(name, shape: found.shape))
    }

    /// Copies the tensor `name` (checked to have shape `shape`) into `destination`, which
    /// must hold exactly its element count: no intermediate array.
    public func copyTensor(_ name: String, shape: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws(SafetensorsError) {
        let entry = try floatEntry(name, shape: shape)
        precondition(destination.count == entry.elementCount,
                     "copyTensor: destination holds \(destination.count) floats, tensor \"\(name)\" has \(entry.elementCount)")
        convert(entry, into: destination)
        try checkIntact()
        bytes.release(dataStart + entry.dataRange.lowerBound ..< dataStart + entry.dataRange.upperBound)
    }

    /// Fills `destination` with the tensor `name` (which must have `shape`), as `copyTensor` does,
    /// but without reading it: where the tensor is float32 and starts on a page of the file, the
    /// buffer becomes a private map of those bytes (`FloatBuffer.mapPrivately`), so its pages are
    /// read only when something touches them. Otherwise the values are copied. Used for e5's
    /// word table (214 MB, of which a dataset uses a few MB).
    public func loadTensor(_ name: String, shape: [Int], into destination: FloatBuffer) throws(SafetensorsError) {
        let entry = try floatEntry(name, shape: shape)
        precondition(destination.count == entry.elementCount,
                     "loadTensor: destination holds \(destination.count) floats, tensor \"\(name)\" has \(entry.elementCount)")
        if entry.dtype == .f32, let opened = try? RegularFile.open(path, kind: "file", limit: Int.max) {
            defer { close(opened.descriptor) }
            let end = dataStart + entry.dataRange.upperBound
            if opened.size >= end,
               destination.mapPrivately(descriptor: opened.descriptor, offset: dataStart + entry.dataRange.lowerBound) {
                return
            }
        }
        convert(entry, into: destination.buffer)
        try checkIntact()
        bytes.release(dataStart + entry.dataRange.lowerBound ..< dataStart + entry.dataRange.upperBound)
    }

    private func floatEntry(_ name: String, shape: [Int]) throws(SafetensorsError) -> SafetensorsEntry {
        guard let entry = entry(name) else {
            throw SafetensorsError(path: path, kind: .missingTensor(tensor: name, expectedShape: shape))
        }
        guard entry.shape == shape else {
            throw SafetensorsError(path: path, kind: .wrongShape(tensor: name, expected: shape, actual: entry.shape))
        }
        guard entry.dtype.isReadableAsFloat else {
            throw SafetensorsError(path: path, kind: .wrongDType(tensor: name, actual: entry.dtype.rawValue,
                                                                   expected: "a floating-point type (F32, F16 or BF16)"))
        }
        return entry
    }

    private func convert(_ entry: SafetensorsEntry, into out: UnsafeMutableBufferPointer<Float>) {
        let source = bytes.base + dataStart + entry.dataRange.lowerBound
        let n = entry.elementCount
        guard n > 0, let target = out.baseAddress else { return }
        switch entry.dtype {
        case .f32:
            memcpy(target, source, n * 4)
            #if _endian(big)
            for i in 0 ..< n { target[i] = Float(bitPattern: UInt32(littleEndian: target[i].bitPattern)) }
            #endif
        case .f16:
            HalfPrecision.widen(source, count: n, into: target)
        case .bf16:
            for i in 0 ..< n {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                target[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        default:
            preconditionFailure("floatEntry admits only floating-point dtypes")
        }
    }

    private static func explain(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "" : " at \(keys.joined(separator: "."))"
        }
        switch error {
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return context.debugDescription + path(context)
        case .keyNotFound(let key, let context):
            return "missing \"\(key.stringValue)\"" + path(context)
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return context.debugDescription + path(context)
        @unknown default:
            return "\(error)"
        }
    }
}

// MARK: - Writing

/// A tensor to write: its name, shape, values (row-major) and, optionally, its own dtype.
public struct SafetensorsTensor: Sendable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]
    /// Overrides the file's dtype for this tensor (F32, F16 or BF16); nil uses the file's.
    public var dtype: SafetensorsDType?

    public init(name: String, shape: [Int], values: [Float], dtype: SafetensorsDType? = nil) {
        self.name = name
        self.shape = shape
        self.values = values
        self.dtype = dtype
    }
}

extension SafetensorsFile {
    /// Writes `tensors` as a safetensors file at `path`, atomically: into a temporary file in
    /// the same folder, flushed to disk (fsync), then renamed over `path`. A reader never sees
    /// a half-written file, and a failure leaves any earlier file in place.
    ///
    /// Entries are sorted by name and the header is padded with spaces to a multiple of 8
    /// bytes, so the same tensors and metadata always give the same bytes. F16 and BF16 round
    /// to nearest, ties to even; F32 is written bit for bit.
    public static func write(path: String, tensors: [SafetensorsTensor], dtype: SafetensorsDType = .f32,
                             metadata: [String: String] = [:]) throws(SafetensorsError) {
        func fail(_ kind: SafetensorsError.Kind) -> SafetensorsError { SafetensorsError(path: path, kind: kind) }

        // Validate and lay out.
        let sorted = tensors.sorted { $0.name < $1.name }
        var layout: [(tensor: SafetensorsTensor, dtype: SafetensorsDType, range: Range<Int>)] = []
        layout.reserveCapacity(sorted.count)
        var position = 0
        var previousName: String?
        for tensor in sorted {
            if tensor.name.isEmpty { throw fail(.invalidTensor(tensor: tensor.name, reason: "has an empty name")) }
            if tensor.name == "__metadata__" {
                throw fail(.invalidTensor(tensor: tensor.name, reason: "uses the name reserved for the metadata"))
            }
            if tensor.name == previousName { throw fail(.invalidTensor(tensor: tensor.name, reason: "appears twice")) }
            previousName = tensor.name
            let type = tensor.dtype ?? dtype
            guard type.isReadableAsFloat else {
                throw fail(.invalidTensor(tensor: tensor.name, reason: "cannot be written as \(type.rawValue); use F32, F16 or BF16"))
            }
            guard let count = checkedProduct(tensor.shape) else {
                throw fail(.invalidTensor(tensor: tensor.name, reason: "has an invalid shape \(SafetensorsError.format(tensor.shape))"))
            }
            guard count == tensor.values.count else {
                throw fail(.invalidTensor(tensor: tensor.name, reason: "has \(tensor.values.count) values but shape "
                    + "\(SafetensorsError.format(tensor.shape)) needs \(count)"))
            }
            let byteCount = count * type.byteSize
            layout.append((tensor, type, position ..< position + byteCount))
            position += byteCount
        }

        var json = "{\"__metadata__\":{"
        for (i, key) in metadata.keys.sorted().enumerated() {
            if i > 0 { json += "," }
            json += jsonString(key) + ":" + jsonString(metadata[key]!)
        }
        json += "}"
        for item in layout {
            json += "," + jsonString(item.tensor.name) + ":{\"dtype\":\"\(item.dtype.rawValue)\",\"shape\":["
                + item.tensor.shape.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(item.range.lowerBound),\(item.range.upperBound)]}"
        }
        json += "}"
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
        guard header.count <= maxHeaderBytes else {
            throw fail(.unwritable("the header would be \(header.count) bytes, above the \(maxHeaderBytes)-byte limit"))
        }

        try writeAtomically(path: path) { (sink: inout ChunkedWriter) throws(SafetensorsError) in
            var prefix = [UInt8](repeating: 0, count: 8)
            for i in 0 ..< 8 { prefix[i] = UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(i))) }
            try sink.append(prefix)
            try sink.append(header)
            for item in layout {
                try sink.appendConverted(item.tensor.values, as: item.dtype)
            }
        }
    }

    private static func checkedProduct(_ shape: [Int]) -> Int? {
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (result, overflow) = product.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            product = result
        }
        return product
    }

    /// A JSON string literal (`SafeText.jsonQuoted`).
    private static func jsonString(_ text: String) -> String { SafeText.jsonQuoted(text) }
}

// MARK: - Header decoding

/// A problem found while decoding the header that is more specific than a JSON error.
private struct HeaderProblem: Error {
    let kind: SafetensorsError.Kind
}

private struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private struct RawEntry: Decodable {
    let dtype: String
    let shape: [Int]
    // swiftlint:disable:next identifier_name
    let data_offsets: [Int]
}

private struct ParsedHeader: Decodable {
    var metadata: [String: String] = [:]
    var entries: [SafetensorsEntry] = []

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: DynamicKey.self)
        for key in container.allKeys {
            if key.stringValue == "__metadata__" {
                guard let values = try? container.decode([String: String].self, forKey: key) else {
                    throw HeaderProblem(kind: .corruptHeader("\"__metadata__\" must be an object whose values are all strings"))
                }
                metadata = values
                continue
            }
            let name = key.stringValue
            func invalid(_ reason: String) -> HeaderProblem { HeaderProblem(kind: .invalidEntry(tensor: name, reason: reason)) }
            let raw: RawEntry
            do {
                raw = try container.decode(RawEntry.self, forKey: key)
            } catch {
                throw invalid("its header entry is not {\"dtype\": string, \"shape\": [integers], \"data_offsets\": [begin, end]}")
            }
            guard let dtype = SafetensorsDType(rawValue: raw.dtype) else {
                throw invalid("unknown dtype \"\(raw.dtype)\"")
            }
            guard raw.data_offsets.count == 2 else {
                throw invalid("data_offsets must be [begin, end], got \(raw.data_offsets.count) numbers")
            }
            let begin = raw.data_offsets[0], end = raw.data_offsets[1]
            guard begin >= 0, end >= begin else {
                throw invalid("data_offsets [\(begin), \(end)] are not an increasing pair of byte offsets")
            }
            var count = 1
            for dimension in raw.shape {
                guard dimension >= 0 else { throw invalid("negative dimension in shape \(SafetensorsError.format(raw.shape))") }
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw invalid("shape \(SafetensorsError.format(raw.shape)) overflows") }
                count = product
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, bytes == end - begin else {
                throw invalid("shape \(SafetensorsError.format(raw.shape)) of \(dtype.rawValue) needs "
                    + "\(overflow ? "too many" : String(bytes)) bytes but data_offsets give \(end - begin)")
            }
            entries.append(SafetensorsEntry(name: name, dtype: dtype, shape: raw.shape, dataRange: begin ..< end))
        }
    }
}

// MARK: - Half precision

/// IEEE 754 binary16 conversions: widening through a 65,536-entry table (exact), narrowing with
/// round to nearest, ties to even (Swift's `Float16` initialiser).
enum HalfPrecision {
    /// Every binary16 bit pattern's value as a Float.
    static let table: [Float] = (0 ... 0xFFFF).map { Float(Float16(bitPattern: UInt16($0))) }

    static func widen(_ source: UnsafeRawPointer, count: Int, into target: UnsafeMutablePointer<Float>) {
        table.withUnsafeBufferPointer { table in
            for i in 0 ..< count {
                let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                target[i] = table[Int(bits)]
            }
        }
    }

    @inline(__always) static func narrow(_ value: Float) -> UInt16 { Float16(value).bitPattern }

    /// bfloat16: the top 16 bits of the float, rounded to nearest even; NaN stays a quiet NaN.
    @inline(__always) static func narrowBF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
}

// MARK: - File access

/// A whole file's bytes, memory-mapped read-only (or read into memory where mapping fails).
/// Immutable after creation, so it can be shared between threads.
private final class FileBytes: @unchecked Sendable {
    let base: UnsafeRawPointer
    let count: Int
    /// The mapping (guarded against truncation: Support's `MappedFile`); nil for an empty file.
    private let mapping: MappedFile?
    /// Where an empty file's zero bytes "are": a valid address never read.
    nonisolated(unsafe) private static let empty = UnsafeRawPointer(bitPattern: 64)!

    init(path: String) throws(SafetensorsError) {
        let size: Int
        do {
            let opened = try RegularFile.open(path, kind: "file", limit: Int.max)
            close(opened.descriptor)
            size = opened.size
        } catch {
            throw SafetensorsError(path: path, kind: .unreadable(error.message))
        }
        if size == 0 {
            base = Self.empty
            count = 0
            mapping = nil
            return
        }
        do {
            let file = try MappedFile(path: path, kind: "file")
            mapping = file
            base = file.base
            count = file.length
        } catch {
            throw SafetensorsError(path: path, kind: .unreadable(error.message))
        }
    }

    /// Whether the file was cut short after it was mapped (its tail then read as zeros).
    var truncatedWhileMapped: Bool { mapping?.truncatedWhileMapped ?? false }

    /// Drops this process's view of the whole pages inside `range` once they were copied out
    /// (they stay in the page cache), so loading a file tensor by tensor never holds the mapped
    /// file and the copies in memory at once.
    func release(_ range: Range<Int>) {
        guard mapping != nil, range.lowerBound >= 0, range.upperBound <= count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let start = (range.lowerBound + page - 1) / page * page, end = range.upperBound / page * page
        guard end > start else { return }
        madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED)
    }
}

/// Buffers writes in 1 MiB chunks on their way to `sink`.
struct ChunkedWriter {
    let path: String
    let sink: (UnsafeRawBufferPointer) throws -> Void
    private var buffer: UnsafeMutableRawBufferPointer
    private var used = 0

    init(path: String, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.sink = sink
        self.path = path
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    }

    func deallocate() { buffer.deallocate() }

    mutating func append(_ bytes: [UInt8]) throws(SafetensorsError) {
        var offset = 0
        while offset < bytes.count {
            if used == buffer.count { try flush() }
            let n = min(bytes.count - offset, buffer.count - used)
            for i in 0 ..< n { buffer[used + i] = bytes[offset + i] }
            used += n
            offset += n
        }
    }

    /// Appends `values` converted to `dtype` (F32, F16 or BF16), little-endian.
    mutating func appendConverted(_ values: [Float], as dtype: SafetensorsDType) throws(SafetensorsError) {
        let size = dtype.byteSize
        var index = 0
        while index < values.count {
            if buffer.count - used < size { try flush() }
            let n = min(values.count - index, (buffer.count - used) / size)
            let target = buffer.baseAddress! + used
            values.withUnsafeBufferPointer { source in
                switch dtype {
                case .f32:
                    for i in 0 ..< n { target.storeBytes(of: source[index + i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
                case .f16:
                    for i in 0 ..< n { target.storeBytes(of: HalfPrecision.narrow(source[index + i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
                case .bf16:
                    for i in 0 ..< n { target.storeBytes(of: HalfPrecision.narrowBF16(source[index + i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
                default:
                    preconditionFailure("write admits only F32, F16 and BF16")
                }
            }
            used += n * size
            index += n
        }
    }

    mutating func flush() throws(SafetensorsError) {
        do {
            try sink(UnsafeRawBufferPointer(rebasing: buffer[0 ..< used]))
        } catch let error as SupportFileError {
            throw SafetensorsError(path: path, kind: .unwritable(error.message))
        } catch {
            throw SafetensorsError(path: path, kind: .unwritable("\(error)"))
        }
        used = 0
    }
}

/// Writes `path` atomically (docs/architecture.md §5) through a `ChunkedWriter`.
func writeAtomically(path: String, _ body: (inout ChunkedWriter) throws(SafetensorsError) -> Void) throws(SafetensorsError) {
    do {
        try AtomicFile.write(to: path) { append in
            try withoutActuallyEscaping(append) { sink in
                var writer = ChunkedWriter(path: path, sink: sink)
                defer { writer.deallocate() }
                try body(&writer)
                try writer.flush()
            }
        }
    } catch let error as SafetensorsError {
        throw error
    } catch let error as SupportFileError {
        throw SafetensorsError(path: path, kind: .unwritable(error.message))
    } catch {
        throw SafetensorsError(path: path, kind: .unwritable("\(error)"))
    }
}
