import Foundation
import Retrieval
import Testing

@Suite struct VectorFileTests {
    @Test func roundTripsFloat32AndBFloat16() throws {
        let folder = try temporaryFolder("vectors")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var fixture = SearchFixture(seed: 2)
        let values = fixture.unitVectors(3000, 24)
        let ids = (0..<3000).map { "item \($0) 黄金" }
        let fields = ["checkpoint": "sha256:abc", "dataset": "sha256:def", "vectors": "e"]
        let matrix = try VectorMatrix(rows: values, dimension: 24, ids: ids, fields: fields)
        for original in [matrix, matrix.bfloat16()] {
            let path = folder + "/gallery-\(original.elementType.rawValue).vec"
            try original.write(to: path)
            let mapped = try VectorMatrix.open(path: path)
            #expect(mapped.count == 3000 && mapped.dimension == 24 && mapped.elementType == original.elementType)
            #expect(mapped.ids == ids && mapped.fields == fields && mapped.maxNorm == original.maxNorm)
            #expect(mapped.path == path)
            for row in [0, 1, 1234, 2999] { #expect(mapped.row(row) == original.row(row)) }
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            #expect(size % 2 == 0 && size >= 3000 * 24 * original.elementType.byteCount)
        }
        // Nothing left behind by the atomic writes.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["gallery-bf16.vec", "gallery-f32.vec"])
        // bfloat16 rounding is to nearest: within 2^-8 relative.
        let compact = matrix.bfloat16()
        for (a, b) in zip(matrix.row(5), compact.row(5)) { #expect(abs(a - b) <= abs(a) / 256) }
    }

    @Test func mappedIndexSearchesLikeInMemory() throws {
        let folder = try temporaryFolder("vectors")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var fixture = SearchFixture(seed: 8)
        let matrix = try VectorMatrix(rows: fixture.unitVectors(6000, 64), dimension: 64)
        try matrix.write(to: folder + "/v.vec")
        try matrix.bfloat16().write(to: folder + "/c.vec")
        let mapped = try VectorIndex(vectors: VectorMatrix.open(path: folder + "/v.vec"),
                                     compact: VectorMatrix.open(path: folder + "/c.vec"))
        let memory = try VectorIndex(vectors: matrix)
        let query = fixture.unitVectors(1, 64)
        #expect(try mapped.search(query, k: 30) == memory.search(query, k: 30))
    }

    @Test func refusesDamagedFiles() throws {
        let folder = try temporaryFolder("vectors")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/v.vec"
        try VectorMatrix(rows: [1, 0, 0, 1], dimension: 2, ids: ["a", "b"]).write(to: path)
        let good = try Data(contentsOf: URL(fileURLWithPath: path))

        func expectRefused(_ bytes: Data, _ fragment: String) throws {
            try bytes.write(to: URL(fileURLWithPath: path))
            do {
                _ = try VectorMatrix.open(path: path)
                Issue.record("a damaged file was accepted (\(fragment))")
            } catch let error as RetrievalFileError {
                #expect(error.message.contains(fragment), "\(error)")
            }
        }
        try expectRefused(good.prefix(good.count - 1), "truncated")
        try expectRefused(Data("NOTAVECS".utf8) + good.dropFirst(8), "VTRNVECS")
        var newer = good
        newer[8] = 9
        try expectRefused(newer, "newer")
        try expectRefused(Data(), "bytes long")
        #expect(throws: RetrievalFileError.self) { try VectorMatrix.open(path: folder + "/missing.vec") }
        #expect(throws: VectorMatrixError.self) { try VectorMatrix(rows: [1, 2], dimension: 2, ids: ["a\nb"]) }
    }
}
