import Support
import Tensor

// BERT's building blocks over plain float buffers, in the llm.c style: each
// block has a forward and a backward function, keeps the activations its
// backward pass needs in buffers it owns (allocated for the largest batch
// shape seen, then reused), and accumulates its parameters' gradients.
//
// Layout: a batch of sequences is `[batch, length, hidden]`, row-major, so
// every dense layer is one GEMM over `batch * length` rows.
//
// Lifetimes: a block's `forward` returns a pointer to its own output buffer,
// valid until its next `forward`. It remembers the input pointers it was
// given; the caller keeps those alive and unchanged until `backward` (as the
// previous block's output buffer naturally is). Blocks are not reentrant: one
// forward/backward at a time per instance.

/// The widths of a BERT layer (docs/model.md §4.1: 384, 12 heads, FFN 1536, LayerNorm eps 1e-12).
public struct BertDimensions: Sendable, Equatable, Codable {
    public var hidden: Int
    public var heads: Int
    public var intermediate: Int
    public var layerNormEps: Float

    public init(hidden: Int, heads: Int, intermediate: Int, layerNormEps: Float = 1e-12) {
        precondition(hidden > 0 && heads > 0 && intermediate > 0 && hidden % heads == 0,
                     "BertDimensions: hidden \(hidden) must be a positive multiple of heads \(heads)")
        self.hidden = hidden; self.heads = heads; self.intermediate = intermediate; self.layerNormEps = layerNormEps
    }

    /// The widths of `config`.
    public init(_ config: CaptureConfig) {
        self.init(hidden: config.hidden, heads: config.heads, intermediate: config.intermediate,
                  layerNormEps: config.layerNormEps)
    }

    public var headDim: Int { hidden / heads }
}

/// Dropout settings of a training forward pass (BERT's defaults: 0.1 and 0.1).
public struct TrainingDropout: Sendable, Equatable {
    /// Dropout on the outputs of the attention output and FFN output dense layers
    /// and on the embeddings (`hidden_dropout_prob`).
    public var hidden: Float
    /// Dropout on the attention probabilities (`attention_probs_dropout_prob`).
    public var attention: Float
    /// Seeds every mask of this pass; give each training step its own (e.g. base seed + step).
    /// Each block mixes in a hash of its name, so blocks draw different masks.
    public var seed: UInt64

    public init(hidden: Float = 0.1, attention: Float = 0.1, seed: UInt64) {
        precondition((0..<1).contains(hidden) && (0..<1).contains(attention),
                     "dropout probabilities must be in [0, 1): hidden \(hidden), attention \(attention)")
        self.hidden = hidden; self.attention = attention; self.seed = seed
    }
}

/// How a forward pass runs: inference (no dropout) or training (dropout with seeded masks).
/// Both keep the activations a backward pass needs.
public enum ForwardMode: Sendable, Equatable {
    case inference
    case training(TrainingDropout)

    var dropout: TrainingDropout? {
        if case .training(let d) = self { return d }
        return nil
    }
}

/// A stable 64-bit hash of a block's name (FNV-1a), mixed into dropout seeds.
func stableHash(_ name: String) -> UInt64 { FNV1a.hash(name) }

// MARK: - Dense and LayerNorm layers

/// A dense layer `y = x Wᵀ + b` with PyTorch's `[out, in]` weight, named
/// `name.weight` and `name.bias`.
public struct LinearLayer: Sendable {
    public let weight: Parameter
    public let bias: Parameter?
    public let inFeatures: Int
    public let outFeatures: Int

    /// A layer initialised as BERT does: weights from N(0, std²), bias 0.
    public init(name: String, inFeatures: Int, outFeatures: Int, hasBias: Bool = true,
                std: Float = 0.02, rng: inout SeededRNG) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        weight = Parameter(name: name + ".weight", shape: [outFeatures, inFeatures], decays: true)
        weight.initializeNormal(std: std, rng: &rng)
        bias = hasBias ? Parameter(name: name + ".bias", shape: [outFeatures], decays: false) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// `output[rows, out] = input[rows, in] · Wᵀ + b`.
    public func forward(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, rows: Int) {
        linearForward(output: output, input: input, weight: weight.value.pointer,
                      bias: bias.map { UnsafePointer($0.value.pointer) }, rows: rows,
                      inFeatures: inFeatures, outFeatures: outFeatures)
    }

