import CKernels

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
        Parallel.forEachRange(B * H, workPerItem: 4 * Tq * Tk * D) { range in
            let transposed = UnsafeMutablePointer<Float>.allocate(capacity: D * ((Tk + 15) / 16 * 16))
            defer { transposed.deallocate() }
            for bh in range {
                let b = bh / H, h = bh % H
                var head = attentionHead(shape, bh: bh, query: query, key: key, value: value)
                head.key_mask = keyMask.map { $0 + b * Tk }
                head.dropout_mask = dropoutMask.map { $0 + bh * Tq * Tk }
                head.dropped_probabilities = droppedProbabilities.map { $0 + bh * Tq * Tk }
                head.probabilities = probabilities + bh * Tq * Tk
                head.output = output + b * Tq * C + h * D
                vitrine_attention_head_forward(&head, transposed)
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
        Parallel.forEachRange(B * H, workPerItem: 8 * Tq * Tk * D) { range in
            let transposed = UnsafeMutablePointer<Float>.allocate(capacity: D * ((Tk + 15) / 16 * 16))
            defer { transposed.deallocate() }
            for bh in range {
                let b = bh / H, h = bh % H
                var head = attentionHead(shape, bh: bh, query: query, key: key, value: value)
                head.dropout_mask = dropoutMask.map { $0 + bh * Tq * Tk }
                head.dropped_probabilities = droppedProbabilities.map { UnsafeMutablePointer(mutating: $0 + bh * Tq * Tk) }
                head.probabilities = UnsafeMutablePointer(mutating: probabilities + bh * Tq * Tk)
                head.d_output = dOutput + b * Tq * C + h * D
                head.d_query = dQuery + b * Tq * C + h * D
                head.d_key = dKey + b * Tk * C + h * D
                head.d_value = dValue + b * Tk * C + h * D
                vitrine_attention_head_backward(&head, transposed, scratch + bh * Tq * Tk, accumulate ? 1 : 0)
            }
        }
    }
}

/// The C kernel's description of (batch item, head) `bh`: sizes, scale and the head's first
/// query, key and value; the caller adds the masks and the outputs.
private func attentionHead(_ shape: AttentionShape, bh: Int, query: UnsafePointer<Float>, key: UnsafePointer<Float>,
                           value: UnsafePointer<Float>) -> vitrine_attention_head {
    let b = bh / shape.heads, h = bh % shape.heads, C = shape.width, D = shape.headDim
    var head = vitrine_attention_head()
    head.query_length = shape.queryLength; head.key_length = shape.keyLength; head.head_dim = D; head.stride = C
    head.scale = 1 / Float(D).squareRoot()
    head.query = query + b * shape.queryLength * C + h * D
    head.key = key + b * shape.keyLength * C + h * D
    head.value = value + b * shape.keyLength * C + h * D
    return head
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
