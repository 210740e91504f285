#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An owned, 64-byte-aligned, fixed-size array of `Float` that kernels read
/// and write through its `pointer`.
///
/// Parameters, gradients, optimiser state and preallocated activations all
/// live in `FloatBuffer`s. It is a reference type so that a layer and the
/// optimiser can share one buffer without copies; it is `@unchecked Sendable`
/// because training hands buffers between threads, and the kernels that
/// write them split the work into disjoint ranges.
public final class FloatBuffer: @unchecked Sendable {
    /// Number of floats.
    public let count: Int
    /// The first float; valid for `count` elements while the buffer lives.
    public let pointer: UnsafeMutablePointer<Float>

    /// Zero buffers of at least this many bytes are anonymous memory maps: the kernel gives
    /// zero pages on first touch, so a buffer never written (a frozen parameter's gradient, the
    /// unused rows of a word table) costs no resident memory.
    static let lazyZeroBytes = 1 << 20

    /// Whether the memory is an anonymous map (munmap) rather than an allocation.
    private let mapped: Bool

    /// A buffer of `count` floats, all equal to `value` (zero by default).
    public init(count: Int, repeating value: Float = 0) {
        precondition(count >= 0, "FloatBuffer: negative count \(count)")
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if value == 0, bytes >= Self.lazyZeroBytes,
           let map = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), map != MAP_FAILED {
            // Page-aligned (so 64-byte aligned), and already zero.
            mapped = true
            pointer = map.bindMemory(to: Float.self, capacity: max(count, 1))
            return
        }
        mapped = false
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: value, count: max(count, 1))
    }

    /// A buffer holding a copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(pointer), max(count, 1) * MemoryLayout<Float>.stride)
        } else {
            UnsafeMutableRawPointer(pointer).deallocate()
        }
    }

    /// Replaces the contents with a private, copy-on-write map of the `count` floats at byte
    /// `offset` of the open file `descriptor`: a page is read from the file when first touched
    /// (so the rows of a word table that nothing looks up are never resident) and copied only
    /// when written. The bytes must be little-endian float32 (this machine's layout) and stay
    /// in the file while the buffer lives (a weights file is replaced by renaming a new one into
    /// place, which leaves the mapped one intact).
    ///
    /// Returns false, changing nothing, unless this buffer is one of the lazily zeroed anonymous
    /// maps (`lazyZeroBytes` and more) and `offset` is a multiple of the page size.
    public func mapPrivately(descriptor: Int32, offset: Int) -> Bool {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard mapped, page > 0, offset >= 0, offset % page == 0 else { return false }
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let map = mmap(UnsafeMutableRawPointer(pointer), bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                       descriptor, off_t(offset))
        return map == UnsafeMutableRawPointer(pointer)
    }

    /// The contents as a mutable buffer pointer (no copy).
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    /// A copy of the contents.
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public subscript(index: Int) -> Float {
        get { precondition(index >= 0 && index < count, "FloatBuffer index \(index) out of 0..<\(count)"); return pointer[index] }
        set { precondition(index >= 0 && index < count, "FloatBuffer index \(index) out of 0..<\(count)"); pointer[index] = newValue }
    }

    /// Sets every element to zero.
    public func zero() { fill(0) }

    /// Sets every element to `value`.
    public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }

    /// Copies `values` (which must have `count` elements) into the buffer.
    public func copy(from values: [Float]) {
        precondition(values.count == count, "FloatBuffer.copy: \(values.count) values into a buffer of \(count)")
        values.withUnsafeBufferPointer { if let b = $0.baseAddress { pointer.update(from: b, count: count) } }
    }

    /// Copies another buffer of the same size into this one.
    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "FloatBuffer.copy: \(other.count) floats into a buffer of \(count)")
        pointer.update(from: other.pointer, count: count)
    }
}
