/// The rows of one query's scan that may still belong to its exact top k.
///
/// A scan sees approximate scores s' (from BLAS in float32, or from the bfloat16 copy), each
/// within `ε` of the row's exact score s (`Kernels.exactDot`). If t' is the k-th largest
/// approximate score, the k rows that have it all have s >= t' - ε, so the k-th exact score is at
/// least t' - ε, and every row of the exact top k has s' >= s - ε >= t' - 2ε. The collector keeps
/// every row with s' >= t'_seen - 2ε, where t'_seen (the k-th largest so far) only grows, so it
/// always holds a superset of the final candidates; re-scoring them exactly and sorting gives the
/// exact top k. Ties in the exact score go to the lower row.
struct Candidates {
    let k: Int
    /// 2ε, already rounded up.
    let margin: Float
    /// Rows scoring below this cannot be in the top k (-infinity until k rows were seen).
    private(set) var cutoff: Float = -.infinity
    private(set) var rows: [Int32] = []
    private(set) var scores: [Float] = []
    /// Compact when this many candidates are held; doubles when compacting frees little (many ties).
    private var limit: Int

    init(k: Int, margin: Float) {
        precondition(k > 0)
        self.k = k
        self.margin = margin
        limit = max(4 * k, 512)
        rows.reserveCapacity(limit)
        scores.reserveCapacity(limit)
    }

    /// Offers rows `firstRow ..< firstRow + count` with approximate `approximate[i]` for row
    /// `firstRow + i`; rows the filter refuses are skipped.
    mutating func offer(_ approximate: UnsafePointer<Float>, count: Int, firstRow: Int, filter: RowFilter?) {
        var bar = cutoff
        var i = 0
        let raw = UnsafeRawPointer(approximate)
        while i < count {
            // Most rows fall below the bar once k rows were seen: test 8 at a time. `s - bar` is
            // negative exactly when s < bar (finite s; -inf bar gives +inf), so when the sign bits
            // of all 8 differences are set, no row qualifies. (Subtraction and bitwise AND compile
            // to plain vector instructions; SIMD comparisons and `any` do not, reliably.)
            if i &+ 8 <= count {
                let block = raw.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                let differences = unsafeBitCast(block - SIMD8(repeating: bar), to: SIMD8<UInt32>.self)
                let folded = differences.lowHalf & differences.highHalf
                if (folded[0] & folded[1] & folded[2] & folded[3]) & 0x8000_0000 != 0 {
                    i &+= 8
                    continue
                }
            }
            let end = min(i &+ 8, count)
            while i < end {
                let s = approximate[i]
                if s >= bar {
                    let row = firstRow &+ i
                    if filter == nil || filter!.contains(row) {
                        rows.append(Int32(truncatingIfNeeded: row))
                        scores.append(s)
                        if rows.count >= limit {
                            compact()
                            bar = cutoff
                        }
                    }
                }
                i &+= 1
            }
        }
    }

    /// Adds the candidates another collector found (over other rows, same query).
    mutating func merge(_ other: Candidates) {
        rows += other.rows
        scores += other.scores
        cutoff = max(cutoff, other.cutoff)
        compact()
    }

    /// Raises the cutoff to (k-th largest score held) - margin and drops the rows below it.
    mutating func compact() {
        guard rows.count > k else { return }
        var scratch = scores
        let kth = scratch.withUnsafeMutableBufferPointer { kthLargest($0, k) }
        let bar = (kth - margin).nextDown
        if bar > cutoff { cutoff = bar }
        var kept = 0
        for i in 0..<rows.count where scores[i] >= cutoff {
            rows[kept] = rows[i]
            scores[kept] = scores[i]
            kept += 1
        }
        rows.removeLast(rows.count - kept)
        scores.removeLast(scores.count - kept)
        if kept * 2 > limit { limit *= 2 }
    }

    /// The exact top k among the candidates, best first, with `exactScore(row)` for each.
    mutating func finish(exactScore: (Int) -> Float) -> [SearchHit] {
        compact()
        var hits = rows.map { row -> SearchHit in
            let score = exactScore(Int(row))
            return SearchHit(row: Int(row), score: score.isNaN ? -.infinity : score)
        }
        hits.sort(by: SearchHit.ranksBefore)
        if hits.count > k { hits.removeLast(hits.count - k) }
        return hits
    }
}

/// The k-th largest value (k >= 1, k <= count) by quickselect; reorders `values`.
func kthLargest(_ values: UnsafeMutableBufferPointer<Float>, _ k: Int) -> Float {
    precondition(k >= 1 && k <= values.count)
    var low = 0, high = values.count - 1
    let target = k - 1  // index in descending order
    while low < high {
        // Median of three as the pivot; partition descending.
        let mid = low + (high - low) / 2
        let a = values[low], b = values[mid], c = values[high]
        let pivot = max(min(a, b), min(max(a, b), c))
        var i = low, j = high
        while i <= j {
            while values[i] > pivot { i += 1 }
            while values[j] < pivot { j -= 1 }
            if i <= j {
                values.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if target <= j { high = j } else if target >= i { low = i } else { return values[target] }
    }
    return values[low]
}
