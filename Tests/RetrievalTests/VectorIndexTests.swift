import Foundation
import Retrieval
import Tensor
import Testing

/// Random vectors and brute-force answers for the search tests.
struct SearchFixture {
    var rng: SeededRNG

    init(seed: UInt64) { rng = SeededRNG(seed: seed) }

    /// `count` unit vectors of `dimension` (Gaussian, normalised).
    mutating func unitVectors(_ count: Int, _ dimension: Int) -> [Float] {
        var values: [Float] = []
        values.reserveCapacity(count * dimension)
        for _ in 0..<count {
            let row = (0..<dimension).map { _ in rng.normal() }
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            values += row.map { $0 / norm }
        }
        return values
    }

    /// Vectors with few distinct values, so that many scores tie exactly.
    mutating func coarseVectors(_ count: Int, _ dimension: Int) -> [Float] {
        (0..<(count * dimension)).map { _ in Float(rng.below(3) - 1) * 0.125 }
    }
}

/// Every row scored with the index's exact score, sorted by score then row: what search must return.
func bruteForce(_ index: VectorIndex, _ query: [Float], k: Int, filter: RowFilter? = nil) throws -> [SearchHit] {
    var hits: [SearchHit] = []
    for row in 0..<index.count where filter?.contains(row) ?? true {
        hits.append(SearchHit(row: row, score: try index.score(query, row: row)))
    }
    hits.sort(by: SearchHit.ranksBefore)
    return Array(hits.prefix(k))
}

func rows(_ values: [Float], _ dimension: Int) -> [[Float]] {
    stride(from: 0, to: values.count, by: dimension).map { Array(values[$0..<($0 + dimension)]) }
}

@Suite struct VectorIndexTests {
    @Test(arguments: [
        // (gallery rows, dimension, queries, k)
        (1, 256, 1, 10), (5, 7, 3, 3), (300, 33, 4, 1), (2049, 256, 2, 100),
        (5000, 256, 1, 100), (5000, 16, 70, 10), (20000, 256, 1, 100), (6000, 64, 130, 50),
        (9000, 100, 3, 9000), (12000, 256, 5, 1),
    ])
    func equalsBruteForce(_ shape: (Int, Int, Int, Int)) throws {
        let (n, d, b, k) = shape
        var fixture = SearchFixture(seed: UInt64(n * 31 + d * 7 + b))
        let gallery = try VectorMatrix(rows: fixture.unitVectors(n, d), dimension: d)
        let queries = rows(fixture.unitVectors(b, d), d)
        let filters: [RowFilter?] = [
            nil,
            RowFilter(rowCount: n) { $0 % 2 == 0 },           // dense: scanned
            RowFilter(rowCount: n) { $0 % 37 == 5 },          // sparse: scored directly
            RowFilter(rowCount: n) { _ in false },
        ]
        for compact in [false, true] {
            let index = try VectorIndex(vectors: gallery, compact: compact ? gallery.bfloat16() : nil)
            for filter in filters {
                let expected = try queries.map { try bruteForce(index, $0, k: k, filter: filter) }
                let batch = try index.search(batch: queries, k: k, filter: filter)
                #expect(batch == expected, "batch n=\(n) d=\(d) b=\(b) k=\(k) compact=\(compact) filter=\(filter?.allowedCount ?? -1)")
                for (q, query) in queries.enumerated() {
                    let single = try index.search(query, k: k, filter: filter)
                    #expect(single == expected[q], "single n=\(n) d=\(d) k=\(k) compact=\(compact) filter=\(filter?.allowedCount ?? -1)")
                }
            }
        }
    }

