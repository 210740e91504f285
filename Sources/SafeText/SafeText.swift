// Text from data (captions, labels, file names, paths) on its way out of the program: as a JSON
// string literal, or as plain text for a terminal. Either way no byte of data reaches a
// terminal as a control sequence.

/// Quoting and escaping for text that comes from data.
public enum SafeText {
    /// `text` as a JSON string literal (RFC 8259), quotes included.
    ///
    /// Escapes the quote, the backslash, every C0 control, DEL and every C1 control (U+0080 to
    /// U+009F: a terminal may take U+009B for CSI), and the line and paragraph separators
    /// U+2028 and U+2029 (line breaks to JavaScript), so that one JSON line is one line for
    /// every reader. Everything else is kept as UTF-8.
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
                if escapesInJSON(scalar) {
                    out += "\\u" + hex4(scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// JSON text (as `JSONEncoder` writes it) with DEL, the C1 controls and U+2028/U+2029
    /// escaped as well: `JSONEncoder` escapes only C0. Outside strings JSON holds none of these
    /// characters, so every one of them is inside a string and the escape keeps its value.
    public static func escapingControls(inJSON json: String) -> String {
        // JSONEncoder has already escaped C0 (and a quote or backslash must stay as it is).
        let left = { (scalar: Unicode.Scalar) in scalar.value >= 0x7F && escapesInJSON(scalar) }
        guard json.unicodeScalars.contains(where: left) else { return json }
        var out = ""
        out.reserveCapacity(json.utf8.count + 16)
        for scalar in json.unicodeScalars {
            if left(scalar) {
                out += "\\u" + hex4(scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` for a terminal line: newline, carriage return and tab as `\n`, `\r`, `\t`, other
    /// C0 and C1 controls and DEL as `\u{XX}`; everything else as it is.
    public static func terminal(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if isControl(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// What `jsonQuoted` writes as `\uXXXX`: controls and the JavaScript line breaks.
    @inline(__always)
    static func escapesInJSON(_ scalar: Unicode.Scalar) -> Bool {
        isControl(scalar) || scalar == "\u{2028}" || scalar == "\u{2029}"
    }

    /// C0 controls, DEL and C1 controls.
    @inline(__always)
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
