/// A loss curve in one line of text: one glyph a column, its height the
/// value's place between the smallest and largest value shown.
public enum Sparkline {
    /// Eight heights, lowest first.
    public static let unicodeLevels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
    /// The same eight heights in ASCII, for terminals without UTF-8.
    public static let asciiLevels: [Character] = ["_", ".", "-", "~", "=", "+", "*", "#"]

    /// Draws `values` in at most `width` columns. More values than columns
    /// are averaged into `width` equal buckets (so the whole run stays in
    /// view); fewer take one column each. A flat series sits in the middle;
    /// values that are not finite (a diverged loss) show as `!`.
    public static func render(_ values: [Double], width: Int, unicode: Bool) -> String {
        guard width > 0, !values.isEmpty else { return "" }
        let levels = unicode ? unicodeLevels : asciiLevels
        let shown = values.count > width ? bucketMeans(values, into: width) : values
        var low = Double.infinity, high = -Double.infinity
        for v in shown where v.isFinite {
            low = min(low, v); high = max(high, v)
        }
        var out = ""
        out.reserveCapacity(shown.count)
        for v in shown {
            guard v.isFinite else { out.append("!"); continue }
            if high - low <= 1e-12 * max(1, abs(high)) {
                out.append(levels[levels.count / 2 - 1])
            } else {
                let t = (v - low) / (high - low)
                let i = min(levels.count - 1, max(0, Int((t * Double(levels.count - 1)).rounded())))
                out.append(levels[i])
            }
        }
        return out
    }

    /// Means of `count` consecutive buckets of nearly equal size; a bucket
    /// holding a non-finite value is non-finite.
    static func bucketMeans(_ values: [Double], into count: Int) -> [Double] {
        var out: [Double] = []
        out.reserveCapacity(count)
        let n = values.count
        values.withUnsafeBufferPointer { buffer in
            for b in 0..<count {
                let start = b * n / count, end = (b + 1) * n / count
                var sum = 0.0
                for i in start..<end { sum += buffer[i] }
                out.append(end > start ? sum / Double(end - start) : .nan)
            }
        }
        return out
    }
}

/// A bounded record of one loss over a whole run: when it fills up,
/// neighbouring values are averaged in pairs and later values are averaged
/// over twice as many steps, so memory stays fixed however long the run and
/// the sparkline still covers it from the first step.
public struct LossSeries: Sendable, Equatable {
    /// Values kept, oldest first; each the mean of `stride` steps.
    public private(set) var values: [Double] = []
    /// Steps averaged into each kept value.
    public private(set) var stride = 1
    /// The most recent value reported.
    public private(set) var latest: Double = .nan
    public let capacity: Int
    private var pendingSum = 0.0
    private var pendingCount = 0

    public init(capacity: Int = 256) {
        precondition(capacity >= 2 && capacity % 2 == 0, "LossSeries capacity must be even and at least 2")
        self.capacity = capacity
        values.reserveCapacity(capacity)
    }

    public mutating func append(_ value: Double) {
        latest = value
        pendingSum += value
        pendingCount += 1
        guard pendingCount == stride else { return }
        values.append(pendingSum / Double(pendingCount))
        pendingSum = 0; pendingCount = 0
        if values.count == capacity {
            var merged: [Double] = []
            merged.reserveCapacity(capacity)
            for i in Swift.stride(from: 0, to: capacity, by: 2) { merged.append((values[i] + values[i + 1]) / 2) }
            values = merged
            stride *= 2
        }
    }

    /// What the sparkline draws: the kept values and the partial one being filled.
    public var displayValues: [Double] {
        pendingCount > 0 ? values + [pendingSum / Double(pendingCount)] : values
    }
}
