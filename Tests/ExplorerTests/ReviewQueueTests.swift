import Annotations
import Explorer
import Foundation
import Retrieval
import Testing

/// The review queue: pairs that need a verdict, one key each, resumed from the store.
@Suite struct ReviewQueueTests {
    /// What the app's build would answer: the fixture's dev queries searched by the fake engine.
    static func build(reviewed: Set<ReviewedPair> = [], flagged: Set<ReviewedPair> = []) throws -> ReviewBuild {
        let engine = FakeRetrieval(dataset: Fixture.dataset)
        let dev = Fixture.dataset.split(named: "dev")!
        let queries = try dev.samples.map { q -> ReviewedQuery in
            let answer = try engine.search(.sample(id: q.id, mode: .pair), top: 10, filter: .none, isCancelled: { false })
            return ReviewedQuery(queryID: q.id, averagePrecision: answer.averagePrecision, rows: answer.matches.map {
                ResultRow(rank: $0.rank, sampleID: $0.sampleID, score: $0.score, isRelevant: $0.isRelevant)
            })
        }
        return ReviewBuild(split: "dev", model: "zero-shot", modelKey: "zero-shot:e5", queries: queries, reviewed: reviewed, flagged: flagged)
    }

    static func opened(reviewed: Set<ReviewedPair> = []) throws -> ExplorerState {
        var s = Driver.state()
        let effects = Fixture.key(&s, .char("R"))
        guard case .review(.build(let generation, _, let split, let ids, let depth, let annotator))? = effects.first else {
            Issue.record("R asked for no build: \(effects)"); return s
        }
        #expect(split == "dev" && ids == ["200001", "200002"] && depth == 10 && annotator == "ann")
        #expect(s.context == .review)
        #expect(view(s).textLines().joined().contains("Building the review queue"))
        _ = update(&s, .review(.built(generation: generation, .success(try build(reviewed: reviewed)))))
        return s
    }

    @Test func aVerdictPerKeyAndTheQueueMovesOn() throws {
        var s = try Self.opened()
        let review = try #require(s.review)
        #expect(review.kind == .worst && review.items.count == 20 && review.position == 0)
        let first = review.items[0].pair
        let effects = Fixture.key(&s, .char("f"))
        guard case .review(.record(let draft))? = effects.first else { Issue.record("\(effects)"); return }
        #expect(draft.query == first.query && draft.match == first.match && draft.verdict == .wrong && draft.model == "zero-shot")
        #expect(s.review?.position == 1 && s.review?.reviewedCount == 1)
        guard case .review(.skip(_, let pair, let key, _))? = Fixture.key(&s, .char("s")).first else { Issue.record("no skip"); return }
        #expect(pair == review.items[1].pair && key == "zero-shot:e5")
        _ = Fixture.key(&s, .char("c"))
        #expect(s.review?.position == 3 && s.review?.reviewedCount == 3)
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("3 of 20 reviewed") && text.contains("pair 4/20"), "\(text)")

        // Undo: the last one (a verdict still being stored cannot be undone yet).
        _ = update(&s, .review(.recorded(review.items[2].pair, .success({ var f = draft; f.id = 7; return f }()))))
        guard case .review(.undoVerdict(let undone))? = Fixture.key(&s, .char("u")).first else { Issue.record("no undo"); return }
        #expect(undone.id == 7 && s.review?.position == 2 && s.review?.reviewedCount == 2)
        guard case .review(.unskip(_, let unskipped, _, _))? = Fixture.key(&s, .char("u")).first else { Issue.record("no unskip"); return }
        #expect(unskipped == review.items[1].pair && s.review?.position == 1)

