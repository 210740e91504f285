import Dispatch
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The kept lines of one stretch of a split file, in file order: per line only what must be
/// random-access (where it is, its line number, its id key and its kind), 26 bytes a line.
struct LineSegment {
    var starts: [Int] = []
    var lengths: [UInt32] = []
    /// Line numbers within the region the segment was scanned from (see `lineOffset`).
    var lineNumbers: [Int32] = []
    var kinds: [UInt8] = []
    var keyValues: [UInt64] = []
    var keyLengths: [UInt8] = []
    var lineOffset = 0

    var count: Int { starts.count }

    mutating func reserve(_ n: Int) {
        starts.reserveCapacity(n); lengths.reserveCapacity(n); lineNumbers.reserveCapacity(n)
        kinds.reserveCapacity(n); keyValues.reserveCapacity(n); keyLengths.reserveCapacity(n)
    }

    mutating func append(start: Int, length: Int, line: Int, kind: UInt8, key: IDKey) {
        starts.append(start); lengths.append(UInt32(length)); lineNumbers.append(Int32(line))
        kinds.append(kind); keyValues.append(key.value); keyLengths.append(key.length)
    }

    func key(_ i: Int) -> IDKey { IDKey(value: keyValues[i], length: keyLengths[i]) }
}

/// What a scan of one Product1M split file keeps: the kept lines in segments (one per region the
/// file was scanned in, so joining them copies nothing), an id table over them, the malformed lines
/// and the label counts. The file itself is not held: a sample is read back from it when asked for
/// (`Product1MLines`).
struct ScannedSplit {
    var segments: [LineSegment] = []
    /// Position of each segment's first line.
    var segmentStarts: [Int] = [0]
    /// The ids over 19 digits, by position.
    var longIDs: [Int: String] = [:]
    var issues: [LoadIssue] = []
    var labelCounts: [String: Int] = [:]
    var table = IDTable(capacity: 0)
    var lineCount = 0

    var count: Int { segmentStarts.last! }

    @inline(__always)
    func locate(_ position: Int) -> (segment: Int, index: Int) {
        var s = 0
        while s + 1 < segments.count && segmentStarts[s + 1] <= position { s += 1 }
        return (s, position - segmentStarts[s])
    }

    func start(_ p: Int) -> Int { let (s, i) = locate(p); return segments[s].starts[i] }
    func length(_ p: Int) -> Int { let (s, i) = locate(p); return Int(segments[s].lengths[i]) }
    func lineNumber(_ p: Int) -> Int { let (s, i) = locate(p); return Int(segments[s].lineNumbers[i]) + segments[s].lineOffset }
    func key(_ p: Int) -> IDKey {
        // One segment in most splits (a large file has one per core): no search then.
        if segments.count == 1 { return IDKey(value: segments[0].keyValues[p], length: segments[0].keyLengths[p]) }
        let (s, i) = locate(p)
        return IDKey(value: segments[s].keyValues[i], length: segments[s].keyLengths[i])
    }

    /// The position of `key` (and, for a long one, `long`), or nil.
    /// (The probe is written out here rather than through `IDTable.find`'s closures: a closure
    /// over this struct would retain all its arrays on every call, and the image census calls this
    /// four times per file.)
    func find(_ key: IDKey, long: String?) -> Int? {
        let mask = table.mask
        var s = key.slot(mask: mask)
        return table.slots.withUnsafeBufferPointer { slots in
            while true {
                let p = Int(slots[s])
                if p < 0 { return nil }
                if self.key(p) == key && (!key.isLong || longIDs[p] == long) { return p }
                s = (s + 1) & mask
            }
        }
    }

    mutating func append(_ segment: LineSegment) {
        segmentStarts.append(count + segment.count)
        segments.append(segment)
    }
}

/// Reads one Product1M split file in chunks (never the whole file in memory), checks every line with
/// `Product1MLine.check`, and indexes the kept ones. The file is cut into one region per core at line
/// boundaries; the regions are scanned in parallel and joined in file order, and duplicate ids are
/// found in that order, so the result is the same on any number of cores.
enum Product1MScan {
    static let chunkBytes = 4 << 20

