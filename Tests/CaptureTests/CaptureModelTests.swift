import Capture
import Foundation
import Tensor
import Testing

@Suite struct CaptureModelTests {
    @Test func imageTokensAreTheGlobalMeanThenTheCellsWithTheirBoxes() {
        let boxes = ImageTokens.boxes(gridSide: 7)
        #expect(boxes.count == 50 * 5)
        #expect(Array(boxes[0..<5]) == [0, 0, 1, 1, 1])
        // Cell (r 2, c 3) is token 1 + 2 * 7 + 3.
        let t = (1 + 2 * 7 + 3) * 5
        #expect(Array(boxes[t..<(t + 5)]) == [3 / 7, 2 / 7, 4 / 7, 3 / 7, 1 / 49] as [Float])
        var config = CaptureConfig(); config.imageTokens = 50
        #expect(ImageTokens.gridSide(config) == 7)

        // Channel-major [2 channels][2 x 2] map: cell-major rows after the global mean.
        let map: [Float] = [1, 2, 3, 4, 10, 20, 30, 40]
        let tokens = ImageTokens.features(channelMajor: map, channels: 2)
        #expect(tokens == [2.5, 25, 1, 10, 2, 20, 3, 30, 4, 40])
    }

    @Test func parametersHaveTheCheckpointNames() {
        let model = CaptureModel(config: .default, seed: 1)
        let names = Set(model.parameters.names)
        for name in ["text.embeddings.word_embeddings.weight", "text.encoder.layer.5.output.LayerNorm.bias",
                     "image.feat_proj.weight", "image.box_proj.bias", "image.LayerNorm.weight",
                     "image.encoder.layer.1.attention.self.query.weight", "clr.text.weight", "clr.image.bias",
                     "co.layer.1.text.attention.self.key.weight", "co.layer.0.image.output.LayerNorm.weight",
                     "co.layer.0.image.intermediate.dense.bias", "cross.modality_embeddings.weight",
                     "cross.encoder.layer.1.attention.output.dense.weight", "fuse.weight", "fuse.bias",
                     "mlm.transform.dense.weight", "mlm.transform.LayerNorm.bias", "mlm.bias", "mrm.weight", "mrm.bias"] {
            #expect(names.contains(name), "missing \(name)")
        }
        #expect(model.parameters["image.feat_proj.weight"]?.shape == [384, 320])
        #expect(model.parameters["cross.modality_embeddings.weight"]?.shape == [2, 384])
        #expect(model.parameters["fuse.weight"]?.shape == [256, 768])
        #expect(model.parameters["mrm.weight"]?.shape == [320, 384])
        #expect(model.parameters["mlm.bias"]?.shape == [30_522])
        #expect(!names.contains("image.encoder.layer.2.attention.self.query.weight"))
    }

    /// A fixed masked batch for the tiny configuration: 3 pairs, one caption padded.
    static func fixedBatch(config: CaptureConfig, rng: inout SeededRNG) -> MaskedPretrainingBatch {
        let tokens = TokenBatch(sequences: [[1, 5, 3, 9, 12, 2], [1, 7, 3, 2], [1, 40, 41, 3, 42, 2]], length: 6)
        var targets = [Int32](repeating: -100, count: 18)
        targets[2] = 8; targets[4] = 12; targets[8] = 30; targets[15] = 44; targets[13] = 40
        let N = config.imageTokens, D = config.regionFeatureDim
        let original = TinyCapture.normals(3 * N * D, std: 1, rng: &rng)
        var input = original
        var regionMask = [Float](repeating: 0, count: 3 * N)
        for (b, cell) in [(0, 2), (1, 1), (1, 4), (2, 3)] {
            regionMask[b * N + cell] = 1
            for i in 0..<D { input[(b * N + cell) * D + i] = 0 }
        }
        return MaskedPretrainingBatch(tokens: tokens, mlmTargets: targets, imageInput: input,
                                      regionTargets: original, regionMask: regionMask)
    }

