import Foundation
import Glibc
import Serve
import Support
import Testing

private func temporaryFolder() throws -> String {
    var template = Array("/tmp/vitrine-serve-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return try #require(made.map { String(cString: $0) })
}

private func settings(state: String = "/srv/state", access: GuestAccess = .open, listen: [String] = ["127.0.0.1"]) -> ServeSettings {
    ServeSettings(listenAddresses: listen, port: 2222, access: access, maxSessions: 3, idleLimit: 600, sessionLimit: 3600,
                  dataPath: "/data/Sample Data", modelPath: nil, textTower: nil, weightsPath: "/opt/w", theme: nil,
                  executable: "/opt/vitrine's/vitrine", stateFolder: state, account: "demo")
}

// A real ed25519 public key and the fingerprint OpenSSH 9.2's sshd logged for it.
private let sampleKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBea2Hs7hvkJnpEA3Nv5EVxZxYcbhUlF++JtMNS5pf2u guest"
private let sampleFingerprint = "SHA256:MCzdIyJqfcm/85ynquyWJ/qcOsOHcmgrloXX8w5N3/8"

@Suite struct SSHDConfigurationTests {
    @Test func everySessionIsForcedIntoTheGuestSessionAndNothingIsForwarded() {
        let text = SSHDConfiguration.text(settings: settings())
        let lines = Set(text.split(separator: "\n").map(String.init))
        // The executable's quote survives sh -c.
        #expect(lines.contains("ForceCommand exec '/opt/vitrine'\\''s/vitrine' 'serve-session' '--state' '/srv/state'"))
        for line in ["DisableForwarding yes", "AllowTcpForwarding no", "X11Forwarding no", "PermitTunnel no", "AllowAgentForwarding no",
                     "PermitUserRC no", "PermitUserEnvironment no", "PasswordAuthentication no", "UsePAM no", "AllowUsers demo",
                     "AcceptEnv COLORTERM LANG LC_*", "ExposeAuthInfo yes", "PerSourceMaxStartups 3", "ClientAliveInterval 10",
                     "ClientAliveCountMax 3", "MaxSessions 1", "ListenAddress 127.0.0.1", "Port 2222",
                     "HostKey \"/srv/state/host_ed25519_key\""] {
            #expect(lines.contains(line), "missing: \(line)")
        }
        // No subsystem: a request for sftp is refused rather than forced.
        #expect(!text.contains("Subsystem"))
    }

    @Test func openAdmitsAnyKeyThroughEchoAndKeysModeReadsTheCopy() {
        let open = SSHDConfiguration.text(settings: settings(), echoPath: "/bin/echo")
        #expect(open.contains("AuthorizedKeysCommand /bin/echo restrict,pty %t %k\n"))
        #expect(open.contains("AuthorizedKeysFile none\n"))
        let keys = SSHDConfiguration.text(settings: settings(access: .authorizedKeys(source: "/home/h/keys")))
        #expect(keys.contains("AuthorizedKeysFile \"/srv/state/authorized_keys\"\n"))
        #expect(!keys.contains("AuthorizedKeysCommand"))
    }

    @Test func noListenAddressMeansEveryAddress() {
        #expect(!SSHDConfiguration.text(settings: settings(listen: [])).contains("ListenAddress"))
    }

    @Test func validationRefusesWhatCannotBeWrittenFaithfully() {
        var s = settings()
        #expect(throws: Never.self) { try s.validate() }
        s.dataPath = "/data/a\nHostKey /etc/evil"
        #expect(throws: ServeError.self) { try s.validate() }
        s = settings(); s.stateFolder = "relative/state"
        #expect(throws: ServeError.self) { try s.validate() }
        s = settings(); s.executable = "/opt/\"v\"/vitrine"
        #expect(throws: ServeError.self) { try s.validate() }
        s = settings(listen: ["127.0.0.1 Port 22"])
        #expect(throws: ServeError.self) { try s.validate() }
        s = settings(); s.maxSessions = 0
        #expect(throws: ServeError.self) { try s.validate() }
        s = settings(); s.port = 70_000
        #expect(throws: ServeError.self) { try s.validate() }
    }

    @Test func shellQuotingSurvivesAShell() throws {
        let word = "a b'c\"d$e`f\\g;h"
        let (code, output) = try Spawn.run("/bin/sh", ["-c", "printf %s " + SSHDConfiguration.shellQuoted(word)])
        #expect(code == 0)
        #expect(output == word)
    }

    @Test func settingsRoundTripThroughJSON() throws {
        let s = settings(access: .authorizedKeys(source: "/k"))
        let back = try JSONDecoder().decode(ServeSettings.self, from: JSONEncoder().encode(s))
        #expect(back == s)
    }
}

@Suite struct PublicKeyTests {
    @Test func fingerprintIsOpenSSHs() throws {
        let key = try #require(PublicKey.parse(line: Substring(sampleKey)))
        #expect(key.type == "ssh-ed25519")
        #expect(key.fingerprint == sampleFingerprint)
        // The same key in $SSH_USER_AUTH's form and behind options.
        #expect(PublicKey.parse(line: "restrict,pty,from=\"10.0.0.1\" " + Substring(sampleKey))?.fingerprint == sampleFingerprint)
    }

    @Test func refusesKeysWhoseBlobDisagreesWithTheirType() {
        #expect(PublicKey.parse(line: Substring(sampleKey.replacingOccurrences(of: "ssh-ed25519", with: "ssh-rsa"))) == nil)
        #expect(PublicKey.parse(line: "ssh-ed25519 !!!notbase64") == nil)
        #expect(PublicKey.parse(line: "ssh-ed25519") == nil)
        #expect(PublicKey.parse(line: "ssh-ed25519 AAAA") == nil)
        #expect(PublicKey.parse(line: "") == nil)
    }

    @Test func authorizedKeysCountsKeysAndReportsOtherLines() {
        let text = "# guests\n\n" + sampleKey + "\nnot a key\n  " + sampleKey + "\r\n\u{1B}[31mssh-ed25519 junk\n"
        let parsed = AuthorizedKeys.parse(text)
        #expect(parsed.keys.count == 2)
        #expect(parsed.ignoredLines == [4, 6])
    }

    @Test func anEmptyKeysFileIsRefusedWithWhatToDo() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AtomicFile.write(text: "# nobody yet\n", to: folder + "/keys")
        #expect { try AuthorizedKeys.read(folder + "/keys") } throws: { error in
            "\(error)".contains("no public key") && "\(error)".contains("--open")
        }
        #expect(throws: ServeError.self) { try AuthorizedKeys.read(folder + "/missing") }
    }

    @Test func sshKeygenAgrees() throws {
        guard access("/usr/bin/ssh-keygen", X_OK) == 0 else { return }
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let made = try Spawn.run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "t", "-f", folder + "/k"])
        #expect(made.code == 0)
        let listed = try Spawn.run("/usr/bin/ssh-keygen", ["-l", "-f", folder + "/k.pub"])
        let pub = String(decoding: try #require(try RegularFile.read(folder + "/k.pub", limit: 4096)), as: UTF8.self)
        let key = try #require(PublicKey.parse(line: Substring(pub)))
        #expect(listed.output.contains(key.fingerprint))
    }
}

