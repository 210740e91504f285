import SafeText
import Support

/// How `SampleExport` writes samples.
public enum SampleExportFormat: String, Sendable, CaseIterable {
    /// A header line `id, split, line, labels, caption`, then one tab-separated line a sample.
    case tsv
    /// One JSON object a line: `{"id", "split", "line", "labels", "caption", "image"}`.
    case jsonl
}

/// Writes a list of samples (the explorer's filtered list, `vitrine export`) as TSV or JSON lines
/// (docs/data.md §3.1). Every character that could act on a terminal is escaped, so the file can
/// be printed safely: in TSV a backslash, tab, line break or other control character of a field
/// becomes `\\`, `\t`, `\n`, `\r` or `\u{XXXX}`; JSON uses its own escapes (`SafeText.jsonQuoted`).
public enum SampleExport {
    /// The lines for `positions` of `split` (a file-backed split's samples are read one at a time),
    /// each ending in a newline; the TSV header first.
    public static func lines(_ split: Split, positions: [Int], format: SampleExportFormat,
                             _ emit: (String) throws -> Void) rethrows {
        if format == .tsv { try emit("id\tsplit\tline\tlabels\tcaption\n") }
        for p in positions {
            let s = split.samples[p]
            switch format {
            case .tsv:
                try emit([s.id, split.name, String(s.line), s.labels.joined(separator: ";"), s.caption]
                    .map(tsvField).joined(separator: "\t") + "\n")
            case .jsonl:
                let labels = "[" + s.labels.map(SafeText.jsonQuoted).joined(separator: ",") + "]"
                try emit("{\"id\":\(SafeText.jsonQuoted(s.id)),\"split\":\(SafeText.jsonQuoted(split.name)),\"line\":\(s.line),"
                    + "\"labels\":\(labels),\"caption\":\(SafeText.jsonQuoted(s.caption)),"
                    + "\"image\":\(s.imagePath.map(SafeText.jsonQuoted) ?? "null")}\n")
            }
        }
    }

    /// Writes them to `path` atomically (a reader sees the old file or the whole new one).
    public static func write(_ split: Split, positions: [Int], format: SampleExportFormat, to path: String) throws {
        try AtomicFile.write(to: path) { append in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 20)
            try lines(split, positions: positions, format: format) { line in
                buffer += line.utf8
                if buffer.count >= 1 << 20 {
                    try buffer.withUnsafeBytes { try append($0) }
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            try buffer.withUnsafeBytes { try append($0) }
        }
    }

    /// One TSV field: a backslash, tab, line break or any character `SafeText.isUnsafe` names
    /// written as a backslash escape.
    public static func tsvField(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                if SafeText.isUnsafe(scalar) {
                    out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