    static func scan(descriptor fd: Int32, size: Int, fileName: String, allowsFourFields: Bool,
                     options: LoadOptions, workers: Int) -> ScannedSplit {
        let bounds = regionBounds(fd, size: size, regions: max(1, workers))
        let slots = Slots<Region>(count: bounds.count - 1)
        DispatchQueue.concurrentPerform(iterations: bounds.count - 1) { r in
            slots[r] = scanRegion(fd, from: bounds[r], to: bounds[r + 1], fileName: fileName,
                                  allowsFourFields: allowsFourFields, options: options)
        }
        var out = ScannedSplit()
        var regions = (0 ..< bounds.count - 1).map { slots[$0]! }
        // The table is a local while it is filled: the closures below read `out`, and a table inside
        // `out` would be copied on every insert to keep the two accesses apart.
        var table = IDTable(capacity: regions.reduce(0) { $0 + $1.lines.count })
        var lineOffset = 0
        var duplicates: [Int] = []
        var labelCounts: [String: Int] = [:]
        for r in regions.indices {
            for (label, n) in regions[r].labels.counts() { labelCounts[label, default: 0] += n }
            regions[r].labels = LabelCounter()
            for issue in regions[r].issues {
                out.issues.append(LoadIssue(file: fileName, line: issue.line + lineOffset, reason: issue.reason))
            }
            let first = out.count
            for (i, long) in regions[r].longIDs { out.longIDs[first + i] = long }
            var segment = regions[r].lines
            regions[r].lines = LineSegment()
            segment.lineOffset = lineOffset
            let lineNumbers = segment.lineNumbers
            out.append(segment)
            for i in 0 ..< lineNumbers.count {
                let position = first + i, key = out.key(position)
                let long = key.isLong ? out.longIDs[position] : nil
                let earlier = table.insert(key, position: position, keyAt: { out.key($0) }) { p in
                    !key.isLong || out.longIDs[p] == long
                }
                if let earlier {
                    let id = long ?? key.digits
                    out.issues.append(LoadIssue(file: fileName, line: Int(lineNumbers[i]) + lineOffset,
                        reason: "duplicate item_id \(id) (first on line \(out.lineNumber(earlier)))"))
                    duplicates.append(position)
                }
            }
            lineOffset += regions[r].lineCount
        }
        out.lineCount = lineOffset
        out.table = table
        if !duplicates.isEmpty {
            // Rare: drop the repeated lines (and their labels from the counts), then index again.
            for p in duplicates {
                for label in labels(fd, start: out.start(p), length: out.length(p), allowsFourFields: allowsFourFields,
                                    options: options) {
                    labelCounts[label, default: 0] -= 1
                    if labelCounts[label] == 0 { labelCounts[label] = nil }
                }
            }
            out = compacted(out, dropping: Set(duplicates))
            out.issues.sort { $0.line < $1.line }
        }
        out.labelCounts = labelCounts
        return out
    }

    /// The labels of the kept line at `start`, read back from the file.
    static func labels(_ fd: Int32, start: Int, length: Int, allowsFourFields: Bool, options: LoadOptions) -> [String] {
        Product1MLine.readBack(fd, start: start, length: length, allowsFourFields: allowsFourFields, options: options) {
            text, fields in fields.labels.map { text.string($0) }
        } ?? []
    }

    // MARK: Regions

    private struct Region {
        var lines = LineSegment()
        var longIDs: [Int: String] = [:]   // by index in `lines`
        var issues: [LoadIssue] = []       // line numbers within the region
        var labels = LabelCounter()
        var lineCount = 0
    }

