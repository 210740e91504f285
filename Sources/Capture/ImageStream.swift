import Tensor

// MARK: - Image tokens

/// The image tokens of docs/model.md §3.3 ("Image tokens"): a global token (the mean of the grid's
/// cells) followed by the cells in row-major order, each with its box
/// `(x1, y1, x2, y2, area)` in [0, 1] of the letterboxed image.
public enum ImageTokens {
    /// The side of the cell grid for a configuration: `imageTokens = side² + 1`
    /// (7 for the default 50 tokens). A configuration that does not fit is a bug.
    public static func gridSide(_ config: CaptureConfig) -> Int {
        let cells = config.imageTokens - 1
        var side = 1
        while side * side < cells { side += 1 }
        precondition(cells >= 1 && side * side == cells,
                     "CaptureConfig.imageTokens (\(config.imageTokens)) must be 1 + a square number of cells")
        return side
    }

    /// The boxes of the `side² + 1` tokens, `[tokens, 5]`: the global token's is
    /// `(0, 0, 1, 1, 1)`, cell `(r, c)`'s is `(c/side, r/side, (c+1)/side, (r+1)/side, 1/side²)`.
    public static func boxes(gridSide side: Int) -> [Float] {
        var out: [Float] = [0, 0, 1, 1, 1]
        let s = Float(side)
        for r in 0..<side {
            for c in 0..<side {
                out += [Float(c) / s, Float(r) / s, Float(c + 1) / s, Float(r + 1) / s, 1 / (s * s)]
            }
        }
        return out
    }

    /// The token features `[cells + 1, width]` from cell-major features `[cells, width]`
    /// (row-major cells, as `EfficientNetLite0.cellMajor` gives): the mean of the cells first.
    public static func features(cellMajor cells: [Float], width: Int) -> [Float] {
        precondition(width > 0 && cells.count % width == 0 && !cells.isEmpty,
                     "ImageTokens.features: \(cells.count) floats is not a whole number of \(width)-wide cells")
        let count = cells.count / width
        var out = [Float](repeating: 0, count: cells.count + width)
        cells.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let d = dst.baseAddress!, s = src.baseAddress!
                (d + width).update(from: s, count: cells.count)
                for cell in 0..<count { accumulate(d, s + cell * width, count: width) }
                scale(d, by: 1 / Float(count), count: width)
            }
        }
        return out
    }

    /// The token features from the backbone's channel-major block-15 map
    /// `[channels][row][col]` (`channels * cells` floats).
    public static func features(channelMajor map: [Float], channels: Int) -> [Float] {
        precondition(channels > 0 && map.count % channels == 0,
                     "ImageTokens.features: \(map.count) floats is not \(channels) whole channels")
        let cells = map.count / channels
        var cellMajor = [Float](repeating: 0, count: map.count)
        for ch in 0..<channels {
            for cell in 0..<cells { cellMajor[cell * channels + ch] = map[ch * cells + cell] }
        }
        return features(cellMajor: cellMajor, width: channels)
    }
}

// MARK: - Image stream

/// The image stream (docs/model.md §4.3, "Image stream"):
/// `v0 = LayerNorm(feat_proj(f) + box_proj(box))` (then dropout in training), followed
/// by `imageLayers` BERT layers. Names: `image.feat_proj`, `image.box_proj`,
/// `image.LayerNorm`, `image.encoder.layer.N.` + BERT's layer sub-names.
public final class ImageStream: @unchecked Sendable {
    public let config: CaptureConfig
    public let featureProjection: LinearLayer
    public let boxProjection: LinearLayer
    public let layerNorm: LayerNormLayer
    public let layers: [BertLayer]
    /// The boxes of the tokens, `[tokens, boxDim]` (the same for every image).
    public let boxes: [Float]

    private var batch = 0
    private var features: UnsafePointer<Float>?
    private var boxBatch = Workspace(), projected = Workspace(), boxProjected = Workspace()
    private var normalized = Workspace(), mean = Workspace(), rstd = Workspace(), dropMask = Workspace()
    private var dSum = Workspace(), dDropped = Workspace()
    private var hiddenDropout: Float = 0

