import Support
import SafeText
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Byte-level helpers shared by the loaders: whole-file reads, line and separator scanning, trimming,
// label interning and safe quoting of data in messages. Everything here works on raw UTF-8 bytes so a
// file is never turned into one big String.

/// The largest split or captions file read (Product1M's largest is under 300 MB).
let maxDatasetFileBytes = 8 << 30

/// Reads a whole dataset file into memory in one go. Only a regular file is read (a FIFO or a
/// symbolic link to /dev/zero is refused at once, never waited on or read without end), and at
/// most `maxDatasetFileBytes`.
func readFileBytes(_ path: String) throws -> [UInt8] {
    do {
        return try RegularFile.read(path, kind: "dataset file", limit: maxDatasetFileBytes)!
    } catch {
        throw unreadableFile(path, error)
    }
}

/// The error for a dataset file that cannot be opened or read.
func unreadableFile(_ path: String, _ error: SupportFileError) -> CatalogError {
    CatalogError(kind: .unreadableFile, path: path, message: "cannot read \(path): \(error.message)")
}

/// The process's working directory ("/" if it cannot be read).
func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return "/" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Kind of a filesystem entry, without following the caller into Foundation.
enum EntryKind { case missing, file, folder, other }

func entryKind(_ path: String) -> EntryKind {
    var info = stat()
    guard stat(path, &info) == 0 else { return .missing }
    switch info.st_mode & S_IFMT {
    case S_IFDIR: return .folder
    case S_IFREG: return .file
    default: return .other
    }
}

/// The names in a folder (not `.` and `..`), read with one `readdir` pass; empty when it cannot be opened.
func folderEntries(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let length = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[..<length]), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

// MARK: - Scanning

enum ASCII {
    static let newline: UInt8 = 0x0A
    static let tab: UInt8 = 0x09
    static let hash: UInt8 = 0x23       // '#'
    static let semicolon: UInt8 = 0x3B  // ';'

    @inline(__always)
    static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || (b >= 0x09 && b <= 0x0D)
    }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
}

/// A half-open byte range in a file buffer.
struct ByteRange {
    var start: Int
    var end: Int
    var count: Int { end - start }
    var isEmpty: Bool { start >= end }
}

/// Read-only view of a file's bytes with the scanning primitives the loaders need.
/// Valid only inside `withUnsafeBufferPointer` of the array it came from.
struct ByteText {
    let base: UnsafePointer<UInt8>
    let count: Int

    /// Index of the first `byte` in `from..<to`, or `to`.
    @inline(__always)
    func find(_ byte: UInt8, from: Int, to: Int) -> Int {
        guard from < to, let hit = memchr(base + from, Int32(byte), to - from) else { return to }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
    }

    /// Index of the leftmost `#####` in `from..<to`, or `to` (the same match Python's `str.split` finds).
    @inline(__always)
    func findFieldSeparator(from: Int, to: Int) -> Int {
        var i = from
        while true {
            let h = find(ASCII.hash, from: i, to: to)
            if h + 5 > to { return to }
            if base[h + 1] == ASCII.hash && base[h + 2] == ASCII.hash && base[h + 3] == ASCII.hash
                && base[h + 4] == ASCII.hash {
                return h
            }
            i = h + 1
        }
    }

    /// Index of the leftmost `#;#` in `from..<to`, or `to`.
    @inline(__always)
    func findLabelSeparator(from: Int, to: Int) -> Int {
        var i = from
        while true {
            let h = find(ASCII.hash, from: i, to: to)
            if h + 3 > to { return to }
            if base[h + 1] == ASCII.semicolon && base[h + 2] == ASCII.hash { return h }
            i = h + 1
        }
    }

    /// The range without ASCII whitespace at either end.
    @inline(__always)
    func trimmed(_ r: ByteRange) -> ByteRange {
        var s = r.start, e = r.end
        while s < e && ASCII.isSpace(base[s]) { s += 1 }
        while e > s && ASCII.isSpace(base[e - 1]) { e -= 1 }
        return ByteRange(start: s, end: e)
    }

