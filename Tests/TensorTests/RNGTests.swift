import Tensor
import Testing

@Suite struct RNGTests {
    @Test func sameSeedSameStream() {
        var a = SeededRNG(seed: 7), b = SeededRNG(seed: 7), c = SeededRNG(seed: 8)
        let xa = (0..<100).map { _ in a.next() }
        #expect(xa == (0..<100).map { _ in b.next() })
        #expect(xa != (0..<100).map { _ in c.next() })
    }

    @Test func normalHasUnitMoments() {
        var r = SeededRNG(seed: 1)
        let n = 200_000
        var sum: Double = 0, sq: Double = 0
        for _ in 0..<n { let v = Double(r.normal()); sum += v; sq += v * v }
        let mean = sum / Double(n), variance = sq / Double(n) - mean * mean
        #expect(abs(mean) < 0.01)
        #expect(abs(variance - 1) < 0.02)
    }

    @Test func uniformStaysInRange() {
        var r = SeededRNG(seed: 3)
        for _ in 0..<10_000 { let u = r.uniform(); #expect(u >= 0 && u < 1) }
        for _ in 0..<1000 { #expect((0..<5).contains(r.below(5))) }
    }
}