    @Test func exactTiesGoToTheLowerRow() throws {
        // Each distinct vector appears 40 times; scores tie in groups, and coarse values make
        // different vectors tie too.
        let d = 32
        var fixture = SearchFixture(seed: 9)
        let distinct = fixture.coarseVectors(150, d)
        var values: [Float] = []
        for copy in 0..<40 { values += distinct.shuffledDeterministically(seed: UInt64(copy), dimension: d) }
        let n = values.count / d
        let gallery = try VectorMatrix(rows: values, dimension: d)
        let queries = rows(fixture.coarseVectors(6, d), d)
        for compact in [false, true] {
            let index = try VectorIndex(vectors: gallery, compact: compact ? gallery.bfloat16() : nil)
            for k in [1, 7, 100, 250] {
                let expected = try queries.map { try bruteForce(index, $0, k: k) }
                #expect(try index.search(batch: queries, k: k) == expected)
                for (q, query) in queries.enumerated() { #expect(try index.search(query, k: k) == expected[q]) }
                // Ties really happen, and they are ordered by row.
                let top = expected[0]
                if k >= 100 {
                    #expect(zip(top, top.dropFirst()).contains { $0.score == $1.score })
                    #expect(zip(top, top.dropFirst()).allSatisfy { $0.score > $1.score || $0.row < $1.row })
                }
            }
        }
        #expect(n == 6000)
    }

    @Test func agreesWithDoublePrecisionUpToNearTies() throws {
        let (n, d) = (8000, 256)
        var fixture = SearchFixture(seed: 4)
        let values = fixture.unitVectors(n, d)
        let index = try VectorIndex(vectors: VectorMatrix(rows: values, dimension: d))
        let query = fixture.unitVectors(1, d)
        let hits = try index.search(query, k: 50)
        var reference: [(row: Int, score: Double)] = (0..<n).map { row in
            var s = 0.0
            for j in 0..<d { s += Double(query[j]) * Double(values[row * d + j]) }
            return (row, s)
        }
        reference.sort { $0.score > $1.score }
        for (i, hit) in hits.enumerated() {
            #expect(abs(Double(hit.score) - reference[i].score) < 1e-5)
            if hit.row != reference[i].row {
                // Only a near tie may swap places.
                #expect(abs(reference[i].score - reference[i + 1].score) < 1e-5)
            }
        }
    }

    @Test func smallAndEdgeCases() throws {
        let gallery = try VectorMatrix(rows: [1, 0, 0, 1, 0.6, 0.8], dimension: 2, ids: ["a", "b", "c"])
        let index = try VectorIndex(vectors: gallery)
        #expect(try index.search([1, 0], k: 0).isEmpty)
        #expect(try index.search([1, 0], k: 10).map(\.row) == [0, 2, 1])
        #expect(try index.search([0, 1], k: 2) == [SearchHit(row: 1, score: 1), SearchHit(row: 2, score: 0.8)])
        let ranking = try index.ranking(queryID: "q", query: [0, 1], k: 2)
        #expect(ranking.galleryIDs == ["b", "c"] && ranking.scores == [1, 0.8])
        #expect(throws: SearchError.dimensionMismatch(expected: 2, got: 3)) { try index.search([1, 0, 0], k: 1) }
        #expect(throws: SearchError.nonFiniteQuery(index: 1)) { try index.search([1, .nan], k: 1) }
        #expect(try index.search(batch: [], k: 3).isEmpty)
        let empty = try VectorIndex(vectors: VectorMatrix(rows: [], dimension: 4))
        #expect(try empty.search([1, 0, 0, 0], k: 5).isEmpty)
        #expect(throws: VectorMatrixError.self) { try VectorMatrix(rows: [1, 2, 3], dimension: 2) }
        #expect(throws: VectorMatrixError.self) { try VectorMatrix(rows: [1, .infinity], dimension: 2) }
        #expect(throws: SearchError.self) { try VectorIndex(vectors: gallery.bfloat16()) }
    }

    @Test func rowFilters() {
        let a = RowFilter(rowCount: 130) { $0 % 2 == 0 }
        let b = RowFilter(rowCount: 130, allowing: [1, 2, 4, 4, 129])
        #expect(a.allowedCount == 65 && b.allowedCount == 4)
        #expect((a & b).allowedRows == [2, 4])
        #expect((a | b).allowedCount == 67)
        #expect(b.contains(129) && !b.contains(128))
    }
}

extension Array where Element == Float {
    /// The rows of this row-major matrix in a seeded order.
    func shuffledDeterministically(seed: UInt64, dimension: Int) -> [Float] {
        var rng = SeededRNG(seed: seed)
        var order = Array<Int>(0..<(count / dimension))
        order.shuffle(using: &rng)
        return order.flatMap { self[($0 * dimension)..<(($0 + 1) * dimension)] }
    }
}
