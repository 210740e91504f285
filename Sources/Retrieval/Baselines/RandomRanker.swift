import Support
import Catalog
import Tensor

/// The random baseline: each query gets `top` distinct gallery items drawn uniformly at random.
///
/// Seeded and reproducible: a query's list depends only on the seed and its id (not on the other
/// queries or their order).
public struct RandomRanker: Sendable {
    let galleryIDs: [String]
    public let seed: UInt64

    public init(galleryIDs: [String], seed: UInt64 = 0) {
        self.galleryIDs = galleryIDs
        self.seed = seed
    }

    /// `top` distinct gallery items per query, in random order (no scores).
    public func rank(_ queries: [Sample], top: Int = 100) -> [Ranking] {
        queries.map { ranking(queryID: $0.id, top: top) }
    }

    /// The random ranking of query `queryID`.
    public func ranking(queryID: String, top: Int = 100) -> Ranking {
        var rng = SeededRNG(seed: seed ^ fnv1a(queryID))
        let n = galleryIDs.count
        let length = min(max(0, top), n)
        // A partial Fisher-Yates shuffle over 0..<n; only the swapped positions are stored.
        var swapped: [Int: Int] = [:]
        var picked: [String] = []
        picked.reserveCapacity(length)
        for i in 0..<length {
            let j = i + rng.below(n - i)
            let atJ = swapped[j] ?? j
            swapped[j] = swapped[i] ?? i
            picked.append(galleryIDs[atJ])
        }
        return Ranking(queryID: queryID, galleryIDs: picked)
    }
}

/// 64-bit FNV-1a of the UTF-8 bytes: a hash that is the same in every run (Swift's `hashValue` is not).
func fnv1a(_ text: String) -> UInt64 { FNV1a.hash(text) }