    /// Central finite differences of the summed losses of a whole tiny model against the
    /// analytic gradient, for a few entries of one parameter of every part.
    @Test func wholeModelGradientMatchesFiniteDifferences() throws {
        let config = TinyCapture.config()
        let model = CaptureModel(config: config, seed: 7)
        var rng = SeededRNG(seed: 99)
        // Larger weights than BERT's 0.02 so that every part's gradient is well above float noise.
        for p in model.parameters where p.decays { p.initializeNormal(std: 0.3, rng: &rng) }
        for p in model.parameters where !p.decays && p.name.hasSuffix("bias") {
            for i in 0..<p.count { p.value[i] = rng.normal() * 0.1 }
        }
        let batch = Self.fixedBatch(config: config, rng: &rng)
        model.parameters.zeroGradients()
        let losses = model.forwardBackward(batch, mode: .inference)
        #expect(losses.mlm > 0 && losses.mrm > 0 && losses.clr > 0)

        let checked = ["text.embeddings.word_embeddings.weight", "text.embeddings.position_embeddings.weight",
                       "text.encoder.layer.0.attention.self.query.weight", "text.encoder.layer.0.output.dense.weight",
                       "image.feat_proj.weight", "image.box_proj.weight", "image.LayerNorm.weight",
                       "image.encoder.layer.0.attention.self.value.weight", "clr.text.weight", "clr.image.weight",
                       "co.layer.0.text.attention.self.key.weight", "co.layer.0.image.attention.self.query.weight",
                       "co.layer.0.text.intermediate.dense.weight", "co.layer.0.image.output.LayerNorm.weight",
                       "cross.modality_embeddings.weight", "cross.encoder.layer.0.attention.self.query.weight",
                       "cross.encoder.layer.0.output.dense.weight", "mlm.transform.dense.weight",
                       "mlm.transform.LayerNorm.weight", "mlm.bias", "mrm.weight", "mrm.bias"]
        let h: Float = 4e-3
        var worst: (Float, String) = (0, "")
        for name in checked {
            let p = try #require(model.parameters[name], "no parameter \(name)")
            for _ in 0..<4 {
                let i = rng.below(p.count)
                let analytic = p.grad[i]
                let saved = p.value[i]
                p.value[i] = saved + h
                let plus = model.forward(batch, mode: .inference).total
                p.value[i] = saved - h
                let minus = model.forward(batch, mode: .inference).total
                p.value[i] = saved
                let numeric = (plus - minus) / (2 * h)
                let error = abs(numeric - analytic)
                let allowed = 2e-3 + 0.03 * max(abs(numeric), abs(analytic))
                #expect(error <= allowed, "\(name)[\(i)]: analytic \(analytic), finite difference \(numeric)")
                let relative = error / max(abs(numeric), 1e-2)
                if relative > worst.0 { worst = (relative, "\(name)[\(i)]") }
            }
            // Every checked part must really receive gradient, or the check would be vacuous.
            let norm = (0..<p.count).reduce(Float(0)) { max($0, abs(p.grad[$1])) }
            #expect(norm > 1e-3, "\(name) receives no gradient (max |g| \(norm))")
        }
        print("whole-model gradient check: worst relative error \(worst.0) at \(worst.1)")
        // Fusion is trained by fine-tuning only: pretraining gives it no gradient.
        let fuse = try #require(model.parameters["fuse.weight"])
        #expect((0..<fuse.count).allSatisfy { fuse.grad[$0] == 0 })
    }

