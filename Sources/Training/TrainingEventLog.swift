import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A run folder's `events.jsonl` (docs/model.md §8.6): every event of the run, one JSON line
/// each exactly as `vitrine train --json` prints it (`TrainingEvent.jsonLine()`), appended as it
/// happens, so that any run can be followed from its folder (`vitrine explore --follow`), whoever
/// started it. The PyTorch twin writes the same file.
///
/// Each line goes to the file in one `write` of its own (no buffering), so a reader never waits
/// for a flush and sees complete lines, plus at most a part of the last one.
public final class TrainingEventLog: @unchecked Sendable {
    /// The file's name in a run folder.
    public static let fileName = "events.jsonl"

    public let path: String
    private let fd: Int32
    private let lock = NSLock()

    /// Opens (or creates) `<directory>/events.jsonl` for appending, creating the folder if needed.
    /// A resumed run appends to the file its first part wrote.
    public init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingEventLogError(description: "cannot create the run folder \(directory): \(error.localizedDescription); "
                + "check that its parent is writable, or choose another with --out")
        }
        path = directory + "/" + Self.fileName
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TrainingEventLogError(description: "cannot open \(path) for the run's events: \(String(cString: strerror(errno))); "
                + "check the run folder's permissions")
        }
    }

    deinit { close(fd) }

    /// Appends the event's line (and a line feed) in one write.
    public func append(_ event: TrainingEvent) throws {
        let bytes = Array((event.jsonLine() + "\n").utf8)
        lock.lock(); defer { lock.unlock() }
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TrainingEventLogError(description: "cannot append an event to \(path): \(String(cString: strerror(errno))); "
                    + "check the run folder's free space")
            }
            done += n
        }
    }
}

/// Why events.jsonl cannot be opened or written: what, where, what to do.
public struct TrainingEventLogError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
}
