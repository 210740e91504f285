import Catalog
import Foundation
import Retrieval
import Testing

@Suite struct BaselineTests {
    @Test func tokenizerSplitsLatinWordsAndCJKGrams() {
        #expect(CaptionTokenizer.terms("韩国AHC黄金水 24K【正品】") ==
                ["韩", "国", "韩国", "ahc", "黄", "金", "水", "黄金", "金水", "24k", "正", "品", "正品"])
        #expect(CaptionTokenizer.terms("ＡＨＣ＋Spf50") == ["ahc", "spf50"])  // NFKC: full-width to ASCII
        #expect(CaptionTokenizer.terms("Crème, hot-sale!") == ["crème", "hot", "sale"])
        #expect(CaptionTokenizer.terms("  ").isEmpty)
    }

    func sample(_ id: String, _ caption: String, _ labels: [String] = []) -> Sample {
        Sample(id: id, caption: caption, imagePath: nil, labels: labels)
    }

    @Test func bm25MatchesTheFormulaByHand() {
        let gallery = [sample("a", "red cream"), sample("b", "blue cream cream"), sample("c", "green toner")]
        let ranker = BM25Ranker(gallery: gallery)
        let scores = ranker.scores(for: "cream cream red")  // distinct query terms: cream, red
        // N = 3, lengths 2, 3, 2, avgdl = 7/3. df(cream) = 2, df(red) = 1.
        let avgdl = 7.0 / 3
        func idf(_ df: Double) -> Double { log(1 + (3 - df + 0.5) / (df + 0.5)) }
        func term(_ tf: Double, _ length: Double) -> Double { tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / avgdl)) }
        let a = idf(2) * term(1, 2) + idf(1) * term(1, 2)
        let b = idf(2) * term(2, 3)
        #expect(abs(Double(scores[0]) - a) < 1e-6)
        #expect(abs(Double(scores[1]) - b) < 1e-6)
        #expect(scores[2] == 0)
        let ranking = ranker.rank([sample("q", "cream red")], top: 10)[0]
        #expect(ranking.galleryIDs == ["a", "b", "c"])  // c scores 0 but still ranks (ties by gallery order)
        #expect(ranker.rank([sample("q", "cream")], top: 2)[0].galleryIDs.count == 2)
    }

    @Test func bm25TiesKeepGalleryOrder() {
        let gallery = [sample("x", "serum"), sample("y", "serum"), sample("z", "serum")]
        #expect(BM25Ranker(gallery: gallery).rank([sample("q", "serum")], top: 3)[0].galleryIDs == ["x", "y", "z"])
    }

    @Test func randomIsSeededDistinctAndIndependentOfQueryOrder() {
        let ids = (0..<500).map { "g\($0)" }
        let ranker = RandomRanker(galleryIDs: ids, seed: 3)
        let queries = [sample("q1", ""), sample("q2", "")]
        let forward = ranker.rank(queries, top: 100)
        let backward = ranker.rank(queries.reversed(), top: 100)
        #expect(forward[0] == backward[1] && forward[1] == backward[0])
        #expect(Set(forward[0].galleryIDs).count == 100)
        #expect(forward[0] != forward[1])
        #expect(RandomRanker(galleryIDs: ids, seed: 4).rank(queries, top: 100)[0] != forward[0])
        #expect(RandomRanker(galleryIDs: Array(ids.prefix(7))).rank(queries, top: 100)[0].galleryIDs.sorted() == Array(ids.prefix(7)).sorted())
        // Every gallery item is about equally likely at rank 1 over many queries.
        var firsts = [String: Int]()
        for q in 0..<5000 { firsts[ranker.ranking(queryID: "q\(q)", top: 1).galleryIDs[0], default: 0] += 1 }
        #expect(firsts.count > 480 && firsts.values.max()! < 40)
    }

    @Test func colourHistogramOnSampleData() throws {
        let dataset = try Dataset.load(from: sampleDataFolder)
        let gallery = Array(try #require(dataset.gallery).samples)
        let ranker = ColourHistogramRanker(gallery: gallery)
        #expect(ranker.unreadable.isEmpty)
        // A gallery image as its own query: intersection 1, ranked first.
        let probe = gallery[17]
        let result = ranker.rank([probe, Sample(id: "none", caption: "", imagePath: nil, labels: [])], top: 5)
        #expect(result.rankings[0].galleryIDs.first == probe.id)
        #expect(abs(result.rankings[0].scores[0] - 1) < 1e-5)
        #expect(result.rankings[0].scores == result.rankings[0].scores.sorted(by: >))
        #expect(result.unreadable == [UnreadableImage(sampleID: "none", reason: "no image file")])
        let histogram = try ColourHistogramRanker.histogram(imagePath: try #require(probe.imagePath))
        #expect(histogram.count == 512 && abs(histogram.reduce(0, +) - 1) < 1e-5)
    }

    @Test func baselinesOnSampleDataTestSplitOrderAsExpected() throws {
        let dataset = try Dataset.load(from: sampleDataFolder)
        let queries = Array(try #require(dataset.split(named: "test")).samples)
        let gallery = Array(try #require(dataset.gallery).samples)
        let groundTruth = try OfficialGroundTruth.loadProduct1M(folder: sampleDataFolder)
        var mAP: [BaselineMethod: Double] = [:]
        for method in BaselineMethod.allCases {
            let run = BaselineRun(method, queries: queries, gallery: gallery)
            #expect(run.rankings.count == queries.count && run.rankings.allSatisfy { $0.galleryIDs.count == 100 })
            let report = try OfficialMetrics.evaluate(run.rankings, groundTruth: groundTruth)
            #expect(report.failedLines.isEmpty)
            mAP[method] = report.results.at(10)!.mAP
        }
        // Captions name the products; colours only hint at them; random is near the floor.
        #expect(mAP[.bm25]! > 0.4 && mAP[.bm25]! > mAP[.colour]! && mAP[.colour]! > 2 * mAP[.random]!)
        #expect(mAP[.random]! < 0.08)
    }
}
