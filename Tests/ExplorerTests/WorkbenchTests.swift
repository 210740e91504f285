import Catalog
import Explorer
import Foundation
import Retrieval
import Testing

/// A Product1M folder with a test split of 12 queries over 21 gallery items (one with hostile
/// bytes in its caption and label), for the evaluation dashboard and the compare mode.
enum WorkbenchFixture {
    static let folder: String = {
        let dir = NSTemporaryDirectory() + "vitrine-workbench-\(getpid())/data"
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        var gallery = ""
        var n = 0
        for brand in ["Aurelle", "Brisane", "Celoria", "Dovena"] {
            for product in ["水光面霜", "玻尿酸精华", "柔肤水", "防晒乳", "睫毛膏"] {
                n += 1
                gallery += "\(300000 + n)#####\(brand) \(product) 正品 包邮#####u#####u#####\(brand) \(product)\n"
            }
        }
        gallery += "300099#####Evil \u{1B}[31mred\u{1B}]0;title\u{07} 面霜#####u#####u#####Evil\u{9B}2J 面霜\n"
        try! gallery.write(toFile: dir + "/product1m_gallery_ossurl_v2.txt", atomically: true, encoding: .utf8)
        // Queries whose words point at their own product (AP 1), at another brand's (AP < 1), or at nothing.
        let test = [
            "400001#####Aurelle 水光面霜 套装#####u#####u#####Aurelle 水光面霜",
            "400002#####Brisane 水光面霜 同款#####u#####u#####Aurelle 水光面霜",
            "400003#####Celoria 防晒乳 双11#####u#####u#####Celoria 防晒乳",
            "400004#####Dovena 柔肤水 小样#####u#####u#####Celoria 柔肤水",
            "400005#####睫毛膏 礼盒#####u#####u#####Dovena 睫毛膏",
            "400006#####Aurelle 玻尿酸精华 Brisane 柔肤水#####u#####u#####Aurelle 玻尿酸精华#;#Brisane 柔肤水",
            "400007#####正品 包邮#####u#####u#####Celoria 睫毛膏",
            "400008#####Dovena 防晒乳#####u#####u#####Dovena 防晒乳",
            "400009#####Brisane 玻尿酸精华 正品#####u#####u#####Dovena 玻尿酸精华",
            "400010#####Celoria 水光面霜#####u#####u#####Celoria 水光面霜",
            "400011#####Evil 面霜 \u{1B}[2J#####u#####u#####Evil\u{9B}2J 面霜",
            "400012#####Aurelle 柔肤水 包邮#####u#####u#####Aurelle 柔肤水",
        ].joined(separator: "\n") + "\n"
        try! test.write(toFile: dir + "/product1m_test_ossurl_v2.txt", atomically: true, encoding: .utf8)
        return dir
    }()

    static let dataset: Dataset = try! Dataset.load(from: folder)
    static let groundTruth = explorerGroundTruth(of: dataset)
    static var queryIDs: [String] { let t = dataset.split(named: "test")!; return t.samples.indices.map { t.samples.id(at: $0) } }

    /// The fixture loaded, search ready, a flags store open.
    static func state(width: Int = 100, height: Int = 30, unicode: Bool = true) -> ExplorerState {
        var s = ExplorerState(size: Size(width: width, height: height),
                              capabilities: TerminalCapabilities(colorMode: .truecolor, unicode: unicode, mouse: true),
                              theme: Fixture.theme, dataPath: folder, themeNames: ["dark"])
        s.retrieval.engine = .ready(items: dataset.gallery!.samples.count)
        s.retrieval.flags.available = true
        _ = update(&s, .datasetLoaded(.success(LoadedDataset(dataset: dataset, loadSeconds: 0))))
        s.status = nil
        return s
    }

