import Tensor

/// The three retrieval embeddings of a batch of pairs (docs/model.md §6, "Retrieval embeddings"),
/// each `[batch][256]` unit vectors.
public struct CaptureEmbeddings: Sendable, Equatable {
    /// Text: `normalize(clr.text(t[CLS]))` on the text stream's output.
    public var text: [[Float]]
    /// Image: `normalize(clr.image(v[global]))` on the image stream's output.
    public var image: [[Float]]
    /// Fused: `normalize(fuse([x[CLS]; x[global]]))` on the cross stream's output.
    public var fused: [[Float]]
}

/// CAPTURE (docs/model.md §4, "Architecture"): text stream, image stream, CLR projections,
/// co-attention, cross stream, fusion, and the MLM and MRM heads, with a forward and
/// backward pass over the whole model for the pretraining losses.
///
/// Parameter names are the checkpoint names of docs/model.md §8.2. The MLM decoder is tied to
/// `text.embeddings.word_embeddings.weight`. Not reentrant: one pass at a time; the
/// `embed` functions replace the saved activations, so call `backward` right after a forward.
public final class CaptureModel: @unchecked Sendable {
    public let config: CaptureConfig
    public let text: TextEncoder
    public let image: ImageStream
    public let clrText: LinearLayer
    public let clrImage: LinearLayer
    public let coLayers: [BertCoAttentionLayer]
    /// `cross.modality_embeddings.weight`, `[2, hidden]`: row 0 text, row 1 image.
    public let modalityEmbeddings: Parameter
    public let crossLayers: [BertLayer]
    public let fuse: LinearLayer
    public let mlmDense: LinearLayer
    public let mlmLayerNorm: LayerNormLayer
    /// `mlm.bias`, `[vocabSize]`.
    public let mlmBias: Parameter
    public let mrm: LinearLayer
    /// Every parameter, named as in docs/model.md §8.2.
    public let parameters: ParameterSet

    // Forward state.
    private var batch = 0, textLength = 0
    private var imageInput = Workspace(), crossMask = Workspace()
    private var textCLS = Workspace(), imageGlobal = Workspace(), clrVectors = Workspace(), clrNorms = Workspace()
    private var crossInput = Workspace(), fuseInput = Workspace(), fused = Workspace(), fusedNorms = Workspace()
    private var crossOutput: UnsafePointer<Float>?
    // Heads.
    private var mlmRows: [Int] = [], mlmTargets: [Int32] = [], mrmRows: [Int] = []
    private var mlmInput = Workspace(), mlmPre = Workspace(), mlmAct = Workspace(), mlmOut = Workspace()
    private var mlmMean = Workspace(), mlmRstd = Workspace(), logits = Workspace()
    private var mrmInput = Workspace(), mrmOutput = Workspace(), mrmTarget = Workspace(), clrProbabilities = Workspace()
    private var weights = (mlm: Float(1), mrm: Float(1), clr: Float(1))
    private var robust: (pairs: [EmbeddingPair], objective: FineTuningObjective)?
    // Backward.
    private var dFused = Workspace(), dFusedRaw = Workspace(), dFuseInput = Workspace()
    private var dCross = Workspace(), dText = Workspace(), dImage = Workspace(), dHead = Workspace()
    private var dHeadIn = Workspace(), dMLMAct = Workspace(), dMRM = Workspace()
    private var dCLR = Workspace(), dCLRRaw = Workspace(), clrScratch = Workspace(), dProjected = Workspace()

