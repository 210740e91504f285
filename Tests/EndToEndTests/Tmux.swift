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
        // Output goes to files, not pipes: the tmux server that `new-session`
        // starts inherits the descriptors and would keep a pipe open forever.
        let outPath = workDir + "/out.\(UUID().uuidString)", errPath = outPath + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outPath); try? FileManager.default.removeItem(atPath: errPath) }
        let status = try Tmux.spawnAndWait(["tmux", "-L", socket] + args, stdout: outPath, stderr: errPath)
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw Failure.command(args.joined(separator: " "), status, err)
        }
        return out
    }

    /// Runs a program (found on PATH) with stdin from /dev/null and output to
    /// files, and waits for it with waitpid: plain POSIX, because Foundation's
    /// Process did not always notice its children exit inside the test runner.
    static func spawnAndWait(_ argv: [String], stdin: String = "/dev/null", stdout: String, stderr: String) throws -> Int32 {
        wait(try spawn(argv, stdin: stdin, stdout: stdout, stderr: stderr))
    }

    /// Starts a program (found on PATH) without waiting: stdin from a file (/dev/null unless told), output to files,
    /// this process's environment plus `extra`, and a clean signal state (the test runner's
    /// threads block signals, and a blocked mask would be inherited by tmux and everything it
    /// starts). With `newProcessGroup` it leads its own group, so the group can be killed at once.
    static func spawn(_ argv: [String], environment extra: [String: String] = [:], stdin: String = "/dev/null",
                      stdout: String, stderr: String,
                      newProcessGroup: Bool = false) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t(), all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attr, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attr, Int16(flags))
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc: Int32
        if extra.isEmpty {
            rc = posix_spawnp(&pid, argv[0], &actions, &attr, cArgs, environ)
        } else {
            var env = ProcessInfo.processInfo.environment
            for (k, v) in extra { env[k] = v }
            let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer { for e in envp { free(e) } }
            rc = posix_spawnp(&pid, argv[0], &actions, &attr, cArgs, envp)
        }
        guard rc == 0 else { throw Failure.command(argv.joined(separator: " "), rc, String(cString: strerror(rc))) }
        return pid
    }

    /// Waits for a started process: its exit status, or 128 + the signal that ended it.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS by hand (they are macros).
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
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
