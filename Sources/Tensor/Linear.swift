// Fully connected layer in PyTorch's layout: y[N, out] = x[N, in] · W[out, in]ᵀ + b.

/// Forward pass of a linear layer: `output[n, o] = Σ_i input[n, i] * weight[o, i] + bias[o]`.
///
/// Up to `RowsGEMM.maximumRows` rows go to Vitrine's own kernel where the
/// processor has one (see `RowsGEMM`), larger products to OpenBLAS.
///
/// - Parameters:
///   - output: `[rows, outFeatures]`, overwritten.
///   - input: `[rows, inFeatures]`.
///   - weight: `[outFeatures, inFeatures]` (PyTorch's layout).
///   - bias: `[outFeatures]`, or nil for none.
public func linearForward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          rows: Int, inFeatures: Int, outFeatures: Int) {
    guard rows > 0, outFeatures > 0 else { return }
    if RowsGEMM.handles(rows: rows) {
        RowsGEMM.linear(output: output, input: input, weight: weight, bias: bias, rows: rows,
                        inFeatures: inFeatures, outFeatures: outFeatures)
        return
    }
    var beta: Float = 0
    if let bias {
        // Broadcast the bias into the output rows, then let GEMM add onto it.
        Parallel.forEachRange(rows, workPerItem: outFeatures) { range in
            for n in range { (output + n * outFeatures).update(from: bias, count: outFeatures) }
        }
        beta = 1
    }
    guard inFeatures > 0 else {
        if bias == nil { output.update(repeating: 0, count: rows * outFeatures) }
        return
    }
    parallelSgemm(transB: true, m: rows, n: outFeatures, k: inFeatures,
          a: input, b: weight, beta: beta, c: output)
}

/// Backward pass of a linear layer.
///
/// Parameter gradients are accumulated (`dWeight += dOutputᵀ · input`,
/// `dBias += Σ_rows dOutput`), so several batches or several uses of a layer
/// add up; zero them once per optimiser step. The input gradient is
/// accumulated when `accumulateInput` is true and overwritten otherwise.
/// Pass nil for any gradient that is not needed (a frozen layer, the first layer).
public func linearBackward(dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                           dBias: UnsafeMutablePointer<Float>?, dOutput: UnsafePointer<Float>,
                           input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           rows: Int, inFeatures: Int, outFeatures: Int, accumulateInput: Bool = false) {
    guard rows > 0 else { return }
    if let dInput {
        if outFeatures > 0 {
            parallelSgemm(m: rows, n: inFeatures, k: outFeatures, a: dOutput, b: weight,
                  beta: accumulateInput ? 1 : 0, c: dInput)
        } else if !accumulateInput {
            dInput.update(repeating: 0, count: rows * inFeatures)
        }
    }
    if let dWeight, inFeatures > 0, outFeatures > 0 {
        parallelSgemm(transA: true, m: outFeatures, n: inFeatures, k: rows, a: dOutput, b: input,
              beta: 1, c: dWeight)
    }
    if let dBias {
        columnSums(into: dBias, dOutput, rows: rows, columns: outFeatures)
    }
}

/// `sums[c] += Σ_r matrix[r, c]`, split over column blocks so threads never share an output.
public func columnSums(into sums: UnsafeMutablePointer<Float>, _ matrix: UnsafePointer<Float>,
                       rows: Int, columns: Int) {
    let blocks = (columns + 63) / 64
    Parallel.forEachRange(blocks, workPerItem: 64 * rows) { range in
        for block in range {
            let c0 = block * 64, c1 = min(columns, c0 + 64)
            var c = c0
            while c + 16 <= c1 {
                var acc = F16()
                var p = matrix + c
                for _ in 0..<rows { acc += load16(p); p += columns }
                store16(load16(sums + c) + acc, sums + c)
                c += 16
            }
            while c < c1 {
                var s: Float = 0
                for r in 0..<rows { s += matrix[r * columns + c] }
                sums[c] += s
                c += 1
            }
        }
    }
}

