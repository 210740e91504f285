// Embedding lookup (forward) and scatter-add (backward).

/// `output[n, :] = table[ids[n], :]` for `count` ids; `table` is `[rows, width]`.
/// Every id must be in `0 ..< rows` (checked: an id out of range is a bug in the
/// caller's tokenisation, and reading past the table would be worse).
public func embeddingForward(output: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>,
                             table: UnsafePointer<Float>, count: Int, width: Int, rows: Int) {
    for n in 0..<count {
        let id = Int(ids[n])
        precondition(id >= 0 && id < rows, "embeddingForward: id \(id) at position \(n) is outside the table's \(rows) rows")
    }
    Parallel.forEachRange(count, workPerItem: width) { range in
        for n in range { (output + n * width).update(from: table + Int(ids[n]) * width, count: width) }
    }
}

/// `dTable[ids[n], :] += dOutput[n, :]` (rows hit several times add up).
/// Runs on one thread per column block, so repeated ids never race.
public func embeddingBackward(dTable: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                              ids: UnsafePointer<Int32>, count: Int, width: Int) {
    let blocks = (width + 63) / 64
    Parallel.forEachRange(blocks, workPerItem: 64 * count) { range in
        let c0 = range.lowerBound * 64, c1 = min(width, range.upperBound * 64)
        for n in 0..<count {
            let dst = dTable + Int(ids[n]) * width, src = dOutput + n * width
            var c = c0
            while c + 16 <= c1 { store16(load16(dst + c) + load16(src + c), dst + c); c += 16 }
            while c < c1 { dst[c] += src[c]; c += 1 }
        }
    }
}
