import Foundation
import Synchronization

/// Where a computation's time goes, kernel by kernel: an opt-in profile for benchmarks
/// (`vitrine bench-model`). Off by default; while off, each instrumented kernel pays one
/// relaxed atomic load. The product never prints it.
///
/// Two kinds of figures are kept:
/// - `gemmThreadSeconds` and `gemmFlops`: every single-threaded `sgemm` call, on whichever
///   thread it runs (so concurrent calls add up: divide by the threads for a wall share);
/// - `wallSeconds[kind]`: the wall time of the top-level calls of each kernel kind, as seen
///   by the thread that called it (parallel work inside included).
public enum KernelProfile {
    /// The kinds of kernel timed at the top level.
    public enum Kind: Int, CaseIterable, Sendable, CustomStringConvertible {
        case gemm, attention, gelu, layerNorm, dropout, elementwise, loss, optimizer
        public var description: String {
            switch self {
            case .gemm: "dense GEMM"
            case .attention: "attention (GEMMs, softmax)"
            case .gelu: "GELU"
            case .layerNorm: "LayerNorm"
            case .dropout: "dropout"
            case .elementwise: "residual, copies, sums"
            case .loss: "losses, L2 norm"
            case .optimizer: "clip + AdamW"
            }
        }
    }

    /// A snapshot of the counters.
    public struct Snapshot: Sendable {
        /// Thread-seconds spent inside OpenBLAS sgemm calls.
        public var gemmThreadSeconds: Double = 0
        /// Floating-point operations of those calls (2 m n k each).
        public var gemmFlops: Double = 0
        /// The part of `gemmThreadSeconds` spent in `parallelSgemm` (the dense layers); the
        /// rest is the attention's per-head products.
        public var denseGEMMThreadSeconds: Double = 0
        /// Wall seconds of top-level kernel calls, by kind.
        public var wallSeconds: [Kind: Double] = [:]
    }

    private static let enabledFlag = Atomic<Bool>(false)
    private static let gemmNanoseconds = Atomic<Int>(0)
    private static let gemmOperations = Atomic<Int>(0)
    private static let denseGEMMNanoseconds = Atomic<Int>(0)
    private static let wall = Mutex<[Int]>(Array(repeating: 0, count: Kind.allCases.count))

    /// Whether the kernels record their time.
    public static var isEnabled: Bool {
        get { enabledFlag.load(ordering: .relaxed) }
        set { enabledFlag.store(newValue, ordering: .relaxed) }
    }

    /// Sets every counter to zero.
    public static func reset() {
        gemmNanoseconds.store(0, ordering: .relaxed)
        gemmOperations.store(0, ordering: .relaxed)
        denseGEMMNanoseconds.store(0, ordering: .relaxed)
        wall.withLock { $0 = Array(repeating: 0, count: Kind.allCases.count) }
    }

    /// The counters so far.
    public static func snapshot() -> Snapshot {
        var s = Snapshot()
        s.gemmThreadSeconds = Double(gemmNanoseconds.load(ordering: .relaxed)) / 1e9
        s.gemmFlops = Double(gemmOperations.load(ordering: .relaxed))
        s.denseGEMMThreadSeconds = Double(denseGEMMNanoseconds.load(ordering: .relaxed)) / 1e9
        let w = wall.withLock { $0 }
        for kind in Kind.allCases { s.wallSeconds[kind] = Double(w[kind.rawValue]) / 1e9 }
        return s
    }

    @usableFromInline
    static func now() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1_000_000_000 + t.tv_nsec
    }

    @usableFromInline
    static func recordGEMM(nanoseconds: Int, m: Int, n: Int, k: Int) {
        gemmNanoseconds.add(nanoseconds, ordering: .relaxed)
        gemmOperations.add(2 * m * n * k, ordering: .relaxed)
    }

    /// Times a dense-layer GEMM (`parallelSgemm`): its wall time under `.gemm`, and the sgemm
    /// thread time it adds under `denseGEMMThreadSeconds`. Dense GEMMs never run concurrently
    /// with other GEMMs, so the difference of the thread-time counter is theirs.
    @inline(__always)
    static func timedDenseGEMM(_ body: () -> Void) {
        guard isEnabled else { return body() }
        let before = gemmNanoseconds.load(ordering: .relaxed)
        timed(.gemm, body)
        denseGEMMNanoseconds.add(gemmNanoseconds.load(ordering: .relaxed) - before, ordering: .relaxed)
    }

    /// Runs `body`, adding its wall time to `kind` when profiling is on. Nested timed calls
    /// of the same run are the caller's business: time only top-level kernel calls.
    @inline(__always)
    public static func timed<T>(_ kind: Kind, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = now()
        let result = try body()
        let elapsed = now() - start
        wall.withLock { $0[kind.rawValue] += elapsed }
        return result
    }
}
