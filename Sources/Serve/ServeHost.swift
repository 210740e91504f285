import CSupport
import Foundation
import SafeText
import Support

/// The programs of OpenSSH a serve uses, and the files it writes before sshd starts.
public enum ServeHost {
    /// sshd: `$VITRINE_SSHD`, else Debian's place for it. sshd must be started by an absolute path
    /// (it executes itself again for each connection).
    public static func sshdPath(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ServeError) -> String {
        if let chosen = environment["VITRINE_SSHD"], !chosen.isEmpty {
            guard chosen.hasPrefix("/"), access(chosen, X_OK) == 0 else {
                throw .invalid("VITRINE_SSHD=\(chosen) is not an executable given by its absolute path")
            }
            return chosen
        }
        // The host's own, else the private copy `make setup` takes out of Debian's package.
        let candidates = ["/usr/sbin/sshd", "/usr/local/sbin/sshd"] + Installation.roots(environment: environment).map { $0 + "/.setup/openssh/sshd" }
        for path in candidates where access(path, X_OK) == 0 { return path }
        throw .invalid("no OpenSSH server (sshd) found: run `make setup` (it keeps a private copy of Debian's sshd in .setup/openssh/), or install openssh-server")
    }

    public static func keygenPath() throws(ServeError) -> String {
        for path in ["/usr/bin/ssh-keygen", "/usr/local/bin/ssh-keygen"] where access(path, X_OK) == 0 { return path }
        throw .invalid("no ssh-keygen found: install Debian's openssh-client (apt-get install openssh-client)")
    }

    /// A root-owned `echo` that no one else can write (sshd refuses any other AuthorizedKeysCommand).
    public static func echoPath() throws(ServeError) -> String {
        for path in ["/bin/echo", "/usr/bin/echo"] {
            var stats = stat()
            if stat(path, &stats) == 0, stats.st_uid == 0, stats.st_mode & 0o022 == 0, access(path, X_OK) == 0 { return path }
        }
        throw .invalid("--open needs a root-owned /bin/echo that only root can change (sshd runs it to admit any key)")
    }

    /// The host key: made once (ed25519), then kept, so guests who accepted it are not warned again.
    /// Returns its fingerprint.
    public static func hostKey(paths: ServePaths) throws(ServeError) -> String {
        if !RegularFile.exists(paths.hostKey) {
            let (code, output) = try Spawn.run(try keygenPath(), ["-q", "-t", "ed25519", "-N", "", "-C", "vitrine serve", "-f", paths.hostKey])
            guard code == 0 else { throw .failed("ssh-keygen could not make the host key \(paths.hostKey): \(SafeText.terminal(output))") }
        }
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(paths.hostPublicKey, kind: "host public key", limit: 64 << 10) ?? [] }
        catch { throw .failed("the host key's public half \(paths.hostPublicKey) is unreadable (\(error)); delete \(paths.hostKey) and its .pub to make a new one") }
        guard let key = PublicKey.parse(line: Substring(String(decoding: bytes, as: UTF8.self))) else {
            throw .failed("\(paths.hostPublicKey) holds no public key; delete \(paths.hostKey) and its .pub to make a new one")
        }
        return key.fingerprint
    }

    /// sshd gives each guest a terminal and makes it the account's, in group `tty` (mode 0620). Where
    /// /dev/pts is mounted without `gid=5` (many containers), a new terminal is in the creating
    /// account's own group, and sshd may only change it to `tty` if the account is in that group;
    /// otherwise every session fails at once. Returns what to do, or nil.
    public static func terminalGroupProblem(account: ServeAccount) -> String? {
        guard let group = getgrnam("tty") else { return nil }   // sshd then keeps the account's group
        let ttyGroup = group.pointee.gr_gid
        if account.gid == ttyGroup { return nil }
        var count = Int32(64)
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(account.name, account.gid, &groups, &count) >= 0, groups.prefix(Int(count)).contains(ttyGroup) { return nil }
        // Where does a new terminal land?
        let created = vitrine_new_pty_group()
        guard created >= 0, gid_t(created) != ttyGroup else { return nil }
        return "sshd could not give guests a terminal here: /dev/pts is mounted without gid=5 (as in many containers), so sshd must put each guest's terminal in group tty itself, which only a member of tty may do. Add the account to it: usermod -aG tty \(account.name)"
    }

    /// Makes the state folder (0700) and its parents; checks that it is a folder this process owns.
    /// As root for another account (`owner`), the folders made inside that account's home (its
    /// `~/.local/state/...`) are given to it, so that root leaves nothing of its own there.
    public static func prepareStateFolder(_ folder: String, owner: (uid_t, gid_t)? = nil, ownerHome: String? = nil) throws(ServeError) {
        var path = ""
        for component in folder.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o755) == 0 {
                if let owner, let home = ownerHome, path.hasPrefix(home.hasSuffix("/") ? home : home + "/") {
                    _ = chown(path, owner.0, owner.1)
                }
            } else if errno != EEXIST {
                throw .failed("cannot make the state folder \(path): \(String(cString: strerror(errno))); choose another with --state DIR")
            }
        }
        if let owner { _ = chown(folder, owner.0, owner.1) }
        var stats = stat()
        guard lstat(folder, &stats) == 0, stats.st_mode & S_IFMT == S_IFDIR else {
            throw .failed("the state folder \(folder) is not a folder; choose another with --state DIR")
        }
        let expected = owner?.0 ?? geteuid()
        guard stats.st_uid == expected else {
            throw .failed("the state folder \(folder) belongs to uid \(stats.st_uid), not to the serving account (uid \(expected)); choose another with --state DIR")
        }
        _ = chmod(folder, 0o700)
    }

    /// Writes a file of the state folder atomically, readable by its owner only.
    public static func write(_ text: String, to path: String) throws(ServeError) {
        do { try AtomicFile.write(Array(text.utf8), to: path, permissions: 0o600) }
        catch { throw .failed("cannot write \(path): \(error)") }
    }
}
