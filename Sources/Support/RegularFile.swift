import Glibc

/// Reading files that data names, safely: a path where a file is expected must be a regular file
/// (a FIFO would block forever, `/dev/zero` would never end), and what is read is capped by the
/// format's own limit, checked before anything is allocated.
public enum RegularFile {
    /// Opens `path` for reading and checks it is a regular file no larger than `limit` bytes.
    /// Returns the open descriptor (the caller closes it) and the file's size. `kind` names the
    /// file in messages ("ranking file").
    public static func open(_ path: String, kind: String, limit: Int) throws(SupportFileError) -> (descriptor: Int32, size: Int) {
        // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            let code = errno
            throw SupportFileError(path: path, message: code == ENOENT
                ? "no such \(kind)" : "cannot open the \(kind): \(String(cString: strerror(code)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let error = SupportFileError.system(path, "cannot stat the \(kind)")
            close(descriptor)
            throw error
        }
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG else {
            close(descriptor)
            let what = type == S_IFDIR ? "a folder" : type == S_IFIFO ? "a FIFO" : type == S_IFCHR || type == S_IFBLK ? "a device" : type == S_IFSOCK ? "a socket" : "not a regular file"
            throw SupportFileError(path: path, message: "the \(kind) is \(what), not a regular file")
        }
        let size = Int(status.st_size)
        guard size <= limit else {
            close(descriptor)
            throw SupportFileError(path: path, message: "the \(kind) is \(size) bytes, above the \(limit)-byte limit for it")
        }
        // Reads block as usual from here on.
        let flags = fcntl(descriptor, F_GETFL)
        if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
        return (descriptor, size)
    }

    /// The whole regular file at `path` (at most `limit` bytes), or nil when it does not exist and
    /// `missingIsNil`. A file that grows while it is read is cut at `limit` with an error.
    public static func read(_ path: String, kind: String = "file", limit: Int, missingIsNil: Bool = false) throws(SupportFileError) -> [UInt8]? {
        if missingIsNil {
            var status = stat()
            if lstat(path, &status) != 0 && errno == ENOENT { return nil }
        }
        let (descriptor, size) = try open(path, kind: kind, limit: limit)
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SupportFileError.system(path, "cannot read the \(kind)")
            }
            if n == 0 { break }
            guard bytes.count + n <= limit else {
                throw SupportFileError(path: path, message: "the \(kind) grew past the \(limit)-byte limit for it while it was read")
            }
            bytes.append(contentsOf: buffer[0 ..< n])
        }
        return bytes
    }

    /// Whether `path` names a regular file (following symbolic links).
    public static func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
    }
}

/// Creates `folder` and its missing parents (like `mkdir -p`), and checks it is a folder.
public func makeFolder(_ folder: String) throws(SupportFileError) {
    var path = folder.hasPrefix("/") ? "" : "."
    for part in folder.split(separator: "/", omittingEmptySubsequences: true) {
        path += "/" + part
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw SupportFileError.system(path, "cannot create the folder") }
    }
    var status = stat()
    guard stat(folder, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
        throw SupportFileError(path: folder, message: "is not a folder")
    }
}

/// `folder/name`, with one slash between them.
public func joinPath(_ folder: String, _ name: String) -> String {
    folder.hasSuffix("/") ? folder + name : folder + "/" + name
}
