import Catalog
import Foundation
import Testing

/// A small Product1M folder written like a real dump: Chinese titles, repeated labels, labels with
/// spaces, CRLF endings, trailing whitespace, blank lines, and one malformed line of every kind.
struct Product1MFixture {
    let folder: CatalogTempFolder
    var root: String { folder.path }

    static let suitLine = "100001#####AHC 黄金面霜 套装 正品 包邮#####http://a/1.jpg#####http://a/1.jpg#####"
        + "AHC 黄金面霜#;#AHC 黄金水#;#AHC 黄金眼霜#;#AHC 黄金眼霜"

    init() throws {
        folder = try CatalogTempFolder()

        try folder.write("product1m_train_ossurl_v2.txt",
            "200001#####雪花秀 滋阴 水乳 套装 正品#####http://a/t1.jpg#####http://a/t1.jpg\n"
            + "200002#####兰蔻 小黑瓶 精华 100ml#####http://a/t2.jpg#####http://a/t2b.jpg#####兰蔻 小黑瓶精华\n"
            + "200003#####六个字段#####u#####u#####标签#####多余\n")

        var dev: [UInt8] = []
        func line(_ s: String) { dev += Array(s.utf8) }
        line(Self.suitLine + "\r\n")                                                          // 1
        line("\r\n")                                                                          // 2: blank
        line("100002#####兰蔻 小黑瓶 精华 礼盒#####http://a/2.jpg#####http://a/2.jpg#####兰蔻 小黑瓶精华#;#兰蔻 粉水   \t\r\n") // 3
        line("   \n")                                                                         // 4: blank
        line("100003#####只有三个字段#####http://a/3.jpg\n")                                  // 5: 3 fields
        line("10000x#####标题#####u#####u#####AHC 黄金水\n")                                  // 6: not a number
        line("#####标题#####u#####u#####AHC 黄金水\n")                                        // 7: empty id
        line("100001#####重复的 商品#####u#####u#####AHC 黄金水\n")                           // 8: duplicate
        line("100005#####坏的 ")                                                              // 9: invalid UTF-8
        dev += [0xFF, 0xFE, 0xE9, 0xBB]
        line(" 标题#####u#####u#####AHC 黄金水\n")
        line("100006#####" + String(repeating: "长", count: 10_000) + "#####u#####u#####AHC 黄金水\n") // 10: 30,000 bytes
        line("100007#####标题 七#####u#####u#####AHC ")                                       // 11: invalid label
        dev += [0xC3, 0x28]
        line("\n")
        line("100004#####  雪花秀 雪御活颜 面霜 ##### http://a/4.jpg #####http://a/4.jpg#####雪花秀 雪御活颜面霜#;##;#") // 12, no final newline
        try folder.write("product1m_dev_ossurl_v2.txt", bytes: dev)

        try folder.write("product1m_gallery_ossurl_v2.txt",
            "300001#####AHC 黄金面霜 50ml#####http://g/1.jpg#####http://g/1.jpg#####AHC 黄金面霜\n"
            + "300002#####AHC 黄金水#####http://g/2.jpg#####http://g/2.jpg#####AHC 黄金水\n"
            + "300003#####AHC 黄金眼霜#####http://g/3.jpg#####http://g/3.jpg#####AHC 黄金眼霜\n"
            + "300004#####兰蔻 小黑瓶精华#####http://g/4.jpg#####http://g/4.jpg#####兰蔻 小黑瓶精华#;#兰蔻 粉水\n")
        // 300001 has a .jpg and a .png (the .jpg wins), 300002 an upper-case .JPEG, 300003 a .png, 300004 none.
        try folder.touch("images/300001.jpg", "images/300001.png", "images/300002.JPEG", "images/300003.png",
                         "images/100001.jpg", "images/notes.txt")
    }
}

