import CBLAS

/// Vitrine runs OpenBLAS on one thread and spreads work over the cores itself (see
/// `parallelSgemm` in Tensor, which sets the same): OpenBLAS's own threads spin after each
/// call and compete with the element-wise kernels, and the backbone runs one image per core
/// with single-threaded products.
enum BLASThreads {
    private static let singleThreaded: Bool = {
        openblas_set_num_threads(1)
        return true
    }()

    /// Sets OpenBLAS to one thread, once for the process.
    static func ensureSingleThreaded() { _ = singleThreaded }
}
