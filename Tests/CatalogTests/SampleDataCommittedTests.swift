import Support
import Catalog
import Foundation
import Imaging
import Testing

/// The committed SampleData/ is exactly what the generator makes with the
/// default options: regenerate it into a temporary folder and compare every
/// file's SHA-256 with the committed MANIFEST.sha256 (and the committed files
/// with their manifest).
@Suite struct SampleDataCommittedTests {
    static let committed = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("SampleData").path

    @Test func regeneratingGivesTheCommittedFiles() throws {
        let manifestPath = Self.committed + "/MANIFEST.sha256"
        let committedManifest = try String(contentsOfFile: manifestPath, encoding: .utf8)
        let out = NSTemporaryDirectory() + "vitrine-sampledata-regen-\(getpid())"
        try? FileManager.default.removeItem(atPath: out)
        defer { try? FileManager.default.removeItem(atPath: out) }
        try SampleDataGenerator(options: .default).generate(into: out)
        let regenerated = try String(contentsOfFile: out + "/MANIFEST.sha256", encoding: .utf8)
        #expect(regenerated == committedManifest, "SampleData/ is not what `vitrine sample-data --out SampleData` makes; run `make sample-data`")
    }

    @Test func committedFilesMatchTheirManifest() throws {
        let manifest = try String(contentsOfFile: Self.committed + "/MANIFEST.sha256", encoding: .utf8)
        var checked = 0
        for line in manifest.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            try #require(parts.count == 2)
            let path = Self.committed + "/" + parts[1].trimmingCharacters(in: .whitespaces)
            let data = try #require(FileManager.default.contents(atPath: path), "missing \(path)")
            #expect(SHA256.hex([UInt8](data)) == String(parts[0]), "\(path) changed")
            checked += 1
        }
        #expect(checked > 2000)
        // Small enough for the repository.
        let size = try FileManager.default.subpathsOfDirectory(atPath: Self.committed).reduce(0) { total, p in
            let attrs = try FileManager.default.attributesOfItem(atPath: Self.committed + "/" + p)
            return total + ((attrs[.type] as? FileAttributeType) == .typeRegular ? (attrs[.size] as? Int ?? 0) : 0)
        }
        #expect(size < 25_000_000)
    }
}