    /// A randomly initialised model (BERT's initialisation: weights N(0, 0.02²),
    /// LayerNorm 1 and 0, biases 0), deterministic for `seed`.
    public init(config: CaptureConfig, seed: UInt64 = 0) {
        self.config = config
        let C = config.hidden
        text = TextEncoder(config: config, prefix: "text.", seed: seed)
        var rng = SeededRNG(seed: seed &+ 0x5EED_1111)
        image = ImageStream(config: config, rng: &rng)
        clrText = LinearLayer(name: "clr.text", inFeatures: C, outFeatures: config.clrDim, rng: &rng)
        clrImage = LinearLayer(name: "clr.image", inFeatures: C, outFeatures: config.clrDim, rng: &rng)
        let dims = BertDimensions(config)
        coLayers = (0..<config.coLayers).map { BertCoAttentionLayer(prefix: "co.layer.\($0).", dims: dims, rng: &rng) }
        modalityEmbeddings = Parameter(name: "cross.modality_embeddings.weight", shape: [2, C], decays: true)
        modalityEmbeddings.initializeNormal(std: 0.02, rng: &rng)
        crossLayers = (0..<config.crossLayers).map { BertLayer(prefix: "cross.encoder.layer.\($0).", dims: dims, rng: &rng) }
        fuse = LinearLayer(name: "fuse", inFeatures: 2 * C, outFeatures: config.fusedDim, rng: &rng)
        mlmDense = LinearLayer(name: "mlm.transform.dense", inFeatures: C, outFeatures: C, rng: &rng)
        mlmLayerNorm = LayerNormLayer(name: "mlm.transform.LayerNorm", width: C, eps: config.layerNormEps)
        mlmBias = Parameter(name: "mlm.bias", shape: [config.vocabSize], decays: false)
        mrm = LinearLayer(name: "mrm", inFeatures: C, outFeatures: config.regionFeatureDim, rng: &rng)
        var set = ParameterSet()
        let all: [Parameter] = text.parameters.parameters + image.parameters + clrText.parameters + clrImage.parameters
            + coLayers.flatMap(\.parameters) + [modalityEmbeddings] + crossLayers.flatMap(\.parameters)
            + fuse.parameters + mlmDense.parameters + mlmLayerNorm.parameters + [mlmBias] + mrm.parameters
        for p in all {
            do { try set.append(p) } catch { preconditionFailure("CaptureModel: \(error)") }
        }
        parameters = set
    }

    /// A model whose text stream is its pretrained tower (`config.textTower`: e5 or MiniLM)
    /// from the weights folder and whose other parts are randomly initialised with `seed`.
    public static func pretrained(weights: WeightsFolder, config: CaptureConfig = .default,
                                  seed: UInt64 = 0) throws -> CaptureModel {
        let model = CaptureModel(config: config, seed: seed)
        let path = try weights.require(config.textTower.modelFile)
        try model.text.load(from: try SafetensorsFile.read(path: path))
        return model
    }

    // MARK: Trunk

    /// Text, image, CLR, co-attention, cross stream and fusion over one batch.
    private func trunk(tokens: TokenBatch, imageFeatures: [Float], mode: ForwardMode) {
        let B = tokens.batch, L = tokens.length, N = config.imageTokens, C = config.hidden
        let D = config.regionFeatureDim, S = L + N, Z = config.clrDim
        precondition(imageFeatures.count == B * N * D,
                     "CaptureModel: \(imageFeatures.count) image floats, expected \(B) x \(N) x \(D)")
        precondition(L <= config.maxPositions, "CaptureModel: \(L) tokens exceed \(config.maxPositions) positions")
        batch = B; textLength = L
        let input = imageInput.reserve(B * N * D)
        imageFeatures.withUnsafeBufferPointer { input.update(from: $0.baseAddress!, count: B * N * D) }

        let t = text.forward(tokens, mode: mode)
        let textMask = text.lastMask!
        let v = image.forward(features: input, batch: B, mode: mode)

        // CLR on the single-stream outputs.
        let cls = textCLS.reserve(B * C), global = imageGlobal.reserve(B * C)
        for b in 0..<B {
            (cls + b * C).update(from: t + b * L * C, count: C)
            (global + b * C).update(from: v + b * N * C, count: C)
        }
        let z = clrVectors.reserve(2 * B * Z)
        clrText.forward(cls, into: z, rows: B)
        clrImage.forward(global, into: z + B * Z, rows: B)
        l2NormalizeForward(output: z, norms: clrNorms.reserve(2 * B), input: z, rows: 2 * B, width: Z)

        // Co-attention.
        var (tc, vc) = (t, v)
        for layer in coLayers {
            (tc, vc) = layer.forward(text: tc, textLength: L, textMask: textMask, image: vc, imageLength: N,
                                     imageMask: nil, batch: B, mode: mode)
        }

        // Cross stream over [text; image] plus the modality embeddings.
        let x0 = crossInput.reserve(B * S * C), m = crossMask.reserve(B * S)
        let modality = modalityEmbeddings.value.pointer
        for b in 0..<B {
            for i in 0..<L { residualForward(output: x0 + (b * S + i) * C, tc + (b * L + i) * C, modality, count: C) }
            for i in 0..<N {
                residualForward(output: x0 + (b * S + L + i) * C, vc + (b * N + i) * C, modality + C, count: C)
            }
            (m + b * S).update(from: textMask + b * L, count: L)
            (m + b * S + L).update(repeating: 1, count: N)
        }
        var x = UnsafePointer(x0)
        for layer in crossLayers { x = layer.forward(x, keyMask: m, batch: B, length: S, mode: mode) }
        crossOutput = x

        // Fusion.
        let f = fuseInput.reserve(B * 2 * C)
        for b in 0..<B {
            (f + b * 2 * C).update(from: x + b * S * C, count: C)
            (f + b * 2 * C + C).update(from: x + (b * S + L) * C, count: C)
        }
        let e = fused.reserve(B * config.fusedDim)
        fuse.forward(f, into: e, rows: B)
        l2NormalizeForward(output: e, norms: fusedNorms.reserve(B), input: e, rows: B, width: config.fusedDim)
    }

