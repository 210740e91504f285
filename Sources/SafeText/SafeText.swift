// Text from data (captions, labels, ids, file names, paths, messages that quote them) on its way out
// of the program: as a JSON string literal, as plain text for a terminal, or as inert characters
// for the explorer's screen. Every form uses one rule (`SafeText.isUnsafe`), so no byte of data
// reaches a terminal as a control sequence through any path.

#if canImport(Glibc)
import Glibc
#endif

/// Quoting and escaping for text that comes from data: the one rule and its three renderings.
public enum SafeText {
    /// The one rule: the characters that never reach a terminal as themselves.
    ///
    /// C0 controls, DEL and C1 controls (U+0080 to U+009F: a terminal may take U+009B for CSI), the
    /// line and paragraph separators U+2028 and U+2029, the bidirectional controls that reorder
    /// what a line seems to say (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), the
    /// interlinear annotation controls U+FFF9 to U+FFFB and the tag characters U+E0000 to U+E007F.
    @inline(__always)
    public static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x20 || (0x7F ... 0x9F).contains(v) { return true }
        if v < 0x61C { return false }
        switch v {
        case 0x061C, 0x200E, 0x200F, 0x202A ... 0x202E, 0x2066 ... 0x2069, 0x2028, 0x2029,
             0xFFF9 ... 0xFFFB, 0xE0000 ... 0xE007F:
            return true
        default:
            return false
        }
    }

    /// `text` as a JSON string literal (RFC 8259), quotes included: the quote, the backslash and
    /// every unsafe character escaped (so one JSON line is one line for every reader, and a JSON
    /// document printed to a terminal is inert); everything else kept as UTF-8.
    public static func jsonQuoted(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if isUnsafe(scalar) {
                    appendJSONEscape(scalar, to: &out)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// JSON text (as `JSONEncoder` writes it) with the unsafe characters `JSONEncoder` leaves
    /// (it escapes only C0) escaped as well. Outside strings JSON holds none of them, so every one
    /// is inside a string and the escape keeps its value.
    public static func escapingControls(inJSON json: String) -> String {
        // Line feed, carriage return and tab cannot stand raw inside a JSON string, so where they
        // appear they are the document's own whitespace (pretty-printing) and stay.
        let escaped = { (scalar: Unicode.Scalar) in scalar != "\n" && scalar != "\r" && scalar != "\t" && isUnsafe(scalar) }
        guard json.unicodeScalars.contains(where: escaped) else { return json }
        var out = ""
        out.reserveCapacity(json.utf8.count + 16)
        for scalar in json.unicodeScalars {
            if escaped(scalar) {
                appendJSONEscape(scalar, to: &out)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` for a terminal line: newline, carriage return and tab as `\n`, `\r`, `\t`, every
    /// other unsafe character as `\u{XX}`; everything else as it is.
    public static func terminal(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isUnsafe) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars { appendTerminalEscape(scalar, to: &out) }
        return out
    }

    /// `text` quoted for a message ('…'), escaped as by `terminal`, cut to `limit` characters
    /// with an ellipsis: what error messages use to show a piece of data.
    public static func quoted(_ text: String, limit: Int = 40) -> String {
        var out = "'"
        var n = 0
        for scalar in text.unicodeScalars {
            if n == limit {
                out += "…"
                break
            }
            appendTerminalEscape(scalar, to: &out)
            n += 1
        }
        return out + "'"
    }

    /// Text for a screen that we lay out ourselves (the explorer): one inert character for each
    /// unsafe one, so widths stay predictable. Tab, newline and carriage return become a space,
    /// other C0 controls their Unicode control picture (␛ for ESC), DEL ␡, the rest U+FFFD. With
    /// `ascii`, everything outside ASCII becomes "?".
    public static func inert(_ text: String, ascii: Bool = false) -> String {
        if !ascii, !text.unicodeScalars.contains(where: isUnsafe) { return text }
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if isUnsafe(u) {
                switch u.value {
                case 0x09, 0x0A, 0x0D: out.append(" ")
                case 0x00 ..< 0x20: out.append(ascii ? "?" : Unicode.Scalar(0x2400 + u.value)!)
                case 0x7F: out.append(ascii ? "?" : "\u{2421}")
                default: out.append(ascii ? "?" : "\u{FFFD}")
                }
            } else if ascii && u.value >= 0x80 {
                out.append("?")
            } else {
                out.append(u)
            }
        }
        return String(out)
    }

    /// Multi-line text that our own code laid out (tables, reports) with data inside: line feeds
    /// are kept as line breaks, every other unsafe character is escaped as by `terminal`. Data
    /// fields should still go through `terminal` where they are put in, so that a line feed inside
    /// a field cannot start a line of its own; this is the last line of defence at the sink.
    /// With `keepingCRLF`, a carriage return right before a line feed is kept too (CSV's line
    /// ends).
    public static func terminalLines(_ text: String, keepingCRLF: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { $0 != "\n" && isUnsafe($0) }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        var scalars = text.unicodeScalars.makeIterator()
        var next = scalars.next()
        while let scalar = next {
            next = scalars.next()
            if scalar == "\n" || (keepingCRLF && scalar == "\r" && next == "\n") {
                out.unicodeScalars.append(scalar)
            } else {
                appendTerminalEscape(scalar, to: &out)
            }
        }
        return out
    }

    @inline(__always)
    static func appendTerminalEscape(_ scalar: Unicode.Scalar, to out: inout String) {
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if isUnsafe(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }

    @inline(__always)
    static func appendJSONEscape(_ scalar: Unicode.Scalar, to out: inout String) {
        if scalar.value > 0xFFFF {
            // Outside the BMP: a UTF-16 surrogate pair, as JSON requires.
            let v = scalar.value - 0x10000
            out += "\\u" + hex4(0xD800 + (v >> 10)) + "\\u" + hex4(0xDC00 + (v & 0x3FF))
        } else {
            out += "\\u" + hex4(scalar.value)
        }
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// Where every subcommand's output goes: standard output and standard error through
/// `SafeText`'s rule. Text is written with `terminalLines` (our line breaks kept, anything else
/// unsafe escaped), JSON with `escapingControls(inJSON:)`, progress lines with the one control
/// sequence we send ourselves (carriage return and erase-line) around escaped text.
public enum Console {
    /// A line (or several) of text on standard output.
    public static func out(_ text: String, terminator: String = "\n") {
        write(SafeText.terminalLines(text) + terminator, to: 1)
    }

    /// A line (or several) of text on standard error.
    public static func error(_ text: String, terminator: String = "\n") {
        write(SafeText.terminalLines(text) + terminator, to: 2)
    }

    /// A JSON document (or one JSON line) on standard output.
    public static func json(_ text: String) {
        write(SafeText.escapingControls(inJSON: text) + "\n", to: 1)
    }

    /// A file format (a CSV or JSON-lines export) on standard output. Into a pipe or a file the
    /// bytes go exactly as the format has them, so `> file` gives the same file as `--out file`;
    /// on a terminal the line ends (LF or CRLF) are kept and every other unsafe character is
    /// escaped, as for text.
    public static func exportBytes(_ bytes: [UInt8]) {
        if isatty(1) == 0 {
            bytes.withUnsafeBufferPointer { writeAll($0, to: 1) }
            return
        }
        write(SafeText.terminalLines(String(decoding: bytes, as: UTF8.self), keepingCRLF: true), to: 1)
    }

    /// A progress line on standard error: overwrites the current line (carriage return and
    /// erase-line are ours; the text is escaped).
    public static func progress(_ line: String, terminal: Bool) {
        guard terminal else { return }
        write("\r\u{1B}[K" + SafeText.terminal(line), to: 2)
    }

    /// Ends a progress line: the final text on the same line (on a terminal) and a line feed.
    public static func finishProgress(_ line: String, terminal: Bool) {
        write((terminal ? "\r\u{1B}[K" : "") + SafeText.terminal(line) + "\n", to: 2)
    }

    private static func write(_ text: String, to descriptor: Int32) {
        var text = text
        text.withUTF8 { writeAll($0, to: descriptor) }
    }

    private static func writeAll(_ buffer: UnsafeBufferPointer<UInt8>, to descriptor: Int32) {
        var done = 0
        while done < buffer.count {
            let n = Glibc.write(descriptor, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            done += n
        }
    }
}
