import Support

/// A Product1M item id held in nine bytes instead of a String. Ids are digits only (docs/data.md
/// §1); one of up to 19 digits is its value and its digit count (so `007` and `7` differ). A longer
/// one is its FNV-1a hash with `length` 255, and its text is kept beside it (`LongIDs`).
struct IDKey: Equatable, Sendable {
    var value: UInt64
    var length: UInt8

    static let long: UInt8 = 255

    /// The key of the digits in `r` (all digits, not empty: `Product1MLine.check` made sure).
    static func of(_ text: ByteText, _ r: ByteRange) -> IDKey {
        of(text.base + r.start, count: r.count)
    }

    static func of(_ p: UnsafePointer<UInt8>, count: Int) -> IDKey {
        if count > 19 {
            return IDKey(value: FNV1a.hash(UnsafeRawBufferPointer(start: p, count: count)), length: long)
        }
        var v: UInt64 = 0
        for i in 0..<count { v = v &* 10 &+ UInt64(p[i] &- 0x30) }
        return IDKey(value: v, length: UInt8(count))
    }

    /// The key of an id given as text, or nil when it is not an id a Product1M file can hold.
    static func of(_ id: String) -> IDKey? {
        var id = id
        return id.withUTF8 { u in
            guard let base = u.baseAddress, !u.isEmpty, u.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            return of(base, count: u.count)
        }
    }

    var isLong: Bool { length == Self.long }

    /// The id's text (not for long keys: those are in `LongIDs`).
    var digits: String {
        let s = String(value)
        let pad = Int(length) - s.utf8.count
        return pad > 0 ? String(repeating: "0", count: pad) + s : s
    }

    /// Where this key starts probing in a table of `mask + 1` slots.
    @inline(__always)
    func slot(mask: Int) -> Int {
        var z = value ^ (UInt64(length) << 56) ^ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int(truncatingIfNeeded: z ^ (z >> 31)) & mask
    }
}

/// Positions by id key: open addressing with linear probing, four bytes a slot, at most half full.
struct IDTable: Sendable {
    private(set) var slots: [Int32]
    let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < 2 * capacity { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    /// Inserts `position` under `key` unless a position whose id is the same is there already; returns
    /// that earlier position, or nil when `position` was inserted. `same(p)` says whether the id at
    /// position `p` equals this one (called only for positions whose key is equal, to tell long ids apart).
    mutating func insert(_ key: IDKey, position: Int, keyAt: (Int) -> IDKey, same: (Int) -> Bool) -> Int? {
        var s = key.slot(mask: mask)
        while true {
            let p = Int(slots[s])
            if p < 0 { slots[s] = Int32(position); return nil }
            if keyAt(p) == key && same(p) { return p }
            s = (s + 1) & mask
        }
    }

}
