import Annotations
import Catalog
import Explorer
import Foundation
import Imaging
import Retrieval
import Testing

/// The query bar, results, attention, inspect mode and flags: the pure update with a
/// deterministic retrieval service, and frame snapshots of the new panes.
@Suite struct RetrievalExplorerTests {
    let driver = Driver()

    func searches(_ effects: [Effect]) -> [(Int, RetrievalQuery)] {
        effects.compactMap { if case .retrieval(.search(let g, let q, _)) = $0 { return (g, q) } else { return nil } }
    }

    // MARK: Query bar

    @Test func typingACaptionAndEnterSearches() {
        var s = Driver.state()
        _ = Fixture.key(&s, .char("s"))
        #expect(s.context == .query)
        Fixture.type(&s, "aurelle qg")      // q and g are text here, not quit or top
        #expect(!s.quitting)
        _ = Fixture.key(&s, .backspace)
        _ = Fixture.key(&s, .backspace)
        let effects = Fixture.key(&s, .enter)
        #expect(searches(effects).map(\.1) == [.caption("aurelle")])
        #expect(s.screen == .results && s.context == .results)
        #expect(s.retrieval.results.searching, "results are pending until the answer comes")
        driver.run(&s, effects)
        #expect(!s.retrieval.results.searching)
        #expect(s.retrieval.results.rows.count == Fixture.dataset.gallery!.samples.count)
        #expect(s.sample(id: s.retrieval.results.rows[0].sampleID)?.caption.lowercased().contains("aurelle") == true)
        #expect(s.retrieval.bar.history == ["aurelle"])
    }

    @Test func imageFilesAreQueriesToo() {
        #expect(parseQuery("image: /tmp/a b.jpg") == .imageFile(path: "/tmp/a b.jpg"))
        #expect(parseQuery("image:") == .caption("image:"))
        #expect(parseQuery("red lipstick") == .caption("red lipstick"))
        var s = Driver.state()
        _ = Fixture.key(&s, .char("s"))
        let path = Fixture.folder + "/images/100001.jpg"
        Fixture.type(&s, "image:" + path)
        let effects = Fixture.key(&s, .enter)
        #expect(searches(effects).map(\.1) == [.imageFile(path: path)])
        #expect(view(s).textLines().joined().contains("image 100001.jpg"))
    }

    @Test func historyWalksWithUpAndDown() {
        var s = Driver.state()
        driver.search(&s, "first")
        driver.search(&s, "second")
        _ = Fixture.key(&s, .char("s"))
        _ = Fixture.key(&s, .ctrl("u"))
        Fixture.type(&s, "draft")
        _ = Fixture.key(&s, .up)
        #expect(s.retrieval.bar.text == "second")
        _ = Fixture.key(&s, .up)
        _ = Fixture.key(&s, .up)
        #expect(s.retrieval.bar.text == "first")
        _ = Fixture.key(&s, .down)
        #expect(s.retrieval.bar.text == "second")
        _ = Fixture.key(&s, .down)
        #expect(s.retrieval.bar.text == "draft", "past the newest entry, the line being typed comes back")
        _ = Fixture.key(&s, .escape)
        #expect(s.context == .results)
    }

    @Test func aNewerSearchMakesAnOlderAnswerStale() {
        var s = Driver.state()
        _ = Fixture.key(&s, .char("s"))
        Fixture.type(&s, "brisane")
        let first = searches(Fixture.key(&s, .enter))
        _ = Fixture.key(&s, .char("s"))
        _ = Fixture.key(&s, .ctrl("u"))
        Fixture.type(&s, "dovena")
        let second = searches(Fixture.key(&s, .enter))
        #expect(first.count == 1 && second.count == 1 && second[0].0 > first[0].0)
        // The older answer arrives last: it is ignored.
        let newer = driver.answer(.retrieval(.search(generation: second[0].0, query: second[0].1, top: 100)))!
        let older = driver.answer(.retrieval(.search(generation: first[0].0, query: first[0].1, top: 100)))!
        _ = update(&s, newer)
        let top = s.retrieval.results.rows.first?.sampleID
        _ = update(&s, older)
        #expect(s.retrieval.results.rows.first?.sampleID == top)
        #expect(s.retrieval.results.query == .caption("dovena"))
        #expect(s.sample(id: top!)?.caption.contains("Dovena") == true)
    }

    @Test func searchWithoutAnEngineSaysWhy() {
        var s = Driver.state()
        s.retrieval.engine = .unavailable("no weights")
        _ = Fixture.key(&s, .char("s"))
        Fixture.type(&s, "x")
        #expect(searches(Fixture.key(&s, .enter)).isEmpty)
        #expect(s.retrieval.results.error?.contains("no weights") == true)
        #expect(view(s).textLines().joined().contains("no weights"))
    }

