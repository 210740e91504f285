import Foundation

/// Where Vitrine keeps a user's files, by the XDG Base Directory rules (docs/architecture.md §5):
/// `$XDG_CONFIG_HOME`, `$XDG_DATA_HOME`, `$XDG_CACHE_HOME` when set to an absolute path (the
/// specification says to ignore a relative one), else `~/.config`, `~/.local/share`, `~/.cache`.
/// Each folder returned ends in `vitrine`; none is created here.
public struct UserFolders: Sendable {
    public let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// `~/.config/vitrine`: themes, key bindings.
    public var config: String { base("XDG_CONFIG_HOME", ".config") + "/vitrine" }
    /// `~/.local/share/vitrine`: the flags store.
    public var data: String { base("XDG_DATA_HOME", ".local/share") + "/vitrine" }
    /// `~/.cache/vitrine`, or `$VITRINE_CACHE` when set: feature cache, gallery indexes.
    public var cache: String {
        if let custom = environment["VITRINE_CACHE"], !custom.isEmpty { return custom }
        return base("XDG_CACHE_HOME", ".cache") + "/vitrine"
    }

    /// The user's home folder: `$HOME` when absolute, else the password database's.
    public var home: String {
        if let home = environment["HOME"], home.hasPrefix("/") { return home }
        return NSHomeDirectory()
    }

    private func base(_ variable: String, _ fallback: String) -> String {
        if let value = environment[variable], value.hasPrefix("/") { return value }
        let home = home
        return (home.hasSuffix("/") ? String(home.dropLast()) : home) + "/" + fallback
    }
}
