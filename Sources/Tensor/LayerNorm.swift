// Layer normalisation over the last dimension, as BERT's LayerNorm:
// y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance.

/// Forward pass of layer normalisation over rows of `width` floats.
///
/// - Parameters:
///   - output: `[rows, width]`, overwritten (may not alias `input`).
///   - mean, rstd: `[rows]`, overwritten with each row's mean and 1/sqrt(var + eps),
///     which the backward pass needs.
///   - weight, bias: `[width]`.
///   - eps: added to the variance (BERT: 1e-12).
public func layerNormForward(output: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
                             rstd: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                             weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                             rows: Int, width: Int, eps: Float = 1e-12) {
    KernelProfile.timed(.layerNorm) {
        guard width > 0 else { return }
        Parallel.forEachRange(rows, workPerItem: 6 * width) { range in
            for r in range {
                let x = input + r * width, y = output + r * width
                let m = vsum(x, width) / Float(width)
                // Two passes: the centred sum of squares keeps precision when |mean| >> std.
                var acc = F16(), i = 0
                let mv = F16(repeating: m)
                while i + 16 <= width { let d = load16(x + i) - mv; acc += d * d; i += 16 }
                var ss = hsum(acc)
                while i < width { let d = x[i] - m; ss += d * d; i += 1 }
                let s = 1 / (ss / Float(width) + eps).squareRoot()
                mean[r] = m; rstd[r] = s
                i = 0
                let sv = F16(repeating: s)
                while i + 16 <= width {
                    store16((load16(x + i) - mv) * sv * load16(weight + i) + load16(bias + i), y + i)
                    i += 16
                }
                while i < width { y[i] = (x[i] - m) * s * weight[i] + bias[i]; i += 1 }
            }
        }
    }
}

/// Backward pass of layer normalisation.
///
/// `dInput` is accumulated when `accumulateInput` is true, overwritten
/// otherwise; `dWeight` and `dBias` are always accumulated (nil to skip them,
/// for a frozen layer). `dInput` must not alias `dOutput`: the parameter
/// gradients are computed from `dOutput` after `dInput` is written.
public func layerNormBackward(dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
                              dBias: UnsafeMutablePointer<Float>?, dOutput: UnsafePointer<Float>,
                              input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                              rows: Int, width: Int, accumulateInput: Bool = false) {
    KernelProfile.timed(.layerNorm) {
        guard width > 0, rows > 0 else { return }
        if let dInput {
            Parallel.forEachRange(rows, workPerItem: 10 * width) { range in
                for r in range {
                    let x = input + r * width, dy = dOutput + r * width, dx = dInput + r * width
                    let m = mean[r], s = rstd[r]
                    let mv = F16(repeating: m), sv = F16(repeating: s)
                    // dnorm = dy * w; need mean(dnorm) and mean(dnorm * norm).
                    var accA = F16(), accB = F16(), i = 0
                    while i + 16 <= width {
                        let dn = load16(dy + i) * load16(weight + i)
                        accA += dn
                        accB += dn * ((load16(x + i) - mv) * sv)
                        i += 16
                    }
                    var a = hsum(accA), b = hsum(accB)
                    while i < width {
                        let dn = dy[i] * weight[i]
                        a += dn; b += dn * ((x[i] - m) * s)
                        i += 1
                    }
                    a /= Float(width); b /= Float(width)
                    let av = F16(repeating: a), bv = F16(repeating: b)
                    i = 0
                    while i + 16 <= width {
                        let norm = (load16(x + i) - mv) * sv
                        let g = (load16(dy + i) * load16(weight + i) - av - norm * bv) * sv
                        store16(accumulateInput ? load16(dx + i) + g : g, dx + i)
                        i += 16
                    }
                    while i < width {
                        let norm = (x[i] - m) * s
                        let g = (dy[i] * weight[i] - a - norm * b) * s
                        dx[i] = accumulateInput ? dx[i] + g : g
                        i += 1
                    }
                }
            }
        }
        guard dWeight != nil || dBias != nil else { return }
        // Parameter gradients are sums over rows: split over column blocks instead,
        // so no two threads add into the same element.
        let blocks = (width + 63) / 64
        Parallel.forEachRange(blocks, workPerItem: 64 * rows * 3) { range in
            for block in range {
                let c0 = block * 64, c1 = min(width, c0 + 64)
                var c = c0
                while c + 16 <= c1 {
                    var gw = F16(), gb = F16()
                    for r in 0..<rows {
                        let dy = load16(dOutput + r * width + c)
                        let norm = (load16(input + r * width + c) - F16(repeating: mean[r])) * rstd[r]
                        gw += dy * norm; gb += dy
                    }
                    if let dWeight { store16(load16(dWeight + c) + gw, dWeight + c) }
                    if let dBias { store16(load16(dBias + c) + gb, dBias + c) }
                    c += 16
                }
                while c < c1 {
                    var gw: Float = 0, gb: Float = 0
                    for r in 0..<rows {
                        let dy = dOutput[r * width + c]
                        gw += dy * (input[r * width + c] - mean[r]) * rstd[r]; gb += dy
                    }
                    dWeight?[c] += gw; dBias?[c] += gb
                    c += 1
                }
            }
        }
    }
}
