// One line of a Product1M split file (docs/data.md §1): `item_id#####title#####url1#####url2#####labels`,
// labels joined by `#;#`. The checks here are the whole of what makes a line malformed, except a
// duplicate id, which needs the lines before it; the scan that indexes a file and the lazy parse of one
// sample both go through them, so the two can never disagree.

/// The fields of a line that passed every check, as ranges of the line's buffer.
struct Product1MFields {
    var id = ByteRange(start: 0, end: 0)
    var title = ByteRange(start: 0, end: 0)
    var url1 = ByteRange(start: 0, end: 0)
    var url2 = ByteRange(start: 0, end: 0)
    /// The non-empty labels, trimmed, in file order, repeats kept.
    var labels: [ByteRange] = []

    init() { labels.reserveCapacity(16) }
}

enum Product1MLine {
    /// Splits and checks one trimmed, non-blank line. Returns nil when the line is well formed (its
    /// fields are then in `fields`), or the reason it is malformed. `labelIsValid` answers whether a
    /// label's bytes are valid UTF-8 (the scan remembers labels it has seen, so each distinct label is
    /// validated once); every other field is validated here.
    ///
    /// With `validateText` false, UTF-8 is not checked (a line read back for the filter, which the
    /// scan already checked: what it shows is read again, and checked, by `sample(at:)`).
    static func check(_ text: ByteText, _ line: ByteRange, allowsFourFields: Bool, options: LoadOptions,
                      into fields: inout Product1MFields, scratch: inout [ByteRange], validateText: Bool = true,
                      labelIsValid: (ByteRange) -> Bool) -> String? {
        // Fields, split exactly as `line.split('#####')` would.
        scratch.removeAll(keepingCapacity: true)
        var fieldStart = line.start
        while true {
            let sep = text.findFieldSeparator(from: fieldStart, to: line.end)
            scratch.append(text.trimmed(ByteRange(start: fieldStart, end: sep)))
            if sep == line.end { break }
            fieldStart = sep + 5
        }
        guard scratch.count == 5 || (scratch.count == 4 && allowsFourFields) else {
            let expected = allowsFourFields ? "4 or 5" : "5"
            return "expected \(expected) fields separated by '#####', found \(scratch.count)"
        }

        let id = scratch[0]
        if id.isEmpty { return "empty item_id" }
        if id.count > options.maxIDBytes { return "item_id is \(id.count) bytes long, over the limit of \(options.maxIDBytes)" }
        guard text.allDigits(id) else { return "item_id \(quoted(text, id)) is not a number (digits only)" }
        let title = scratch[1]
        if title.count > options.maxTitleBytes {
            return "title is \(title.count) bytes long, over the limit of \(options.maxTitleBytes) bytes"
        }
        let url1 = scratch[2], url2 = scratch[3]
        if validateText {
            guard UTF8Check.isValid(text, title) else { return "invalid UTF-8 in the title" }
            if !url1.isEmpty && !UTF8Check.isValid(text, url1) { return "invalid UTF-8 in url1" }
            if !url2.isEmpty && !(!url1.isEmpty && text.equal(url1, url2)) && !UTF8Check.isValid(text, url2) {
                return "invalid UTF-8 in url2"
            }
        }

        fields.labels.removeAll(keepingCapacity: true)
        if scratch.count == 5 {
            let all = scratch[4]
            var labelStart = all.start
            while labelStart <= all.end {
                let sep = text.findLabelSeparator(from: labelStart, to: all.end)
                let label = text.trimmed(ByteRange(start: labelStart, end: sep))
                if let problem = options.labelProblem(count: fields.labels.count + 1, longest: label.count) {
                    return problem
                }
                if !label.isEmpty {
                    // Separators and trimmed bytes are ASCII, so valid pieces make a valid field.
                    guard !validateText || labelIsValid(label) else { return "invalid UTF-8 in labels" }
                    fields.labels.append(label)
                }
                labelStart = sep + 3
            }
        }
        fields.id = id
        fields.title = title
        fields.url1 = url1
        fields.url2 = url2
        return nil
    }

    /// Reads the line at `start` (`length` bytes, as the scan recorded it) back from the file and
    /// checks it again: `body` gets its fields, or nothing happens (nil) when the file no longer
    /// holds a well-formed line there.
    static func readBack<T>(_ fd: Int32, start: Int, length: Int, allowsFourFields: Bool, options: LoadOptions,
                            _ body: (ByteText, Product1MFields) -> T?) -> T? {
        var buffer = [UInt8](repeating: 0, count: max(1, length))
        guard readFully(fd, into: &buffer, count: length, at: start) else { return nil }
        return buffer.withUnsafeBufferPointer { b in
            let text = ByteText(base: b.baseAddress!, count: length)
            var fields = Product1MFields(), scratch: [ByteRange] = []
            let problem = check(text, ByteRange(start: 0, end: length), allowsFourFields: allowsFourFields,
                                options: options, into: &fields, scratch: &scratch) { UTF8Check.isValid(text, $0) }
            return problem == nil ? body(text, fields) : nil
        }
    }

    /// The sample of a line that passed `check`.
    static func sample(_ text: ByteText, _ fields: Product1MFields, imagePath: String?, line: Int) -> Sample {
        var urls: [String] = []
        if !fields.url1.isEmpty { urls.append(text.string(fields.url1)) }
        if !fields.url2.isEmpty {
            // The two URLs are usually the same: share one String then.
            urls.append(!fields.url1.isEmpty && text.equal(fields.url1, fields.url2) ? urls[0] : text.string(fields.url2))
        }
        return Sample(id: text.string(fields.id), caption: text.string(fields.title), imagePath: imagePath,
                      labels: fields.labels.map { text.string($0) }, urls: urls, line: line)
    }
}

/// UTF-8 validation without building a String: the rules of `String(validating:as: UTF8.self)`
/// (no overlong forms, no surrogates, nothing above U+10FFFF), with an eight-bytes-at-a-time
/// path over ASCII runs.
enum UTF8Check {
    static func isValid(_ text: ByteText, _ r: ByteRange) -> Bool {
        isValid(text.base + r.start, count: r.count)
    }

    static func isValid(_ p: UnsafePointer<UInt8>, count: Int) -> Bool {
        var i = 0
        while i < count {
            if i + 8 <= count {
                let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if word & 0x8080_8080_8080_8080 == 0 { i += 8; continue }
            }
            let b0 = p[i]
            if b0 < 0x80 { i += 1; continue }
            @inline(__always) func continuation(_ k: Int) -> Bool { i + k < count && p[i + k] & 0xC0 == 0x80 }
            switch b0 {
            case 0xC2 ... 0xDF:
                guard continuation(1) else { return false }
                i += 2
            case 0xE0 ... 0xEF:
                guard continuation(1), continuation(2) else { return false }
                let b1 = p[i + 1]
                if b0 == 0xE0 && b1 < 0xA0 { return false }   // overlong
                if b0 == 0xED && b1 > 0x9F { return false }   // surrogates
                i += 3
            case 0xF0 ... 0xF4:
                guard continuation(1), continuation(2), continuation(3) else { return false }
                let b1 = p[i + 1]
                if b0 == 0xF0 && b1 < 0x90 { return false }   // overlong
                if b0 == 0xF4 && b1 > 0x8F { return false }   // above U+10FFFF
                i += 4
            default:
                return false
            }
        }
        return true
    }
}
