import Capture
import Tensor

/// Small configurations and data for the CaptureModel, pretraining and checkpoint tests.
enum TinyCapture {
    /// Width 16, 2 heads, one layer per stream, vocabulary 50, a 2 x 2 cell grid (5 image tokens).
    static func config(hidden: Int = 16, heads: Int = 2, intermediate: Int = 32) -> CaptureConfig {
        var c = CaptureConfig()
        c.hidden = hidden; c.heads = heads; c.intermediate = intermediate
        c.vocabSize = 50; c.maxPositions = 16; c.typeVocabSize = 2
        c.textLayers = 1; c.imageLayers = 1; c.coLayers = 1; c.crossLayers = 1
        c.clrDim = 8; c.fusedDim = 8; c.regionFeatureDim = 12; c.imageTokens = 5; c.maxTextLength = 8
        return c
    }

    /// [PAD] 0, [CLS] 1, [SEP] 2, [MASK] 3; ordinary words from 4.
    static let masking = PretrainingMasking(padID: 0, classID: 1, separatorID: 2, maskID: 3)

    static func normals(_ count: Int, std: Float, rng: inout SeededRNG) -> [Float] {
        (0..<count).map { _ in rng.normal() * std }
    }
}
