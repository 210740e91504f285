// GELU with the exact (erf) form, as BERT: gelu(x) = x * Φ(x), Φ the standard normal CDF.

/// Forward GELU over `count` elements: `output[i] = input[i] * Φ(input[i])`.
/// `output` may alias `input` (the backward pass then needs another copy of the input).
public func geluForward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
    let block = 2048
    Parallel.forEachRange((count + block - 1) / block, workPerItem: block * 30) { range in
        let start = range.lowerBound * block, end = min(count, range.upperBound * block)
        var i = start
        while i + 16 <= end {
            let x = load16(input + i)
            store16(x * vNormalCDF(x), output + i)
            i += 16
        }
        if i < end {
            // Tail: pad a vector so the tail gets exactly the same arithmetic.
            var x = F16()
            for j in i ..< end { x[j - i] = input[j] }
            let y = x * vNormalCDF(x)
            for j in i ..< end { output[j] = y[j - i] }
        }
    }
}

/// Backward GELU: `dInput[i] (+)= dOutput[i] * (Φ(x) + x φ(x))` with `x = input[i]`,
/// accumulated when `accumulate` is true, overwritten otherwise.
/// `dInput` may alias `dOutput` when not accumulating.
public func geluBackward(dInput: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                         input: UnsafePointer<Float>, count: Int, accumulate: Bool = false) {
    let block = 2048
    Parallel.forEachRange((count + block - 1) / block, workPerItem: block * 32) { range in
        let start = range.lowerBound * block, end = min(count, range.upperBound * block)
        var i = start
        while i + 16 <= end {
            let x = load16(input + i)
            let (cdf, pdf) = vNormalCDFAndPDF(x)
            let g = load16(dOutput + i) * (cdf + x * pdf)
            store16(accumulate ? load16(dInput + i) + g : g, dInput + i)
            i += 16
        }
        if i < end {
            var x = F16(), dy = F16()
            for j in i ..< end { x[j - i] = input[j]; dy[j - i] = dOutput[j] }
            let (cdf, pdf) = vNormalCDFAndPDF(x)
            let g = dy * (cdf + x * pdf)
            for j in i ..< end { dInput[j] = accumulate ? dInput[j] + g[j - i] : g[j - i] }
        }
    }
}
