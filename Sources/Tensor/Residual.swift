// Residual connections: output = a + b. The backward pass sends the output
// gradient unchanged to both inputs; `residualBackward` does that for the two
// gradients at once (or use `accumulate` for one of them).

/// `output[i] = a[i] + b[i]`; `output` may alias `a` or `b`.
public func residualForward(output: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>,
                            _ b: UnsafePointer<Float>, count: Int) {
    KernelProfile.timed(.elementwise) {
        let block = 4096
        Parallel.forEachRange((count + block - 1) / block, workPerItem: block) { range in
            let start = range.lowerBound * block, end = min(count, range.upperBound * block)
            var i = start
            while i + 16 <= end { store16(load16(a + i) + load16(b + i), output + i); i += 16 }
            while i < end { output[i] = a[i] + b[i]; i += 1 }
        }
    }
}

/// `dA += dOutput` and `dB += dOutput` (either may be nil).
public func residualBackward(dA: UnsafeMutablePointer<Float>?, dB: UnsafeMutablePointer<Float>?,
                             dOutput: UnsafePointer<Float>, count: Int) {
    KernelProfile.timed(.elementwise) {
        if let dA { accumulate(dA, dOutput, count: count) }
        if let dB { accumulate(dB, dOutput, count: count) }
    }
}
