import Foundation
import Testing

/// `vitrine serve` with the real OpenSSH server on 127.0.0.1 and the real `ssh` client in tmux: three
/// guests at once browse and search a dataset whose captions are hostile, one resizes its window, one
/// sends no locale; a fourth is told the demo is full; a key that is not admitted, a command instead of
/// a session, and a guest's flag, training and `image:/etc/hostname` are refused; a killed client's
/// explorer ends within 10 s; Ctrl-C on the server ends every session and leaves no process behind.
@Suite(.serialized) struct ServeEndToEndTests {
    /// The host's sshd, or the private copy `make setup` keeps (what `vitrine serve` looks for).
    static var sshd: String {
        let candidates = ["/usr/sbin/sshd", ExplorerEndToEndTests.repository + "/.setup/openssh/sshd"]
        return candidates.first { access($0, X_OK) == 0 } ?? candidates[0]
    }

    /// Runs a program to its end: status, stdout and stderr.
    static func run(_ argv: [String], in folder: String) throws -> (status: Int32, out: String, err: String) {
        let out = folder + "/run-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: out + ".err") }
        let status = try Tmux.spawnAndWait(argv, stdout: out, stderr: out + ".err")
        let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        return (status, read(out), read(out + ".err"))
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether the shell printed `MARK:<status>` (the command line typed shows `MARK:$?`).
    static func ended(_ screen: String, _ mark: String) -> Bool {
        screen.range(of: mark + #":\d"#, options: .regularExpression) != nil
    }

    /// Processes whose command line contains `text`.
    static func processes(matching text: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid -> String? in
            guard Int(pid) != nil, Int32(pid) != getpid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return line.contains(text) ? pid + " " + line : nil
        }
    }

    /// As root, the guests are a dedicated account made for the test (in group tty: containers
    /// mount /dev/pts without gid=5); otherwise they are the user running the tests. Returns the
    /// account and the `--user` option that names it (empty when not root).
    static func guestAccount(root: String) throws -> (name: String, flag: String) {
        guard geteuid() == 0 else { return (String(cString: getpwuid(geteuid()).pointee.pw_name), "") }
        let account = "vte2e\(getpid() % 100_000)\(UInt8.random(in: 10 ... 99))"
        let tty = getgrnam("tty") != nil ? ["-G", "tty"] : []
        let made = try run(["useradd", "--system", "--home-dir", root + "/home-" + account, "--create-home", "--shell", "/bin/sh"] + tty + [account], in: root)
        try #require(made.status == 0, "useradd: \(made.err)")
        return (account, "--user \(account) ")
    }

    static func removeAccount(_ account: String) {
        guard geteuid() == 0 else { return }
        _ = try? run(["pkill", "-KILL", "-u", account], in: NSTemporaryDirectory())
        _ = try? run(["userdel", account], in: NSTemporaryDirectory())
    }

    /// `--open` lets in a key nobody listed, logged by its fingerprint; root never serves guests itself.
    @Test func openAdmitsAnyKeyAndRootNeverServes() throws {
        try #require(access(Self.sshd, X_OK) == 0, "no sshd: `make test` takes one out of Debian's openssh-server (scripts/setup.sh)")
        let root = NSTemporaryDirectory() + "vitrine-serve-open-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (data, _, _) = try HostileOutputTests.hostileDataset(in: root, name: "data")
        _ = try Self.run(["chmod", "-R", "a+rX", root], in: root)
        #expect(try Self.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "anyone", "-f", root + "/anyone"], in: root).status == 0)
        let weights = RetrievalEndToEndTests.weights
        if geteuid() == 0 {
            let refused = try Self.run([ExplorerEndToEndTests.binary, "serve", "--open", "--data", data, "--state", root + "/x"], in: root)
            #expect(refused.status != 0 && refused.err.contains("not serving guests as root") && refused.err.contains("useradd --system"), "\(refused)")
            #expect(!FileManager.default.fileExists(atPath: root + "/x"))
        }
        let (account, userFlag) = try Self.guestAccount(root: root)
        defer { Self.removeAccount(account) }
        let port = try Self.freePort()
        let state = root + "/state"
        let host = try Tmux(width: 160, height: 24)
        try host.type("\(Tmux.quote(ExplorerEndToEndTests.binary)) serve \(userFlag)--open --listen 127.0.0.1 --port \(port) --max-sessions 1 " +
                      "--state \(Tmux.quote(state)) --data \(Tmux.quote(data)) --weights \(Tmux.quote(weights)); echo \"EXIT:$?\"")
        try host.keys("Enter")
        let banner = try host.waitFor("the server's banner", timeout: 240) { $0.contains("guests connect with") || Self.ended($0, "EXIT") }
        #expect(banner.contains("anyone with any key (--open)"), "\(banner)")
        let guest = try Tmux(width: 100, height: 30)
        try guest.type("ssh -tt -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i \(Tmux.quote(root + "/anyone")) -p \(port) \(account)@127.0.0.1; echo \"GONE:$?\"")
        try guest.keys("Enter")
        _ = try guest.waitFor("the gallery", timeout: 60) { $0.contains("gallery ·") && $0.contains("1/") }
        try guest.keys("q")
        _ = try guest.waitFor("the guest's ssh to end", timeout: 15) { Self.ended($0, "GONE") }
        let fingerprint = try #require(try Self.run(["ssh-keygen", "-l", "-f", root + "/anyone.pub"], in: root).out.split(separator: " ").first { $0.hasPrefix("SHA256:") })
        // The host's terminal shows the guest by fingerprint, in and out.
        let shown = try host.waitFor("the guest's lines", timeout: 10) { $0.contains("guest \(fingerprint) from 127.0.0.1: out after") }
        #expect(shown.contains("guest \(fingerprint) from 127.0.0.1: in (seat 1 of 1)"), "\(shown)")
        #expect(shown.contains("(left)"))
        try host.keys("C-c")
        let stopped = try host.waitFor("the server's end", timeout: 30) { Self.ended($0, "EXIT") }
        #expect(stopped.contains("EXIT:0"), "\(stopped)")
        #expect(Self.processes(matching: state).isEmpty, "left running: \(Self.processes(matching: state))")
    }

    @Test func threeGuestsACapAKilledClientAndACleanStop() throws {
        try #require(access(Self.sshd, X_OK) == 0, "no sshd: `make test` takes one out of Debian's openssh-server (scripts/setup.sh)")
        let weights = RetrievalEndToEndTests.weights
        try #require(FileManager.default.fileExists(atPath: weights), "the towers are missing: run `make weights`")
        let root = NSTemporaryDirectory() + "vitrine-serve-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (data, _, _) = try HostileOutputTests.hostileDataset(in: root, name: "hostile-data")
        _ = try Self.run(["chmod", "-R", "a+rX", root], in: root)

        // The guests' key, a stranger's, and the keys file that admits the first only.
        for name in ["guest", "stranger"] {
            #expect(try Self.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", root + "/" + name], in: root).status == 0)
        }
        try FileManager.default.copyItem(atPath: root + "/guest.pub", toPath: root + "/guests.keys")

        let (account, userFlag) = try Self.guestAccount(root: root)
        defer { Self.removeAccount(account) }

        // The host starts the server in its terminal.
        let port = try Self.freePort()
        let state = root + "/state"
        let host = try Tmux(width: 160, height: 24)
        try host.type("\(Tmux.quote(ExplorerEndToEndTests.binary)) serve \(userFlag)--listen 127.0.0.1 --port \(port) " +
                      "--authorized-keys \(Tmux.quote(root + "/guests.keys")) --max-sessions 3 --state \(Tmux.quote(state)) " +
                      "--data \(Tmux.quote(data)) --weights \(Tmux.quote(weights)); echo \"EXIT:$?\"")
        try host.keys("Enter")
        var banner = try host.waitFor("the server's banner", timeout: 240) { $0.contains("guests connect with") || Self.ended($0, "EXIT") }
        try #require(banner.contains("guests connect with"), "\(banner)")
        // The fingerprint printed is the host key's.
        let listed = try Self.run(["ssh-keygen", "-l", "-f", state + "/host_ed25519_key.pub"], in: root)
        let fingerprint = try #require(listed.out.split(separator: " ").first { $0.hasPrefix("SHA256:") })
        banner = try host.screen().joined(separator: "\n")
        #expect(banner.contains("host key: \(fingerprint)"), "\(banner)")

        let ssh = "ssh -tt -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ServerAliveInterval=5"
        func connect(_ t: Tmux, options: String = "", key: String = "guest", environment: String = "") throws {
            try t.type("\(environment)\(ssh) \(options) -i \(Tmux.quote(root + "/" + key)) -p \(port) \(account)@127.0.0.1; echo \"GONE:$?\"")
            try t.keys("Enter")
        }
        let galleryShown: (String) -> Bool = { $0.contains("gallery ·") && $0.contains("1/") }

        // Three guests. The first's raw output is kept: hostile bytes must not reach it. The second
        // sends the locale macOS sends (LC_CTYPE=UTF-8, unknown to glibc); the third reads no
        // ssh_config, so it sends no locale (Debian's client sends LANG and LC_*).
        let guests = try (0 ..< 3).map { _ in try Tmux(width: 120, height: 36) }
        let raw = root + "/guest0.raw"
        try guests[0].run(["pipe-pane", "-o", "-t", "main", "cat >> \(Tmux.quote(raw))"])
        try connect(guests[0])
        try connect(guests[1], environment: "env -u LC_ALL LANG= LC_CTYPE=UTF-8 ")
        try connect(guests[2], options: "-F /dev/null")
        for g in guests { _ = try g.waitFor("a guest's gallery", timeout: 60, galleryShown) }

        // The fourth is told the demo is full, and let go.
        let fourth = try Tmux(width: 100, height: 10)
        try connect(fourth)
        let full = try fourth.waitFor("the full demo", timeout: 30) { Self.ended($0, "GONE") }
        #expect(full.contains("the demo is full (3 guests), try again in a minute."), "\(full)")

        // A key that is not admitted, and a command instead of a session.
        let stranger = try Self.run(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                                     "-i", root + "/stranger", "-p", "\(port)", "\(account)@127.0.0.1", "true"], in: root)
        #expect(stranger.status == 255 && stranger.err.contains("Permission denied"), "\(stranger)")
        let command = try Self.run(["ssh", "-T", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                                    "-i", root + "/guest", "-p", "\(port)", "\(account)@127.0.0.1", "cat /etc/passwd"], in: root)
        #expect(command.status == 1 && command.err.contains("connect without a command") && !command.out.contains("root:"), "\(command)")

        // Guest 1 searches with a sample; hostile captions show as inert pictures; what a guest may not do is refused.
        let g0 = guests[0]
        try g0.keys("Enter")
        var screen = try g0.waitFor("results", timeout: 120) { $0.contains("results ·") && $0.contains("model zero-shot") }
        #expect(screen.contains("␛"), "hostile escapes should show as control pictures:\n\(screen)")
        for key in ["f", "t"] {
            try g0.keys(key)
            _ = try g0.waitFor("\(key) refused", timeout: 10) { $0.contains("not for guests") }
        }
        try g0.keys("s")
        try g0.type("image:/etc/hostname")
        try g0.keys("Enter")
        _ = try g0.waitFor("the image refused", timeout: 30) { $0.contains("dataset's own images only") }
        try g0.keys("Escape")

        // Guest 2 resizes its window: sshd passes the change on and the explorer lays out again; then it searches.
        let g1 = guests[1]
        try g1.resize(width: 90, height: 28)
        _ = try g1.waitFor("the layout at 90 columns", timeout: 20) { screen in
            let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
            return lines.count > 2 && lines[1].hasSuffix("┐") && lines[1].count == 90
        }
        try g1.keys("s")
        try g1.type("精华")
        try g1.keys("Enter")
        _ = try g1.waitFor("guest 2's results", timeout: 120) { $0.contains("results ·") }

        // Guests 2 and 3 still get UTF-8 (the session chose a UTF-8 locale): control pictures and
        // box lines, not the "?" and ASCII of a C locale.
        for g in guests[1...] {
            screen = try g.screen().joined(separator: "\n")
            #expect(screen.contains("␛") && screen.contains("┌─"), "\(screen)")
        }

        // Nothing hostile went down the wire to guest 1: no OSC 52 or title, no C1 CSI, no bidi override.
        let bytes = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: raw))) ?? Data())
        #expect(bytes.count > 1000)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("␛]52;c;"), "the captions were not drawn")
        for needle in ["\u{1B}]52", "\u{1B}]0;pwned", "\u{202E}", "\u{9B}", "\u{07}"] {
            #expect(!text.unicodeScalars.elementsContain(Array(needle.unicodeScalars)), "\(needle.debugDescription) reached the guest")
        }

        // Guest 1's client dies: its explorer ends within 10 s, the other two stay.
        let guestExplorers = { Self.processes(matching: "explore --guest --data \(data)") }
        #expect(guestExplorers().count == 3, "\(guestExplorers())")
        let shellPid = try g0.pane("pane_pid")
        let client = try #require(Self.processes(matching: "\(ssh) ").first { line in
            let pid = line.split(separator: " ")[0]
            let status = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            // Field 4 of /proc/PID/stat is the parent's pid (after "pid (comm) state").
            let fields = status.split(separator: ")").last?.split(separator: " ") ?? []
            return fields.count > 1 && String(fields[1]) == shellPid
        })
        let killedAt = Date()
        kill(pid_t(client.split(separator: " ")[0])!, SIGKILL)
        let hungUp = { ((try? String(contentsOfFile: state + "/serve.log", encoding: .utf8)) ?? "").contains("(hung up)") }
        while (guestExplorers().count > 2 || !hungUp()) && Date().timeIntervalSince(killedAt) < 10 { usleep(50_000) }
        #expect(guestExplorers().count == 2, "a killed client's explorer still runs after 10 s: \(guestExplorers())")
        #expect(hungUp(), "the killed client's session did not end within 10 s")

        // The host stops the server: every session ends, each guest's terminal is given back, nothing is left.
        try host.keys("C-c")
        let stopped = try host.waitFor("the server's end", timeout: 30) { Self.ended($0, "EXIT") }
        #expect(stopped.contains("EXIT:0"), "\(stopped)")
        for g in guests[1...] {
            _ = try g.waitFor("the guest's ssh to end", timeout: 15) { Self.ended($0, "GONE") }
            #expect(try g.pane("alternate_on") == "0")
        }
        let deadline = Date().addingTimeInterval(10)
        while !(Self.processes(matching: state).isEmpty && guestExplorers().isEmpty) && Date() < deadline { usleep(100_000) }
        #expect(Self.processes(matching: state).isEmpty, "left running: \(Self.processes(matching: state))")
        #expect(guestExplorers().isEmpty, "left running: \(guestExplorers())")

        // The log names every guest by its key and says how each left.
        let log = (try? String(contentsOfFile: state + "/serve.log", encoding: .utf8)) ?? ""
        let guestKey = try #require(try Self.run(["ssh-keygen", "-l", "-f", root + "/guest.pub"], in: root).out.split(separator: " ").first { $0.hasPrefix("SHA256:") })
        #expect(log.components(separatedBy: "guest \(guestKey) from 127.0.0.1: in (seat").count - 1 == 3, "\(log)")
        for line in ["refused, the demo is full (3 guests)", "refused, no terminal", "(hung up)", "(ended by the server)", "server stopped and ended 2 session(s)"] {
            #expect(log.contains(line), "missing \(line.debugDescription) in:\n\(log)")
        }
    }
}

extension String.UnicodeScalarView {
    /// Whether the scalars hold `needle` as a contiguous run.
    func elementsContain(_ needle: [Unicode.Scalar]) -> Bool {
        let scalars = Array(self)
        guard !needle.isEmpty, scalars.count >= needle.count else { return false }
        return (0 ... scalars.count - needle.count).contains { i in scalars[i ..< i + needle.count].elementsEqual(needle) }
    }
}
