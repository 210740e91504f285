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
    /// The pretrained tower the text stream is (or started as): it decides the tokenizer, and
    /// the weights a checkpoint's frozen text tensors come from. Checkpoints written before
    /// there was a choice have none in their configuration and are MiniLM's.
    public var textTower: TextTower = .miniLM

    public init() {}

    /// The MiniLM-L6 configuration (6 text layers, BERT's 30,522 WordPiece ids, 36 tokens) with
    /// EfficientNet-Lite0 image features: the sizes the model's tests and benchmarks use. New
    /// models take `TextTower.standard.configuration(in:)` (e5).
    public static let `default` = CaptureConfig()

    public var headDim: Int { hidden / heads }

    /// The most parameters a configuration may ask for (the default has 37.6 million): a
    /// checkpoint's configuration is data, and it must not make Vitrine allocate without bound.
    public static let maxParameters = 400_000_000

    /// What is wrong with this configuration, or nil when every value is in its range and the
    /// values agree with each other (docs/model.md §8). Every number read from a checkpoint is
    /// checked here before it sizes anything.
    public var problem: String? {
        func outside(_ name: String, _ value: Int, _ range: ClosedRange<Int>) -> String? {
            range.contains(value) ? nil : "\(name) is \(value), outside \(range.lowerBound)...\(range.upperBound)"
        }
        let ranges: [(String, Int, ClosedRange<Int>)] = [
            ("hidden", hidden, 1 ... 4096), ("heads", heads, 1 ... 64), ("intermediate", intermediate, 1 ... 16384),
            ("vocabSize", vocabSize, 8 ... 1_000_000), ("maxPositions", maxPositions, 3 ... 8192),
            ("typeVocabSize", typeVocabSize, 1 ... 16), ("textLayers", textLayers, 1 ... 48),
            ("imageLayers", imageLayers, 1 ... 48), ("coLayers", coLayers, 1 ... 48), ("crossLayers", crossLayers, 1 ... 48),
            ("clrDim", clrDim, 1 ... 4096), ("fusedDim", fusedDim, 1 ... 4096),
            ("regionFeatureDim", regionFeatureDim, 1 ... 4096), ("boxDim", boxDim, 5 ... 5),
            ("imageTokens", imageTokens, 2 ... 1025), ("maxTextLength", maxTextLength, 3 ... 8192),
        ]
        for (name, value, range) in ranges {
            if let message = outside(name, value, range) { return message }
        }
        guard hidden % heads == 0 else { return "hidden (\(hidden)) is not a multiple of heads (\(heads))" }
        let cells = imageTokens - 1, side = Int(Double(cells).squareRoot().rounded())
        guard side * side == cells else { return "imageTokens (\(imageTokens)) is not 1 + a square number of cells" }
        guard maxTextLength <= maxPositions else {
            return "maxTextLength (\(maxTextLength)) is above maxPositions (\(maxPositions))"
        }
        guard layerNormEps.isFinite, layerNormEps > 0, layerNormEps < 1 else { return "layerNormEps is \(layerNormEps), outside (0, 1)" }
        guard estimatedParameters <= Self.maxParameters else {
            return "it describes about \(estimatedParameters / 1_000_000) million parameters, above the \(Self.maxParameters / 1_000_000) million Vitrine loads"
        }
        return nil
    }

    /// About how many parameters the model has (within a few percent): what sizes its memory.
    /// Only meaningful once each value is within its range (no overflow then).
    public var estimatedParameters: Int {
        let h = hidden, layer = 4 * h * h + 2 * h * intermediate
        let embeddings = (vocabSize + maxPositions + typeVocabSize) * h
        let image = (regionFeatureDim + boxDim) * h + imageLayers * layer
        let co = coLayers * 2 * (layer + 4 * h * h)
        let cross = crossLayers * layer
        let heads = 2 * h * clrDim + 3 * h * fusedDim + vocabSize * h + h * regionFeatureDim
        return embeddings + textLayers * layer + image + co + cross + heads
    }
}

extension CaptureConfig {
    private enum CodingKeys: String, CodingKey {
        case hidden, heads, intermediate, vocabSize, maxPositions, typeVocabSize, textLayers, imageLayers, coLayers
        case crossLayers, clrDim, fusedDim, regionFeatureDim, boxDim, imageTokens, maxTextLength, layerNormEps, textTower
    }

    /// Every field is required except `textTower` (MiniLM when absent: the checkpoints written
    /// before the e5 tower).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hidden = try c.decode(Int.self, forKey: .hidden)
        heads = try c.decode(Int.self, forKey: .heads)
        intermediate = try c.decode(Int.self, forKey: .intermediate)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        maxPositions = try c.decode(Int.self, forKey: .maxPositions)
        typeVocabSize = try c.decode(Int.self, forKey: .typeVocabSize)
        textLayers = try c.decode(Int.self, forKey: .textLayers)
        imageLayers = try c.decode(Int.self, forKey: .imageLayers)
        coLayers = try c.decode(Int.self, forKey: .coLayers)
        crossLayers = try c.decode(Int.self, forKey: .crossLayers)
        clrDim = try c.decode(Int.self, forKey: .clrDim)
        fusedDim = try c.decode(Int.self, forKey: .fusedDim)
        regionFeatureDim = try c.decode(Int.self, forKey: .regionFeatureDim)
        boxDim = try c.decode(Int.self, forKey: .boxDim)
        imageTokens = try c.decode(Int.self, forKey: .imageTokens)
        maxTextLength = try c.decode(Int.self, forKey: .maxTextLength)
        layerNormEps = try c.decode(Float.self, forKey: .layerNormEps)
        textTower = try c.decodeIfPresent(TextTower.self, forKey: .textTower) ?? .miniLM
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hidden, forKey: .hidden); try c.encode(heads, forKey: .heads)
        try c.encode(intermediate, forKey: .intermediate); try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(maxPositions, forKey: .maxPositions); try c.encode(typeVocabSize, forKey: .typeVocabSize)
        try c.encode(textLayers, forKey: .textLayers); try c.encode(imageLayers, forKey: .imageLayers)
        try c.encode(coLayers, forKey: .coLayers); try c.encode(crossLayers, forKey: .crossLayers)
        try c.encode(clrDim, forKey: .clrDim); try c.encode(fusedDim, forKey: .fusedDim)
        try c.encode(regionFeatureDim, forKey: .regionFeatureDim); try c.encode(boxDim, forKey: .boxDim)
        try c.encode(imageTokens, forKey: .imageTokens); try c.encode(maxTextLength, forKey: .maxTextLength)
        try c.encode(layerNormEps, forKey: .layerNormEps); try c.encode(textTower, forKey: .textTower)
    }
}
