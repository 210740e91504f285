import Tensor

/// A batch of caption-image pairs for pretraining, before masking.
public struct PretrainingBatch: Sendable {
    /// The captions, `[CLS] ... [SEP]` then padding (real tokens first in each row).
    public let tokens: TokenBatch
    /// The backbone's cell features, `[batch, cells, regionFeatureDim]`, cells in
    /// row-major order (each image's `EfficientNetLite0.cellMajor` output); no global token.
    public let cellFeatures: [Float]

    public init(tokens: TokenBatch, cellFeatures: [Float]) {
        self.tokens = tokens; self.cellFeatures = cellFeatures
    }
}

/// The special token ids and probabilities of MLM and MRM masking (docs/model.md §5.1, "Pretraining").
public struct PretrainingMasking: Sendable, Equatable, Codable {
    public var padID: Int32
    public var classID: Int32
    public var separatorID: Int32
    public var maskID: Int32
    /// Fraction of (non-special) text tokens chosen for MLM: 0.15.
    public var textProbability: Float = 0.15
    /// Fraction of image cells chosen for MRM: 0.15 (the global token is never chosen).
    public var regionProbability: Float = 0.15

    public init(padID: Int32, classID: Int32, separatorID: Int32, maskID: Int32,
                textProbability: Float = 0.15, regionProbability: Float = 0.15) {
        self.padID = padID; self.classID = classID; self.separatorID = separatorID; self.maskID = maskID
        self.textProbability = textProbability; self.regionProbability = regionProbability
    }

    /// BERT's uncased vocabulary (MiniLM's): [PAD] 0, [CLS] 101, [SEP] 102, [MASK] 103.
    public static let bert = PretrainingMasking(padID: 0, classID: 101, separatorID: 102, maskID: 103)

    /// The ids of `tokenizer`.
    public init(_ tokenizer: WordPieceTokenizer) {
        self.init(padID: Int32(tokenizer.padID), classID: Int32(tokenizer.classID),
                  separatorID: Int32(tokenizer.separatorID), maskID: Int32(tokenizer.maskID))
    }

    /// Masks a batch (docs/model.md §5.1): each non-special real text token is chosen with
    /// probability `textProbability`; a chosen token becomes `[MASK]` (80 %), a
    /// uniformly random token (10 %) or stays (10 %), and is an MLM target. Each cell is
    /// chosen with probability `regionProbability`; a chosen cell's input feature is set
    /// to zero (90 %) or left (10 %), and it is an MRM target. The global token is the
    /// mean of the cells after masking, so it does not leak the masked features.
    public func mask(_ batch: PretrainingBatch, config: CaptureConfig,
                     rng: inout SeededRNG) -> MaskedPretrainingBatch {
        let B = batch.tokens.batch, L = batch.tokens.length
        let D = config.regionFeatureDim, N = config.imageTokens, cells = N - 1
        precondition(batch.cellFeatures.count == B * cells * D,
                     "PretrainingMasking.mask: \(batch.cellFeatures.count) cell floats, expected \(B) x \(cells) x \(D)")
        var ids = batch.tokens.ids
        var targets = [Int32](repeating: -100, count: B * L)
        for r in 0..<(B * L) where batch.tokens.mask[r] != 0 {
            let id = ids[r]
            if id == classID || id == separatorID || id == padID { continue }
            guard rng.uniform() < textProbability else { continue }
            targets[r] = id
            let u = rng.uniform()
            if u < 0.8 { ids[r] = maskID } else if u < 0.9 { ids[r] = Int32(rng.below(config.vocabSize)) }
        }
        var regionMask = [Float](repeating: 0, count: B * N)
        var maskedCells = batch.cellFeatures
        for b in 0..<B {
            for cell in 0..<cells where rng.uniform() < regionProbability {
                regionMask[b * N + 1 + cell] = 1
                if rng.uniform() < 0.9 {
                    let start = (b * cells + cell) * D
                    for i in start..<(start + D) { maskedCells[i] = 0 }
                }
            }
        }
        let sequences = (0..<B).map { b in
            (0..<L).filter { batch.tokens.mask[b * L + $0] != 0 }.map { Int(ids[b * L + $0]) }
        }
        let tokens = TokenBatch(sequences: sequences, length: L, padID: Int(padID))
        return MaskedPretrainingBatch(tokens: tokens, mlmTargets: targets,
                                      imageInput: Self.tokenFeatures(maskedCells, batch: B, config: config),
                                      regionTargets: Self.tokenFeatures(batch.cellFeatures, batch: B, config: config),
                                      regionMask: regionMask)
    }

