import CKernels

// GELU with the exact (erf) form, as BERT: gelu(x) = x * Φ(x), Φ the standard normal CDF.

// The element-wise work is in C (Sources/CKernels/gelu.c: AVX-512, AVX2 or plain C, chosen at
// run time, all giving the same bits); here it is split over the cores.

/// Forward GELU over `count` elements: `output[i] = input[i] * Φ(input[i])`.
/// `output` may alias `input` (the backward pass then needs another copy of the input).
public func geluForward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
    KernelProfile.timed(.gelu) {
        let block = 2048
        Parallel.forEachRange((count + block - 1) / block, workPerItem: block * 8) { range in
            let start = range.lowerBound * block, end = min(count, range.upperBound * block)
            vitrine_gelu_forward(output + start, input + start, end - start)
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
        Parallel.forEachRange((count + block - 1) / block, workPerItem: block * 10) { range in
            let start = range.lowerBound * block, end = min(count, range.upperBound * block)
            vitrine_gelu_backward(dInput + start, dOutput + start, input + start, end - start, accumulate ? 1 : 0)
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
        Parallel.forEachRange(rows, workPerItem: width * 10) { range in
            vitrine_bias_gelu_forward(output + range.lowerBound * width, preActivation + range.lowerBound * width,
                                      bias, range.count, width)
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
