/// FNV-1a, 64 bits: a small hash that is the same on every machine and in every run (Swift's
/// `hashValue` is seeded per process). For seeds, shard choices and checksums, not security.
public enum FNV1a {
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let prime: UInt64 = 0x0000_0100_0000_01b3

    /// The hash of `bytes`, continuing from `state` (the offset basis by default).
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer, from state: UInt64 = offsetBasis) -> UInt64 {
        var h = state
        for byte in bytes { h = (h ^ UInt64(byte)) &* prime }
        return h
    }

    /// The hash of a sequence of bytes.
    @inlinable
    public static func hash<Bytes: Sequence>(bytes: Bytes, from state: UInt64 = offsetBasis) -> UInt64 where Bytes.Element == UInt8 {
        var h = state
        for byte in bytes { h = (h ^ UInt64(byte)) &* prime }
        return h
    }

    /// The hash of a string's UTF-8 bytes.
    @inlinable
    public static func hash(_ text: String) -> UInt64 { hash(bytes: text.utf8) }
}
