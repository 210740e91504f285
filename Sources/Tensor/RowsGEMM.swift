import CKernels
import Foundation

/// A dense layer's forward product for few rows (a caption at batch 1, one
/// image's tokens), by Vitrine's AVX-512 kernel instead of OpenBLAS.
///
/// With few rows OpenBLAS spends its time packing the weight matrix, which it
/// does on every call: a 16-token caption through MiniLM ran at ~80 GFLOP/s.
/// The kernel (`Sources/CKernels/rows_gemm.c`) streams each weight row once,
/// as it lies in PyTorch's `[out, in]` layout, and computes every output as
/// one dot product summed in a fixed order, so an output does not depend on
/// the other rows of the batch or on how the columns are split over threads.
///
/// It is used for `rows <= maximumRows` when the processor has AVX-512F and
/// AVX-512DQ and the environment does not set `VITRINE_GEMM=openblas`; other
/// products go through OpenBLAS as before.
public enum RowsGEMM {
    /// The most rows the kernel takes: the rows of the input (`rows * inFeatures`
    /// floats, 768 KiB at 128 x 1536) stay in the 1-2 MiB L2 while the weight
    /// streams past them. Above that OpenBLAS's packing pays for itself.
    public static let maximumRows = 128

    /// Whether this processor can run the kernel (AVX-512F and AVX-512DQ).
    public static let isSupported: Bool = vitrine_rows_gemm_nt_available() != 0

    /// Whether dense products of few rows use the kernel: supported here, and
    /// not turned off with `VITRINE_GEMM=openblas` (for comparisons).
    public static let isEnabled: Bool =
        isSupported && ProcessInfo.processInfo.environment["VITRINE_GEMM"]?.lowercased() != "openblas"

    /// Whether `linearForward` sends a product of this many rows to the kernel.
    @inlinable
    public static func handles(rows: Int) -> Bool { isEnabled && rows <= maximumRows }

    /// `c[i, j] = Σ_p a[i, p] · w[j, p] (+ bias[j])` on the calling thread.
    /// Requires `isSupported`; strides are in floats.
    public static func multiply(rows m: Int, columns n: Int, depth k: Int,
                                a: UnsafePointer<Float>, lda: Int, w: UnsafePointer<Float>, ldw: Int,
                                bias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(isSupported, "RowsGEMM.multiply needs AVX-512F and AVX-512DQ")
        precondition(m >= 0 && n >= 0 && k >= 0 && lda >= k && ldw >= k && ldc >= n,
                     "RowsGEMM.multiply: bad shape m \(m) n \(n) k \(k) lda \(lda) ldw \(ldw) ldc \(ldc)")
        let start = KernelProfile.isEnabled ? KernelProfile.now() : 0
        vitrine_rows_gemm_nt(Int32(m), Int32(n), Int32(k), a, Int32(lda), w, Int32(ldw), bias, c, Int32(ldc))
        if start != 0 { KernelProfile.recordGEMM(nanoseconds: KernelProfile.now() - start, m: m, n: n, k: k) }
    }

    /// A dense layer's forward product (`output = input · weightᵀ + bias`, dense
    /// rows), its columns split over the cores in blocks of 4 when it is large
    /// enough to pay for waking them.
    public static func linear(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                              weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              rows: Int, inFeatures: Int, outFeatures: Int) {
        KernelProfile.timedDenseGEMM {
            let blocks = (outFeatures + 3) / 4
            let tasks = rows * outFeatures * inFeatures >= 1_000_000 ? min(Parallel.workerCount, blocks) : 1
            Parallel.concurrently(tasks) { task in
                let share = Parallel.chunk(task, of: tasks, count: blocks)
                let first = share.lowerBound * 4, end = min(outFeatures, share.upperBound * 4)
                guard first < end else { return }
                multiply(rows: rows, columns: end - first, depth: inFeatures,
                         a: input, lda: inFeatures, w: weight + first * inFeatures, ldw: inFeatures,
                         bias: bias.map { $0 + first }, c: output + first, ldc: outFeatures)
            }
        }
    }
}
