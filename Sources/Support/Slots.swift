/// Fixed slots that concurrent iterations fill, one slot each (distinct memory, so no locking);
/// read after all iterations have finished.
public final class Slots<Value>: @unchecked Sendable {
    private let storage: UnsafeMutableBufferPointer<Value?>

    public init(count: Int) {
        storage = .allocate(capacity: count)
        storage.initialize(repeating: nil)
    }

    deinit {
        storage.deinitialize()
        storage.deallocate()
    }

    public subscript(i: Int) -> Value? {
        get { storage[i] }
        set { storage[i] = newValue }
    }

    /// Every slot's value, in order (nil where an iteration left its slot empty).
    public var values: [Value?] { Array(storage) }
}
