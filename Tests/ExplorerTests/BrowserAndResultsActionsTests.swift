import Catalog
import Foundation
import Explorer
import Testing

/// The browser's and the results' actions for finding and taking out what you see: `:` goes to an id,
/// `y` copies one, `E` exports the filtered list, `v` shows the query, `o` orders and `/` finds matches.

/// `:` then an id: the sample in any split, selected in the browser.
@Suite struct GoToTests {
    static func goTo(_ s: inout ExplorerState, _ id: String) {
        Fixture.settle(&s, Fixture.key(&s, .char(":")))
        Fixture.type(&s, id)
        Fixture.settle(&s, Fixture.key(&s, .enter))
    }

    @Test func findsASampleInAnotherSplit() {
        var s = Fixture.state()
        #expect(s.split?.name == "gallery")
        Self.goTo(&s, "200002")
        #expect(s.gotoText == nil && s.context == .browser)
        #expect(s.split?.name == "dev")
        #expect(s.selectedSample?.id == "200002")
        #expect(s.status?.text == "200002: dev, line 2")
    }

    @Test func thePromptShowsWhatIsTypedAndTheKeys() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char(":"))
        Fixture.type(&s, "1000")
        #expect(s.gotoText == "1000" && s.context == .goto)
        let footer = Snapshot.render(view(s)).components(separatedBy: "\n")[24]
        #expect(footer.contains("go to id: 1000"), "\(footer)")
        #expect(footer.contains("⏎ go · esc cancel"), "\(footer)")
        _ = Fixture.key(&s, .backspace)
        #expect(s.gotoText == "100")
        _ = Fixture.key(&s, .escape)
        #expect(s.gotoText == nil && s.split?.name == "gallery" && s.status == nil)
    }

    @Test func aFilterThatHidesTheSampleIsCleared() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "Aurelle")
        _ = Fixture.key(&s, .enter)
        #expect(s.browser.visible.count < 20)
        Self.goTo(&s, "100013")
        #expect(s.filter.isEmpty)
        #expect(s.selectedSample?.id == "100013")
        #expect(s.status?.text.contains("the filter was cleared") == true)
        // One the filter shows keeps the filter.
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "Brisane")
        _ = Fixture.key(&s, .enter)
        let shown = s.browser.visible.map { s.split!.samples[$0].id }
        Self.goTo(&s, shown[2])
        #expect(s.filter == "Brisane" && s.selectedSample?.id == shown[2])
    }

    @Test func anUnknownOrHostileIdSaysSoAndStays() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char("j"))
        let before = s.selectedSample?.id
        Self.goTo(&s, "nope\u{1B}[31m")
        #expect(s.split?.name == "gallery" && s.selectedSample?.id == before)
        #expect(s.status?.role == .warning)
        #expect(s.status?.text.contains("No sample has the id") == true)
        let screen = Snapshot.render(view(s))
        #expect(!screen.contains("\u{1B}"), "escape bytes reach the screen")
        #expect(screen.contains("No sample has the id"))
    }
}

