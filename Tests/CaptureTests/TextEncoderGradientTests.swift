import Capture
import Foundation
import Tensor
import Testing

/// End-to-end finite-difference checks of the BERT blocks on a tiny configuration
/// (2 layers, width 16, 2 heads, FFN 32), against every parameter and input.
///
/// Each check reduces the output to `L = Σ w_i y_i` (fixed random `w`, summed in
/// Double), perturbs each element by ±1e-2 in float32 and compares the central
/// difference with the analytic gradient. Error per element:
/// |analytic − numeric| / max(|analytic|, |numeric|, floor), with floor the larger of
/// 1e-2 · max|analytic| over that tensor and 5e-3 · max|analytic| over all of them:
/// some gradients are exactly zero in theory (the key bias's: softmax ignores a
/// constant added to every score of a row), and there only float32 rounding noise,
/// amplified through the layers, is left to compare.
@Suite struct TextEncoderGradientTests {
    static var tinyConfig: CaptureConfig {
        var c = CaptureConfig()
        c.hidden = 16; c.heads = 2; c.intermediate = 32
        c.vocabSize = 23; c.maxPositions = 8; c.typeVocabSize = 2; c.textLayers = 2
        return c
    }

    struct Worst: CustomStringConvertible {
        var error: Double = 0, name = "", index = -1, analytic: Double = 0, numeric: Double = 0
        var description: String { "worst relative error \(error) at \(name)[\(index)] (analytic \(analytic), numeric \(numeric))" }
    }

    /// Checks `analytic` gradients of `values` against finite differences of `loss`.
    static func check(_ items: [(name: String, values: FloatBuffer, analytic: [Float])], eps: Float = 1e-2,
                      loss: () -> Double) -> Worst {
        var worst = Worst()
        let globalScale = Double(items.flatMap { $0.analytic.map(abs) }.max() ?? 0)
        for item in items {
            let floor = max(1e-2 * Double(item.analytic.map(abs).max() ?? 0), 5e-3 * globalScale) + 1e-6
            let x = item.values.pointer
            for i in 0..<item.values.count {
                let original = x[i]
                let up = original + eps, down = original - eps
                x[i] = up; let lUp = loss()
                x[i] = down; let lDown = loss()
                x[i] = original
                let numeric = (lUp - lDown) / (Double(up) - Double(down))
                let analytic = Double(item.analytic[i])
                let error = abs(analytic - numeric) / max(abs(analytic), abs(numeric), floor)
                if error > worst.error || worst.index < 0 {
                    worst = Worst(error: error, name: item.name, index: i, analytic: analytic, numeric: numeric)
                }
            }
        }
        return worst
    }

    /// BERT's initialisation (std 0.02) leaves attention almost uniform, so the query and
    /// key gradients would be too small for float32 differences to resolve. Larger weights
    /// (std 0.3), and LayerNorm parameters and biases away from 1 and 0, exercise every path.
    static func makeSignificant(_ parameters: [Parameter], seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        for p in parameters {
            if p.shape.count == 2 {
                p.initializeNormal(std: 0.3, rng: &rng)
            } else {
                for i in 0..<p.count { p.value[i] += 0.1 * rng.normal() }
            }
        }
    }

