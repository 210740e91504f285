import Catalog
import Foundation
import Testing

@Suite("Folder formats (captions.tsv, captions.jsonl)")
struct FolderFormatTests {
    @Test func tsvWithHeaderAndSplitColumn() throws {
        let folder = try CatalogTempFolder()
        try folder.write("captions.tsv", """
            id\timage\tcaption\tlabels\tsplit
            q1\timages/q1.jpg\t红色 口红 套装 包邮\t口红 红; 口红 粉;口红 红\tquery
            g1\timages/g1.jpg\t口红 红\t口红 红\tgallery
            g2\timages/g2.jpg\t口红 粉\t口红 粉\tGallery
            t1\timages/t1.jpg\t训练 标题\t\ttrain
            x1\timages/x1.jpg\tcaption\tlabels\tvalidation
            g1\timages/g1.jpg\t重复\t口红 红\tgallery

            only\tthree fields
            """ + "\r\n")
        try folder.touch("images/q1.jpg", "images/g1.jpg", "images/t1.jpg")

        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.format == .folderTSV)
        #expect(dataset.splits.map(\.name) == ["train", "query", "gallery"])
        #expect(dataset.splits.map(\.role) == [.train, .query, .gallery])
        let file = folder.path + "/captions.tsv"
        #expect(dataset.splits.allSatisfy { $0.file == file })

        let query = try #require(dataset.split(named: "query"))
        let q1 = try #require(query.sample(id: "q1"))
        #expect(q1.caption == "红色 口红 套装 包邮")
        #expect(q1.labels == ["口红 红", "口红 粉", "口红 红"])
        #expect(q1.imagePath == folder.path + "/images/q1.jpg")
        #expect(q1.line == 2)

        let gallery = try #require(dataset.gallery)
        #expect(gallery.samples.map(\.id) == ["g1", "g2"])
        #expect(gallery.missingImages == 1)  // g2
        #expect(dataset.split(named: "train")?.samples.first?.labels == [])

