import Foundation
import Glibc

/// Where the files that ship with Vitrine are: `Weights/`, `SampleData/`, `Themes/`
/// (docs/architecture.md §5).
///
/// They are found from the running executable, never from the working directory, so a `vitrine`
/// run from any folder finds its own installation and nothing a folder above the user happens to
/// hold:
/// 1. `$VITRINE_HOME`, when set: the folder that holds them;
/// 2. a checkout: the executable lies in the checkout's build folder (`.build/…/vitrine`,
///    `.build-NAME/…/vitrine`), so the folder that holds that build folder;
/// 3. an installation: `<prefix>/bin/vitrine` with `<prefix>/share/vitrine/`.
/// Each kind of file also has its own variable (`$VITRINE_WEIGHTS`, `$VITRINE_THEMES`,
/// `$VITRINE_DATA`), read by its owner before this.
public enum Installation {
    /// The running executable's path, symbolic links resolved (`/proc/self/exe`).
    public static func executablePath() -> String? {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return resolved
        }
        if let first = CommandLine.arguments.first, first.hasPrefix("/") {
            return (first as NSString).resolvingSymlinksInPath
        }
        return nil
    }

    /// The folder of the running executable.
    public static func executableFolder() -> String? {
        executablePath().map { ($0 as NSString).deletingLastPathComponent }
    }

    /// The folders that may hold shipped files, most specific first.
    public static func roots(environment: [String: String] = ProcessInfo.processInfo.environment,
                             executable: String? = executablePath()) -> [String] {
        var roots: [String] = []
        if let home = environment["VITRINE_HOME"], !home.isEmpty { roots.append(home) }
        if let executable {
            let parts = executable.split(separator: "/", omittingEmptySubsequences: true)
            // A checkout's build folder: the nearest ancestor named .build, .build-NAME or .build_NAME.
            if let build = parts.dropLast().lastIndex(where: { $0 == ".build" || $0.hasPrefix(".build-") || $0.hasPrefix(".build_") }) {
                roots.append("/" + parts[..<build].joined(separator: "/"))
            }
            // An installation: <prefix>/bin/vitrine.
            if parts.count >= 2, parts[parts.count - 2] == "bin" {
                roots.append("/" + parts[..<(parts.count - 2)].joined(separator: "/") + "/share/vitrine")
            }
        }
        var seen = Set<String>()
        return roots.map { ($0 as NSString).standardizingPath }.filter { seen.insert($0).inserted }
    }

    /// The first `<root>/<name>` that is a folder, or nil.
    public static func folder(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                              executable: String? = executablePath()) -> String? {
        for root in roots(environment: environment, executable: executable) {
            let candidate = joinPath(root, name)
            var status = stat()
            if stat(candidate, &status) == 0, status.st_mode & S_IFMT == S_IFDIR { return candidate }
        }
        return nil
    }
}
