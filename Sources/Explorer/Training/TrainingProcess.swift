import Support
import Annotations
import Dispatch
import Foundation
import Training
#if canImport(Glibc)
import Glibc
#endif

/// Why a training run could not be started.
public struct TrainingProcessError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs `vitrine train --json ...` as a child process and turns what it
/// prints into `TrainingMsg`s for the explorer (not pure; thread-safe).
///
/// The child starts with a clean signal mask and default signal handlers, in
/// its own process group, with stdin from /dev/null, stdout to a pipe that a
/// background thread reads line by line (each line a `TrainingEvent` as
/// JSON), and stderr appended to `train.log` in the run's folder. It runs at
/// a lowered priority (nice, 10 by default) so that the explorer's UI thread
/// is never starved of the cores: that is the throttle. Pause and resume are
/// SIGSTOP and SIGCONT; cancel is SIGTERM (the run finishes its step and
/// writes a checkpoint), then SIGKILL after a grace period. The child is
/// always reaped; a crash (a non-zero exit, a signal, a line that is not an
/// event) is reported as a `failed` event with the log's last lines, then
/// `exited`.
public final class TrainingProcess: @unchecked Sendable {
    /// How to run it.
    public struct Options: Sendable {
        /// The program to run (the explorer's own binary by default).
        public var executable: String
        /// How much lower than the explorer's the child's priority is (added to the nice value, 0...19).
        public var niceness: Int32
        /// Seconds between SIGTERM and SIGKILL on cancel.
        public var cancelGraceSeconds: Double
        /// Lines of the log kept for a failure report.
        public var logTailLines: Int

        public init(executable: String = TrainingProcess.currentExecutable, niceness: Int32 = 10,
                    cancelGraceSeconds: Double = 30, logTailLines: Int = 12) {
            self.executable = executable; self.niceness = niceness
            self.cancelGraceSeconds = cancelGraceSeconds; self.logTailLines = logTailLines
        }
    }

    /// Receives what happens, on a background thread (the app posts it as a message).
    public typealias Handler = @Sendable (TrainingMsg) -> Void

    /// The running program: /proc/self/exe resolved (the explorer and `vitrine train` are one binary).
    public static var currentExecutable: String {
        Installation.executablePath() ?? "/proc/self/exe"
    }

    /// The started process: its id, folder, log and nice value.
    public let launch: TrainingLaunch
    private let options: Options
    private let handler: Handler
    private let readFD: Int32
    private let state = NSCondition()
    private var exited = false
    private var paused = false
    private var cancelRequested = false
    private var streamBroken = false
    private var sawEnd = false
    private var lastStep = 0

    private init(launch: TrainingLaunch, readFD: Int32, options: Options, handler: @escaping Handler) {
        self.launch = launch; self.readFD = readFD; self.options = options; self.handler = handler
    }

    public var processID: Int32 { launch.processID }

    /// Whether the child has not been reaped yet.
    public var isRunning: Bool { state.lock(); defer { state.unlock() }; return !exited }

    // MARK: Starting

    /// Starts the run a request describes: makes its own folder under
    /// `request.runsDirectory` (`<mode>-<yyyyMMdd-HHmmss>`), exports the
    /// flags there as JSON lines when the run uses them, and starts
    /// `vitrine train --json`. Sends `.launched` before any event.
    public static func start(_ request: TrainingRunRequest, options: Options = Options(),
                             handler: @escaping Handler) throws -> TrainingProcess {
        let folder = try makeRunFolder(under: request.runsDirectory, mode: request.mode)
        var flagsFile: String? = nil
        if request.usesFlags { flagsFile = try exportFlags(request, into: folder) }
        return try start(arguments: request.arguments(outputDirectory: folder, flagsFile: flagsFile),
                         outputDirectory: folder, options: options, handler: handler)
    }