/// `y` copies the selected sample's or the highlighted match's id through OSC 52.
@Suite struct CopyIDTests {
    @Test func theSelectedSampleIsCopiedAndNothingElse() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char("j"))
        let id = s.selectedSample!.id
        let effects = Fixture.key(&s, .char("y"))
        #expect(effects == [.copyToClipboard(id)])
        #expect(s.status?.text == "copied \(id) to the clipboard (OSC 52)")
        // Typing a filter, `y` is text, not a copy.
        _ = Fixture.key(&s, .char("/"))
        #expect(!Fixture.key(&s, .char("y")).contains(.copyToClipboard(id)))
        #expect(s.filter == "y")
    }

    @Test func inTheResultsTheHighlightedMatchIsCopied() {
        var s = Driver.state()
        let driver = Driver()
        _ = Fixture.key(&s, .char("s"))
        Fixture.type(&s, "aurelle")
        driver.run(&s, Fixture.key(&s, .enter))
        _ = Fixture.key(&s, .down)
        let match = s.retrieval.results.rows[1].sampleID
        #expect(Fixture.key(&s, .char("y")) == [.copyToClipboard(match)])
    }

    @Test func theSequenceCarriesTheTextInBase64Only() {
        let hostile = "100099\u{1B}]0;title\u{07}\u{9B}31m"
        let bytes = Clipboard.sequence(for: hostile)
        #expect(Array(bytes.prefix(7)) == Array("\u{1B}]52;c;".utf8))
        #expect(bytes.last == 0x07)
        let payload = bytes.dropFirst(7).dropLast()
        #expect(payload.allSatisfy { $0 >= 0x2B && $0 <= 0x7A }, "base64 only between the introducer and BEL")
        #expect(Data(base64Encoded: Data(payload)).map { String(decoding: $0, as: UTF8.self) } == hostile)
        #expect(Clipboard.sequence(for: String(repeating: "x", count: 10_000)).count < 4096 * 4 / 3 + 16)
    }

    @Test func theAppSendsItToTheTerminal() throws {
        let backend = MemoryBackend(width: 100, height: 30, idleLimitMilliseconds: 200)
        let loop = LoopThread(app: ExplorerApp(options: ExplorerOptions(dataPath: Fixture.folder)), backend: backend)
        loop.start()
        try #require(loop.waitForFrame("the browser") { $0.contains("gallery ·") })
        backend.type(.char("y"))
        #expect(loop.waitForFrame("the status") { $0.contains("to the clipboard") })
        #expect(backend.clipboard == ["100001"])
        backend.type(.char("q"))
        #expect(loop.join(seconds: 10))
    }
}

/// `E` writes the samples the filter shows to a TSV file.
@Suite struct ExportListTests {
    @Test func theFilteredListIsExported() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "Brisane")
        _ = Fixture.key(&s, .enter)
        let visible = s.browser.visible
        #expect(visible.count == 5)
        #expect(Fixture.key(&s, .char("E")) == [.exportSamples(split: s.splitIndex, positions: visible, name: "gallery-filtered")])
        _ = update(&s, .exported(.success(ExportDone(path: "/tmp/x.tsv", count: 5))))
        #expect(s.status?.text == "wrote 5 samples to /tmp/x.tsv")
        _ = update(&s, .exported(.failure(LoadFailure("/tmp/x.tsv: no room"))))
        #expect(s.status?.role == .error)
    }

    @Test func theAppWritesTheFile() throws {
        let folder = NSTemporaryDirectory() + "vitrine-export-app-\(getpid())"
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var options = ExplorerOptions(dataPath: Fixture.folder)
        options.exportDirectory = folder
        let backend = MemoryBackend(width: 100, height: 30, idleLimitMilliseconds: 200)
        let loop = LoopThread(app: ExplorerApp(options: options), backend: backend)
        loop.start()
        try #require(loop.waitForFrame("the browser") { $0.contains("gallery ·") })
        backend.type(.char("/"))
        backend.type(text: "Brisane")
        backend.type(.enter, .char("E"))
        #expect(loop.waitForFrame("the export") { $0.contains("wrote 5 samples to") })
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(files.count == 1 && files[0].hasPrefix("vitrine-gallery-filtered-") && files[0].hasSuffix(".tsv"))
        let text = try String(contentsOfFile: folder + "/" + files[0], encoding: .utf8)
        #expect(text.split(separator: "\n").count == 6 && text.hasPrefix("id\tsplit\tline\tlabels\tcaption\n"))
        backend.type(.char("q"))
        #expect(loop.join(seconds: 10))
    }
}