    static func weights(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in rng.normal() }
    }

    static func weightedSum(_ y: UnsafePointer<Float>, _ w: [Float]) -> Double {
        var s: Double = 0
        for i in 0..<w.count { s += Double(y[i]) * Double(w[i]) }
        return s
    }

    /// The whole text encoder (embeddings, 2 layers, padding), in inference and in training
    /// mode (dropout masks are seeded, so every forward of the check draws the same ones).
    @Test(arguments: [false, true])
    func textEncoder(dropout: Bool) {
        let config = Self.tinyConfig
        let encoder = TextEncoder(config: config, seed: 3)
        Self.makeSignificant(encoder.parameters.parameters, seed: 30)
        let tokens = TokenBatch(sequences: [[1, 5, 7, 9, 2], [1, 4, 2]], length: 5)
        let mode: ForwardMode = dropout ? .training(TrainingDropout(hidden: 0.2, attention: 0.2, seed: 99)) : .inference
        let rows = tokens.batch * tokens.length * config.hidden
        let w = Self.weights(rows, seed: 31)
        tokens.ids.withUnsafeBufferPointer { ids in
            tokens.mask.withUnsafeBufferPointer { mask in
                func loss() -> Double {
                    Self.weightedSum(encoder.forward(ids: ids.baseAddress!, mask: mask.baseAddress!, batch: tokens.batch,
                                                     length: tokens.length, mode: mode), w)
                }
                _ = loss()
                encoder.parameters.zeroGradients()
                w.withUnsafeBufferPointer { encoder.backward($0.baseAddress!) }
                let items = encoder.parameters.map { (name: $0.name, values: $0.value, analytic: $0.grad.array) }
                let worst = Self.check(items, loss: loss)
                print("gradient check text encoder (dropout \(dropout)), \(encoder.parameters.scalarCount) parameters: \(worst)")
                #expect(worst.error < 1e-2, "\(worst)")
            }
        }
        // Every parameter received some gradient (nothing silently detached); the
        // only rows of the tables untouched are ids not in the batch.
        for p in encoder.parameters where !p.name.contains("word_embeddings") && !p.name.contains("token_type") {
            #expect(p.grad.array.contains { $0 != 0 }, "\(p.name) got no gradient")
        }
    }

    /// A co-attention layer: both sides, both inputs, every parameter.
    @Test func coAttentionLayer() {
        let dims = BertDimensions(hidden: 16, heads: 2, intermediate: 32)
        var rng = SeededRNG(seed: 4)
        let layer = BertCoAttentionLayer(prefix: "co.layer.0.", dims: dims, rng: &rng)
        Self.makeSignificant(layer.parameters, seed: 45)
        let batch = 2, textLength = 4, imageLength = 3
        let text = FloatBuffer(Self.weights(batch * textLength * 16, seed: 41))
        let image = FloatBuffer(Self.weights(batch * imageLength * 16, seed: 42))
        let textMask = FloatBuffer([1, 1, 1, 0, 1, 1, 0, 0]), imageMask = FloatBuffer([1, 1, 1, 1, 1, 0])
        let wText = Self.weights(text.count, seed: 43), wImage = Self.weights(image.count, seed: 44)
        func loss() -> Double {
            let (t, v) = layer.forward(text: text.pointer, textLength: textLength, textMask: textMask.pointer,
                                       image: image.pointer, imageLength: imageLength, imageMask: imageMask.pointer,
                                       batch: batch, mode: .inference)
            return Self.weightedSum(t, wText) + Self.weightedSum(v, wImage)
        }
        _ = loss()
        let grads = wText.withUnsafeBufferPointer { dt in
            wImage.withUnsafeBufferPointer { dv in layer.backward(dText: dt.baseAddress!, dImage: dv.baseAddress!) }
        }
        guard let grads else { Issue.record("no input gradients"); return }
        let dText = Array(UnsafeBufferPointer(start: grads.dText, count: text.count))
        let dImage = Array(UnsafeBufferPointer(start: grads.dImage, count: image.count))
        var items = [(name: "text states", values: text, analytic: dText), (name: "image states", values: image, analytic: dImage)]
        items += layer.parameters.map { (name: $0.name, values: $0.value, analytic: $0.grad.array) }
        let worst = Self.check(items, loss: loss)
        print("gradient check co-attention layer: \(worst)")
        #expect(worst.error < 1e-2, "\(worst)")
        #expect(layer.parameters.map(\.name).contains("co.layer.0.image.attention.self.query.weight"))
        #expect(layer.parameters.map(\.name).contains("co.layer.0.text.output.LayerNorm.bias"))
    }

    /// Freezing the lower part: no gradient reaches frozen parameters, and the trainable
    /// ones get exactly what they get when nothing is frozen.
    @Test func frozenLayersGetNoGradient() {
        let config = Self.tinyConfig
        let a = TextEncoder(config: config, seed: 5), b = TextEncoder(config: config, seed: 5)
        b.parameters.setTrainable(false, prefix: "text.embeddings.")
        b.parameters.setTrainable(false, prefix: "text.encoder.layer.0.")
        let tokens = TokenBatch(sequences: [[1, 3, 2], [1, 6, 8, 2]])
        let w = Self.weights(tokens.batch * tokens.length * config.hidden, seed: 50)
        for encoder in [a, b] {
            tokens.ids.withUnsafeBufferPointer { ids in
                tokens.mask.withUnsafeBufferPointer { mask in
                    _ = encoder.forward(ids: ids.baseAddress!, mask: mask.baseAddress!, batch: tokens.batch,
                                        length: tokens.length, mode: .inference)
                    w.withUnsafeBufferPointer { encoder.backward($0.baseAddress!) }
                }
            }
        }
        for (pa, pb) in zip(a.parameters, b.parameters) {
            if pb.isTrainable {
                #expect(pa.grad.array == pb.grad.array, "\(pb.name)")
            } else {
                #expect(pb.grad.array.allSatisfy { $0 == 0 }, "\(pb.name) is frozen but got a gradient")
            }
        }
    }

    @Test func parameterNamesFollowHuggingFace() {
        var config = Self.tinyConfig
        config.textLayers = 1
        let names = TextEncoder(config: config).parameters.names
        #expect(names == [
            "text.embeddings.word_embeddings.weight", "text.embeddings.position_embeddings.weight",
            "text.embeddings.token_type_embeddings.weight", "text.embeddings.LayerNorm.weight",
            "text.embeddings.LayerNorm.bias",
            "text.encoder.layer.0.attention.self.query.weight", "text.encoder.layer.0.attention.self.query.bias",
            "text.encoder.layer.0.attention.self.key.weight", "text.encoder.layer.0.attention.self.key.bias",
            "text.encoder.layer.0.attention.self.value.weight", "text.encoder.layer.0.attention.self.value.bias",
            "text.encoder.layer.0.attention.output.dense.weight", "text.encoder.layer.0.attention.output.dense.bias",
            "text.encoder.layer.0.attention.output.LayerNorm.weight", "text.encoder.layer.0.attention.output.LayerNorm.bias",
            "text.encoder.layer.0.intermediate.dense.weight", "text.encoder.layer.0.intermediate.dense.bias",
            "text.encoder.layer.0.output.dense.weight", "text.encoder.layer.0.output.dense.bias",
            "text.encoder.layer.0.output.LayerNorm.weight", "text.encoder.layer.0.output.LayerNorm.bias",
        ])
        let decaying = TextEncoder(config: config).parameters.filter(\.decays).map(\.name)
        #expect(decaying.allSatisfy { $0.hasSuffix(".weight") && !$0.contains("LayerNorm") })
    }

    /// Padding does not change the real tokens' states: a sequence alone and the same
    /// sequence padded in a batch give the same states on its real positions.
    @Test func paddingIsMasked() {
        let config = Self.tinyConfig
        let encoder = TextEncoder(config: config, seed: 6)
        let alone = encoder.sentenceEmbeddings(TokenBatch(sequences: [[1, 4, 2]]))[0]
        let batched = encoder.sentenceEmbeddings(TokenBatch(sequences: [[1, 5, 6, 7, 8, 2], [1, 4, 2]]))[1]
        for (x, y) in zip(alone, batched) { #expect(abs(x - y) < 1e-5) }
        let norm = alone.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(norm - 1) < 1e-5)
    }
}
