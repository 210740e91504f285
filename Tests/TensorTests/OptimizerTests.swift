import CKernels
import Foundation
import Tensor
import Testing

@Suite struct OptimizerTests {
    /// Two AdamW steps against the update written out by hand (PyTorch's AdamW).
    @Test func adamWMatchesHandComputedSteps() throws {
        let weight = Parameter(name: "w", shape: [2], decays: true)
        let bias = Parameter(name: "b", shape: [1], decays: false)
        weight.value.copy(from: [1.0, -2.0]); bias.value.copy(from: [0.5])
        let set = try ParameterSet([weight, bias])
        let adam = AdamW(parameters: set, hyperparameters: .init(beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.1))
        let gradients: [[Double]] = [[0.5, -1.0, 2.0], [0.25, 3.0, -1.0]]
        let lrs: [Double] = [0.01, 0.02]
        var p: [Double] = [1, -2, 0.5], m = [Double](repeating: 0, count: 3), v = m
        for (step, g) in gradients.enumerated() {
            weight.grad.copy(from: [Float(g[0]), Float(g[1])]); bias.grad.copy(from: [Float(g[2])])
            adam.step(learningRate: Float(lrs[step]))
            let t = Double(step + 1), lr = lrs[step]
            for i in 0..<3 {
                if i < 2 { p[i] *= 1 - lr * 0.1 }  // decoupled decay on the weight only
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i]
                let mHat = m[i] / (1 - pow(0.9, t)), vHat = v[i] / (1 - pow(0.99, t))
                p[i] -= lr * mHat / (vHat.squareRoot() + 1e-8)
            }
            #expect(abs(Double(weight.value[0]) - p[0]) < 1e-6)
            #expect(abs(Double(weight.value[1]) - p[1]) < 1e-6)
            #expect(abs(Double(bias.value[0]) - p[2]) < 1e-6)
        }
        #expect(adam.stepCount == 2)
    }

    @Test func adamWSkipsFrozenAndHandlesLongBuffers() throws {
        let frozen = Parameter(name: "frozen", shape: [3], decays: true, isTrainable: false)
        let big = Parameter(name: "big", shape: [50_001], decays: true)
        frozen.value.copy(from: [1, 2, 3]); frozen.grad.fill(1)
        big.value.fill(1); big.grad.fill(-1)
        let adam = AdamW(parameters: try ParameterSet([frozen, big]), hyperparameters: .init(weightDecay: 0))
        adam.step(learningRate: 0.1)
        #expect(frozen.value.array == [1, 2, 3])
        // First step of Adam moves every element by lr * sign(g) (up to epsilon).
        #expect(big.value.array.allSatisfy { abs($0 - 1.1) < 1e-5 })
    }

    @Test func linearScheduleWithWarmup() {
        let s = LearningRateSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 110, decay: .linear)
        #expect(abs(s.learningRate(atStep: 1) - 1e-4) < 1e-9)
        #expect(abs(s.learningRate(atStep: 5) - 5e-4) < 1e-9)
        #expect(abs(s.learningRate(atStep: 10) - 1e-3) < 1e-9)
        #expect(abs(s.learningRate(atStep: 60) - 5e-4) < 1e-9)
        #expect(s.learningRate(atStep: 110) == 0)
        #expect(s.learningRate(atStep: 500) == 0)
    }

    @Test func cosineScheduleWithFloor() {
        let s = LearningRateSchedule(peak: 2, warmupSteps: 0, totalSteps: 100, decay: .cosine, finalFraction: 0.1)
        #expect(abs(s.learningRate(atStep: 50) - (0.2 + 1.8 * 0.5)) < 1e-5)   // half way: midpoint
        #expect(abs(s.learningRate(atStep: 100) - 0.2) < 1e-6)
        #expect(abs(s.learningRate(atStep: 25) - (0.2 + 1.8 * 0.5 * (1 + cos(Float.pi / 4)))) < 1e-5)
        let constant = LearningRateSchedule(peak: 3, warmupSteps: 2, totalSteps: 10, decay: .constant)
        #expect(constant.learningRate(atStep: 1) == 1.5)
        #expect(constant.learningRate(atStep: 9) == 3)
    }

    @Test func gradientClippingScalesToMaxNorm() throws {
        let a = Parameter(name: "a", shape: [2], decays: true), b = Parameter(name: "b", shape: [1], decays: false)
        let frozen = Parameter(name: "f", shape: [1], decays: false, isTrainable: false)
        a.grad.copy(from: [3, 0]); b.grad.copy(from: [4]); frozen.grad.copy(from: [100])
        let set = try ParameterSet([a, b, frozen])
        #expect(abs(set.gradientNorm() - 5) < 1e-6)          // the frozen gradient does not count
        let before = set.clipGradientNorm(maxNorm: 1)
        #expect(abs(before - 5) < 1e-6)
        #expect(abs(set.gradientNorm() - 1) < 1e-5)
        #expect(abs(a.grad[0] - 0.6) < 1e-5 && abs(b.grad[0] - 0.8) < 1e-5)
        #expect(frozen.grad[0] == 100)
        // Below the threshold nothing changes.
        set.clipGradientNorm(maxNorm: 10)
        #expect(abs(a.grad[0] - 0.6) < 1e-5)
    }

    @Test func parameterSetNamesAndErrors() throws {
        let a = Parameter(name: "text.x.weight", shape: [2, 3], decays: true)
        var set = try ParameterSet([a])
        #expect(throws: ParameterError.duplicateName("text.x.weight")) {
            try set.append(Parameter(name: "text.x.weight", shape: [1], decays: false))
        }
        try set.append(Parameter(name: "image.y.bias", shape: [4], decays: false))
        #expect(set.names == ["text.x.weight", "image.y.bias"])
        #expect(set.scalarCount == 10)
        #expect(try set.require("text.x.weight", shape: [2, 3]) === a)
        #expect(throws: ParameterError.missing("nope")) { try set.require("nope", shape: [1]) }
        #expect(throws: ParameterError.shapeMismatch(name: "text.x.weight", expected: [2, 3], found: [3, 2])) {
            try set.require("text.x.weight", shape: [3, 2])
        }
        set.setTrainable(false, prefix: "text.")
        #expect(set.trainable.map(\.name) == ["image.y.bias"])
    }
}