@Suite struct GuestSeatsTests {
    @Test func seatsFillUpAndFreeWhenLeft() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try GuestSeats.prepare(folder: folder + "/seats")
        let seats = folder + "/seats"
        // flock locks belong to open descriptions: two takes in one process still exclude each other.
        let a = try #require(try GuestSeats.take(folder: seats, count: 2, guest: "SHA256:a", now: 100))
        let b = try #require(try GuestSeats.take(folder: seats, count: 2, guest: "SHA256:b b\n", now: 101))
        #expect(a.index == 0 && b.index == 1)
        #expect(try GuestSeats.take(folder: seats, count: 2, guest: "c") == nil)
        let occupants = GuestSeats.occupants(folder: seats, count: 2)
        #expect(occupants.map(\.seat) == [0, 1])
        #expect(occupants.allSatisfy { $0.pid == getpid() })
        #expect(occupants[1].guest == "SHA256:bb")
        #expect(occupants[0].since == 100)
        GuestSeats.leave(a)
        #expect(GuestSeats.occupants(folder: seats, count: 2).map(\.seat) == [1])
        let c = try #require(try GuestSeats.take(folder: seats, count: 2, guest: "c"))
        #expect(c.index == 0)
        GuestSeats.leave(b); GuestSeats.leave(c)
        #expect(GuestSeats.occupants(folder: seats, count: 2).isEmpty)
    }

    @Test func aSessionThatDiesFreesItsSeat() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // flock(1) holds seat 0's lock (-F: in the process it becomes) and is killed: the kernel drops the lock.
        guard access("/usr/bin/flock", X_OK) == 0 else { return }
        try GuestSeats.prepare(folder: folder + "/seats")
        _ = open(folder + "/seats/0", O_CREAT | O_WRONLY, 0o600)
        let pid = try Spawn.start("/usr/bin/flock", ["-F", "-x", folder + "/seats/0", "sleep", "30"])
        var waited = 0
        while try GuestSeats.take(folder: folder + "/seats", count: 1, guest: "probe").map({ GuestSeats.leave($0); return true }) ?? false {
            usleep(20_000); waited += 1
            if waited > 1_000 { Issue.record("flock never took the seat in 20 s"); break }
        }
        #expect(try GuestSeats.take(folder: folder + "/seats", count: 1, guest: "x") == nil)
        kill(pid, SIGKILL)
        Spawn.wait(pid)
        let seat = try #require(try GuestSeats.take(folder: folder + "/seats", count: 1, guest: "x"))
        GuestSeats.leave(seat)
    }
}