/// `v` in the results shows the query itself in the right pane.
@Suite struct QueryViewTests {
    @Test func aSampleQueryShowsItsImageCaptionAndLabels() {
        var s = Driver.state()
        let driver = Driver()
        _ = Fixture.key(&s, .char("j"))
        let query = s.selectedSample!
        driver.run(&s, Fixture.key(&s, .enter))
        #expect(s.screen == .results)
        driver.run(&s, Fixture.key(&s, .char("v")))
        #expect(s.retrieval.results.showQuery)
        Fixture.settle(&s, [])
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("query · \(query.id) · image + caption"), "\(text)")
        #expect(text.contains("Labels"))
        // The attention view replaces it, and v again shows the match.
        _ = Fixture.key(&s, .char("a"))
        #expect(!s.retrieval.results.showQuery && s.retrieval.results.showAttention)
        _ = Fixture.key(&s, .char("v"))
        #expect(s.retrieval.results.showQuery && !s.retrieval.results.showAttention)
        _ = Fixture.key(&s, .char("v"))
        #expect(view(s).textLines().joined(separator: "\n").contains("match #1"))
    }

    @Test func aTypedCaptionShowsTheCaption() {
        var s = Driver.state()
        let driver = Driver()
        _ = Fixture.key(&s, .char("s"))
        Fixture.type(&s, "aurelle \u{1B}[31mred")
        driver.run(&s, Fixture.key(&s, .enter))
        _ = Fixture.key(&s, .char("v"))
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("query · typed caption"))
        #expect(!text.contains("\u{1B}"))
    }
}

/// `o` orders the matches, `/` finds one among them.
@Suite struct ResultsOrderAndFindTests {
    static func searched() -> ExplorerState {
        var s = Driver.state()
        _ = Fixture.key(&s, .char("s"))
        Fixture.type(&s, "aurelle")
        Driver().run(&s, Fixture.key(&s, .enter))
        return s
    }

    @Test func orderCyclesAndKeepsTheHighlightedMatch() {
        var s = Self.searched()
        _ = Fixture.key(&s, .down)
        let highlighted = s.retrieval.results.selectedRow!.sampleID
        _ = Fixture.key(&s, .char("o"))
        #expect(s.retrieval.results.order == .label)
        let labels = s.retrieval.results.rows.map { s.sample(id: $0.sampleID)?.product ?? "\u{10FFFF}" }
        #expect(labels == labels.sorted())
        #expect(s.retrieval.results.selectedRow?.sampleID == highlighted)
        #expect(view(s).textLines().joined().contains("results · 22 · by label"))
        _ = Fixture.key(&s, .char("o"))
        #expect(s.retrieval.results.rows.map(\.sampleID) == s.retrieval.results.rows.map(\.sampleID).sorted())
        _ = Fixture.key(&s, .char("o"))
        #expect(s.retrieval.results.rows.map(\.rank) == Array(1 ... 22))
        #expect(s.retrieval.results.selectedRow?.sampleID == highlighted)
    }

    @Test func findWalksTheMatchesThatContainTheText() {
        var s = Self.searched()
        let brisane = s.retrieval.results.rows.enumerated().filter {
            s.sample(id: $0.element.sampleID)?.caption.lowercased().contains("brisane") == true
        }.map(\.offset)
        #expect(brisane.count == 5)
        _ = Fixture.key(&s, .char("/"))
        #expect(s.context == .find)
        Fixture.type(&s, "BRISANE")
        _ = Fixture.key(&s, .enter)
        #expect(s.context == .results && s.retrieval.results.selected == brisane[0])
        // Again: the text is offered, Enter goes to the next one.
        _ = Fixture.key(&s, .char("/"))
        #expect(s.findText == "BRISANE")
        _ = Fixture.key(&s, .enter)
        #expect(s.retrieval.results.selected == brisane[1])
        _ = Fixture.key(&s, .char("/"))
        _ = Fixture.key(&s, .ctrl("u"))
        for _ in 0 ..< 7 { _ = Fixture.key(&s, .backspace) }
        Fixture.type(&s, "zzz")
        _ = Fixture.key(&s, .enter)
        #expect(s.retrieval.results.selected == brisane[1] && s.status?.role == .warning)
    }
}
