import SafeText
import Foundation

/// Counts for one split, as `vitrine info` shows them.
public struct SplitStats: Sendable, Codable, Equatable {
    public let name: String
    public let role: SplitRole
    /// Path of the split's file.
    public let file: String
    /// Well-formed lines (samples kept).
    public let samples: Int
    /// Samples with one label.
    public let single: Int
    /// Samples with two or more labels (repeats count).
    public let multi: Int
    /// Samples without labels.
    public let unlabelled: Int
    /// Distinct labels over the split's samples.
    public let labels: Int
    /// Samples whose image was not found.
    public let missingImages: Int
    /// Lines skipped as malformed.
    public let malformedLines: Int

    public init(_ split: Split) {
        name = split.name
        role = split.role
        file = split.file
        samples = split.samples.count
        single = split.kindCounts.single
        multi = split.kindCounts.multi
        unlabelled = samples - single - multi
        labels = split.labelCounts.count
        missingImages = split.missingImages
        malformedLines = split.issues.count
    }

    enum CodingKeys: String, CodingKey {
        case name, role, file, samples, single, multi, unlabelled, labels
        case missingImages = "missing_images"
        case malformedLines = "malformed_lines"
    }
}

/// Counts over the whole dataset. An item listed in two splits (a folder-format item without a split
/// is in `query` and in `gallery`) counts once, by id; a malformed line counts once.
public struct DatasetTotals: Sendable, Codable, Equatable {
    /// Distinct items (by id) over all splits.
    public let samples: Int
    public let single: Int
    public let multi: Int
    public let unlabelled: Int
    /// Distinct labels over all splits.
    public let labels: Int
    public let missingImages: Int
    /// All malformed lines, including those that belong to no split.
    public let malformedLines: Int

    public init(_ dataset: Dataset) {
        // Each split knows its own counts; what is left is to leave out the samples whose id an earlier
        // split already listed (in Product1M, none in a well-formed dump).
        var single = 0, multi = 0, unlabelled = 0, missing = 0, distinct = 0
        var labels: [String: Int] = [:]
        var seen = Set<String>()
        for (k, split) in dataset.splits.enumerated() {
            var splitLabels = split.labelCounts
            var s = split.kindCounts.single, m = split.kindCounts.multi, u = split.samples.count - s - m
            var miss = split.missingImages
            for p in DatasetTotals.repeated(in: split, after: dataset.splits[..<k], seen: &seen) {
                let sample = split.samples[p]
                switch sample.kind {
                case .single: s -= 1
                case .multi: m -= 1
                case .unknown: u -= 1
                }
                if sample.imagePath == nil { miss -= 1 }
                for label in sample.labels {
                    splitLabels[label, default: 0] -= 1
                    if splitLabels[label] == 0 { splitLabels[label] = nil }
                }
            }
            distinct += s + m + u
            single += s; multi += m; unlabelled += u; missing += miss
            labels.merge(splitLabels, uniquingKeysWith: +)
        }
        samples = distinct
        self.single = single
        self.multi = multi
        self.unlabelled = unlabelled
        self.labels = labels.count
        missingImages = missing
        malformedLines = dataset.issues.count
    }

    /// The positions in `split` whose id is in one of the `earlier` splits or earlier in `split` itself.
    /// File-backed splits answer from their id tables; in-memory ones through `seen`, the ids so far.
    private static func repeated(in split: Split, after earlier: ArraySlice<Split>, seen: inout Set<String>) -> [Int] {
        if let lines = split.samples.lines, earlier.allSatisfy({ $0.samples.lines != nil }) {
            // A file-backed split holds no id twice (the scan dropped repeats).
            let tables = earlier.map { $0.samples.lines! }
            guard !tables.isEmpty else { return [] }
            return (0 ..< lines.count).filter { p in
                let key = lines.key(at: p), long = lines.longID(at: p)
                return tables.contains { $0.contains(key, long: long) }
            }
        }
        if seen.isEmpty {
            for e in earlier { for p in e.samples.indices { seen.insert(e.samples.id(at: p)) } }
        }
        var out: [Int] = []
        for p in split.samples.indices where !seen.insert(split.samples.id(at: p)).inserted { out.append(p) }
        return out
    }

