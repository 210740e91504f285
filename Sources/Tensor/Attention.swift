// Multi-head scaled dot-product attention with a key padding mask, for self
// attention (queries, keys and values from one sequence) and cross attention
// (queries from one stream, keys and values from another). Heads are packed
// along the feature axis as in BERT: feature h * headDim + d belongs to head h.

/// Sizes of one attention call.
public struct AttentionShape: Sendable, Equatable, CustomStringConvertible {
    public var batch: Int
    public var queryLength: Int
    public var keyLength: Int
    public var heads: Int
    public var headDim: Int

    public init(batch: Int, queryLength: Int, keyLength: Int, heads: Int, headDim: Int) {
        precondition(batch >= 0 && queryLength >= 0 && keyLength >= 0 && heads > 0 && headDim > 0,
                     "AttentionShape: invalid sizes B=\(batch) Tq=\(queryLength) Tk=\(keyLength) H=\(heads) D=\(headDim)")
        self.batch = batch; self.queryLength = queryLength; self.keyLength = keyLength
        self.heads = heads; self.headDim = headDim
    }

    /// Feature width of queries, keys, values and output: `heads * headDim`.
    public var width: Int { heads * headDim }
    /// Floats in the probability tensor `[batch, heads, queryLength, keyLength]`.
    public var probabilityCount: Int { batch * heads * queryLength * keyLength }

    public var description: String {
        "B=\(batch) Tq=\(queryLength) Tk=\(keyLength) H=\(heads) D=\(headDim)"
    }
}

/// Forward pass of multi-head attention:
/// `P = softmax(Q Kᵀ / sqrt(D) + mask)`, `output = P V`, per batch item and head.
///
/// - Parameters:
///   - output: `[B, Tq, H*D]`, overwritten.
///   - probabilities: `[B, H, Tq, Tk]`, overwritten with the softmax probabilities
///     (kept for the backward pass and for attention summaries). Masked keys get
///     exactly 0; a row whose keys are all masked is all zeros, and so is its output.
///   - query: `[B, Tq, H*D]`; key, value: `[B, Tk, H*D]`.
///   - keyMask: `[B, Tk]` with 1 for keys to attend to and 0 for padding, or nil.
///     Values must be exactly 0 or 1.
///   - dropoutMask: optional `[B, H, Tq, Tk]` attention-dropout multipliers (0 or
///     1/(1-p), see `dropoutMaskFill`); then `droppedProbabilities` (same size)
///     receives `P ∘ mask`, which is what multiplies V.
public func attentionForward(output: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>,
                             query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                             keyMask: UnsafePointer<Float>?, shape: AttentionShape,
                             dropoutMask: UnsafePointer<Float>? = nil,
                             droppedProbabilities: UnsafeMutablePointer<Float>? = nil) {
    KernelProfile.timed(.attention) {
        let B = shape.batch, Tq = shape.queryLength, Tk = shape.keyLength, H = shape.heads, D = shape.headDim
        let C = shape.width
        precondition((dropoutMask == nil) == (droppedProbabilities == nil),
                     "attentionForward: dropoutMask and droppedProbabilities go together")
        guard B > 0, Tq > 0 else { return }
        guard Tk > 0 else {
            output.update(repeating: 0, count: B * Tq * C)
            return
        }
        let scaleFactor = 1 / Float(D).squareRoot()
        Parallel.forEachRange(B * H, workPerItem: 4 * Tq * Tk * D) { range in
            for bh in range {
                let b = bh / H, h = bh % H
                let q = query + b * Tq * C + h * D
                let k = key + b * Tk * C + h * D
                let v = value + b * Tk * C + h * D
                let p = probabilities + bh * Tq * Tk
                sgemm(transB: true, m: Tq, n: Tk, k: D, alpha: scaleFactor, a: q, lda: C, b: k, ldb: C,
                      beta: 0, c: p, ldc: Tk)
                let mask = keyMask.map { $0 + b * Tk }
                for t in 0..<Tq { maskedSoftmaxRow(p + t * Tk, mask, Tk) }
                var weights = UnsafePointer(p)
                if let dropoutMask, let droppedProbabilities {
                    let dm = dropoutMask + bh * Tq * Tk, dp = droppedProbabilities + bh * Tq * Tk
                    multiply(dp, p, dm, Tq * Tk)
                    weights = UnsafePointer(dp)
                }
                sgemm(m: Tq, n: D, k: Tk, a: weights, lda: Tk, b: v, ldb: C,
                      beta: 0, c: output + b * Tq * C + h * D, ldc: C)
            }
        }
    }
}

