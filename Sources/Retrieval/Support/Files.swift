#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An error reading or writing one of Retrieval's files (ranking files, metric results, vector
/// files): which file, and what went wrong.
public struct RetrievalFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): \(message)" }
}

func systemError(_ path: String, _ what: String, _ code: Int32 = errno) -> RetrievalFileError {
    RetrievalFileError(path: path, message: "\(what): \(String(cString: strerror(code)))")
}

func joinPath(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
}

/// `open(path, O_RDONLY)` (a free function: inside types with an `open` member the C call is hidden).
func openReadOnly(_ path: String) -> Int32 {
    open(path, O_RDONLY | O_CLOEXEC)
}

/// The whole file at `path`, or nil when it does not exist and `missingIsNil`.
func readWholeFile(_ path: String, missingIsNil: Bool = false) throws -> [UInt8]? {
    let fd = openReadOnly(path)
    if fd < 0 {
        let code = errno
        if code == ENOENT && missingIsNil { return nil }
        throw systemError(path, "cannot open", code)
    }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw systemError(path, "cannot stat") }
    guard (status.st_mode & S_IFMT) == S_IFREG else {
        throw RetrievalFileError(path: path, message: "not a regular file")
    }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(Int(status.st_size))
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw systemError(path, "read failed")
        }
        if n == 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return bytes
}

/// Creates `folder` and its missing parents (like `mkdir -p`).
func makeFolder(_ folder: String) throws {
    var path = folder.hasPrefix("/") ? "" : "."
    for part in folder.split(separator: "/", omittingEmptySubsequences: true) {
        path += "/" + part
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw systemError(path, "cannot create folder") }
    }
    var status = stat()
    guard stat(folder, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
        throw RetrievalFileError(path: folder, message: "is not a folder")
    }
}

/// Writes a file atomically: the bytes go to a temporary file in the same folder, which is
/// flushed to disk and renamed over `path`; readers see the old file or the new one, never a part.
/// `produce` is called with a function that appends bytes; it may call it many times, with
/// buffers of any size (they are written in slices of at most 64 MiB).
func writeFileAtomically(to path: String,
                         _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void)
throws {
    let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw systemError(temporary, "cannot create") }
    var closed = false
    do {
        try produce { (chunk: UnsafeRawBufferPointer) throws in
            var offset = 0
            while offset < chunk.count {
                let n = write(fd, chunk.baseAddress! + offset, min(chunk.count - offset, 1 << 26))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw systemError(temporary, "write failed")
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else { throw systemError(temporary, "fsync failed") }
        closed = true
        guard close(fd) == 0 else { throw systemError(temporary, "close failed") }
        guard rename(temporary, path) == 0 else { throw systemError(path, "cannot rename \(temporary) to it") }
    } catch {
        if !closed { close(fd) }
        unlink(temporary)
        throw error
    }
}

/// Writes `bytes` to `path` atomically.
func writeFileAtomically(_ bytes: [UInt8], to path: String) throws {
    try writeFileAtomically(to: path) { (append) throws in
        try bytes.withUnsafeBytes { (raw) throws in try append(raw) }
    }
}

/// A pointer handed to concurrent workers that only read (or write disjoint parts of) the memory
/// behind it while the owner keeps it alive.
struct SharedPointer<Pointee>: @unchecked Sendable {
    let base: UnsafePointer<Pointee>
    init(_ base: UnsafePointer<Pointee>) { self.base = base }
}

/// A mutable pointer handed to concurrent workers that write disjoint parts of the memory.
struct SharedMutablePointer<Pointee>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Pointee>
    init(_ base: UnsafeMutablePointer<Pointee>) { self.base = base }
}

/// A read-only memory mapping of a whole file, unmapped when the last matrix viewing it goes away.
final class FileMapping {
    let base: UnsafeMutableRawPointer
    let length: Int
    init(base: UnsafeMutableRawPointer, length: Int) { self.base = base; self.length = length }
    deinit { munmap(base, length) }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }
}

/// Vitrine's memory-mapped files (vector files, gallery indexes) start alike: 8 magic bytes, a
/// little-endian UInt32 format version, a UInt32 header length, then that many bytes of JSON header.
/// Maps the file at `path` and reads that preamble; `kind` names the file in messages ("gallery
/// index"), `bad` words what is wrong with it. The caller checks the rest of the layout.
func mapFile<Header: Decodable>(at path: String, magic: [UInt8], version: UInt32, kind: String,
                                bad: (String) -> RetrievalFileError,
                                header: Header.Type) throws -> (mapping: FileMapping, header: Header, headerLength: Int) {
    let fd = openReadOnly(path)
    guard fd >= 0 else { throw systemError(path, "cannot open the \(kind)") }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else { throw systemError(path, "cannot stat") }
    guard (status.st_mode & S_IFMT) == S_IFREG else { throw bad("it is not a regular file") }
    let length = Int(status.st_size)
    guard length >= 16 else { throw bad("it is only \(length) bytes long (truncated?)") }
    guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
        throw systemError(path, "cannot memory-map")
    }
    let mapping = FileMapping(base: mapped, length: length)  // unmaps on any error below
    let bytes = mapping.bytes
    guard Array(bytes[0..<8]) == magic else {
        throw bad("it does not start with \"\(String(decoding: magic, as: UTF8.self))\"")
    }
    let found = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    guard found == version else {
        throw RetrievalFileError(path: path, message: found > version
            ? "\(kind) format version \(found) is newer than this Vitrine reads (\(version)); update Vitrine or rebuild it (`vitrine index`)"
            : "\(kind) format version \(found) is no longer read; rebuild it (`vitrine index`)")
    }
    let headerLength = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
    guard 16 + headerLength <= length else { throw bad("its header runs past the end of the file (truncated?)") }
    do {
        let decoded = try JSONDecoder().decode(Header.self, from: Data(bytes[16..<(16 + headerLength)]))
        return (mapping, decoded, headerLength)
    } catch {
        throw bad("its header is not the expected JSON (\(error))")
    }
}

/// The ids block of a mapped file: `count` ids, each ended by a line feed.
func readIDLines(_ block: Slice<UnsafeRawBufferPointer>, count: Int, bad: (String) -> RetrievalFileError) throws -> [String] {
    var ids: [String] = []
    ids.reserveCapacity(count)
    var start = block.startIndex
    for i in block.indices where block[i] == 0x0A {
        ids.append(String(decoding: UnsafeRawBufferPointer(rebasing: block[start..<i]), as: UTF8.self))
        start = i + 1
    }
    guard start == block.endIndex, ids.count == count else { throw bad("it holds \(ids.count) ids for \(count) rows") }
    return ids
}
