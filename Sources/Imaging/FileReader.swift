#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads image files with plain POSIX calls, turning every failure into an `ImagingError`.
enum FileReader {
    /// The bytes read and the file's full size (larger than `bytes.count` when only a prefix
    /// was asked for).
    struct Contents {
        var bytes: [UInt8]
        var fileSize: Int
    }

    /// Reads the file at `path`: all of it, or only its first `prefix` bytes.
    ///
    /// Refuses anything that is not a regular file (a FIFO or device could block forever),
    /// empty files, and — when reading everything — files over `maxBytes`.
    static func read(path: String, maxBytes: Int, prefix: Int? = nil) throws(ImagingError) -> Contents {
        func failure(_ kind: ImagingError.Kind) -> ImagingError { ImagingError(file: path, kind: kind) }

        // O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        if descriptor < 0 {
            throw failure(kind(forErrno: errno))
        }
        defer { close(descriptor) }

        var status = stat()
        if fstat(descriptor, &status) != 0 {
            throw failure(kind(forErrno: errno))
        }
        let type = status.st_mode & S_IFMT
        if type == S_IFDIR {
            throw failure(.unreadable("it is a directory"))
        }
        if type != S_IFREG {
            throw failure(.unreadable("not a regular file"))
        }
        let fileSize = Int(status.st_size)
        if fileSize == 0 {
            throw failure(.empty)
        }
        if prefix == nil, fileSize > maxBytes {
            throw failure(.unreadable("\(fileSize) bytes, above the \(maxBytes)-byte file size limit"))
        }
        let wanted = min(fileSize, prefix ?? fileSize)

        var readErrno: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: wanted) { buffer, count in
            var done = 0
            while done < wanted {
                let got = posixRead(descriptor, buffer.baseAddress! + done, wanted - done)
                if got < 0 {
                    if errno == EINTR { continue }
                    readErrno = errno
                    break
                }
                if got == 0 { break } // the file shrank since fstat; the decoder will see a short file
                done += got
            }
            count = done
        }
        if readErrno != 0 {
            throw failure(.unreadable(errnoText(readErrno)))
        }
        if bytes.isEmpty {
            throw failure(.empty)
        }
        return Contents(bytes: bytes, fileSize: fileSize)
    }

    private static func kind(forErrno code: Int32) -> ImagingError.Kind {
        switch code {
        case ENOENT, ENOTDIR: .notFound
        case EACCES, EPERM: .unreadable("permission denied")
        case EISDIR: .unreadable("it is a directory")
        default: .unreadable(errnoText(code))
        }
    }

    private static func errnoText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

/// `read(2)`, named so it does not clash with `FileReader.read`.
@inline(__always)
private func posixRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
