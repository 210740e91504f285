import ArgumentParser
import Foundation
import SafeText
import Retrieval
import Tensor

/// `vitrine bench-search` (hidden): times the exact top-k search on random or given vectors and
/// prints queries per second as JSON. bench/search/run.sh drives it next to faiss.
struct BenchSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-search",
        abstract: "Benchmark the exact vector search (prints JSON).",
        discussion: """
        Gallery and queries are raw little-endian float32 files (rows of --dim values, as numpy's \
        tofile writes them), or seeded random unit vectors when not given. Searches the queries in \
        batches of --batch after one warm-up batch and reports queries per second; --ids-out writes the \
        result rows as little-endian int64, k per query, for comparison with another engine.
        """,
        shouldDisplay: false)

    @Option(name: .long, help: ArgumentHelp("Gallery vectors, raw float32.", valueName: "FILE")) var gallery: String?
    @Option(name: .long, help: ArgumentHelp("Query vectors, raw float32.", valueName: "FILE")) var queries: String?
    @Option(name: .long, help: "Random gallery rows when --gallery is not given.") var count: Int = 100_000
    @Option(name: .long, help: "Random queries when --queries is not given.") var queryCount: Int = 1000
    @Option(name: .long, help: "Vector dimension.") var dim: Int = 256
    @Option(name: .long, help: "Results per query.") var k: Int = 100
    @Option(name: .long, help: "Queries per search call (1: single-query path).") var batch: Int = 1
    @Flag(name: .long, help: "Scan a bfloat16 copy for single queries (exact re-scoring).") var compact = false
    @Option(name: .long, help: "Threads for the Swift scans (default: all cores).") var threads: Int?
    @Option(name: .long, help: "Seed of the random vectors.") var seed: UInt64 = 1
    @Option(name: .long, help: ArgumentHelp("Write the result rows here (int64).", valueName: "FILE")) var idsOut: String?

    func validate() throws {
        guard dim > 0, k > 0, batch > 0, count > 0, queryCount > 0 else {
            throw ValidationError("--dim, --k, --batch, --count and --query-count must be positive")
        }
    }

    func run() throws {
        let galleryValues = try gallery.map { try readRaw($0) } ?? randomUnitVectors(count, seed: seed)
        let queryValues = try queries.map { try readRaw($0) } ?? randomUnitVectors(queryCount, seed: seed &+ 1)
        let vectors = try VectorMatrix(rows: galleryValues, dimension: dim)
        let index = try VectorIndex(vectors: vectors, compact: compact ? vectors.bfloat16() : nil,
                                    threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let queryRows = stride(from: 0, to: queryValues.count, by: dim).map { Array(queryValues[$0..<($0 + dim)]) }
        let batches = stride(from: 0, to: queryRows.count, by: batch).map { Array(queryRows[$0..<min($0 + batch, queryRows.count)]) }

        _ = try index.search(batch: batches[0], k: k)  // warm-up: page in the vectors
        var results: [[SearchHit]] = []
        results.reserveCapacity(queryRows.count)
        var latencies: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        for queries in batches {
            let t0 = DispatchTime.now().uptimeNanoseconds
            results += try index.search(batch: queries, k: k)
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        latencies.sort()
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(p * Double(latencies.count)))] }

        if let idsOut {
            var ids: [Int64] = []
            ids.reserveCapacity(results.count * k)
            for hits in results {
                ids += hits.map { Int64($0.row) }
                ids += [Int64](repeating: -1, count: k - hits.count)
            }
            try ids.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: idsOut)) }
        }
        let report: [(String, String)] = [
            ("engine", "\"vitrine\""), ("n", "\(vectors.count)"), ("dim", "\(dim)"), ("queries", "\(queryRows.count)"),
            ("batch", "\(batch)"), ("k", "\(k)"), ("compact", "\(compact)"), ("threads", "\(index.threads)"),
            ("seconds", String(format: "%.4f", seconds)), ("qps", String(format: "%.1f", Double(queryRows.count) / seconds)),
            ("batch_ms_p50", String(format: "%.3f", percentile(0.5))), ("batch_ms_p99", String(format: "%.3f", percentile(0.99))),
        ]
        Console.json("{" + report.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
    }

    private func readRaw(_ path: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: absolute(path)), options: .alwaysMapped)
        guard data.count % (4 * dim) == 0 else {
            throw ValidationError("\(path): \(data.count) bytes are not whole rows of \(dim) float32 values")
        }
        return data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    private func randomUnitVectors(_ rows: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        var values = [Float](repeating: 0, count: rows * dim)
        for r in 0..<rows {
            var norm: Float = 0
            for j in 0..<dim {
                let x = rng.normal()
                values[r * dim + j] = x
                norm += x * x
            }
            let scale = 1 / norm.squareRoot()
            for j in 0..<dim { values[r * dim + j] *= scale }
        }
        return values
    }
}
