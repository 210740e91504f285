/// The model's shape: layer counts and widths (docs/model.md §1, "Overview").
/// Stored in every checkpoint's metadata; the defaults are what ships, small
/// configurations are used by tests.
public struct CaptureConfig: Sendable, Codable, Equatable {
    public var hidden = 384
    public var heads = 12
    public var intermediate = 1536
    public var vocabSize = 30_522
    public var maxPositions = 512
    public var typeVocabSize = 2
    public var textLayers = 6
    public var imageLayers = 2
    public var coLayers = 2
    public var crossLayers = 2
    public var clrDim = 256
    public var fusedDim = 256
    /// Channels of the backbone's block-15 output (EfficientNet-Lite0).
    public var regionFeatureDim = 320
    /// Box features: (x1, y1, x2, y2, area).
    public var boxDim = 5
    /// 1 global token + 7 x 7 cells.
    public var imageTokens = 50
    /// CAPTURE's text length, [CLS] and [SEP] included.
    public var maxTextLength = 36
    public var layerNormEps: Float = 1e-12

    public init() {}

    /// What ships: MiniLM-L6 text tower, EfficientNet-Lite0 image features.
    public static let `default` = CaptureConfig()

    public var headDim: Int { hidden / heads }
}
