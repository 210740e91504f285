import Tensor
import Testing

@Suite struct GEMMTests {
    /// Every combination of transposes against a naive triple loop.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matchesNaive(transA: Bool, transB: Bool) {
        let m = 5, n = 7, k = 3
        var rng = SeededRNG(seed: 11)
        let a = (0..<m * k).map { _ in rng.normal() }, b = (0..<k * n).map { _ in rng.normal() }
        func A(_ i: Int, _ p: Int) -> Float { transA ? a[p * m + i] : a[i * k + p] }
        func B(_ p: Int, _ j: Int) -> Float { transB ? b[j * k + p] : b[p * n + j] }
        var c = [Float](repeating: 1, count: m * n)
        c.withUnsafeMutableBufferPointer { cp in
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 2, a: a, b: b, beta: 0.5, c: cp.baseAddress!)
        }
        for i in 0..<m { for j in 0..<n {
            var s: Float = 0
            for p in 0..<k { s += A(i, p) * B(p, j) }
            #expect(abs(c[i * n + j] - (2 * s + 0.5)) < 1e-4)
        } }
    }
}
