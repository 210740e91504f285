import Foundation
import SafeText
import Training
#if canImport(Glibc)
import Glibc
#endif

/// Cuts a stream of bytes into lines: complete lines only, a partial last line kept until its
/// line feed comes, and a line longer than `maximumLineBytes` reported (its start) and dropped
/// up to its line feed, so that memory stays bounded whatever the stream holds (pure; a value).
public struct EventLineSplitter: Sendable, Equatable {
    /// One complete line, or the report of an over-long one.
    public enum Piece: Sendable, Equatable {
        case line(String)
        /// A line over the limit: its first bytes (decoded, for the report) and that it was dropped.
        case overlong(prefix: String)
    }

    public let maximumLineBytes: Int
    private var pending: [UInt8] = []
    /// Inside an over-long line whose report was made: bytes are dropped until its line feed.
    private var dropping = false

    public init(maximumLineBytes: Int = 256 * 1024) {
        precondition(maximumLineBytes > 0, "EventLineSplitter: the line limit must be positive")
        self.maximumLineBytes = maximumLineBytes
    }

    /// Bytes of the partial line held back.
    public var pendingBytes: Int { pending.count }

    /// Forgets the partial line (the file was replaced or cut short).
    public mutating func reset() { pending.removeAll(); dropping = false }

    /// The lines `bytes` completes, in order.
    public mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Piece] {
        var out: [Piece] = []
        var rest = bytes
        while !rest.isEmpty {
            if let newline = rest.firstIndex(of: 0x0A) {
                let part = rest[rest.startIndex ..< newline]
                rest = rest[(newline + 1)...]
                if dropping { dropping = false; continue }
                if pending.count + part.count > maximumLineBytes {
                    out.append(.overlong(prefix: Self.decodePrefix(pending + part)))
                    pending.removeAll()
                    continue
                }
                pending += part
                out.append(.line(String(decoding: pending, as: UTF8.self)))
                pending.removeAll()
            } else {
                if !dropping {
                    if pending.count + rest.count > maximumLineBytes {
                        out.append(.overlong(prefix: Self.decodePrefix(pending + rest)))
                        pending.removeAll()
                        dropping = true
                    } else {
                        pending += rest
                    }
                }
                rest = []
            }
        }
        return out
    }

    private static func decodePrefix(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.prefix(120), as: UTF8.self)
    }
}

/// Follows a run folder's `events.jsonl` (docs/model.md §8.6), whoever writes it (`vitrine
/// train`, its PyTorch twin, on this machine or another one that shares the folder), and turns
/// it into `TrainingMsg`s for the explorer, like `TrainingProcess` does for a child's stdout.
///
/// `tail -F` semantics, by polling (a network file system sends no notifications): it waits for
/// the folder and the file to appear, reads complete lines only and keeps a partial last line
/// until it completes, and when the file is replaced (another inode) or cut short it reads the new
/// one from its start (and says so). A line that is not a training event, or one whose numbers
/// are out of any run's range, is reported (`FollowNews.skipped`, its text cut; the pane draws
/// it inert) and skipped; a line over `maximumLineBytes` is dropped up to its line feed. After a
/// `finished` or `failed` event it looks for the run's model (`FollowNews.ended`) and keeps
/// following: a `--resume` of the run appends to the same file.
///
/// The run is not the explorer's child: it is never signalled. `stop()` only stops reading.
public final class RunFollower: @unchecked Sendable {
    public struct Options: Sendable {
        /// Seconds between looks at the file.
        public var pollInterval: Double
        /// The longest line read (longer ones are reported and dropped).
        public var maximumLineBytes: Int
        /// Bytes read at most per look (the rest next time), so that a huge file streams in.
        public var readBytesPerPoll: Int

        public init(pollInterval: Double = 0.2, maximumLineBytes: Int = 256 * 1024, readBytesPerPoll: Int = 4 << 20) {
            self.pollInterval = pollInterval; self.maximumLineBytes = maximumLineBytes; self.readBytesPerPoll = readBytesPerPoll
        }
    }

    public typealias Handler = @Sendable (TrainingMsg) -> Void

    /// The run folder and its events file.
    public let directory: String
    public var eventsPath: String { directory + "/" + TrainingEventLog.fileName }
    private let options: Options
    private let handler: Handler
    private let condition = NSCondition()
    private var stopped = false

    // Reading state (the polling thread's, or the caller of `poll` in tests).
    private var fd: Int32 = -1
    private var identity: (device: UInt64, inode: UInt64)?
    private var offset: Int64 = 0
    private var splitter: EventLineSplitter
    private var lineNumber = 0
    private var lastNews: FollowNews?
    /// The file that was being read went away; the next one is a new file.
    private var lost = false

