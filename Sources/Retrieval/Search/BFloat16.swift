/// bfloat16: the top 16 bits of an IEEE single (sign, 8-bit exponent, 7 stored significand bits).
///
/// It is Vitrine's compact vector format. It halves the bytes a scan reads, like IEEE half
/// precision would, but widening it back to `Float` is a 16-bit shift, which stays cheap on any
/// x86-64 or ARM vector unit without special instructions (IEEE half needs F16C, which Swift code
/// built for baseline x86-64 cannot use). Its coarser significand (8 bits against 11) only widens
/// the re-scoring margin; results stay exact (see `VectorIndex`).
enum BFloat16 {
    /// Relative rounding error of round-to-nearest: |x - round(x)| <= unitRoundoff * |x| for every
    /// finite float whose rounding does not overflow (bf16 has the same exponent range as Float, so
    /// small values keep full relative precision down to Float's own subnormals).
    static let unitRoundoff: Float = 1.0 / 256.0

    /// `x` rounded to the nearest bfloat16, ties to even. `x` must be finite.
    @inline(__always)
    static func round(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// The float a bfloat16 stands for (exact).
    @inline(__always)
    static func widen(_ h: UInt16) -> Float {
        Float(bitPattern: UInt32(h) << 16)
    }
}
