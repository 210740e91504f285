import CKernels
import Foundation

/// Splitting numeric work over the machine's cores.
///
/// Kernels hand `Parallel` a number of independent items (rows, (batch, head)
/// pairs, column blocks) and an estimate of the work in each; small jobs run
/// inline on the calling thread, because waking a second thread costs more
/// than it saves below a few tens of microseconds of work.
public enum Parallel {
    /// Threads used for non-GEMM work: the active processor count.
    public static let workerCount = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Below this many (roughly) floating-point operations a job runs inline.
    public static let minimumParallelWork = 32_768

    /// Calls `body` with disjoint, contiguous ranges that cover `0 ..< count`,
    /// concurrently when `count * workPerItem` is large enough to pay for it.
    /// `body` must only write memory that belongs to its range.
    @inlinable
    public static func forEachRange(_ count: Int, workPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let tasks = min(count, workerCount)
        if tasks <= 1 || count &* max(workPerItem, 1) < minimumParallelWork {
            body(0 ..< count)
            return
        }
        concurrently(tasks) { task in
            body(chunk(task, of: tasks, count: count))
        }
    }

    /// The `task`-th of `tasks` near-equal contiguous chunks of `0 ..< count`.
    @inlinable
    public static func chunk(_ task: Int, of tasks: Int, count: Int) -> Range<Int> {
        let base = count / tasks, extra = count % tasks
        let start = task * base + min(task, extra)
        return start ..< start + base + (task < extra ? 1 : 0)
    }

    /// Runs `body(0) ... body(tasks - 1)` concurrently and returns when all are done.
    /// The closure need not be `Sendable`: the caller promises that the tasks
    /// touch disjoint memory (every kernel in this module does).
    ///
    /// The tasks run on the calling thread and the persistent workers of
    /// `Sources/CKernels/pool.c`, which poll for the next job for 200 µs before
    /// sleeping: a forward pass at batch 1 is ~100 regions of tens of µs, and
    /// waking a Dispatch thread for each cost as much as the work. A call made
    /// while the pool is busy (from another thread or from inside a task) runs
    /// its tasks inline, in order.
    public static func concurrently(_ tasks: Int, _ body: (Int) -> Void) {
        if tasks <= 1 {
            if tasks == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var task = escapable
            withUnsafeMutablePointer(to: &task) { pointer in
                vitrine_pool_run(Int32(tasks), { context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(index))
                }, pointer)
            }
        }
    }
}