    /// A follower that reads nothing until `poll()` (tests) or `start` (the app) calls it.
    public init(directory: String, options: Options = Options(), handler: @escaping Handler) {
        self.directory = directory; self.options = options; self.handler = handler
        splitter = EventLineSplitter(maximumLineBytes: options.maximumLineBytes)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Checks the folder (a path that exists and is not a folder is an error; one that does not
    /// exist yet is waited for) and follows it on a thread of its own.
    public static func start(directory: String, options: Options = Options(), handler: @escaping Handler) throws -> RunFollower {
        if let problem = folderProblem(directory) { throw TrainingProcessError(problem) }
        let follower = RunFollower(directory: directory, options: options, handler: handler)
        let thread = Thread { follower.loop() }
        thread.name = "vitrine.run-follower"
        thread.start()
        return follower
    }

    /// Why `path` cannot be followed (it exists and is not a folder), or nil.
    public static func folderProblem(_ path: String) -> String? {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { return nil }
        return "\(path) is a file, not a run folder: give the folder a run writes its checkpoints and "
            + "\(TrainingEventLog.fileName) to (vitrine train --out DIR, or the PyTorch twin's)"
    }

    /// Stops following (the run itself goes on; it is not ours).
    public func stop() {
        condition.lock(); stopped = true; condition.broadcast(); condition.unlock()
    }

    private var isStopped: Bool { condition.lock(); defer { condition.unlock() }; return stopped }

    private func loop() {
        while !isStopped {
            poll()
            condition.lock()
            if !stopped { _ = condition.wait(until: Date(timeIntervalSinceNow: options.pollInterval)) }
            condition.unlock()
        }
        if fd >= 0 { close(fd); fd = -1 }
    }

    /// One look at the folder: opens the file when it has appeared, reopens it when it was
    /// replaced or cut short, and reports every complete line added since the last look.
    public func poll() {
        var st = stat()
        guard stat(eventsPath, &st) == 0 else {
            let folderExists = FileManager.default.fileExists(atPath: directory)
            if fd >= 0 {
                // Gone (the folder was moved or deleted): what was read stays; wait for a new file.
                close(fd); fd = -1; identity = nil
                lost = true
            }
            say(.waiting(folderExists
                ? "no events yet: \(eventsPath) does not exist; waiting for the run to write it"
                : "\(directory) does not exist (yet); waiting for a run to write \(TrainingEventLog.fileName) there"))
            return
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            say(.waiting("\(eventsPath) is not a regular file; waiting for the run to write one"))
            return
        }
        let id = (UInt64(st.st_dev), UInt64(st.st_ino))
        if fd >= 0, let known = identity, known != id {
            reopen(because: "\(TrainingEventLog.fileName) was replaced by a new file; reading the run again from its start")
        } else if fd >= 0, Int64(st.st_size) < offset {
            reopen(because: "\(TrainingEventLog.fileName) was cut short; reading the run again from its start")
        }
        if fd < 0 {
            fd = open(eventsPath, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else {
                say(.waiting("cannot read \(eventsPath): \(String(cString: strerror(errno))); check its permissions"))
                return
            }
            var opened = stat()
            identity = fstat(fd, &opened) == 0 ? (UInt64(opened.st_dev), UInt64(opened.st_ino)) : id
            offset = 0
            splitter.reset()
            lineNumber = 0
            if lost {
                lost = false
                emit(.followed(.restarted("\(TrainingEventLog.fileName) was removed and written again; reading the run again from its start")))
            }
            lastNews = nil
            say(.reading(eventsPath))
        }
        readAvailable()
    }

    private func reopen(because reason: String) {
        close(fd); fd = -1; identity = nil
        emit(.followed(.restarted(reason)))
    }

    private func readAvailable() {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var budget = options.readBytesPerPoll
        while budget > 0 {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, budget), off_t(offset)) }
            if n < 0 { if errno == EINTR { continue } else { return } }
            if n == 0 { return }
            offset += Int64(n)
            budget -= n
            for piece in splitter.feed(chunk[0 ..< n]) { handle(piece) }
        }
    }

    private func handle(_ piece: EventLineSplitter.Piece) {
        lineNumber += 1
        switch piece {
        case .overlong(let prefix):
            emit(.followed(.skipped("line \(lineNumber) of \(TrainingEventLog.fileName) is over "
                + "\(options.maximumLineBytes / 1024) KiB, skipped: " + SafeText.quoted(prefix, limit: 60))))
        case .line(let text):
            guard !text.allSatisfy(\.isWhitespace) else { return }
            let event: TrainingEvent
            do {
                event = try TrainingEvent.decodeLine(text)
            } catch {
                let reason = (error as? TrainingEventDecodingError).map { Self.shortReason($0.reason) } ?? "\(error)"
                emit(.followed(.skipped("line \(lineNumber) of \(TrainingEventLog.fileName) is not a training event "
                    + "(\(reason)), skipped: " + SafeText.quoted(text, limit: 60))))
                return
            }
            if let problem = FollowedEventCheck.problem(event) {
                emit(.followed(.skipped("line \(lineNumber) of \(TrainingEventLog.fileName) was skipped: \(problem)")))
                return
            }
            lastNews = nil
            emit(.event(event))
            switch event {
            case .finished(let summary): emit(.followed(.ended(checkpoint: modelOfEndedRun(summary.checkpoint))))
            case .failed: emit(.followed(.ended(checkpoint: modelOfEndedRun(nil))))
            default: break
            }
        }
    }