        // Other kinds of pairs, and leaving.
        _ = Fixture.key(&s, .char("K"))
        #expect(s.review?.kind == .disagreeing)
        #expect(s.review?.items.allSatisfy { $0.row.isRelevant == false } == true)
        _ = Fixture.key(&s, .escape)
        #expect(s.review == nil && s.context == .browser)
    }

    @Test func itResumesAtTheFirstPairNotReviewedBefore() throws {
        let all = try Self.build()
        let items = ReviewState.items(.worst, from: all)
        let done = Set(items.prefix(7).map(\.pair))
        let s = try Self.opened(reviewed: done)
        #expect(s.review?.position == 7 && s.review?.reviewedCount == 7)
        #expect(view(s).textLines().joined().contains("7 of 20 reviewed"))
        #expect(view(s).textLines().joined().contains("pair 8/20"))
    }

    @Test func disputesAreFoundAndAdjudicated() throws {
        func f(_ q: String, _ m: String, _ v: Verdict, _ who: String, _ t: Double, model: String = "k") -> Flag {
            Flag(dataset: "d", query: q, match: m, model: model, verdict: v, annotator: who, createdAt: Date(timeIntervalSince1970: t))
        }
        let flags = [f("q1", "m1", .wrong, "ann", 1), f("q1", "m1", .confirmed, "bob", 2, model: "other"),
                     f("q1", "m2", .wrong, "ann", 1), f("q1", "m2", .wrong, "bob", 2),           // agree: no dispute
                     f("q2", "m1", .wrong, "ann", 1), f("q2", "m1", .confirmed, "ann", 3), f("q2", "m1", .confirmed, "bob", 2),
                     Flag.adjudication(dataset: "d", query: "q1", match: "m1", verdict: .wrong, adjudicator: "dan",
                                       createdAt: Date(timeIntervalSince1970: 5))]
        let disputes = ReviewDispute.find(in: flags)
        #expect(disputes == [ReviewDispute(pair: ReviewedPair(query: "q1", match: "m1"), verdicts: ["ann": .wrong, "bob": .confirmed],
                                           adjudication: .wrong)], "ann's latest on q2/m1 agrees with bob's")

        var s = try Self.opened()
        var build = try #require(s.review?.build)
        let pair = s.review!.items[3].pair
        build.disputes = [ReviewDispute(pair: pair, verdicts: ["ann": .wrong, "bob": .confirmed], adjudication: nil)]
        s.review!.build = build
        for _ in 0 ..< 3 { _ = Fixture.key(&s, .char("K")) }
        #expect(s.review?.kind == .disputes && s.review?.items.count == 1 && s.review?.reviewedCount == 0)
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("ann: wrong · bob: right") && text.contains("as adjudicator"), "\(text)")
        guard case .review(.adjudicate(let ruling))? = Fixture.key(&s, .char("c")).first else { Issue.record("no adjudication"); return }
        #expect(ruling.role == .adjudicator && ruling.model == FlagModel.anyModel.key && ruling.verdict == .confirmed
                && ruling.query == pair.query && ruling.match == pair.match && ruling.annotator == "ann")
        #expect(s.review?.reviewedCount == 1)
    }

    @Test func withoutAStoreOrSearchItSaysWhy() {
        var s = Driver.state(flags: false)
        #expect(Fixture.key(&s, .char("R")).isEmpty && s.review == nil)
        #expect(s.status?.text.contains("needs the flags store") == true)
        var t = Driver.state()
        t.retrieval.engine = .opening
        #expect(Fixture.key(&t, .char("R")).isEmpty)
        #expect(t.status?.text.contains("still being indexed") == true)
    }

    @Test func snapshots() throws {
        var s = try Self.opened()
        _ = Fixture.key(&s, .char("f"))
        Fixture.settle(&s, Fixture.key(&s, .char("j")))
        s.status = nil
        Snapshot.check(view(s), "review-100x30")
        s.size = Size(width: 80, height: 24)
        Snapshot.check(view(s), "review-80x24")
        s.size = Size(width: 160, height: 48)
        Snapshot.check(view(s), "review-160x48")
    }
}
