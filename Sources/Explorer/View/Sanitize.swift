/// Makes text from data (captions, labels, file names) safe to draw: no
/// control byte or escape sequence ever reaches the terminal.
public enum Sanitize {
    /// Replaces C0/C1 controls, DEL and bidirectional overrides with visible
    /// stand-ins (Unicode control pictures), tabs and newlines with a space.
    public static func display(_ s: String, ascii: Bool = false) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u.value {
            case 0x09, 0x0A, 0x0D: out.append(" ")
            case 0x00..<0x20: out.append(Unicode.Scalar(0x2400 + u.value)!)   // ␛ for ESC, ...
            case 0x7F: out.append("\u{2421}")                                  // ␡
            case 0x80..<0xA0: out.append("\u{FFFD}")                           // C1 controls
            case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x061C:     // bidi controls
                out.append("\u{FFFD}")
            case 0xFFF9...0xFFFB, 0xE0000...0xE007F: out.append("\u{FFFD}")
            default:
                if ascii && u.value >= 0x80 { out.append("?") } else { out.append(u) }
            }
        }
        if ascii {
            // Control pictures and U+FFFD are not ASCII either.
            return String(String.UnicodeScalarView(out.map { $0.value < 0x80 ? $0 : "?" }))
        }
        return String(out)
    }
}