    /// The same check for the fine-tuning objective (robust loss on fused embeddings + CLR + MLM),
    /// which is the only path that trains `fuse`.
    @Test func fineTuningGradientMatchesFiniteDifferences() throws {
        let config = TinyCapture.config()
        let model = CaptureModel(config: config, seed: 8)
        var rng = SeededRNG(seed: 123)
        for p in model.parameters where p.decays { p.initializeNormal(std: 0.3, rng: &rng) }
        let batch = Self.fixedBatch(config: config, rng: &rng)
        let pairs = [EmbeddingPair(0, 1, isMatch: true), EmbeddingPair(0, 2, isMatch: false),
                     EmbeddingPair(1, 2, isMatch: false), EmbeddingPair(2, 2, isMatch: true)]
        let objective = FineTuningObjective(positiveMargin: 0.05, negativeMargin: 1.9, clrWeight: 0.5, mlmWeight: 0.3)
        model.parameters.zeroGradients()
        let losses = model.forwardFineTuning(batch, pairs: pairs, objective: objective, mode: .inference)
        #expect(losses.robust > 0)
        #expect(abs(losses.total - (losses.robust + 0.5 * losses.clr + 0.3 * losses.mlm)) < 1e-5)
        model.backward()
        let h: Float = 4e-3
        for name in ["fuse.weight", "fuse.bias", "cross.encoder.layer.0.output.dense.weight",
                     "cross.modality_embeddings.weight", "co.layer.0.image.attention.self.value.weight",
                     "image.feat_proj.weight", "text.encoder.layer.0.intermediate.dense.weight", "clr.image.weight",
                     "mlm.transform.dense.weight"] {
            let p = try #require(model.parameters[name])
            for _ in 0..<4 {
                let i = rng.below(p.count)
                let saved = p.value[i]
                p.value[i] = saved + h
                let plus = model.forwardFineTuning(batch, pairs: pairs, objective: objective, mode: .inference).total
                p.value[i] = saved - h
                let minus = model.forwardFineTuning(batch, pairs: pairs, objective: objective, mode: .inference).total
                p.value[i] = saved
                let numeric = (plus - minus) / (2 * h), analytic = p.grad[i]
                #expect(abs(numeric - analytic) <= 2e-3 + 0.03 * max(abs(numeric), abs(analytic)),
                        "\(name)[\(i)]: analytic \(analytic), finite difference \(numeric)")
            }
            let largest = (0..<p.count).reduce(Float(0)) { max($0, abs(p.grad[$1])) }
            #expect(largest > 1e-3, "\(name) receives no gradient")
        }
        // MRM is not part of fine-tuning.
        let mrm = try #require(model.parameters["mrm.weight"])
        #expect((0..<mrm.count).allSatisfy { mrm.grad[$0] == 0 })
    }

    @Test func embeddingsAreDeterministicUnitVectors() {
        let config = TinyCapture.config()
        let model = CaptureModel(config: config, seed: 3)
        var rng = SeededRNG(seed: 5)
        let batch = Self.fixedBatch(config: config, rng: &rng)
        let a = model.embed(tokens: batch.tokens, imageFeatures: batch.imageInput)
        // A training pass in between does not change what inference gives.
        model.forwardBackward(batch, mode: .training(TrainingDropout(seed: 1)))
        let b = model.embed(tokens: batch.tokens, imageFeatures: batch.imageInput)
        #expect(a == b)
        for vectors in [a.text, a.image, a.fused] {
            #expect(vectors.count == 3)
            for v in vectors {
                #expect(v.count == 8)
                #expect(abs(v.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
            }
        }
        // Each single-modality path gives the pair's text and image embeddings.
        let texts = model.embedText(batch.tokens), images = model.embedImages(batch.imageInput)
        for (x, y) in zip(texts.joined(), a.text.joined()) { #expect(abs(x - y) < 1e-6) }
        for (x, y) in zip(images.joined(), a.image.joined()) { #expect(abs(x - y) < 1e-6) }
        #expect(texts.count == 3 && images.count == 3)
        // Padding does not change a caption's embeddings.
        let padded = TokenBatch(sequences: [[1, 7, 3, 2]], length: 6)
        let unpadded = TokenBatch(sequences: [[1, 7, 3, 2]], length: 4)
        let N = config.imageTokens, D = config.regionFeatureDim
        let image = Array(batch.imageInput[(N * D)..<(2 * N * D)])
        let p = model.embed(tokens: padded, imageFeatures: image), u = model.embed(tokens: unpadded, imageFeatures: image)
        for (x, y) in zip(p.fused[0] + p.text[0], u.fused[0] + u.text[0]) { #expect(abs(x - y) < 1e-5) }
    }
}
