import Foundation
import Testing
import Annotations

/// Runs `count` closures on their own threads at once and collects what they threw.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
    final class Failures: @unchecked Sendable {
        let lock = NSLock()
        var messages: [String] = []
        func add(_ m: String) { lock.lock(); messages.append(m); lock.unlock() }
    }
    let failures = Failures()
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            do { try body(i) } catch { failures.add("thread \(i): \(error)") }
            group.leave()
        }
        thread.start()
    }
    group.wait()
    return failures.messages
}

@Suite struct FlagStoreConcurrencyTests {
    @Test func writersWithTheirOwnStoresOnOneFileLoseNothing() throws {
        let tmp = try TemporaryFolder()
        let path = tmp.store
        let threads = 4, each = 60, shared = 10
        // Every thread opens the (not yet existing) store itself: creation and migration race too.
        let failures = onThreads(threads) { t in
            let store = try FlagStore(path: path)
            for j in 0..<each {
                try store.record(flag("q\(j % 7)", "m\(j)", j % 3 == 0 ? .confirmed : .wrong, by: "annotator\(t)", at: Double(j)))
                if j % (each / shared) == 0 {
                    // All threads hammer one key too; each replaces its own verdict there.
                    try store.record(flag("shared", "m0", j % 2 == 0 ? .wrong : .confirmed, by: "annotator\(t)", at: Double(j)))
                }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
        let store = try FlagStore(path: path)
        #expect(try store.history().count == threads * (each + shared))
        let current = try store.allFlags()
        #expect(current.count == threads * each + threads)
        for t in 0..<threads {
            let mine = current.filter { $0.annotator == "annotator\(t)" }
            #expect(Set(mine.map(\.match)).count == each, "annotator\(t) lost verdicts")
            #expect(mine.filter { $0.query == "shared" }.count == 1)
        }
        // Ids are unique and every replaced verdict points at a stored one.
        let history = try store.history()
        #expect(Set(history.map(\.flag.id)).count == history.count)
        let ids = Set(history.compactMap(\.flag.id))
        #expect(history.allSatisfy { $0.replacedBy.map(ids.contains) ?? true })
    }

    @Test func concurrentOverlappingImportsAddEachVerdictOnce() throws {
        let tmp = try TemporaryFolder()
        let path = tmp.store
        _ = try FlagStore(path: path)
        // Three files of 900 verdicts; each overlaps the next by 300.
        let all = (0..<2100).map { i in flag("q\(i / 10)", "m\(i)", i % 2 == 0 ? .wrong : .confirmed, by: "ann", at: Double(i)) }
        let slices = [Array(all[0..<900]), Array(all[600..<1500]), Array(all[1200..<2100])]
        final class Reports: @unchecked Sendable {
            let lock = NSLock()
            var reports: [ImportReport] = []
        }
        let collected = Reports()
        let failures = onThreads(3) { t in
            let report = try FlagStore(path: path).importFlags(slices[t])
            collected.lock.lock(); collected.reports.append(report); collected.lock.unlock()
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(collected.reports.map(\.added).reduce(0, +) == all.count)
        #expect(collected.reports.map(\.duplicates).reduce(0, +) == 600)
        let store = try FlagStore(path: path)
        #expect(try store.allFlags().map(content) == all.map(content))
        #expect(try store.history().count == all.count)
    }

    @Test func readersSeeWholeWritesWhileAnImportRuns() throws {
        let tmp = try TemporaryFolder()
        let path = tmp.store
        _ = try FlagStore(path: path)
        let all = (0..<3000).map { i in flag("q\(i)", "m", .wrong, by: "ann", at: Double(i)) }
        let failures = onThreads(2) { t in
            if t == 0 {
                _ = try FlagStore(path: path).importFlags(all)
            } else {
                let reader = try FlagStore(path: path)
                var last = 0
                for _ in 0..<200 {
                    let n = try reader.allFlags().count
                    // Imports commit in whole batches: a reader never sees half a batch.
                    if n % FlagStore.importBatchSize != 0 || n < last { throw FlagStoreError.invalidFlag(reason: "reader saw \(n) after \(last)") }
                    last = n
                    if n == all.count { break }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures)")
    }
}
