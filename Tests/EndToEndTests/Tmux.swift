import Foundation

/// A private tmux server with one window running a clean shell: the end-to-end
/// tests type into it (`send-keys`) and read the screen (`capture-pane`).
/// Every server gets its own socket, so tests can run side by side and never
/// touch a user's tmux.
final class Tmux {
    let socket: String
    let workDir: String
    private(set) var width: Int
    private(set) var height: Int

    enum Failure: Error, CustomStringConvertible {
        case command(String, Int32, String)
        case timeout(String, screen: String)
        var description: String {
            switch self {
            case .command(let c, let code, let err): return "tmux \(c) failed (\(code)): \(err)"
            case .timeout(let what, let screen): return "timed out waiting for \(what); the screen was:\n\(screen)"
            }
        }
    }

    /// Starts a server with a window of `width` x `height` running `bash --norc`,
    /// with TERM and the environment given (plus a UTF-8 locale).
    init(width: Int = 100, height: Int = 30, term: String = "tmux-256color", environment: [String: String] = [:]) throws {
        socket = "vitrine-e2e-\(getpid())-\(UUID().uuidString.prefix(8))"
        workDir = NSTemporaryDirectory() + socket
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        self.width = width
        self.height = height
        var env = ["LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "PS1": "$ ", "HOME": workDir, "XDG_CONFIG_HOME": workDir + "/config"]
        for (k, v) in environment { env[k] = v }
        let exports = env.sorted { $0.key < $1.key }.map { "\($0.key)=\(Tmux.quote($0.value))" }.joined(separator: " ")
        try run(["-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", "\(width)", "-y", "\(height)",
                 "env -i PATH=\(Tmux.quote(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")) TERM=\(term) \(exports) bash --norc --noprofile"])
        try run(["set-option", "-g", "default-terminal", term])
        try run(["set-option", "-g", "escape-time", "10"])
        try run(["set-window-option", "-g", "window-size", "manual"])
        try waitFor("the shell prompt", timeout: 10) { $0.contains("$") }
    }

    deinit {
        _ = try? run(["kill-server"])
        try? FileManager.default.removeItem(atPath: workDir)
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    @discardableResult
    func run(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["tmux", "-L", socket] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure.command(args.joined(separator: " "), p.terminationStatus, String(decoding: errData, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Types literal text (no key-name interpretation).
    func type(_ text: String) throws { try run(["send-keys", "-t", "main", "-l", text]) }

    /// Sends tmux key names: "Enter", "Escape", "Down", "C-c", "j" ...
    func keys(_ names: String...) throws { try run(["send-keys", "-t", "main"] + names) }

    /// The visible screen, one string per row (without colours).
    func screen() throws -> [String] {
        try run(["capture-pane", "-p", "-t", "main"]).components(separatedBy: "\n")
    }

    /// The visible screen with SGR colour escapes, as tmux reports them.
    func screenWithColours() throws -> String { try run(["capture-pane", "-p", "-e", "-t", "main"]) }

    /// A pane format variable (`alternate_on`, `cursor_flag`, `mouse_any_flag`, `pane_pid`...).
    func pane(_ variable: String) throws -> String {
        try run(["display-message", "-p", "-t", "main", "#{\(variable)}"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func resize(width: Int, height: Int) throws {
        try run(["resize-window", "-t", "main", "-x", "\(width)", "-y", "\(height)"])
        self.width = width
        self.height = height
    }

    /// Polls the screen until `condition` holds (bounded time); returns the screen.
    @discardableResult
    func waitFor(_ what: String, timeout: Double = 10, _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen().joined(separator: "\n")
            if condition(last) { return last }
            usleep(40_000)
        }
        throw Failure.timeout(what, screen: last)
    }

    /// Waits until the screen shows `text`.
    @discardableResult
    func waitFor(text: String, timeout: Double = 10) throws -> String {
        try waitFor("\"\(text)\"", timeout: timeout) { $0.contains(text) }
    }
}