    /// Accumulates the parameter gradients (of trainable parameters) and writes
    /// (or, with `accumulateInput`, adds) the input gradient when `dInput` is given.
    public func backward(_ dOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                         dInput: UnsafeMutablePointer<Float>?, rows: Int, accumulateInput: Bool = false) {
        linearBackward(dInput: dInput, dWeight: weight.isTrainable ? weight.grad.pointer : nil,
                       dBias: bias.flatMap { $0.isTrainable ? $0.grad.pointer : nil },
                       dOutput: dOutput, input: input, weight: weight.value.pointer, rows: rows,
                       inFeatures: inFeatures, outFeatures: outFeatures, accumulateInput: accumulateInput)
    }
}

/// BERT's LayerNorm, named `name.weight` and `name.bias` (initialised to 1 and 0).
public struct LayerNormLayer: Sendable {
    public let weight: Parameter
    public let bias: Parameter
    public let width: Int
    public let eps: Float

    public init(name: String, width: Int, eps: Float) {
        self.width = width; self.eps = eps
        weight = Parameter(name: name + ".weight", shape: [width], decays: false)
        weight.initialize(to: 1)
        bias = Parameter(name: name + ".bias", shape: [width], decays: false)
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func forward(_ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
                        mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>, rows: Int) {
        layerNormForward(output: output, mean: mean, rstd: rstd, input: input, weight: weight.value.pointer,
                         bias: bias.value.pointer, rows: rows, width: width, eps: eps)
    }

    public func backward(_ dOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
                         mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                         dInput: UnsafeMutablePointer<Float>?, rows: Int, accumulateInput: Bool = false) {
        layerNormBackward(dInput: dInput, dWeight: weight.isTrainable ? weight.grad.pointer : nil,
                          dBias: bias.isTrainable ? bias.grad.pointer : nil, dOutput: dOutput, input: input,
                          weight: weight.value.pointer, mean: mean, rstd: rstd, rows: rows, width: width,
                          accumulateInput: accumulateInput)
    }
}

/// A buffer that grows to the largest size asked of it and is then reused.
struct Workspace {
    private(set) var buffer = FloatBuffer(count: 0)
    /// A pointer to at least `count` floats (contents unspecified after growth).
    mutating func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if buffer.count < count { buffer = FloatBuffer(count: count) }
        return buffer.pointer
    }
    var pointer: UnsafeMutablePointer<Float> { buffer.pointer }
}

// MARK: - Attention block

/// BERT's attention sublayer: `LayerNorm(x + dropout(dense(MultiHead(q(x), k(c), v(c)))))`,
/// with `c = x` for self attention, or another stream's states for co-attention
/// (queries from this stream, keys and values from the other).
///
/// Parameter names (`prefix` ends with "attention."): `prefix + "self.query"`,
/// `"self.key"`, `"self.value"`, `"output.dense"` (`.weight`, `.bias`) and
/// `"output.LayerNorm"`.
public final class BertAttention: @unchecked Sendable {
    public let dims: BertDimensions
    public let query: LinearLayer
    public let key: LinearLayer
    public let value: LinearLayer
    public let outputDense: LinearLayer
    public let layerNorm: LayerNormLayer
    private let salt: UInt64

    // Saved by forward.
    private var input: UnsafePointer<Float>?
    private var context: UnsafePointer<Float>?
    private var keyMask: UnsafePointer<Float>?
    private var shape = AttentionShape(batch: 0, queryLength: 0, keyLength: 0, heads: 1, headDim: 1)
    private var attentionDropout: Float = 0
    private var hiddenDropout: Float = 0

