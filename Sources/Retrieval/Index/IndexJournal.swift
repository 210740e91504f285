#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Support

/// The rows of a gallery index being built, appended as they are computed to `<index>.partial`,
/// so that a build that is interrupted (Ctrl-C, a crash, `kill -9`, a power cut) resumes from the
/// rows it had written instead of from zero (docs/data.md §6.2).
///
/// Layout (little-endian): the magic `VTIJ`, a version (1), the length of a JSON header and the
/// header (`Header`: the index's identity, so a journal for another model, tower or gallery is
/// never used, the number of items and the sections with their dimensions); then records, each
/// `start`, `count`, `missing` (UInt32), the rows of every section in order (`count × dimension`
/// float32 each) and an FNV-1a 64 of all of it. Records are appended and `fdatasync`ed; a record
/// cut short by a kill, or damaged, ends what is read, and the build goes on from there.
final class IndexJournal {
    struct Header: Codable, Equatable {
        var identity: IndexIdentity
        var items: Int
        var sections: [Section]
        struct Section: Codable, Equatable { var name: IndexSection; var dimension: Int }
    }

    /// What a journal held: the first `done` rows of each section (in `sections` order), and how
    /// many of those items had no usable image.
    struct Resumed {
        var done: Int
        var rows: [[Float]]
        var missing: Int
    }

    static let magic: [UInt8] = Array("VTIJ".utf8)
    static let version: UInt32 = 1

    let path: String
    private let header: Header
    private let descriptor: Int32
    private var pending: [UInt8] = []
    private var lastFlush = Date()

    static func path(for indexPath: String) -> String { indexPath + ".partial" }

    /// The rows of the journal at `path` when it was written for `header`; nil when there is
    /// none, it belongs to another build, or it is unreadable (it is then started afresh).
    static func resume(path: String, header: Header) -> Resumed? {
        guard let bytes = try? RegularFile.read(path, kind: "index journal", limit: 64 << 30, missingIsNil: true) else { return nil }
        var reader = ByteReader(bytes)
        guard reader.take(4) == magic, reader.uint32() == version, let length = reader.uint32(), length <= 1 << 20,
              let json = reader.take(Int(length)),
              let stored = try? JSONDecoder().decode(Header.self, from: Data(json)), stored == header else { return nil }
        var rows = header.sections.map { _ in [Float]() }
        for (i, s) in header.sections.enumerated() { rows[i].reserveCapacity(header.items * s.dimension) }
        var done = 0, missing = 0
        while let recordStart = Optional(reader.offset), let start = reader.uint32(), let count = reader.uint32(),
              let miss = reader.uint32(), Int(start) == done, count > 0, Int(start) + Int(count) <= header.items,
              miss <= count {
            var record: [[Float]] = []
            var complete = true
            for s in header.sections {
                guard let floats = reader.floats(Int(count) * s.dimension) else { complete = false; break }
                record.append(floats)
            }
            guard complete, let sum = reader.uint64(),
                  sum == FNV1a.hash(bytes: bytes[recordStart ..< reader.offset - 8]) else { break }
            for i in rows.indices { rows[i] += record[i] }
            done += Int(count)
            missing += Int(miss)
        }
        return done > 0 ? Resumed(done: done, rows: rows, missing: missing) : nil
    }

    /// Starts the journal at `path` for `header`, keeping the records of `resumed` (rewritten, so
    /// a damaged tail is dropped), or afresh.
    init(path: String, header: Header, resumed: Resumed?) throws {
        self.path = path
        self.header = header
        var bytes = Self.magic
        appendUInt32(&bytes, Self.version)
        let json = Array(try JSONEncoder().encode(header))
        appendUInt32(&bytes, UInt32(json.count))
        bytes += json
        if let resumed {
            bytes += Self.record(start: 0, count: resumed.done, missing: resumed.missing, rows: resumed.rows)
        }
        if let slash = path.lastIndex(of: "/") { try makeFolder(String(path[..<slash])) }
        try AtomicFile.write(bytes, to: path)
        descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw RetrievalFileError(path: path, message: "cannot open the index journal: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(descriptor) }

    /// Adds the rows of items `start ..< start + count` (`rows` in the header's section order); they
    /// reach the disk at the latest two seconds later, or at `flush()`.
    func append(start: Int, count: Int, missing: Int, rows: [[Float]]) {
        pending += Self.record(start: start, count: count, missing: missing, rows: rows)
        if Date().timeIntervalSince(lastFlush) >= 2 { flush() }
    }

    /// Writes what is pending and syncs it. A failure to write only costs resumability.
    func flush() {
        lastFlush = Date()
        guard !pending.isEmpty else { return }
        let ok = pending.withUnsafeBytes { b -> Bool in
            var done = 0
            while done < b.count {
                let n = write(descriptor, b.baseAddress! + done, b.count - done)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return false }
                done += n
            }
            return true
        }
        if ok { _ = fdatasync(descriptor) }
        pending = []
    }

    /// The build is done (the index is written): the journal goes.
    func remove() { unlink(path) }

    private static func record(start: Int, count: Int, missing: Int, rows: [[Float]]) -> [UInt8] {
        var bytes: [UInt8] = []
        appendUInt32(&bytes, UInt32(start))
        appendUInt32(&bytes, UInt32(count))
        appendUInt32(&bytes, UInt32(missing))
        for r in rows { r.withUnsafeBytes { bytes += $0 } }
        var sum = FNV1a.hash(bytes: bytes).littleEndian
        withUnsafeBytes(of: &sum) { bytes += $0 }
        return bytes
    }
}

private func appendUInt32(_ bytes: inout [UInt8], _ v: UInt32) {
    var le = v.littleEndian
    withUnsafeBytes(of: &le) { bytes += $0 }
}

/// Reads little-endian values from a byte array; nil past its end.
private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, offset + n <= bytes.count else { return nil }
        defer { offset += n }
        return Array(bytes[offset ..< offset + n])
    }
    mutating func uint32() -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        defer { offset += 4 }
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }
    mutating func uint64() -> UInt64? {
        guard offset + 8 <= bytes.count else { return nil }
        defer { offset += 8 }
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
    }
    mutating func floats(_ n: Int) -> [Float]? {
        guard n >= 0, offset + 4 * n <= bytes.count else { return nil }
        defer { offset += 4 * n }
        return bytes.withUnsafeBytes { raw in
            (0 ..< n).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * $0, as: UInt32.self))) }
        }
    }
}
