import Retrieval
import Testing

/// A six-item gallery: g1 g2 → a, g3 g4 g5 → b, g6 → c. Queries: qa = [a], qab = [a, b],
/// qbb = [b, b] (b twice), qc = [c], qca = [c, a], qd = [d] (d has no gallery item).
private let breakdownGroundTruth = OfficialGroundTruth(
    gallery: [
        .init(id: "g1", labels: ["a"]), .init(id: "g2", labels: ["a"]), .init(id: "g3", labels: ["b"]),
        .init(id: "g4", labels: ["b"]), .init(id: "g5", labels: ["b"]), .init(id: "g6", labels: ["c"]),
    ],
    queries: [
        .init(id: "qa", labels: ["a"]), .init(id: "qab", labels: ["a", "b"]), .init(id: "qbb", labels: ["b", "b"]),
        .init(id: "qc", labels: ["c"]), .init(id: "qca", labels: ["c", "a"]), .init(id: "qd", labels: ["d"]),
    ])

/// One ranking per case, worked by hand (k = min(N, len(pos), len(ranking)), docs/data.md §2.3):
/// 0 qa   g3 g1 g2     pos 2 ids, k = 2: hit at 2 -> AP = (1/2) / 1 = 0.5; hits 0 1 2
/// 1 qab  g3 g6 x9 g1  pos 5, k = 4: hits at 1, 4 (x9 is no gallery id) -> AP = (1/1 + 2/4) / 2 = 0.75; hits 1 1 1 2
/// 2 qc   g6           pos 1, k = 1: AP = 1; a ranking shorter than k: hits 1 1 1 ...
/// 3 qbb  g1 g2        pos 6 (b twice), k = 2: no hit -> AP = 0
/// 4 nope g1           unknown query: AP = 0, unscored
/// 5 qd   g1 g2        d has no gallery item (the script raises): AP = 0, relevant 0, unscored
/// 6 qca  (empty)      k = 0 (the script raises): AP = 0, relevant 1 + 2 = 3, scored
private let breakdownRankings = [
    Ranking(queryID: "qa", galleryIDs: ["g3", "g1", "g2"]),
    Ranking(queryID: "qab", galleryIDs: ["g3", "g6", "x9", "g1"]),
    Ranking(queryID: "qc", galleryIDs: ["g6"]),
    Ranking(queryID: "qbb", galleryIDs: ["g1", "g2"]),
    Ranking(queryID: "nope", galleryIDs: ["g1"]),
    Ranking(queryID: "qd", galleryIDs: ["g1", "g2"]),
    Ranking(queryID: "qca", galleryIDs: []),
]

private func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-12 }

@Suite struct EvaluationBreakdownTests {
    let breakdown = EvaluationBreakdown(rankings: breakdownRankings, groundTruth: breakdownGroundTruth)

    @Test func perQueryValuesWorkedByHand() {
        let q = breakdown.queries
        #expect(q.map(\.queryID) == ["qa", "qab", "qc", "qbb", "nope", "qd", "qca"])
        #expect(q.map(\.position) == Array(0..<7))
        #expect(q.map(\.ap10) == [0.5, 0.75, 1, 0, 0, 0, 0])
        #expect(q.map(\.ap100) == [0.5, 0.75, 1, 0, 0, 0, 0])
        #expect(q.map(\.relevant) == [2, 5, 1, 3, 0, 0, 3])
        #expect(q.map(\.scored) == [true, true, true, true, false, false, true])
        #expect(q.map(\.labels) == [["a"], ["a", "b"], ["c"], ["b"], [], ["d"], ["c", "a"]])
        #expect(q.allSatisfy { $0.hits.count == 100 })
        #expect(Array(q[0].hits.prefix(4)) == [0, 1, 2, 2] && q[0].hits.last == 2)
        #expect(Array(q[1].hits.prefix(5)) == [1, 1, 1, 2, 2] && q[1].hits.last == 2)
        #expect(q[2].hits.allSatisfy { $0 == 1 })
        #expect(q[3].hits.allSatisfy { $0 == 0 })
        #expect(q[4].hits.allSatisfy { $0 == 0 })
        #expect(q[6].hits.allSatisfy { $0 == 0 })
        #expect(breakdown.unscored == 2)
    }

