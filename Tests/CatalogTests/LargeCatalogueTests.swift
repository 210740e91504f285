import Catalog
import Foundation
import Testing

/// A 200,000-line Product1M training split with defects of every kind at known lines, and what a
/// correct loader must report for it, worked out here while the lines are written (not by the loader).
private struct GeneratedSplit {
    var bytes: [UInt8] = []
    var kept: [(id: String, caption: String, labels: [String], line: Int)] = []
    var issueLines: [Int] = []
    var issueReasons: [Int: String] = [:]
    var imageIDs: [String: String] = [:]   // id -> file name

    init(lines count: Int) {
        bytes.reserveCapacity(count * 120)
        var line = 0
        var keptIDs = Set<String>()
        func emit(_ text: String) { bytes += Array(text.utf8); bytes.append(0x0A); line += 1 }
        for i in 0 ..< count {
            if i % 1009 == 500 { emit("   "); continue }   // blank: counted as a line, not an issue
            let id = String(1_000_000_000 + i * 7)
            let labels: [String] = switch i % 3 {
            case 0: []
            case 1: ["品牌\(i % 301) 面霜"]
            default: ["品牌\(i % 301) 面霜", "品牌\((i + 5) % 301) 眼霜 \(i % 7)"]
            }
            let caption = "标题 \(i) 正品 包邮 Serum \(i % 13)"
            let tail = labels.isEmpty ? "" : "#####" + labels.joined(separator: "#;#")
            if i % 211 == 5 {
                emit("\(id)#####\(caption)#####u")
                issueLines.append(line); issueReasons[line] = "expected 4 or 5 fields separated by '#####', found 3"
            } else if i % 401 == 7 {
                emit("\(id)x#####\(caption)#####u#####u\(tail)")
                issueLines.append(line); issueReasons[line] = "item_id '\(id)x' is not a number (digits only)"
            } else if i % 503 == 11 {
                bytes += Array("\(id)#####坏".utf8) + [0xFF, 0xC3] + Array("#####u#####u\(tail)".utf8); bytes.append(0x0A); line += 1
                issueLines.append(line); issueReasons[line] = "invalid UTF-8 in the title"
            } else if i % 997 == 13, let earlier = kept.last {
                emit("\(earlier.id)#####重复 \(i)#####u#####u\(tail)")
                issueLines.append(line)
                issueReasons[line] = "duplicate item_id \(earlier.id) (first on line \(earlier.line))"
            } else {
                emit("\(id)#####\(caption)#####http://x/\(id).jpg#####http://x/\(id).jpg\(tail)")
                kept.append((id, caption, labels, line))
                keptIDs.insert(id)
                if i % 50 == 0 { imageIDs[id] = i % 100 == 0 ? "\(id).JPG" : "\(id).png" }
            }
        }
    }
}

