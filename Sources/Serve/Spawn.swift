import Foundation

/// Starting and waiting for the programs a serve runs (sshd, ssh-keygen, the index build, a
/// guest's explorer): posix_spawn with every signal at its default and none blocked, whatever the
/// caller blocks or ignores for itself.
public enum Spawn {
    /// Descriptors for the child's 0, 1 and 2 (nil: inherited).
    public struct Streams: Sendable {
        public var input: Int32?
        public var output: Int32?
        public var error: Int32?
        public init(input: Int32? = nil, output: Int32? = nil, error: Int32? = nil) {
            self.input = input; self.output = output; self.error = error
        }
    }

    public static func start(_ executable: String, _ arguments: [String], streams: Streams = Streams(),
                             newProcessGroup: Bool = false) throws(ServeError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, target) in [(streams.input, Int32(0)), (streams.output, 1), (streams.error, 2)] {
            if let fd { posix_spawn_file_actions_adddup2(&actions, fd, target) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup { posix_spawnattr_setpgroup(&attributes, 0); flags |= Int32(POSIX_SPAWN_SETPGROUP) }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) }
        argv.append(nil)
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw .failed("cannot start \(executable): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits for the child; its exit code, or 128 + the signal that ended it.
    @discardableResult
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 { if errno != EINTR { return -1 } }
        return exitCode(status)
    }

    /// The child's exit code if it has ended, else nil.
    public static func poll(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        return rc == pid ? exitCode(status) : nil
    }

    static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// A pipe whose ends are closed on exec ([read, write]).
    public static func pipe() throws(ServeError) -> [Int32] {
        var fds: [Int32] = [0, 0]
        guard Glibc.pipe(&fds) == 0 else { throw .failed("cannot make a pipe: \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return fds
    }

    /// Runs a program to its end; its exit code and everything it wrote (stdout and stderr).
    public static func run(_ executable: String, _ arguments: [String]) throws(ServeError) -> (code: Int32, output: String) {
        let fds = try pipe()
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { if devNull >= 0 { close(devNull) } }
        let pid: pid_t
        do { pid = try start(executable, arguments, streams: Streams(input: devNull, output: fds[1], error: fds[1])) }
        catch { close(fds[0]); close(fds[1]); throw error }
        close(fds[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n > 0 { if bytes.count < 1 << 20 { bytes += buffer[..<n] } } else if n == 0 || errno != EINTR { break }
        }
        close(fds[0])
        return (wait(pid), String(decoding: bytes, as: UTF8.self))
    }
}
