/// One of the four Product1M split files.
struct Product1MSplitSpec: Sendable {
    let name: String
    let role: SplitRole
    /// Training lines may leave out the labels field.
    let allowsFourFields: Bool

    var fileName: String { "product1m_\(name)_ossurl_v2.txt" }

    /// The splits in the order a `Dataset` lists them.
    static let all: [Product1MSplitSpec] = [
        Product1MSplitSpec(name: "train", role: .train, allowsFourFields: true),
        Product1MSplitSpec(name: "dev", role: .query, allowsFourFields: false),
        Product1MSplitSpec(name: "test", role: .query, allowsFourFields: false),
        Product1MSplitSpec(name: "gallery", role: .gallery, allowsFourFields: false),
    ]
}

/// Parses one Product1M split file (docs/data.md §1):
/// `item_id#####title#####url1#####url2#####labels`, labels joined by `#;#`.
enum Product1MParser {
    /// Parses `bytes`, the whole file. Malformed lines become issues and are skipped; in strict mode
    /// parsing stops at the first one.
    static func parse(
        _ bytes: [UInt8], spec: Product1MSplitSpec, path: String, images: ImageFolder, options: LoadOptions
    ) -> Split {
        let fileName = spec.fileName
        var samples: [Sample] = []
        var index: [String: Int] = [:]
        var issues: [LoadIssue] = []

        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let text = ByteText(base: base, count: buffer.count)
            var labels = LabelInterner()  // keys point into `buffer`: it must not outlive this closure
            let expectedLines = text.lineCount()
            samples.reserveCapacity(expectedLines)
            index.reserveCapacity(expectedLines)

            var fields: [ByteRange] = []
            fields.reserveCapacity(8)
            var lineLabels: [String] = []
            lineLabels.reserveCapacity(16)

            text.forEachLine { number, line in
                func reject(_ reason: String) -> Bool {
                    issues.append(LoadIssue(file: fileName, line: number, reason: reason))
                    return !options.strict
                }

                // Fields, split exactly as `line.split('#####')` would.
                fields.removeAll(keepingCapacity: true)
                var fieldStart = line.start
                while true {
                    let sep = text.findFieldSeparator(from: fieldStart, to: line.end)
                    fields.append(text.trimmed(ByteRange(start: fieldStart, end: sep)))
                    if sep == line.end { break }
                    fieldStart = sep + 5
                }
                guard fields.count == 5 || (fields.count == 4 && spec.allowsFourFields) else {
                    let expected = spec.allowsFourFields ? "4 or 5" : "5"
                    return reject("expected \(expected) fields separated by '#####', found \(fields.count)")
                }

                let idRange = fields[0]
                if idRange.isEmpty { return reject("empty item_id") }
                if idRange.count > options.maxIDBytes { return reject("item_id is \(idRange.count) bytes long, over the limit of \(options.maxIDBytes)") }
                guard text.allDigits(idRange) else {
                    return reject("item_id \(quoted(text, idRange)) is not a number (digits only)")
                }
                let titleRange = fields[1]
                if titleRange.count > options.maxTitleBytes {
                    return reject("title is \(titleRange.count) bytes long, over the limit of \(options.maxTitleBytes) bytes")
                }
                guard let title = text.validString(titleRange) else { return reject("invalid UTF-8 in the title") }

                var urls: [String] = []
                urls.reserveCapacity(2)
                let url1 = fields[2], url2 = fields[3]
                if !url1.isEmpty {
                    guard let url = text.validString(url1) else { return reject("invalid UTF-8 in url1") }
                    urls.append(url)
                }
                if !url2.isEmpty {
                    // The two URLs are usually the same: share one String then.
                    if !url1.isEmpty && text.equal(url1, url2) {
                        urls.append(urls[0])
                    } else {
                        guard let url = text.validString(url2) else { return reject("invalid UTF-8 in url2") }
                        urls.append(url)
                    }
                }

                lineLabels.removeAll(keepingCapacity: true)
                if fields.count == 5 {
                    let all = fields[4]
                    var labelStart = all.start
                    while labelStart <= all.end {
                        let sep = text.findLabelSeparator(from: labelStart, to: all.end)
                        let label = text.trimmed(ByteRange(start: labelStart, end: sep))
                        if let problem = options.labelProblem(count: lineLabels.count + 1, longest: label.count) {
                            return reject(problem)
                        }
                        if !label.isEmpty {
                            // Separators and trimmed bytes are ASCII, so valid pieces make a valid field.
                            guard let shared = labels.intern(text, label) else {
                                return reject("invalid UTF-8 in labels")
                            }
                            lineLabels.append(shared)
                        }
                        labelStart = sep + 3
                    }
                }

                let id = text.string(idRange)  // digits: ASCII
                if let first = index[id] {
                    return reject("duplicate item_id \(id) (first on line \(samples[first].line))")
                }

                index[id] = samples.count
                samples.append(Sample(id: id, caption: title, imagePath: images.imagePath(for: id),
                                      labels: Array(lineLabels[...]), urls: urls, line: number))
                return true
            }
        }
        return Split(name: spec.name, role: spec.role, file: path, samples: samples, issues: issues, index: index)
    }
}