    /// The embeddings `z_t`, `z_v` and `e` of pairs, in inference mode (no dropout).
    ///
    /// - Parameters:
    ///   - tokens: the captions.
    ///   - imageFeatures: `[batch, imageTokens, regionFeatureDim]` token features (global mean
    ///     first; see `ImageTokens.features`).
    public func embed(tokens: TokenBatch, imageFeatures: [Float]) -> CaptureEmbeddings {
        guard tokens.batch > 0 else { return CaptureEmbeddings(text: [], image: [], fused: []) }
        trunk(tokens: tokens, imageFeatures: imageFeatures, mode: .inference)
        crossOutput = nil  // no losses to differentiate
        let B = tokens.batch, Z = config.clrDim, F = config.fusedDim
        let z = clrVectors.pointer, e = fused.pointer
        return CaptureEmbeddings(
            text: (0..<B).map { Array(UnsafeBufferPointer(start: z + $0 * Z, count: Z)) },
            image: (0..<B).map { Array(UnsafeBufferPointer(start: z + (B + $0) * Z, count: Z)) },
            fused: (0..<B).map { Array(UnsafeBufferPointer(start: e + $0 * F, count: F)) })
    }

    /// The text embeddings `z_t` of captions alone (inference mode): the text stream and
    /// `clr.text` only. Equal to `embed(...).text` for the same captions.
    public func embedText(_ tokens: TokenBatch) -> [[Float]] {
        guard tokens.batch > 0 else { return [] }
        crossOutput = nil  // the streams' saved activations are replaced
        let t = text.forward(tokens, mode: .inference)
        return project(t, stride: tokens.length, rows: tokens.batch, through: clrText)
    }

    /// The image embeddings `z_v` of images alone (inference mode): the image stream and
    /// `clr.image` only. `imageFeatures` is `[batch, imageTokens, regionFeatureDim]`.
    public func embedImages(_ imageFeatures: [Float]) -> [[Float]] {
        let per = config.imageTokens * config.regionFeatureDim
        precondition(imageFeatures.count % per == 0,
                     "CaptureModel.embedImages: \(imageFeatures.count) floats is not a whole number of \(per)-float images")
        let B = imageFeatures.count / per
        guard B > 0 else { return [] }
        crossOutput = nil  // the streams' saved activations are replaced
        let input = imageInput.reserve(B * per)
        imageFeatures.withUnsafeBufferPointer { input.update(from: $0.baseAddress!, count: B * per) }
        let v = image.forward(features: input, batch: B, mode: .inference)
        return project(v, stride: config.imageTokens, rows: B, through: clrImage)
    }

