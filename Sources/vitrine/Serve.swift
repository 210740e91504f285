import ArgumentParser
import Capture
import Foundation
import SafeText
import Serve
import Support

/// `vitrine serve`: guests explore a dataset over SSH (docs/serve.md). A private OpenSSH server,
/// configured here, forces every session into `vitrine serve-session`, which takes a seat and runs
/// `vitrine explore --guest`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Let guests explore a dataset over SSH, read-only, with a stock ssh client.",
        discussion: """
        Runs a private OpenSSH server (Debian's openssh-server) as the account that runs this command: \
        every guest logs in as that account and every session is forced into a read-only guest explorer \
        (vitrine explore --guest); no shell, no commands, no forwarding. The configuration, the host key \
        (made once; its fingerprint is printed), the guests' index and the logs live in the state folder. \
        Guests connect with: ssh -p PORT ACCOUNT@HOST. Over --max-sessions, a guest is told the demo is \
        full and disconnected. As root, --user names the dedicated account to serve as (root itself never \
        serves). Ctrl-C or SIGTERM ends the server and every session.
        """)

    @OptionGroup var dataOptions: DataOptions

    @Option(name: .long, help: "TCP port to listen on.")
    var port: Int = 2222

    @Option(name: .customLong("listen"), help: ArgumentHelp("Address to listen on (repeatable). Default: every address.", valueName: "ADDR"))
    var listen: [String] = []

    @Option(name: .long, help: ArgumentHelp("Admit only these public keys (an authorized_keys file; read at start).", valueName: "FILE"))
    var authorizedKeys: String?

    @Flag(name: .long, help: "Admit anyone with any key (each guest is named by its key's fingerprint in the log).")
    var open = false

    @Option(name: .long, help: "Guests at once; one more is told the demo is full.")
    var maxSessions: Int = 4

    @Option(name: .long, help: ArgumentHelp("Guests search with this checkpoint (.safetensors); without it, the zero-shot towers.", valueName: "CKPT"))
    var model: String?
    @Option(name: .long, help: ArgumentHelp("Text tower of the zero-shot system (e5 or minilm).", valueName: "TOWER"))
    var textTower: TextTower?
    @Option(name: .long, help: ArgumentHelp("The pretrained towers' folder. Default: $VITRINE_WEIGHTS, else Weights/.", valueName: "DIR"))
    var weights: String?
    @Option(name: .long, help: ArgumentHelp("The guests' colour theme (a name from `vitrine themes`).", valueName: "NAME"))
    var theme: String?
    @Option(name: .long, help: ArgumentHelp("Guests start with slow-link images (less detail, far fewer bytes); each can toggle it with L.", valueName: "SPEED"))
    var link: LinkChoice = .normal

    @Option(name: .long, help: ArgumentHelp("Seconds without a key before a guest's session ends (a warning comes first).", valueName: "SECONDS"))
    var idleLimit: Int = 600
    @Option(name: .long, help: ArgumentHelp("Seconds after which a guest's session ends.", valueName: "SECONDS"))
    var sessionLimit: Int = 3600

    @Option(name: .long, help: ArgumentHelp("As root: the dedicated account to serve as (every guest is this account).", valueName: "NAME"))
    var user: String?
    @Option(name: .long, help: ArgumentHelp("The server's folder (host key, configuration, index, logs). Default: ~/.local/state/vitrine/serve of the serving account.", valueName: "DIR"))
    var state: String?

    @Flag(name: .long, help: "Also print sshd's own log lines.")
    var verbose = false

    func validate() throws {
        if open == (authorizedKeys != nil) {
            throw ValidationError("say who may connect: --authorized-keys FILE (the guests' public keys) or --open (anyone with any key)")
        }
        if model != nil && textTower != nil { throw ValidationError("--text-tower chooses the zero-shot system's tower; a --model checkpoint uses its own") }
        guard ServeSettings.portRange.contains(port) else { throw ValidationError("--port must be 1 to 65535; got \(port)") }
        guard ServeSettings.sessionRange.contains(maxSessions) else { throw ValidationError("--max-sessions must be 1 to 64; got \(maxSessions)") }
        guard (10 ... 86_400).contains(idleLimit) else { throw ValidationError("--idle-limit must be 10 to 86400 seconds; got \(idleLimit)") }
        guard (10 ... 604_800).contains(sessionLimit) else { throw ValidationError("--session-limit must be 10 to 604800 seconds; got \(sessionLimit)") }
    }

    func run() throws {
        // Signals are taken synchronously (sigtimedwait). Blocked here, before any thread starts, so
        // that every thread inherits the mask and none takes a signal with its default action.
        blockServeSignals()
        do { try serve() } catch let error as ServeError {
            Console.error("vitrine serve: \(SafeText.terminalLines(error.description))")
            throw ExitCode(1)
        }
    }

    private func serve() throws {
        let sshd = try ServeHost.sshdPath()
        // Who the guests are.
        let asRoot = geteuid() == 0
        let account: ServeAccount
        if asRoot {
            guard let user else {
                throw ServeError.invalid("not serving guests as root. Make a dedicated account once and serve as it:\n" +
                    "    useradd --system --create-home --home-dir /var/lib/vitrine-guest --shell /bin/sh vitrine-guest\n" +
                    "    vitrine serve --user vitrine-guest ...")
            }
            account = try ServeAccount.lookup(name: user)
            guard account.uid != 0 else { throw ServeError.invalid("--user \(user) is root; name a dedicated unprivileged account") }
        } else {
            account = try ServeAccount.lookup()
            if let user, user != account.name {
                throw ServeError.invalid("only root can serve as another account; you are \(account.name) (leave out --user \(user), or start as root)")
            }
        }
        if let problem = account.shellProblem { throw ServeError.invalid(problem) }
        if let problem = ServeHost.terminalGroupProblem(account: account) { throw ServeError.invalid(problem) }

        // Everything named on the command line, resolved while we can still read it.
        guard let executable = Installation.executablePath() else { throw ServeError.failed("cannot find this program's own path (/proc/self/exe)") }
        let dataPath = try dataOptions.resolved()
        let weightsPath = try weights.map(absolute) ?? WeightsFolder.locate().path
        var keysText: [UInt8] = []
        var admitted: AuthorizedKeys?
        if let authorizedKeys {
            let (keys, bytes) = try AuthorizedKeys.read(absolute(authorizedKeys))
            admitted = keys; keysText = bytes
        }
        let stateFolder = try state.map(absolute) ?? defaultStateFolder(account: account)
        var settings = ServeSettings(
            listenAddresses: listen, port: port,
            access: authorizedKeys.map { .authorizedKeys(source: absolute($0)) } ?? .open,
            maxSessions: maxSessions, idleLimit: idleLimit, sessionLimit: sessionLimit,
            dataPath: dataPath, modelPath: model.map(absolute), textTower: textTower?.rawValue,
            weightsPath: weightsPath, theme: theme, executable: executable, stateFolder: stateFolder, account: account.name,
            slowLink: link == .slow)
        try settings.validate()

        try ServeHost.prepareStateFolder(stateFolder, owner: asRoot ? (account.uid, account.gid) : nil, ownerHome: account.home)
        if asRoot { try account.become() }
        if let resolved = realpath(stateFolder, nil) { settings.stateFolder = String(cString: resolved); free(resolved) }
        try checkReadable(settings)

        // One server per state folder.
        let paths = settings.paths
        let lock = Glibc.open(paths.stateFolder + "/serve.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            throw ServeError.failed("another vitrine serve is using \(paths.stateFolder); stop it first, or give this one another --state DIR")
        }

        let fingerprint = try ServeHost.hostKey(paths: paths)
        if admitted != nil { try ServeHost.write(String(decoding: keysText, as: UTF8.self), to: paths.authorizedKeys) }
        try GuestSeats.prepare(folder: paths.seats)
        let json = try JSONEncoder().encode(settings)
        try ServeHost.write(String(decoding: json, as: UTF8.self), to: paths.settings)
        let echo = settings.access == .open ? try ServeHost.echoPath() : "/bin/echo"
        try ServeHost.write(SSHDConfiguration.text(settings: settings, echoPath: echo), to: paths.sshdConfig)
        let check = try Spawn.run(sshd, ["-t", "-f", paths.sshdConfig])
        guard check.code == 0 else {
            throw ServeError.failed("sshd refused the configuration \(paths.sshdConfig):\n\(SafeText.terminalLines(check.output))")
        }

        // The guests read this index and never write one.
        try prepareIndex(settings)

        try runServer(sshd: sshd, settings: settings, fingerprint: fingerprint, admitted: admitted, account: account)
    }

    /// `~/.local/state/vitrine/serve` of the serving account (`$XDG_STATE_HOME` for the user himself).
    private func defaultStateFolder(account: ServeAccount) throws -> String {
        if geteuid() != 0, let xdg = ProcessInfo.processInfo.environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            return xdg + "/vitrine/serve"
        }
        var isFolder: ObjCBool = false
        guard account.home.hasPrefix("/"), FileManager.default.fileExists(atPath: account.home, isDirectory: &isFolder), isFolder.boolValue else {
            throw ServeError.invalid("the account \(account.name) has no home folder (\(account.home)); give the server a folder with --state DIR")
        }
        return account.home + "/.local/state/vitrine/serve"
    }

    /// The serving account must reach the program, the dataset, the weights and the model.
    private func checkReadable(_ settings: ServeSettings) throws {
        let who = ServeAccount.currentName
        var items = [("this program", settings.executable, X_OK), ("the dataset", settings.dataPath, R_OK | X_OK)]
        if let weights = settings.weightsPath { items.append(("the weights folder", weights, R_OK | X_OK)) }
        if let model = settings.modelPath { items.append(("the model", model, R_OK)) }
        for (what, path, mode) in items where access(path, mode) != 0 {
            throw ServeError.invalid("\(what) (\(path)) is not readable by the account \(who), which the guests are: " +
                                     "put it where that account can read it (its folders need o+x, its files o+r)")
        }
    }

    /// Builds (or checks) the gallery index into the state folder's cache, as the serving account.
    private func prepareIndex(_ settings: ServeSettings) throws {
        setenv("VITRINE_CACHE", settings.paths.cache, 1)
        if let weights = settings.weightsPath { setenv(WeightsFolder.environmentVariable, weights, 1) }
        var arguments = ["index", "--data", settings.dataPath]
        if let model = settings.modelPath { arguments += ["--model", model] }
        if let tower = settings.textTower { arguments += ["--text-tower", tower] }
        if dataOptions.strict { arguments.append("--strict") }
        Console.out("preparing the guests' gallery index in \(SafeText.terminal(settings.paths.cache))")
        let code = Spawn.wait(try Spawn.start(settings.executable, arguments))
        guard code == 0 else { throw ServeError.failed("the gallery index could not be prepared (vitrine index exited with \(code)); see above") }
    }

    private func runServer(sshd: String, settings: ServeSettings, fingerprint: String, admitted: AuthorizedKeys?,
                           account: ServeAccount) throws {
        let paths = settings.paths
        var signals = serveSignals()

        let fds = try Spawn.pipe()
        let devNull = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        let pid = try Spawn.start(sshd, ["-D", "-e", "-f", paths.sshdConfig],
                                  streams: Spawn.Streams(input: devNull, output: devNull, error: fds[1]), newProcessGroup: true)
        close(fds[1])
        let sshdLog = SSHDLogReader(descriptor: fds[0], logPath: paths.sshdLog, echo: verbose)
        sshdLog.start()

        // sshd says it listens, or fails (a port in use) within a few seconds.
        let deadline = Date().addingTimeInterval(10)
        while !sshdLog.listening, Date() < deadline {
            if let code = Spawn.poll(pid) {
                sshdLog.finish()
                let why = sshdLog.lastLines.joined(separator: "\n")
                if why.contains("Address already in use") {
                    throw ServeError.failed("port \(settings.port) is taken: choose another with --port (sshd: \(why))")
                }
                throw ServeError.failed("sshd stopped at once (exit \(code)):\n\(why)")
            }
            usleep(20_000)
        }

        let host = settings.listenAddresses.first.map { $0.contains(":") ? "[\($0)]" : $0 } ?? "HOST"
        Console.out("""
            Vitrine serves \(SafeText.terminal(settings.dataPath)) to SSH guests on port \(settings.port) \
            (\(settings.listenAddresses.isEmpty ? "every address" : settings.listenAddresses.joined(separator: ", "))).
              host key: \(fingerprint) (ED25519)
              guests connect with: ssh -p \(settings.port) \(account.name)@\(host)
              who may: \(admitted.map { "the \($0.keys.count) key(s) of \(SafeText.terminal(settings.accessSource))" } ?? "anyone with any key (--open)")
              at most \(settings.maxSessions) guests at once; idle limit \(settings.idleLimit) s, session limit \(settings.sessionLimit) s
              state and logs: \(SafeText.terminal(paths.stateFolder))
            Ctrl-C stops the server and ends every session.
            """)
        if let ignored = admitted?.ignoredLines, !ignored.isEmpty {
            Console.out("  note: lines \(ignored.prefix(10).map(String.init).joined(separator: ", ")) of the keys file hold no public key (ignored)")
        }
        ServeLog.append(paths.log, "server started on port \(settings.port), host key \(fingerprint)")

        // Until a signal or sshd's end: print the sessions' log lines as they come.
        var offset = ServeLog.tail(paths.log, from: 0).offset
        var stoppedBy: Int32 = 0
        var sshdCode: Int32? = nil
        var timeout = timespec(tv_sec: 0, tv_nsec: 300_000_000)
        while true {
            let (lines, next) = ServeLog.tail(paths.log, from: offset)
            offset = next
            for line in lines { Console.out(SafeText.terminal(line)) }
            var info = siginfo_t()
            let s = sigtimedwait(&signals, &info, &timeout)
            if s == SIGINT || s == SIGTERM || s == SIGHUP { stoppedBy = s; break }
            if let code = Spawn.poll(pid) { sshdCode = code; break }
        }

        // The end: the listener first, then every session (each ends its explorer, which restores
        // the guest's terminal), then what is left after a grace period.
        if sshdCode == nil { kill(pid, SIGTERM) }
        let occupants = GuestSeats.occupants(folder: paths.seats, count: settings.maxSessions)
        for o in occupants { kill(o.pid, SIGTERM) }
        let grace = Date().addingTimeInterval(5)
        while !GuestSeats.occupants(folder: paths.seats, count: settings.maxSessions).isEmpty, Date() < grace { usleep(50_000) }
        for o in GuestSeats.occupants(folder: paths.seats, count: settings.maxSessions) { kill(o.pid, SIGKILL) }
        if sshdCode == nil { sshdCode = Spawn.wait(pid) }
        sshdLog.finish()
        let ended = occupants.isEmpty ? "" : " and ended \(occupants.count) session(s)"
        ServeLog.append(paths.log, "server stopped\(ended)")
        let (lines, _) = ServeLog.tail(paths.log, from: offset)
        for line in lines { Console.out(SafeText.terminal(line)) }
        if stoppedBy == 0 {
            throw ServeError.failed("sshd ended by itself (exit \(sshdCode ?? -1)); its log: \(paths.sshdLog)\n" +
                                    sshdLog.lastLines.joined(separator: "\n"))
        }
    }
}

