import CBLAS

/// Row-major single-precision matrix multiply through OpenBLAS:
/// `C = alpha * op(A) * op(B) + beta * C`, with `op(A)` of shape m x k and
/// `op(B)` of shape k x n. `lda`, `ldb`, `ldc` are row strides (defaults: dense).
/// Counted by `KernelProfile` when it is on.
public func sgemm(transA: Bool = false, transB: Bool = false,
                  m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                  b: UnsafePointer<Float>, ldb: Int? = nil,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    let lda = lda ?? (transA ? m : k)
    let ldb = ldb ?? (transB ? k : n)
    let ldc = ldc ?? n
    let start = KernelProfile.isEnabled ? KernelProfile.now() : 0
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    if start != 0 { KernelProfile.recordGEMM(nanoseconds: KernelProfile.now() - start, m: m, n: n, k: k) }
}

/// Sets the number of threads OpenBLAS uses (all cores by default).
public func setBLASThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

/// `sgemm` for the large products of the model's dense layers, split into
/// `Parallel.workerCount` blocks of rows of C (or of columns, when C has few
/// rows) that run concurrently, each a single-threaded OpenBLAS call.
///
/// Splitting here rather than inside OpenBLAS keeps one thread pool for all of
/// the model's work: OpenBLAS's own threads spin after each call and compete
/// with the element-wise kernels. The first call sets OpenBLAS to one thread.
public func parallelSgemm(transA: Bool = false, transB: Bool = false,
                          m: Int, n: Int, k: Int,
                          alpha: Float = 1, a: UnsafePointer<Float>, lda: Int? = nil,
                          b: UnsafePointer<Float>, ldb: Int? = nil,
                          beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    KernelProfile.timedDenseGEMM {
        splitSgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                   beta: beta, c: c, ldc: ldc)
    }
}

private func splitSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                        a: UnsafePointer<Float>, lda: Int?, b: UnsafePointer<Float>, ldb: Int?,
                        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int?) {
    BLASThreading.ensureSingleThreaded()
    let lda = lda ?? (transA ? m : k)
    let ldb = ldb ?? (transB ? k : n)
    let ldc = ldc ?? n
    let tasks = Parallel.workerCount
    // Below ~4 MFLOP a split costs more than it gains.
    guard tasks > 1, m * n * k >= 2_000_000 else {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
        return
    }
    if m >= n || m >= 64 * tasks {
        // Rows of C: rows of op(A).
        Parallel.concurrently(tasks) { task in
            let rows = Parallel.chunk(task, of: tasks, count: m)
            guard !rows.isEmpty else { return }
            let aStart = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
            sgemm(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha, a: aStart, lda: lda,
                  b: b, ldb: ldb, beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
        }
    } else {
        // Columns of C: columns of op(B).
        Parallel.concurrently(tasks) { task in
            let columns = Parallel.chunk(task, of: tasks, count: n)
            guard !columns.isEmpty else { return }
            let bStart = transB ? b + columns.lowerBound * ldb : b + columns.lowerBound
            sgemm(transA: transA, transB: transB, m: m, n: columns.count, k: k, alpha: alpha, a: a, lda: lda,
                  b: bStart, ldb: ldb, beta: beta, c: c + columns.lowerBound, ldc: ldc)
        }
    }
}

/// OpenBLAS's thread count, set once to 1 for `parallelSgemm`.
public enum BLASThreading {
    private static let singleThreaded: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Sets OpenBLAS to one thread, once for the process (Vitrine spreads work over
    /// the cores itself; see `parallelSgemm`).
    public static func ensureSingleThreaded() { _ = singleThreaded }
}