    private var q = Workspace(), k = Workspace(), v = Workspace(), attended = Workspace()
    private var probs = Workspace(), probDropMask = Workspace(), droppedProbs = Workspace()
    private var projected = Workspace(), hiddenDropMask = Workspace(), output = Workspace()
    private var mean = Workspace(), rstd = Workspace()
    // Backward.
    private var dInput = Workspace(), dContext = Workspace(), dProjected = Workspace(), dAttended = Workspace()
    private var dq = Workspace(), dk = Workspace(), dv = Workspace(), scratch = Workspace()

    public init(prefix: String, dims: BertDimensions, rng: inout SeededRNG) {
        self.dims = dims
        let C = dims.hidden
        query = LinearLayer(name: prefix + "self.query", inFeatures: C, outFeatures: C, rng: &rng)
        key = LinearLayer(name: prefix + "self.key", inFeatures: C, outFeatures: C, rng: &rng)
        value = LinearLayer(name: prefix + "self.value", inFeatures: C, outFeatures: C, rng: &rng)
        outputDense = LinearLayer(name: prefix + "output.dense", inFeatures: C, outFeatures: C, rng: &rng)
        layerNorm = LayerNormLayer(name: prefix + "output.LayerNorm", width: C, eps: dims.layerNormEps)
        salt = stableHash(prefix)
    }

    public var parameters: [Parameter] {
        query.parameters + key.parameters + value.parameters + outputDense.parameters + layerNorm.parameters
    }

    /// The softmax probabilities `[batch, heads, queryLength, keyLength]` of the last forward pass
    /// (before attention dropout).
    public var probabilities: UnsafePointer<Float> { UnsafePointer(probs.pointer) }
    /// The shape of the last forward pass.
    public var lastShape: AttentionShape { shape }

    /// Runs the sublayer.
    ///
    /// - Parameters:
    ///   - input: `[batch, queryLength, hidden]`, the stream being updated (queries, residual).
    ///   - context: `[batch, keyLength, hidden]` for co-attention, nil for self attention
    ///     (then `keyLength` must equal `queryLength`).
    ///   - keyMask: `[batch, keyLength]`, 1 for real keys, 0 for padding; nil for none.
    /// - Returns: `[batch, queryLength, hidden]`, owned by the block.
    public func forward(_ input: UnsafePointer<Float>, context: UnsafePointer<Float>? = nil,
                        keyMask: UnsafePointer<Float>?, batch: Int, queryLength: Int, keyLength: Int,
                        mode: ForwardMode) -> UnsafePointer<Float> {
        precondition(context != nil || keyLength == queryLength,
                     "BertAttention: self attention needs keyLength (\(keyLength)) == queryLength (\(queryLength))")
        let C = dims.hidden
        let s = AttentionShape(batch: batch, queryLength: queryLength, keyLength: keyLength,
                               heads: dims.heads, headDim: dims.headDim)
        self.input = input; self.context = context; self.keyMask = keyMask; shape = s
        let qRows = batch * queryLength, kRows = batch * keyLength
        let kvInput = context ?? input
        let qp = q.reserve(qRows * C), kp = k.reserve(kRows * C), vp = v.reserve(kRows * C)
        query.forward(input, into: qp, rows: qRows)
        key.forward(kvInput, into: kp, rows: kRows)
        value.forward(kvInput, into: vp, rows: kRows)

        let dropout = mode.dropout
        attentionDropout = dropout?.attention ?? 0
        hiddenDropout = dropout?.hidden ?? 0
        var rng = SeededRNG(seed: (dropout?.seed ?? 0) ^ salt)
        let pp = probs.reserve(s.probabilityCount)
        let ap = attended.reserve(qRows * C)
        if attentionDropout > 0 {
            let mask = probDropMask.reserve(s.probabilityCount)
            dropoutMaskFill(mask, count: s.probabilityCount, probability: attentionDropout, rng: &rng)
            attentionForward(output: ap, probabilities: pp, query: qp, key: kp, value: vp, keyMask: keyMask,
                             shape: s, dropoutMask: mask, droppedProbabilities: droppedProbs.reserve(s.probabilityCount))
        } else {
            attentionForward(output: ap, probabilities: pp, query: qp, key: kp, value: vp, keyMask: keyMask, shape: s)
        }
        let pr = projected.reserve(qRows * C)
        outputDense.forward(ap, into: pr, rows: qRows)
        if hiddenDropout > 0 {
            let mask = hiddenDropMask.reserve(qRows * C)
            dropoutMaskFill(mask, count: qRows * C, probability: hiddenDropout, rng: &rng)
            dropoutForward(output: pr, input: pr, mask: mask, count: qRows * C)
        }
        residualForward(output: pr, pr, input, count: qRows * C)  // pr now holds the LayerNorm input
        let out = output.reserve(qRows * C)
        layerNorm.forward(pr, into: out, mean: mean.reserve(qRows), rstd: rstd.reserve(qRows), rows: qRows)
        return UnsafePointer(out)
    }