@Suite("Catalogue at scale")
struct LargeCatalogueTests {
    /// Counts stay exact at 200,000 lines (scanned in regions on several cores, in chunks): every
    /// malformed line with its line number and reason, duplicates, missing images, kinds and labels;
    /// and samples read back from the file are the lines that were written.
    @Test func twoHundredThousandLinesKeepExactCounts() throws {
        let folder = try CatalogTempFolder()
        let split = GeneratedSplit(lines: 200_000)
        try folder.write("product1m_train_ossurl_v2.txt", bytes: split.bytes)
        for name in split.imageIDs.values { try folder.touch("images/" + name) }
        try folder.touch("images/notes.txt", "images/123abc.jpg")

        let start = Date()
        let dataset = try Dataset.load(from: folder.path)
        print("scanned \(split.bytes.count) bytes, 200,000 lines, in \(Date().timeIntervalSince(start)) s")
        let train = try #require(dataset.split(named: "train"))
        #expect(train.samples.count == split.kept.count)
        #expect(train.issues.map(\.line) == split.issueLines)
        for issue in train.issues { #expect(issue.reason == split.issueReasons[issue.line]) }
        #expect(train.missingImages == split.kept.count - split.imageIDs.count)
        let single = split.kept.count(where: { $0.labels.count == 1 }), multi = split.kept.count(where: { $0.labels.count > 1 })
        #expect(train.kindCounts.single == single && train.kindCounts.multi == multi)
        let stats = DatasetInfo(dataset).splits[0]
        #expect(stats.labels == Set(split.kept.flatMap(\.labels)).count)
        #expect(stats.unlabelled == split.kept.count - single - multi)
        #expect(stats.malformedLines == split.issueLines.count)

        // Samples read back, at both ends, in the middle and across region boundaries.
        for p in [0, 1, split.kept.count / 2 - 1, split.kept.count / 2, split.kept.count / 2 + 1, split.kept.count - 1]
            + (0 ..< 200).map({ $0 * 937 % split.kept.count }) {
            let sample = train.samples[p], expected = split.kept[p]
            #expect(sample.id == expected.id && sample.caption == expected.caption && sample.labels == expected.labels
                    && sample.line == expected.line)
            #expect(sample.imagePath == split.imageIDs[expected.id].map { folder.path + "/images/" + $0 })
            #expect(train.samples.id(at: p) == expected.id)
        }
        // The filter, on every core over the file, finds what checking each sample finds, in order.
        for text in ["serum 1", "品牌7 面", "1000"] {
            let filter = SampleFilter(text)
            var reported: [Int] = [], checked = 0
            #expect(filter.scan(train.samples, isCancelled: { false }) { reported += $0; checked = $1 })
            #expect(checked == split.kept.count)
            #expect(reported == train.samples.indices.filter { filter.matches(train.samples[$0]) }, "\(text)")
            #expect(!reported.isEmpty)
        }
        let probe = split.kept[12_345]
        #expect(train.sample(id: probe.id)?.line == probe.line)
        #expect(train.sample(id: "999") == nil)
        #expect(train.sample(id: "abc") == nil)
    }

    /// Ids keep their exact text: leading zeros are part of the id, and one longer than 19 digits
    /// (past what fits in 64 bits) is still told apart from another with the same first digits.
    @Test func idsKeepLeadingZerosAndLongIdsStayDistinct() throws {
        let folder = try CatalogTempFolder()
        let long1 = String(repeating: "9", count: 30) + "1", long2 = String(repeating: "9", count: 30) + "2"
        try folder.write("product1m_gallery_ossurl_v2.txt", [
            "007#####a#####u#####u#####A", "7#####b#####u#####u#####A", "0007#####c#####u#####u#####A",
            "\(long1)#####d#####u#####u#####B", "\(long2)#####e#####u#####u#####B", "\(long1)#####f#####u#####u#####B",
        ].joined(separator: "\n"))
        try folder.touch("images/007.jpg", "images/\(long2).jpeg")
        let gallery = try #require(try Dataset.load(from: folder.path).gallery)
        #expect(gallery.samples.map(\.id) == ["007", "7", "0007", long1, long2])
        #expect(gallery.sample(id: "7")?.caption == "b")
        #expect(gallery.sample(id: "0007")?.caption == "c")
        #expect(gallery.sample(id: long2)?.caption == "e")
        #expect(gallery.issues.map(\.description) == ["product1m_gallery_ossurl_v2.txt:6: duplicate item_id \(long1) (first on line 4)"])
        #expect(gallery.sample(id: "007")?.imagePath == folder.path + "/images/007.jpg")
        #expect(gallery.sample(id: "7")?.imagePath == nil)
        #expect(gallery.sample(id: long2)?.imagePath == folder.path + "/images/\(long2).jpeg")
        #expect(gallery.missingImages == 3)
    }

    /// A split file rewritten in place after it was opened: a sample whose line no longer checks is
    /// given back as a sample that says so (its id kept), never as another line's fields.
    @Test func aFileChangedAfterOpeningIsSaidSo() throws {
        let folder = try CatalogTempFolder()
        try folder.write("product1m_gallery_ossurl_v2.txt", "1#####first#####u#####u#####A\n2#####second#####u#####u#####B\n")
        let gallery = try #require(try Dataset.load(from: folder.path).gallery)
        let handle = try #require(FileHandle(forWritingAtPath: folder.path + "/product1m_gallery_ossurl_v2.txt"))
        try handle.truncate(atOffset: 10)
        try handle.close()
        #expect(gallery.samples[0].caption.contains("changed on disk"))
        #expect(gallery.samples[0].id == "1")
        #expect(gallery.samples[1].caption.contains("changed on disk"))
        #expect(gallery.samples[1].labels.isEmpty)
    }
}
