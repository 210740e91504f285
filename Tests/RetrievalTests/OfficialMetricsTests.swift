import Retrieval
import Testing

/// A small ground truth where every quirk of the official protocol shows (docs/data.md §2.4).
///
/// Gallery (first label counts): g1 g2 g3 → A, g4 g5 → B, g6 → C, g7 → D, g8 → E (its second
/// label A does not count), g9 → F.
/// Queries: q1 = [A, B]; q2 = [A, A, B] (A twice); q5 = [E]; q6 = [A, Z] (Z has no gallery item);
/// q11 = [A, B, C, D, E, A, B, C, D, E, A] (11 labels: int(10 / 11) = 0).
let quirkGroundTruth = OfficialGroundTruth(
    gallery: [
        .init(id: "g1", labels: ["A"]), .init(id: "g2", labels: ["A"]), .init(id: "g3", labels: ["A"]),
        .init(id: "g4", labels: ["B"]), .init(id: "g5", labels: ["B"]), .init(id: "g6", labels: ["C"]),
        .init(id: "g7", labels: ["D"]), .init(id: "g8", labels: ["E", "A"]), .init(id: "g9", labels: ["F"]),
    ],
    queries: [
        .init(id: "q1", labels: ["A", "B"]),
        .init(id: "q2", labels: ["A", "A", "B"]),
        .init(id: "q5", labels: ["E"]),
        .init(id: "q6", labels: ["A", "Z"]),
        .init(id: "q11", labels: ["A", "B", "C", "D", "E", "A", "B", "C", "D", "E", "A"]),
    ])

/// The official values of one ranking line at N = 10, 50, 100: (AP, Prec, AR) each, and failures.
func lineValues(_ query: String, _ ids: [String]) -> [(ap: Double, p: Double, ar: Double, failure: OfficialLineFailure?)] {
    OfficialMetrics.score(Ranking(queryID: query, galleryIDs: ids), line: 1, groundTruth: quirkGroundTruth)
        .cutoffs.map { ($0.averagePrecision, $0.precision, $0.averageRecall, $0.failure) }
}

@Suite struct OfficialMetricsTests {
    @Test func fewerIDsThanNAndKFromTheShortestList() {
        // q1 = [A, B]: pos = g1 g2 g3 g4 g5 (5 ids); ranking of 4 ids: k = min(N, 5, 4) = 4.
        // Hits at ranks 1, 2, 4: AP = (1/1 + 2/2 + 3/4) / 3, Prec = 3/4.
        // AR: int(N / 2) = 5, 25, 50 -> e_A = min(., 3) = 3, e_B = min(., 2) = 2; r_A = 2, r_B = 1.
        for v in lineValues("q1", ["g1", "g4", "g6", "g2"]) {
            #expect(v.ap == (1.0 / 1 + 2.0 / 2 + 3.0 / 4) / 3)
            #expect(v.p == 3.0 / 4)
            #expect(v.ar == (2.0 / 3 + 1.0 / 2) / 2)
            #expect(v.failure == nil)
        }
    }

    @Test func kLimitedByThePositivesList() {
        // q5 = [E]: pos = [g8], so k = 1 although the hit is at rank 2: AP = Prec = 0.
        // AR still looks at the first N: e_E = min(N, 1) = 1, r_E = 1 -> AR = 1.
        for v in lineValues("q5", ["g1", "g8", "g2"]) {
            #expect(v.ap == 0 && v.p == 0)
            #expect(v.ar == 1)
        }
    }

    @Test func repeatedLabelsCountTwiceInPos() {
        // q2 = [A, A, B]: pos = A's 3 ids twice + B's 2 = 8 ids, so k = min(10, 8, 10) = 8 (not 5):
        // the first hit, g1, is at rank 8: AP = (1/8) / 1, Prec = 1/8.
        // AR@10: int(10 / 3) = 3, e_A = min(2 * 3, 3) = 3, e_B = min(3, 2) = 2; first 10 ids hold
        // g1 g2 g3 (A): r_A = 3, B none -> AR = (3/3) / 2.
        let ranking = ["g6", "g7", "g8", "g6", "g7", "g8", "g6", "g1", "g2", "g3"]
        let at10 = lineValues("q2", ranking)[0]
        #expect(at10.ap == 1.0 / 8 && at10.p == 1.0 / 8)
        #expect(at10.ar == (3.0 / 3) / 2)
        // At 50 and 100, k = min(N, 8, 10) = 8 too; int(50 / 3) = 16: e_A = min(32, 3) = 3.
        for v in lineValues("q2", ranking).dropFirst() {
            #expect(v.ap == 1.0 / 8 && v.p == 1.0 / 8 && v.ar == 0.5)
        }
        // The repeated label's expected count is count * int(N / len(Q)) before the cap: with
        // five gallery items of A it would be 6 at N = 10. Here the cap (3) binds; g1 g2 g3 g1
        // retrieved gives r_A = min(4, 3) = 3.
        let capped = lineValues("q2", ["g1", "g2", "g3", "g1", "g4"])[0]
        #expect(capped.ar == (3.0 / 3 + 1.0 / 2) / 2)
        #expect(capped.p == 5.0 / 5 && capped.ap == 1)
    }

