import Catalog

import Synchronization

/// The text the browser's filter looks through, for one split: each sample's
/// id, caption and labels, lower-cased once, as bytes (a substring search over
/// bytes is fast enough for 100,000 samples per keystroke). Built the first time
/// the split is filtered, not when the dataset opens.
public final class SearchIndex: Sendable {
    private let samples: SampleList
    private let built = Mutex<SearchText?>(nil)

    public init(samples: SampleList) { self.samples = samples }

    public var count: Int { samples.count }

    /// Splits read from their file with more lines than this are filtered in the background
    /// (`FilterJob`), never indexed in memory.
    public static let backgroundThreshold = 50_000

    /// Whether this split is filtered in the background.
    public var filtersInBackground: Bool { samples.isFileBacked && samples.count > Self.backgroundThreshold }

    private var text: SearchText {
        built.withLock { t in
            if let t { return t }
            let made = SearchText(samples: samples)
            t = made
            return made
        }
    }

    /// Indices of the samples whose id, caption or labels contain `query`
    /// (case-insensitive); all of them for an empty query.
    public func matches(_ query: String) -> [Int] {
        if query.isEmpty { return Array(0..<count) }
        return text.matches(query)
    }
}

private struct SearchText: Sendable {
    let text: [UInt8]
    let starts: [Int]   // sample i's text is text[starts[i] ..< starts[i + 1]]

    init(samples: SampleList) {
        var text: [UInt8] = []
        var starts: [Int] = []
        starts.reserveCapacity(samples.count + 1)
        for s in samples {
            starts.append(text.count)
            text.append(contentsOf: s.id.utf8)
            text.append(0x1F)
            text.append(contentsOf: s.caption.lowercased().utf8)
            for l in s.labels {
                text.append(0x1F)
                text.append(contentsOf: l.lowercased().utf8)
            }
        }
        starts.append(text.count)
        self.text = text
        self.starts = starts
    }

    public var count: Int { starts.count - 1 }

    /// Indices of the samples whose id, caption or labels contain `query`
    /// (case-insensitive); all of them for an empty query.
    public func matches(_ query: String) -> [Int] {
        let needle = Array(query.lowercased().utf8)
        if needle.isEmpty { return Array(0..<count) }
        var out: [Int] = []
        text.withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { nd in
                let n = nd.count
                let first = nd[0]
                for i in 0..<count {
                    let a = starts[i], b = starts[i + 1]
                    if b - a < n { continue }
                    var j = a
                    let last = b - n
                    while j <= last {
                        if hay[j] == first {
                            var k = 1
                            while k < n && hay[j + k] == nd[k] { k += 1 }
                            if k == n { out.append(i); break }
                        }
                        j += 1
                    }
                }
            }
        }
        return out
    }
}
