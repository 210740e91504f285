import Tensor
import Testing

/// Finite-difference checks of every backward pass
@Suite struct KernelGradientTests {
    @Test func linear() {
        var rng = SeededRNG(seed: 1)
        let rows = 3, inF = 5, outF = 4
        let x = randomBuffer(rows * inF, &rng), w = randomBuffer(outF * inF, &rng), b = randomBuffer(outF, &rng)
        let y = FloatBuffer(count: rows * outF), dy = randomBuffer(rows * outF, &rng)
        let dx = FloatBuffer(count: x.count), dw = FloatBuffer(count: w.count), db = FloatBuffer(count: b.count)
        linearBackward(dInput: dx.pointer, dWeight: dw.pointer, dBias: db.pointer, dOutput: dy.pointer,
                       input: x.pointer, weight: w.pointer, rows: rows, inFeatures: inF, outFeatures: outF)
        let worst = GradientCheck().run([.init(name: "x", values: x, analytic: dx), .init(name: "W", values: w, analytic: dw),
                                         .init(name: "b", values: b, analytic: db)]) {
            linearForward(output: y.pointer, input: x.pointer, weight: w.pointer, bias: b.pointer,
                          rows: rows, inFeatures: inF, outFeatures: outF)
            return weightedSum(y, dy)
        }
        expectGradients("linear", worst)
    }

    @Test(arguments: [7, 20, 48])
    func layerNorm(width: Int) {
        var rng = SeededRNG(seed: 2)
        let rows = 3
        let x = randomBuffer(rows * width, &rng, scale: 2), w = randomBuffer(width, &rng), b = randomBuffer(width, &rng)
        for i in 0..<x.count { x[i] += 3 }  // a mean far from zero
        let y = FloatBuffer(count: x.count), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
        let dy = randomBuffer(x.count, &rng)
        let dx = FloatBuffer(count: x.count), dw = FloatBuffer(count: width), db = FloatBuffer(count: width)
        layerNormForward(output: y.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer,
                         weight: w.pointer, bias: b.pointer, rows: rows, width: width)
        layerNormBackward(dInput: dx.pointer, dWeight: dw.pointer, dBias: db.pointer, dOutput: dy.pointer,
                          input: x.pointer, weight: w.pointer, mean: mean.pointer, rstd: rstd.pointer,
                          rows: rows, width: width)
        let worst = GradientCheck().run([.init(name: "x", values: x, analytic: dx), .init(name: "weight", values: w, analytic: dw),
                                         .init(name: "bias", values: b, analytic: db)]) {
            layerNormForward(output: y.pointer, mean: mean.pointer, rstd: rstd.pointer, input: x.pointer,
                             weight: w.pointer, bias: b.pointer, rows: rows, width: width)
            return weightedSum(y, dy)
        }
        expectGradients("layerNorm width \(width)", worst)
    }

    @Test func gelu() {
        var rng = SeededRNG(seed: 3)
        let n = 53  // three full vectors and a tail
        let x = randomBuffer(n, &rng, scale: 2.5), y = FloatBuffer(count: n), dy = randomBuffer(n, &rng)
        let dx = FloatBuffer(count: n)
        geluBackward(dInput: dx.pointer, dOutput: dy.pointer, input: x.pointer, count: n)
        let worst = GradientCheck().run([.init(name: "x", values: x, analytic: dx)]) {
            geluForward(output: y.pointer, input: x.pointer, count: n)
            return weightedSum(y, dy)
        }
        expectGradients("gelu", worst)
    }