    @Test func duplicateIDsInARankingCountEachTime() {
        // q1 with g1 three times: k = min(10, 5, 4) = 4; hits at 1, 2, 3 -> AP = 3/3, Prec = 3/4.
        // AR@10: r_A = min(3, 3) = 3 -> (3/3 + 0) / 2.
        for v in lineValues("q1", ["g1", "g1", "g1", "g6"]) {
            #expect(v.ap == 1 && v.p == 3.0 / 4 && v.ar == 0.5)
        }
    }

    @Test func unknownQueryIDAddsNothing() {
        for v in lineValues("nope", ["g1", "g2"]) {
            #expect(v.ap == 0 && v.p == 0 && v.ar == 0 && v.failure == .unknownQuery)
        }
    }

    @Test func labelMissingFromTheGalleryAddsNothing() {
        // q6 = [A, Z]: building pos raises a KeyError at Z, before AP, Prec or AR is added.
        for v in lineValues("q6", ["g1", "g2"]) {
            #expect(v.ap == 0 && v.p == 0 && v.ar == 0 && v.failure == .labelNotInGallery("Z"))
        }
    }

    @Test func zeroExpectedCountDropsOnlyRecall() {
        // q11 has 11 labels: at N = 10, int(10 / 11) = 0, so e_l = 0 for every label and dividing by
        // it raises after AP and Prec were added. k = min(10, len(pos), 2) = 2, both ids hit.
        let values = lineValues("q11", ["g1", "g4"])
        #expect(values[0].ap == 1 && values[0].p == 1 && values[0].ar == 0)
        #expect(values[0].failure == .noExpectedItems(label: "A"))
        // At N = 50: int(50 / 11) = 4; e_A = min(3 * 4, 3) = 3, e_B = min(2 * 4, 2) = 2, and the
        // sum is over the 5 distinct labels.
        for v in values.dropFirst() {
            #expect(v.ap == 1 && v.p == 1 && v.failure == nil)
            #expect(v.ar == (1.0 / 3 + 1.0 / 2) / 5)
        }
        // When no label of the query is retrieved, nothing is divided by e_l: AR = 0, no error.
        let unrelated = lineValues("q11", ["g9"])[0]
        #expect(unrelated.failure == nil && unrelated.ar == 0 && unrelated.p == 0)
    }

    @Test func emptyRankingAddsNothing() {
        // "q1" alone: k = 0 and Prec divides by it before anything is added.
        for v in lineValues("q1", []) {
            #expect(v.ap == 0 && v.p == 0 && v.ar == 0 && v.failure == .emptyRanking)
        }
        // "q1," has one empty id: k = 1, no hit (AP, Prec = 0 added), then the empty id is not a
        // gallery id, so AR is not added.
        for v in lineValues("q1", [""]) {
            #expect(v.failure == .unknownGalleryID("", rank: 1) && v.p == 0)
        }
    }

    @Test func unknownGalleryIDDropsRecallOnlyWhereItIsInTheFirstN() {
        // An unknown id at rank 13: AR@10 is computed, AR@50 and AR@100 raise; AP and Prec stay.
        let ranking = ["g1", "g4"] + Array(repeating: "g6", count: 10) + ["zzz"]
        let values = lineValues("q1", ranking)
        // k = min(N, 5, 13) = 5: hits at 1 and 2.
        for v in values {
            #expect(v.ap == 1 && v.p == 2.0 / 5)
        }
        #expect(values[0].ar == (1.0 / 3 + 1.0 / 2) / 2 && values[0].failure == nil)
        #expect(values[1].ar == 0 && values[1].failure == .unknownGalleryID("zzz", rank: 13))
        #expect(values[2].failure == .unknownGalleryID("zzz", rank: 13))
    }

    @Test func meansCountEveryLineIncludingFailures() throws {
        let rankings = [
            Ranking(queryID: "q1", galleryIDs: ["g1", "g4", "g6", "g2"]),
            Ranking(queryID: "nope", galleryIDs: ["g1"]),
            Ranking(queryID: "", galleryIDs: []),  // a blank line
            Ranking(queryID: "q11", galleryIDs: ["g1", "g4"]),
        ]
        let report = try OfficialMetrics.evaluate(rankings, groundTruth: quirkGroundTruth)
        let ap1 = (1.0 / 1 + 2.0 / 2 + 3.0 / 4) / 3
        let ar1 = (2.0 / 3 + 1.0 / 2) / 2
        let at10 = try #require(report.results.at(10))
        // Lines add, in order: q1, nothing, nothing, q11 (AP and Prec only at N = 10).
        let sumAP: Double = ap1 + 1
        let sumPrecision: Double = 3.0 / 4 + 1
        #expect(at10.mAP == sumAP / 4)
        #expect(at10.precision == sumPrecision / 4)
        #expect(at10.mAR == ar1 / 4)
        let at50 = try #require(report.results.at(50))
        let ar11: Double = (1.0 / 3 + 1.0 / 2) / 5
        let sumRecall: Double = ar1 + ar11
        #expect(at50.mAR == sumRecall / 4)
        #expect(report.failedLines.map(\.line) == [2, 3, 4])
        #expect(throws: EvaluationError.noRankings) { try OfficialMetrics.evaluate([], groundTruth: quirkGroundTruth) }
    }

