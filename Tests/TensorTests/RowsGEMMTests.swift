import Tensor
import Testing

/// The AVX-512 few-rows kernel behind `linearForward` (see `RowsGEMM`). Skipped
/// on processors without AVX-512, where `linearForward` uses OpenBLAS only.
@Suite(.enabled(if: RowsGEMM.isSupported, "the processor has no AVX-512F/DQ"))
struct RowsGEMMTests {
    /// Every shape class of the blocking (rows and columns beyond a multiple of
    /// 4, depths beyond a multiple of 16, depth 0), with strides wider than the
    /// matrices, against a double-precision reference, within float rounding of
    /// the sum of |a||w|; the padding between rows of C is left untouched.
    @Test func matchesDoublePrecisionReference() {
        var rng = SeededRNG(seed: 5)
        for m in [1, 2, 3, 4, 5, 7, 9, 16, 37] {
            for n in [1, 2, 3, 4, 5, 7, 8, 13, 64 + 3] {
                for k in [0, 1, 5, 15, 16, 17, 33, 100] {
                    let lda = k + 3, ldw = k + 1, ldc = n + 2
                    let a = (0..<m * lda).map { _ in rng.normal() }
                    let w = (0..<n * ldw).map { _ in rng.normal() }
                    let bias = (0..<n).map { _ in rng.normal() }
                    for withBias in [false, true] {
                        var c = [Float](repeating: 99, count: m * ldc)
                        c.withUnsafeMutableBufferPointer { out in
                            bias.withUnsafeBufferPointer { b in
                                RowsGEMM.multiply(rows: m, columns: n, depth: k, a: a, lda: lda, w: w, ldw: ldw,
                                                  bias: withBias ? b.baseAddress : nil, c: out.baseAddress!, ldc: ldc)
                            }
                        }
                        for i in 0..<m {
                            for j in 0..<ldc {
                                let got = c[i * ldc + j]
                                guard j < n else {
                                    #expect(got == 99, "padding written at (\(i), \(j))"); continue
                                }
                                var exact = withBias ? Double(bias[j]) : 0, magnitude = abs(exact)
                                for p in 0..<k {
                                    let term = Double(a[i * lda + p]) * Double(w[j * ldw + p])
                                    exact += term; magnitude += abs(term)
                                }
                                let tolerance = 1e-6 * magnitude + 1e-30
                                #expect(abs(Double(got) - exact) <= tolerance,
                                        "m \(m) n \(n) k \(k) bias \(withBias) at (\(i), \(j)): \(got) vs \(exact)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// An output is the same to the bit whether it is computed alone, in a
    /// block of 4, or in the whole product: a caption's embedding does not depend
    /// on what else is in the batch or on how the columns are split over threads.
    @Test func outputsDoNotDependOnTheirNeighbours() {
        var rng = SeededRNG(seed: 9)
        let m = 11, n = 23, k = 150
        let a = (0..<m * k).map { _ in rng.normal() }
        let w = (0..<n * k).map { _ in rng.normal() }
        let bias = (0..<n).map { _ in rng.normal() }
        var whole = [Float](repeating: 0, count: m * n)
        whole.withUnsafeMutableBufferPointer { c in
            RowsGEMM.multiply(rows: m, columns: n, depth: k, a: a, lda: k, w: w, ldw: k, bias: bias,
                              c: c.baseAddress!, ldc: n)
        }
        for i in 0..<m {
            for j in 0..<n {
                var one: Float = 0
                a.withUnsafeBufferPointer { ap in
                    w.withUnsafeBufferPointer { wp in
                        bias.withUnsafeBufferPointer { bp in
                            RowsGEMM.multiply(rows: 1, columns: 1, depth: k, a: ap.baseAddress! + i * k, lda: k,
                                              w: wp.baseAddress! + j * k, ldw: k, bias: bp.baseAddress! + j,
                                              c: &one, ldc: 1)
                        }
                    }
                }
                #expect(one.bitPattern == whole[i * n + j].bitPattern, "(\(i), \(j)): \(one) vs \(whole[i * n + j])")
            }
        }
    }

    /// `linearForward` (kernel at `maximumRows` rows and below, split over the
    /// cores, OpenBLAS above) agrees with OpenBLAS's sgemm on MiniLM's shapes.
    @Test(arguments: [1, 16, RowsGEMM.maximumRows, RowsGEMM.maximumRows + 1])
    func linearForwardMatchesOpenBLAS(rows: Int) {
        var rng = SeededRNG(seed: UInt64(rows))
        for (inFeatures, outFeatures) in [(384, 384), (384, 1536), (1536, 384), (50, 7)] {
            let input = (0..<rows * inFeatures).map { _ in rng.normal() }
            let weight = (0..<outFeatures * inFeatures).map { _ in rng.normal() * 0.05 }
            let bias = (0..<outFeatures).map { _ in rng.normal() }
            var expected = (0..<rows).flatMap { _ in bias }
            expected.withUnsafeMutableBufferPointer { c in
                sgemm(transB: true, m: rows, n: outFeatures, k: inFeatures, a: input, b: weight, beta: 1,
                      c: c.baseAddress!)
            }
            var got = [Float](repeating: .nan, count: rows * outFeatures)
            got.withUnsafeMutableBufferPointer { c in
                linearForward(output: c.baseAddress!, input: input, weight: weight, bias: bias, rows: rows,
                              inFeatures: inFeatures, outFeatures: outFeatures)
            }
            var worst: Float = 0
            for i in 0..<got.count { worst = max(worst, abs(got[i] - expected[i]) / max(1, abs(expected[i]))) }
            #expect(worst < 1e-5, "rows \(rows), \(inFeatures) -> \(outFeatures): \(worst)")
        }
    }
}