/// Backward pass of multi-head attention.
///
/// Gradients for query, key and value are accumulated when `accumulate` is
/// true and overwritten otherwise. `scratch` is `[B, H, Tq, Tk]` floats of
/// working memory (its contents are destroyed). Pass the same `dropoutMask`
/// and `droppedProbabilities` as the forward pass, or nil for none.
public func attentionBackward(dQuery: UnsafeMutablePointer<Float>, dKey: UnsafeMutablePointer<Float>,
                              dValue: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                              dOutput: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
                              query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
                              shape: AttentionShape, accumulate: Bool = false,
                              dropoutMask: UnsafePointer<Float>? = nil,
                              droppedProbabilities: UnsafePointer<Float>? = nil) {
    KernelProfile.timed(.attention) {
        let B = shape.batch, Tq = shape.queryLength, Tk = shape.keyLength, H = shape.heads, D = shape.headDim
        let C = shape.width
        precondition((dropoutMask == nil) == (droppedProbabilities == nil),
                     "attentionBackward: dropoutMask and droppedProbabilities go together")
        guard B > 0 else { return }
        if Tq == 0 || Tk == 0 {
            if !accumulate {
                dQuery.update(repeating: 0, count: B * Tq * C)
                dKey.update(repeating: 0, count: B * Tk * C)
                dValue.update(repeating: 0, count: B * Tk * C)
            }
            return
        }
        let scaleFactor = 1 / Float(D).squareRoot()
        let beta: Float = accumulate ? 1 : 0
        Parallel.forEachRange(B * H, workPerItem: 8 * Tq * Tk * D) { range in
            for bh in range {
                let b = bh / H, h = bh % H
                let q = query + b * Tq * C + h * D
                let k = key + b * Tk * C + h * D
                let v = value + b * Tk * C + h * D
                let dO = dOutput + b * Tq * C + h * D
                let p = probabilities + bh * Tq * Tk
                let weights = droppedProbabilities.map { $0 + bh * Tq * Tk } ?? p
                let ds = scratch + bh * Tq * Tk
                // dV = P'ᵀ dO
                sgemm(transA: true, m: Tk, n: D, k: Tq, a: weights, lda: Tk, b: dO, ldb: C,
                      beta: beta, c: dValue + b * Tk * C + h * D, ldc: C)
                // dP' = dO Vᵀ, then through the dropout mask.
                sgemm(transB: true, m: Tq, n: Tk, k: D, a: dO, lda: C, b: v, ldb: C, beta: 0, c: ds, ldc: Tk)
                if let dropoutMask { multiply(ds, UnsafePointer(ds), dropoutMask + bh * Tq * Tk, Tq * Tk) }
                // Softmax backward, with the 1/sqrt(D) of the scores folded in.
                for t in 0..<Tq { softmaxBackwardRow(ds + t * Tk, p + t * Tk, Tk, scaleFactor) }
                // dQ = dS K, dK = dSᵀ Q
                sgemm(m: Tq, n: D, k: Tk, a: ds, lda: Tk, b: k, ldb: C,
                      beta: beta, c: dQuery + b * Tq * C + h * D, ldc: C)
                sgemm(transA: true, m: Tk, n: D, k: Tq, a: ds, lda: Tk, b: q, ldb: C,
                      beta: beta, c: dKey + b * Tk * C + h * D, ldc: C)
            }
        }
    }
}

/// In-place softmax of one row of scores, with masked entries (mask 0) set to
/// exactly 0 and an all-masked row set to all zeros.
@inline(__always) @usableFromInline
func maskedSoftmaxRow(_ row: UnsafeMutablePointer<Float>, _ mask: UnsafePointer<Float>?, _ n: Int) {
    var maxValue = -Float.infinity
    if let mask {
        var i = 0
        if n >= 16 {
            var acc = F16(repeating: -.infinity)
            while i + 16 <= n {
                let s = load16(row + i)
                acc = vmax(acc, s.replacing(with: -.infinity, where: load16(mask + i) .== 0))
                i += 16
            }
            maxValue = hmax(acc)
        }
        while i < n { if mask[i] != 0 { maxValue = max(maxValue, row[i]) }; i += 1 }
        if maxValue == -.infinity {
            row.update(repeating: 0, count: n)
            return
        }
    } else {
        maxValue = vmax(row, n)
    }
    let mv = F16(repeating: maxValue)
    var acc = F16(), i = 0
    while i + 16 <= n {
        var e = vexp(load16(row + i) - mv)
        if let mask { e *= load16(mask + i) }
        store16(e, row + i); acc += e; i += 16
    }
    if i < n {
        // One padded vector for the tail; the padding lanes are multiplied by 0.
        var e = vexp(loadPartial(row + i, n - i, fill: maxValue) - mv)
        e *= mask.map { loadPartial($0 + i, n - i) } ?? laneMask(n - i)
        storePartial(e, row + i, n - i)
        acc += e
    }
    let total = hsum(acc)
    let inv = 1 / total
    scaleRow(row, n, inv)
}

/// In place: `d[j] = scale * p[j] * (d[j] - Σ_k d[k] p[k])` (softmax backward for one row).
@inline(__always) @usableFromInline
func softmaxBackwardRow(_ d: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ n: Int, _ scale: Float) {
    let dot = vdot(UnsafePointer(d), p, n)
    let dv = F16(repeating: dot)
    var i = 0
    while i + 16 <= n { store16(load16(p + i) * (load16(d + i) - dv) * scale, d + i); i += 16 }
    while i < n { d[i] = p[i] * (d[i] - dot) * scale; i += 1 }
}

/// `out[i] = a[i] * b[i]` (out may alias a or b).
@inline(__always) @usableFromInline
func multiply(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n { store16(load16(a + i) * load16(b + i), out + i); i += 16 }
    while i < n { out[i] = a[i] * b[i]; i += 1 }
}

/// `row[i] *= factor` for one row.
@inline(__always) @usableFromInline
func scaleRow(_ row: UnsafeMutablePointer<Float>, _ n: Int, _ factor: Float) {
    var i = 0
    let fv = F16(repeating: factor)
    while i + 16 <= n { store16(load16(row + i) * fv, row + i); i += 16 }
    while i < n { row[i] *= factor; i += 1 }
}
