import Foundation
import Tensor
import Testing

/// Forward passes against plain Double implementations, on shapes small enough
/// to run inline and large enough to be split over threads.
@Suite struct KernelForwardTests {
    func maxRelativeDifference(_ a: FloatBuffer, _ b: [Double]) -> Double {
        var scale: Double = 1e-6
        for x in b { scale = max(scale, abs(x)) }
        var worst: Double = 0
        for i in 0..<a.count { worst = max(worst, abs(Double(a[i]) - b[i]) / scale) }
        return worst
    }

    @Test(arguments: [(3, 5, 4), (300, 384, 96)])
    func linear(rows: Int, inF: Int, outF: Int) {
        var rng = SeededRNG(seed: 20)
        let x = randomBuffer(rows * inF, &rng), w = randomBuffer(outF * inF, &rng), b = randomBuffer(outF, &rng)
        let y = FloatBuffer(count: rows * outF)
        linearForward(output: y.pointer, input: x.pointer, weight: w.pointer, bias: b.pointer,
                      rows: rows, inFeatures: inF, outFeatures: outF)
        var expected = [Double](repeating: 0, count: rows * outF)
        for n in 0..<rows { for o in 0..<outF {
            var s = Double(b[o])
            for i in 0..<inF { s += Double(x[n * inF + i]) * Double(w[o * inF + i]) }
            expected[n * outF + o] = s
        } }
        #expect(maxRelativeDifference(y, expected) < 1e-5)
    }

    @Test func linearGradientsAccumulate() {
        var rng = SeededRNG(seed: 21)
        let x = randomBuffer(6, &rng), w = randomBuffer(6, &rng), dy = randomBuffer(4, &rng)
        let dx = FloatBuffer(count: 6), dw = FloatBuffer(count: 6), db = FloatBuffer(count: 2)
        for _ in 0..<2 {
            linearBackward(dInput: dx.pointer, dWeight: dw.pointer, dBias: db.pointer, dOutput: dy.pointer,
                           input: x.pointer, weight: w.pointer, rows: 2, inFeatures: 3, outFeatures: 2)
        }
        // Parameter gradients add up over the two calls; the input gradient is overwritten.
        #expect(abs(db[0] - 2 * (dy[0] + dy[2])) < 1e-5)
        #expect(abs(dw[0] - 2 * (dy[0] * x[0] + dy[2] * x[3])) < 1e-5)
        #expect(abs(dx[0] - (dy[0] * w[0] + dy[1] * w[3])) < 1e-5)
        linearBackward(dInput: dx.pointer, dWeight: nil, dBias: nil, dOutput: dy.pointer, input: x.pointer,
                       weight: w.pointer, rows: 2, inFeatures: 3, outFeatures: 2, accumulateInput: true)
        #expect(abs(dx[0] - 2 * (dy[0] * w[0] + dy[1] * w[3])) < 1e-5)
    }

    @Test(arguments: [(2, 7), (500, 384)])
    func layerNorm(rows: Int, width: Int) {
        var rng = SeededRNG(seed: 22)
        let x = randomBuffer(rows * width, &rng, scale: 3), w = randomBuffer(width, &rng), b = randomBuffer(width, &rng)
        for i in 0..<x.count { x[i] += 100 }  // a large mean must not cost precision
        let y = FloatBuffer(count: x.count), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
        layerNormForward(output: y.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer,
                         weight: w.pointer, bias: b.pointer, rows: rows, width: width, eps: 1e-12)
        var expected = [Double](repeating: 0, count: x.count)
        for r in 0..<rows {
            var m: Double = 0
            for c in 0..<width { m += Double(x[r * width + c]) }
            m /= Double(width)
            var v: Double = 0
            for c in 0..<width { let d = Double(x[r * width + c]) - m; v += d * d }
            v /= Double(width)
            for c in 0..<width {
                expected[r * width + c] = (Double(x[r * width + c]) - m) / (v + 1e-12).squareRoot() * Double(w[c]) + Double(b[c])
            }
        }
        #expect(maxRelativeDifference(y, expected) < 1e-4)
    }

