/// A JSON value as found on one line of a `captions.jsonl` file. Numbers keep their literal text
/// (an id written as `100001` stays "100001").
enum JSONValue {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    var typeName: String {
        switch self {
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

struct JSONLineError: Error {
    /// 1-based column (in bytes) where the problem was found.
    let column: Int
    let message: String
}

/// A small strict JSON (RFC 8259) parser for one line's bytes. Strings are validated as UTF-8 field by
/// field; `\u` escapes, surrogate pairs included, are decoded. Nesting deeper than 64 is refused so a
/// hostile line cannot exhaust the stack.
struct JSONLineParser {
    private let text: ByteText
    private var pos: Int
    private let end: Int
    private let lineStart: Int
    private var scratch: [UInt8] = []

    private static let maxDepth = 64

    init(_ text: ByteText, _ range: ByteRange) {
        self.text = text
        self.pos = range.start
        self.end = range.end
        self.lineStart = range.start
    }

    /// Parses the whole range as one value.
    mutating func parseDocument() throws(JSONLineError) -> JSONValue {
        let value = try parseValue(depth: 0)
        skipSpace()
        if pos < end { throw fail("unexpected \(describeHere()) after the JSON value") }
        return value
    }

    // MARK: Values

    private mutating func parseValue(depth: Int) throws(JSONLineError) -> JSONValue {
        skipSpace()
        guard pos < end else { throw fail("unexpected end of line, expected a value") }
        switch text.base[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail("unexpected \(describeHere()), expected a value")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONLineError) -> JSONValue {
        if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth) levels") }
        pos += 1  // {
        var members: [String: JSONValue] = [:]
        skipSpace()
        if pos < end && text.base[pos] == UInt8(ascii: "}") {
            pos += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard pos < end, text.base[pos] == UInt8(ascii: "\"") else {
                throw fail("expected a quoted key, found \(describeHere())")
            }
            let key = try parseString()
            skipSpace()
            guard pos < end, text.base[pos] == UInt8(ascii: ":") else {
                throw fail("expected ':' after key \(quoted(key)), found \(describeHere())")
            }
            pos += 1
            members[key] = try parseValue(depth: depth)  // a repeated key: the last one wins
            skipSpace()
            guard pos < end else { throw fail("unexpected end of line inside an object") }
            let c = text.base[pos]
            pos += 1
            if c == UInt8(ascii: "}") { return .object(members) }
            if c != UInt8(ascii: ",") {
                pos -= 1
                throw fail("expected ',' or '}' in an object, found \(describeHere())")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONLineError) -> JSONValue {
        if depth > Self.maxDepth { throw fail("nesting deeper than \(Self.maxDepth) levels") }
        pos += 1  // [
        var elements: [JSONValue] = []
        skipSpace()
        if pos < end && text.base[pos] == UInt8(ascii: "]") {
            pos += 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue(depth: depth))
            skipSpace()
            guard pos < end else { throw fail("unexpected end of line inside an array") }
            let c = text.base[pos]
            pos += 1
            if c == UInt8(ascii: "]") { return .array(elements) }
            if c != UInt8(ascii: ",") {
                pos -= 1
                throw fail("expected ',' or ']' in an array, found \(describeHere())")
            }
        }
    }

    private mutating func parseString() throws(JSONLineError) -> String {
        pos += 1  // opening quote
        let start = pos
        // Fast path: no escapes, the bytes are the string.
        while pos < end {
            let c = text.base[pos]
            if c == UInt8(ascii: "\"") {
                let range = ByteRange(start: start, end: pos)
                pos += 1
                guard let s = text.validString(range) else {
                    throw JSONLineError(column: start - lineStart + 1, message: "invalid UTF-8 in a string")
                }
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw fail("control character \(c) inside a string (write it as an escape)") }
            pos += 1
        }
        guard pos < end else { throw JSONLineError(column: start - lineStart, message: "unterminated string") }

        // Slow path: copy into scratch, decoding escapes.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: text.buffer(ByteRange(start: start, end: pos)))
        while pos < end {
            let c = text.base[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                guard let s = String(validating: scratch, as: UTF8.self) else {
                    throw JSONLineError(column: start - lineStart + 1, message: "invalid UTF-8 in a string")
                }
                return s
            }
            if c < 0x20 { throw fail("control character \(c) inside a string (write it as an escape)") }
            if c != UInt8(ascii: "\\") {
                scratch.append(c)
                pos += 1
                continue
            }
            pos += 1
            guard pos < end else { break }
            let e = text.base[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(e)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0C)
            case UInt8(ascii: "n"): scratch.append(0x0A)
            case UInt8(ascii: "r"): scratch.append(0x0D)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"): appendUTF8(try parseUnicodeEscape())
            default:
                pos -= 1
                throw fail("unknown escape '\\\(Character(Unicode.Scalar(e)))' in a string")
            }
        }
        throw JSONLineError(column: start - lineStart, message: "unterminated string")
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uXXXX` low surrogate that must follow.
    private mutating func parseUnicodeEscape() throws(JSONLineError) -> Unicode.Scalar {
        let first = try hex4()
        if (0xD800...0xDBFF).contains(first) {
            guard pos + 1 < end, text.base[pos] == UInt8(ascii: "\\"), text.base[pos + 1] == UInt8(ascii: "u") else {
                throw fail("unpaired surrogate \\u\(String(first, radix: 16)) in a string")
            }
            pos += 2
            let second = try hex4()
            guard (0xDC00...0xDFFF).contains(second) else {
                throw fail("unpaired surrogate \\u\(String(first, radix: 16)) in a string")
            }
            let value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            return Unicode.Scalar(value)!  // 0x10000...0x10FFFF is always a scalar
        }
        guard let scalar = Unicode.Scalar(first) else {
            throw fail("unpaired surrogate \\u\(String(first, radix: 16)) in a string")
        }
        return scalar
    }

    private mutating func hex4() throws(JSONLineError) -> UInt32 {
        guard pos + 4 <= end else { throw fail("incomplete \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = text.base[pos]
            let digit: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = c - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape: '\(Character(Unicode.Scalar(c)))' is not a hex digit")
            }
            value = value << 4 | UInt32(digit)
            pos += 1
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: Unicode.Scalar) {
        for unit in UTF8.encode(scalar)! { scratch.append(unit) }
    }

    private mutating func parseNumber() throws(JSONLineError) -> String {
        let start = pos
        if text.base[pos] == UInt8(ascii: "-") { pos += 1 }
        guard digits() > 0 else { throw fail("invalid number") }
        if pos < end && text.base[pos] == UInt8(ascii: ".") {
            pos += 1
            guard digits() > 0 else { throw fail("invalid number: digits expected after '.'") }
        }
        if pos < end && (text.base[pos] == UInt8(ascii: "e") || text.base[pos] == UInt8(ascii: "E")) {
            pos += 1
            if pos < end && (text.base[pos] == UInt8(ascii: "+") || text.base[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard digits() > 0 else { throw fail("invalid number: digits expected in the exponent") }
        }
        return text.string(ByteRange(start: start, end: pos))
    }

    private mutating func digits() -> Int {
        let start = pos
        while pos < end && ASCII.isDigit(text.base[pos]) { pos += 1 }
        return pos - start
    }

    private mutating func literal(_ word: StaticString) throws(JSONLineError) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= end, memcmpEqual(word.utf8Start, n) else {
            throw fail("unexpected \(describeHere()), expected a value")
        }
        pos += n
    }

    private func memcmpEqual(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        for i in 0..<n where text.base[pos + i] != p[i] { return false }
        return true
    }

    private mutating func skipSpace() {
        while pos < end {
            let c = text.base[pos]
            guard c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D else { return }
            pos += 1
        }
    }

    private func describeHere() -> String {
        guard pos < end else { return "end of line" }
        let c = text.base[pos]
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x\(String(c, radix: 16))"
    }

    private func fail(_ message: String) -> JSONLineError {
        JSONLineError(column: pos - lineStart + 1, message: message)
    }
}
