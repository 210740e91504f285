#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
/// `produce` is called with a function that appends bytes; it may call it many times.
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
                let n = write(fd, chunk.baseAddress! + offset, chunk.count - offset)
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