    @Test func geluMatchesErf() {
        let n = 4001
        let x = FloatBuffer(count: n), y = FloatBuffer(count: n)
        for i in 0..<n { x[i] = -10 + 20 * Float(i) / Float(n - 1) }
        geluForward(output: y.pointer, input: x.pointer, count: n)
        // erfc's fit has relative error below 1.2e-7, so GELU stays within a few
        // float32 roundings of the exact value, in the left tail too.
        var worstAbsolute: Double = 0, worstRelative: Double = 0
        for i in 0..<n {
            let v = Double(x[i])
            let exact = v * 0.5 * (1 + erf(v / 2.0.squareRoot()))
            let error = abs(Double(y[i]) - exact)
            worstAbsolute = max(worstAbsolute, error / max(1, abs(v)))
            if abs(exact) >= 1e-2 { worstRelative = max(worstRelative, error / abs(exact)) }
        }
        print("gelu forward against erf: worst absolute error / max(1, |x|) \(worstAbsolute), worst relative error where |gelu| >= 0.01 \(worstRelative)")
        #expect(worstAbsolute < 2e-7)
        #expect(worstRelative < 1e-6)
        // In place gives the same values.
        let z = FloatBuffer(count: n); z.copy(from: x)
        geluForward(output: z.pointer, input: z.pointer, count: n)
        #expect(z.array == y.array)
    }

    /// Naive attention in Double: returns (output, probabilities).
    func referenceAttention(_ q: FloatBuffer, _ k: FloatBuffer, _ v: FloatBuffer, _ mask: FloatBuffer?,
                            _ s: AttentionShape) -> ([Double], [Double]) {
        let C = s.width
        var out = [Double](repeating: 0, count: s.batch * s.queryLength * C)
        var probs = [Double](repeating: 0, count: s.probabilityCount)
        for b in 0..<s.batch { for h in 0..<s.heads { for t in 0..<s.queryLength {
            var scores = [Double](repeating: -.infinity, count: s.keyLength)
            for u in 0..<s.keyLength where mask.map({ $0[b * s.keyLength + u] != 0 }) ?? true {
                var dot: Double = 0
                for d in 0..<s.headDim {
                    dot += Double(q[(b * s.queryLength + t) * C + h * s.headDim + d]) * Double(k[(b * s.keyLength + u) * C + h * s.headDim + d])
                }
                scores[u] = dot / Double(s.headDim).squareRoot()
            }
            let m = scores.max()!
            guard m > -.infinity else { continue }
            let e = scores.map { exp($0 - m) }
            let total = e.reduce(0, +)
            for u in 0..<s.keyLength {
                let p = e[u] / total
                probs[((b * s.heads + h) * s.queryLength + t) * s.keyLength + u] = p
                for d in 0..<s.headDim {
                    out[(b * s.queryLength + t) * C + h * s.headDim + d] += p * Double(v[(b * s.keyLength + u) * C + h * s.headDim + d])
                }
            }
        } } }
        return (out, probs)
    }

    @Test(arguments: [AttentionShape(batch: 2, queryLength: 3, keyLength: 5, heads: 2, headDim: 4),
                      AttentionShape(batch: 3, queryLength: 40, keyLength: 37, heads: 4, headDim: 16)])
    func attention(shape: AttentionShape) {
        var rng = SeededRNG(seed: 23)
        let C = shape.width
        let q = randomBuffer(shape.batch * shape.queryLength * C, &rng), k = randomBuffer(shape.batch * shape.keyLength * C, &rng)
        let v = randomBuffer(k.count, &rng)
        let mask = FloatBuffer(count: shape.batch * shape.keyLength, repeating: 1)
        for b in 0..<shape.batch { for u in 0..<b { mask[b * shape.keyLength + shape.keyLength - 1 - u] = 0 } }
        let out = FloatBuffer(count: q.count), probs = FloatBuffer(count: shape.probabilityCount)
        attentionForward(output: out.pointer, probabilities: probs.pointer, query: q.pointer, key: k.pointer,
                         value: v.pointer, keyMask: mask.pointer, shape: shape)
        let (expectedOut, expectedProbs) = referenceAttention(q, k, v, mask, shape)
        #expect(maxRelativeDifference(out, expectedOut) < 1e-5)
        #expect(maxRelativeDifference(probs, expectedProbs) < 1e-5)
        // Without a mask as well.
        attentionForward(output: out.pointer, probabilities: probs.pointer, query: q.pointer, key: k.pointer,
                         value: v.pointer, keyMask: nil, shape: shape)
        let (unmaskedOut, _) = referenceAttention(q, k, v, nil, shape)
        #expect(maxRelativeDifference(out, unmaskedOut) < 1e-5)
    }