    enum CodingKeys: String, CodingKey {
        case samples, single, multi, unlabelled, labels
        case missingImages = "missing_images"
        case malformedLines = "malformed_lines"
    }
}

/// What `vitrine info` reports about a dataset: per-split counts, totals and the first malformed lines.
public struct DatasetInfo: Sendable, Codable {
    /// The dataset's folder name.
    public let name: String
    /// Absolute path of the dataset folder.
    public let root: String
    public let format: DatasetFormat
    public let splits: [SplitStats]
    public let totals: DatasetTotals
    /// The first malformed lines (`file:line: reason`), at most `issueLimit` of them.
    public let firstIssues: [String]

    /// How many issues `init(_:)` lists by default.
    public static let defaultIssueLimit = 20

    /// The statistics of `dataset`, listing its first `defaultIssueLimit` issues.
    public init(_ dataset: Dataset) {
        self.init(dataset, issueLimit: Self.defaultIssueLimit)
    }

    /// The statistics of `dataset`, listing its first `issueLimit` issues.
    public init(_ dataset: Dataset, issueLimit: Int) {
        name = dataset.name
        root = dataset.root
        format = dataset.format
        splits = dataset.splits.map(SplitStats.init)
        totals = DatasetTotals(dataset)
        firstIssues = dataset.issues.prefix(max(issueLimit, 0)).map(\.description)
    }

    enum CodingKeys: String, CodingKey {
        case name, root, format, splits, totals
        case firstIssues = "first_issues"
    }

    /// Pretty-printed JSON with sorted, snake_case keys, so output is stable from run to run.
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }  // only strings and integers: cannot fail
        return String(decoding: data, as: UTF8.self)
    }

    /// A human-readable table for a terminal: a title line, one row per split, a total row, then the
    /// first issues. Text from data (names, reasons) has its control characters escaped.
    public func table() -> String {
        let header = ["split", "role", "samples", "single", "multi", "unlabelled", "labels", "missing images", "malformed"]
        var rows: [[String]] = splits.map { s in
            [safe(s.name), s.role.rawValue, "\(s.samples)", "\(s.single)", "\(s.multi)", "\(s.unlabelled)",
             "\(s.labels)", "\(s.missingImages)", "\(s.malformedLines)"]
        }
        let t = totals
        rows.append(["total", "", "\(t.samples)", "\(t.single)", "\(t.multi)", "\(t.unlabelled)",
                     "\(t.labels)", "\(t.missingImages)", "\(t.malformedLines)"])

        var widths = header.map(\.count)
        for row in rows {
            for (k, cell) in row.enumerated() { widths[k] = max(widths[k], cell.count) }
        }
        func render(_ cells: [String]) -> String {
            var line = ""
            for (k, cell) in cells.enumerated() {
                let pad = String(repeating: " ", count: widths[k] - cell.count)
                if k > 0 { line += "  " }
                line += k < 2 ? cell + pad : pad + cell  // names left, numbers right
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }

        var lines = ["\(safe(name))  (\(format.rawValue))  \(safe(root))", ""]
        lines.append(render(header))
        lines.append(render(widths.map { String(repeating: "-", count: $0) }))
        for (k, row) in rows.enumerated() {
            if k == rows.count - 1 { lines.append(render(widths.map { String(repeating: "-", count: $0) })) }
            lines.append(render(row))
        }
        if !firstIssues.isEmpty {
            lines.append("")
            let shown = firstIssues.count < t.malformedLines
                ? "first \(firstIssues.count) of \(t.malformedLines) malformed lines (skipped):"
                : "\(t.malformedLines) malformed line\(t.malformedLines == 1 ? "" : "s") (skipped):"
            lines.append(shown)
            for issue in firstIssues { lines.append("  " + safe(issue)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text escaped by SafeText's one rule (reasons quote data already; paths may not).
    private func safe(_ s: String) -> String { SafeText.terminal(s) }
}