/// The signals a serve and its sessions take synchronously: the server's stop (INT, TERM, HUP), a
/// hang-up, and a child's end. QUIT too, which a session passes over (the explorer has the terminal).
private func serveSignals() -> sigset_t {
    var signals = sigset_t()
    sigemptyset(&signals)
    for s in [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT] { sigaddset(&signals, s) }
    return signals
}

/// Blocks `serveSignals()` in the calling thread (and every thread it starts afterwards).
private func blockServeSignals() {
    var signals = serveSignals()
    pthread_sigmask(SIG_BLOCK, &signals, nil)
}

extension ServeSettings {
    /// Where the admitted keys came from (for the banner).
    var accessSource: String {
        if case .authorizedKeys(let source) = access { return source }
        return "--open"
    }
}

extension ServeAccount {
    static var currentName: String { (try? ServeAccount.lookup().name) ?? "uid \(geteuid())" }
}

/// sshd's stderr (`-e`): every line into `sshd.log` with the time, on stdout with --verbose; the
/// last lines kept to explain a failure.
final class SSHDLogReader: @unchecked Sendable {
    private let descriptor: Int32
    private let logPath: String
    private let echo: Bool
    private let lock = NSLock()
    private var _listening = false
    private var _last: [String] = []
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)

    init(descriptor: Int32, logPath: String, echo: Bool) {
        self.descriptor = descriptor; self.logPath = logPath; self.echo = echo
    }

    var listening: Bool { lock.withLock { _listening } }
    var lastLines: [String] { lock.withLock { _last } }

    func start() {
        let thread = Thread { [self] in
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending += buffer[..<n]
                while let end = pending.firstIndex(of: 0x0A) {
                    take(String(decoding: pending[..<end], as: UTF8.self))
                    pending.removeSubrange(...end)
                }
                if pending.count > 8192 { take(String(decoding: pending, as: UTF8.self)); pending.removeAll() }
            }
            if !pending.isEmpty { take(String(decoding: pending, as: UTF8.self)) }
            close(descriptor)
            done.signal()
        }
        self.thread = thread
        thread.start()
    }

    private func take(_ line: String) {
        let clean = SafeText.inert(line.trimmingCharacters(in: .whitespacesAndNewlines))
        ServeLog.append(logPath, clean)
        lock.withLock {
            if clean.hasPrefix("Server listening on") { _listening = true }
            _last.append(clean)
            if _last.count > 8 { _last.removeFirst() }
        }
        if echo { Console.out("sshd: " + clean) }
    }

    /// Waits for sshd's stderr to close (sshd and its children have ended or closed it).
    func finish() { _ = done.wait(timeout: .now() + 2) }
}