    @Test func apIsTheOfficialLineScore() throws {
        for (i, ranking) in breakdownRankings.enumerated() {
            let official = OfficialMetrics.score(ranking, line: i + 1, groundTruth: breakdownGroundTruth)
            #expect(breakdown.queries[i].ap10 == official.at(10)!.averagePrecision)
            #expect(breakdown.queries[i].ap100 == official.at(100)!.averagePrecision)
        }
        let report = try OfficialMetrics.evaluate(breakdownRankings, groundTruth: breakdownGroundTruth)
        #expect(breakdown.meanAP10 == report.results.at(10)!.mAP)
        #expect(close(breakdown.meanAP10, 2.25 / 7))
    }

    @Test func precisionAndRecallCurvesWorkedByHand() {
        // Scored: positions 0 1 2 3 6. hits at k = 1, 2, 3: 0 1 2 | 1 1 1 | 1 1 1 | 0 0 0 | 0 0 0;
        // relevant 2, 5, 1, 3, 3.
        let p = breakdown.precisionCurve, r = breakdown.recallCurve
        #expect(p.count == 100 && r.count == 100)
        #expect(close(p[0], 0.4))          // (0 + 1 + 1) / 5
        #expect(close(p[1], 0.3))          // (1/2 + 1/2 + 1/2) / 5
        #expect(close(p[2], 4.0 / 15))     // (2/3 + 1/3 + 1/3) / 5
        #expect(close(r[0], 0.24))         // (0 + 1/5 + 1) / 5
        #expect(close(r[1], 0.34))         // (1/2 + 1/5 + 1) / 5
        #expect(close(r[2], 0.44))         // (2/2 + 1/5 + 1) / 5
        #expect(close(p[99], 0.01))        // (2 + 2 + 1) / 100 / 5
        #expect(close(r[99], 0.48))        // (1 + 2/5 + 1) / 5
    }

    @Test func histogramAndItsBins() {
        // Scored APs: 0.5, 0.75, 1 (last bin), 0, 0.
        #expect(breakdown.histogram() == [2, 0, 0, 0, 0, 1, 0, 1, 0, 1])
        #expect(breakdown.histogram(bins: 4) == [2, 0, 1, 2])
        #expect(breakdown.histogram(bins: 2) == [2, 3])   // 0.5 starts the upper bin
        #expect(breakdown.histogram(bins: 1) == [5])
        #expect(breakdown.queries(inBin: 0) == [3, 6])     // ties: by position
        #expect(breakdown.queries(inBin: 9) == [2])
        #expect(breakdown.queries(inBin: 3, of: 4) == [1, 2])
        #expect(breakdown.queries(inBin: 4) == [])
        #expect(breakdown.queries(inBin: 10) == [] && breakdown.queries(inBin: -1) == [])
    }

    @Test func histogramBoundsAreExact() {
        // An AP on a bin's lower bound lands in that bin. q = [a], pos has 10 ids, so k = 10: a hit
        // only at rank 10 gives AP = 1/10; hits at ranks 5 and 10 give (1/5 + 2/10) / 2 = 0.2.
        let gallery = (1...10).map { OfficialGroundTruth.Item(id: "a\($0)", labels: ["a"]) }
            + (1...9).map { OfficialGroundTruth.Item(id: "z\($0)", labels: ["z"]) }
        let gt = OfficialGroundTruth(gallery: gallery, queries: [.init(id: "q", labels: ["a"])])
        let misses = (1...9).map { "z\($0)" }
        let rankings = [
            Ranking(queryID: "q", galleryIDs: misses + ["a1"]),
            Ranking(queryID: "q", galleryIDs: Array(misses.prefix(4)) + ["a1"] + Array(misses.suffix(4)) + ["a2"]),
        ]
        let b = EvaluationBreakdown(rankings: rankings, groundTruth: gt)
        #expect(b.queries.map(\.ap10) == [0.1, 0.2])
        #expect(b.histogram() == [0, 1, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(b.histogram(bins: 5) == [1, 1, 0, 0, 0])
    }