    /// What the app's workbench would answer for `ranker`: the session is the fake engine, baselines are the real ones.
    static func evaluation(_ ranker: RankerSpec) throws -> RankerEvaluation {
        let test = dataset.split(named: "test")!
        let rankings: [Ranking]
        let title: String
        switch ranker {
        case .session, .model:
            let engine = FakeRetrieval(dataset: dataset)
            rankings = try queryIDs.map { id in
                let answer = try engine.search(.sample(id: id, mode: .pair), top: 100, filter: .none, isCancelled: { false })
                return Ranking(queryID: id, galleryIDs: answer.matches.map(\.sampleID), scores: answer.matches.map(\.score))
            }
            title = "zero-shot"
        case .baseline(let method):
            rankings = BaselineRun(method, queries: Array(test.samples), gallery: Array(dataset.gallery!.samples), top: 100, seed: 0).rankings
            title = method.rawValue
        case .rankingFile:
            throw LoadFailure("no files here")
        }
        return try RankerEvaluation.score(ranker: ranker, title: title, split: "test", rankings: rankings, groundTruth: groundTruth)
    }

    /// Answers every workbench effect as the app would, and whatever the answers ask for.
    static func run(_ state: inout ExplorerState, _ effects: [Effect], models: [ModelEntry] = [.zeroShot]) {
        var queue = effects
        while !queue.isEmpty {
            guard case .workbench(let effect) = queue.removeFirst() else { continue }
            switch effect {
            case .evaluate(let generation, _, let ranker), .evaluateQueries(let generation, _, _, let ranker):
                queue += update(&state, .workbench(.evaluated(generation: generation, ranker, Result { try evaluation(ranker) }.mapError { LoadFailure("\($0)") })))
            case .compare(let generation, _, let a, let b):
                let result = Result { try ComparisonSummary.compare(try evaluation(a), try evaluation(b), groundTruth: groundTruth, resamples: 2000) }
                queue += update(&state, .workbench(.compared(generation: generation, result.mapError { LoadFailure("\($0)") })))
            case .scanModels(let generation):
                queue += update(&state, .workbench(.modelsFound(generation: generation, models)))
            case .cancel:
                break
            }
        }
    }

    static func text(_ s: ExplorerState) -> String { view(s).textLines().joined(separator: "\n") }
}

@Suite struct DashboardTests {
    static func opened(width: Int = 100, height: Int = 30) -> ExplorerState {
        var s = WorkbenchFixture.state(width: width, height: height)
        let effects = Fixture.key(&s, .char("D"))
        #expect(s.context == .dashboard)
        #expect(effects.count == 4, "the model and three baselines: \(effects)")
        #expect(WorkbenchFixture.text(s).contains("ranking the query split"))
        WorkbenchFixture.run(&s, effects)
        return s
    }

    @Test func scoresTheModelAndTheBaselinesOfficially() throws {
        let s = Self.opened()
        let d = try #require(s.dashboard)
        let model = try #require(d.session.evaluation)
        #expect(d.split == "test" && model.rankings.count == 12)
        // The table shows each ranker's official mAP@10, as `vitrine eval` computes it.
        let official = try OfficialMetrics.evaluate(model.rankings, groundTruth: WorkbenchFixture.groundTruth).results.at(10)!.mAP
        #expect(model.meanAP10 == official)
        let text = WorkbenchFixture.text(s)
        #expect(text.contains(format3(official)) && text.contains("caption BM25") && text.contains("random"))
        let bm25 = try #require(d.baselines[.bm25]?.evaluation)
        #expect(text.contains(format3(bm25.meanAP10)))
        // The histogram counts every scored query once; the selected bar is the lowest with queries.
        let histogram = model.breakdown.histogram(bins: 10)
        #expect(histogram.reduce(0, +) == 12 && d.bin == histogram.firstIndex { $0 > 0 })
        #expect(d.progress == nil)
    }

