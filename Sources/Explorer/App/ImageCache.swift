import Imaging

/// What the explorer knows of one image file.
public enum ImageSlot: Sendable, Equatable {
    case loading
    case ready(RGBImage)
    case failed(String)
}

/// Decoded thumbnails, least recently used first out. Part of the state (a
/// value); decoding itself happens off the UI thread, in effects.
public struct ImageCache: Sendable, Equatable {
    public let capacity: Int
    private(set) var slots: [String: ImageSlot] = [:]
    private var order: [String] = []   // least recently used first

    public init(capacity: Int = 64) { self.capacity = capacity }

    public subscript(path: String) -> ImageSlot? { slots[path] }

    public var count: Int { slots.count }

    public mutating func set(_ slot: ImageSlot, for path: String) {
        if slots[path] != nil { order.removeAll { $0 == path } }
        slots[path] = slot
        order.append(path)
        while order.count > capacity {
            let old = order.removeFirst()
            slots[old] = nil
        }
    }

    /// Marks `path` as used now (keeps it from being evicted).
    public mutating func touch(_ path: String) {
        guard slots[path] != nil, order.last != path else { return }
        order.removeAll { $0 == path }
        order.append(path)
    }
}