    @Test func labelTable() {
        // a: qa 0.5, qab 0.75, qca 0 -> 3 queries, mean 1.25 / 3, worst qca (position 6).
        // b: qab 0.75, qbb 0 -> 2, mean 0.375, worst qbb (3). c: qc 1, qca 0 -> 2, mean 0.5, worst qca.
        // d belongs to an unscored query only: no row.
        let rows = breakdown.labels
        #expect(rows.map(\.label) == ["b", "a", "c"])
        #expect(rows.map(\.queryCount) == [2, 3, 2])
        #expect(close(rows[0].meanAP10, 0.375) && close(rows[1].meanAP10, 1.25 / 3) && close(rows[2].meanAP10, 0.5))
        #expect(rows.map(\.worstQueryID) == ["qbb", "qca", "qca"])
        #expect(rows.map(\.worstPosition) == [3, 6, 6])
        #expect(rows.map(\.worstAP10) == [0, 0, 0])
        #expect(breakdown.labels(sortedBy: .worst) == rows)
        #expect(breakdown.labels(sortedBy: .queries).map(\.label) == ["a", "b", "c"])
        #expect(breakdown.labels(sortedBy: .name).map(\.label) == ["a", "b", "c"])
        #expect(EvaluationBreakdown.LabelOrder.allCases.map(\.rawValue) == ["worst", "queries", "name"])
        #expect(breakdown.queries(withLabel: "a") == [6, 0, 1])
        #expect(breakdown.queries(withLabel: "c") == [6, 2])
        #expect(breakdown.queries(withLabel: "d") == [])      // unscored
        #expect(breakdown.queries(withLabel: "zz") == [])
    }

    @Test func tiesAndCodePointLabels() {
        // "é" precomposed and decomposed are two labels for the official script (code points), and
        // sort by code point: "e\u{301}" (U+0065...) before "é" (U+00E9). Both have mean 0: ties
        // go by label; the worst query of a label is the earliest of equal APs.
        let gt = OfficialGroundTruth(
            gallery: [.init(id: "g1", labels: ["\u{E9}"]), .init(id: "g2", labels: ["e\u{301}"]), .init(id: "g3", labels: ["x"])],
            queries: [.init(id: "q1", labels: ["\u{E9}"]), .init(id: "q2", labels: ["e\u{301}"])])
        let b = EvaluationBreakdown(rankings: [
            Ranking(queryID: "q1", galleryIDs: ["g3"]), Ranking(queryID: "q1", galleryIDs: ["g2"]),
            Ranking(queryID: "q2", galleryIDs: ["g1"]),
        ], groundTruth: gt)
        #expect(b.queries.map(\.ap10) == [0, 0, 0])
        #expect(b.labels.map(\.label.unicodeScalars.first!.value) == [0x65, 0xE9])
        #expect(b.labels.map(\.queryCount) == [1, 2])
        #expect(b.labels[1].worstPosition == 0 && b.labels[1].worstQueryID == "q1")
        #expect(b.queries(withLabel: "\u{E9}") == [0, 1])
        #expect(b.queries(withLabel: "e\u{301}") == [2])
        #expect(b.labels(sortedBy: .queries).map(\.queryCount) == [2, 1])
    }

    @Test func depthBoundsHitsAndCurves() {
        let b = EvaluationBreakdown(rankings: breakdownRankings, groundTruth: breakdownGroundTruth, depth: 3)
        #expect(b.depth == 3)
        #expect(b.queries[1].hits == [1, 1, 1])    // g1 at rank 4 is past the depth
        #expect(b.queries[1].ap100 == 0.75)        // the official values do not depend on it
        #expect(b.precisionCurve.count == 3 && close(b.precisionCurve[2], 4.0 / 15))
        #expect(b.recallCurve.count == 3 && close(b.recallCurve[2], 0.44))
    }

    @Test func nothingToScore() {
        let empty = EvaluationBreakdown(rankings: [], groundTruth: breakdownGroundTruth)
        #expect(empty.queries.isEmpty && empty.labels.isEmpty && empty.unscored == 0)
        #expect(empty.meanAP10 == 0 && empty.precisionCurve.isEmpty && empty.recallCurve.isEmpty)
        #expect(empty.histogram() == [Int](repeating: 0, count: 10))

        let unknown = EvaluationBreakdown(rankings: [Ranking(queryID: "nope", galleryIDs: ["g1", "x"])],
                                          groundTruth: breakdownGroundTruth)
        #expect(unknown.unscored == 1 && unknown.labels.isEmpty && unknown.precisionCurve.isEmpty)
        #expect(unknown.histogram(bins: 3) == [0, 0, 0] && unknown.queries(inBin: 0) == [])
        #expect(unknown.meanAP10 == 0)
    }
}