@Suite struct StateFolderTests {
    @Test func rootGivesTheFoldersItMakesInTheAccountsHomeToTheAccount() throws {
        guard geteuid() == 0 else { return }   // chown to another account needs root
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let home = root + "/home"
        #expect(mkdir(home, 0o755) == 0)
        let nobody: (uid_t, gid_t) = (65_534, 65_534)
        let state = home + "/.local/state/vitrine/serve"
        try ServeHost.prepareStateFolder(state, owner: nobody, ownerHome: home)
        func owner(_ path: String) -> uid_t { var s = stat(); _ = stat(path, &s); return s.st_uid }
        for path in [home + "/.local", home + "/.local/state", home + "/.local/state/vitrine", state] { #expect(owner(path) == 65_534, "\(path)") }
        #expect(owner(home) == 0)
        // Outside the home, only the state folder itself is the account's.
        let elsewhere = root + "/srv/demo"
        try ServeHost.prepareStateFolder(elsewhere, owner: nobody, ownerHome: home)
        #expect(owner(root + "/srv") == 0 && owner(elsewhere) == 65_534)
        var mode = stat(); _ = stat(elsewhere, &mode)
        #expect(mode.st_mode & 0o777 == 0o700)
    }
}

@Suite struct ServeLogTests {
    @Test func linesAreAppendedWithTheTimeAndReadBackWhole() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/serve.log"
        #expect(ServeLog.tail(path, from: 0).lines.isEmpty)
        ServeLog.append(path, "guest SHA256:x from 127.0.0.1: in", now: Date(timeIntervalSince1970: 0))
        ServeLog.append(path, "evil \u{1B}]52;c;AAAA\u{07} name")
        let (lines, offset) = ServeLog.tail(path, from: 0)
        #expect(lines.count == 2)
        #expect(lines[0] == "1970-01-01T00:00:00Z guest SHA256:x from 127.0.0.1: in")
        #expect(!lines[1].unicodeScalars.contains { $0.value < 0x20 })
        ServeLog.append(path, "third")
        let (more, _) = ServeLog.tail(path, from: offset)
        #expect(more.count == 1 && more[0].hasSuffix(" third"))
    }
}

@Suite struct ServeAccountTests {
    @Test func nologinShellsAreNamedWithTheFix() {
        let account = ServeAccount(name: "demo", uid: 999, gid: 999, home: "/nonexistent", shell: "/usr/sbin/nologin")
        #expect(account.shellProblem?.contains("usermod --shell /bin/sh demo") == true)
        #expect(ServeAccount(name: "d", uid: 1, gid: 1, home: "/", shell: "/bin/sh").shellProblem == nil)
        #expect(ServeAccount(name: "d", uid: 1, gid: 1, home: "/", shell: "/no/such/shell").shellProblem != nil)
    }

    @Test func anUnknownAccountSaysHowToMakeOne() {
        #expect { try ServeAccount.lookup(name: "vitrine-no-such-account-x") } throws: { "\($0)".contains("useradd --system") }
    }
}