    /// Backward pass from the gradient of the last forward's output.
    ///
    /// - Returns: the gradient with respect to `input` and, for co-attention, to
    ///   `context` (nil for self attention, whose key/value gradient is folded
    ///   into the input's). Both are nil when `computeInputGradient` is false
    ///   (the block below is frozen and needs none). Owned by the block, valid
    ///   until its next backward.
    public func backward(_ dOutput: UnsafePointer<Float>, computeInputGradient: Bool = true)
        -> (dInput: UnsafePointer<Float>?, dContext: UnsafePointer<Float>?) {
        guard let input else { preconditionFailure("BertAttention.backward called before forward") }
        let s = shape, C = dims.hidden
        let qRows = s.batch * s.queryLength, kRows = s.batch * s.keyLength
        // LayerNorm; its input gradient is also the residual branch's gradient of `input`.
        let dh = dInput.reserve(qRows * C)
        layerNorm.backward(dOutput, input: projected.pointer, mean: mean.pointer, rstd: rstd.pointer,
                           dInput: dh, rows: qRows)
        var dProj = UnsafePointer(dh)
        if hiddenDropout > 0 {
            let d = dProjected.reserve(qRows * C)
            dropoutBackward(dInput: d, dOutput: dh, mask: hiddenDropMask.pointer, count: qRows * C)
            dProj = UnsafePointer(d)
        }
        let da = dAttended.reserve(qRows * C)
        outputDense.backward(dProj, input: attended.pointer, dInput: da, rows: qRows)
        let dqp = dq.reserve(qRows * C), dkp = dk.reserve(kRows * C), dvp = dv.reserve(kRows * C)
        let dropped = attentionDropout > 0
        attentionBackward(dQuery: dqp, dKey: dkp, dValue: dvp, scratch: scratch.reserve(s.probabilityCount),
                          dOutput: da, probabilities: probs.pointer, query: q.pointer, key: k.pointer,
                          value: v.pointer, shape: s,
                          dropoutMask: dropped ? UnsafePointer(probDropMask.pointer) : nil,
                          droppedProbabilities: dropped ? UnsafePointer(droppedProbs.pointer) : nil)
        let kvInput = context ?? input
        guard computeInputGradient else {
            query.backward(dqp, input: input, dInput: nil, rows: qRows)
            key.backward(dkp, input: kvInput, dInput: nil, rows: kRows)
            value.backward(dvp, input: kvInput, dInput: nil, rows: kRows)
            return (nil, nil)
        }
        query.backward(dqp, input: input, dInput: dh, rows: qRows, accumulateInput: true)
        if context == nil {
            key.backward(dkp, input: input, dInput: dh, rows: qRows, accumulateInput: true)
            value.backward(dvp, input: input, dInput: dh, rows: qRows, accumulateInput: true)
            return (UnsafePointer(dh), nil)
        }
        let dc = dContext.reserve(kRows * C)
        key.backward(dkp, input: kvInput, dInput: dc, rows: kRows)
        value.backward(dvp, input: kvInput, dInput: dc, rows: kRows, accumulateInput: true)
        return (UnsafePointer(dh), UnsafePointer(dc))
    }
}

