import Catalog
import Foundation
import Testing

/// The numbers as one array, so several counts compare in one expectation.
private func ints(_ values: Int...) -> [Int] { values }

@Suite("Dataset statistics")
struct DatasetInfoTests {
    @Test func countsPerSplitAndInTotal() throws {
        let fixture = try Product1MFixture()
        let info = DatasetInfo(try Dataset.load(from: fixture.root))
        #expect(info.format == .product1m)
        #expect(info.root == fixture.root)
        #expect(info.splits.map(\.name) == ["train", "dev", "gallery"])

        let train = info.splits[0]
        #expect(train.role == .train)
        #expect(train.file == fixture.root + "/product1m_train_ossurl_v2.txt")
        #expect(ints(train.samples, train.single, train.multi, train.unlabelled, train.labels) == [2, 1, 0, 1, 1])
        #expect(ints(train.missingImages, train.malformedLines) == [2, 1])

        let dev = info.splits[1]
        #expect(ints(dev.samples, dev.single, dev.multi, dev.unlabelled) == [3, 1, 2, 0])
        // AHC 黄金面霜, AHC 黄金水, AHC 黄金眼霜, 兰蔻 小黑瓶精华, 兰蔻 粉水, 雪花秀 雪御活颜面霜
        #expect(dev.labels == 6)
        #expect(ints(dev.missingImages, dev.malformedLines) == [2, 7])

        let gallery = info.splits[2]
        #expect(ints(gallery.samples, gallery.single, gallery.multi, gallery.unlabelled, gallery.labels) == [4, 3, 1, 0, 5])
        #expect(ints(gallery.missingImages, gallery.malformedLines) == [1, 0])

        let t = info.totals
        #expect(ints(t.samples, t.single, t.multi, t.unlabelled, t.labels, t.missingImages, t.malformedLines)
            == [9, 5, 3, 1, 6, 5, 8])
        #expect(info.firstIssues.count == 8)
        #expect(info.firstIssues[1] == "product1m_dev_ossurl_v2.txt:5: expected 5 fields separated by '#####', found 3")
        #expect(DatasetInfo(try Dataset.load(from: fixture.root), issueLimit: 3).firstIssues.count == 3)
    }

    @Test func totalsCountAnItemInTwoSplitsOnce() throws {
        let folder = try CatalogTempFolder()
        try folder.write("captions.tsv", "a\t\t一\tx;y\nb\t\t二\tx\nc\t\t三\t\n")
        let info = DatasetInfo(try Dataset.load(from: folder.path))
        #expect(info.splits.map(\.samples) == [3, 3])
        #expect(ints(info.totals.samples, info.totals.single, info.totals.multi, info.totals.unlabelled) == [3, 1, 1, 1])
        #expect(info.totals.missingImages == 3)
    }

    @Test func jsonHasSnakeCaseKeysInAStableOrderAndRoundTrips() throws {
        let fixture = try Product1MFixture()
        let info = DatasetInfo(try Dataset.load(from: fixture.root))
        let json = info.jsonString()
        #expect(json == info.jsonString())
        for key in ["\"first_issues\"", "\"missing_images\"", "\"malformed_lines\"", "\"totals\"", "\"splits\"",
                    "\"format\" : \"product1m\"", "\"role\" : \"query\""] {
            #expect(json.contains(key), "missing \(key)")
        }
        #expect(!json.contains("missingImages"))
        // Sorted keys, at the top level and inside the first split's object.
        let topLevel = ["\"first_issues\"", "\"format\"", "\"name\"", "\"root\"", "\"splits\"", "\"totals\""]
            .map { json.range(of: $0)!.lowerBound }
        #expect(topLevel == topLevel.sorted())
        let firstSplit = json[json.range(of: "\"splits\"")!.upperBound...]
        let inSplit = ["\"file\"", "\"labels\"", "\"malformed_lines\"", "\"missing_images\"", "\"multi\"", "\"name\"",
                       "\"role\"", "\"samples\"", "\"single\"", "\"unlabelled\""]
            .map { firstSplit.range(of: $0)!.lowerBound }
        #expect(inSplit == inSplit.sorted())

        let decoded = try JSONDecoder().decode(DatasetInfo.self, from: Data(json.utf8))
        #expect(decoded.splits == info.splits)
        #expect(decoded.totals == info.totals)
        #expect(decoded.firstIssues == info.firstIssues)
    }

    @Test func tableAlignsTheColumnsAndListsIssues() throws {
        let fixture = try Product1MFixture()
        let table = DatasetInfo(try Dataset.load(from: fixture.root)).table()
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].contains("(product1m)"))
        let header = try #require(lines.first { $0.hasPrefix("split") })
        let dev = try #require(lines.first { $0.hasPrefix("dev ") })
        let total = try #require(lines.first { $0.hasPrefix("total") })
        // Numbers are right-aligned: each row ends at the same column as the header.
        #expect(dev.count == header.count)
        #expect(total.count == header.count)
        #expect(dev.split(separator: " ").map(String.init) == ["dev", "query", "3", "1", "2", "0", "6", "2", "7"])
        #expect(table.contains("8 malformed lines (skipped):"))
        #expect(table.contains("  product1m_dev_ossurl_v2.txt:10: title is 30000 bytes long"))

        let limited = DatasetInfo(try Dataset.load(from: fixture.root), issueLimit: 2).table()
        #expect(limited.contains("first 2 of 8 malformed lines (skipped):"))
    }
}