/// The vectorised AdamW kernel (AVX-512, AVX2 or plain C, as the CPU allows) rounds exactly as
/// the scalar update written out in Swift, element for element, including odd lengths, a
/// clipping scale and zeroed gradients.
@Suite struct AdamWKernelTests {
    @Test(arguments: [1, 7, 16, 33, 1000, 8193])
    func vectorisedUpdateIsBitIdenticalToTheScalarOne(_ n: Int) {
        var rng = SeededRNG(seed: UInt64(n))
        var p = (0 ..< n).map { _ in rng.normal() }, g = (0 ..< n).map { _ in rng.normal() * 0.1 }
        var m = (0 ..< n).map { _ in rng.normal() * 0.01 }, v = (0 ..< n).map { _ in abs(rng.normal()) * 1e-4 }
        let (b1, b2, eps, scale, decay, step, rc2): (Float, Float, Float, Float, Float, Float, Float) = (0.9, 0.999, 1e-8, 0.73, 0.9999, 1e-3, 0.0447)
        var ep = p, eg = g, em = m, ev = v
        for i in 0 ..< n {
            let gi = eg[i] * scale
            eg[i] = 0
            em[i] = b1 * em[i] + (1 - b1) * gi
            ev[i] = b2 * ev[i] + (1 - b2) * gi * gi
            let denominator = ev[i].squareRoot() / rc2 + eps
            ep[i] = ep[i] * decay - step * em[i] / denominator
        }
        vitrine_adamw(&p, &g, &m, &v, n, b1, b2, eps, scale, decay, step, rc2, 1)
        #expect(p.map(\.bitPattern) == ep.map(\.bitPattern))
        #expect(m.map(\.bitPattern) == em.map(\.bitPattern) && v.map(\.bitPattern) == ev.map(\.bitPattern))
        #expect(g.allSatisfy { $0 == 0 })
        #expect([0, 256, 512].contains(vitrine_simd_width()))
    }
}

/// The bfloat16 scan kernel (AVX-512, AVX2 or plain C) against a float64 reference, at every
/// dimension from 1 to 130 (whole pairs of 16-blocks, an odd block, a tail) and row counts around
/// its 4-row blocking: within the bound the exact search relies on.
@Suite struct BFloat16DotsKernelTests {
    @Test func scoresAreWithinTheSearchBound() {
        var rng = SeededRNG(seed: 3)
        for dimension in 1 ... 130 {
            for count in [1, 3, 4, 5, 9] {
                let query = (0 ..< dimension).map { _ in rng.normal() }
                let rows = (0 ..< count * dimension).map { _ in UInt16(truncatingIfNeeded: rng.normal().bitPattern >> 16) }
                // The kernel's layout: per block of 16, the 8 even-indexed then the 8 odd-indexed values.
                var laid = query
                for b in 0 ..< dimension / 16 {
                    for i in 0 ..< 8 { laid[b * 16 + i] = query[b * 16 + 2 * i]; laid[b * 16 + 8 + i] = query[b * 16 + 2 * i + 1] }
                }
                var out = [Float](repeating: .nan, count: count)
                vitrine_bf16_dots(laid, rows, count, dimension, &out)
                for r in 0 ..< count {
                    var exact = 0.0, magnitude = 0.0
                    for j in 0 ..< dimension {
                        let g = Double(Float(bitPattern: UInt32(rows[r * dimension + j]) << 16))
                        exact += Double(query[j]) * g
                        magnitude += abs(Double(query[j]) * g)
                    }
                    let bound = Double(dimension + 1) * 0x1p-24 * magnitude * 1.01 + 1e-30
                    #expect(abs(Double(out[r]) - exact) <= bound, "dimension \(dimension), row \(r) of \(count): \(out[r]) vs \(exact)")
                }
            }
        }
    }
}