// MARK: - Feed-forward block

/// BERT's feed-forward sublayer: `LayerNorm(x + dropout(output(GELU(intermediate(x)))))`.
///
/// Parameter names (`prefix` is the layer's, ending with "."): `prefix + "intermediate.dense"`,
/// `"output.dense"` (`.weight`, `.bias`) and `"output.LayerNorm"`.
public final class BertFeedForward: @unchecked Sendable {
    public let dims: BertDimensions
    public let intermediate: LinearLayer
    public let outputDense: LinearLayer
    public let layerNorm: LayerNormLayer
    private let salt: UInt64

    private var input: UnsafePointer<Float>?
    private var rows = 0
    private var hiddenDropout: Float = 0
    /// GELU's derivative at the intermediate layer's output (see `biasGELUForward`).
    private var preActivation = Workspace(), activation = Workspace(), projected = Workspace()
    private var dropMask = Workspace(), output = Workspace(), mean = Workspace(), rstd = Workspace()
    private var dInput = Workspace(), dProjected = Workspace(), dActivation = Workspace()

    public init(prefix: String, dims: BertDimensions, rng: inout SeededRNG) {
        self.dims = dims
        intermediate = LinearLayer(name: prefix + "intermediate.dense", inFeatures: dims.hidden,
                                   outFeatures: dims.intermediate, rng: &rng)
        outputDense = LinearLayer(name: prefix + "output.dense", inFeatures: dims.intermediate,
                                  outFeatures: dims.hidden, rng: &rng)
        layerNorm = LayerNormLayer(name: prefix + "output.LayerNorm", width: dims.hidden, eps: dims.layerNormEps)
        salt = stableHash(prefix + "output")
    }

    public var parameters: [Parameter] { intermediate.parameters + outputDense.parameters + layerNorm.parameters }

    /// Runs the sublayer over `rows` rows of `[rows, hidden]`; returns its output (owned by the block).
    public func forward(_ input: UnsafePointer<Float>, rows: Int, mode: ForwardMode) -> UnsafePointer<Float> {
        self.input = input; self.rows = rows
        let C = dims.hidden, I = dims.intermediate
        // The product without its bias, then bias + GELU in one pass that keeps GELU's
        // derivative (in `preActivation`) for the backward pass.
        let pre = preActivation.reserve(rows * I), act = activation.reserve(rows * I)
        linearForward(output: pre, input: input, weight: intermediate.weight.value.pointer, bias: nil, rows: rows,
                      inFeatures: C, outFeatures: I)
        biasGELUForward(output: act, preActivation: pre, bias: intermediate.bias.map { UnsafePointer($0.value.pointer) },
                        rows: rows, width: I)
        let pr = projected.reserve(rows * C)
        outputDense.forward(act, into: pr, rows: rows)
        let dropout = mode.dropout
        hiddenDropout = dropout?.hidden ?? 0
        if hiddenDropout > 0 {
            var rng = SeededRNG(seed: dropout!.seed ^ salt)
            let mask = dropMask.reserve(rows * C)
            dropoutMaskFill(mask, count: rows * C, probability: hiddenDropout, rng: &rng)
            dropoutForward(output: pr, input: pr, mask: mask, count: rows * C)
        }
        residualForward(output: pr, pr, input, count: rows * C)
        let out = output.reserve(rows * C)
        layerNorm.forward(pr, into: out, mean: mean.reserve(rows), rstd: rstd.reserve(rows), rows: rows)
        return UnsafePointer(out)
    }

