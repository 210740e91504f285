import Foundation
import Tensor
import Testing

/// `Parallel.concurrently` over the spin-then-sleep worker pool (Sources/CKernels/pool.c).
@Suite struct ParallelPoolTests {
    /// Many back-to-back jobs of every size: each task runs exactly once and its
    /// writes are visible to the caller when the call returns.
    @Test func everyTaskRunsOnceAndItsWritesAreVisible() {
        var counts = [Int](repeating: 0, count: 64)
        for round in 0..<20_000 {
            let tasks = 1 + round % 7
            counts.withUnsafeMutableBufferPointer { c in
                let base = c.baseAddress!
                Parallel.concurrently(tasks) { task in base[task] += 1 }
            }
        }
        var expected = [Int](repeating: 0, count: 64)
        for round in 0..<20_000 { for t in 0..<(1 + round % 7) { expected[t] += 1 } }
        #expect(counts == expected)
    }

    /// A job started from inside a task (the pool is then busy) runs inline and completes.
    @Test func nestedJobsRunInline() {
        var cells = [Int](repeating: 0, count: 4 * 5)
        cells.withUnsafeMutableBufferPointer { c in
            let base = c.baseAddress!
            Parallel.concurrently(4) { outer in
                Parallel.concurrently(5) { inner in base[outer * 5 + inner] = outer * 10 + inner }
            }
        }
        #expect(cells == (0..<4).flatMap { o in (0..<5).map { o * 10 + $0 } })
    }

    /// Jobs from several threads at once: one uses the pool, the others run
    /// inline; none is lost or mixed up with another's tasks.
    @Test func concurrentCallersEachGetTheirOwnTasks() {
        let callers = 4, rounds = 3_000, tasks = 3
        let sums = UnsafeMutablePointer<Int>.allocate(capacity: callers * tasks)
        sums.initialize(repeating: 0, count: callers * tasks)
        defer { sums.deallocate() }
        let address = Int(bitPattern: sums)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            let mine = UnsafeMutablePointer<Int>(bitPattern: address)! + caller * tasks
            for round in 0..<rounds {
                Parallel.concurrently(tasks) { task in mine[task] += round + task }
            }
        }
        let perTask = (0..<tasks).map { task in (0..<rounds).reduce(0) { $0 + $1 + task } }
        for caller in 0..<callers {
            #expect(Array(UnsafeBufferPointer(start: sums + caller * tasks, count: tasks)) == perTask,
                    "caller \(caller)")
        }
    }
}