    /// `[batch, imageTokens, D]` token features (global mean first) from `[batch, cells, D]`.
    static func tokenFeatures(_ cells: [Float], batch: Int, config: CaptureConfig) -> [Float] {
        let D = config.regionFeatureDim, per = (config.imageTokens - 1) * D
        var out: [Float] = []
        out.reserveCapacity(batch * config.imageTokens * D)
        for b in 0..<batch {
            out += ImageTokens.features(cellMajor: Array(cells[(b * per)..<((b + 1) * per)]), width: D)
        }
        return out
    }
}

/// A masked pretraining batch: the model's inputs and the MLM and MRM targets.
public struct MaskedPretrainingBatch: Sendable {
    /// The captions after MLM masking.
    public let tokens: TokenBatch
    /// `[batch * length]`: the original id at MLM positions, -100 elsewhere.
    public let mlmTargets: [Int32]
    /// `[batch, imageTokens, regionFeatureDim]`: the image tokens' input features after MRM masking.
    public let imageInput: [Float]
    /// `[batch, imageTokens, regionFeatureDim]`: the original features (MRM targets).
    public let regionTargets: [Float]
    /// `[batch * imageTokens]`: 1 where the token is an MRM target (never the global token).
    public let regionMask: [Float]

    public init(tokens: TokenBatch, mlmTargets: [Int32], imageInput: [Float], regionTargets: [Float],
                regionMask: [Float]) {
        precondition(mlmTargets.count == tokens.batch * tokens.length,
                     "MaskedPretrainingBatch: \(mlmTargets.count) MLM targets for \(tokens.batch) x \(tokens.length) tokens")
        precondition(imageInput.count == regionTargets.count,
                     "MaskedPretrainingBatch: image inputs and targets differ in size")
        self.tokens = tokens; self.mlmTargets = mlmTargets; self.imageInput = imageInput
        self.regionTargets = regionTargets; self.regionMask = regionMask
    }

    public var batch: Int { tokens.batch }
}

/// The three pretraining losses of one batch (docs/model.md §5.1, "Pretraining"), summed with weight 1.
public struct PretrainingLosses: Sendable, Equatable {
    public var mlm: Float
    public var mrm: Float
    public var clr: Float
    public var total: Float { mlm + mrm + clr }

    public init(mlm: Float, mrm: Float, clr: Float) { self.mlm = mlm; self.mrm = mrm; self.clr = clr }
}

/// The fine-tuning objective of docs/model.md §5.2: `L = L_robust + clrWeight * L_CLR + mlmWeight * L_MLM`,
/// with `L_robust = y max(0, d - positiveMargin)² + (1 - y) max(0, negativeMargin - d)²` over
/// labelled pairs of fused embeddings (`d` their Euclidean distance, in [0, 2] for unit vectors).
/// The margins and weights are configuration, chosen on the dev split.
public struct FineTuningObjective: Sendable, Equatable, Codable {
    public var positiveMargin: Float
    public var negativeMargin: Float
    public var clrWeight: Float
    public var mlmWeight: Float

    public init(positiveMargin: Float, negativeMargin: Float, clrWeight: Float, mlmWeight: Float) {
        precondition(positiveMargin >= 0 && negativeMargin > positiveMargin,
                     "FineTuningObjective: need 0 <= positiveMargin (\(positiveMargin)) < negativeMargin (\(negativeMargin))")
        self.positiveMargin = positiveMargin; self.negativeMargin = negativeMargin
        self.clrWeight = clrWeight; self.mlmWeight = mlmWeight
    }
}

/// The losses of one fine-tuning batch and their weighted total.
public struct FineTuningLosses: Sendable, Equatable {
    public var robust: Float
    public var clr: Float
    public var mlm: Float
    public var total: Float

    public init(robust: Float, clr: Float, mlm: Float, objective: FineTuningObjective) {
        self.robust = robust; self.clr = clr; self.mlm = mlm
        total = robust + objective.clrWeight * clr + objective.mlmWeight * mlm
    }
}
