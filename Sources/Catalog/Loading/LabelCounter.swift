#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Counts labels by their bytes while a file is scanned, without a String per occurrence: each
/// distinct label is copied once into an arena (and validated as UTF-8 once); later occurrences cost
/// a hash and a compare. The counts are of kept lines only (`commit`).
struct LabelCounter {
    private struct Entry {
        var hash: UInt64
        var start: Int
        var length: Int
        var count: Int
    }
    private var entries: [Entry] = []
    private var slots = [Int32](repeating: -1, count: 1024)
    private var arena: [UInt8] = []
    private var pending: [Int] = []

    /// Looks `label` up (adding it when new and valid UTF-8) and remembers it for the current line.
    /// False when its bytes are not valid UTF-8.
    mutating func note(_ text: ByteText, _ r: ByteRange) -> Bool {
        let p = text.base + r.start, n = r.count
        let hash = Self.hash(p, count: n)
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
        while true {
            let e = Int(slots[s])
            if e < 0 { break }
            let entry = entries[e]
            if entry.hash == hash && entry.length == n
                && arena.withUnsafeBufferPointer({ memcmp($0.baseAddress! + entry.start, p, n) == 0 }) {
                pending.append(e)
                return true
            }
            s = (s + 1) & mask
        }
        guard UTF8Check.isValid(p, count: n) else { return false }
        let start = arena.count
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        slots[s] = Int32(entries.count)
        pending.append(entries.count)
        entries.append(Entry(hash: hash, start: start, length: n, count: 0))
        if entries.count * 2 > slots.count { grow() }
        return true
    }

    /// The current line is kept: its labels count.
    mutating func commit() {
        for e in pending { entries[e].count += 1 }
        pending.removeAll(keepingCapacity: true)
    }

    /// The current line is not kept.
    mutating func discard() { pending.removeAll(keepingCapacity: true) }

    /// The labels of kept lines with their counts (occurrences: a label repeated on a line counts twice).
    func counts() -> [String: Int] {
        var out: [String: Int] = [:]
        arena.withUnsafeBufferPointer { a in
            for entry in entries where entry.count > 0 {
                let s = String(decoding: UnsafeBufferPointer(rebasing: a[entry.start ..< entry.start + entry.length]), as: UTF8.self)
                out[s, default: 0] += entry.count
            }
        }
        return out
    }

    /// A hash of a label's bytes, eight at a time (FNV-1a's byte-at-a-time chain was a tenth of a
    /// full-size scan).
    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, count n: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(n)
        var i = 0
        while i + 8 <= n {
            h = (h ^ UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0, shift: UInt64 = 0
        while i < n { tail |= UInt64(p[i]) << shift; shift += 8; i += 1 }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 31)
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for (i, entry) in entries.enumerated() {
            var s = Int(truncatingIfNeeded: entry.hash ^ (entry.hash >> 29)) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(i)
        }
    }
}