@Suite("Product1M loader")
struct Product1MLoaderTests {
    @Test func detectsTheFormatAndOrdersTheSplits() throws {
        let fixture = try Product1MFixture()
        let dataset = try Dataset.load(from: fixture.root)
        #expect(dataset.format == .product1m)
        #expect(dataset.root == fixture.root)
        #expect(dataset.name == (fixture.root as NSString).lastPathComponent)
        // No test split file: that split is simply absent.
        #expect(dataset.splits.map(\.name) == ["train", "dev", "gallery"])
        #expect(dataset.splits.map(\.role) == [.train, .query, .gallery])
        #expect(dataset.split(named: "test") == nil)
        #expect(dataset.gallery?.name == "gallery")
        #expect(dataset.splits(role: .query).map(\.name) == ["dev"])
        #expect(dataset.split(named: "dev")?.file == fixture.root + "/product1m_dev_ossurl_v2.txt")
    }

    @Test func parsesChineseTitlesRepeatedLabelsAndLabelsWithSpaces() throws {
        let fixture = try Product1MFixture()
        let dev = try #require(try Dataset.load(from: fixture.root).split(named: "dev"))
        #expect(dev.samples.map(\.id) == ["100001", "100002", "100004"])

        let suit = try #require(dev.sample(id: "100001"))
        #expect(suit.caption == "AHC 黄金面霜 套装 正品 包邮")
        #expect(suit.labels == ["AHC 黄金面霜", "AHC 黄金水", "AHC 黄金眼霜", "AHC 黄金眼霜"])
        #expect(suit.kind == .multi)
        #expect(suit.urls == ["http://a/1.jpg", "http://a/1.jpg"])
        #expect(suit.line == 1)
        #expect(suit.imagePath == fixture.root + "/images/100001.jpg")

        // CRLF and trailing spaces/tabs are gone; the space inside a label stays.
        let second = try #require(dev.sample(id: "100002"))
        #expect(second.labels == ["兰蔻 小黑瓶精华", "兰蔻 粉水"])
        #expect(second.line == 3)
        #expect(second.imagePath == nil)

        // Whitespace around fields is trimmed, empty labels between separators are dropped,
        // and a last line without a newline is read.
        let last = try #require(dev.sample(id: "100004"))
        #expect(last.caption == "雪花秀 雪御活颜 面霜")
        #expect(last.urls == ["http://a/4.jpg", "http://a/4.jpg"])
        #expect(last.labels == ["雪花秀 雪御活颜面霜"])
        #expect(last.kind == .single)
        #expect(last.line == 12)
        #expect(dev.sample(id: "999999") == nil)
    }

