import Glibc

/// A file that could not be read or written: which file and what went wrong, in words a user can
/// act on. Each module wraps it in its own error type where it needs more context.
public struct SupportFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// `what` failed on `path`, with the C library's words for `code`.
    public static func system(_ path: String, _ what: String, _ code: Int32 = errno) -> SupportFileError {
        SupportFileError(path: path, message: "\(what): \(String(cString: strerror(code)))")
    }

    public var description: String { "\(path): \(message)" }
}
