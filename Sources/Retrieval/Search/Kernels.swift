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
        let q = UnsafeRawPointer(query)
        let blocks = dimension / 16
        let rowBytes = dimension &* 2
        let high = SIMD8<UInt32>(repeating: 0xFFFF_0000)
        @inline(__always) func tail(_ row: UnsafePointer<UInt16>) -> Float {
            var sum: Float = 0
            var j = blocks &* 16
            while j < dimension {
                sum += query[j] * BFloat16.widen(row[j])
                j &+= 1
            }
            return sum
        }
        var r = 0
        while r &+ 4 <= count {
            let g0 = UnsafeRawPointer(rows) + r &* rowBytes
            let g1 = g0 + rowBytes, g2 = g1 + rowBytes, g3 = g2 + rowBytes
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var b = 0
            while b < blocks {
                let even = q.loadUnaligned(fromByteOffset: b &* 64, as: SIMD8<Float>.self)
                let odd = q.loadUnaligned(fromByteOffset: b &* 64 &+ 32, as: SIMD8<Float>.self)
                let w0 = g0.loadUnaligned(fromByteOffset: b &* 32, as: SIMD8<UInt32>.self)
                let w1 = g1.loadUnaligned(fromByteOffset: b &* 32, as: SIMD8<UInt32>.self)
                let w2 = g2.loadUnaligned(fromByteOffset: b &* 32, as: SIMD8<UInt32>.self)
                let w3 = g3.loadUnaligned(fromByteOffset: b &* 32, as: SIMD8<UInt32>.self)
                a0 += even * unsafeBitCast(w0 &<< 16, to: SIMD8<Float>.self) + odd * unsafeBitCast(w0 & high, to: SIMD8<Float>.self)
                a1 += even * unsafeBitCast(w1 &<< 16, to: SIMD8<Float>.self) + odd * unsafeBitCast(w1 & high, to: SIMD8<Float>.self)
                a2 += even * unsafeBitCast(w2 &<< 16, to: SIMD8<Float>.self) + odd * unsafeBitCast(w2 & high, to: SIMD8<Float>.self)
                a3 += even * unsafeBitCast(w3 &<< 16, to: SIMD8<Float>.self) + odd * unsafeBitCast(w3 & high, to: SIMD8<Float>.self)
                b &+= 1
            }
            let row0 = rows + r &* dimension
            out[r] = a0.sum() + tail(row0)
            out[r &+ 1] = a1.sum() + tail(row0 + dimension)
            out[r &+ 2] = a2.sum() + tail(row0 + 2 &* dimension)
            out[r &+ 3] = a3.sum() + tail(row0 + 3 &* dimension)
            r &+= 4
        }
        while r < count {
            let g = UnsafeRawPointer(rows) + r &* rowBytes
            var a = SIMD8<Float>()
            var b = 0
            while b < blocks {
                let even = q.loadUnaligned(fromByteOffset: b &* 64, as: SIMD8<Float>.self)
                let odd = q.loadUnaligned(fromByteOffset: b &* 64 &+ 32, as: SIMD8<Float>.self)
                let w = g.loadUnaligned(fromByteOffset: b &* 32, as: SIMD8<UInt32>.self)
                a += even * unsafeBitCast(w &<< 16, to: SIMD8<Float>.self) + odd * unsafeBitCast(w & high, to: SIMD8<Float>.self)
                b &+= 1
            }
            out[r] = a.sum() + tail(rows + r &* dimension)
            r &+= 1
        }
    }
}