    /// `normalize(layer(states[b * stride]))` for each of `rows` sequences.
    private func project(_ states: UnsafePointer<Float>, stride: Int, rows: Int, through layer: LinearLayer) -> [[Float]] {
        let C = config.hidden, Z = layer.outFeatures
        let first = FloatBuffer(count: rows * C), out = FloatBuffer(count: rows * Z), norms = FloatBuffer(count: rows)
        for b in 0..<rows { (first.pointer + b * C).update(from: states + b * stride * C, count: C) }
        layer.forward(first.pointer, into: out.pointer, rows: rows)
        l2NormalizeForward(output: out.pointer, norms: norms.pointer, input: out.pointer, rows: rows, width: Z)
        return (0..<rows).map { Array(UnsafeBufferPointer(start: out.pointer + $0 * Z, count: Z)) }
    }

    // MARK: Pretraining

    /// The pretraining losses of a masked batch (forward only; keeps what `backward` needs,
    /// which then differentiates their sum).
    public func forward(_ batch: MaskedPretrainingBatch, mode: ForwardMode) -> PretrainingLosses {
        weights = (1, 1, 1); robust = nil
        return headLosses(batch, mode: mode, regions: true, words: true)
    }

    /// The fine-tuning losses of a masked batch (forward only; keeps what `backward` needs, which
    /// then differentiates `total`): the robust contrastive loss over `pairs` of the batch's fused
    /// embeddings (indices are rows of the batch), plus CLR and MLM as regularisers (docs/model.md
    /// §5.2, "Fine-tuning"). Pass an unmasked batch (no MLM targets) to leave MLM out.
    public func forwardFineTuning(_ batch: MaskedPretrainingBatch, pairs: [EmbeddingPair],
                                  objective: FineTuningObjective, mode: ForwardMode) -> FineTuningLosses {
        weights = (objective.mlmWeight, 0, objective.clrWeight)
        robust = (pairs, objective)
        let pre = headLosses(batch, mode: mode, regions: false, words: objective.mlmWeight != 0)
        let r = robustContrastiveForward(embeddings: fused.pointer, rows: batch.batch, width: config.fusedDim,
                                         pairs: pairs, positiveMargin: objective.positiveMargin,
                                         negativeMargin: objective.negativeMargin)
        return FineTuningLosses(robust: r, clr: pre.clr, mlm: pre.mlm, objective: objective)
    }

    private func headLosses(_ batch: MaskedPretrainingBatch, mode: ForwardMode, regions: Bool,
                            words: Bool) -> PretrainingLosses {
        let B = batch.batch, L = batch.tokens.length, N = config.imageTokens, C = config.hidden
        let D = config.regionFeatureDim, S = L + N, V = config.vocabSize
        precondition(B > 0, "CaptureModel.forward: empty batch")
        precondition(batch.regionMask.count == B * N && batch.regionTargets.count == B * N * D,
                     "CaptureModel.forward: region mask or targets do not match \(B) x \(N) tokens of \(D)")
        trunk(tokens: batch.tokens, imageFeatures: batch.imageInput, mode: mode)
        let x = crossOutput!

        // MLM on the masked text positions only (the loss ignores the others).
        mlmRows = []; mlmTargets = []
        for r in 0..<(B * L) where words && batch.mlmTargets[r] != -100 {
            mlmRows.append((r / L) * S + r % L); mlmTargets.append(batch.mlmTargets[r])
        }
        var mlmLoss: Float = 0
        let M = mlmRows.count
        if M > 0 {
            let h = mlmInput.reserve(M * C)
            for (i, row) in mlmRows.enumerated() { (h + i * C).update(from: x + row * C, count: C) }
            let pre = mlmPre.reserve(M * C), act = mlmAct.reserve(M * C), out = mlmOut.reserve(M * C)
            mlmDense.forward(h, into: pre, rows: M)
            geluForward(output: act, input: pre, count: M * C)
            mlmLayerNorm.forward(act, into: out, mean: mlmMean.reserve(M), rstd: mlmRstd.reserve(M), rows: M)
            let lg = logits.reserve(M * V)
            linearForward(output: lg, input: out, weight: text.embeddings.word.value.pointer,
                          bias: mlmBias.value.pointer, rows: M, inFeatures: C, outFeatures: V)
            mlmLoss = mlmTargets.withUnsafeBufferPointer {
                crossEntropyForward(probabilities: lg, logits: lg, targets: $0.baseAddress!, rows: M, classes: V)
            }
        }

        // MRM on the masked cells.
        mrmRows = []
        for r in 0..<(B * N) where regions && batch.regionMask[r] != 0 { mrmRows.append(r) }
        var mrmLoss: Float = 0
        let R = mrmRows.count
        if R > 0 {
            let h = mrmInput.reserve(R * C), target = mrmTarget.reserve(R * D)
            batch.regionTargets.withUnsafeBufferPointer { targets in
                for (i, r) in mrmRows.enumerated() {
                    (h + i * C).update(from: x + ((r / N) * S + L + r % N) * C, count: C)
                    (target + i * D).update(from: targets.baseAddress! + r * D, count: D)
                }
            }
            let out = mrmOutput.reserve(R * D)
            mrm.forward(h, into: out, rows: R)
            mrmLoss = mseForward(prediction: out, target: target, rowMask: nil, rows: R, width: D)
        }

        // CLR over the 2B unit vectors.
        let clrLoss = ntXentForward(probabilities: clrProbabilities.reserve(4 * B * B), embeddings: clrVectors.pointer,
                                    pairs: B, width: config.clrDim, temperature: 0.07)
        return PretrainingLosses(mlm: mlmLoss, mrm: mrmLoss, clr: clrLoss)
    }