    /// A batch item whose keys are all padding: zeros, no NaN, and no gradient.
    @Test func fullyMaskedRowsAreZero() {
        var rng = SeededRNG(seed: 24)
        let shape = AttentionShape(batch: 2, queryLength: 3, keyLength: 4, heads: 2, headDim: 2)
        let C = shape.width
        let q = randomBuffer(2 * 3 * C, &rng), k = randomBuffer(2 * 4 * C, &rng), v = randomBuffer(2 * 4 * C, &rng)
        let mask = FloatBuffer([1, 1, 0, 1, 0, 0, 0, 0])
        let out = FloatBuffer(count: q.count, repeating: .nan), probs = FloatBuffer(count: shape.probabilityCount, repeating: .nan)
        attentionForward(output: out.pointer, probabilities: probs.pointer, query: q.pointer, key: k.pointer,
                         value: v.pointer, keyMask: mask.pointer, shape: shape)
        #expect(out.array.allSatisfy { $0.isFinite })
        #expect(probs.array.allSatisfy { $0.isFinite })
        // Item 1: everything zero.
        #expect(out.array[(3 * C)...].allSatisfy { $0 == 0 })
        #expect(probs.array[(2 * 3 * 4)...].allSatisfy { $0 == 0 })
        // Item 0: rows sum to one, the masked key gets exactly zero.
        for row in 0..<(2 * 3) {
            let p = probs.array[(row * 4)..<(row * 4 + 4)]
            #expect(abs(p.reduce(0, +) - 1) < 1e-6)
            #expect(p[p.startIndex + 2] == 0)
        }
        let dOut = randomBuffer(out.count, &rng), scratch = FloatBuffer(count: shape.probabilityCount)
        let dq = FloatBuffer(count: q.count), dk = FloatBuffer(count: k.count), dv = FloatBuffer(count: v.count)
        attentionBackward(dQuery: dq.pointer, dKey: dk.pointer, dValue: dv.pointer, scratch: scratch.pointer,
                          dOutput: dOut.pointer, probabilities: probs.pointer, query: q.pointer, key: k.pointer,
                          value: v.pointer, shape: shape)
        for g in [dq, dk, dv] { #expect(g.array.allSatisfy { $0.isFinite }) }
        #expect(dq.array[(3 * C)...].allSatisfy { $0 == 0 })
        #expect(dk.array[(4 * C)...].allSatisfy { $0 == 0 })
    }

    @Test func crossEntropyValue() {
        var rng = SeededRNG(seed: 25)
        let rows = 6, classes = 1000
        let logits = randomBuffer(rows * classes, &rng, scale: 4), probs = FloatBuffer(count: logits.count)
        let targets: [Int32] = [5, -100, 999, 0, -100, 17]
        let loss = targets.withUnsafeBufferPointer {
            crossEntropyForward(probabilities: probs.pointer, logits: logits.pointer, targets: $0.baseAddress!,
                                rows: rows, classes: classes)
        }
        var expected: Double = 0
        for (r, t) in targets.enumerated() where t >= 0 {
            let row = (0..<classes).map { Double(logits[r * classes + $0]) }
            let m = row.max()!
            expected += log(row.map { exp($0 - m) }.reduce(0, +)) + m - row[Int(t)]
            let total = (0..<classes).reduce(Float(0)) { $0 + probs[r * classes + $1] }
            #expect(abs(total - 1) < 1e-4)
        }
        expected /= 4
        #expect(abs(Double(loss) - expected) < 1e-5 * max(1, expected))
        // Every row ignored: zero loss, zero gradient.
        let ignored = [Int32](repeating: -100, count: rows)
        ignored.withUnsafeBufferPointer { t in
            #expect(crossEntropyForward(probabilities: probs.pointer, logits: logits.pointer, targets: t.baseAddress!,
                                        rows: rows, classes: classes) == 0)
            crossEntropyBackward(dLogits: probs.pointer, probabilities: probs.pointer, targets: t.baseAddress!,
                                 rows: rows, classes: classes)
            #expect(probs.array.allSatisfy { $0 == 0 })
        }
    }

    @Test func ntXentValue() {
        var rng = SeededRNG(seed: 26)
        let pairs = 4, width = 8, n = 8
        let z = randomBuffer(n * width, &rng), norms = FloatBuffer(count: n)
        l2NormalizeForward(output: z.pointer, norms: norms.pointer, input: z.pointer, rows: n, width: width)
        let probs = FloatBuffer(count: n * n)
        let loss = ntXentForward(probabilities: probs.pointer, embeddings: z.pointer, pairs: pairs, width: width, temperature: 0.07)
        var expected: Double = 0
        for i in 0..<n {
            func sim(_ a: Int, _ b: Int) -> Double {
                (0..<width).reduce(0) { $0 + Double(z[a * width + $1]) * Double(z[b * width + $1]) } / 0.07
            }
            let others = (0..<n).filter { $0 != i }.map { sim(i, $0) }
            let m = others.max()!
            expected += log(others.map { exp($0 - m) }.reduce(0, +)) + m - sim(i, (i + pairs) % n)
            #expect(probs[i * n + i] == 0)
        }
        expected /= Double(n)
        #expect(abs(Double(loss) - expected) < 1e-4 * max(1, expected))
        // Perfectly aligned pairs far from everything else: loss near zero.
        let aligned = FloatBuffer(count: n * width)
        for p in 0..<pairs { aligned[p * width + p] = 1; aligned[(p + pairs) * width + p] = 1 }
        let small = ntXentForward(probabilities: probs.pointer, embeddings: aligned.pointer, pairs: pairs, width: width)
        #expect(small < 1e-4)
    }

    @Test func mseValue() {
        let pred = FloatBuffer([1, 2, 3, 4, 5, 6]), target = FloatBuffer([1, 0, 3, 0, 0, 6])
        // Rows 0 and 2 selected: squared errors 0 + 4 and 25 + 0 over 4 elements.
        let mask = FloatBuffer([1, 0, 1])
        #expect(mseForward(prediction: pred.pointer, target: target.pointer, rowMask: mask.pointer, rows: 3, width: 2) == 29.0 / 4)
        #expect(mseForward(prediction: pred.pointer, target: target.pointer, rowMask: nil, rows: 3, width: 2) == 45.0 / 6)
        let none = FloatBuffer(count: 3)
        #expect(mseForward(prediction: pred.pointer, target: target.pointer, rowMask: none.pointer, rows: 3, width: 2) == 0)
    }

    @Test func l2NormalizeGivesUnitRows() {
        var rng = SeededRNG(seed: 27)
        let x = randomBuffer(5 * 33, &rng), y = FloatBuffer(count: x.count), norms = FloatBuffer(count: 5)
        for c in 0..<33 { x[2 * 33 + c] = 0 }  // a zero row stays zero, without NaN
        l2NormalizeForward(output: y.pointer, norms: norms.pointer, input: x.pointer, rows: 5, width: 33)
        for r in 0..<5 {
            let s = (0..<33).reduce(Float(0)) { $0 + y[r * 33 + $1] * y[r * 33 + $1] }
            #expect(r == 2 ? s == 0 : abs(s - 1) < 1e-5)
        }
    }

    @Test func embeddingLookup() {
        let table = FloatBuffer((0..<12).map(Float.init))  // 4 rows of 3
        let out = FloatBuffer(count: 9)
        let ids: [Int32] = [3, 0, 3]
        ids.withUnsafeBufferPointer { embeddingForward(output: out.pointer, ids: $0.baseAddress!, table: table.pointer, count: 3, width: 3, rows: 4) }
        #expect(out.array == [9, 10, 11, 0, 1, 2, 9, 10, 11])
    }

    @Test func dropoutMaskStatisticsAndDeterminism() {
        let n = 100_003
        let a = FloatBuffer(count: n), b = FloatBuffer(count: n)
        var r1 = SeededRNG(seed: 5), r2 = SeededRNG(seed: 5)
        dropoutMaskFill(a.pointer, count: n, probability: 0.1, rng: &r1)
        dropoutMaskFill(b.pointer, count: n, probability: 0.1, rng: &r2)
        #expect(a.array == b.array)
        let dropped = a.array.filter { $0 == 0 }.count
        #expect(abs(Double(dropped) / Double(n) - 0.1) < 0.005)
        #expect(a.array.allSatisfy { $0 == 0 || abs($0 - 1 / 0.9) < 1e-6 })
        // The next mask from the same generator differs.
        dropoutMaskFill(b.pointer, count: n, probability: 0.1, rng: &r1)
        #expect(a.array != b.array)
    }

    @Test func parallelChunksCoverRange() {
        for count in [1, 2, 3, 10, 101] {
            for tasks in 1...4 {
                var covered: [Int] = []
                for t in 0..<tasks { covered += Array(Parallel.chunk(t, of: tasks, count: count)) }
                #expect(covered == Array(0..<count))
            }
        }
    }
}
