import Catalog
import Foundation
import Retrieval
import SafeText

/// `vitrine query --stdin`: one query per line of standard input, one JSON line per answer, with the
/// model, the dataset and the gallery index loaded once (docs/README: "Scripting").
///
/// A line is a caption as plain text, or a JSON object: exactly one of `caption`, `image` (a path)
/// and `sample` (an id), and optionally `mode` (for a sample: caption, image or pair), `top`, `label`
/// and `kind` (single or multi), which override the command line's. Blank lines are skipped. A line
/// that cannot be answered (not UTF-8, over 1 MiB, a bad object, an unknown sample, an unreadable
/// image) gets `{"line": N, "error": "..."}` and the next line is read: one bad query never ends
/// a script's run.
struct QueryLines {
    let engine: RetrievalEngine
    let labels: [String: String]
    let top: Int
    let filter: RetrievalFilter
    let mode: QueryMode

    static let maxLineBytes = 1 << 20

    func answerStandardInput() {
        var reader = LineReader(descriptor: 0, limit: Self.maxLineBytes)
        var number = 0
        while let line = reader.next() {
            number += 1
            let fields: [String]
            switch line {
            case .tooLong(let length):
                fields = error("the line is over \(length) bytes, above the limit of \(Self.maxLineBytes)")
            case .bytes(let bytes):
                guard let text = String(validating: bytes, as: UTF8.self) else {
                    fields = error("the line is not valid UTF-8")
                    break
                }
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { continue }
                fields = answer(trimmed)
            }
            Console.json("{\"line\":\(number)," + fields.joined(separator: ",") + "}")
        }
    }

    private func error(_ message: String) -> [String] { ["\"error\":" + jsonString(message)] }

    private func answer(_ text: String) -> [String] {
        do {
            let (query, top, filter) = try parse(text)
            let result = try engine.search(query, top: top, filter: filter)
            return QueryCommand.jsonFields(query, result, labels: labels)
        } catch {
            return self.error(String(describing: error))
        }
    }

    struct BadLine: Error, CustomStringConvertible { let description: String }

    private func parse(_ text: String) throws -> (RetrievalQuery, Int, RetrievalFilter) {
        guard text.hasPrefix("{") else { return (.caption(text), top, filter) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as? [String: Any] else {
            throw BadLine(description: "the line starts with { but is not a JSON object")
        }
        let known: Set<String> = ["caption", "image", "sample", "mode", "top", "label", "kind"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw BadLine(description: "unknown field \(SafeText.quoted(unknown, limit: 40)); the fields are \(known.sorted().joined(separator: ", "))")
        }
        func string(_ key: String) throws -> String? {
            guard let value = object[key] else { return nil }
            guard let s = value as? String else { throw BadLine(description: "\"\(key)\" must be a string") }
            return s
        }
        let given = ["caption", "image", "sample"].filter { object[$0] != nil }
        guard given.count == 1 else { throw BadLine(description: "give exactly one of \"caption\", \"image\" and \"sample\"") }
        var top = self.top
        if let value = object["top"] {
            guard let n = value as? Int, !(value is Bool), n > 0 else { throw BadLine(description: "\"top\" must be a positive integer") }
            top = n
        }
        var filter = self.filter
        if let label = try string("label") { filter = RetrievalFilter(label: label, kind: filter.kind) }
        if let kind = try string("kind") {
            guard let k = KindChoice(rawValue: kind) else { throw BadLine(description: "\"kind\" must be single or multi") }
            filter = RetrievalFilter(label: filter.label, kind: k == .single ? .single : .multi)
        }
        var mode = self.mode
        if let m = try string("mode") {
            guard let parsed = QueryMode(rawValue: m) else { throw BadLine(description: "\"mode\" must be caption, image or pair") }
            mode = parsed
        }
        if let caption = try string("caption") { return (.caption(caption), top, filter) }
        if let image = try string("image") { return (.imageFile(path: absolute(image)), top, filter) }
        return (.sample(id: try string("sample")!, mode: mode), top, filter)
    }
}

/// Lines of a file descriptor as bytes, read in blocks; a line longer than `limit` is skipped to its
/// end and reported by its length, never held whole.
struct LineReader {
    enum Line { case bytes([UInt8]), tooLong(Int) }

    private let descriptor: Int32
    private let limit: Int
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(descriptor: Int32, limit: Int) {
        self.descriptor = descriptor
        self.limit = limit
    }

    mutating func next() -> Line? {
        var skipped = 0   // bytes of an over-long line dropped so far
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                let length = nl - start
                defer { start = nl + 1 }
                if skipped > 0 || length > limit { return .tooLong(skipped + length) }
                return .bytes(Array(buffer[start ..< nl]))
            }
            if atEnd {
                guard start < buffer.count || skipped > 0 else { return nil }
                let length = buffer.count - start
                start = buffer.count
                if skipped > 0 || length > limit { return .tooLong(skipped + length) }
                return .bytes(Array(buffer[(buffer.count - length)...]))
            }
            // Drop what was consumed; drop an over-long line's bytes as they come.
            buffer.removeFirst(start)
            start = 0
            if buffer.count > limit { skipped += buffer.count; buffer.removeAll(keepingCapacity: true) }
            var block = [UInt8](repeating: 0, count: 64 << 10)
            let n = block.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { atEnd = true } else { buffer += block[0 ..< n] }
        }
    }
}
