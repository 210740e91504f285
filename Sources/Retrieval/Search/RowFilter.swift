import Catalog

/// Which gallery rows a search may return: a bit per row. Build it from any predicate over rows,
/// for instance a product label or single/multi:
///
///     let singles = RowFilter(rowCount: gallery.count) { gallery[$0].kind == .single }
///     let creams = RowFilter(samples: gallery) { $0.product == "Lumessa 柔肤乳液" }
public struct RowFilter: Sendable, Equatable {
    /// Number of rows the filter covers (the gallery's row count).
    public let rowCount: Int
    /// Number of rows allowed.
    public private(set) var allowedCount: Int
    private var words: [UInt64]

    /// A filter allowing the rows for which `isAllowed` is true.
    public init(rowCount: Int, where isAllowed: (Int) throws -> Bool) rethrows {
        precondition(rowCount >= 0, "RowFilter: negative row count \(rowCount)")
        self.rowCount = rowCount
        words = [UInt64](repeating: 0, count: (rowCount + 63) / 64)
        allowedCount = 0
        for row in 0..<rowCount where try isAllowed(row) {
            words[row >> 6] |= 1 << UInt64(row & 63)
            allowedCount += 1
        }
    }

    /// A filter allowing exactly `rows` (each in 0..<rowCount; repeats are fine).
    public init(rowCount: Int, allowing rows: some Sequence<Int>) {
        precondition(rowCount >= 0, "RowFilter: negative row count \(rowCount)")
        self.rowCount = rowCount
        words = [UInt64](repeating: 0, count: (rowCount + 63) / 64)
        allowedCount = 0
        for row in rows {
            precondition(row >= 0 && row < rowCount, "RowFilter: row \(row) is out of 0..<\(rowCount)")
            let bit: UInt64 = 1 << UInt64(row & 63)
            if words[row >> 6] & bit == 0 {
                words[row >> 6] |= bit
                allowedCount += 1
            }
        }
    }

    /// A filter over the gallery `samples` (row i is `samples[i]`) allowing those that match.
    public init(samples: [Sample], where isAllowed: (Sample) throws -> Bool) rethrows {
        try self.init(rowCount: samples.count) { try isAllowed(samples[$0]) }
    }

    /// Whether `row` may be returned.
    @inline(__always)
    public func contains(_ row: Int) -> Bool {
        words.withUnsafeBufferPointer { $0[row >> 6] & (1 << UInt64(row & 63)) != 0 }
    }

    /// The allowed rows, ascending.
    public var allowedRows: [Int] {
        var rows: [Int] = []
        rows.reserveCapacity(allowedCount)
        for (w, word) in words.enumerated() {
            var bits = word
            while bits != 0 {
                rows.append(w * 64 + bits.trailingZeroBitCount)
                bits &= bits - 1
            }
        }
        return rows
    }

    /// Rows allowed by both filters.
    public static func & (a: RowFilter, b: RowFilter) -> RowFilter {
        precondition(a.rowCount == b.rowCount, "RowFilter: combining filters over \(a.rowCount) and \(b.rowCount) rows")
        var result = a
        result.allowedCount = 0
        for i in result.words.indices {
            result.words[i] &= b.words[i]
            result.allowedCount += result.words[i].nonzeroBitCount
        }
        return result
    }

    /// Rows allowed by either filter.
    public static func | (a: RowFilter, b: RowFilter) -> RowFilter {
        precondition(a.rowCount == b.rowCount, "RowFilter: combining filters over \(a.rowCount) and \(b.rowCount) rows")
        var result = a
        result.allowedCount = 0
        for i in result.words.indices {
            result.words[i] |= b.words[i]
            result.allowedCount += result.words[i].nonzeroBitCount
        }
        return result
    }
}
