// Row-wise L2 normalisation, as PyTorch's F.normalize(x, dim=-1, eps=1e-12):
// y = x / max(||x||, eps).

/// Normalises each of `rows` rows of `width` floats to unit length.
/// `norms` (`[rows]`) receives max(||x||, eps), which the backward pass needs.
/// `output` may alias `input`: the backward pass needs only `output` and `norms`.
public func l2NormalizeForward(output: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>,
                               input: UnsafePointer<Float>, rows: Int, width: Int, eps: Float = 1e-12) {
    KernelProfile.timed(.loss) {
        Parallel.forEachRange(rows, workPerItem: 3 * width) { range in
            for r in range {
                let x = input + r * width, y = output + r * width
                let norm = max(vdot(x, x, width).squareRoot(), eps)
                norms[r] = norm
                let inv = 1 / norm, iv = F16(repeating: inv)
                var i = 0
                while i + 16 <= width { store16(load16(x + i) * iv, y + i); i += 16 }
                while i < width { y[i] = x[i] * inv; i += 1 }
            }
        }
    }
}

/// Backward of L2 normalisation from the forward pass's `output` and `norms`:
/// `dx = (dy - y (y · dy)) / norm` (or `dy / eps` where the norm was clamped).
/// Accumulated into `dInput` when `accumulate` is true, overwritten otherwise.
public func l2NormalizeBackward(dInput: UnsafeMutablePointer<Float>, dOutput: UnsafePointer<Float>,
                                output: UnsafePointer<Float>, norms: UnsafePointer<Float>,
                                rows: Int, width: Int, eps: Float = 1e-12, accumulate: Bool = false) {
    KernelProfile.timed(.loss) {
        Parallel.forEachRange(rows, workPerItem: 4 * width) { range in
            for r in range {
                let y = output + r * width, dy = dOutput + r * width, dx = dInput + r * width
                let norm = norms[r]
                // Where the norm was clamped to eps, y = x / eps is linear in x.
                let projection = norm > eps ? vdot(y, dy, width) : 0
                let inv = 1 / norm
                let pv = F16(repeating: projection), iv = F16(repeating: inv)
                var i = 0
                while i + 16 <= width {
                    let g = (load16(dy + i) - load16(y + i) * pv) * iv
                    store16(accumulate ? load16(dx + i) + g : g, dx + i)
                    i += 16
                }
                while i < width {
                    let g = (dy[i] - y[i] * projection) * inv
                    dx[i] = accumulate ? dx[i] + g : g
                    i += 1
                }
            }
        }
    }
}
