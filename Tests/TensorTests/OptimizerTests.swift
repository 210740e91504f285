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

    @Test func aParameterLearnsAtItsOwnFractionOfTheRate() throws {
        // The same value, gradient and decay; one at a quarter of the rate: its step (decay and
        // Adam's update both) is a quarter as long.
        let full = Parameter(name: "new.w", shape: [4], decays: true)
        let slow = Parameter(name: "text.w", shape: [4], decays: true)
        slow.learningRateScale = 0.25
        for p in [full, slow] { p.value.copy(from: [1, -1, 0.5, 2]); p.grad.copy(from: [0.3, -0.2, 1, -4]) }
        let adam = AdamW(parameters: try ParameterSet([full, slow]), hyperparameters: .init(weightDecay: 0.1))
        adam.step(learningRate: 0.01)
        let start: [Float] = [1, -1, 0.5, 2]
        for i in 0..<4 {
            let fullStep = full.value[i] - start[i], slowStep = slow.value[i] - start[i]
            #expect(abs(fullStep) > 1e-3)
            #expect(abs(slowStep - fullStep / 4) < 1e-6, "\(i): \(slowStep) against \(fullStep)")
        }
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

/// GELU's C kernels give the same bits on every path the CPU can run (AVX-512, AVX2, plain C),
/// for lengths around the 16-lane blocks, with and without a bias and accumulation; the values
/// themselves are checked against erf in KernelForwardTests.
@Suite struct GELUKernelPathTests {
    var paths: [Int32] { [0, 256, 512].filter { $0 <= vitrine_simd_width() } }

    @Test(arguments: [1, 15, 16, 17, 383, 1536, 4099])
    func everyPathGivesTheSameBits(_ n: Int) {
        var rng = SeededRNG(seed: UInt64(n) &+ 11)
        // Wide range: both tails of Φ, the exp clamps, zeros and a NaN.
        var x = (0 ..< n).map { _ in rng.normal() * 4 }
        x[0] = 0
        if n > 2 { x[1] = -95; x[2] = Float.nan }
        let dy = (0 ..< n).map { _ in rng.normal() }
        let start = (0 ..< n).map { _ in rng.normal() }
        let width = n > 16 ? 16 + n % 7 : n, rows = n / width
        let bias = (0 ..< width).map { _ in rng.normal() }
        var results: [[[UInt32]]] = []
        for path in paths {
            var y = [Float](repeating: 0, count: n), dx = start, dxOverwritten = start
            vitrine_gelu_forward_on(path, &y, x, n)
            vitrine_gelu_backward_on(path, &dx, dy, x, n, 1)
            vitrine_gelu_backward_on(path, &dxOverwritten, dy, x, n, 0)
            var pre = Array(x[0 ..< rows * width]), out = [Float](repeating: 0, count: rows * width)
            vitrine_bias_gelu_forward_on(path, &out, &pre, bias, rows, width)
            var preNoBias = Array(x[0 ..< rows * width]), outNoBias = out
            vitrine_bias_gelu_forward_on(path, &outNoBias, &preNoBias, nil, rows, width)
            results.append([y, dx, dxOverwritten, out, pre, outNoBias, preNoBias].map { $0.map(\.bitPattern) })
            // Without a bias, the fused kernel's output is the plain forward's.
            #expect(outNoBias.map(\.bitPattern) == Array(y[0 ..< rows * width]).map(\.bitPattern))
            // Accumulating adds to what was there; overwriting does not.
            #expect(zip(zip(dx, dxOverwritten), start).dropFirst(3).allSatisfy { abs($0.0 - ($0.1 + $1)) <= 1e-5 * max(1, abs($0.0)) })
        }
        for other in results.dropFirst() { #expect(other == results[0]) }
        #expect(results.count == paths.count && !paths.isEmpty)
    }
}

/// The attention kernel's paths (AVX-512, AVX2, plain C) agree to rounding on one head, for head
/// widths with and without whole 16-lane blocks, lengths around the blocks, a key mask (one row
/// with every key masked), attention dropout, and accumulated gradients; the values themselves
/// are checked against a float64 reference and finite differences in KernelForwardTests and
/// KernelGradientTests.
@Suite struct AttentionKernelPathTests {
    @Test(arguments: [(1, 1, 4), (5, 7, 8), (17, 3, 20), (36, 36, 32), (36, 50, 32), (86, 86, 48), (9, 70, 80)])
    func pathsAgree(_ sizes: (Int, Int, Int)) {
        let (tq, tk, d) = sizes, stride = d + 5
        var rng = SeededRNG(seed: UInt64(tq * 1000 + tk * 10 + d))
        func values(_ n: Int) -> [Float] { (0 ..< n).map { _ in rng.normal() } }
        let q = values(tq * stride), k = values(tk * stride), v = values(tk * stride), dOut = values(tq * stride)
        var mask = (0 ..< tk).map { _ in rng.uniform() < 0.2 ? Float(0) : 1 }
        mask[0] = 1
        let drop = (0 ..< tq * tk).map { _ in rng.uniform() < 0.1 ? Float(0) : Float(1) / 0.9 }
        let start = values(tq * stride), startK = values(tk * stride), startV = values(tk * stride)
        var results: [[Float]] = []
        for simd in [Int32(0), 256, 512] where simd <= vitrine_simd_width() {
            var out = [Float](repeating: 0, count: tq * stride), p = [Float](repeating: 0, count: tq * tk)
            var dropped = p, dq = start, dk = startK, dv = startV, ds = p
            var scratch = [Float](repeating: .nan, count: d * ((tk + 15) / 16 * 16))
            q.withUnsafeBufferPointer { q in k.withUnsafeBufferPointer { k in v.withUnsafeBufferPointer { v in
            dOut.withUnsafeBufferPointer { dOut in mask.withUnsafeBufferPointer { mask in drop.withUnsafeBufferPointer { drop in
            out.withUnsafeMutableBufferPointer { out in p.withUnsafeMutableBufferPointer { p in
            dropped.withUnsafeMutableBufferPointer { dropped in dq.withUnsafeMutableBufferPointer { dq in
            dk.withUnsafeMutableBufferPointer { dk in dv.withUnsafeMutableBufferPointer { dv in
                var head = vitrine_attention_head()
                head.query_length = tq; head.key_length = tk; head.head_dim = d; head.stride = stride
                head.scale = 1 / Float(d).squareRoot()
                head.query = q.baseAddress; head.key = k.baseAddress; head.value = v.baseAddress
                head.key_mask = mask.baseAddress; head.dropout_mask = drop.baseAddress
                head.dropped_probabilities = dropped.baseAddress; head.probabilities = p.baseAddress
                head.output = out.baseAddress; head.d_output = dOut.baseAddress
                head.d_query = dq.baseAddress; head.d_key = dk.baseAddress; head.d_value = dv.baseAddress
                vitrine_attention_head_forward_on(simd, &head, &scratch)
                vitrine_attention_head_backward_on(simd, &head, &scratch, &ds, 1)
            } } } } } } } } } } } }
            // Masked keys get exactly zero; every row sums to one.
            for t in 0 ..< tq {
                for j in 0 ..< tk where mask[j] == 0 { #expect(p[t * tk + j] == 0) }
                #expect(abs(p[t * tk ..< (t + 1) * tk].reduce(0, +) - 1) < 1e-5)
            }
            // Columns past the head width are untouched.
            for t in 0 ..< tq { #expect(out[t * stride + d ..< (t + 1) * stride].allSatisfy { $0 == 0 }) }
            results.append(out + p + dropped + dq + dk + dv)
        }
        #expect(!results.isEmpty)
        for other in results.dropFirst() {
            let worst = zip(other, results[0]).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst < 2e-5, "paths differ by \(worst) at Tq=\(tq) Tk=\(tk) D=\(d)")
        }
    }

    /// A row whose keys are all masked gives zero probabilities and a zero output.
    @Test func allMaskedRowIsZero() {
        let tq = 3, tk = 18, d = 16
        var rng = SeededRNG(seed: 5)
        let q = (0 ..< tq * d).map { _ in rng.normal() }, k = (0 ..< tk * d).map { _ in rng.normal() }
        let v = (0 ..< tk * d).map { _ in rng.normal() }, mask = [Float](repeating: 0, count: tk)
        for simd in [Int32(0), 256, 512] where simd <= vitrine_simd_width() {
            var out = [Float](repeating: .nan, count: tq * d), p = [Float](repeating: .nan, count: tq * tk)
            var scratch = [Float](repeating: 0, count: d * 32)
            q.withUnsafeBufferPointer { q in k.withUnsafeBufferPointer { k in v.withUnsafeBufferPointer { v in
            mask.withUnsafeBufferPointer { mask in out.withUnsafeMutableBufferPointer { out in p.withUnsafeMutableBufferPointer { p in
                var head = vitrine_attention_head()
                head.query_length = tq; head.key_length = tk; head.head_dim = d; head.stride = d; head.scale = 0.25
                head.query = q.baseAddress; head.key = k.baseAddress; head.value = v.baseAddress
                head.key_mask = mask.baseAddress; head.probabilities = p.baseAddress; head.output = out.baseAddress
                vitrine_attention_head_forward_on(simd, &head, &scratch)
            } } } } } }
            #expect(p.allSatisfy { $0 == 0 } && out.allSatisfy { $0 == 0 })
        }
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
