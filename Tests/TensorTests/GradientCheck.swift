import Tensor
import Testing

/// Finite-difference gradient checking for the kernels' backward passes.
///
/// Every op is reduced to a scalar `L = Σ w_i y_i` (fixed random weights `w`,
/// summed in Double) or is itself a loss. Each input element is perturbed by
/// ±eps in float32 (the actually representable step is used), the forward pass
/// is rerun, and the central difference is compared with the analytic gradient
/// the backward pass produced for `dL/dy = w`.
///
/// Error per element: |analytic − numeric| / max(|analytic|, |numeric|, floor),
/// with `floor = 1e-2 · max|analytic|` over that input (plus 1e-6), so elements
/// whose gradient is tiny next to the rest are judged on an absolute scale that
/// float32 differences can resolve. The worst error over all elements is returned.
struct GradientCheck {
    struct Input {
        let name: String
        let values: FloatBuffer
        let analytic: FloatBuffer
    }

    struct Worst: CustomStringConvertible {
        var error: Double = 0
        var input = ""
        var index = -1
        var analytic: Double = 0
        var numeric: Double = 0
        var description: String {
            "worst relative error \(error) at \(input)[\(index)] (analytic \(analytic), numeric \(numeric))"
        }
    }

    var eps: Float = 1e-2

    func run(_ inputs: [Input], loss: () -> Double) -> Worst {
        var worst = Worst()
        for input in inputs {
            let x = input.values.pointer
            var maxAnalytic: Double = 0
            for i in 0..<input.analytic.count { maxAnalytic = max(maxAnalytic, abs(Double(input.analytic[i]))) }
            let floor = 1e-2 * maxAnalytic + 1e-6
            for i in 0..<input.values.count {
                let original = x[i]
                let up = original + eps, down = original - eps
                x[i] = up; let lossUp = loss()
                x[i] = down; let lossDown = loss()
                x[i] = original
                let numeric = (lossUp - lossDown) / (Double(up) - Double(down))
                let analytic = Double(input.analytic[i])
                let error = abs(analytic - numeric) / max(abs(analytic), abs(numeric), floor)
                if error > worst.error || worst.index < 0 {
                    worst = Worst(error: error, input: input.name, index: i, analytic: analytic, numeric: numeric)
                }
            }
        }
        return worst
    }
}

/// Deterministic test data.
func randomBuffer(_ count: Int, _ rng: inout SeededRNG, scale: Float = 1) -> FloatBuffer {
    let b = FloatBuffer(count: count)
    for i in 0..<count { b[i] = rng.normal() * scale }
    return b
}

/// `Σ w_i y_i` in Double.
func weightedSum(_ y: FloatBuffer, _ w: FloatBuffer) -> Double {
    var s: Double = 0
    for i in 0..<y.count { s += Double(y[i]) * Double(w[i]) }
    return s
}

/// Records the worst error of a check (visible in the test log) and asserts the tolerance.
func expectGradients(_ op: String, _ worst: GradientCheck.Worst, below tolerance: Double = 1e-2,
                     sourceLocation: SourceLocation = #_sourceLocation) {
    print("gradient check \(op): \(worst)")
    #expect(worst.index >= 0, "\(op): nothing was checked", sourceLocation: sourceLocation)
    #expect(worst.error < tolerance, "\(op): \(worst)", sourceLocation: sourceLocation)
}
