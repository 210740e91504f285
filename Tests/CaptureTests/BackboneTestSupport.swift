import Capture
import Foundation
import Imaging
import Testing

/// Paths and the golden values shared by the backbone tests.
enum BackboneFixtures {
    /// Tests/CaptureTests/Fixtures.
    static let directory: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func path(_ name: String) -> String { directory + "/" + name }

    /// The 224 x 224 PNG the golden values were computed on.
    static var inputImagePath: String { path("efficientnet_input.png") }

    /// The EfficientNet-Lite0 weights file, fetched with scripts/fetch-weights.sh first when
    /// the weights are missing (`TestWeights`, shared with the other tower's tests). Fails the
    /// test with the script's output when that is impossible (no network).
    static func ensureWeights() throws -> String {
        try TestWeights.folder().require(.efficientNetLite0)
    }

    /// One network shared by the tests of a run (loading folds ~300 tensors and hashes 19 MB).
    static func network() throws -> EfficientNetLite0 {
        try Shared.network.get()
    }

    private enum Shared {
        static let network: Result<EfficientNetLite0, any Error> = Result {
            try EfficientNetLite0(weightsPath: try ensureWeights())
        }
    }

    /// tools/reference/efficientnet_reference.py's output.
    struct Reference: Decodable {
        struct Samples: Decodable {
            let positions: [[Int]]
            let values: [Float]
        }
        let description: String
        let weights_pth_sha256: String
        let block15_pooled: [Float]
        let block15_samples: Samples
        let block15_l2_norm: Double
        let block15_max_abs: Double
        let logits: [Float]
        let top5: [Int]
    }

    static func reference() throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("efficientnet_reference.json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }
}

/// How far `actual` is from `expected`: the largest elementwise difference and the L2 norm of
/// the difference relative to the L2 norm of `expected`.
struct Discrepancy: CustomStringConvertible {
    let maxAbsolute: Double
    let relativeNorm: Double
    let maxAbsExpected: Double

    init(_ actual: [Float], _ expected: [Float]) {
        precondition(actual.count == expected.count)
        var worst = 0.0, difference = 0.0, norm = 0.0, largest = 0.0
        for (a, e) in zip(actual, expected) {
            let d = Double(a) - Double(e)
            worst = max(worst, abs(d))
            difference += d * d
            norm += Double(e) * Double(e)
            largest = max(largest, abs(Double(e)))
        }
        maxAbsolute = worst
        relativeNorm = difference.squareRoot() / max(norm.squareRoot(), .leastNormalMagnitude)
        maxAbsExpected = largest
    }

    var description: String {
        "max |diff| \(maxAbsolute) (of max |value| \(maxAbsExpected)), ||diff|| / ||expected|| \(relativeNorm)"
    }
}
