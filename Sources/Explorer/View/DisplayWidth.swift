import CNcurses

/// Terminal column widths, measured with the C library's `wcwidth` (the same
/// table curses and most terminals use), never with `String.count`.
public enum DisplayWidth {
    /// Makes sure `wcwidth` knows Unicode: LC_CTYPE must name a UTF-8 locale.
    /// Called once by everything that measures; returns whether the user's own
    /// locale was already UTF-8.
    @discardableResult
    public static func prepareLocale() -> Bool { LocaleState.shared.userLocaleIsUTF8 }

    /// Columns a character takes: 0 (combining), 1 or 2 (East Asian wide, emoji).
    public static func of(_ ch: Character) -> Int {
        _ = LocaleState.shared
        let scalars = ch.unicodeScalars
        guard let first = scalars.first else { return 0 }
        let v = first.value
        if v < 0x7f { return v >= 0x20 ? 1 : 0 }
        var w = Int(vt_wcwidth(v))
        if w < 0 { w = 1 }   // unprintable here: the sanitiser replaces those before drawing
        // An emoji presentation selector makes the cluster wide.
        if w == 1, scalars.contains(where: { $0.value == 0xFE0F }) { w = 2 }
        return min(w, 2)
    }

    /// Columns a string takes.
    public static func of(_ s: String) -> Int { s.reduce(0) { $0 + of($1) } }

    /// The longest prefix of `s` that fits `columns`, with "…" when cut.
    public static func truncate(_ s: String, to columns: Int, ellipsis: String = "…") -> String {
        guard columns > 0 else { return "" }
        if of(s) <= columns { return s }
        let ew = of(ellipsis)
        var out = ""
        var used = 0
        for ch in s {
            let w = of(ch)
            if used + w > columns - ew { break }
            out.append(ch); used += w
        }
        return out + ellipsis
    }

    /// The longest suffix of `s` that fits `columns`, with "…" before it when cut: for text whose
    /// end matters most (a line being typed, with the cursor after it).
    public static func truncateLeading(_ s: String, to columns: Int, ellipsis: String = "…") -> String {
        guard columns > 0 else { return "" }
        if of(s) <= columns { return s }
        let ew = of(ellipsis)
        var kept: [Character] = []
        var used = 0
        for ch in s.reversed() {
            let w = of(ch)
            if used + w > columns - ew { break }
            kept.append(ch); used += w
        }
        return ellipsis + String(kept.reversed())
    }

    /// Pads with spaces (or cuts) to exactly `columns`.
    public static func pad(_ s: String, to columns: Int) -> String {
        let t = truncate(s, to: columns)
        return t + String(repeating: " ", count: max(0, columns - of(t)))
    }
}

final class LocaleState: @unchecked Sendable {
    static let shared = LocaleState()
    let userLocaleIsUTF8: Bool
    private init() {
        // Take the user's locale; if it is not UTF-8, measure with C.UTF-8 anyway
        // (drawing then falls back to ASCII, decided by the terminal back end).
        userLocaleIsUTF8 = vt_locale_init() != 0
    }
}