    /// Self attention with padded keys, cross attention with different lengths,
    /// and attention dropout.
    @Test(arguments: [(4, 4, false), (3, 5, false), (3, 19, false), (4, 6, true)])
    func attention(queryLength: Int, keyLength: Int, dropout: Bool) {
        var rng = SeededRNG(seed: 4)
        let shape = AttentionShape(batch: 2, queryLength: queryLength, keyLength: keyLength, heads: 2, headDim: 3)
        let C = shape.width
        let q = randomBuffer(2 * queryLength * C, &rng), k = randomBuffer(2 * keyLength * C, &rng)
        let v = randomBuffer(2 * keyLength * C, &rng)
        let mask = FloatBuffer(count: 2 * keyLength, repeating: 1)
        mask[keyLength - 1] = 0                       // item 0: last key padded
        mask[keyLength + keyLength - 1] = 0           // item 1: last two keys padded
        mask[keyLength + keyLength - 2] = 0
        let dropMask = FloatBuffer(count: shape.probabilityCount)
        let dropped = FloatBuffer(count: shape.probabilityCount)
        if dropout {
            var maskRNG = SeededRNG(seed: 40)
            dropoutMaskFill(dropMask.pointer, count: dropMask.count, probability: 0.3, rng: &maskRNG)
        }
        let out = FloatBuffer(count: q.count), probs = FloatBuffer(count: shape.probabilityCount)
        let scratch = FloatBuffer(count: shape.probabilityCount)
        let dOut = randomBuffer(out.count, &rng)
        let dq = FloatBuffer(count: q.count), dk = FloatBuffer(count: k.count), dv = FloatBuffer(count: v.count)
        func forward() {
            attentionForward(output: out.pointer, probabilities: probs.pointer, query: q.pointer, key: k.pointer,
                             value: v.pointer, keyMask: mask.pointer, shape: shape,
                             dropoutMask: dropout ? UnsafePointer(dropMask.pointer) : nil,
                             droppedProbabilities: dropout ? dropped.pointer : nil)
        }
        forward()
        attentionBackward(dQuery: dq.pointer, dKey: dk.pointer, dValue: dv.pointer, scratch: scratch.pointer,
                          dOutput: dOut.pointer, probabilities: probs.pointer, query: q.pointer, key: k.pointer,
                          value: v.pointer, shape: shape,
                          dropoutMask: dropout ? UnsafePointer(dropMask.pointer) : nil,
                          droppedProbabilities: dropout ? UnsafePointer(dropped.pointer) : nil)
        let worst = GradientCheck().run([.init(name: "q", values: q, analytic: dq), .init(name: "k", values: k, analytic: dk),
                                         .init(name: "v", values: v, analytic: dv)]) {
            forward()
            return weightedSum(out, dOut)
        }
        expectGradients("attention Tq=\(queryLength) Tk=\(keyLength) dropout=\(dropout)", worst)
        // Padded keys and values get no gradient at all.
        for (b, t) in [(0, keyLength - 1), (1, keyLength - 1), (1, keyLength - 2)] {
            for c in 0..<C {
                #expect(dk[(b * keyLength + t) * C + c] == 0)
                #expect(dv[(b * keyLength + t) * C + c] == 0)
            }
        }
    }

