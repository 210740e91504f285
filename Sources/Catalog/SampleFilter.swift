import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The browser's filter: the samples whose id, caption or one of whose labels contains the text,
/// caption and labels compared lower-cased (Unicode rules), the id as written.
///
/// It reads a file-backed split in blocks and never holds more than a block of it, so it can run
/// over a million-line split in the background: `scan` reports matches batch by batch and stops
/// when told. `matches(_:)` says the same for one sample.
public struct SampleFilter: Sendable {
    public let text: String
    private let needle: [UInt8]

    public init(_ text: String) {
        self.text = text
        needle = Array(text.lowercased().utf8)
    }

    public var isEmpty: Bool { needle.isEmpty }

    /// Whether this filter, once complete, can be narrowed to `longer` by re-checking only its
    /// matches: any text that contains this one.
    public func narrows(to longer: SampleFilter) -> Bool {
        !needle.isEmpty && longer.needle.count >= needle.count
            && Self.find(needle, in: longer.needle)
    }

    /// Whether `sample` passes.
    public func matches(_ sample: Sample) -> Bool {
        if needle.isEmpty { return true }
        var text = Array(sample.id.utf8)
        text.append(0x1F)
        text += sample.caption.lowercased().utf8
        for label in sample.labels { text.append(0x1F); text += label.lowercased().utf8 }
        return contains(text)
    }

    /// Checks the samples at `positions` (all of them when nil), in order, and calls
    /// `report(matches, checked)` with the new matches (ascending, and after all earlier ones) as
    /// they are found and at the end, `checked` counting the samples checked so far; stops early
    /// when `isCancelled()`. A large file-backed split is checked on every core, in as many
    /// stretches; the matches of a stretch are reported once those before it are done, so they
    /// still come in order. `report` is never called twice at once. Returns false when cancelled.
    @discardableResult
    public func scan(_ samples: SampleList, positions: [Int]? = nil, batch: Int = 20_000,
                     isCancelled: () -> Bool, report: ([Int], _ checked: Int) -> Void) -> Bool {
        withoutActuallyEscaping(isCancelled) { isCancelled in
            withoutActuallyEscaping(report) { report in
                scan(samples, positions: positions ?? Array(samples.indices), batch: batch,
                     isCancelled: UncheckedSendable(isCancelled), report: report)
            }
        }
    }

    private func scan(_ samples: SampleList, positions all: [Int], batch: Int, isCancelled isCancelledBox: UncheckedSendable<() -> Bool>,
                      report: @escaping ([Int], Int) -> Void) -> Bool {
        let workers = samples.isFileBacked && all.count >= 100_000 ? max(1, ProcessInfo.processInfo.activeProcessorCount) : 1
        let merger = Merger(stretches: workers, report: report)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let stretch = all[(all.count * w / workers) ..< (all.count * (w + 1) / workers)]
            var found: [Int] = []
            var checked = 0
            var cancelled = false
            func tick() -> Bool {
                checked += 1
                if checked % batch == 0 {
                    merger.add(found, checked: batch, from: w, done: false); found.removeAll(keepingCapacity: true)
                    if isCancelledBox.value() { cancelled = true; return false }
                }
                return true
            }
            if let lines = samples.lines {
                var text: [UInt8] = []
                lines.forEachLine(stretch, validateText: false) { p, bytes, fields in
                    text.removeAll(keepingCapacity: true)
                    text += bytes.buffer(fields.id)
                    text.append(0x1F)
                    Self.appendLowercased(bytes, fields.title, to: &text)
                    for label in fields.labels { text.append(0x1F); Self.appendLowercased(bytes, label, to: &text) }
                    if contains(text) { found.append(p) }
                    return tick()
                }
            } else {
                for p in stretch {
                    if matches(samples[p]) { found.append(p) }
                    if !tick() { break }
                }
            }
            if cancelled { merger.cancel(); return }
            merger.add(found, checked: checked % batch, from: w, done: true)
        }
        return !merger.wasCancelled
    }

    /// A value handed to the workers of one `scan` call, which ends before it does.
    private struct UncheckedSendable<Value>: @unchecked Sendable { let value: Value; init(_ v: Value) { value = v } }

    /// Puts the stretches' matches back in order: a stretch's are passed on once every stretch
    /// before it is done.
    private final class Merger: @unchecked Sendable {
        private let lock = NSLock()
        private var pending: [[Int]]
        private var done: [Bool]
        private var next = 0        // the first stretch not done
        private var checked = 0
        private(set) var wasCancelled = false
        private let report: ([Int], Int) -> Void

        init(stretches: Int, report: @escaping ([Int], Int) -> Void) {
            pending = Array(repeating: [], count: stretches)
            done = Array(repeating: false, count: stretches)
            self.report = report
        }

        func cancel() { lock.withLock { wasCancelled = true } }

        func add(_ matches: [Int], checked n: Int, from stretch: Int, done isDone: Bool) {
            lock.withLock {
                guard !wasCancelled else { return }
                pending[stretch] += matches
                checked += n
                if isDone { done[stretch] = true }
                var out: [Int] = []
                while next < done.count {
                    out += pending[next]; pending[next] = []
                    if !done[next] { break }
                    next += 1
                }
                if !out.isEmpty || isDone || n > 0 { report(out, checked) }
            }
        }
    }

    private func contains(_ text: [UInt8]) -> Bool { Self.find(needle, in: text) }

    /// Whether `needle` (not empty) occurs in `hay`: candidates by `memchr` of its first byte.
    private static func find(_ needle: [UInt8], in hay: [UInt8]) -> Bool {
        let n = needle.count
        guard hay.count >= n else { return false }
        return hay.withUnsafeBufferPointer { h in needle.withUnsafeBufferPointer { nd in
            let base = h.baseAddress!, last = h.count - n
            var i = 0
            while i <= last {
                guard let hit = memchr(base + i, Int32(nd[0]), last - i + 1) else { return false }
                let at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
                if memcmp(base + at, nd.baseAddress!, n) == 0 { return true }
                i = at + 1
            }
            return false
        } }
    }

    /// Appends `r` lower-cased: ASCII and the CJK blocks (leads E3 to E9, no case) byte by byte;
    /// a field with any other non-ASCII character goes through `String.lowercased()`.
    private static func appendLowercased(_ text: ByteText, _ r: ByteRange, to out: inout [UInt8]) {
        let start = out.count
        var i = r.start
        while i < r.end {
            let b = text.base[i]
            if b < 0x80 {
                out.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
            } else if b >= 0xE3 && b <= 0xE9 || b & 0xC0 == 0x80 {
                out.append(b)
            } else {
                out.removeSubrange(start...)
                out += text.string(r).lowercased().utf8
                return
            }
            i += 1
        }
    }
}