    @Test func drillsFromABarToItsQueriesAndFromAQueryToItsResults() throws {
        var s = Self.opened()
        let model = try #require(s.dashboard?.session.evaluation)
        // The highest bar that has queries: walk up to it.
        let histogram = model.breakdown.histogram(bins: 10)
        let top = try #require(histogram.lastIndex { $0 > 0 })
        while s.dashboard!.bin < top { _ = Fixture.key(&s, .char("k")) }
        _ = Fixture.key(&s, .enter)
        let drill = try #require(s.dashboard?.drill)
        #expect(drill.queries.count == histogram[top])
        #expect(drill.queries.allSatisfy { model.breakdown.queries[$0].ap10 >= Double(top) / 10 })
        #expect(WorkbenchFixture.text(s).contains("queries · AP@10"))
        // Enter on a query: its results, searched as a pair query; the dashboard waits, hidden.
        let query = model.breakdown.queries[drill.queries[0]].queryID
        let effects = Fixture.key(&s, .enter)
        guard case .retrieval(.search(_, .sample(let id, .pair), _))? = effects.first else { Issue.record("\(effects)"); return }
        #expect(id == query && s.dashboard?.hidden == true && s.context == .results && s.screen == .results)
        // D again: the same dashboard, the same list, nothing recomputed.
        #expect(Fixture.key(&s, .char("D")).isEmpty)
        #expect(s.dashboard?.hidden == false && s.dashboard?.drill == drill && s.context == .dashboard)
        // Esc leaves the list, Esc again the dashboard (its work is cancelled).
        _ = Fixture.key(&s, .escape)
        #expect(s.dashboard?.drill == nil)
        let closing = Fixture.key(&s, .escape)
        #expect(s.dashboard == nil && closing == [.workbench(.cancel(generation: s.workbenchGeneration))])
    }

    @Test func labelsAreSortableAndDrillToTheirQueries() throws {
        var s = Self.opened()
        _ = Fixture.key(&s, .tab)
        #expect(s.dashboard?.panel == .labels)
        let worst = try #require(s.dashboard?.labels)
        #expect(zip(worst, worst.dropFirst()).allSatisfy { $0.meanAP10 <= $1.meanAP10 })
        _ = Fixture.key(&s, .char("s"))
        let byCount = try #require(s.dashboard?.labels)
        #expect(s.dashboard?.labelOrder == .queries && zip(byCount, byCount.dropFirst()).allSatisfy { $0.queryCount >= $1.queryCount })
        _ = Fixture.key(&s, .char("s"))
        let byName = try #require(s.dashboard?.labels)
        #expect(byName.map(\.label) == byName.map(\.label).sorted { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) })
        _ = Fixture.key(&s, .char("s"))
        _ = Fixture.key(&s, .enter)
        let drill = try #require(s.dashboard?.drill)
        let label = worst[0]
        #expect(drill.queries.count == label.queryCount)
        let model = try #require(s.dashboard?.session.evaluation)
        #expect(model.breakdown.queries[drill.queries[0]].queryID == label.worstQueryID)
    }

    @Test func aNewModelRebuildsAndStaleAnswersAreIgnored() throws {
        var s = WorkbenchFixture.state()
        let first = Fixture.key(&s, .char("D"))
        guard case .workbench(.evaluate(let old, _, _))? = first.first else { Issue.record("\(first)"); return }
        _ = Fixture.key(&s, .char("q"))
        let again = Fixture.key(&s, .char("D"))
        #expect(again.count == 4)
        _ = update(&s, .workbench(.evaluated(generation: old, .session, .failure(LoadFailure("stale")))))
        #expect(s.dashboard?.session == .pending)
        _ = update(&s, .workbench(.evaluated(generation: s.workbenchGeneration, .baseline(.colour), .failure(LoadFailure("3 images could not be read")))))
        #expect(WorkbenchFixture.text(s).contains("failed: 3 images could not be"))
    }

    @Test func withoutSearchItSaysWhy() {
        var s = WorkbenchFixture.state()
        s.retrieval.engine = .opening
        #expect(Fixture.key(&s, .char("D")).isEmpty && s.dashboard == nil)
        #expect(s.status?.text.contains("still being indexed") == true)
    }

    @Test func narrowTerminalsSwitchBetweenLabelsAndCurves() {
        var s = Self.opened(width: 80, height: 24)
        #expect(WorkbenchFixture.text(s).contains("per-label AP@10") && !WorkbenchFixture.text(s).contains("precision@k"))
        _ = Fixture.key(&s, .char("p"))
        #expect(WorkbenchFixture.text(s).contains("precision@k") && !WorkbenchFixture.text(s).contains("per-label AP@10"))
        s.size = Size(width: 160, height: 48)
        #expect(WorkbenchFixture.text(s).contains("precision@k") && WorkbenchFixture.text(s).contains("per-label AP@10"))
    }

