import Catalog
import Foundation
import Testing

@Suite("Format detection and load errors")
struct DatasetDetectionTests {
    @Test func detectsEachFormat() throws {
        let product = try CatalogTempFolder()
        try product.write("product1m_gallery_ossurl_v2.txt", "")
        #expect(Dataset.detectFormat(in: product.path) == .product1m)

        let tsv = try CatalogTempFolder()
        try tsv.write("captions.tsv", "")
        #expect(Dataset.detectFormat(in: tsv.path) == .folderTSV)

        let jsonl = try CatalogTempFolder()
        try jsonl.write("captions.jsonl", "")
        #expect(Dataset.detectFormat(in: jsonl.path) == .folderJSONL)
        #expect(try Dataset.load(from: jsonl.path).format == .folderJSONL)
    }

    @Test func product1mWinsOverFolderFormatsAndTSVOverJSONL() throws {
        let both = try CatalogTempFolder()
        try both.write("captions.tsv", "")
        try both.write("captions.jsonl", "")
        #expect(Dataset.detectFormat(in: both.path) == .folderTSV)
        try both.write("product1m_dev_ossurl_v2.txt", "")
        #expect(Dataset.detectFormat(in: both.path) == .product1m)
    }

    @Test func aFolderWithoutADatasetIsAHelpfulError() throws {
        let folder = try CatalogTempFolder()
        try folder.write("product1m_val_ossurl_v2.txt", "not one of the four split names\n")
        #expect(Dataset.detectFormat(in: folder.path) == nil)
        let error = try #require(throws: CatalogError.self) { try Dataset.load(from: folder.path) }
        #expect(error.kind == .noDataset)
        #expect(error.path == folder.path)
        #expect(error.description == "no dataset in \(folder.path): expected product1m_*_ossurl_v2.txt or "
            + "captions.tsv/captions.jsonl; `vitrine sample-data --out DIR` makes a demo set")
    }

    @Test func aMissingFolderOrAFileIsNotAFolder() throws {
        let folder = try CatalogTempFolder()
        let missing = try #require(throws: CatalogError.self) { try Dataset.load(from: folder.path + "/nope") }
        #expect(missing.kind == .notAFolder)
        #expect(missing.description == "no such folder: \(folder.path)/nope")

        try folder.write("captions.tsv", "")
        let file = try #require(throws: CatalogError.self) { try Dataset.load(from: folder.path + "/captions.tsv") }
        #expect(file.kind == .notAFolder)
        #expect(file.description.contains("pass the folder that holds it (\(folder.path))"))
    }

    @Test func anUnreadableSplitFileIsAnError() throws {
        let folder = try CatalogTempFolder()
        // A folder where a split file should be: present, so not skipped, but it cannot be read.
        try FileManager.default.createDirectory(atPath: folder.path + "/product1m_dev_ossurl_v2.txt",
                                                withIntermediateDirectories: false)
        let error = try #require(throws: CatalogError.self) { try Dataset.load(from: folder.path) }
        #expect(error.kind == .unreadableFile)
        #expect(error.description.hasPrefix("cannot read \(folder.path)/product1m_dev_ossurl_v2.txt"))
    }

    @Test func thePathIsMadeAbsoluteAndClean() throws {
        let folder = try CatalogTempFolder()
        try folder.write("captions.tsv", "a\t\tc\t\n")
        let dataset = try Dataset.load(from: folder.path + "//./sub/../")
        #expect(dataset.root == folder.path)
        #expect(dataset.name == (folder.path as NSString).lastPathComponent)
    }
}