    @Test func trainingLinesMayHaveFourFields() throws {
        let fixture = try Product1MFixture()
        let train = try #require(try Dataset.load(from: fixture.root).split(named: "train"))
        #expect(train.role == .train)
        #expect(train.samples.map(\.id) == ["200001", "200002"])
        #expect(train.samples[0].labels.isEmpty)
        #expect(train.samples[0].kind == .unknown)
        #expect(train.samples[1].labels == ["兰蔻 小黑瓶精华"])
        #expect(train.samples[1].urls == ["http://a/t2.jpg", "http://a/t2b.jpg"])
        #expect(train.issues == [LoadIssue(file: "product1m_train_ossurl_v2.txt", line: 3,
                                           reason: "expected 4 or 5 fields separated by '#####', found 6")])
    }

    @Test func reportsEveryKindOfMalformedLineWithFileAndLine() throws {
        let fixture = try Product1MFixture()
        let dataset = try Dataset.load(from: fixture.root)
        let dev = try #require(dataset.split(named: "dev"))
        #expect(dev.issues.map(\.line) == [5, 6, 7, 8, 9, 10, 11])
        #expect(dev.issues.allSatisfy { $0.file == "product1m_dev_ossurl_v2.txt" })
        let reasons = dev.issues.map(\.reason)
        #expect(reasons[0] == "expected 5 fields separated by '#####', found 3")
        #expect(dev.issues[0].description == "product1m_dev_ossurl_v2.txt:5: expected 5 fields separated by '#####', found 3")
        #expect(reasons[1] == "item_id '10000x' is not a number (digits only)")
        #expect(reasons[2] == "empty item_id")
        #expect(reasons[3] == "duplicate item_id 100001 (first on line 1)")
        #expect(reasons[4] == "invalid UTF-8 in the title")
        #expect(reasons[5] == "title is 30000 bytes long, over the limit of 4096 bytes")
        #expect(reasons[6] == "invalid UTF-8 in labels")
        // The duplicate did not replace the first sample with that id.
        #expect(dev.sample(id: "100001")?.caption == "AHC 黄金面霜 套装 正品 包邮")
        // Counted per split, and all together in file order.
        #expect(dataset.split(named: "gallery")?.issues.isEmpty == true)
        #expect(dataset.issues.count == 8)
        #expect(dataset.issues.first?.file == "product1m_train_ossurl_v2.txt")
        #expect(dataset.unassignedIssues.isEmpty)
    }

    @Test func aLongerTitleLimitKeepsTheLongTitle() throws {
        let fixture = try Product1MFixture()
        let dataset = try Dataset.load(from: fixture.root, options: LoadOptions(maxTitleBytes: 40_000))
        let long = try #require(dataset.split(named: "dev")?.sample(id: "100006"))
        #expect(long.caption.count == 10_000)
        #expect(long.caption.utf8.count == 30_000)
    }

    @Test func strictModeThrowsTheFirstIssue() throws {
        let fixture = try Product1MFixture()
        let error = try #require(throws: CatalogError.self) {
            try Dataset.load(from: fixture.root, options: LoadOptions(strict: true))
        }
        #expect(error.kind == .malformedLine)
        // train comes before dev, and its line 3 is its first problem.
        #expect(error.issue == LoadIssue(file: "product1m_train_ossurl_v2.txt", line: 3,
                                         reason: "expected 4 or 5 fields separated by '#####', found 6"))
        #expect(error.description.hasPrefix("product1m_train_ossurl_v2.txt:3: expected 4 or 5 fields"))
    }

    @Test func strictModeLoadsACleanDataset() throws {
        let folder = try CatalogTempFolder()
        try folder.write("product1m_gallery_ossurl_v2.txt", Product1MFixture.suitLine + "\n\n")
        let dataset = try Dataset.load(from: folder.path, options: LoadOptions(strict: true))
        #expect(dataset.splits.map(\.name) == ["gallery"])
        #expect(dataset.gallery?.samples.count == 1)
    }

    @Test func resolvesImagesAndCountsTheMissingOnes() throws {
        let fixture = try Product1MFixture()
        let gallery = try #require(try Dataset.load(from: fixture.root).gallery)
        let images = fixture.root + "/images/"
        #expect(gallery.sample(id: "300001")?.imagePath == images + "300001.jpg")
        #expect(gallery.sample(id: "300002")?.imagePath == images + "300002.JPEG")
        #expect(gallery.sample(id: "300003")?.imagePath == images + "300003.png")
        #expect(gallery.sample(id: "300004")?.imagePath == nil)
        // A missing image is not a malformed line: the sample is kept and counted.
        #expect(gallery.samples.count == 4)
        #expect(gallery.missingImages == 1)
        #expect(gallery.issues.isEmpty)
        #expect(gallery.sample(id: "300004")?.product == "兰蔻 小黑瓶精华")
    }

    /// A first look without listing `images/` (the explorer's, before a large dataset is whole):
    /// the images are found one by one with `stat`, and the counts say they were not counted.
    @Test func withoutTheCensusImagesAreFoundOneByOne() throws {
        let fixture = try Product1MFixture()
        var options = LoadOptions()
        options.imageCensus = false
        let gallery = try #require(try Dataset.load(from: fixture.root, options: options).gallery)
        let images = fixture.root + "/images/"
        #expect(!gallery.imagesCounted && gallery.missingImages == 0)
        #expect(gallery.sample(id: "300001")?.imagePath == images + "300001.jpg")
        #expect(gallery.sample(id: "300002")?.imagePath == images + "300002.JPEG")
        #expect(gallery.sample(id: "300003")?.imagePath == images + "300003.png")
        #expect(gallery.sample(id: "300004")?.imagePath == nil)
        #expect(try Dataset.load(from: fixture.root).gallery?.imagesCounted == true)
    }

    @Test func aFolderWithoutImagesLoadsWithEveryImageMissing() throws {
        let folder = try CatalogTempFolder()
        try folder.write("product1m_test_ossurl_v2.txt", Product1MFixture.suitLine + "\n")
        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.splits.map(\.name) == ["test"])
        #expect(dataset.splits[0].role == .query)
        #expect(dataset.splits[0].missingImages == 1)
    }

    @Test func emptyAndBOMFilesAreFine() throws {
        let folder = try CatalogTempFolder()
        try folder.write("product1m_dev_ossurl_v2.txt", "")
        try folder.write("product1m_gallery_ossurl_v2.txt", bytes: [0xEF, 0xBB, 0xBF] + Array((Product1MFixture.suitLine + "\n").utf8))
        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.split(named: "dev")?.samples.isEmpty == true)
        #expect(dataset.gallery?.samples.first?.id == "100001")
        #expect(dataset.issues.isEmpty)
    }

    @Test func separatorsMatchLeftmostLikePythonSplit() throws {
        // Six '#' in a row: the first five separate, the sixth starts the next field.
        let folder = try CatalogTempFolder()
        try folder.write("product1m_gallery_ossurl_v2.txt", "1#####标题######u#####u#####A#;##B\n")
        let sample = try #require(try Dataset.load(from: folder.path).gallery?.samples.first)
        #expect(sample.caption == "标题")
        #expect(sample.urls == ["#u", "u"])
        #expect(sample.labels == ["A", "#B"])
    }

    @Test func controlCharactersInReasonsAreEscaped() throws {
        let folder = try CatalogTempFolder()
        try folder.write("product1m_gallery_ossurl_v2.txt", "12\u{1B}[31m#####标题#####u#####u#####A\n")
        let issue = try #require(try Dataset.load(from: folder.path).issues.first)
        #expect(issue.reason == "item_id '12\\u{1b}[31m' is not a number (digits only)")
        #expect(!issue.description.contains("\u{1B}"))
    }

    @Test func splitsBuiltInMemoryFindSamplesById() {
        let samples = [Sample(id: "1", caption: "a", imagePath: nil, labels: ["x"]),
                       Sample(id: "2", caption: "b", imagePath: "/i/2.jpg", labels: [])]
        let split = Split(name: "gallery", role: .gallery, file: "memory", samples: samples)
        #expect(split.sample(id: "2")?.caption == "b")
        #expect(split.missingImages == 1)
        let dataset = Dataset(root: "/nowhere", name: "nowhere", format: .product1m, splits: [split])
        #expect(dataset.gallery?.samples.count == 2)
        #expect(dataset.issues.isEmpty)
    }

    /// One field must not cost the explorer seconds a frame: a 10 MB label, a line with a
    /// million labels and a 2 KB id are reported, counted lines; the lines around them load.
    @Test func unboundedFieldsAreReportedLines() throws {
        let folder = try CatalogTempFolder()
        let huge = String(repeating: "标", count: 3_500_000)  // 10.5 MB
        let many = (0 ..< 1_000_000).map { "l\($0)" }.joined(separator: "#;#")
        var text = "1#####ok#####u#####u#####A\n"
        text += "2#####huge label#####u#####u#####\(huge)\n"
        text += "3#####many labels#####u#####u#####\(many)\n"
        text += String(repeating: "9", count: 2000) + "#####long id#####u#####u#####A\n"
        text += "4#####ok too#####u#####u#####A#;#B\n"
        try folder.write("product1m_gallery_ossurl_v2.txt", text)
        let start = Date()
        let dataset = try Dataset.load(from: folder.path)
        #expect(Date().timeIntervalSince(start) < 10)
        let gallery = try #require(dataset.gallery)
        #expect(gallery.samples.map(\.id) == ["1", "4"])
        #expect(gallery.issues.map(\.line) == [2, 3, 4])
        #expect(gallery.issues[0].reason.contains("bytes long, over the limit of 1024"))
        #expect(gallery.issues[1].reason.contains("over the limit of 256"))
        #expect(gallery.issues[2].reason.contains("item_id is 2000 bytes long"))
    }
}