    @Test func hostileBytesStayInert() throws {
        var s = Self.opened(width: 160, height: 48)
        _ = Fixture.key(&s, .tab)
        _ = Fixture.key(&s, .char("s")); _ = Fixture.key(&s, .char("s"))   // by name: "Evil…" first
        let frame = view(s)
        for line in frame.textLines() { #expect(!line.unicodeScalars.contains { $0.value < 0x20 || (0x7F ... 0x9F).contains($0.value) }) }
        #expect(frame.textLines().joined().contains("Evil"))
    }

    @Test func snapshots() {
        var s = Self.opened(width: 80, height: 24)
        Snapshot.check(view(s), "dashboard-80x24")
        s.size = Size(width: 160, height: 48)
        Snapshot.check(view(s), "dashboard-160x48")
        _ = Fixture.key(&s, .enter)
        Snapshot.check(view(s), "dashboard-drill-160x48")
        s.size = Size(width: 80, height: 24)
        s.capabilities.unicode = false
        Snapshot.check(view(s), "dashboard-drill-80x24-ascii")
    }

    func format3(_ x: Double) -> String { String(format: "%.3f", x) }
}

@Suite struct CompareModeTests {
    static let checkpoint = ModelEntry(checkpoint: "/runs/finetune-1/best.safetensors", step: 400, devMAP10: 0.854)

    /// The compare mode opened, its list of second rankers shown.
    static func choosing(width: Int = 100, height: Int = 30) -> ExplorerState {
        var s = WorkbenchFixture.state(width: width, height: height)
        let effects = Fixture.key(&s, .char("C"))
        #expect(effects == [.workbench(.scanModels(generation: s.workbenchGeneration))] && s.context == .compare)
        #expect(WorkbenchFixture.text(s).contains("Looking for models"))
        WorkbenchFixture.run(&s, effects, models: [.zeroShot, checkpoint])
        return s
    }

    /// Compared with BM25 (third in the list: the checkpoint, then the baselines).
    static func compared(width: Int = 100, height: Int = 30) -> ExplorerState {
        var s = choosing(width: width, height: height)
        _ = Fixture.key(&s, .char("j"))
        let effects = Fixture.key(&s, .enter)
        #expect(effects == [.workbench(.compare(generation: s.workbenchGeneration, split: "test", a: .session, b: .baseline(.bm25)))])
        #expect(WorkbenchFixture.text(s).contains("Comparing the model that searches"))
        WorkbenchFixture.run(&s, effects)
        return s
    }

    @Test func theListOffersEveryOtherRanker() throws {
        let s = Self.choosing()
        guard case .choosing(let entries?, 0)? = s.compare?.status else { Issue.record("\(String(describing: s.compare))"); return }
        // The model in use (zero-shot) is A: not offered as B.
        #expect(entries.map(\.spec) == [.model(.checkpoint("/runs/finetune-1/best.safetensors")), .baseline(.bm25), .baseline(.colour), .baseline(.random)])
        #expect(entries[0].detail == "step 400 · its run's dev mAP@10 0.854")
        let withFile = RankerEntry.choices(models: [.zeroShot], inUse: .checkpoint("/x.safetensors"), rankingsPath: "/r/retrieval_id_list.txt")
        #expect(withFile.map(\.spec) == [.model(.zeroShot), .rankingFile("/r/retrieval_id_list.txt"), .baseline(.bm25), .baseline(.colour), .baseline(.random)])
    }

    @Test func showsTheTotalsAndWalksQueriesByDeltaAP() throws {
        var s = Self.compared()
        let summary = try #require(s.compare?.summary)
        #expect(summary.byDelta.count == 12)
        #expect(zip(summary.byDelta, summary.byDelta.dropFirst()).allSatisfy { $0.deltaAP10 >= $1.deltaAP10 - 1e-12 })
        #expect(summary.a.meanAP10 - summary.b.meanAP10 == -summary.meanDeltaAP10 || abs(summary.b.meanAP10 - summary.a.meanAP10 - summary.meanDeltaAP10) < 1e-12)
        var text = WorkbenchFixture.text(s)
        #expect(text.contains("ΔmAP@10") && text.contains("p = ") && text.contains("95% CI") && text.contains("query 1/12 by ΔAP"))
        #expect(text.contains(summary.byDelta[0].queryID))
        _ = Fixture.key(&s, .char("n")); _ = Fixture.key(&s, .char("n"))
        #expect(s.compare?.position == 2)
        text = WorkbenchFixture.text(s)
        #expect(text.contains("query 3/12") && text.contains(summary.byDelta[2].queryID))
        _ = Fixture.key(&s, .char("N"))
        #expect(s.compare?.position == 1)
        for _ in 0 ..< 20 { _ = Fixture.key(&s, .char("n")) }
        #expect(s.compare?.position == 11)
    }