    /// Backward pass of the last `forward` (the sum of its three losses) or `forwardFineTuning`
    /// (its weighted total): accumulates the gradient of every trainable parameter (zero them
    /// with `parameters.zeroGradients()` once per optimiser step). `fuse` gets no gradient from
    /// pretraining, only from fine-tuning.
    public func backward() {
        guard crossOutput != nil else { preconditionFailure("CaptureModel.backward called before forward") }
        let B = batch, L = textLength, N = config.imageTokens, C = config.hidden
        let D = config.regionFeatureDim, S = L + N, V = config.vocabSize, Z = config.clrDim
        let dx = dCross.reserve(B * S * C)
        dx.update(repeating: 0, count: B * S * C)

        let M = mlmRows.count
        if M > 0 {
            let lg = logits.pointer
            mlmTargets.withUnsafeBufferPointer {
                crossEntropyBackward(dLogits: lg, probabilities: lg, targets: $0.baseAddress!, rows: M, classes: V,
                                     dLoss: weights.mlm)
            }
            let word = text.embeddings.word
            let dOut = dHead.reserve(M * C)
            linearBackward(dInput: dOut, dWeight: word.isTrainable ? word.grad.pointer : nil,
                           dBias: mlmBias.isTrainable ? mlmBias.grad.pointer : nil, dOutput: lg,
                           input: mlmOut.pointer, weight: word.value.pointer, rows: M, inFeatures: C, outFeatures: V)
            let dAct = dMLMAct.reserve(M * C)
            mlmLayerNorm.backward(dOut, input: mlmAct.pointer, mean: mlmMean.pointer, rstd: mlmRstd.pointer,
                                  dInput: dAct, rows: M)
            geluBackward(dInput: dAct, dOutput: dAct, input: mlmPre.pointer, count: M * C)
            let dIn = dHeadIn.reserve(M * C)
            mlmDense.backward(dAct, input: mlmInput.pointer, dInput: dIn, rows: M)
            for (i, row) in mlmRows.enumerated() { accumulate(dx + row * C, dIn + i * C, count: C) }
        }

        let R = mrmRows.count
        if R > 0 {
            let dOut = dMRM.reserve(R * D)
            mseBackward(dPrediction: dOut, prediction: mrmOutput.pointer, target: mrmTarget.pointer, rowMask: nil,
                        rows: R, width: D, dLoss: weights.mrm)
            let dIn = dHeadIn.reserve(R * C)
            mrm.backward(dOut, input: mrmInput.pointer, dInput: dIn, rows: R)
            for (i, r) in mrmRows.enumerated() {
                accumulate(dx + ((r / N) * S + L + r % N) * C, dIn + i * C, count: C)
            }
        }

        // Fine-tuning: the robust loss on e = normalize(fuse([x[CLS]; x[global]])).
        if let robust, !robust.pairs.isEmpty {
            let F = config.fusedDim
            let de = dFused.reserve(B * F), deRaw = dFusedRaw.reserve(B * F), dIn = dFuseInput.reserve(B * 2 * C)
            de.update(repeating: 0, count: B * F)
            robustContrastiveBackward(dEmbeddings: de, embeddings: fused.pointer, rows: B, width: F, pairs: robust.pairs,
                                      positiveMargin: robust.objective.positiveMargin,
                                      negativeMargin: robust.objective.negativeMargin)
            l2NormalizeBackward(dInput: deRaw, dOutput: de, output: fused.pointer, norms: fusedNorms.pointer,
                                rows: B, width: F)
            fuse.backward(deRaw, input: fuseInput.pointer, dInput: dIn, rows: B)
            for b in 0..<B {
                accumulate(dx + b * S * C, dIn + b * 2 * C, count: C)
                accumulate(dx + (b * S + L) * C, dIn + b * 2 * C + C, count: C)
            }
        }

        // Cross stream, then split into the two streams and the modality embeddings.
        var d = UnsafePointer(dx)
        for layer in crossLayers.reversed() {
            guard let dIn = layer.backward(d).dInput else { preconditionFailure("cross layer returned no gradient") }
            d = dIn
        }
        var dt = dText.reserve(B * L * C)
        var dv = dImage.reserve(B * N * C)
        for b in 0..<B {
            (dt + b * L * C).update(from: d + b * S * C, count: L * C)
            (dv + b * N * C).update(from: d + (b * S + L) * C, count: N * C)
        }
        if modalityEmbeddings.isTrainable {
            let g = modalityEmbeddings.grad.pointer
            columnSums(into: g, dt, rows: B * L, columns: C)
            columnSums(into: g + C, dv, rows: B * N, columns: C)
        }
        for layer in coLayers.reversed() {
            guard let grads = layer.backward(dText: dt, dImage: dv) else {
                preconditionFailure("co-attention layer returned no gradient")
            }
            dt = dText.reserve(B * L * C); dv = dImage.reserve(B * N * C)
            dt.update(from: grads.dText, count: B * L * C)
            dv.update(from: grads.dImage, count: B * N * C)
        }

        // CLR: NT-Xent, normalisation, projections, into t[CLS] and v[global].
        let dz = dCLR.reserve(2 * B * Z), dRaw = dCLRRaw.reserve(2 * B * Z)
        ntXentBackward(dEmbeddings: dz, scratch: clrScratch.reserve(4 * B * B), probabilities: clrProbabilities.pointer,
                       embeddings: clrVectors.pointer, pairs: B, width: Z, temperature: 0.07, dLoss: weights.clr)
        l2NormalizeBackward(dInput: dRaw, dOutput: dz, output: clrVectors.pointer, norms: clrNorms.pointer,
                            rows: 2 * B, width: Z)
        let dp = dProjected.reserve(2 * B * C)
        clrText.backward(dRaw, input: textCLS.pointer, dInput: dp, rows: B)
        clrImage.backward(dRaw + B * Z, input: imageGlobal.pointer, dInput: dp + B * C, rows: B)
        for b in 0..<B {
            accumulate(dt + b * L * C, dp + b * C, count: C)
            accumulate(dv + b * N * C, dp + (B + b) * C, count: C)
        }

        image.backward(dv)
        text.backward(dt)
    }

    /// `forward` then `backward`: the losses of a masked batch, with every trainable
    /// parameter's gradient of their sum accumulated.
    @discardableResult
    public func forwardBackward(_ batch: MaskedPretrainingBatch, mode: ForwardMode) -> PretrainingLosses {
        let losses = forward(batch, mode: mode)
        backward()
        return losses
    }
}
