import Catalog
import Dispatch
import Foundation
import Imaging

/// How to start the explorer (the `vitrine explore` options).
public struct ExplorerOptions: Sendable {
    public var dataPath: String
    public var themeName: String
    public var keysFile: String?
    public var colorOverride: ColorMode?
    public var mouse: Bool
    public var strict: Bool

    public init(dataPath: String, themeName: String = "dark", keysFile: String? = nil, colorOverride: ColorMode? = nil, mouse: Bool = true, strict: Bool = false) {
        self.dataPath = dataPath; self.themeName = themeName; self.keysFile = keysFile
        self.colorOverride = colorOverride; self.mouse = mouse; self.strict = strict
    }
}

/// Runs the explorer: the loop that draws `view(state)`, turns input into
/// messages, feeds them to `update` and runs the effects it returns off the
/// UI thread. Everything that touches the terminal goes through the back end.
public final class ExplorerApp {
    private let options: ExplorerOptions
    private let inbox = Inbox()
    private let decoder: DecodeScheduler
    private let work = DispatchQueue(label: "vitrine.work", qos: .userInitiated, attributes: .concurrent)
    private let trace: Trace

    public init(options: ExplorerOptions) {
        self.options = options
        self.decoder = DecodeScheduler(inbox: inbox, workers: 2)
        self.trace = Trace()
    }

    /// Runs until the user quits or a signal arrives; returns the exit code.
    /// Theme and key-file errors are thrown before the terminal is touched.
    public func run() throws -> Int32 {
        let theme = try ThemeLibrary.load(options.themeName)
        let keyMap = try KeyMap.load(path: options.keysFile)
        let backend = try NcursesBackend(colorOverride: options.colorOverride, mouse: options.mouse)
        defer { backend.shutdown() }
        inbox.backend = backend
        return loop(backend: backend, theme: theme, keyMap: keyMap)
    }

    /// The loop itself, over any back end (the in-memory one in tests).
    public func loop(backend: TerminalBackend, theme: Theme, keyMap: KeyMap) -> Int32 {
        inbox.backend = backend
        let size = backend.size
        var state = ExplorerState(size: Size(width: size.width, height: size.height), capabilities: backend.capabilities,
                                  theme: theme, keyMap: keyMap, dataPath: options.dataPath)
        run(.loadDataset(path: options.dataPath))
        var firstFrame = true
        while true {
            backend.draw(view(state), theme: state.theme)
            if firstFrame { trace.mark("first-frame"); firstFrame = false }
            let events = backend.waitForEvents(timeoutMilliseconds: -1)
            let messages = events.map(Msg.input) + inbox.drain()
            for msg in messages {
                if case .datasetLoaded(.success) = msg { trace.mark("dataset-loaded") }
                for effect in update(&state, msg) {
                    if case .quit(let code) = effect { return code }
                    run(effect)
                }
            }
        }
    }

    private func run(_ effect: Effect) {
        switch effect {
        case .loadDataset(let path):
            let strict = options.strict
            work.async { [inbox] in
                let start = DispatchTime.now()
                do {
                    let dataset = try Dataset.load(from: path, options: LoadOptions(strict: strict))
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                    inbox.post(.datasetLoaded(.success(LoadedDataset(dataset: dataset, loadSeconds: seconds))))
                } catch {
                    inbox.post(.datasetLoaded(.failure(LoadFailure(String(describing: error)))))
                }
            }
        case .loadImage(let path, let maxSide):
            decoder.submit(path: path, maxSide: maxSide)
        case .loadTheme(let name):
            work.async { [inbox] in
                do { inbox.post(.themeLoaded(.success(try ThemeLibrary.load(name)))) }
                catch { inbox.post(.themeLoaded(.failure(LoadFailure(String(describing: error))))) }
            }
        case .quit:
            break
        }
    }
}

/// Messages from background work, handed to the UI thread.
final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [Msg] = []
    private weak var _backend: TerminalBackend?

    var backend: TerminalBackend? {
        get { lock.lock(); defer { lock.unlock() }; return _backend }
        set { lock.lock(); _backend = newValue; lock.unlock() }
    }

    func post(_ msg: Msg) {
        lock.lock()
        messages.append(msg)
        let b = _backend
        lock.unlock()
        b?.wake()
    }

    func drain() -> [Msg] {
        lock.lock(); defer { lock.unlock() }
        let m = messages
        messages.removeAll()
        return m
    }
}

/// Decodes thumbnails on a few worker threads, newest request first (the
/// image the user is looking at now matters more than one scrolled past).
final class DecodeScheduler: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [(path: String, maxSide: Int)] = []
    private var running = 0
    private let workers: Int
    private let inbox: Inbox
    private let queue = DispatchQueue(label: "vitrine.decode", qos: .userInitiated, attributes: .concurrent)

    init(inbox: Inbox, workers: Int) { self.inbox = inbox; self.workers = workers }

    func submit(path: String, maxSide: Int) {
        lock.lock()
        pending.append((path, maxSide))
        let start = running < workers
        if start { running += 1 }
        lock.unlock()
        if start { queue.async { self.drainLoop() } }
    }

    private func drainLoop() {
        while true {
            lock.lock()
            guard let job = pending.popLast() else { running -= 1; lock.unlock(); return }
            lock.unlock()
            let result: Result<RGBImage, ImagingError>
            do { result = .success(try ImageDecoder.thumbnail(path: job.path, maxSide: job.maxSide)) }
            catch { result = .failure(error) }
            inbox.post(.imageLoaded(path: job.path, result: result))
        }
    }
}

/// Timing marks for the benchmarks: with VITRINE_TRACE=FILE set, appends
/// `NAME MILLISECONDS` (since the process started) to FILE.
final class Trace: @unchecked Sendable {
    private let path: String?
    init() { path = ProcessInfo.processInfo.environment["VITRINE_TRACE"].flatMap { $0.isEmpty ? nil : $0 } }

    func mark(_ name: String) {
        guard let path else { return }
        let ms = ProcessClock.millisecondsSinceStart()
        let line = "\(name) \(String(format: "%.1f", ms))\n"
        if let h = FileHandle(forWritingAtPath: path) {
            h.seekToEndOfFile(); h.write(line.data(using: .utf8)!); try? h.close()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: line.data(using: .utf8))
        }
    }
}

/// Milliseconds since this process started, from the kernel's record of its
/// start (so it includes the dynamic loader and the runtime's own start).
public enum ProcessClock {
    public static func millisecondsSinceStart() -> Double {
        // /proc/self/stat field 22: start time in clock ticks after boot.
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return -1 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]) else { return -1 }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        let now = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        return (now - ticks / hz) * 1000
    }
}