    /// Backward pass; returns the input gradient (owned by the block), or nil when
    /// `computeInputGradient` is false.
    public func backward(_ dOutput: UnsafePointer<Float>, computeInputGradient: Bool = true) -> UnsafePointer<Float>? {
        guard input != nil else { preconditionFailure("BertFeedForward.backward called before forward") }
        let C = dims.hidden, I = dims.intermediate
        let dh = dInput.reserve(rows * C)
        layerNorm.backward(dOutput, input: projected.pointer, mean: mean.pointer, rstd: rstd.pointer,
                           dInput: dh, rows: rows)
        var dProj = UnsafePointer(dh)
        if hiddenDropout > 0 {
            let d = dProjected.reserve(rows * C)
            dropoutBackward(dInput: d, dOutput: dh, mask: dropMask.pointer, count: rows * C)
            dProj = UnsafePointer(d)
        }
        let dAct = dActivation.reserve(rows * I)
        outputDense.backward(dProj, input: activation.pointer, dInput: dAct, rows: rows)
        geluBackward(dInput: dAct, dOutput: dAct, derivative: preActivation.pointer, count: rows * I)
        intermediate.backward(dAct, input: input!, dInput: computeInputGradient ? dh : nil, rows: rows,
                              accumulateInput: true)
        return computeInputGradient ? UnsafePointer(dh) : nil
    }
}

// MARK: - BERT layer

/// One post-LN BERT layer: attention sublayer then feed-forward sublayer, with
/// Hugging Face's names under `prefix` (e.g. `"text.encoder.layer.0."`).
///
/// Used by the text stream (self attention), the image stream and the cross
/// stream; with a `context` it is one side of a co-attention layer (queries
/// from `input`, keys and values from `context`), whose names are the same
/// (`co.layer.N.text.attention.self.query.weight`, ...).
public final class BertLayer: @unchecked Sendable {
    public let name: String
    public let attention: BertAttention
    public let feedForward: BertFeedForward

    public init(prefix: String, dims: BertDimensions, rng: inout SeededRNG) {
        name = prefix
        attention = BertAttention(prefix: prefix + "attention.", dims: dims, rng: &rng)
        feedForward = BertFeedForward(prefix: prefix, dims: dims, rng: &rng)
    }

    public var dims: BertDimensions { attention.dims }
    /// The layer's parameters in Hugging Face order.
    public var parameters: [Parameter] { attention.parameters + feedForward.parameters }
    /// Whether any parameter of the layer trains.
    public var isTrainable: Bool { parameters.contains { $0.isTrainable } }

    /// Runs the layer over `[batch, length, hidden]` (self attention), or with
    /// `context` `[batch, contextLength, hidden]` as keys and values. `keyMask`
    /// masks the keys: `[batch, length]` for self attention, `[batch, contextLength]`
    /// with a context. Returns `[batch, length, hidden]`, owned by the layer.
    public func forward(_ input: UnsafePointer<Float>, context: UnsafePointer<Float>? = nil, contextLength: Int? = nil,
                        keyMask: UnsafePointer<Float>?, batch: Int, length: Int,
                        mode: ForwardMode) -> UnsafePointer<Float> {
        precondition(context == nil || contextLength != nil, "BertLayer: a context needs its length")
        let a = attention.forward(input, context: context, keyMask: keyMask, batch: batch, queryLength: length,
                                  keyLength: context == nil ? length : contextLength!, mode: mode)
        return feedForward.forward(a, rows: batch * length, mode: mode)
    }

    /// Backward pass. Returns the gradient of `input` and, with a context, of
    /// `context` (owned by the layer, valid until its next backward); nil when
    /// `computeInputGradient` is false.
    public func backward(_ dOutput: UnsafePointer<Float>, computeInputGradient: Bool = true)
        -> (dInput: UnsafePointer<Float>?, dContext: UnsafePointer<Float>?) {
        // The attention sublayer's output always needs its gradient when anything below trains.
        let needBelow = computeInputGradient || attention.parameters.contains { $0.isTrainable }
        guard let dAttention = feedForward.backward(dOutput, computeInputGradient: needBelow) else { return (nil, nil) }
        return attention.backward(dAttention, computeInputGradient: computeInputGradient)
    }
}