    /// The range without ASCII whitespace other than tabs at either end (tabs separate TSV fields,
    /// so a trailing tab before an empty last field must stay).
    @inline(__always)
    func trimmedKeepingTabs(_ r: ByteRange) -> ByteRange {
        var s = r.start, e = r.end
        while s < e && ASCII.isSpace(base[s]) && base[s] != ASCII.tab { s += 1 }
        while e > s && ASCII.isSpace(base[e - 1]) && base[e - 1] != ASCII.tab { e -= 1 }
        return ByteRange(start: s, end: e)
    }

    @inline(__always)
    func buffer(_ r: ByteRange) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: base + r.start, count: r.count)
    }

    /// The bytes as a String, or nil when they are not valid UTF-8.
    @inline(__always)
    func validString(_ r: ByteRange) -> String? {
        String(validating: buffer(r), as: UTF8.self)
    }

    /// The bytes as a String, invalid sequences replaced (for messages; use only on bytes known to be ASCII/valid).
    @inline(__always)
    func string(_ r: ByteRange) -> String {
        String(decoding: buffer(r), as: UTF8.self)
    }

    func allDigits(_ r: ByteRange) -> Bool {
        var i = r.start
        while i < r.end {
            if !ASCII.isDigit(base[i]) { return false }
            i += 1
        }
        return true
    }

    func equal(_ a: ByteRange, _ b: ByteRange) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(base + a.start, base + b.start, a.count) == 0)
    }

    /// Calls `body(lineNumber, range)` for each line that is not blank, with the range trimmed of
    /// whitespace (including a CR before LF; tabs too unless `keepTabs`) and, on line 1, of a UTF-8 byte
    /// order mark. Line numbers are 1-based and count blank lines. `body` returns false to stop.
    @inline(__always)
    func forEachLine(keepTabs: Bool = false, _ body: (Int, ByteRange) throws -> Bool) rethrows {
        var start = 0, number = 0
        if count >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { start = 3 }
        while start < count {
            let nl = find(ASCII.newline, from: start, to: count)
            number += 1
            let raw = ByteRange(start: start, end: nl)
            start = nl + 1
            let line = trimmed(raw)
            if line.isEmpty { continue }
            if try !body(number, keepTabs ? trimmedKeepingTabs(raw) : line) { return }
        }
    }
}

// MARK: - Interning

/// A key that points into the file buffer being parsed: lets label lookups hash raw bytes without
/// allocating a String for labels that were seen before.
private struct BorrowedBytes: Hashable {
    let pointer: UnsafePointer<UInt8>
    let count: Int

    static func == (a: BorrowedBytes, b: BorrowedBytes) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.pointer, b.pointer, a.count) == 0)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(bytes: UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

/// Gives every distinct label one shared String, so a million samples that carry the same few hundred
/// labels hold references to the same storage. Lives only while its file buffer is alive.
struct LabelInterner {
    private var table: [BorrowedBytes: String] = [:]

    /// The shared String for these bytes, or nil when they are not valid UTF-8. Bytes seen before
    /// cost a hash and a compare, no allocation and no second validation.
    mutating func intern(_ text: ByteText, _ r: ByteRange) -> String? {
        let key = BorrowedBytes(pointer: text.base + r.start, count: r.count)
        if let known = table[key] { return known }
        guard let s = text.validString(r) else { return nil }
        table[key] = s
        return s
    }
}

/// Interning for Strings that do not come from a file buffer (JSON values after unescaping).
struct StringInterner {
    private var table: [String: String] = [:]

    mutating func intern(_ s: String) -> String {
        if let known = table[s] { return known }
        table[s] = s
        return s
    }
}

// MARK: - Messages

/// Data quoted in a message: at most `limit` characters, escaped by SafeText's one rule, so a
/// file's bytes never reach a terminal as control sequences through an error message.
func quoted(_ s: String, limit: Int = 40) -> String { SafeText.quoted(s, limit: limit) }

/// Quoted raw bytes that may not be valid UTF-8 (invalid sequences shown as U+FFFD).
func quoted(_ text: ByteText, _ r: ByteRange, limit: Int = 40) -> String {
    quoted(text.string(r), limit: limit)
}
