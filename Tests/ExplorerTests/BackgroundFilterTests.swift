import Catalog
import Explorer
import Foundation
import Testing

/// The filter over a large split read from its file runs off the UI thread: the update asks for
/// it (`Effect.filter`), matches arrive in batches (`Msg.filterFound`), a newer filter replaces the
/// running one, and a filter that extends a finished one re-checks only its matches.
@Suite("Background filter") struct BackgroundFilterTests {
    /// 60,000 gallery lines (over the background threshold), every 7th an "Aurelle" and every
    /// 11th labelled "Brisane 柔肤水".
    static let folder: String = {
        let dir = NSTemporaryDirectory() + "vitrine-bgfilter-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var text = ""
        for i in 0 ..< 60_000 {
            let brand = i % 7 == 0 ? "AURELLE" : "Celoria"
            let label = i % 11 == 0 ? "Brisane 柔肤水" : "Dovena 睫毛膏"
            text += "\(500_000 + i)#####\(brand) 面霜 \(i) 正品#####u#####u#####\(label)\n"
        }
        try! text.write(toFile: dir + "/product1m_gallery_ossurl_v2.txt", atomically: true, encoding: .utf8)
        return dir
    }()

    static let dataset = try! Dataset.load(from: folder)

    func loaded() -> ExplorerState {
        var s = ExplorerState(size: Size(width: 140, height: 30),
                              capabilities: TerminalCapabilities(colorMode: .truecolor, unicode: true, mouse: true),
                              theme: Fixture.theme, dataPath: Self.folder)
        _ = update(&s, .datasetLoaded(.success(LoadedDataset(dataset: Self.dataset, loadSeconds: 0))))
        return s
    }

    /// Types `text` into the filter and returns the filter effects asked for on the way.
    func type(_ s: inout ExplorerState, _ text: String) -> [Effect] {
        var effects: [Effect] = []
        for c in text { effects += update(&s, .input(.key(.char(c)))) }
        return effects.filter { if case .filter = $0 { return true } else { return false } }
    }

    /// Runs a filter effect as the app does, feeding its batches back to the update.
    func run(_ s: inout ExplorerState, _ effect: Effect, batch: Int = 5_000) {
        guard case .filter(let split, let generation, let job?) = effect else { return }
        var posted = 0
        SampleFilter(job.text).scan(Self.dataset.splits[split].samples, positions: job.within, batch: batch,
                                    isCancelled: { false }) { matches, checked in
            _ = update(&s, .filterFound(FilterFound(split: split, generation: generation, matches: matches,
                                                    checked: checked - posted, done: checked == (job.within?.count ?? 60_000))))
            posted = checked
        }
    }

    @Test func matchesArriveInBatchesAndNarrowingRechecksOnlyTheMatches() throws {
        var s = loaded()
        _ = update(&s, .input(.key(.char("/"))))
        let effects = type(&s, "aurelle")
        #expect(effects.count == 7)
        guard case .filter(_, let generation, let job?) = try #require(effects.last) else { Issue.record("no job"); return }
        #expect(job.text == "aurelle" && job.within == nil && generation == s.filterGeneration)
        #expect(s.browser.visible.isEmpty && s.browser.search?.done == false)

        // Answers to the six replaced filters are dropped; the current one fills `visible`.
        for stale in effects.dropLast() { run(&s, stale) }
        #expect(s.browser.visible.isEmpty)
        run(&s, effects.last!)
        let expected = (0 ..< 60_000).filter { $0 % 7 == 0 }
        #expect(s.browser.visible == expected)
        #expect(s.browser.search?.done == true && s.browser.search?.checked == 60_000)

        // " 面霜 7" extends it: only the 8,572 matches are checked again.
        let narrower = type(&s, " 面霜 7")
        guard case .filter(_, _, let job2?) = try #require(narrower.last) else { Issue.record("no job"); return }
        #expect(job2.within == expected)
        run(&s, narrower.last!)
        let expected2 = expected.filter { String($0).hasPrefix("7") }
        #expect(s.browser.visible == expected2)

        // Labels are searched too, lower-cased; deleting a character starts over from all lines.
        for _ in 0 ..< 12 { _ = update(&s, .input(.key(.backspace))) }
        let label = type(&s, "brisane 柔")
        guard case .filter(_, _, let job3?) = try #require(label.last) else { Issue.record("no job"); return }
        #expect(job3.within == nil)
        run(&s, label.last!)
        #expect(s.browser.visible == (0 ..< 60_000).filter { $0 % 11 == 0 })
    }