    // MARK: Sample queries and modes

    @Test func theSelectedSampleIsAQueryInEachMode() {
        var s = Driver.state()
        while s.split?.name != "dev" { _ = Fixture.key(&s, .tab) }
        let id = s.selectedSample!.id
        #expect(s.retrieval.mode == .pair)
        var effects = Fixture.key(&s, .enter)
        #expect(searches(effects).map(\.1) == [.sample(id: id, mode: .pair)])
        driver.run(&s, effects)
        #expect(s.retrieval.results.averagePrecision != nil, "a labelled query has an AP")
        #expect(s.retrieval.results.rows.contains { $0.isRelevant == true })
        #expect(s.retrieval.results.rows.contains { $0.isRelevant == false })
        effects = Fixture.key(&s, .char("m"))
        #expect(searches(effects).map(\.1) == [.sample(id: id, mode: .caption)], "m searches again in the next mode")
        driver.run(&s, effects)
        effects = Fixture.key(&s, .char("m"))
        #expect(searches(effects).map(\.1) == [.sample(id: id, mode: .image)])
        // Back in the browser, m cycles the mode Enter uses.
        _ = Fixture.key(&s, .escape)
        #expect(s.screen == .browser)
        _ = Fixture.key(&s, .char("m"))
        #expect(s.retrieval.mode == .pair)
    }

    // MARK: Results pane and attention

    @Test func attentionFollowsTheHighlightedMatch() {
        var s = Driver.state()
        driver.search(&s, "aurelle 水光面霜")
        var effects = Fixture.key(&s, .char("a"))
        let first = s.retrieval.results.rows[0].sampleID
        #expect(effects.contains(.retrieval(.attention(generation: 1, query: .caption("aurelle 水光面霜"), match: first))))
        driver.run(&s, effects)
        guard case .ready(let m, let summary)? = s.retrieval.results.attention else { Issue.record("no attention"); return }
        #expect(m == first && summary.tokens.map(\.token) == ["aurelle", "水光面霜"])
        // Moving asks for the next match; the answer for the old request is ignored.
        effects = Fixture.key(&s, .char("j"))
        let second = s.retrieval.results.rows[1].sampleID
        #expect(effects.contains { if case .retrieval(.attention(2, _, second)) = $0 { return true } else { return false } })
        _ = update(&s, .retrieval(.attentionFinished(generation: 1, match: first, .success(summary))))
        #expect(s.retrieval.results.attention == .loading(match: second))
        driver.run(&s, effects)
        #expect(s.retrieval.results.attention?.match == second)
        // w cycles the word maps, then back to the overall map.
        _ = Fixture.key(&s, .char("w"))
        #expect(s.retrieval.results.attentionToken == 0)
        _ = Fixture.key(&s, .char("w"))
        _ = Fixture.key(&s, .char("w"))
        #expect(s.retrieval.results.attentionToken == nil)
        // Hidden: no more requests.
        _ = Fixture.key(&s, .char("a"))
        #expect(!Fixture.key(&s, .char("j")).contains { if case .retrieval(.attention) = $0 { return true } else { return false } })
    }

    @Test func resultsPagingClampsAndScrolls() {
        var s = Driver.state(width: 100, height: 30)
        driver.search(&s, "gift")
        let count = s.retrieval.results.rows.count
        _ = Fixture.key(&s, .char("G"))
        #expect(s.retrieval.results.selected == count - 1)
        let rows = Layout(s).resultRows
        #expect(s.retrieval.results.scroll == count - rows)
        _ = Fixture.key(&s, .char("g"))
        #expect(s.retrieval.results.selected == 0 && s.retrieval.results.scroll == 0)
        _ = Fixture.key(&s, .pageDown)
        #expect(s.retrieval.results.selected == rows)
        // A click on the third visible match highlights it.
        let layout = Layout(s)
        _ = update(&s, .input(.mouse(MouseEvent(x: 5, y: layout.resultsTop + 2 * layout.resultRowHeight, button: .left))))
        #expect(s.retrieval.results.selected == s.retrieval.results.scroll + 2)
    }

    // MARK: Flags

