import Imaging
import TOMLKit

/// A theme file that cannot be used: which file, which key, what is wrong.
public struct ThemeError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (as given to the parser or found on the search path).
    public var file: String
    /// The dotted key at fault (`roles.selection.fg`), nil for the whole file.
    public var key: String?
    public var message: String

    public init(file: String, key: String? = nil, message: String) {
        self.file = file; self.key = key; self.message = message
    }

    public var description: String {
        if let key { return "\(file): \(key): \(message)" }
        return "\(file): \(message)"
    }
}

extension Theme {
    /// The attribute names a theme file may use (`bold = true` in a role,
    /// `["bold", "reverse"]` in `[mono]`).
    public static let attributeNames = ["bold", "underline", "reverse", "dim"]

    /// Parses a theme file (format: see `Themes/dark.toml`). The theme is
    /// named after the file: `Themes/dusk.toml` is "dusk".
    ///
    /// Roles the file leaves out take styles derived from its foreground and
    /// background (`Theme.derived`); with `requireAllRoles` (for checking the
    /// shipped themes) a missing role is an error instead. Unknown keys,
    /// unknown role names, malformed colours and wrongly typed values are
    /// errors naming the file and the key.
    public static func parse(toml: String, file: String, requireAllRoles: Bool = false) throws(ThemeError) -> Theme {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: toml)
        } catch let error as TOMLParseError {
            throw ThemeError(file: file, message: "not valid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)")
        } catch {
            throw ThemeError(file: file, message: "not valid TOML: \(error)")
        }
        let reader = ThemeReader(file: file)
        return try reader.theme(from: table, requireAllRoles: requireAllRoles)
    }
}

/// Walks a parsed theme table, keeping the file name for error messages.
struct ThemeReader {
    let file: String

    func fail(_ key: String?, _ message: String) -> ThemeError { ThemeError(file: file, key: key, message: message) }

    func theme(from table: TOMLTable, requireAllRoles: Bool) throws(ThemeError) -> Theme {
        let topKeys = ["foreground", "background", "roles", "mono"]
        for key in table.keys where !topKeys.contains(key) {
            if key == "name" {
                throw fail(key, "a theme is named after its file (\(Self.baseName(of: file)).toml is \"\(Self.baseName(of: file))\"); remove this key")
            }
            throw fail(key, "unknown key; a theme has \(topKeys.joined(separator: ", "))")
        }
        let name = Self.baseName(of: file)
        let foreground = try requiredColor(table, "foreground", path: "foreground")
        let background = try requiredColor(table, "background", path: "background")
        var theme = Theme.derived(name: name, foreground: foreground, background: background)

        var defined = Set<Role>()
        if let value = table["roles"] {
            guard let roles = value.table else { throw fail("roles", "must be a table of roles ([roles.text], [roles.selection], ...)") }
            for key in roles.keys.sorted() {
                let path = "roles.\(key)"
                guard let role = Role(rawValue: key) else {
                    throw fail(path, "unknown role \"\(key)\"; the roles are \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                guard let entry = roles[key]?.table else { throw fail(path, "must be a table (fg, bg, bold, underline, reverse, dim)") }
                theme.roles[role] = try roleStyle(entry, path: path)
                defined.insert(role)
            }
        }
        if requireAllRoles {
            let missing = Role.allCases.filter { !defined.contains($0) }
            if !missing.isEmpty {
                throw fail("roles", "missing \(missing.map(\.rawValue).joined(separator: ", ")) (every role must be defined)")
            }
        }

        if let value = table["mono"] {
            guard let mono = value.table else { throw fail("mono", "must be a table of role = [attributes]") }
            for key in mono.keys.sorted() {
                let path = "mono.\(key)"
                guard let role = Role(rawValue: key) else {
                    throw fail(path, "unknown role \"\(key)\"; the roles are \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                guard let list = mono[key]?.array else {
                    throw fail(path, "must be a list of attributes, e.g. [\"bold\", \"reverse\"] (or [] for none)")
                }
                var style = RoleStyle()
                for item in list {
                    guard let attribute = item.string else { throw fail(path, "attributes are strings: \(Theme.attributeNames.joined(separator: ", "))") }
                    try set(attribute, in: &style, path: path)
                }
                theme.mono[role] = style
            }
        }
        return theme
    }

    func roleStyle(_ entry: TOMLTable, path: String) throws(ThemeError) -> RoleStyle {
        var style = RoleStyle()
        for key in entry.keys.sorted() {
            let keyPath = "\(path).\(key)"
            switch key {
            case "fg": style.fg = try color(entry[key]!, path: keyPath)
            case "bg": style.bg = try color(entry[key]!, path: keyPath)
            case "bold", "underline", "reverse", "dim":
                guard let on = entry[key]!.bool else { throw fail(keyPath, "must be true or false") }
                if on { try set(key, in: &style, path: keyPath) }
            default:
                throw fail(keyPath, "unknown key; a role has fg, bg, \(Theme.attributeNames.joined(separator: ", "))")
            }
        }
        return style
    }

    func set(_ attribute: String, in style: inout RoleStyle, path: String) throws(ThemeError) {
        switch attribute {
        case "bold": style.bold = true
        case "underline": style.underline = true
        case "reverse": style.reverse = true
        case "dim": style.dim = true
        default:
            throw fail(path, "unknown attribute \"\(attribute)\"; use \(Theme.attributeNames.joined(separator: ", "))")
        }
    }

    func requiredColor(_ table: TOMLTable, _ key: String, path: String) throws(ThemeError) -> RGB {
        guard let value = table[key] else { throw fail(path, "missing; give a #rrggbb colour") }
        return try color(value, path: path)
    }

    func color(_ value: TOMLValueConvertible, path: String) throws(ThemeError) -> RGB {
        guard let text = value.string else { throw fail(path, "must be a \"#rrggbb\" string, not a \(value.type)") }
        guard let rgb = Self.parseHex(text) else { throw fail(path, "\"\(text)\" is not a #rrggbb colour") }
        return rgb
    }

    /// Exactly `#` and six hex digits.
    static func parseHex(_ text: String) -> RGB? {
        let u = Array(text.utf8)
        guard u.count == 7, u[0] == UInt8(ascii: "#") else { return nil }
        var v: UInt32 = 0
        for c in u[1...] {
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        return RGB(UInt8(v >> 16), UInt8((v >> 8) & 0xff), UInt8(v & 0xff))
    }

    /// `Themes/dark.toml` -> `dark`.
    static func baseName(of path: String) -> String {
        let last = path.split(separator: "/").last.map(String.init) ?? path
        return last.hasSuffix(".toml") ? String(last.dropLast(5)) : last
    }
}