    /// Starts `options.executable` with `arguments` (a program that speaks
    /// `vitrine train --json`'s protocol), its log in `outputDirectory`.
    public static func start(arguments: [String], outputDirectory: String, options: Options = Options(),
                             handler: @escaping Handler) throws -> TrainingProcess {
        do {
            try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw TrainingProcessError("cannot create the run folder \(outputDirectory): \(error.localizedDescription); check the runs folder's permissions and free space")
        }
        let logPath = outputDirectory + "/train.log"
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard logFD >= 0 else {
            throw TrainingProcessError("cannot open the training log \(logPath): \(String(cString: strerror(errno)))")
        }
        defer { close(logFD) }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else {
            throw TrainingProcessError("cannot make a pipe for the training process: \(String(cString: strerror(errno)))")
        }
        let (readFD, writeFD) = (fds[0], fds[1])
        // Close-on-exec: only the child's stdout (a dup2 of the write end) crosses exec.
        _ = fcntl(readFD, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeFD, F_SETFD, FD_CLOEXEC)

        // Spawn from a thread of its own whose nice value is raised first: the child inherits it
        // from the first instruction, threads included (on Linux nice is per thread, so nothing
        // else of the explorer is slowed down, and that thread ends right after).
        let result = SpawnResult()
        let executable = options.executable, niceness = options.niceness
        let spawner = Thread {
            result.set(spawnLowered(executable: executable, arguments: arguments, stdout: writeFD, stderr: logFD, niceness: niceness))
        }
        spawner.start()
        let spawned = result.wait()
        close(writeFD)
        let pid: pid_t, nice: Int32
        switch spawned {
        case .failure(let error):
            close(readFD)
            throw error
        case .success(let value):
            (pid, nice) = value
        }
        let process = TrainingProcess(launch: TrainingLaunch(processID: pid, outputDirectory: outputDirectory, logPath: logPath, niceness: nice),
                                      readFD: readFD, options: options, handler: handler)
        handler(.launched(process.launch))
        let reader = Thread { process.readLoop() }
        reader.name = "vitrine.training-reader"
        reader.start()
        return process
    }

    /// A new folder for a run, named after its mode and the time.
    static func makeRunFolder(under parent: String, mode: TrainingMode) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let base = parent + "/" + mode.rawValue + "-" + formatter.string(from: Date())
        var folder = base
        var n = 2
        while FileManager.default.fileExists(atPath: folder) { folder = base + "-\(n)"; n += 1 }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw TrainingProcessError("cannot create the run folder \(folder): \(error.localizedDescription); check that \(parent) is writable")
        }
        return folder
    }

    /// Writes the store's flags (of the request's dataset) to `<folder>/flags.jsonl`; nil when there is no store yet.
    static func exportFlags(_ request: TrainingRunRequest, into folder: String) throws -> String? {
        let storePath = request.flagsStore ?? FlagStore.defaultPath()
        guard FileManager.default.fileExists(atPath: storePath) else { return nil }
        let file = folder + "/flags.jsonl"
        do {
            let store = try FlagStore(path: storePath)
            try AtomicFile.write([UInt8](store.export(format: .jsonl, dataset: request.flagsDataset)), to: file)
        } catch {
            throw TrainingProcessError("cannot export the flags of \(storePath) for training: \(error); turn \"use the annotators' flags\" off to train without them")
        }
        return file
    }

    // MARK: Control

    /// Stops the child (SIGSTOP to its process group) and reports `paused`.
    public func pause() {
        state.lock()
        guard !exited, !paused, !cancelRequested, !streamBroken else { state.unlock(); return }
        let ok = kill(-launch.processID, SIGSTOP) == 0
        if ok { paused = true }
        let step = lastStep
        state.unlock()
        if ok { handler(.event(.paused(step: step))) }
    }

    /// Lets a paused child go on (SIGCONT) and reports `resumed`.
    public func resume() {
        state.lock()
        guard !exited, paused else { state.unlock(); return }
        let ok = kill(-launch.processID, SIGCONT) == 0
        if ok { paused = false }
        let step = lastStep
        state.unlock()
        if ok { handler(.event(.resumed(step: step))) }
    }

    /// Asks the child to stop: SIGTERM (it finishes the step, writes a
    /// checkpoint and reports `finished` "cancelled"), SIGCONT in case it was
    /// paused, then SIGKILL if it is still there after the grace period.
    /// Also the way to end a run when the explorer quits.
    public func cancel() {
        state.lock()
        cancelRequested = true
        state.unlock()
        terminate()
    }

    private func terminate() {
        state.lock()
        guard !exited else { state.unlock(); return }
        let group = -launch.processID
        kill(group, SIGTERM)
        kill(group, SIGCONT)
        paused = false
        state.unlock()
        let grace = options.cancelGraceSeconds
        DispatchQueue.global().asyncAfter(deadline: .now() + grace) { [weak self] in self?.killIfRunning() }
    }

    private func killIfRunning() {
        state.lock()
        if !exited { kill(-launch.processID, SIGKILL) }
        state.unlock()
    }

    /// Waits until the child has ended and been reaped, at most `seconds`; returns whether it has.
    @discardableResult
    public func waitUntilExit(timeout seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        state.lock()
        defer { state.unlock() }
        while !exited {
            if !state.wait(until: deadline) { return exited }
        }
        return true
    }

    // MARK: Reading and reaping

    private func readLoop() {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var pending: [UInt8] = []
        let maximumLine = 1 << 20
        while true {
            let n = chunk.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue } else { break } }
            if n == 0 { break }
            pending.append(contentsOf: chunk[0..<n])
            var start = 0
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                handle(line: String(decoding: pending[start..<newline], as: UTF8.self))
                start = newline + 1
            }
            pending.removeFirst(start)
            if pending.count > maximumLine {
                handle(line: String(decoding: pending.prefix(200), as: UTF8.self) + "… (a line of over 1 MiB)")
                pending.removeAll()
            }
        }
        if !pending.isEmpty { handle(line: String(decoding: pending, as: UTF8.self)) }
        close(readFD)
        reap()
    }

    private func handle(line: String) {
        guard !line.allSatisfy(\.isWhitespace) else { return }
        state.lock()
        let broken = streamBroken
        state.unlock()
        guard !broken else { return }
        let event: TrainingEvent
        do {
            event = try TrainingEvent.decodeLine(line)
        } catch {
            state.lock()
            streamBroken = true
            state.unlock()
            handler(.event(.failed(message: "vitrine train wrote a line that is not a training event, so the run was stopped: \(error). Its log is \(launch.logPath).")))
            terminate()
            return
        }
        state.lock()
        switch event {
        case .started(let plan): lastStep = plan.startStep
        case .step(let r): lastStep = r.step
        case .paused(let s), .resumed(let s): lastStep = max(lastStep, s)
        case .finished, .failed: sawEnd = true
        case .preparing, .estimate, .skipped, .evaluation, .checkpoint: break
        }
        state.unlock()
        handler(.event(event))
    }

    private func reap() {
        let pid = launch.processID
        // Wait without reaping first, so that no signal can reach a recycled pid: the pid is
        // released (by waitpid) and marked exited under the lock the signal senders take.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        state.lock()
        var status: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(pid, &status, 0) } while r < 0 && errno == EINTR
        exited = true
        let cancelled = cancelRequested, broken = streamBroken, ended = sawEnd
        state.broadcast()
        state.unlock()

        let reason: TrainingExit.Reason
        if r < 0 {
            reason = .exited(status: -1)          // already reaped elsewhere (SIGCHLD ignored): status unknown
        } else if status & 0x7F == 0 {
            reason = .exited(status: (status >> 8) & 0xFF)
        } else {
            reason = .signalled(signal: status & 0x7F)
        }
        let exit = TrainingExit(reason: reason, cancelRequested: cancelled,
                                logTail: Self.tail(of: launch.logPath, lines: options.logTailLines), logPath: launch.logPath)
        if !ended && !cancelled && !broken {
            handler(.event(.failed(message: exit.failureMessage)))
        }
        handler(.exited(exit))
    }

    /// The last `lines` lines of a file (its last 16 KiB at most).
    static func tail(of path: String, lines: Int) -> [String] {
        guard lines > 0, let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        let from = size > 16384 ? size - 16384 : 0
        try? handle.seek(toOffset: from)
        guard let data = try? handle.readToEnd() else { return [] }
        var all = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if from > 0, !all.isEmpty { all.removeFirst() }       // a partial first line
        while all.last?.isEmpty == true { all.removeLast() }
        // Progress bars redraw with carriage returns: keep what a terminal would show.
        return all.suffix(lines).map { $0.split(separator: "\r").last.map(String.init) ?? "" }
    }
}

