/// A seeded random number generator: xoshiro256** seeded through SplitMix64.
/// Every random choice in training (initialisation, masking, dropout,
/// shuffling) draws from one of these, so a run is deterministic for a seed.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Float {
        Float(next() >> 40) * (1.0 / Float(1 << 24))
    }

    /// Standard normal (Box-Muller).
    public mutating func normal() -> Float {
        var u1 = uniform()
        if u1 < 1e-7 { u1 = 1e-7 }
        let u2 = uniform()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }

    /// Uniform integer in 0 ..< n.
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }
}

#if canImport(Glibc)
import Glibc
#endif
