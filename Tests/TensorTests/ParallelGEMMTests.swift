import Tensor
import Testing

@Suite struct ParallelGEMMTests {
    /// Large enough to be split (by rows, and by columns when C is wide and short),
    /// with strides wider than the matrices, against the single-call sgemm.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matchesSingleCall(transA: Bool, transB: Bool) {
        for (m, n, k) in [(150, 130, 120), (40, 700, 90)] {
            var rng = SeededRNG(seed: 17)
            let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 5, ldc = n + 2
            let a = (0..<(transA ? k : m) * lda).map { _ in rng.normal() }
            let b = (0..<(transB ? n : k) * ldb).map { _ in rng.normal() }
            var expected = (0..<m * ldc).map { _ in rng.normal() }
            var split = expected
            expected.withUnsafeMutableBufferPointer { c in
                sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                      beta: 0.25, c: c.baseAddress!, ldc: ldc)
            }
            split.withUnsafeMutableBufferPointer { c in
                parallelSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb,
                              beta: 0.25, c: c.baseAddress!, ldc: ldc)
            }
            var worst: Float = 0
            for i in 0..<expected.count { worst = max(worst, abs(expected[i] - split[i])) }
            #expect(worst < 1e-3, "m=\(m) n=\(n) k=\(k): \(worst)")
        }
    }
}
