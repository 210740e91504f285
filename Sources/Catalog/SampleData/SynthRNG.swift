import Support
/// The random number generator of the SampleData generator: xoshiro256**,
/// seeded through SplitMix64.
///
/// Every draw is defined here, bit for bit (no `Int.random(in:)` or
/// `Float.random(in:)` from the standard library, whose algorithms may change
/// between Swift versions), so the same seed always gives the same dataset.
/// Generators are derived from a seed and a *key path* (for example the seed,
/// the split and the image index), so independent pieces of work (one image
/// each) have independent streams and can run in any order, on any thread.
struct SynthRNG: Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// A generator for `seed` and the given key path.
    init(seed: UInt64, _ keys: UInt64...) {
        self.init(seed: seed, keys: keys)
    }

    init(seed: UInt64, keys: [UInt64]) {
        var h = Self.mix(seed ^ 0x5641_5452_494E_4521) // "VATRINE!"-ish salt
        for k in keys {
            h = Self.mix(h ^ Self.mix(k &+ 0x9E37_79B9_7F4A_7C15))
        }
        var sm = h
        s0 = Self.splitMix(&sm)
        s1 = Self.splitMix(&sm)
        s2 = Self.splitMix(&sm)
        s3 = Self.splitMix(&sm)
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 } // the one forbidden state
    }

    /// A key for a short ASCII tag such as "gallery" (FNV-1a, 64 bit).
    static func key(_ tag: String) -> UInt64 { FNV1a.hash(tag) }

    /// SplitMix64's finaliser: a bijective 64-bit mix.
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix(state)
    }

    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits (xoshiro256**).
    mutating func next() -> UInt64 {
        let result = Self.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Self.rotl(s3, 45)
        return result
    }

    /// A uniform integer in `0 ..< bound` (multiply-high; the bias is below 2^-40 for bounds used here).
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "SynthRNG.below: bound must be positive")
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A uniform integer in the closed range.
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// A uniform float in [0, 1) with 24 random bits.
    mutating func unit() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// A uniform float in `lo ..< hi`.
    mutating func float(_ lo: Float, _ hi: Float) -> Float {
        lo + (hi - lo) * unit()
    }

    /// A float in `-amplitude ..< amplitude`, more often near 0 (triangular).
    mutating func jitter(_ amplitude: Float) -> Float {
        (unit() - unit()) * amplitude
    }

    /// True with probability `p`.
    mutating func chance(_ p: Float) -> Bool { unit() < p }

    /// One element, uniformly.
    mutating func pick<T>(_ items: [T]) -> T {
        items[below(items.count)]
    }

    /// One index, with probability proportional to its weight.
    mutating func weighted(_ weights: [Float]) -> Int {
        var total: Float = 0
        for w in weights { total += w }
        var r = unit() * total
        for (i, w) in weights.enumerated() {
            if r < w { return i }
            r -= w
        }
        return weights.count - 1
    }

    /// Fisher-Yates shuffle with this generator.
    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            let j = below(i + 1)
            if i != j { items.swapAt(i, j) }
        }
    }

    /// `count` distinct elements in random order (all of them when `count >= items.count`).
    mutating func sample<T>(_ items: [T], count: Int) -> [T] {
        var copy = items
        shuffle(&copy)
        return Array(copy.prefix(max(0, count)))
    }
}
