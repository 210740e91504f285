import CKernels
/// The dot-product kernels of the exact search.
///
/// Swift code is built for baseline x86-64 (SSE2) or ARMv8 (NEON), so the kernels use `SIMD8`
/// arithmetic that lowers to two 128-bit operations; wider units are reached only through BLAS.
enum Kernels {
    /// The exact score of a query and a gallery row: the one definition every search path ends
    /// with, so that batch and single queries, float32 and bfloat16 scans, and any thread count
    /// give bitwise identical scores and rankings.
    ///
    /// Lanes accumulate `a[j] * b[j]` for j = lane (mod 8) (separate multiply and add, never fused),
    /// are then summed in a fixed pairwise order, and the elements past the last multiple of 8 are
    /// added one by one.
    @inline(__always)
    static func exactDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dimension: Int) -> Float {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var acc = SIMD8<Float>()
        var j = 0
        while j &+ 8 <= dimension {
            acc += ra.loadUnaligned(fromByteOffset: j &* 4, as: SIMD8<Float>.self)
                 * rb.loadUnaligned(fromByteOffset: j &* 4, as: SIMD8<Float>.self)
            j &+= 8
        }
        var sum = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
        while j < dimension {
            sum += a[j] * b[j]
            j &+= 1
        }
        return sum
    }

    /// The query laid out for `bfloat16Dots`: for each block of 16 elements, the 8 even-indexed
    /// then the 8 odd-indexed values; the elements past the last whole block follow in order.
    static func interleavedQuery(_ query: UnsafePointer<Float>, dimension: Int, into out: UnsafeMutablePointer<Float>) {
        let blocks = dimension / 16
        for b in 0..<blocks {
            for i in 0..<8 {
                out[b * 16 + i] = query[b * 16 + 2 * i]
                out[b * 16 + 8 + i] = query[b * 16 + 2 * i + 1]
            }
        }
        for j in (blocks * 16)..<dimension { out[j] = query[j] }
    }

    /// Approximate scores of `count` bfloat16 rows against a query laid out by `interleavedQuery`,
    /// into `out`. A little-endian 32-bit word of two bfloat16 values holds the even element in its
    /// low half and the odd one in its high half, so `word << 16` and `word & 0xFFFF0000` are the
    /// two elements as exact floats: one shift and one mask widen 16 values.
    static func bfloat16Dots(query: UnsafePointer<Float>, rows: UnsafePointer<UInt16>, count: Int, dimension: Int,
                             into out: UnsafeMutablePointer<Float>) {
        // The C kernel (CKernels/bf16_dots.c): AVX-512 or AVX2 with fused multiply-adds as the
        // CPU allows, where Swift's SIMD8 is built for baseline x86-64 (two SSE operations).
        vitrine_bf16_dots(query, rows, count, dimension, out)
    }
}
