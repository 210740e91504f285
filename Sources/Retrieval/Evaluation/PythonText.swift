/// Text handling with the exact semantics of the Python 3 calls the official Product1M evaluation
/// script makes: `open(path).readlines()` (universal newlines), `str.strip()` and `str.split(sep)`.
///
/// Everything works on UTF-8 bytes and Unicode scalars, never on Swift `Character`s: Python
/// compares and splits strings code point by code point, while Swift's `String ==` treats
/// canonically equivalent strings (say a precomposed and a decomposed "é") as equal.
enum PythonText {
    /// The lines of `bytes` as `readlines()` returns them in text mode with `newline=None`:
    /// `\n`, `\r\n` and a lone `\r` all end a line; the terminator is dropped here; a final line
    /// without terminator is a line; a terminator at the very end does not start another line.
    static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        let n = bytes.count
        while i < n {
            let byte = bytes[i]
            if byte == 0x0A || byte == 0x0D {
                lines.append(bytes[start..<i])
                if byte == 0x0D && i + 1 < n && bytes[i + 1] == 0x0A { i += 1 }
                start = i + 1
            }
            i += 1
        }
        if start < n { lines.append(bytes[start..<n]) }
        return lines
    }

    /// Whether `Character(scalar).isspace()` would be true in Python 3: general category Zs or
    /// bidirectional class WS, B or S. The set is listed explicitly (it has been stable since
    /// Unicode 6.3): Swift's `Character.isWhitespace` differs from it (it leaves out U+001C...U+001F).
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `s.strip()`.
    static func strip(_ s: Substring) -> Substring {
        let scalars = s.unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end && isSpace(scalars[start]) { start = scalars.index(after: start) }
        while end > start {
            let before = scalars.index(before: end)
            if !isSpace(scalars[before]) { break }
            end = before
        }
        return Substring(scalars[start..<end])
    }

    /// `s.split(separator)` for a non-empty ASCII separator: every occurrence, left to right and
    /// non-overlapping, splits; empty pieces are kept (`"a,,b"` gives three pieces, `""` gives one).
    static func split(_ s: Substring, separator: String) -> [Substring] {
        let sep = Array(separator.utf8)
        precondition(!sep.isEmpty && sep.allSatisfy { $0 < 0x80 }, "split: the separator must be non-empty ASCII")
        let utf8 = s.utf8
        var pieces: [Substring] = []
        var pieceStart = utf8.startIndex
        var i = utf8.startIndex
        // Because the separator is ASCII, a byte-level match always falls on scalar boundaries.
        while i < utf8.endIndex {
            if utf8[i] == sep[0] && matches(utf8, at: i, sep) {
                pieces.append(Substring(utf8[pieceStart..<i]))
                i = utf8.index(i, offsetBy: sep.count)
                pieceStart = i
            } else {
                i = utf8.index(after: i)
            }
        }
        pieces.append(Substring(utf8[pieceStart..<utf8.endIndex]))
        return pieces
    }

    private static func matches(_ utf8: Substring.UTF8View, at start: Substring.UTF8View.Index, _ sep: [UInt8]) -> Bool {
        var i = start
        for byte in sep {
            guard i < utf8.endIndex, utf8[i] == byte else { return false }
            i = utf8.index(after: i)
        }
        return true
    }

    /// The line's bytes as a `String`, or nil when they are not valid UTF-8 (Python would raise
    /// `UnicodeDecodeError` reading such a file with the usual UTF-8 locale).
    static func decode(_ line: ArraySlice<UInt8>) -> String? {
        line.withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) }
    }
}

/// A string compared the way Python compares `str` keys: by code points (here: by their UTF-8
/// bytes, which is equivalent), so canonically equivalent but different strings stay different.
struct CodePointKey: Hashable, Sendable {
    let bytes: [UInt8]
    init(_ string: some StringProtocol) { bytes = Array(string.utf8) }
}
