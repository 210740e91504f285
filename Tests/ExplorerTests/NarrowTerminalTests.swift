import Catalog
import Explorer
import Foundation
import Testing

/// A Product1M folder with a long name, all four splits with thousands of samples, no image
/// files at all (every sample's image is missing) and a malformed gallery line: the header
/// has more to say than 80 columns hold.
enum WideFixture {
    static let folder: String = {
        let dir = NSTemporaryDirectory() + "vitrine-explorer-\(getpid())/a-product-catalogue-with-a-rather-long-name"
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        let sizes = [("train", 12_345), ("dev", 987), ("test", 1_020), ("gallery", 2_245)]
        var id = 400_000
        for (split, n) in sizes {
            var text = ""
            for i in 0..<n {
                id += 1
                let kind = i % 5 == 0 ? "Aurelle 水光面霜#;#Brisane 柔肤水" : "Aurelle 水光面霜"
                text += "\(id)#####Aurelle 水光面霜 正品 包邮 gift box number \(i) authentic#####u#####u#####\(kind)\n"
            }
            if split == "gallery" { text += "this line is malformed\n" }
            try! text.write(toFile: dir + "/product1m_\(split)_ossurl_v2.txt", atomically: true, encoding: .utf8)
        }
        return dir
    }()

    static let dataset: Dataset = try! Dataset.load(from: folder)

    static func state(width: Int, height: Int = 24) -> ExplorerState {
        var s = ExplorerState(size: Size(width: width, height: height),
                              capabilities: TerminalCapabilities(colorMode: .truecolor, unicode: true, mouse: true),
                              theme: Fixture.theme, dataPath: folder)
        _ = update(&s, .datasetLoaded(.success(LoadedDataset(dataset: dataset, loadSeconds: 0))))
        s.status = nil
        return s
    }
}

/// The explorer at 80x24 and narrower: the header keeps what matters, and every text cut to
/// fit ends with "…" (measured in display columns).
@Suite struct NarrowTerminalTests {
    let driver = Driver()

    /// The header row's text and the columns of the active tab (reverse video).
    func header(_ frame: Frame) -> (text: String, active: String) {
        var active = ""
        for x in 0..<frame.width where frame[x, 0].style.reverse && !frame[x, 0].isContinuation { active += frame[x, 0].text }
        return (frame.textLines()[0], active.trimmingCharacters(in: .whitespaces))
    }

    @Test func theHeaderKeepsTheActiveTabAndTheWarningsAtEveryWidth() {
        for width in Array(60...120) + [140, 160, 200] {
            var s = WideFixture.state(width: width)
            for split in WideFixture.dataset.splits.indices {
                s.splitIndex = split
                let name = WideFixture.dataset.splits[split].name
                let (text, active) = header(view(s))
                #expect(active.hasPrefix(name), "\(width) columns, \(name) active: the active tab is \"\(active)\" in \(text)")
                #expect(text.contains("missing"), "\(width) columns, \(name) active: no missing-image warning in \(text)")
                if name == "gallery" { #expect(text.contains("malformed"), "\(width) columns: no malformed-line warning in \(text)") }
                #expect(DisplayWidth.of(text) == width)
            }
        }
        // With room, everything is said in full.
        let wide = header(view(WideFixture.state(width: 200))).text
        #expect(wide.contains("a-product-catalogue-with-a-rather-long-name · product1m"))
        #expect(wide.contains("train 12345") && wide.contains("gallery 2245"))
        #expect(wide.contains("2245 missing images · 1 malformed line"))
    }

    @Test func headerAt80x24() {
        var s = WideFixture.state(width: 80)
        let gallery = header(view(s)).text
        #expect(gallery.contains("missing") && gallery.contains("malformed"))
        Snapshot.check(view(s), "header-gallery-80x24")
        // The first split active: its tab moves into view, the others make room (the preview at rest).
        for case .restPreview(let serial, _) in update(&s, .input(.key(.tab))) { _ = update(&s, .previewRested(serial: serial)) }
        #expect(header(view(s)).active.hasPrefix("train"))
        Snapshot.check(view(s), "header-train-80x24")
    }

    @Test func compactCounts() {
        var s = WideFixture.state(width: 72)
        s.splitIndex = 0
        let text = header(view(s)).text
        #expect(text.contains("train 12k"), "\(text)")
    }

    @Test func resultsAt80x24CutWithAnEllipsis() {
        var s = Driver.state(width: 80, height: 24)
        driver.search(&s, "Aurelle 水光面霜 gift box authentic, the one with the golden lid and the long description")
        let lines = view(s).textLines()
        // The query line, and the rows whose captions are cut.
        #expect(lines[2].hasSuffix("…│") || lines[2].contains("…"), "query line: \(lines[2])")
        let cut = lines.filter { $0.contains("…") }
        #expect(cut.count > 3)
        Snapshot.check(view(s), "results-80x24")
        driver.key(&s, .char("a"))
        Snapshot.check(view(s), "attention-80x24")
    }

    @Test func statusMessagesAndTypedLinesAreCutWithAnEllipsis() {
        var s = Driver.state(width: 80, height: 24)
        s.status = StatusLine("cannot open the flags store: the folder /a/very/long/path/that/goes/on/and/on/flags.sqlite is read-only", role: .warning)
        let footer = view(s).textLines()[23]
        #expect(footer.contains("read-only") == false && footer.contains("…"), "\(footer)")

        // Typing a long search: the end (where the cursor is) stays in view, the start is cut.
        s.status = nil
        _ = Fixture.key(&s, .char("s"))
        Fixture.type(&s, "Aurelle 水光面霜 正品 包邮 gift box authentic with the golden lid 面霜 END")
        let bar = view(s).textLines()[23]
        #expect(bar.contains("› …") && bar.contains("END"), "\(bar)")
        Snapshot.check(view(s), "query-bar-long-80x24")

        // The same for a long filter.
        _ = Fixture.key(&s, .escape)
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "水光面霜 正品 包邮 gift box authentic and more words than fit the footer END")
        let filter = view(s).textLines()[23]
        #expect(filter.contains("/ …") && filter.contains("END"), "\(filter)")
        for line in view(s).textLines() { #expect(DisplayWidth.of(line) == 80, "\(line)") }
    }

    @Test func truncationMeasuresDisplayColumns() {
        #expect(DisplayWidth.truncate("水光面霜正品", to: 7) == "水光面…")
        #expect(DisplayWidth.of(DisplayWidth.truncate("水光面霜正品", to: 8)) <= 8)
        #expect(DisplayWidth.truncateLeading("水光面霜正品", to: 7) == "…霜正品")
        #expect(DisplayWidth.truncateLeading("abc", to: 3) == "abc")
        #expect(DisplayWidth.truncateLeading("abcd", to: 3) == "…cd")
    }
}
