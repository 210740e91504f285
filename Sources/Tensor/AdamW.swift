import CKernels
import Foundation

/// AdamW (Loshchilov & Hutter), step for step as PyTorch's `torch.optim.AdamW`:
///
///     p ← p · (1 − lr·λ)                       (only parameters with `decays`)
///     m ← β1·m + (1 − β1)·g
///     v ← β2·v + (1 − β2)·g²
///     p ← p − lr · (m / (1 − β1ᵗ)) / (sqrt(v / (1 − β2ᵗ)) + ε)
///
/// Parameters fall in two groups by their `decays` flag: weight decay applies
/// to weight matrices and embeddings, not to biases and LayerNorm parameters.
/// Frozen parameters (`isTrainable == false`) are not touched.
public final class AdamW: @unchecked Sendable {
    public struct Hyperparameters: Sendable, Codable, Equatable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var epsilon: Float = 1e-8
        /// λ, applied to parameters whose `decays` is true.
        public var weightDecay: Float = 0.01
        public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
            self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        }
    }

    public let parameters: ParameterSet
    public var hyperparameters: Hyperparameters
    /// Number of steps taken (t in the bias corrections of the last step).
    public private(set) var stepCount = 0
    /// First and second moments, one buffer each per parameter (in `parameters` order).
    public let firstMoments: [FloatBuffer]
    public let secondMoments: [FloatBuffer]

    public init(parameters: ParameterSet, hyperparameters: Hyperparameters = .init()) {
        self.parameters = parameters
        self.hyperparameters = hyperparameters
        firstMoments = parameters.map { FloatBuffer(count: $0.count) }
        secondMoments = parameters.map { FloatBuffer(count: $0.count) }
    }

    /// Restores the step count (with the moments, e.g. when resuming from a checkpoint).
    public func restore(stepCount: Int) {
        precondition(stepCount >= 0)
        self.stepCount = stepCount
    }

    /// One update of every trainable parameter from its accumulated gradient.
    public func step(learningRate lr: Float) {
        update(learningRate: lr, gradientScale: 1, zeroingGradients: false)
    }

    /// Gradient clipping, one update and zeroing of the gradients in one pass over memory:
    /// the same values as `parameters.clipGradientNorm(maxNorm:)` (when `maxNorm` is given),
    /// `step(learningRate:)` and `parameters.zeroGradients()` in turn, except that frozen
    /// parameters' gradients are left as they are. Returns the gradient norm before clipping
    /// (nil without `maxNorm`).
    @discardableResult
    public func step(learningRate lr: Float, clippingGradientNormTo maxNorm: Float?,
                     zeroingGradients: Bool) -> Float? {
        var coefficient: Float = 1, norm: Float?
        if let maxNorm {
            precondition(maxNorm > 0, "AdamW.step: maxNorm must be positive, got \(maxNorm)")
            let n = parameters.gradientNorm()
            let c = maxNorm / (n + 1e-6)
            if c < 1 { coefficient = c }
            norm = n
        }
        update(learningRate: lr, gradientScale: coefficient, zeroingGradients: zeroingGradients)
        return norm
    }

    private func update(learningRate lr: Float, gradientScale: Float, zeroingGradients: Bool) {
        stepCount += 1
        let h = hyperparameters
        let t = Float(stepCount)
        let correction1 = 1 - powf(h.beta1, t), correction2 = 1 - powf(h.beta2, t)
        let rootCorrection2 = correction2.squareRoot()
        for (index, parameter) in parameters.parameters.enumerated() where parameter.isTrainable {
            let p = parameter.value.pointer, g = parameter.grad.pointer
            let m = firstMoments[index].pointer, v = secondMoments[index].pointer
            let rate = lr * parameter.learningRateScale
            let stepSize = rate / correction1
            let decayFactor: Float = parameter.decays ? 1 - rate * h.weightDecay : 1
            let count = parameter.count
            let block = 8192
            Parallel.forEachRange((count + block - 1) / block, workPerItem: block * 4) { range in
                let start = range.lowerBound * block, end = min(count, range.upperBound * block)
                // The C kernel (CKernels/adamw.c): vectorised for AVX-512 or AVX2 as the CPU
                // allows, bit-identical to the scalar update. (gradientScale is 1 unless
                // clipping: multiplying by 1 is exact.)
                vitrine_adamw(p + start, g + start, m + start, v + start, end - start,
                              h.beta1, h.beta2, h.epsilon, gradientScale, decayFactor, stepSize,
                              rootCorrection2, zeroingGradients ? 1 : 0)
            }
        }
    }
}

/// A learning-rate schedule: linear warm-up to `peak`, then a decay to
/// `peak * finalFraction` at `totalSteps`.
///
/// Steps are counted from 1 (the first optimiser update is step 1), so the
/// first update already has a non-zero rate: `peak * 1 / warmupSteps`.
public struct LearningRateSchedule: Sendable, Codable, Equatable {
    public enum Decay: String, Sendable, Codable, CaseIterable {
        /// Stay at `peak` after warm-up.
        case constant
        /// Straight line from `peak` to the final rate.
        case linear
        /// Half a cosine from `peak` to the final rate.
        case cosine
    }

    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay
    /// The rate at `totalSteps` (and after) as a fraction of `peak`.
    public var finalFraction: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, decay: Decay = .linear, finalFraction: Float = 0) {
        precondition(peak >= 0 && warmupSteps >= 0 && totalSteps >= 0 && finalFraction >= 0,
                     "LearningRateSchedule: negative setting")
        self.peak = peak; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
        self.decay = decay; self.finalFraction = finalFraction
    }

    /// The learning rate for update `step` (1-based).
    public func learningRate(atStep step: Int) -> Float {
        let step = max(step, 1)
        if step <= warmupSteps { return peak * Float(step) / Float(warmupSteps) }
        let floor = peak * finalFraction
        let span = totalSteps - warmupSteps
        guard decay != .constant, span > 0 else { return decay == .constant ? peak : floor }
        let progress = min(1, Float(step - warmupSteps) / Float(span))
        switch decay {
        case .constant: return peak
        case .linear: return floor + (peak - floor) * (1 - progress)
        case .cosine: return floor + (peak - floor) * 0.5 * (1 + cosf(.pi * progress))
        }
    }
}
