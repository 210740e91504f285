import Foundation
import SafeText

/// The Unix account guests are (docs/serve.md §2). sshd started by an ordinary user can admit only
/// that user, so every guest logs in as the account that runs `vitrine serve`; they never get its
/// shell, because every session is forced into `vitrine serve-session`. sshd still starts that
/// command through the account's login shell (`$SHELL -c`), so the account needs a working shell
/// (/bin/sh), not nologin.
public struct ServeAccount: Sendable, Equatable {
    public var name: String
    public var uid: uid_t
    public var gid: gid_t
    public var home: String
    public var shell: String

    public init(name: String, uid: uid_t, gid: gid_t, home: String, shell: String) {
        self.name = name; self.uid = uid; self.gid = gid; self.home = home; self.shell = shell
    }

    /// The account of this process's effective user, or a named one.
    public static func lookup(name: String? = nil) throws(ServeError) -> ServeAccount {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buffer = [CChar](repeating: 0, count: 16_384)
        let rc: Int32
        if let name { rc = getpwnam_r(name, &entry, &buffer, buffer.count, &result) }
        else { rc = getpwuid_r(geteuid(), &entry, &buffer, buffer.count, &result) }
        guard rc == 0, let found = result?.pointee else {
            if let name {
                throw .invalid("there is no account \(SafeText.quoted(name)); make a dedicated one for the guests: " +
                               "useradd --system --create-home --home-dir /var/lib/\(name) --shell /bin/sh \(name)")
            }
            throw .failed("this process's user (uid \(geteuid())) has no entry in the password database")
        }
        return ServeAccount(name: String(cString: found.pw_name), uid: found.pw_uid, gid: found.pw_gid,
                            home: String(cString: found.pw_dir), shell: String(cString: found.pw_shell))
    }

    /// Why sshd could not start a session for this account, or nil.
    public var shellProblem: String? {
        let shell = shell.isEmpty ? "/bin/sh" : shell
        let base = (shell as NSString).lastPathComponent
        if base == "nologin" || base == "false" || access(shell, X_OK) != 0 {
            return "the account \(name)'s shell is \(shell): sshd starts every guest's session through it (`\(shell) -c`), so it must be a working shell (guests still never reach it); run: usermod --shell /bin/sh \(name)"
        }
        return nil
    }

    /// Becomes this account for good (the caller is root): groups, gid, uid, and the environment
    /// variables that name the user. Verifies that root cannot be regained.
    public func become() throws(ServeError) {
        guard initgroups(name, gid) == 0 else { throw .failed("cannot take \(name)'s groups: \(String(cString: strerror(errno)))") }
        guard setgid(gid) == 0 else { throw .failed("cannot become group \(gid): \(String(cString: strerror(errno)))") }
        guard setuid(uid) == 0 else { throw .failed("cannot become \(name): \(String(cString: strerror(errno)))") }
        guard setuid(0) != 0, geteuid() == uid else { throw .failed("dropping root for \(name) did not hold; not serving") }
        setenv("HOME", home, 1); setenv("USER", name, 1); setenv("LOGNAME", name, 1)
        for variable in ["XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "VITRINE_CACHE", "VITRINE_FLAGS"] {
            unsetenv(variable)
        }
    }
}

/// The serve's log (`serve.log`): one line per event, written with one append so sessions writing at
/// once never interleave within a line.
public enum ServeLog {
    public static func append(_ path: String, _ message: String, now: Date = Date()) {
        let stamp = ISO8601DateFormatter.string(from: now, timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime])
        let line = Array((stamp + " " + SafeText.inert(message) + "\n").utf8)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Reads the lines appended since `offset` (whole lines only), returning the new offset.
    public static func tail(_ path: String, from offset: Int) -> (lines: [String], offset: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return ([], offset) }
        defer { close(fd) }
        var stats = stat()
        guard fstat(fd, &stats) == 0 else { return ([], offset) }
        let size = Int(stats.st_size)
        let start = size < offset ? 0 : offset  // the log was replaced: start again
        guard size > start else { return ([], start) }
        var buffer = [UInt8](repeating: 0, count: min(size - start, 1 << 20))
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
        guard n > 0, let end = buffer[..<n].lastIndex(of: 0x0A) else { return ([], start) }
        let text = String(decoding: buffer[...end], as: UTF8.self)
        return (text.split(separator: "\n").map(String.init), start + end + 1)
    }
}