    @Test func embedding() {
        var rng = SeededRNG(seed: 5)
        let rows = 6, width = 5
        let ids: [Int32] = [2, 0, 2, 5, 2, 1, 0]  // repeats must add up
        let table = randomBuffer(rows * width, &rng), out = FloatBuffer(count: ids.count * width)
        let dOut = randomBuffer(out.count, &rng), dTable = FloatBuffer(count: table.count)
        ids.withUnsafeBufferPointer { idp in
            embeddingBackward(dTable: dTable.pointer, dOutput: dOut.pointer, ids: idp.baseAddress!, count: ids.count, width: width)
            let worst = GradientCheck().run([.init(name: "table", values: table, analytic: dTable)]) {
                embeddingForward(output: out.pointer, ids: idp.baseAddress!, table: table.pointer,
                                 count: ids.count, width: width, rows: rows)
                return weightedSum(out, dOut)
            }
            expectGradients("embedding", worst)
        }
        // Rows never looked up (3, 4) get nothing.
        for c in 0..<width { #expect(dTable[3 * width + c] == 0 && dTable[4 * width + c] == 0) }
    }

    @Test func dropout() {
        var rng = SeededRNG(seed: 6)
        let n = 40
        let x = randomBuffer(n, &rng), y = FloatBuffer(count: n), dy = randomBuffer(n, &rng)
        let mask = FloatBuffer(count: n), dx = FloatBuffer(count: n)
        var maskRNG = SeededRNG(seed: 60)
        dropoutMaskFill(mask.pointer, count: n, probability: 0.5, rng: &maskRNG)
        dropoutBackward(dInput: dx.pointer, dOutput: dy.pointer, mask: mask.pointer, count: n)
        let worst = GradientCheck().run([.init(name: "x", values: x, analytic: dx)]) {
            dropoutForward(output: y.pointer, input: x.pointer, mask: mask.pointer, count: n)
            return weightedSum(y, dy)
        }
        expectGradients("dropout", worst)
    }

    @Test func residual() {
        var rng = SeededRNG(seed: 7)
        let n = 21
        let a = randomBuffer(n, &rng), b = randomBuffer(n, &rng), y = FloatBuffer(count: n), dy = randomBuffer(n, &rng)
        let da = FloatBuffer(count: n), db = FloatBuffer(count: n)
        residualBackward(dA: da.pointer, dB: db.pointer, dOutput: dy.pointer, count: n)
        let worst = GradientCheck().run([.init(name: "a", values: a, analytic: da), .init(name: "b", values: b, analytic: db)]) {
            residualForward(output: y.pointer, a.pointer, b.pointer, count: n)
            return weightedSum(y, dy)
        }
        expectGradients("residual", worst)
    }

    @Test(arguments: [6, 20])
    func l2Normalize(width: Int) {
        var rng = SeededRNG(seed: 8)
        let rows = 3
        let x = randomBuffer(rows * width, &rng), y = FloatBuffer(count: x.count), norms = FloatBuffer(count: rows)
        let dy = randomBuffer(x.count, &rng), dx = FloatBuffer(count: x.count)
        l2NormalizeForward(output: y.pointer, norms: norms.pointer, input: x.pointer, rows: rows, width: width)
        l2NormalizeBackward(dInput: dx.pointer, dOutput: dy.pointer, output: y.pointer, norms: norms.pointer,
                            rows: rows, width: width)
        let worst = GradientCheck().run([.init(name: "x", values: x, analytic: dx)]) {
            l2NormalizeForward(output: y.pointer, norms: norms.pointer, input: x.pointer, rows: rows, width: width)
            return weightedSum(y, dy)
        }
        expectGradients("l2Normalize width \(width)", worst)
    }

    @Test(arguments: [7, 37])
    func crossEntropy(classes: Int) {
        var rng = SeededRNG(seed: 9)
        let rows = 5
        let targets: [Int32] = [1, -100, Int32(classes - 1), 0, 3]
        let logits = randomBuffer(rows * classes, &rng, scale: 2), probs = FloatBuffer(count: logits.count)
        let dLogits = FloatBuffer(count: logits.count)
        targets.withUnsafeBufferPointer { t in
            _ = crossEntropyForward(probabilities: probs.pointer, logits: logits.pointer, targets: t.baseAddress!,
                                    rows: rows, classes: classes)
            crossEntropyBackward(dLogits: dLogits.pointer, probabilities: probs.pointer, targets: t.baseAddress!,
                                 rows: rows, classes: classes, dLoss: 1.5)
            let worst = GradientCheck().run([.init(name: "logits", values: logits, analytic: dLogits)]) {
                1.5 * Double(crossEntropyForward(probabilities: probs.pointer, logits: logits.pointer,
                                                 targets: t.baseAddress!, rows: rows, classes: classes))
            }
            expectGradients("crossEntropy classes \(classes)", worst)
        }
        // The ignored row gets no gradient.
        for c in 0..<classes { #expect(dLogits[classes + c] == 0) }
    }

    @Test func mse() {
        var rng = SeededRNG(seed: 10)
        let rows = 4, width = 19
        let pred = randomBuffer(rows * width, &rng), target = randomBuffer(rows * width, &rng)
        let mask = FloatBuffer([1, 0, 1, 1]), dPred = FloatBuffer(count: pred.count)
        mseBackward(dPrediction: dPred.pointer, prediction: pred.pointer, target: target.pointer,
                    rowMask: mask.pointer, rows: rows, width: width, dLoss: 0.7)
        let worst = GradientCheck().run([.init(name: "prediction", values: pred, analytic: dPred)]) {
            0.7 * Double(mseForward(prediction: pred.pointer, target: target.pointer, rowMask: mask.pointer,
                                    rows: rows, width: width))
        }
        expectGradients("mse", worst)
        for c in 0..<width { #expect(dPred[width + c] == 0) }
    }

    @Test func ntXent() {
        var rng = SeededRNG(seed: 11)
        let pairs = 3, width = 5
        // Unit rows, as in the model, so the logits (cos / 0.07) have a realistic range.
        let z = randomBuffer(2 * pairs * width, &rng), norms = FloatBuffer(count: 2 * pairs)
        l2NormalizeForward(output: z.pointer, norms: norms.pointer, input: z.pointer, rows: 2 * pairs, width: width)
        let probs = FloatBuffer(count: 4 * pairs * pairs), scratch = FloatBuffer(count: probs.count)
        let dz = FloatBuffer(count: z.count)
        _ = ntXentForward(probabilities: probs.pointer, embeddings: z.pointer, pairs: pairs, width: width)
        ntXentBackward(dEmbeddings: dz.pointer, scratch: scratch.pointer, probabilities: probs.pointer,
                       embeddings: z.pointer, pairs: pairs, width: width)
        var check = GradientCheck()
        check.eps = 1e-3  // logits are scaled by 1/0.07: more curvature
        let worst = check.run([.init(name: "z", values: z, analytic: dz)]) {
            Double(ntXentForward(probabilities: probs.pointer, embeddings: z.pointer, pairs: pairs, width: width))
        }
        expectGradients("ntXent", worst)
    }

    @Test func robustContrastive() {
        var rng = SeededRNG(seed: 12)
        let rows = 5, width = 4
        let e = randomBuffer(rows * width, &rng, scale: 0.5), de = FloatBuffer(count: e.count)
        // Margins chosen so some hinges are active and some are not, away from the kinks.
        let pairs = [EmbeddingPair(0, 1, isMatch: true), EmbeddingPair(0, 2, isMatch: false),
                     EmbeddingPair(3, 4, isMatch: true), EmbeddingPair(1, 3, isMatch: false),
                     EmbeddingPair(2, 4, isMatch: false)]
        var distances: [Float] = []
        for p in pairs {
            var s: Float = 0
            for c in 0..<width { let d = e[p.first * width + c] - e[p.second * width + c]; s += d * d }
            distances.append(s.squareRoot())
        }
        let positiveMargin: Float = 0.3, negativeMargin: Float = 1.2
        for d in distances {
            #expect(abs(d - positiveMargin) > 0.01 && abs(d - negativeMargin) > 0.01, "test data sits on a kink")
        }
        robustContrastiveBackward(dEmbeddings: de.pointer, embeddings: e.pointer, rows: rows, width: width, pairs: pairs,
                                  positiveMargin: positiveMargin, negativeMargin: negativeMargin)
        let worst = GradientCheck().run([.init(name: "embeddings", values: e, analytic: de)]) {
            Double(robustContrastiveForward(embeddings: e.pointer, rows: rows, width: width, pairs: pairs,
                                            positiveMargin: positiveMargin, negativeMargin: negativeMargin))
        }
        expectGradients("robustContrastive", worst)
        // Loss value against the formula.
        var expected: Double = 0
        for (p, d) in zip(pairs, distances) {
            let h = p.isMatch ? max(0, d - positiveMargin) : max(0, negativeMargin - d)
            expected += Double(h * h)
        }
        expected /= Double(pairs.count)
        let loss = robustContrastiveForward(embeddings: e.pointer, rows: rows, width: width, pairs: pairs,
                                            positiveMargin: positiveMargin, negativeMargin: negativeMargin)
        #expect(abs(Double(loss) - expected) < 1e-6)
    }
}