    public init(config: CaptureConfig, rng: inout SeededRNG) {
        self.config = config
        let C = config.hidden
        featureProjection = LinearLayer(name: "image.feat_proj", inFeatures: config.regionFeatureDim, outFeatures: C,
                                        rng: &rng)
        boxProjection = LinearLayer(name: "image.box_proj", inFeatures: config.boxDim, outFeatures: C, rng: &rng)
        layerNorm = LayerNormLayer(name: "image.LayerNorm", width: C, eps: config.layerNormEps)
        let dims = BertDimensions(config)
        layers = (0..<config.imageLayers).map { BertLayer(prefix: "image.encoder.layer.\($0).", dims: dims, rng: &rng) }
        let side = ImageTokens.gridSide(config)
        precondition(config.boxDim == 5, "ImageStream: boxes are (x1, y1, x2, y2, area); boxDim must be 5")
        boxes = ImageTokens.boxes(gridSide: side)
    }

    public var parameters: [Parameter] {
        featureProjection.parameters + boxProjection.parameters + layerNorm.parameters + layers.flatMap(\.parameters)
    }

    /// Runs the stream over token features `[batch, imageTokens, regionFeatureDim]`
    /// (kept alive by the caller until `backward`). Returns `[batch, imageTokens, hidden]`, owned.
    public func forward(features: UnsafePointer<Float>, batch: Int, mode: ForwardMode) -> UnsafePointer<Float> {
        self.batch = batch; self.features = features
        let N = config.imageTokens, C = config.hidden, rows = batch * N
        let boxRows = boxBatch.reserve(rows * config.boxDim)
        boxes.withUnsafeBufferPointer { b in
            for i in 0..<batch { (boxRows + i * N * config.boxDim).update(from: b.baseAddress!, count: b.count) }
        }
        let p = projected.reserve(rows * C), bp = boxProjected.reserve(rows * C)
        featureProjection.forward(features, into: p, rows: rows)
        boxProjection.forward(boxRows, into: bp, rows: rows)
        residualForward(output: p, p, bp, count: rows * C)
        let out = normalized.reserve(rows * C)
        layerNorm.forward(p, into: out, mean: mean.reserve(rows), rstd: rstd.reserve(rows), rows: rows)
        hiddenDropout = mode.dropout?.hidden ?? 0
        if let dropout = mode.dropout, hiddenDropout > 0 {
            var rng = SeededRNG(seed: dropout.seed ^ stableHash("image.embeddings"))
            let m = dropMask.reserve(rows * C)
            dropoutMaskFill(m, count: rows * C, probability: hiddenDropout, rng: &rng)
            dropoutForward(output: out, input: out, mask: m, count: rows * C)
        }
        var x = UnsafePointer(out)
        for layer in layers { x = layer.forward(x, keyMask: nil, batch: batch, length: N, mode: mode) }
        return x
    }

    /// Backward pass from the gradient of the last layer's output; accumulates the
    /// gradients of every trainable parameter (the backbone features get none: it is frozen).
    public func backward(_ dOutput: UnsafePointer<Float>) {
        guard let features else { preconditionFailure("ImageStream.backward called before forward") }
        let N = config.imageTokens, C = config.hidden, rows = batch * N
        var d = dOutput
        for layer in layers.reversed() {
            guard let dIn = layer.backward(d).dInput else { preconditionFailure("image layer returned no gradient") }
            d = dIn
        }
        if hiddenDropout > 0 {
            let dd = dDropped.reserve(rows * C)
            dropoutBackward(dInput: dd, dOutput: d, mask: dropMask.pointer, count: rows * C)
            d = UnsafePointer(dd)
        }
        let ds = dSum.reserve(rows * C)
        layerNorm.backward(d, input: projected.pointer, mean: mean.pointer, rstd: rstd.pointer, dInput: ds, rows: rows)
        featureProjection.backward(ds, input: features, dInput: nil, rows: rows)
        boxProjection.backward(ds, input: boxBatch.pointer, dInput: nil, rows: rows)
    }
}
