import Capture
import Foundation
import Tensor
import Testing

@Suite struct PretrainingTests {
    @Test func maskingFollowsTheRecipe() {
        var config = TinyCapture.config(); config.vocabSize = 1000
        let B = 200, L = 12, cells = config.imageTokens - 1, D = config.regionFeatureDim
        var rng = SeededRNG(seed: 11)
        let sequences = (0..<B).map { _ in [1] + (0..<9).map { _ in 4 + rng.below(996) } + [2] }
        let cellsData = (0..<(B * cells * D)).map { _ in 1 + rng.uniform() }
        let batch = PretrainingBatch(tokens: TokenBatch(sequences: sequences, length: L), cellFeatures: cellsData)
        var masking = TinyCapture.masking
        masking.regionProbability = 0.5
        let masked = masking.mask(batch, config: config, rng: &rng)
        var chosen = 0, asMask = 0, unchanged = 0
        for r in 0..<(B * L) {
            let original = batch.tokens.ids[r]
            if masked.mlmTargets[r] == -100 { #expect(masked.tokens.ids[r] == original); continue }
            #expect(masked.mlmTargets[r] == original)
            #expect(original != 0 && original != 1 && original != 2, "a special token was chosen")
            chosen += 1
            if masked.tokens.ids[r] == 3 { asMask += 1 } else if masked.tokens.ids[r] == original { unchanged += 1 }
        }
        let words = Float(B * 9)
        #expect(abs(Float(chosen) / words - 0.15) < 0.03)
        #expect(abs(Float(asMask) / Float(chosen) - 0.8) < 0.07)
        #expect(abs(Float(unchanged) / Float(chosen) - 0.1) < 0.06)
        #expect(masked.tokens.mask == batch.tokens.mask)

        let N = config.imageTokens
        var regions = 0, zeroed = 0
        for b in 0..<B {
            #expect(masked.regionMask[b * N] == 0, "the global token is never an MRM target")
            var mean = [Float](repeating: 0, count: D)
            for cell in 0..<cells {
                let token = b * N + 1 + cell
                let input = Array(masked.imageInput[(token * D)..<((token + 1) * D)])
                let target = Array(masked.regionTargets[(token * D)..<((token + 1) * D)])
                #expect(target == Array(cellsData[((b * cells + cell) * D)..<((b * cells + cell + 1) * D)]))
                if masked.regionMask[token] != 0 {
                    regions += 1
                    if input.allSatisfy({ $0 == 0 }) { zeroed += 1 } else { #expect(input == target) }
                } else {
                    #expect(input == target)
                }
                for i in 0..<D { mean[i] += input[i] / Float(cells) }
            }
            let global = Array(masked.imageInput[(b * N * D)..<(b * N * D + D)])
            for i in 0..<D { #expect(abs(global[i] - mean[i]) < 1e-5) }
        }
        #expect(abs(Float(regions) / Float(B * cells) - 0.5) < 0.06)
        #expect(abs(Float(zeroed) / Float(regions) - 0.9) < 0.05)
    }

    /// A toy set where a caption and its image share a latent product class: each class has
    /// two caption words and a spatial pattern of cell features. MLM can recover a masked word
    /// from the other word or the image, MRM a masked cell from the class, CLR can match
    /// captions to images. A few hundred AdamW steps must bring all three losses well down.
    @Test func trainingDrivesAllThreeLossesDown() {
        var config = TinyCapture.config(hidden: 32, heads: 4, intermediate: 64)
        config.clrDim = 16; config.fusedDim = 16
        let classes = 12, B = 16, D = config.regionFeatureDim, cells = config.imageTokens - 1
        var rng = SeededRNG(seed: 2024)
        let patterns = (0..<classes).map { _ in TinyCapture.normals(cells * D, std: 1, rng: &rng) }
        func sample(_ rng: inout SeededRNG) -> PretrainingBatch {
            var sequences: [[Int]] = [], features: [Float] = []
            for _ in 0..<B {
                let c = rng.below(classes)
                let filler = 40 + rng.below(10)
                var words = [4 + 2 * c, 5 + 2 * c, filler]
                if rng.uniform() < 0.5 { words.swapAt(0, 2) }
                sequences.append([1] + words + [2])
                features += patterns[c].map { $0 + 0.1 * rng.normal() }
            }
            return PretrainingBatch(tokens: TokenBatch(sequences: sequences, length: 6), cellFeatures: features)
        }
        let model = CaptureModel(config: config, seed: 1)
        let optimizer = AdamW(parameters: model.parameters)
        var masking = TinyCapture.masking
        masking.textProbability = 0.3; masking.regionProbability = 0.3
        let steps = 600
        var history: [PretrainingLosses] = []
        for step in 0..<steps {
            let masked = masking.mask(sample(&rng), config: config, rng: &rng)
            model.parameters.zeroGradients()
            let losses = model.forwardBackward(masked, mode: .training(TrainingDropout(hidden: 0.05, attention: 0.05,
                                                                                      seed: UInt64(step))))
            model.parameters.clipGradientNorm(maxNorm: 5)
            optimizer.step(learningRate: step < 20 ? 3e-3 * Float(step + 1) / 20 : 3e-3)
            history.append(losses)
        }
        func average(_ range: Range<Int>, _ key: (PretrainingLosses) -> Float) -> Float {
            history[range].map(key).reduce(0, +) / Float(range.count)
        }
        let first = 0..<20, last = (steps - 30)..<steps
        for (name, key) in [("MLM", { (l: PretrainingLosses) in l.mlm }), ("MRM", { $0.mrm }), ("CLR", { $0.clr })] {
            let before = average(first, key), after = average(last, key)
            #expect(after < 0.5 * before, "\(name) went from \(before) to \(after)")
            print("toy pretraining: \(name) \(before) -> \(after)")
        }
    }
}