    @Test func groundTruthReadsLikeTheOfficialScript() {
        // Later gallery lines override earlier ones; dev overrides test; an empty label list is [""].
        let gt = OfficialGroundTruth(
            gallery: [.init(id: "g", labels: ["A"]), .init(id: "g", labels: ["B"]), .init(id: "h", labels: [])],
            queries: [.init(id: "q", labels: ["A"]), .init(id: "q", labels: ["B", "B"])])
        #expect(gt.label(ofGalleryItem: "g") == "B")
        #expect(gt.label(ofGalleryItem: "h") == "")
        #expect(gt.galleryItemCount(label: "A") == 0 && gt.galleryItemCount(label: "B") == 1)
        #expect(gt.labels(ofQuery: "q") == ["B", "B"])
        // Code points, not canonical equivalence: a decomposed é is another label.
        let composed = OfficialGroundTruth(gallery: [.init(id: "g", labels: ["caf\u{E9}"])],
                                           queries: [.init(id: "q", labels: ["cafe\u{301}"])])
        #expect(composed.galleryItemCount(label: "cafe\u{301}") == 0)
        let line = OfficialMetrics.score(Ranking(queryID: "q", galleryIDs: ["g"]), line: 1, groundTruth: composed)
        #expect(line.cutoffs[0].failure == .labelNotInGallery("cafe\u{301}"))
    }

    @Test func metricResultsJSONIsTheOfficialText() {
        let results = OfficialMetricResults(entries: [
            .init(cutoff: 10, mAP: 0.5, precision: 1.0 / 3, mAR: 0),
            .init(cutoff: 50, mAP: 1e-05, precision: 0.1, mAR: 1),
            .init(cutoff: 100, mAP: 0.25, precision: 0.0001, mAR: 2.0 / 3),
        ])
        #expect(results.jsonString() == """
        {
          "top10": {
            "mAP": 0.5,
            "Prec": 0.3333333333333333,
            "mAR": 0.0
          },
          "top50": {
            "mAP": 1e-05,
            "Prec": 0.1,
            "mAR": 1.0
          },
          "top100": {
            "mAP": 0.25,
            "Prec": 0.0001,
            "mAR": 0.6666666666666666
          }
        }
        """)
    }

    @Test(arguments: [
        (0.1, "0.1"), (1e-05, "1e-05"), (0.0001, "0.0001"), (0.00012345, "0.00012345"), (1.0, "1.0"),
        (0.0, "0.0"), (-0.0, "-0.0"), (1.0 / 3, "0.3333333333333333"), (Double.leastNonzeroMagnitude, "5e-324"), (1e16, "1e+16"),
        (9.5e15, "9500000000000000.0"), (123456789012345678.0, "1.2345678901234568e+17"), (1e-07, "1e-07"),
        (123.456, "123.456"), (1e22, "1e+22"), (2.5e-5, "2.5e-05"), (100.0, "100.0"), (-1.5, "-1.5"),
    ])
    func pythonFloatRepr(_ value: Double, _ expected: String) {
        #expect(PythonFloat.repr(value) == expected)
    }
}

@Suite struct RankingFileTests {
    @Test func readsLinesLikeTheOfficialScript() throws {
        // CRLF, a lone CR, a blank line, surrounding whitespace (incl. U+3000), a trailing comma, an
        // id with a space after a comma (kept: ids are not trimmed), no final newline.
        let text = "q1,g1,g2\r\nq2, g3,\rq3\n\n\u{3000} q4,g1 \t\nq5,g1"
        let rankings = try RankingFile.parse(Array(text.utf8), name: "test")
        #expect(rankings.map(\.queryID) == ["q1", "q2", "q3", "", "q4", "q5"])
        #expect(rankings.map(\.galleryIDs) == [["g1", "g2"], [" g3", ""], [], [], ["g1"], ["g1"]])
        // A final newline does not add a line.
        #expect(try RankingFile.parse(Array("q1,g1\n".utf8), name: "test").count == 1)
        #expect(throws: RetrievalFileError.self) { try RankingFile.parse([0x71, 0xFF, 0x0A], name: "bad") }
    }

    @Test func writesWhatItReads() throws {
        let rankings = [Ranking(queryID: "1", galleryIDs: ["2", "3"]), Ranking(queryID: "4", galleryIDs: [])]
        let text = try RankingFile.format(rankings)
        #expect(text == "1,2,3\n4\n")
        #expect(try RankingFile.parse(Array(text.utf8), name: "t") == rankings)
        #expect(throws: RetrievalFileError.self) { try RankingFile.format([Ranking(queryID: "q", galleryIDs: ["a,b"])]) }
        #expect(throws: RetrievalFileError.self) { try RankingFile.format([Ranking(queryID: "q", galleryIDs: ["a "])]) }
    }
}
