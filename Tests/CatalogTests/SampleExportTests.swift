import Catalog
import Testing

@Suite struct SampleExportTests {
    static let split = Split(name: "gallery", role: .gallery, file: "g.txt", samples: [
        Sample(id: "1", caption: "tab\there\nand \\ back", imagePath: "/d/images/1.jpg", labels: ["A", "B"], line: 1),
        Sample(id: "2", caption: "red \u{1B}[31m and C1 \u{9B}2J and \u{202E}flip", imagePath: nil, labels: [], line: 2),
        Sample(id: "3", caption: "精华 🎁", imagePath: nil, labels: ["C"], line: 3),
    ])

    static func text(_ format: SampleExportFormat, _ positions: [Int]) -> String {
        var out = ""
        SampleExport.lines(split, positions: positions, format: format) { out += $0 }
        return out
    }

    @Test func tsvHasAHeaderAndEscapesEveryControl() {
        #expect(Self.text(.tsv, [0, 1, 2]) == """
            id\tsplit\tline\tlabels\tcaption
            1\tgallery\t1\tA;B\ttab\\there\\nand \\\\ back
            2\tgallery\t2\t\tred \\u{1B}[31m and C1 \\u{9B}2J and \\u{202E}flip
            3\tgallery\t3\tC\t精华 🎁

            """)
    }

    @Test func jsonLinesParseBackAndKeepOnlyThePositionsAsked() throws {
        let lines = Self.text(.jsonl, [2, 0]).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0] == #"{"id":"3","split":"gallery","line":3,"labels":["C"],"caption":"精华 🎁","image":null}"#)
        #expect(lines[1] == #"{"id":"1","split":"gallery","line":1,"labels":["A","B"],"caption":"tab\there\nand \\ back","image":"/d/images/1.jpg"}"#)
        let hostile = Self.text(.jsonl, [1])
        #expect(!hostile.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B || $0.value == 0x202E })
    }
}
