import Tensor

/// Where one caption's tokens look in one image (docs/model.md §7, "Attention summary of a match"),
/// read from the attention probabilities of a forward pass over the pair.
public struct TextImageAttention: Sendable, Equatable {
    /// The caption's token strings, `[CLS]` and `[SEP]` included (no padding).
    public var tokens: [String]
    /// Per token: the share of its attention that goes to the image's tokens (global token and
    /// cells) in the cross stream, averaged over heads and cross layers; in [0, 1].
    public var imageMass: [Float]
    /// Per token: `side * side` values, row-major over the image's cells: the attention the token
    /// gives each cell, averaged over heads and over the co-attention layers (text side) and the
    /// cross layers. Not normalised.
    public var cellAttention: [[Float]]
    /// The side of the cell grid (7).
    public var side: Int
}

extension CaptureModel {
    /// Runs the model on one (caption, image) pair in inference mode and reads where the caption's
    /// tokens attend in the image.
    ///
    /// - Co-attention layers: the text side's queries attend only to the image's 1 + side² tokens,
    ///   so each token's row sums to 1 there; its probabilities on the cells give the cell map.
    /// - Cross layers: each text token attends to text and image tokens together; the probability
    ///   it puts on the image tokens is its text-to-image mass, and its probabilities on the cells
    ///   add to the cell map.
    ///
    /// Maps are the mean over heads and over all these layers; the mass is the mean over heads and
    /// cross layers (the co-attention layers give every token a mass of exactly 1, which would only
    /// dilute the comparison). A model without cross layers reports a mass of 1 for every token.
    ///
    /// - Parameters:
    ///   - tokens: one tokenised caption (batch 1).
    ///   - tokenStrings: the caption's token strings, `tokens.length` or fewer (the real tokens).
    ///   - imageFeatures: `[imageTokens, regionFeatureDim]` token features (`ImageTokens.features`).
    /// Not reentrant (the model keeps one forward pass's state).
    public func textImageAttention(tokens: TokenBatch, tokenStrings: [String], imageFeatures: [Float]) -> TextImageAttention {
        precondition(tokens.batch == 1, "textImageAttention: one caption at a time, got \(tokens.batch)")
        let side = ImageTokens.gridSide(config)
        let cells = side * side
        let N = config.imageTokens, L = tokens.length
        let real = min(tokenStrings.count, tokens.mask.prefix(L).filter { $0 != 0 }.count)
        _ = embed(tokens: tokens, imageFeatures: imageFeatures)  // the forward pass whose probabilities are read

        var maps = [[Float]](repeating: [Float](repeating: 0, count: cells), count: real)
        var mass = [Float](repeating: 0, count: real)
        var mapLayers = 0
        for layer in coLayers {
            let attention = layer.text.attention
            let shape = attention.lastShape
            precondition(shape.batch == 1 && shape.queryLength == L && shape.keyLength == N,
                         "textImageAttention: unexpected co-attention shape \(shape)")
            addCellAttention(attention.probabilities, heads: shape.heads, queryLength: L, keyLength: N,
                             firstCellKey: 1, cells: cells, rows: real, into: &maps)
            mapLayers += 1
        }
        for layer in crossLayers {
            let attention = layer.attention
            let shape = attention.lastShape
            let S = L + N
            precondition(shape.batch == 1 && shape.queryLength == S && shape.keyLength == S,
                         "textImageAttention: unexpected cross-stream shape \(shape)")
            addCellAttention(attention.probabilities, heads: shape.heads, queryLength: S, keyLength: S,
                             firstCellKey: L + 1, cells: cells, rows: real, into: &maps)
            let p = attention.probabilities
            for h in 0..<shape.heads {
                for t in 0..<real {
                    let row = p + (h * S + t) * S + L
                    var sum: Float = 0
                    for j in 0..<N { sum += row[j] }
                    mass[t] += sum / Float(shape.heads)
                }
            }
            mapLayers += 1
        }
        if crossLayers.isEmpty {
            mass = [Float](repeating: 1, count: real)
        } else {
            for t in 0..<real { mass[t] /= Float(crossLayers.count) }
        }
        if mapLayers > 0 {
            let scale = 1 / Float(mapLayers)
            for t in 0..<real { for c in 0..<cells { maps[t][c] *= scale } }
        }
        return TextImageAttention(tokens: Array(tokenStrings.prefix(real)), imageMass: mass, cellAttention: maps, side: side)
    }
}

/// Adds, for each of the first `rows` query positions, the probabilities on keys
/// `firstCellKey ..< firstCellKey + cells` averaged over heads, to `maps[row]`.
private func addCellAttention(_ probabilities: UnsafePointer<Float>, heads: Int, queryLength: Int, keyLength: Int,
                              firstCellKey: Int, cells: Int, rows: Int, into maps: inout [[Float]]) {
    let scale = 1 / Float(heads)
    for t in 0..<rows {
        maps[t].withUnsafeMutableBufferPointer { out in
            for h in 0..<heads {
                let row = probabilities + (h * queryLength + t) * keyLength + firstCellKey
                for c in 0..<cells { out[c] += row[c] * scale }
            }
        }
    }
}