    @Test func clearingTheFilterStopsTheRunningOneAndShowsEverything() throws {
        var s = loaded()
        _ = update(&s, .input(.key(.char("/"))))
        let started = type(&s, "x")
        #expect(started.count == 1)
        let cleared = update(&s, .input(.key(.backspace))).filter { if case .filter = $0 { return true } else { return false } }
        guard case .filter(_, let generation, nil) = try #require(cleared.first) else { Issue.record("no stop"); return }
        #expect(generation == s.filterGeneration)
        #expect(s.browser.visible.count == 60_000 && s.browser.search == nil)
        run(&s, started[0])   // a late answer to the stopped filter changes nothing
        #expect(s.browser.visible.count == 60_000)
    }

    @Test func theSelectedSampleIsSelectedAgainWhenFound() throws {
        var s = loaded()
        for _ in 0 ..< 14 { _ = update(&s, .input(.key(.char("j")))) }
        #expect(s.browser.visible[s.browser.selected] == 14)
        _ = update(&s, .input(.key(.char("/"))))
        let effects = type(&s, "aurelle")
        run(&s, effects.last!, batch: 3)
        #expect(s.browser.visible[s.browser.selected] == 14)
    }

    @Test func theTitleShowsTheProgress() throws {
        var s = loaded()
        _ = update(&s, .input(.key(.char("/"))))
        let effects = type(&s, "aurelle")
        guard case .filter(let split, let generation, _) = try #require(effects.last) else { return }
        _ = update(&s, .filterFound(FilterFound(split: split, generation: generation, matches: [0, 7], checked: 30_000, done: false)))
        let screen = view(s).textLines().joined(separator: "\n")
        #expect(screen.contains("gallery · searching 50% · 2 of 60000 matching “aurelle”"), "\(screen)")
    }

    /// A large training split is scanned after the others are shown: the first `datasetLoaded`
    /// lists it as pending (the header says so, search does not open yet), the second brings it,
    /// and the split on screen, its selection and its filter stay.
    @Test func theRestOfADatasetArrivesAfterTheFirstLook() throws {
        let dir = NSTemporaryDirectory() + "vitrine-twophase-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "900001#####训练 样本#####u#####u\n".write(toFile: dir + "/product1m_train_ossurl_v2.txt", atomically: true, encoding: .utf8)
        try "800001#####查询 Aurelle#####u#####u#####Aurelle 面霜#;#Brisane 柔肤水\n"
            .write(toFile: dir + "/product1m_dev_ossurl_v2.txt", atomically: true, encoding: .utf8)
        var gallery = ""
        for i in 0 ..< 30 { gallery += "\(700_000 + i)#####\(i % 2 == 0 ? "Aurelle" : "Brisane") \(i)#####u#####u#####L\(i)\n" }
        try gallery.write(toFile: dir + "/product1m_gallery_ossurl_v2.txt", atomically: true, encoding: .utf8)
        var first = LoadOptions()
        first.skippedSplits = ["train"]
        let partial = try Dataset.load(from: dir, options: first), full = try Dataset.load(from: dir)
        #expect(partial.splits.map(\.name) == ["dev", "gallery"])

        var s = ExplorerState(size: Size(width: 120, height: 30),
                              capabilities: TerminalCapabilities(colorMode: .truecolor, unicode: true, mouse: true),
                              theme: Fixture.theme, dataPath: dir)
        s.retrieval.engine = .opening
        let early = update(&s, .datasetLoaded(.success(LoadedDataset(dataset: partial, loadSeconds: 0, pendingSplits: ["train"]))))
        #expect(!early.contains(.retrieval(.openEngine)), "search opens on the whole dataset")
        #expect(s.split?.name == "gallery")
        #expect(view(s).textLines()[0].contains("train indexing…"))
        _ = update(&s, .input(.key(.char("/"))))
        for c in "aurelle" { _ = update(&s, .input(.key(.char(c)))) }
        _ = update(&s, .input(.key(.enter)))
        _ = update(&s, .input(.key(.char("j"))))
        let selected = s.selectedSample?.id
        #expect(s.browser.visible.count == 15 && selected == "700002")

        let rest = update(&s, .datasetLoaded(.success(LoadedDataset(dataset: full, loadSeconds: 0))))
        #expect(rest.contains(.retrieval(.openEngine)))
        #expect(s.split?.name == "gallery" && s.selectedSample?.id == selected && s.browser.visible.count == 15)
        #expect(!view(s).textLines()[0].contains("indexing"))
        #expect(view(s).textLines()[0].contains("train 1"))
    }
}
