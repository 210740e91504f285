import Support
import Foundation
import TOMLKit

/// A problem in the user's key file, with where it is and what to do.
public struct KeyMapError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }
}

/// Keys bound to actions: the registry's defaults with the user's overrides.
public struct KeyMap: Sendable, Equatable {
    /// Keys of every action, in the order shown.
    public private(set) var keys: [ActionID: [Key]]

    public init(overrides: [ActionID: [Key]] = [:]) {
        var k: [ActionID: [Key]] = [:]
        for a in ActionRegistry.all { k[a.id] = a.defaultKeys }
        for (id, ks) in overrides { k[id] = ks }
        keys = k
    }

    public func keys(for id: ActionID) -> [Key] { keys[id] ?? [] }

    /// The action a key triggers in a context: the context's own bindings first,
    /// then global ones (not while typing a filter, where keys are text).
    public func action(for key: Key, in context: ActionContext) -> ActionID? {
        let order: [ActionContext] = context.isTextEntry || context.isModal ? [context] : [context, .global]
        for ctx in order {
            for a in ActionRegistry.all where a.context == ctx {
                if keys(for: a.id).contains(key) { return a.id }
            }
        }
        return nil
    }

    /// Where the user's key file is looked for when none is named.
    public static var defaultPath: String {
        UserFolders().config + "/keys.toml"
    }

    /// Parses a key file:
    ///
    ///     [keys]
    ///     "move.down" = ["j", "down", "ctrl-n"]
    ///     "quit" = "Q"
    ///
    /// Unknown actions and key names are errors that name them.
    public static func parse(toml: String, file: String) throws -> KeyMap {
        let table: TOMLTable
        do { table = try TOMLTable(string: toml) } catch {
            throw KeyMapError(file: file, message: "not valid TOML (\(error)); see README, \"Key bindings\"")
        }
        guard let keysTable = table["keys"]?.table else {
            if table.keys.isEmpty { return KeyMap() }
            throw KeyMapError(file: file, message: "expected a [keys] table mapping action ids to key names")
        }
        var overrides: [ActionID: [Key]] = [:]
        for (name, value) in keysTable {
            guard let id = ActionID(rawValue: name) else {
                let known = ActionRegistry.all.map(\.id.rawValue).joined(separator: ", ")
                throw KeyMapError(file: file, message: "unknown action \"\(name)\"; known actions: \(known)")
            }
            var names: [String] = []
            if let s = value.string { names = [s] }
            else if let arr = value.array {
                for v in arr {
                    guard let s = v.string else { throw KeyMapError(file: file, message: "keys.\(name): every key must be a string") }
                    names.append(s)
                }
            } else {
                throw KeyMapError(file: file, message: "keys.\(name): expected a key name or a list of key names")
            }
            var ks: [Key] = []
            for n in names {
                guard let k = KeyName.parse(n) else {
                    throw KeyMapError(file: file, message: "keys.\(name): \"\(n)\" is not a key name (examples: j, G, ctrl-d, pgdn, enter, esc, f1, click, wheel-down)")
                }
                ks.append(k)
            }
            overrides[id] = ks
        }
        return KeyMap(overrides: overrides)
    }

    /// Loads the key file at `path`; a missing file at the default path means no overrides.
    public static func load(path: String?) throws -> KeyMap {
        let p = path ?? defaultPath
        guard FileManager.default.fileExists(atPath: p) else {
            if path != nil { throw KeyMapError(file: p, message: "no such file") }
            return KeyMap()
        }
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(p, kind: "key file", limit: 1 << 20)! } catch {
            throw KeyMapError(file: p, message: error.message)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw KeyMapError(file: p, message: "cannot read it as UTF-8 text")
        }
        return try parse(toml: text, file: p)
    }

    /// The README's key table (Markdown), generated from the registry.
    public func markdownTable() -> String {
        var out = "| context | keys | action | id |\n|---|---|---|---|\n"
        for a in ActionRegistry.all {
            let ks = keys(for: a.id).map { "`\(KeyName.format($0))`" }.joined(separator: " ")
            out += "| \(a.context.title) | \(ks) | \(describe(a)) | `\(a.id.rawValue)` |\n"
        }
        return out
    }

    /// An action's description with the keys it mentions (`{query.accept}`) named as this key
    /// map binds them: the action's first key, written by `name` ("(no key)" when it has none).
    public func describe(_ action: Action, name: (Key) -> String = KeyName.format) -> String {
        var out = ""
        var rest = Substring(action.description)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += rest[..<open]
            if let id = ActionID(rawValue: String(rest[rest.index(after: open)..<close])) {
                out += keys(for: id).first.map(name) ?? "(no key)"
            } else {
                out += rest[open...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
