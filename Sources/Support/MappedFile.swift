import CSupport
import Foundation
import Glibc

/// A read-only memory mapping of a whole regular file (docs/architecture.md §5), unmapped when
/// the last reference goes away.
///
/// The mapping is guarded against truncation: if the file is cut short while it is mapped (another
/// process truncating it in place), reading past the new end yields zeros instead of killing the
/// process with SIGBUS, and `truncatedWhileMapped` becomes true. Readers check it after using the
/// bytes and treat the file as corrupt (a cache is then rebuilt).
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let base: UnsafeRawPointer
    public let length: Int
    private let slot: Int32

    /// Maps the regular file at `path`. `kind` names the file in messages; `limit` caps its size.
    public init(path: String, kind: String, limit: Int = Int.max) throws(SupportFileError) {
        let (descriptor, size) = try RegularFile.open(path, kind: kind, limit: limit)
        defer { close(descriptor) }
        guard size > 0 else { throw SupportFileError(path: path, message: "the \(kind) is empty") }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
            throw SupportFileError.system(path, "cannot memory-map the \(kind)")
        }
        self.path = path
        base = UnsafeRawPointer(mapped)
        length = size
        slot = vitrine_mapping_register(mapped, size)
    }

    deinit {
        vitrine_mapping_unregister(slot)
        munmap(UnsafeMutableRawPointer(mutating: base), length)
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }

    /// Whether a read of the mapping has faulted because the file became shorter after it was
    /// mapped: what was read past the new end was zeros, not the file.
    public var truncatedWhileMapped: Bool {
        if slot >= 0 { return vitrine_mapping_faulted(slot) != 0 }
        // Unguarded (every slot taken): compare with the file's size now.
        var status = stat()
        return stat(path, &status) == 0 && Int(status.st_size) < length
    }
}

/// Vitrine's memory-mapped files (vector files, gallery indexes) start alike: 8 magic bytes, a
/// little-endian UInt32 format version, a UInt32 header length, then that many bytes of JSON.
public struct MappedFilePreamble<Header: Decodable> {
    public let file: MappedFile
    public let header: Header
    /// Where the bytes after the JSON header start.
    public let bodyOffset: Int

    /// Why a file was refused: `bad(reason)` says the file is damaged; `version(found)` that it
    /// was written by another format version.
    public enum Problem: Error {
        case bad(String)
        case version(UInt32)
    }

    /// The preamble's bytes, for a writer: magic, version, the header's length, the header.
    public static func encode(magic: [UInt8], version: UInt32, header json: [UInt8]) -> [UInt8] {
        var bytes = magic
        withUnsafeBytes(of: version.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { bytes += $0 }
        return bytes + json
    }

    /// Maps `path` and reads its preamble; the caller checks the rest of the layout. The JSON
    /// header may be at most `headerLimit` bytes.
    public init(path: String, kind: String, magic: [UInt8], version: UInt32,
                headerLimit: Int = 1 << 20, limit: Int = Int.max) throws {
        let (descriptor, size) = try RegularFile.open(path, kind: kind, limit: limit)
        close(descriptor)
        guard size >= 16 else { throw Problem.bad("it is only \(size) bytes long (truncated?)") }
        let file = try MappedFile(path: path, kind: kind, limit: limit)
        let bytes = file.bytes
        guard bytes.count >= 16 else { throw Problem.bad("it is only \(bytes.count) bytes long (truncated?)") }
        guard Array(bytes[0 ..< 8]) == magic else {
            throw Problem.bad("it does not start with \"\(String(decoding: magic, as: UTF8.self))\"")
        }
        let found = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard found == version else { throw Problem.version(found) }
        let headerLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        guard headerLength <= headerLimit else { throw Problem.bad("its header claims \(headerLength) bytes, above the \(headerLimit)-byte limit") }
        guard 16 + headerLength <= bytes.count else { throw Problem.bad("its header runs past the end of the file (truncated?)") }
        let decoded: Header
        do {
            decoded = try JSONDecoder().decode(Header.self, from: Data(bytes[16 ..< (16 + headerLength)]))
        } catch {
            throw Problem.bad("its header is not the expected JSON")
        }
        guard !file.truncatedWhileMapped else { throw Problem.bad("it was truncated while it was read") }
        self.file = file
        header = decoded
        bodyOffset = 16 + headerLength
    }
}
