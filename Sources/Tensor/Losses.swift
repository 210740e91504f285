import Foundation

// The training losses of docs/model.md §5, each a forward function returning the
// scalar loss and a backward function taking dLoss (1 for a loss used alone,
// its weight in a weighted sum). Losses are accumulated in Double.

// MARK: - Softmax cross-entropy (MLM)

/// Mean softmax cross-entropy over the rows whose target is not `ignoreIndex`
/// (PyTorch's `F.cross_entropy(logits, targets, ignore_index=-100)`).
///
/// - Parameters:
///   - probabilities: `[rows, classes]`; each counted row receives its softmax
///     (ignored rows are left untouched). May alias `logits` (then the logits are
///     replaced, row by row, by probabilities).
///   - logits: `[rows, classes]`.
///   - targets: `[rows]`, each in `0 ..< classes` or equal to `ignoreIndex`.
/// - Returns: the mean loss over counted rows, or 0 if every row is ignored.
public func crossEntropyForward(probabilities: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
                                targets: UnsafePointer<Int32>, rows: Int, classes: Int,
                                ignoreIndex: Int32 = -100) -> Float {
    return KernelProfile.timed(.loss) {
        let counted = countTargets(targets, rows: rows, classes: classes, ignoreIndex: ignoreIndex)
        guard counted > 0 else { return 0 }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: rows) { rowLoss in
            Parallel.forEachRange(rows, workPerItem: 8 * classes) { range in
                for r in range {
                    let target = targets[r]
                    guard target != ignoreIndex else { rowLoss[r] = 0; continue }
                    let x = logits + r * classes, p = probabilities + r * classes
                    let m = vmax(x, classes)
                    let targetLogit = x[Int(target)]
                    let mv = F16(repeating: m)
                    var acc = F16(), i = 0
                    while i + 16 <= classes { let e = vexp(load16(x + i) - mv); store16(e, p + i); acc += e; i += 16 }
                    var total = hsum(acc)
                    if i < classes {
                        let e = vexp(loadPartial(x + i, classes - i, fill: m) - mv) * laneMask(classes - i)
                        storePartial(e, p + i, classes - i)
                        total += hsum(e)
                    }
                    scaleRow(p, classes, 1 / total)
                    rowLoss[r] = Double(logf(total)) + Double(m) - Double(targetLogit)
                }
            }
            var sum: Double = 0
            for r in 0..<rows { sum += rowLoss[r] }
            return Float(sum / Double(counted))
        }
    }
}

/// Backward of `crossEntropyForward`:
/// `dLogits[r, c] (+)= dLoss / count * (p[r, c] - [c == target_r])` for counted
/// rows; ignored rows get zero (or are left as they are when accumulating).
/// `dLogits` may alias `probabilities` when not accumulating.
public func crossEntropyBackward(dLogits: UnsafeMutablePointer<Float>, probabilities: UnsafePointer<Float>,
                                 targets: UnsafePointer<Int32>, rows: Int, classes: Int,
                                 ignoreIndex: Int32 = -100, dLoss: Float = 1, accumulate: Bool = false) {
    KernelProfile.timed(.loss) {
        let counted = countTargets(targets, rows: rows, classes: classes, ignoreIndex: ignoreIndex)
        let scale = counted > 0 ? dLoss / Float(counted) : 0
        Parallel.forEachRange(rows, workPerItem: 2 * classes) { range in
            for r in range {
                let d = dLogits + r * classes, p = probabilities + r * classes
                let target = targets[r]
                if target == ignoreIndex || counted == 0 {
                    if !accumulate { d.update(repeating: 0, count: classes) }
                    continue
                }
                let sv = F16(repeating: scale)
                var i = 0
                while i + 16 <= classes {
                    let g = load16(p + i) * sv
                    store16(accumulate ? load16(d + i) + g : g, d + i)
                    i += 16
                }
                while i < classes { let g = p[i] * scale; d[i] = accumulate ? d[i] + g : g; i += 1 }
                d[Int(target)] -= scale
            }
        }
    }
}

private func countTargets(_ targets: UnsafePointer<Int32>, rows: Int, classes: Int, ignoreIndex: Int32) -> Int {
    var counted = 0
    for r in 0..<rows {
        let t = targets[r]
        if t == ignoreIndex { continue }
        precondition(t >= 0 && Int(t) < classes,
                     "cross-entropy: target \(t) at row \(r) is neither a class in 0..<\(classes) nor the ignore index \(ignoreIndex)")
        counted += 1
    }
    return counted
}