    /// Region boundaries: byte offsets just after a newline, about `size / regions` apart; the first is
    /// 0 and the last `size`.
    private static func regionBounds(_ fd: Int32, size: Int, regions: Int) -> [Int] {
        var bounds = [0]
        guard regions > 1, size > 1 << 20 else { return [0, size] }
        var probe = [UInt8](repeating: 0, count: 64 << 10)
        for r in 1 ..< regions {
            var at = max(bounds.last!, size * r / regions)
            var found: Int? = nil
            while at < size, found == nil {
                let n = probe.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(at)) }
                if n <= 0 { break }
                if let nl = probe[0 ..< n].firstIndex(of: ASCII.newline) { found = at + nl + 1 } else { at += n }
            }
            guard let cut = found, cut < size else { break }
            bounds.append(cut)
        }
        bounds.append(size)
        return bounds
    }

    private static func scanRegion(_ fd: Int32, from regionStart: Int, to regionEnd: Int, fileName: String,
                                   allowsFourFields: Bool, options: LoadOptions) -> Region {
        var region = Region()
        var buffer = [UInt8](repeating: 0, count: min(chunkBytes, max(1, regionEnd - regionStart)))
        var fields = Product1MFields(), scratch: [ByteRange] = []
        scratch.reserveCapacity(8)
        var bufferOffset = regionStart  // file offset of buffer[0]
        var filled = 0                  // valid bytes in buffer
        var number = 0
        var first = true
        var shrank = false
        while true {
            // Fill the buffer from the file.
            let want = min(buffer.count - filled, regionEnd - (bufferOffset + filled))
            if want > 0 && !shrank {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, want, off_t(bufferOffset + filled)) }
                if n < 0 && errno == EINTR { continue }
                // The file shrank while it was read: what is there is all there is.
                if n <= 0 { shrank = true } else { filled += n }
            }
            if filled == 0 { break }
            let atEnd = shrank || bufferOffset + filled >= regionEnd
            // Complete lines end at the last newline; at the end of the region, the rest is a line too.
            var usable = filled
            if !atEnd {
                guard let last = buffer[0 ..< filled].lastIndex(of: ASCII.newline) else {
                    // One line longer than the buffer: make room for it.
                    if filled == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
                    continue
                }
                usable = last + 1
            }
            buffer.withUnsafeBufferPointer { b in
                let text = ByteText(base: b.baseAddress!, count: usable)
                var start = 0
                if first {
                    // Room for the region's lines at the mean length of this chunk's, so the arrays
                    // are not grown by doubling (which would hold up to twice what they need).
                    var newlines = 0, at = 0
                    while at < usable { at = text.find(ASCII.newline, from: at, to: usable) + 1; newlines += 1 }
                    let perLine = max(16, usable / max(1, newlines))
                    region.lines.reserve((regionEnd - regionStart) / perLine * 11 / 10 + 1024)
                }
                if first && regionStart == 0 && usable >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF { start = 3 }
                while start < usable {
                    let nl = text.find(ASCII.newline, from: start, to: usable)
                    number += 1
                    let line = text.trimmed(ByteRange(start: start, end: nl))
                    start = nl + 1
                    if line.isEmpty { continue }
                    if line.count > Int(UInt32.max) {
                        region.issues.append(LoadIssue(file: fileName, line: number, reason: "the line is \(line.count) bytes long, over the limit of 4 GiB"))
                        continue
                    }
                    let problem = Product1MLine.check(text, line, allowsFourFields: allowsFourFields, options: options,
                                                      into: &fields, scratch: &scratch) { region.labels.note(text, $0) }
                    if let problem {
                        region.labels.discard()
                        region.issues.append(LoadIssue(file: fileName, line: number, reason: problem))
                        continue
                    }
                    region.labels.commit()
                    let key = IDKey.of(text, fields.id)
                    if key.isLong { region.longIDs[region.lines.count] = text.string(fields.id) }
                    region.lines.append(start: bufferOffset + line.start, length: line.count, line: number,
                                        kind: UInt8(min(fields.labels.count, 2)), key: key)
                }
            }
            first = false
            // Keep the incomplete last line at the front of the buffer.
            let rest = filled - usable
            if rest > 0 {
                buffer.withUnsafeMutableBytes { b in _ = memmove(b.baseAddress!, b.baseAddress! + usable, rest) }
            }
            bufferOffset += usable
            filled = rest
            if atEnd { break }
        }
        region.lineCount = number
        return region
    }

    private static func compacted(_ s: ScannedSplit, dropping drop: Set<Int>) -> ScannedSplit {
        var out = ScannedSplit()
        out.issues = s.issues
        out.lineCount = s.lineCount
        var table = IDTable(capacity: s.count - drop.count)
        var longIDs: [Int: String] = [:]
        var segment = LineSegment()
        segment.reserve(s.count - drop.count)
        for p in 0 ..< s.count where !drop.contains(p) {
            let position = segment.count
            let (k, i) = s.locate(p)
            let from = s.segments[k], key = s.key(p)
            segment.append(start: from.starts[i], length: Int(from.lengths[i]), line: Int(from.lineNumbers[i]) + from.lineOffset,
                           kind: from.kinds[i], key: key)
            let long = s.longIDs[p]
            if let long { longIDs[position] = long }
            _ = table.insert(key, position: position, keyAt: { segment.key($0) }) { q in !key.isLong || longIDs[q] == long }
        }
        out.append(segment)
        out.table = table
        out.longIDs = longIDs
        return out
    }
}

/// Reads `count` bytes at `offset` into the front of `buffer`; false when the file no longer has them.
func readFully(_ fd: Int32, into buffer: inout [UInt8], count: Int, at offset: Int) -> Bool {
    var done = 0
    while done < count {
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return false }
        done += n
    }
    return true
}
