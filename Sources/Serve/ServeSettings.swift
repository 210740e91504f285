import Foundation

// `vitrine serve` (docs/serve.md): a private OpenSSH server whose every session is forced into
// `vitrine serve-session`, which takes one of the demo's seats and runs `vitrine explore --guest`.
// The real sshd does the protocol, the PTY, window changes, keep-alives and crypto; Vitrine writes
// its configuration, makes its host key once, admits keys and counts the guests.

/// Who may connect.
public enum GuestAccess: Codable, Sendable, Equatable {
    /// Only the public keys in this file (a copy in the state folder, made at start).
    case authorizedKeys(source: String)
    /// Anyone with any key; each guest is named by its key's fingerprint in the log.
    case open
}

/// Everything a serve needs, written to the state folder (`serve.json`) for the sessions to read.
public struct ServeSettings: Codable, Sendable, Equatable {
    /// Addresses sshd listens on (empty: every address, IPv4 and IPv6).
    public var listenAddresses: [String]
    public var port: Int
    public var access: GuestAccess
    /// The global cap on guests at once; a guest over it gets one line and is disconnected.
    public var maxSessions: Int
    /// Seconds without a key before a guest's session ends, and its absolute limit.
    public var idleLimit: Int
    public var sessionLimit: Int
    /// Absolute paths: the dataset, the model (nil: the zero-shot towers), the weights folder.
    public var dataPath: String
    public var modelPath: String?
    /// The zero-shot system's text tower (`e5`, `minilm`; nil: the default).
    public var textTower: String?
    public var weightsPath: String?
    public var theme: String?
    /// The Vitrine executable sessions run, absolute.
    public var executable: String
    /// The folder of this server's files (host key, configuration, seats, index cache, logs).
    public var stateFolder: String
    /// The Unix account every guest is (sshd runs as it).
    public var account: String
    /// Guests start with slow-link images (`--link slow`).
    public var slowLink: Bool?

    public init(listenAddresses: [String], port: Int, access: GuestAccess, maxSessions: Int, idleLimit: Int,
                sessionLimit: Int, dataPath: String, modelPath: String?, textTower: String?, weightsPath: String?,
                theme: String?, executable: String, stateFolder: String, account: String, slowLink: Bool? = nil) {
        self.listenAddresses = listenAddresses; self.port = port; self.access = access; self.maxSessions = maxSessions
        self.idleLimit = idleLimit; self.sessionLimit = sessionLimit; self.dataPath = dataPath; self.modelPath = modelPath
        self.textTower = textTower; self.weightsPath = weightsPath; self.theme = theme; self.executable = executable
        self.stateFolder = stateFolder; self.account = account; self.slowLink = slowLink
    }

    /// The bounds `validate()` holds the numbers to.
    public static let sessionRange = 1 ... 64
    public static let portRange = 1 ... 65_535

    /// The state folder's files.
    public var paths: ServePaths { ServePaths(stateFolder: stateFolder) }

    /// Checks the settings before anything is written; the message says what to change.
    public func validate() throws(ServeError) {
        guard Self.portRange.contains(port) else { throw .invalid("--port must be 1 to 65535; got \(port)") }
        guard Self.sessionRange.contains(maxSessions) else {
            throw .invalid("--max-sessions must be \(Self.sessionRange.lowerBound) to \(Self.sessionRange.upperBound); got \(maxSessions)")
        }
        for address in listenAddresses {
            guard !address.isEmpty, address.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") }) else {
                throw .invalid("--listen \(address.debugDescription) is not an address")
            }
        }
        var paths = [("the dataset", dataPath), ("the executable", executable), ("the state folder", stateFolder)]
        if let modelPath { paths.append(("the model", modelPath)) }
        if let weightsPath { paths.append(("the weights folder", weightsPath)) }
        if case .authorizedKeys(let source) = access { paths.append(("the authorized keys file", source)) }
        for (what, path) in paths {
            // sshd's configuration is line-based and double-quoted: a path with a control
            // character or a double quote cannot be written into it faithfully.
            guard path.hasPrefix("/"), !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || $0 == "\"" }) else {
                throw .invalid("\(what)'s path \(path.debugDescription) must be absolute, without control characters or double quotes; move it or link it from a plainer path")
            }
        }
    }
}