/// `vitrine serve-session`: what sshd runs for every guest (ForceCommand). Takes a seat or says the
/// demo is full, then runs the guest explorer on the guest's terminal and logs the guest in and out.
struct ServeSessionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve-session", abstract: "One guest's session under vitrine serve (run by sshd).", shouldDisplay: false)

    @Option(name: .long, help: ArgumentHelp("The server's state folder.", valueName: "DIR"))
    var state: String

    func run() throws {
        blockServeSignals()
        let paths = ServePaths(stateFolder: state)
        let settings: ServeSettings
        do {
            let bytes = try RegularFile.read(paths.settings, kind: "serve settings", limit: 1 << 20) ?? []
            settings = try JSONDecoder().decode(ServeSettings.self, from: Data(bytes))
            // The numbers size the seats loop and the limits: held to the bounds `serve` checked.
            try settings.validate()
        } catch {
            Console.error("vitrine: this demo server is misconfigured (\(SafeText.terminal(String(describing: error)))); tell its host")
            throw ExitCode(1)
        }
        let environment = ProcessInfo.processInfo.environment
        let guest = Self.guestName(environment: environment)
        let from = Self.clientAddress(environment: environment)

        guard isatty(0) == 1, isatty(1) == 1 else {
            ServeLog.append(paths.log, "guest \(guest) from \(from): refused, no terminal (a command instead of a session)")
            Console.error("vitrine: this is a demo of an interactive explorer; connect without a command: ssh -p \(settings.port) \(settings.account)@HOST")
            throw ExitCode(1)
        }
        guard let seat = try GuestSeats.take(folder: paths.seats, count: settings.maxSessions, guest: guest) else {
            ServeLog.append(paths.log, "guest \(guest) from \(from): refused, the demo is full (\(settings.maxSessions) guests)")
            // Our own text, written as it is: the PTY is in its cooked mode, \r\n ends the line.
            let line = Array("vitrine: the demo is full (\(settings.maxSessions) guests), try again in a minute.\r\n".utf8)
            _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            throw ExitCode(1)
        }
        ServeLog.append(paths.log, "guest \(guest) from \(from): in (seat \(seat.index + 1) of \(settings.maxSessions))")
        let started = Date()

        // The guest explorer: the host's dataset, model and index; searches take turns.
        setenv("VITRINE_CACHE", paths.cache, 1)
        setenv("VITRINE_GUEST_LOCK", paths.searchLock, 1)
        if let weights = settings.weightsPath { setenv(WeightsFolder.environmentVariable, weights, 1) }
        for variable in ["VITRINE_FLAGS", "VITRINE_ANNOTATOR", "VITRINE_DATA", "VITRINE_THEMES", "VITRINE_KEYS"] { unsetenv(variable) }
        var arguments = ["explore", "--guest", "--data", settings.dataPath,
                         "--idle-limit", String(settings.idleLimit), "--session-limit", String(settings.sessionLimit)]
        if let model = settings.modelPath { arguments += ["--model", model] }
        if let tower = settings.textTower { arguments += ["--text-tower", tower] }
        if let theme = settings.theme { arguments += ["--theme", theme] }
        if settings.slowLink == true { arguments += ["--link", "slow"] }

        // The explorer shares this process group (the terminal's foreground); the server's SIGTERM
        // and a hang-up are passed on to it, and this process stays to log the end and free the seat.
        var signals = serveSignals()
        let child: pid_t
        do { child = try Spawn.start(settings.executable, arguments) } catch {
            GuestSeats.leave(seat)
            ServeLog.append(paths.log, "guest \(guest) from \(from): the explorer did not start (\(error))")
            Console.error("vitrine: the demo could not start; tell its host")
            throw ExitCode(1)
        }
        var code: Int32 = 0
        var timeout = timespec(tv_sec: 0, tv_nsec: 200_000_000)
        while true {
            var info = siginfo_t()
            let s = sigtimedwait(&signals, &info, &timeout)
            if s == SIGTERM || s == SIGHUP { kill(child, s) }
            if let ended = Spawn.poll(child) { code = ended; break }
        }
        let seconds = Int(Date().timeIntervalSince(started))
        let how = switch code {
        case 0: "left"
        case 128 + SIGHUP: "hung up"
        case 128 + SIGTERM: "ended by the server"
        default: "exit \(code)"
        }
        ServeLog.append(paths.log, "guest \(guest) from \(from): out after \(seconds / 60)m\(String(format: "%02d", seconds % 60))s (\(how))")
        // The seat last: the server waits for free seats before it logs its own end.
        GuestSeats.leave(seat)
        throw ExitCode(code)
    }

    /// The guest's key fingerprint, from the file sshd names in `$SSH_USER_AUTH` (ExposeAuthInfo).
    static func guestName(environment: [String: String]) -> String {
        guard let path = environment["SSH_USER_AUTH"], path.hasPrefix("/"),
              let bytes = try? RegularFile.read(path, kind: "authentication record", limit: 64 << 10) else { return "(unknown key)" }
        for line in String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) where line.hasPrefix("publickey ") {
            if let key = PublicKey.parse(line: line.dropFirst("publickey ".count)) { return key.fingerprint }
        }
        return "(unknown key)"
    }

    /// The client's address from `$SSH_CONNECTION` ("client port server port"), or "?".
    static func clientAddress(environment: [String: String]) -> String {
        guard let first = environment["SSH_CONNECTION"]?.split(separator: " ").first,
              first.count <= 64, first.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }) else { return "?" }
        return String(first)
    }
}