    @Test func rowsThatDifferAreMarkedWithTheirRankInTheOther() throws {
        let s = Self.compared(width: 160, height: 48)
        let shown = try #require(s.compare?.shown)
        let text = WorkbenchFixture.text(s)
        // Every A row is marked ≠ exactly when B ranks its item elsewhere (or not at all).
        let bRank = Dictionary(shown.b.map { ($0.sampleID, $0.rank) }, uniquingKeysWith: { a, _ in a })
        let differing = shown.a.prefix(10).filter { bRank[$0.sampleID] != $0.rank }.count
        let lines = view(s).textLines()
        let header = try #require(lines.firstIndex { $0.contains("in B") })
        let aRows = lines[(header + 1)...].prefix(10)
        #expect(aRows.filter { $0.hasPrefix("│ ≠") }.count == min(differing, aRows.count), "\(text)")
        #expect(text.contains("in B") && text.contains("in A") && text.contains("✓") && text.contains("✗"))
    }

    @Test func enterOpensTheQueryAndCComesBack() throws {
        var s = Self.compared()
        let query = try #require(s.compare?.shown?.query.queryID)
        let effects = Fixture.key(&s, .enter)
        guard case .retrieval(.search(_, .sample(let id, .pair), _))? = effects.first else { Issue.record("\(effects)"); return }
        #expect(id == query && s.compare?.hidden == true && s.context == .results)
        #expect(Fixture.key(&s, .char("C")).isEmpty && s.compare?.hidden == false && s.context == .compare)
        // b: another ranker; Esc in the list goes back to the comparison shown.
        _ = Fixture.key(&s, .char("b"))
        WorkbenchFixture.run(&s, [.workbench(.scanModels(generation: s.workbenchGeneration))], models: [.zeroShot])
        guard case .choosing? = s.compare?.status else { Issue.record("no list"); return }
        _ = Fixture.key(&s, .escape)
        #expect(s.compare?.summary != nil)
        _ = Fixture.key(&s, .char("q"))
        #expect(s.compare == nil && s.context == .results, "back to the results it was opened over")
    }

    @Test func aFailedComparisonSaysWhy() {
        var s = Self.choosing()
        _ = Fixture.key(&s, .enter)
        _ = update(&s, .workbench(.compared(generation: s.workbenchGeneration, .failure(LoadFailure("re-indexing failed: no space left")))))
        let text = WorkbenchFixture.text(s)
        #expect(text.contains("could not be made") && text.contains("no space left"))
        // A stale answer changes nothing.
        _ = update(&s, .workbench(.compared(generation: s.workbenchGeneration - 1, .failure(LoadFailure("old")))))
        #expect(!WorkbenchFixture.text(s).contains("old"))
    }

    @Test func hostileBytesStayInert() throws {
        var s = Self.compared(width: 160, height: 48)
        while let shown = s.compare?.shown, shown.query.queryID != "400011" { _ = Fixture.key(&s, .char("n")) }
        let lines = view(s).textLines()
        #expect(lines.joined().contains("400011"))
        for line in lines { #expect(!line.unicodeScalars.contains { $0.value < 0x20 || (0x7F ... 0x9F).contains($0.value) }) }
    }

    @Test func snapshots() {
        var s = Self.choosing(width: 80, height: 24)
        Snapshot.check(view(s), "compare-choose-80x24")
        s = Self.compared(width: 80, height: 24)
        Snapshot.check(view(s), "compare-80x24")
        s.size = Size(width: 160, height: 48)
        Snapshot.check(view(s), "compare-160x48")
        s.capabilities.unicode = false
        s.size = Size(width: 100, height: 30)
        Snapshot.check(view(s), "compare-100x30-ascii")
    }
}
