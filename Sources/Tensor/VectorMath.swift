// Vectorised building blocks for the kernels: unaligned SIMD loads and
// stores, exp and row reductions (GELU's normal CDF is in C: Sources/CKernels/gelu.c). Everything works
// on SIMD16<Float> (four SSE or two AVX registers, one AVX-512 register) with
// scalar tails, so any row length is handled.

@usableFromInline typealias F16 = SIMD16<Float>
@usableFromInline typealias I16 = SIMD16<Int32>

@inline(__always) @usableFromInline
func load16(_ p: UnsafePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}

@inline(__always) @usableFromInline
func load16(_ p: UnsafeMutablePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}

@inline(__always) @usableFromInline
func store16(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
}

/// The first `n` (< 16) floats at `p` in the low lanes, `fill` in the others.
@inline(__always) @usableFromInline
func loadPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float = 0) -> F16 {
    var v = F16(repeating: fill)
    for j in 0..<n { v[j] = p[j] }
    return v
}

/// Stores the low `n` (< 16) lanes of `v` at `p`.
@inline(__always) @usableFromInline
func storePartial(_ v: F16, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for j in 0..<n { p[j] = v[j] }
}

/// 1 in the low `n` lanes, 0 in the others.
@inline(__always) @usableFromInline
func laneMask(_ n: Int) -> F16 {
    F16(repeating: 1).replacing(with: 0, where: SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .>= Int32(n))
}

// MARK: min, max
// (SIMD's pointwiseMin/pointwiseMax/clamped handle NaN lane by lane and do not
// vectorise; these compile to compare + blend. Where a lane is NaN they return
// the other operand's lane or NaN, which no kernel depends on.)

@inline(__always) @usableFromInline
func vmin(_ a: F16, _ b: F16) -> F16 { a.replacing(with: b, where: b .< a) }

@inline(__always) @usableFromInline
func vmax(_ a: F16, _ b: F16) -> F16 { a.replacing(with: b, where: b .> a) }

/// Largest lane (tree reduction).
@inline(__always) @usableFromInline
func hmax(_ v: F16) -> Float {
    let a = v.lowHalf.replacing(with: v.highHalf, where: v.highHalf .> v.lowHalf)
    let b = a.lowHalf.replacing(with: a.highHalf, where: a.highHalf .> a.lowHalf)
    let c = b.lowHalf.replacing(with: b.highHalf, where: b.highHalf .> b.lowHalf)
    return Swift.max(c[0], c[1])
}

/// Sum of the lanes (tree reduction).
@inline(__always) @usableFromInline
func hsum(_ v: F16) -> Float {
    let a = v.lowHalf + v.highHalf
    let b = a.lowHalf + a.highHalf
    let c = b.lowHalf + b.highHalf
    return c[0] + c[1]
}

// MARK: exp

/// exp(x) for 16 lanes, within about 2 ulp of `expf` for x >= -87 (smaller x
/// give a value below 2e-38 instead of the exact tiny result; x above 88 give
/// exp(88)). Cephes' single-precision polynomial with Cody-Waite reduction.
@inline(__always) @usableFromInline
func vexp(_ x: F16) -> F16 {
    let clamped = vmin(vmax(x, F16(repeating: -87)), F16(repeating: 88))
    // n = round(x / ln 2) by the 1.5 * 2^23 trick; its low bits are n itself.
    let shifted = clamped * 1.442_695_04 + 12_582_912
    let n = shifted - 12_582_912
    let r = clamped - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = F16(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 1.666_666_55e-1
    p = p * r + 5.000_000_12e-1
    p = p * (r * r) + r + 1
    let nBits = unsafeBitCast(shifted, to: I16.self) &- 0x4B40_0000
    let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: F16.self)
    return p * scale
}

/// Scalar exp with the same accuracy as `vexp` (used for row tails so a row
/// gives the same values however it is split).
@inline(__always) @usableFromInline
func sexp(_ x: Float) -> Float {
    vexp(F16(repeating: x))[0]
}

// MARK: reductions

/// Σ p[i], vectorised.
@inline(__always) @usableFromInline
func vsum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = F16(), i = 0
    while i + 16 <= n { acc += load16(p + i); i += 16 }
    var s = hsum(acc)
    while i < n { s += p[i]; i += 1 }
    return s
}

/// Σ a[i] * b[i], vectorised.
@inline(__always) @usableFromInline
func vdot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = F16(), i = 0
    while i + 16 <= n { acc += load16(a + i) * load16(b + i); i += 16 }
    var s = hsum(acc)
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// max p[i] (-infinity for n == 0), vectorised.
@inline(__always) @usableFromInline
func vmax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var i = 0, m = -Float.infinity
    if n >= 16 {
        var acc = load16(p); i = 16
        while i + 16 <= n { acc = vmax(acc, load16(p + i)); i += 16 }
        m = hmax(acc)
    }
    while i < n { m = max(m, p[i]); i += 1 }
    return m
}

// MARK: public elementwise helpers

/// `y[i] += x[i]` for `count` elements (vectorised, split over cores when large).
public func accumulate(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
    Parallel.forEachRange((count + 4095) / 4096, workPerItem: 4096) { blocks in
        let start = blocks.lowerBound * 4096, end = min(count, blocks.upperBound * 4096)
        var i = start
        while i + 16 <= end { store16(load16(y + i) + load16(x + i), y + i); i += 16 }
        while i < end { y[i] += x[i]; i += 1 }
    }
}

/// `y[i] += alpha * x[i]` for `count` elements.
public func accumulate(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, scaledBy alpha: Float, count: Int) {
    Parallel.forEachRange((count + 4095) / 4096, workPerItem: 4096) { blocks in
        let start = blocks.lowerBound * 4096, end = min(count, blocks.upperBound * 4096)
        var i = start
        while i + 16 <= end { store16(load16(y + i) + alpha * load16(x + i), y + i); i += 16 }
        while i < end { y[i] += alpha * x[i]; i += 1 }
    }
}

/// `x[i] *= alpha` for `count` elements.
public func scale(_ x: UnsafeMutablePointer<Float>, by alpha: Float, count: Int) {
    Parallel.forEachRange((count + 4095) / 4096, workPerItem: 4096) { blocks in
        let start = blocks.lowerBound * 4096, end = min(count, blocks.upperBound * 4096)
        var i = start
        while i + 16 <= end { store16(load16(x + i) * alpha, x + i); i += 16 }
        while i < end { x[i] *= alpha; i += 1 }
    }
}
