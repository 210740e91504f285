import Foundation

/// A fresh folder under the system temporary directory, removed when the value goes away.
final class CatalogTempFolder {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "vitrine-catalog-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes UTF-8 text to `name` (a path relative to the folder), creating folders on the way.
    func write(_ name: String, _ text: String) throws {
        try write(name, bytes: Array(text.utf8))
    }

    func write(_ name: String, bytes: [UInt8]) throws {
        let full = path + "/" + name
        let parent = (full as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: full, contents: Data(bytes)) else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    /// Creates empty files (stand-ins for images: the loaders only check that they exist).
    func touch(_ names: String...) throws {
        for name in names { try write(name, bytes: []) }
    }
}