// MARK: - Mean squared error over selected rows (MRM)

/// Mean squared error over the selected rows (`rowMask[r] != 0`, or every row
/// when nil): `Σ_selected Σ_d (prediction - target)² / (selected * width)`,
/// as PyTorch's `F.mse_loss(pred[sel], target[sel])`. 0 when nothing is selected.
public func mseForward(prediction: UnsafePointer<Float>, target: UnsafePointer<Float>,
                       rowMask: UnsafePointer<Float>?, rows: Int, width: Int) -> Float {
    return KernelProfile.timed(.loss) {
        var sum: Double = 0, selected = 0
        for r in 0..<rows where rowMask.map({ $0[r] != 0 }) ?? true {
            let p = prediction + r * width, t = target + r * width
            var acc = F16(), i = 0
            while i + 16 <= width { let d = load16(p + i) - load16(t + i); acc += d * d; i += 16 }
            var s = hsum(acc)
            while i < width { let d = p[i] - t[i]; s += d * d; i += 1 }
            sum += Double(s); selected += 1
        }
        guard selected > 0, width > 0 else { return 0 }
        return Float(sum / Double(selected * width))
    }
}

/// Backward of `mseForward`: `dPrediction (+)= dLoss * 2 (prediction - target) / (selected * width)`
/// on selected rows; unselected rows get zero (or are left alone when accumulating).
public func mseBackward(dPrediction: UnsafeMutablePointer<Float>, prediction: UnsafePointer<Float>,
                        target: UnsafePointer<Float>, rowMask: UnsafePointer<Float>?,
                        rows: Int, width: Int, dLoss: Float = 1, accumulate: Bool = false) {
    KernelProfile.timed(.loss) {
        var selected = 0
        for r in 0..<rows where rowMask.map({ $0[r] != 0 }) ?? true { selected += 1 }
        let scale = selected > 0 ? 2 * dLoss / Float(selected * width) : 0
        for r in 0..<rows {
            let d = dPrediction + r * width, p = prediction + r * width, t = target + r * width
            guard rowMask.map({ $0[r] != 0 }) ?? true else {
                if !accumulate { d.update(repeating: 0, count: width) }
                continue
            }
            var i = 0
            let sv = F16(repeating: scale)
            while i + 16 <= width {
                let g = (load16(p + i) - load16(t + i)) * sv
                store16(accumulate ? load16(d + i) + g : g, d + i)
                i += 16
            }
            while i < width { let g = (p[i] - t[i]) * scale; d[i] = accumulate ? d[i] + g : g; i += 1 }
        }
    }
}

// MARK: - NT-Xent (SimCLR), the CLR loss

/// SimCLR's NT-Xent over `2 * pairs` vectors: rows `0 ..< pairs` are one
/// modality (text) and rows `pairs ..< 2 * pairs` the other (image), row `i`'s
/// positive is row `(i + pairs) mod 2 * pairs`, and every other row except
/// itself is a negative. Similarities are dot products divided by
/// `temperature` (cosine similarities when the rows are unit vectors, as they
/// are in the model). The loss is the mean over the `2 * pairs` rows of
/// `-log softmax_{k != i}(s_ik)[positive]`.
///
/// - Parameters:
///   - probabilities: `[2P, 2P]`, receives the softmax of each row over k != i
///     (the diagonal is 0); the backward pass needs it.
///   - embeddings: `[2P, width]`.
public func ntXentForward(probabilities: UnsafeMutablePointer<Float>, embeddings: UnsafePointer<Float>,
                          pairs: Int, width: Int, temperature: Float = 0.07) -> Float {
    return KernelProfile.timed(.loss) {
        precondition(temperature > 0, "NT-Xent temperature must be positive, got \(temperature)")
        guard pairs > 0 else { return 0 }
        let n = 2 * pairs
        sgemm(transB: true, m: n, n: n, k: width, alpha: 1 / temperature, a: embeddings, b: embeddings,
              beta: 0, c: probabilities)
        var total: Double = 0
        for i in 0..<n {
            let s = probabilities + i * n
            let positive = s[(i + pairs) % n]
            s[i] = -.infinity
            let m = vmax(s, n)
            var sum: Float = 0
            for k in 0..<n {
                let e = k == i ? 0 : sexp(s[k] - m)
                s[k] = e; sum += e
            }
            let inv = 1 / sum
            for k in 0..<n { s[k] *= inv }
            total += Double(logf(sum)) + Double(m) - Double(positive)
        }
        return Float(total / Double(n))
    }
}

