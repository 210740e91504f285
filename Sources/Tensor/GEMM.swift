import CBLAS

/// Row-major single-precision matrix multiply through OpenBLAS:
/// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape m x k and
/// `op(B)` of shape k x n. `lda`, `ldb`, `ldc` are row strides (defaults: dense).
@inlinable
public func sgemm(transA: Bool = false, transB: Bool = false,
                  m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                  b: UnsafePointer<Float>, ldb: Int? = nil,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    let lda = lda ?? (transA ? m : k)
    let ldb = ldb ?? (transB ? k : n)
    let ldc = ldc ?? n
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// Sets the number of threads OpenBLAS uses (all cores by default).
public func setBLASThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