    /// The model a run that ended leaves: `best.safetensors` in its folder, else the `finished`
    /// event's checkpoint where it exists here (as written, or by its name in the folder: a run
    /// on another machine writes its own paths).
    private func modelOfEndedRun(_ reported: String?) -> String? {
        let best = directory + "/best.safetensors"
        if FileManager.default.fileExists(atPath: best) { return best }
        guard let reported, !reported.isEmpty, reported.utf8.count <= 4096 else { return nil }
        let candidates = [reported.hasPrefix("/") ? reported : directory + "/" + reported,
                          directory + "/" + (reported as NSString).lastPathComponent]
        return candidates.first { path in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && !isFolder.boolValue
        }
    }

    /// Hands a message to the app, unless following has stopped (a new run or folder replaced this one).
    private func emit(_ message: TrainingMsg) {
        guard !isStopped else { return }
        handler(message)
    }

    /// A news item once (the waiting message is not repeated at every look).
    private func say(_ news: FollowNews) {
        guard news != lastNews else { return }
        lastNews = news
        emit(.followed(news))
    }

    /// JSONDecoder's reasons are long and name Swift types: the part that says what is wrong.
    static func shortReason(_ reason: String) -> String {
        if let range = reason.range(of: "debugDescription: \"") {
            let rest = reason[range.upperBound...]
            return String(rest.prefix { $0 != "\"" }.prefix(120))
        }
        return String(reason.prefix(120))
    }
}

/// What the follower says besides the run's events (`TrainingMsg.followed`).
public enum FollowNews: Sendable, Equatable {
    /// The folder or its events.jsonl is not there yet (or cannot be read); the message says which.
    case waiting(String)
    /// The file was found and is being read (its path).
    case reading(String)
    /// The file was replaced or cut short: the run is read again from its start.
    case restarted(String)
    /// A line was not used; the message says which and why.
    case skipped(String)
    /// The run ended (`finished` or `failed`); the model it leaves in its folder, if any.
    case ended(checkpoint: String?)
}

/// Bounds that every real run's events keep, checked before a followed event reaches the pane
/// (a file is data: its numbers must not overflow a layout or its strings flood it).
public enum FollowedEventCheck {
    static let maximumCount = 1_000_000_000
    static let maximumSeconds = 1e9
    static let maximumLosses = 16
    static let maximumText = 4096

    /// Why the event is out of range, or nil.
    public static func problem(_ event: TrainingEvent) -> String? {
        func count(_ name: String, _ v: Int) -> String? {
            (0 ... maximumCount).contains(v) ? nil : "its \(name) (\(v)) is outside 0...\(maximumCount)"
        }
        func seconds(_ name: String, _ v: Double?) -> String? {
            guard let v, v.isFinite else { return nil }    // unknown is shown as such
            return abs(v) <= maximumSeconds ? nil : "its \(name) (\(v)) is out of range"
        }
        func text(_ name: String, _ s: String?) -> String? {
            guard let s else { return nil }
            return s.utf8.count <= maximumText ? nil : "its \(name) is over \(maximumText) bytes"
        }
        let problems: [String?]
        switch event {
        case .preparing(let p):
            problems = [count("done", p.done), count("total", p.total), count("cached", p.cached), count("computed", p.computed)]
        case .estimate(let e):
            problems = [count("pairs", e.pairs), count("batchSize", e.batchSize), count("stepsPerEpoch", e.stepsPerEpoch),
                        count("sampled", e.sampled), seconds("computeSeconds", e.computeSeconds),
                        seconds("firstEpochSeconds", e.firstEpochSeconds), seconds("laterEpochSeconds", e.laterEpochSeconds),
                        seconds("cachedFraction", e.cachedFraction)]
        case .skipped(let s):
            problems = [text("id", s.id), text("reason", s.reason)]
        case .started(let plan):
            problems = [count("totalSteps", plan.totalSteps), count("batchSize", plan.batchSize), count("startStep", plan.startStep),
                        count("flagPairs", plan.flagPairs), text("dataset", plan.dataset), text("outputDirectory", plan.outputDirectory)]
        case .step(let r):
            var list = [count("step", r.step), count("totalSteps", r.totalSteps), seconds("etaSeconds", r.etaSeconds),
                        seconds("samplesPerSecond", r.samplesPerSecond)]
            if r.losses.count > maximumLosses { list.append("it has \(r.losses.count) losses (at most \(maximumLosses))") }
            if let long = r.losses.keys.first(where: { $0.utf8.count > 32 }) {
                list.append("its loss name " + SafeText.quoted(long, limit: 20) + " is over 32 bytes")
            }
            problems = list
        case .evaluation(let e):
            problems = [count("step", e.step)]
        case .checkpoint(let c):
            problems = [count("step", c.step), text("path", c.path)]
        case .paused(let s), .resumed(let s):
            problems = [count("step", s)]
        case .finished(let s):
            problems = [count("steps", s.steps), seconds("wallSeconds", s.wallSeconds), text("checkpoint", s.checkpoint)]
        case .failed(let message):
            problems = [message.utf8.count <= 64 * 1024 ? nil : "its message is over 64 KiB"]
        }
        return problems.compactMap { $0 }.first
    }
}
