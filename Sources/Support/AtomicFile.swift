import Glibc

/// The one way Vitrine writes a file (docs/architecture.md §5): the bytes go to a temporary file
/// in the same folder, which is flushed to disk (fsync), renamed over the destination, and the
/// folder is flushed too, so that the new name survives a power loss. A reader, or a process
/// killed at any instant, sees the old file or the new one, never a part of either.
public enum AtomicFile {
    /// Writes a file produced by `produce`, which is called with a function that appends bytes; it
    /// may append many times, buffers of any size (written in slices of at most 64 MiB).
    public static func write(to path: String, permissions: mode_t = 0o644,
                             _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let (folder, name) = split(path)
        guard !name.isEmpty, name != ".", name != ".." else {
            throw SupportFileError(path: path, message: "the path names a folder, not a file")
        }
        let temporary = "\(folder)/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard descriptor >= 0 else { throw SupportFileError.system(path, "cannot create a temporary file in \(folder)") }
        var closed = false
        do {
            try produce { (chunk: UnsafeRawBufferPointer) throws in
                var offset = 0
                while offset < chunk.count {
                    let n = Glibc.write(descriptor, chunk.baseAddress! + offset, min(chunk.count - offset, 1 << 26))
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw SupportFileError.system(path, "write failed")
                    }
                    if n == 0 { throw SupportFileError(path: path, message: "write failed: the disk accepted no bytes") }
                    offset += n
                }
            }
            guard fsync(descriptor) == 0 else { throw SupportFileError.system(path, "fsync failed") }
            closed = true
            guard close(descriptor) == 0 else { throw SupportFileError.system(path, "close failed") }
            guard rename(temporary, path) == 0 else { throw SupportFileError.system(path, "cannot rename the temporary file over it") }
        } catch {
            if !closed { close(descriptor) }
            unlink(temporary)
            throw error
        }
        syncFolder(folder)
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String, permissions: mode_t = 0o644) throws(SupportFileError) {
        do {
            try write(to: path, permissions: permissions) { append in try bytes.withUnsafeBytes { try append($0) } }
        } catch let error as SupportFileError {
            throw error
        } catch {
            throw SupportFileError(path: path, message: "\(error)")
        }
    }

    /// Writes `text` (UTF-8) to `path` atomically.
    public static func write(text: String, to path: String) throws(SupportFileError) {
        try write(Array(text.utf8), to: path)
    }

    /// Makes `linkPath` a hard link to `target`, atomically (a reader sees the old or the new file).
    /// Falls back to an atomic copy where the file system has no hard links.
    public static func link(_ target: String, as linkPath: String) throws(SupportFileError) {
        let (folder, name) = split(linkPath)
        let temporary = "\(folder)/.\(name).tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        if Glibc.link(target, temporary) == 0 {
            guard rename(temporary, linkPath) == 0 else {
                let error = SupportFileError.system(linkPath, "cannot rename the new link over it")
                unlink(temporary)
                throw error
            }
            syncFolder(folder)
            return
        }
        guard let bytes = try RegularFile.read(target, kind: "file", limit: Int.max) else {
            throw SupportFileError(path: target, message: "no such file")
        }
        try write(bytes, to: linkPath)
    }

    /// Flushes a folder's entries (a rename in it) to disk.
    public static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor >= 0 {
            _ = fsync(descriptor)
            close(descriptor)
        }
    }

    static func split(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = slash == path.startIndex ? "/" : String(path[..<slash])
        return (folder, String(path[path.index(after: slash)...]))
    }
}
