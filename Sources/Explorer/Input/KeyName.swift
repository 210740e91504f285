/// Key names as written in the key map file, the help overlay and the README:
/// `j`, `G`, `?`, `space`, `enter`, `esc`, `tab`, `shift-tab`, `up`, `pgdn`,
/// `home`, `ctrl-d`, `alt-x`, `f1`; the mouse as `click`, `wheel-up`, `wheel-down`.
public enum KeyName {
    private static let named: [(String, Key)] = [
        ("up", .up), ("down", .down), ("left", .left), ("right", .right),
        ("pgup", .pageUp), ("pgdn", .pageDown), ("home", .home), ("end", .end),
        ("enter", .enter), ("esc", .escape), ("backspace", .backspace), ("delete", .delete),
        ("insert", .insert), ("tab", .tab), ("shift-tab", .backTab), ("space", .char(" ")),
        ("click", .click), ("wheel-up", .wheelUp), ("wheel-down", .wheelDown),
    ]

    /// The canonical name of a key.
    public static func format(_ key: Key) -> String {
        if let n = named.first(where: { $0.1 == key }) { return n.0 }
        switch key {
        case .char(let c): return String(c)
        case .ctrl(let c): return "ctrl-\(c)"
        case .alt(let c): return "alt-\(c)"
        case .function(let n): return "f\(n)"
        default: return "?"
        }
    }

    /// A short form for footers and help: arrows as symbols when Unicode is on.
    public static func display(_ key: Key, unicode: Bool) -> String {
        guard unicode else { return format(key) }
        switch key {
        case .up: return "↑"
        case .down: return "↓"
        case .left: return "←"
        case .right: return "→"
        case .enter: return "⏎"
        default: return format(key)
        }
    }

    /// A key's name safe to quote in a message: `format`, except that a character that would
    /// not show (a space, a zero-width or format character, a control) is written `U+XXXX`.
    public static func quoted(_ key: Key) -> String {
        guard case .char(let c) = key, format(key) == String(c) else { return format(key) }
        let invisible = c.unicodeScalars.contains { s in
            switch s.properties.generalCategory {
            case .control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator,
                 .nonspacingMark, .enclosingMark, .spacingMark, .privateUse, .surrogate, .unassigned: return true
            default: return false
            }
        } || DisplayWidth.of(c) == 0
        guard invisible else { return format(key) }
        return c.unicodeScalars.map { s in
            let hex = String(s.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }.joined(separator: " ")
    }

    /// Parses a key name; nil when it is not one.
    public static func parse(_ text: String) -> Key? {
        let s = text.trimmingCharacters(in: .whitespaces)
        let lower = s.lowercased()
        if let n = named.first(where: { $0.0 == lower }) { return n.1 }
        if lower == "pageup" { return .pageUp }
        if lower == "pagedown" { return .pageDown }
        if lower == "return" { return .enter }
        if lower == "escape" { return .escape }
        if lower.hasPrefix("ctrl-"), s.count == 6, let c = lower.last, c.isLetter, c.isASCII { return .ctrl(c) }
        if lower.hasPrefix("alt-"), s.count == 5, let c = s.last { return .alt(c) }
        if lower.hasPrefix("f"), s.count > 1, let n = Int(lower.dropFirst()), (1...12).contains(n) { return .function(n) }
        if s.count == 1, let c = s.first, !c.isWhitespace, c.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) {
            return .char(c)
        }
        return nil
    }
}

import Foundation