        // The duplicate belongs to the gallery; an unknown split name and a short line to no split.
        #expect(gallery.issues == [LoadIssue(file: "captions.tsv", line: 7, reason: "duplicate id 'g1' in the gallery split (first on line 3)")])
        #expect(dataset.unassignedIssues.map(\.line) == [6, 9])
        #expect(dataset.unassignedIssues[0].reason == "unknown split 'validation' (expected train, query or gallery)")
        #expect(dataset.unassignedIssues[1].reason
            == "expected 4 or 5 tab-separated fields (id, image, caption, labels[, split]), found 2")
        #expect(dataset.issues.map(\.line) == [6, 7, 9])
    }

    @Test func tsvWithoutHeaderOrSplitPutsEveryItemInQueryAndGallery() throws {
        let folder = try CatalogTempFolder()
        try folder.write("captions.tsv",
            "p1\timages/p1.jpg\t面霜 50ml\tA;B;B\n"
            + "p2\tp2.png\t精华 套装\t\n"          // empty labels, trailing tab; a bare name found in images/
            + "p3\t\t没有图片\tC \n"               // no image
            + "p4\timages/p4.jpg\n"               // too few fields
            + "p1\timages/p1.jpg\t重复\tA\n")     // duplicate
        try folder.touch("images/p1.jpg", "images/p2.png")

        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.splits.map(\.name) == ["query", "gallery"])
        for split in dataset.splits {
            #expect(split.samples.map(\.id) == ["p1", "p2", "p3"])
            #expect(split.missingImages == 1)
            #expect(split.issues.map(\.line) == [4, 5])
        }
        let gallery = try #require(dataset.gallery)
        #expect(gallery.sample(id: "p1")?.labels == ["A", "B", "B"])
        #expect(gallery.sample(id: "p2")?.labels == [])
        #expect(gallery.sample(id: "p2")?.imagePath == folder.path + "/images/p2.png")
        #expect(gallery.sample(id: "p3")?.imagePath == nil)
        #expect(gallery.sample(id: "p3")?.labels == ["C"])
        // Each malformed line is reported once for the dataset, though both splits list it.
        #expect(dataset.issues.map(\.line) == [4, 5])
        #expect(dataset.issues[1].reason == "duplicate id 'p1' (first on line 1)")
    }

    @Test func tsvHeaderIsOnlyTheExactColumnNames() throws {
        // A first line that merely looks like a header is data.
        let folder = try CatalogTempFolder()
        try folder.write("captions.tsv", "id\timage\tcaption\tlabel\nx\t\tc\t\n")
        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.gallery?.samples.map(\.id) == ["id", "x"])
    }

    @Test func tsvOverLongCaptionAndInvalidUTF8() throws {
        let folder = try CatalogTempFolder()
        var bytes = Array("a\t\t\(String(repeating: "长", count: 10_000))\t\n".utf8)
        bytes += Array("b\t\t坏".utf8) + [0xC0, 0xAF] + Array("\t\tquery\n".utf8)
        try folder.write("captions.tsv", bytes: bytes)
        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.issues.map(\.reason) == ["caption is 30000 bytes long, over the limit of 4096 bytes",
                                                  "invalid UTF-8 in the caption"])
        #expect(dataset.split(named: "query")?.issues.map(\.line) == [1, 2])
        #expect(dataset.split(named: "gallery")?.issues.map(\.line) == [1])
    }

    @Test func jsonlWithLabelsAsArrayOrStringAndASplitField() throws {
        let folder = try CatalogTempFolder()
        try folder.write("captions.jsonl", """
            {"id": "q1", "image": "images/q1.jpg", "caption": "AHC 黄金面霜 套装", "labels": ["AHC 黄金面霜", "AHC 黄金水", "AHC 黄金水"], "split": "query"}
            {"id": 300001, "image": "images/g1.jpg", "caption": "AHC \\u9ec4\\u91d1\\u6c34 \\ud83d\\ude00 \\"正品\\"", "labels": "AHC 黄金水", "split": "gallery", "extra": {"nested": [1, 2.5e3, true, null]}}
            {"id": "g2", "caption": "兰蔻 粉水\\t(一)", "labels": "兰蔻 粉水; 兰蔻 小黑瓶精华 ;", "split": "gallery"}
            {"id": "t1", "image": null, "caption": "训练", "labels": null, "split": "train"}

            """)
        try folder.touch("images/q1.jpg", "images/g1.jpg")

        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.format == .folderJSONL)
        #expect(dataset.splits.map(\.name) == ["train", "query", "gallery"])
        #expect(dataset.issues.isEmpty)

        let q1 = try #require(dataset.split(named: "query")?.sample(id: "q1"))
        #expect(q1.labels == ["AHC 黄金面霜", "AHC 黄金水", "AHC 黄金水"])
        #expect(q1.imagePath == folder.path + "/images/q1.jpg")

        let gallery = try #require(dataset.gallery)
        let g1 = try #require(gallery.sample(id: "300001"))
        #expect(g1.caption == "AHC 黄金水 😀 \"正品\"")
        #expect(g1.labels == ["AHC 黄金水"])
        #expect(g1.line == 2)
        let g2 = try #require(gallery.sample(id: "g2"))
        #expect(g2.caption == "兰蔻 粉水\t(一)")
        #expect(g2.labels == ["兰蔻 粉水", "兰蔻 小黑瓶精华"])
        #expect(g2.imagePath == nil)
        #expect(gallery.missingImages == 1)
        #expect(dataset.split(named: "train")?.samples.first?.labels == [])
    }

    @Test func jsonlWithoutSplitIsBothQueryAndGallery() throws {
        let folder = try CatalogTempFolder()
        try folder.write("captions.jsonl", """
            {"id": "a", "image": "images/a.jpg", "caption": "一", "labels": ["x"]}
            {"id": "b", "image": "b.jpg", "caption": "二", "labels": "y;z"}
            """)
        try folder.touch("images/a.jpg", "images/b.jpg")
        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.splits.map(\.name) == ["query", "gallery"])
        #expect(dataset.splits.allSatisfy { $0.samples.map(\.id) == ["a", "b"] && $0.missingImages == 0 })
        #expect(dataset.gallery?.sample(id: "b")?.labels == ["y", "z"])
    }

    @Test func jsonlMalformedLinesAreReportedAndSkipped() throws {
        let folder = try CatalogTempFolder()
        var bytes = Array("""
            {"id": "ok", "caption": "好", "labels": ["a"]}
            {"id": "broken", "caption": "没有结尾"
            ["not", "an", "object"]
            {"id": "nocaption", "labels": []}
            {"id": "badlabels", "caption": "c", "labels": [1, 2]}
            {"id": "surrogate", "caption": "\\ud83d alone"}
            {"id": "", "caption": "空"}
            {"id": "ok", "caption": "重复"}
            {"id": "trailing", "caption": "c"} x

            """.utf8)
        bytes += Array(#"{"id": "raw", "caption": "坏"#.utf8) + [0xFF] + Array("\"}\n".utf8)
        try folder.write("captions.jsonl", bytes: bytes)

        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.gallery?.samples.map(\.id) == ["ok"])
        let reasons = dataset.issues.map(\.reason)
        #expect(dataset.issues.map(\.line) == [2, 3, 4, 5, 6, 7, 8, 9, 10])
        #expect(reasons[0].hasPrefix("invalid JSON at column "))
        #expect(reasons[0].hasSuffix("unexpected end of line inside an object"))
        #expect(reasons[1] == "expected a JSON object, found an array")
        #expect(reasons[2] == "missing \"caption\"")
        #expect(reasons[3] == "\"labels\" must hold strings, found a number")
        #expect(reasons[4].contains("unpaired surrogate"))
        #expect(reasons[5] == "empty id")
        #expect(reasons[6] == "duplicate id 'ok' (first on line 1)")
        #expect(reasons[7].hasSuffix("unexpected 'x' after the JSON value"))
        #expect(reasons[8].hasSuffix("invalid UTF-8 in a string"))
        // No split field anywhere: every issue is listed in both query and gallery.
        #expect(dataset.split(named: "query")?.issues.count == 9)
        #expect(dataset.unassignedIssues.isEmpty)
    }

    @Test func jsonlStrictModeThrowsAtTheFirstBadLine() throws {
        let folder = try CatalogTempFolder()
        try folder.write("captions.jsonl", "{\"id\": \"a\", \"caption\": \"一\"}\n\n{\"id\": 1}\n{\"id\": true}\n")
        let error = try #require(throws: CatalogError.self) {
            try Dataset.load(from: folder.path, options: LoadOptions(strict: true))
        }
        #expect(error.kind == .malformedLine)
        #expect(error.issue == LoadIssue(file: "captions.jsonl", line: 3, reason: "missing \"caption\""))
    }

    @Test func deepNestingIsRefusedNotCrashed() throws {
        let folder = try CatalogTempFolder()
        let deep = String(repeating: "[", count: 100_000)
        try folder.write("captions.jsonl", "{\"id\": \"a\", \"caption\": \"c\", \"x\": \(deep)}\n")
        let dataset = try Dataset.load(from: folder.path)
        #expect(dataset.issues.first?.reason.contains("nesting deeper than 64 levels") == true)
    }

    /// An image field cannot name a file outside the dataset folder: absolute paths and `..` are
    /// reported, counted lines, never opened, so a data file cannot show /etc/passwd or reveal
    /// whether /etc/shadow exists (through the missing-image count).
    @Test func imagesOutsideTheFolderAreRefused() throws {
        let folder = try CatalogTempFolder()
        try folder.write("captions.tsv", """
            id\timage\tcaption\tlabels\tsplit
            g1\timages/g1.jpg\tinside\tA\tgallery
            g2\t/etc/passwd\tabsolute\tA\tgallery
            g3\t../outside.jpg\tclimbs\tA\tgallery
            g4\timages/../../outside.jpg\tclimbs later\tA\tgallery
            g5\t/etc/shadow-that-does-not-exist\tabsolute missing\tA\tgallery
            """ + "\n")
        try folder.touch("images/g1.jpg")
        let dataset = try Dataset.load(from: folder.path)
        let gallery = try #require(dataset.gallery)
        #expect(gallery.samples.map(\.id) == ["g1"])
        #expect(gallery.missingImages == 0)
        #expect(gallery.issues.map(\.line) == [3, 4, 5, 6])
        #expect(gallery.issues.allSatisfy { $0.reason.contains("inside the dataset folder only") })
        #expect(gallery.issues[0].reason.contains("absolute") && gallery.issues[1].reason.contains(".."))
    }
}