/// The files of a serve's state folder (docs/serve.md §3).
public struct ServePaths: Sendable {
    public let stateFolder: String
    public init(stateFolder: String) { self.stateFolder = stateFolder }
    public var hostKey: String { stateFolder + "/host_ed25519_key" }
    public var hostPublicKey: String { hostKey + ".pub" }
    public var sshdConfig: String { stateFolder + "/sshd_config" }
    public var settings: String { stateFolder + "/serve.json" }
    public var authorizedKeys: String { stateFolder + "/authorized_keys" }
    /// The seats: one lock file per guest allowed at once.
    public var seats: String { stateFolder + "/seats" }
    /// Searches of all guests take turns on this lock (`VITRINE_GUEST_LOCK`).
    public var searchLock: String { stateFolder + "/search.lock" }
    /// The gallery index and feature cache the guests read (`VITRINE_CACHE`).
    public var cache: String { stateFolder + "/cache" }
    /// Guests arriving and leaving, one line each.
    public var log: String { stateFolder + "/serve.log" }
    /// sshd's own log.
    public var sshdLog: String { stateFolder + "/sshd.log" }
}

public enum ServeError: Error, CustomStringConvertible, Equatable {
    case invalid(String)
    case failed(String)
    public var description: String {
        switch self {
        case .invalid(let message), .failed(let message): return message
        }
    }
}

/// sshd's configuration for a serve.
public enum SSHDConfiguration {
    /// The text of `sshd_config`. `echoPath` is a root-owned `echo` (sshd runs an
    /// AuthorizedKeysCommand only from a path owned by root), used by `--open` to admit any key.
    public static func text(settings: ServeSettings, echoPath: String = "/bin/echo") -> String {
        let paths = settings.paths
        var lines: [String] = [
            "# Written by `vitrine serve` at every start; edits are lost (docs/serve.md).",
            "Port \(settings.port)",
        ]
        lines += settings.listenAddresses.map { "ListenAddress \($0)" }
        lines += [
            "HostKey \(quoted(paths.hostKey))",
            "PidFile none",
            // sshd runs as the serving account: no PAM, no password, keys only.
            "UsePAM no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "HostbasedAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin no",
            "AllowUsers \(settings.account)",
        ]
        switch settings.access {
        case .authorizedKeys:
            // The copy in the state folder (0600, owned by the account); StrictModes would also
            // demand that every folder above it be unwritable by others, which /tmp is not.
            lines += ["AuthorizedKeysFile \(quoted(paths.authorizedKeys))", "StrictModes no"]
        case .open:
            // Every offered key is "found": echo prints it back as an authorized_keys line.
            lines += ["AuthorizedKeysFile none",
                      "AuthorizedKeysCommand \(echoPath) restrict,pty %t %k",
                      "AuthorizedKeysCommandUser \(settings.account)",
                      "StrictModes no"]
        }
        let force = [settings.executable, "serve-session", "--state", settings.stateFolder].map(shellQuoted).joined(separator: " ")
        lines += [
            // The guest's key reaches the session as $SSH_USER_AUTH (its fingerprint names the guest).
            "ExposeAuthInfo yes",
            // Every session, whatever the client asks for (a shell, a command), is this; no subsystem
            // (sftp) is configured, so a request for one is refused.
            "ForceCommand exec \(force)",
            "DisableForwarding yes",
            "AllowAgentForwarding no",
            "AllowTcpForwarding no",
            "AllowStreamLocalForwarding no",
            "X11Forwarding no",
            "PermitTunnel no",
            "PermitTTY yes",
            "PermitUserRC no",
            "PermitUserEnvironment no",
            // SSH forwards TERM with the PTY; these only when the client sends them (SendEnv).
            "AcceptEnv COLORTERM LANG LC_*",
            // One session per connection: the seats count connections.
            "MaxSessions 1",
            "MaxAuthTries 6",
            "LoginGraceTime 30",
            // Unauthenticated connections: at most 10 (dropping from 3 on) in all, 3 per address.
            "MaxStartups 3:50:10",
            "PerSourceMaxStartups 3",
            // A client that stops answering is gone after 3 x 10 s.
            "ClientAliveInterval 10",
            "ClientAliveCountMax 3",
            "TCPKeepAlive yes",
            "PrintMotd no",
            "PrintLastLog no",
            "Banner none",
            "Compression no",
            "LogLevel VERBOSE",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// A path as one sshd_config argument (validated: no control characters or quotes).
    static func quoted(_ path: String) -> String { "\"" + path + "\"" }

    /// One word for `sh -c` (sshd runs ForceCommand through the account's shell).
    public static func shellQuoted(_ word: String) -> String {
        "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