    @Test func flagConfirmAndUndo() throws {
        let store = MemoryFlags()
        let d = Driver(flags: store)
        var s = Driver.state()
        d.search(&s, "celoria")
        let first = s.retrieval.results.rows[0].sampleID
        d.key(&s, .char("f"))
        #expect(s.retrieval.flags.verdicts[first] == .wrong)
        var stored = try store.flags(dataset: Fixture.dataset.flagKey, query: "caption:celoria")
        #expect(stored.count == 1 && stored[0].match == first && stored[0].verdict == .wrong && stored[0].annotator == "ann"
                && stored[0].model == "zero-shot")
        d.key(&s, .char("j"))
        d.key(&s, .char("c"))
        let second = s.retrieval.results.rows[1].sampleID
        #expect(s.retrieval.flags.verdicts[second] == .confirmed)
        // The same match flagged again replaces the verdict.
        d.key(&s, .char("f"))
        stored = try store.flags(dataset: Fixture.dataset.flagKey, query: "caption:celoria")
        #expect(stored.count == 2 && stored.first { $0.match == second }?.verdict == .wrong)
        // Undo: the confirmation comes back (the store restores what a verdict replaced).
        d.key(&s, .char("u"))
        #expect(s.retrieval.flags.verdicts[second] == .confirmed)
        d.key(&s, .char("u"))
        d.key(&s, .char("u"))
        #expect(s.retrieval.flags.verdicts.isEmpty)
        d.key(&s, .char("u"))
        #expect(s.status?.role == .warning, "nothing left to undo is said")
        // Flags are read back when the query is shown again.
        d.key(&s, .char("f"))
        d.search(&s, "other")
        #expect(s.retrieval.flags.verdicts.isEmpty)
        d.search(&s, "celoria")
        #expect(s.retrieval.flags.verdicts[s.retrieval.results.rows[1].sampleID] == .wrong)
    }

    @Test func flagsWithoutAStoreSayWhy() {
        var s = Driver.state(flags: false)
        s.retrieval.flags.unavailableReason = "cannot open the flags store: disk full"
        driver.search(&s, "celoria")
        let effects = Fixture.key(&s, .char("f"))
        #expect(effects.isEmpty)
        #expect(s.status?.text.contains("disk full") == true)
    }

    // MARK: Inspect mode

    func rankingFile() throws -> String {
        // Query 200001 ranked well, 200002 badly, an unknown query last.
        let gallery = Array(Fixture.dataset.gallery!.samples)
        let good = gallery.filter { $0.product == "Aurelle 水光面霜" || $0.product == "Brisane 柔肤水" }.map(\.id)
        let bad = gallery.filter { $0.product != "Celoria 防晒乳" && $0.product != "Dovena 睫毛膏" }.map(\.id)
        let text = "200001,\(good.joined(separator: ",")),100001\n200002,\(bad.prefix(12).joined(separator: ","))\n999999,100001\n"
        let dir = NSTemporaryDirectory() + "vitrine-inspect-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/retrieval_id_list.txt"   // a fixed name: it shows in the snapshot
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func inspectWalksQueriesFromTheWorstAP() throws {
        let path = try rankingFile()
        let session = try loadInspectSession(path: path, dataset: Fixture.dataset)
        #expect(session.queries.map(\.queryID) == ["200002", "999999", "200001"])
        #expect(session.queries[0].averagePrecision10 == 0 && session.queries[2].averagePrecision10 == 1)
        #expect(session.queries[1].failure != nil, "an unknown query is said")
        #expect(session.queries[2].rows.first?.isRelevant == true && session.queries[0].rows.first?.isRelevant == false)

        var s = Driver.state()
        s.retrieval.inspect.path = path
        driver.run(&s, [.retrieval(.loadRankings(path: path))])
        #expect(s.screen == .results && s.retrieval.inspect.active)
        #expect(s.retrieval.results.query == .sample(id: "200002", mode: .pair))
        #expect(s.retrieval.results.rows.count == 12 && s.retrieval.results.rows[0].score == nil)
        _ = Fixture.key(&s, .char("n"))
        _ = Fixture.key(&s, .char("n"))
        #expect(s.retrieval.results.query == .sample(id: "200001", mode: .pair))
        _ = Fixture.key(&s, .char("n"))
        #expect(s.retrieval.inspect.position == 2, "clamped at the best")
        _ = Fixture.key(&s, .char("N"))
        #expect(s.retrieval.results.query == .sample(id: "999999", mode: .pair))
        // A live search leaves inspect mode; i comes back to the same query.
        driver.search(&s, "aurelle")
        #expect(!s.retrieval.inspect.active)
        _ = Fixture.key(&s, .escape)
        _ = Fixture.key(&s, .char("i"))
        #expect(s.retrieval.inspect.active && s.retrieval.results.query == .sample(id: "999999", mode: .pair))
    }

    @Test func inspectWithoutAFileSaysHowToGiveOne() {
        var s = Driver.state()
        _ = Fixture.key(&s, .char("i"))
        #expect(s.screen == .browser)
        #expect(s.status?.text.contains("--rankings") == true)
        #expect(throws: (any Error).self) { try loadInspectSession(path: "/nonexistent/retrieval_id_list.txt", dataset: Fixture.dataset) }
    }

    // MARK: Layout

    @Test func bottomPaneIsGivenUpOnSmallTerminals() {
        let big = Layout(size: Size(width: 100, height: 40), bottomPaneHeight: 8)
        #expect(big.bottom.height == 8 && big.browser.maxY == big.bottom.y)
        let small = Layout(size: Size(width: 100, height: 20), bottomPaneHeight: 8)
        #expect(small.bottom.height == 0 && small.browser.maxY == small.footer.y)
    }

    // MARK: Snapshots

    func searched(width: Int = 100, height: Int = 30, colorMode: ColorMode = .truecolor, unicode: Bool = true) -> ExplorerState {
        var s = Driver.state(width: width, height: height, colorMode: colorMode, unicode: unicode)
        while s.split?.name != "dev" { _ = Fixture.key(&s, .tab) }
        driver.key(&s, .enter)                  // 200001 as a pair query
        driver.key(&s, .char("j"))
        driver.key(&s, .char("f"))              // flag the second match wrong
        driver.key(&s, .char("j"))
        driver.key(&s, .char("c"))              // confirm the third
        s.status = nil
        return s
    }

    @Test func snapshotQueryBar() {
        var s = Driver.state(width: 80, height: 24)
        driver.search(&s, "aurelle")
        _ = Fixture.key(&s, .char("s"))
        _ = Fixture.key(&s, .ctrl("u"))
        Fixture.type(&s, "Brisane 柔肤水 \u{1B}[31m")
        let frame = view(s)
        #expect(frame.cursor != nil, "the query bar shows a cursor")
        #expect(!frame.cells.contains { $0.text.unicodeScalars.contains { $0.value == 0x1B } }, "typed control bytes are shown, not sent")
        Snapshot.check(frame, "query-bar-80x24")
    }

    @Test func snapshotResultsWithMarksAndAP() {
        let s = searched()
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("AP@22 "), "the AP names its depth")
        #expect(text.contains("✓") && text.contains("✗") && text.contains("⚑") && text.contains("★"))
        Snapshot.check(view(s), "results-100x30")
    }

    @Test func snapshotAttention() {
        var s = searched()
        driver.key(&s, .char("a"))
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("Query tokens"))
        Snapshot.check(view(s), "attention-100x30")
        driver.key(&s, .char("w"))
        #expect(view(s).textLines().joined().contains("map of “aurelle”"))
    }

    @Test func snapshotAttentionMonochromeASCII() {
        var s = searched(colorMode: .none, unicode: false)
        driver.key(&s, .char("a"))
        let frame = view(s)
        for line in frame.textLines() { #expect(line.unicodeScalars.allSatisfy { $0.isASCII }, "non-ASCII in \(line)") }
        // The map is drawn with the density ramp: its strongest cell is the densest character.
        #expect(frame.textLines().joined().contains("@"))
        Snapshot.check(frame, "attention-100x30-mono-ascii")
    }

    @Test func snapshotInspect() throws {
        let path = try rankingFile()
        var s = Driver.state()
        driver.run(&s, [.retrieval(.loadRankings(path: path))])
        s.status = nil
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("worst AP first") && text.contains("AP@10"))
        Snapshot.check(view(s), "inspect-100x30")
    }

    @Test func snapshotResultsSmallTerminal() {
        var s = searched(width: 60, height: 16)
        driver.key(&s, .char("a"))
        Snapshot.check(view(s), "results-60x16")
        _ = update(&s, .input(.resize(width: 50, height: 12)))
        #expect(view(s).textLines().joined().contains("Terminal too small"))
        _ = update(&s, .input(.resize(width: 60, height: 16)))
        #expect(s.retrieval.results.selected >= s.retrieval.results.scroll)
    }

    @Test func indexProgressShowsInTheFooter() {
        var s = Driver.state()
        s.retrieval.engine = .opening
        _ = update(&s, .retrieval(.indexEvent(.started(items: 400))))
        _ = update(&s, .retrieval(.indexEvent(.progress(done: 100, total: 400))))
        #expect(view(s).textLines().last?.contains("indexing gallery 100/400 25%") == true)
        _ = update(&s, .retrieval(.indexEvent(.finished(items: 400, seconds: 2))))
        #expect(s.retrieval.engine == .ready(items: 400))
        #expect(view(s).textLines().last?.contains("indexing") == false)
    }

    @Test func hostileDataInResultsIsShownNotSent() {
        var s = Driver.state()
        driver.search(&s, "evil")
        let idx = s.retrieval.results.rows.firstIndex { $0.sampleID == "100099" }!
        _ = Fixture.key(&s, .char("g"))
        for _ in 0..<idx { driver.key(&s, .char("j")) }
        let frame = view(s)
        for cell in frame.cells {
            #expect(!cell.text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        }
        #expect(frame.textLines().joined().contains("␛[31mred"))
    }
}
