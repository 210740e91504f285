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

    /// A buffer of `count` floats, all equal to `value` (zero by default).
    public init(count: Int, repeating value: Float = 0) {
        precondition(count >= 0, "FloatBuffer: negative count \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride,
                                                   alignment: 64)
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

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }

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