/// The result of the spawning thread, handed to the thread that waits for it.
private final class SpawnResult: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Result<(pid_t, Int32), TrainingProcessError>?

    func set(_ v: Result<(pid_t, Int32), TrainingProcessError>) {
        condition.lock(); value = v; condition.broadcast(); condition.unlock()
    }

    func wait() -> Result<(pid_t, Int32), TrainingProcessError> {
        condition.lock(); defer { condition.unlock() }
        while value == nil { condition.wait() }
        return value!
    }
}

/// posix_spawn with stdin from /dev/null, the given stdout and stderr, no other
/// descriptors, an empty signal mask, default handlers and a process group of
/// its own, after raising the calling thread's nice value by `niceness`.
/// Returns the pid and the child's nice value.
private func spawnLowered(executable: String, arguments: [String], stdout: Int32, stderr: Int32,
                          niceness: Int32) -> Result<(pid_t, Int32), TrainingProcessError> {
    let prioProcess = __priority_which_t(PRIO_PROCESS.rawValue)
    errno = 0
    let current = getpriority(prioProcess, 0)
    let base = errno == 0 ? current : 0
    let target = min(19, base + max(0, niceness))
    if target != base { _ = setpriority(prioProcess, 0, target) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, stdout, 1)
    posix_spawn_file_actions_adddup2(&actions, stderr, 2)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

    var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) }
    argv.append(nil)
    defer { for p in argv { free(p) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    guard rc == 0 else {
        return .failure(TrainingProcessError("cannot start \(executable): \(String(cString: strerror(rc))); check that the file exists and is executable"))
    }
    // Already inherited; this is for a child that somehow was not (and reports the value).
    _ = setpriority(prioProcess, id_t(pid), target)
    errno = 0
    let nice = getpriority(prioProcess, id_t(pid))
    return .success((pid, errno == 0 ? nice : target))
}