/// Backward of `ntXentForward`. With `G[i, k] = dLoss / 2P * (p_ik - [k = positive(i)])`,
/// `dEmbeddings (+)= (G + Gᵀ) · embeddings / temperature`. `scratch` is `[2P, 2P]`
/// floats of working memory.
public func ntXentBackward(dEmbeddings: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                           probabilities: UnsafePointer<Float>, embeddings: UnsafePointer<Float>,
                           pairs: Int, width: Int, temperature: Float = 0.07, dLoss: Float = 1,
                           accumulate: Bool = false) {
    KernelProfile.timed(.loss) {
        guard pairs > 0 else { return }
        let n = 2 * pairs
        let scale = dLoss / Float(n)
        for i in 0..<n {
            for k in 0..<n { scratch[i * n + k] = probabilities[i * n + k] * scale }
            scratch[i * n + (i + pairs) % n] -= scale
        }
        sgemm(m: n, n: width, k: n, alpha: 1 / temperature, a: scratch, b: embeddings,
              beta: accumulate ? 1 : 0, c: dEmbeddings)
        sgemm(transA: true, m: n, n: width, k: n, alpha: 1 / temperature, a: scratch, b: embeddings,
              beta: 1, c: dEmbeddings)
    }
}

// MARK: - Robust contrastive loss (fine-tuning)

/// Two rows of an embedding matrix and whether they show the same product.
public struct EmbeddingPair: Sendable, Hashable {
    public var first: Int
    public var second: Int
    public var isMatch: Bool
    public init(_ first: Int, _ second: Int, isMatch: Bool) {
        self.first = first; self.second = second; self.isMatch = isMatch
    }
}

/// The robust contrastive loss of docs/model.md §5.2, averaged over `pairs`:
/// `y * max(0, d - positiveMargin)² + (1 - y) * max(0, negativeMargin - d)²`,
/// `d` the Euclidean distance between the pair's rows of `embeddings`
/// (`[rows, width]`, unit vectors in the model). 0 for no pairs.
public func robustContrastiveForward(embeddings: UnsafePointer<Float>, rows: Int, width: Int,
                                     pairs: [EmbeddingPair], positiveMargin: Float,
                                     negativeMargin: Float) -> Float {
    guard !pairs.isEmpty else { return 0 }
    var total: Double = 0
    for pair in pairs {
        let d = pairDistance(embeddings, rows: rows, width: width, pair)
        let hinge = pair.isMatch ? max(0, d - positiveMargin) : max(0, negativeMargin - d)
        total += Double(hinge * hinge)
    }
    return Float(total / Double(pairs.count))
}

/// Backward of `robustContrastiveForward`, always accumulated into `dEmbeddings`
/// (pairs share rows). Where a distance is 0 its direction is undefined and the
/// pair contributes no gradient.
public func robustContrastiveBackward(dEmbeddings: UnsafeMutablePointer<Float>, embeddings: UnsafePointer<Float>,
                                      rows: Int, width: Int, pairs: [EmbeddingPair],
                                      positiveMargin: Float, negativeMargin: Float, dLoss: Float = 1) {
    guard !pairs.isEmpty else { return }
    let scale = dLoss / Float(pairs.count)
    for pair in pairs {
        let d = pairDistance(embeddings, rows: rows, width: width, pair)
        guard d > 0 else { continue }
        // dL/dd for this pair.
        let dd = pair.isMatch ? 2 * max(0, d - positiveMargin) : -2 * max(0, negativeMargin - d)
        guard dd != 0 else { continue }
        let g = scale * dd / d
        let a = embeddings + pair.first * width, b = embeddings + pair.second * width
        let da = dEmbeddings + pair.first * width, db = dEmbeddings + pair.second * width
        for i in 0..<width {
            let diff = g * (a[i] - b[i])
            da[i] += diff; db[i] -= diff
        }
    }
}

private func pairDistance(_ e: UnsafePointer<Float>, rows: Int, width: Int, _ pair: EmbeddingPair) -> Float {
    precondition(pair.first >= 0 && pair.first < rows && pair.second >= 0 && pair.second < rows,
                 "robust contrastive loss: pair (\(pair.first), \(pair.second)) outside the \(rows) embeddings")
    let a = e + pair.first * width, b = e + pair.second * width
    var s: Float = 0
    for i in 0..<width { let d = a[i] - b[i]; s += d * d }
    return s.squareRoot()
}
