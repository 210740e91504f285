import Glibc

/// SHA-256 content hashes, as lower-case hexadecimal strings (what `sha256sum` prints).
///
/// Used for the feature cache's keys (an image file's content, the backbone's weights file)
/// and the backbone's identity. Files are hashed in 1 MiB pieces, so a large file is never
/// held in memory whole.
public enum ContentHash {
    /// The SHA-256 of `bytes`.
    public static func sha256<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var hasher = SHA256Hasher()
        let contiguous = Array(bytes)
        contiguous.withUnsafeBufferPointer { hasher.update($0) }
        return hasher.finalizeHex()
    }

    /// The SHA-256 of the file at `path`.
    public static func sha256(fileAt path: String) throws(ContentHashError) -> String {
        // Only a regular file: a FIFO would block, a device (/dev/zero) would never end.
        let descriptor: Int32
        do { descriptor = try RegularFile.open(path, kind: "file", limit: Int.max).descriptor } catch {
            throw ContentHashError(path: path, reason: error.message)
        }
        defer { close(descriptor) }
        var hasher = SHA256Hasher()
        let pieceSize = 1 << 20
        let piece = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: pieceSize)
        defer { piece.deallocate() }
        while true {
            let got = read(descriptor, piece.baseAddress!, pieceSize)
            if got < 0 {
                if errno == EINTR { continue }
                throw ContentHashError(path: path, reason: String(cString: strerror(errno)))
            }
            if got == 0 { break }
            hasher.update(UnsafeBufferPointer(rebasing: piece[0 ..< got]))
        }
        return hasher.finalizeHex()
    }
}

/// A file that could not be read for hashing.
public struct ContentHashError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): cannot be read to compute its SHA-256 (\(reason))" }
}
