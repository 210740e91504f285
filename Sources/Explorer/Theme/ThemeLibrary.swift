import Support
import Foundation
import Imaging

/// Finds and loads theme files.
///
/// Themes are `<name>.toml` files in the search path, earlier folders first:
/// 1. `$VITRINE_THEMES` (one folder, or several separated by `:`),
/// 2. `$XDG_CONFIG_HOME/vitrine/themes` (default `~/.config/vitrine/themes`),
/// 3. the `Themes/` folder of Vitrine's installation, found from the executable
///    (`Installation`: the checkout, or `<prefix>/share/vitrine/Themes`), never
///    from the working directory.
/// A theme in an earlier folder hides one of the same name in a later one,
/// so users override a shipped theme by copying it to their config folder.
public struct ThemeLibrary: Sendable {
    /// Folders searched for themes, in order (the first two whether or not
    /// they exist, so that messages can say where a theme could go).
    public static func searchPaths() -> [String] {
        let env = ProcessInfo.processInfo.environment
        var paths: [String] = []
        if let custom = env["VITRINE_THEMES"], !custom.isEmpty {
            paths += custom.split(separator: ":").map { String($0) }.filter { !$0.isEmpty }
        }
        paths.append(UserFolders(environment: env).config + "/themes")
        if let shipped = Installation.folder("Themes", environment: env) {
            paths.append(shipped)
        }
        var seen = Set<String>()
        return paths.map { ($0 as NSString).standardizingPath }.filter { seen.insert($0).inserted }
    }

    /// The names of the themes in `searchPaths()`, sorted, "dark" first: the
    /// order in which the explorer cycles through them. Never empty: with no
    /// theme file anywhere it is `[builtinFallback.name]`.
    public static func available() -> [String] { ThemeLibrary(searchPaths: searchPaths()).available() }

    /// Loads a theme by name (searched in `searchPaths()`) or by path (anything
    /// with a `/` or ending in `.toml`).
    public static func load(_ nameOrPath: String) throws(ThemeError) -> Theme {
        try ThemeLibrary(searchPaths: searchPaths()).load(nameOrPath)
    }

    /// The folders this library searches, earlier first.
    public let paths: [String]

    /// A library over given folders (the static functions use `searchPaths()`).
    public init(searchPaths: [String]) { self.paths = searchPaths }

    /// The names of the themes in `paths`, sorted, "dark" first; never empty
    /// (`[builtinFallback.name]` when there are none).
    public func available() -> [String] {
        var names = Set<String>()
        for dir in paths { names.formUnion(Self.themeNames(in: dir)) }
        if names.isEmpty { return [Self.builtinFallback.name] }
        return names.sorted { a, b in
            if a == "dark" || b == "dark" { return a == "dark" && b != "dark" }
            return a < b
        }
    }

    /// Loads a theme by name (the first `<name>.toml` in `paths`) or by path
    /// (anything with a `/` or ending in `.toml`). The name of the built-in
    /// fallback loads it when no file of that name exists.
    public func load(_ nameOrPath: String) throws(ThemeError) -> Theme {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".toml") {
            return try Self.loadFile(nameOrPath)
        }
        for dir in paths {
            let file = dir + "/" + nameOrPath + ".toml"
            if FileManager.default.isReadableFile(atPath: file) { return try Self.loadFile(file) }
        }
        if nameOrPath == Self.builtinFallback.name { return Self.builtinFallback }
        throw ThemeError(file: nameOrPath + ".toml", message:
            "no theme named \"\(nameOrPath)\"; available: \(available().joined(separator: ", ")) (searched \(paths.isEmpty ? "nowhere" : paths.joined(separator: ", ")))")
    }

    /// A plain dark theme used only when no theme file can be found at all.
    public static let builtinFallback: Theme = {
        var theme = Theme.derived(name: "builtin", foreground: RGB(0xd0, 0xd4, 0xdc), background: RGB(0x16, 0x18, 0x1d))
        theme.roles[.title] = RoleStyle(fg: RGB(0x82, 0xb8, 0xff), bold: true)
        theme.roles[.selection] = RoleStyle(fg: RGB(0xff, 0xff, 0xff), bg: RGB(0x2a, 0x4d, 0x78), bold: true)
        theme.roles[.accent] = RoleStyle(fg: RGB(0xf2, 0xb3, 0x5e), bold: true)
        theme.roles[.error] = RoleStyle(fg: RGB(0xff, 0x7b, 0x7b), bold: true)
        return theme
    }()

    // MARK: - Helpers

    static func loadFile(_ path: String) throws(ThemeError) -> Theme {
        let bytes: [UInt8]
        do {
            bytes = try RegularFile.read(path, kind: "theme file", limit: 1 << 20)!
        } catch {
            throw ThemeError(file: path, message: error.message)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ThemeError(file: path, message: "cannot be read as UTF-8 text")
        }
        return try Theme.parse(toml: text, file: path)
    }

    static func themeNames(in dir: String) -> [String] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return entries.filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }
    }
}
