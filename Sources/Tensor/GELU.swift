// GELU with the exact (erf) form, as BERT: gelu(x) = x * Φ(x), Φ the standard normal CDF.

/// Forward GELU over `count` elements: `output[i] = input[i] * Φ(input[i])`.
/// `output` may alias `input` (the backward pass then needs another copy of the input).
public func geluForward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
    KernelProfile.timed(.gelu) {
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
}

/// Backward GELU: `dInput[i] (+)= dOutput[i] * (Φ(x) + x φ(x))` with `x = input[i]`,
/// accumulated when `accumulate` is true, overwritten otherwise.
/// `dInput` may alias `dOutput` when not accumulating.
public func geluBackward(dInput: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                         input: UnsafePointer<Float>, count: Int, accumulate: Bool = false) {
    KernelProfile.timed(.gelu) {
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
}

/// Fused bias and GELU for a dense layer's output, keeping GELU's derivative for the
/// backward pass instead of its input: with `x = preActivation[r, c] + bias[c]`,
/// `output[r, c] = x Φ(x)` and `preActivation[r, c]` is replaced by `Φ(x) + x φ(x)`.
///
/// The values are exactly those of adding the bias, then `geluForward`, then (for the
/// derivative) `geluBackward` with a unit upstream gradient; `geluBackward(dInput:dOutput:
/// derivative:count:)` then needs one multiply per element.
///
/// - Parameters:
///   - output: `[rows, width]`, overwritten (must not alias `preActivation`).
///   - preActivation: `[rows, width]`: in, the product without its bias; out, GELU's derivative.
///   - bias: `[width]`, or nil for none.
public func biasGELUForward(output: UnsafeMutablePointer<Float>, preActivation: UnsafeMutablePointer<Float>,
                            bias: UnsafePointer<Float>?, rows: Int, width: Int) {
    KernelProfile.timed(.gelu) {
        guard rows > 0, width > 0 else { return }
        Parallel.forEachRange(rows, workPerItem: width * 40) { range in
            for r in range {
                let x0 = preActivation + r * width, y0 = output + r * width
                var c = 0
                while c + 16 <= width {
                    var x = load16(x0 + c)
                    if let bias { x += load16(bias + c) }
                    let (cdf, pdf) = vNormalCDFAndPDF(x)
                    store16(x * cdf, y0 + c)
                    store16(cdf + x * pdf, x0 + c)
                    c += 16
                }
                if c < width {
                    // Tail: one padded vector, so every column gets the same arithmetic.
                    var x = F16()
                    for j in c ..< width { x[j - c] = x0[j] + (bias?[j] ?? 0) }
                    let (cdf, pdf) = vNormalCDFAndPDF(x)
                    let y = x * cdf, d = cdf + x * pdf
                    for j in c ..< width { y0[j] = y[j - c]; x0[j] = d[j - c] }
                }
            }
        }
    }
}

/// Backward GELU from the derivative kept by `biasGELUForward`:
/// `dInput[i] = dOutput[i] * derivative[i]` (`dInput` may alias `dOutput`).
public func geluBackward(dInput: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                         derivative: UnsafePointer<Float>, count: Int) {
    KernelProfile.timed(.gelu) {
        let block = 4096
        Parallel.forEachRange((count + block - 1) / block, workPerItem: block * 2) { range in
            let start = range.lowerBound * block, end = min(count, range.upperBound * block)
            var i = start
            while i + 16 <= end { store16(load16(dOutput + i) * load16(derivative + i), dInput + i); i += 16 }
            while i < end { dInput[i] = dOutput[i] * derivative[i]; i += 1 }
        }
    }
}
