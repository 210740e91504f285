#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Annotations
import Retrieval

/// The retrieval service as a guest uses it: an image-file query must name a file inside the
/// dataset's folder (after symbolic links are resolved: `image:/etc/hostname`, or a link in the
/// dataset to it, is refused), and searches and attention take turns with every other guest of the
/// host through an advisory lock on a file the host made (`$VITRINE_GUEST_LOCK`, made by
/// `vitrine serve`), so one guest's searches cannot starve the others of the cores.
public struct GuestRetrievalService: RetrievalService {
    public let inner: any RetrievalService
    /// The dataset folder, resolved.
    public let root: String
    /// The host's lock file; nil: no lock between guests.
    public let lockPath: String?

    public init(wrapping inner: any RetrievalService, datasetRoot: String, lockPath: String?) {
        self.inner = inner
        self.root = Self.resolved(datasetRoot) ?? datasetRoot
        self.lockPath = lockPath
    }

    public var flagModel: FlagModel? { inner.flagModel }

    public func search(_ query: RetrievalQuery, top: Int, filter: RetrievalFilter, isCancelled: () -> Bool) throws -> SearchResult {
        try check(query)
        return try shared { try inner.search(query, top: top, filter: filter, isCancelled: isCancelled) }
    }

    public func attention(for query: RetrievalQuery, match sampleID: String) throws -> AttentionSummary {
        try check(query)
        return try shared { try inner.attention(for: query, match: sampleID) }
    }

    /// Refuses an image file outside the dataset's folder.
    func check(_ query: RetrievalQuery) throws {
        guard case .imageFile(let path) = query else { return }
        guard let real = Self.resolved(path), real.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
            throw LoadFailure("a guest can search with the dataset's own images only (image:PATH inside \(root))")
        }
    }

    /// Runs `work` holding the host's guest lock (opened read-only: a guest creates no file).
    private func shared<T>(_ work: () throws -> T) throws -> T {
        guard let lockPath else { return try work() }
        let fd = open(lockPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return try work() }   // the host made none: nothing to share
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        return try work()
    }

    /// The absolute path with every symbolic link resolved; nil when it does not exist.
    static func resolved(_ path: String) -> String? {
        guard let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        return String(cString: real)
    }
}

/// A guest session's clock: when it began and when its last key came; once a second it tells the
/// update how long each has been (`Msg.guestClock`).
final class GuestClock: @unchecked Sendable {
    private let lock = NSLock()
    private let began = DispatchTime.now()
    private var last = DispatchTime.now()

    func touched() { lock.withLock { last = DispatchTime.now() } }

    func run(inbox: Inbox) {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [self] in
            let now = DispatchTime.now().uptimeNanoseconds
            let (idle, session) = lock.withLock {
                (Double(now - last.uptimeNanoseconds) / 1e9, Double(now - began.uptimeNanoseconds) / 1e9)
            }
            inbox.post(.guestClock(idleSeconds: idle, sessionSeconds: session))
        }
        timer.resume()
        self.timer = timer
    }

    private var timer: DispatchSourceTimer?
}
