import Foundation
import Support

/// The demo's seats: `seats/0 ... seats/N-1` in the state folder, one guest on each. A session
/// takes a seat by locking its file (`flock`, released by the kernel however the process ends, so a
/// crashed session never keeps a seat) and writes its pid, start time and guest into it, so the
/// server can list and end the sessions.
public enum GuestSeats {
    /// A seat held by this process; the lock goes with the descriptor.
    public struct Seat: Sendable {
        public let index: Int
        public let descriptor: Int32
    }

    /// Who sits on a seat.
    public struct Occupant: Sendable, Equatable {
        public var seat: Int
        public var pid: Int32
        public var since: Int
        public var guest: String
    }

    /// Creates the seats folder (0700).
    public static func prepare(folder: String) throws(ServeError) {
        if mkdir(folder, 0o700) != 0 && errno != EEXIST {
            throw .failed("cannot make the seats folder \(folder): \(String(cString: strerror(errno)))")
        }
    }

    /// Takes the first free seat of `count`, or nil when all are taken (the demo is full).
    public static func take(folder: String, count: Int, guest: String, now: Int = Int(time(nil))) throws(ServeError) -> Seat? {
        for index in 0 ..< count {
            let path = folder + "/\(index)"
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw .failed("cannot open the seat \(path): \(String(cString: strerror(errno)))") }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                let line = Array("\(getpid()) \(now) \(guest.filter { $0.isASCII && !$0.isWhitespace && !$0.isNewline })\n".utf8)
                _ = ftruncate(fd, 0)
                _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
                return Seat(index: index, descriptor: fd)
            }
            close(fd)
        }
        return nil
    }

    /// Gives the seat back (also done by the kernel when the process ends).
    public static func leave(_ seat: Seat) {
        _ = ftruncate(seat.descriptor, 0)
        close(seat.descriptor)
    }

    /// The seats taken now: those whose lock is held by a live session.
    public static func occupants(folder: String, count: Int) -> [Occupant] {
        var result: [Occupant] = []
        for index in 0 ..< count {
            let fd = open(folder + "/\(index)", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            // A lock we can take means nobody sits there.
            if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); continue }
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            let words = String(decoding: buffer.prefix(max(0, n)), as: UTF8.self).split(whereSeparator: \.isWhitespace)
            guard words.count >= 2, let pid = Int32(words[0]), pid > 1, let since = Int(words[1]) else { continue }
            result.append(Occupant(seat: index, pid: pid, since: since, guest: words.count > 2 ? String(words[2]) : "?"))
        }
        return result
    }
}
