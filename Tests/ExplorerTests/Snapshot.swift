import Explorer
import Foundation
import Testing

/// Frame snapshots: the frame's text, then its style roles (one letter a
/// cell, legend in the file), compared with a stored file under
/// `__Snapshots__`. VITRINE_RECORD_SNAPSHOTS=1 rewrites them; a missing one
/// is recorded and the test fails so that it is looked at.
enum Snapshot {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("__Snapshots__").path

    static let letters: [Role: Character] = {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var m: [Role: Character] = [:]
        for (i, r) in Role.allCases.enumerated() { m[r] = alphabet[i] }
        return m
    }()

    static func render(_ frame: Frame) -> String {
        var out = "size \(frame.width)x\(frame.height)\n"
        out += frame.textLines().map { "|" + $0 + "|" }.joined(separator: "\n") + "\n"
        out += "roles: " + Role.allCases.map { "\(letters[$0]!)=\($0.rawValue)" }.joined(separator: " ") + "\n"
        for y in 0..<frame.height {
            var line = ""
            for x in 0..<frame.width {
                let c = frame[x, y]
                var l = letters[c.style.role]!
                if c.style.reverse || c.style.bold { l = Character(l.uppercased() == String(l) ? l.lowercased() : l.uppercased()) }
                line.append(c.isContinuation ? "~" : (c.style.reverse ? "#" : l))
            }
            out += line + "\n"
        }
        return out
    }

    static func check(_ frame: Frame, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = render(frame)
        let path = directory + "/\(name).txt"
        let record = ProcessInfo.processInfo.environment["VITRINE_RECORD_SNAPSHOTS"] == "1"
        if record || !FileManager.default.fileExists(atPath: path) {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try! text.write(toFile: path, atomically: true, encoding: .utf8)
            if !record { Issue.record("recorded a new snapshot \(name); check it and run again", sourceLocation: sourceLocation) }
            return
        }
        let stored = try! String(contentsOfFile: path, encoding: .utf8)
        if stored != text {
            let a = stored.components(separatedBy: "\n"), b = text.components(separatedBy: "\n")
            let firstDiff = zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }
            let where_ = firstDiff.map { "line \($0.offset + 1):\n  stored: \($0.element.0)\n  now:    \($0.element.1)" } ?? "length differs"
            Issue.record("snapshot \(name) differs (VITRINE_RECORD_SNAPSHOTS=1 rewrites it) at \(where_)", sourceLocation: sourceLocation)
        }
    }
}
