/// Loads the plain folder format (docs/data.md §3): `captions.tsv` or `captions.jsonl` beside `images/`.
///
/// The `split` column (or field) puts an item in `train`, `query` or `gallery`; an item without one is
/// in both `query` and `gallery`. A malformed line is attributed to the split it names; a line without
/// a split to both `query` and `gallery`; a line whose split cannot be read (wrong field count,
/// broken JSON) to both when the file has no split column at all, and otherwise to no split
/// (`Dataset.unassignedIssues`).
enum FolderLoader {
    static let tsvName = "captions.tsv"
    static let jsonlName = "captions.jsonl"

    struct Result {
        var splits: [Split]
        var unassigned: [LoadIssue]
    }

    static func load(format: DatasetFormat, root: String, options: LoadOptions) throws -> Result {
        let fileName = format == .folderTSV ? tsvName : jsonlName
        let path = root + "/" + fileName
        let bytes = try readFileBytes(path)
        var assembler = RowAssembler(root: root, fileName: fileName, path: path, options: options)
        try bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let text = ByteText(base: base, count: buffer.count)
            if format == .folderTSV {
                try parseTSV(text, into: &assembler)
            } else {
                try parseJSONL(text, into: &assembler)
            }
        }
        return assembler.finish()
    }

    // MARK: TSV

    private static let headerNames: [[String]] = [["id"], ["image", "image-file", "image_file"], ["caption"], ["labels"], ["split"]]

    private static func parseTSV(_ text: ByteText, into assembler: inout RowAssembler) throws {
        var fields: [ByteRange] = []
        fields.reserveCapacity(8)
        var labels = LabelInterner()
        var labelList: [String] = []
        try text.forEachLine(keepTabs: true) { number, line in
            fields.removeAll(keepingCapacity: true)
            var start = line.start
            while true {
                let tab = text.find(ASCII.tab, from: start, to: line.end)
                fields.append(text.trimmed(ByteRange(start: start, end: tab)))
                if tab == line.end { break }
                start = tab + 1
            }
            if number == 1 && isHeader(text, fields) {
                if fields.count == 5 { assembler.usesSplitColumn = true }
                return true
            }

            // The split first: it says where a problem with the rest of the line is reported.
            var split: SplitRole? = nil
            var attribution = RowAssembler.Attribution.unknown
            if fields.count == 4 {
                attribution = .noSplit
            } else if fields.count == 5 {
                let splitField = fields[4]
                if splitField.isEmpty {
                    attribution = .noSplit
                } else if let role = role(named: text.string(splitField)) {
                    split = role
                    attribution = .split(role)
                } else {
                    return try assembler.reject(line: number, attribution: .unknown,
                        "unknown split \(quoted(text, splitField)) (expected train, query or gallery)")
                }
            }
            func reject(_ reason: String) throws -> Bool {
                try assembler.reject(line: number, attribution: attribution, reason)
            }
            guard fields.count == 4 || fields.count == 5 else {
                return try reject("expected 4 or 5 tab-separated fields (id, image, caption, labels[, split]), found \(fields.count)")
            }
            if fields[0].isEmpty { return try reject("empty id") }
            guard let id = text.validString(fields[0]) else { return try reject("invalid UTF-8 in the id") }
            guard let image = text.validString(fields[1]) else { return try reject("invalid UTF-8 in the image file name") }
            let captionRange = fields[2]
            if captionRange.count > assembler.options.maxTitleBytes {
                return try reject(assembler.overLongCaption(captionRange.count))
            }
            guard let caption = text.validString(captionRange) else { return try reject("invalid UTF-8 in the caption") }

            labelList.removeAll(keepingCapacity: true)
            let all = fields[3]
            var labelStart = all.start
            while labelStart <= all.end {
                let semicolon = text.find(ASCII.semicolon, from: labelStart, to: all.end)
                let label = text.trimmed(ByteRange(start: labelStart, end: semicolon))
                if let problem = assembler.options.labelProblem(count: labelList.count + 1, longest: label.count) {
                    return try reject(problem)
                }
                if !label.isEmpty {
                    guard let shared = labels.intern(text, label) else { return try reject("invalid UTF-8 in the labels") }
                    labelList.append(shared)
                }
                labelStart = semicolon + 1
            }
            return try assembler.add(line: number, id: id, image: image, caption: caption,
                                     labels: Array(labelList[...]), split: split)
        }
    }

    private static func isHeader(_ text: ByteText, _ fields: [ByteRange]) -> Bool {
        guard fields.count == 4 || fields.count == 5 else { return false }
        for (k, field) in fields.enumerated() where !headerNames[k].contains(text.string(field).lowercased()) {
            return false
        }
        return true
    }

    private static func role(named name: String) -> SplitRole? {
        SplitRole(rawValue: name.lowercased())
    }

    // MARK: JSONL

    private static func parseJSONL(_ text: ByteText, into assembler: inout RowAssembler) throws {
        var labels = StringInterner()
        try text.forEachLine { number, line in
            var parser = JSONLineParser(text, line)
            let value: JSONValue
            do throws(JSONLineError) {
                value = try parser.parseDocument()
            } catch {
                return try assembler.reject(line: number, attribution: .unknown,
                                            "invalid JSON at column \(error.column): \(error.message)")
            }
            guard case .object(let object) = value else {
                return try assembler.reject(line: number, attribution: .unknown,
                                            "expected a JSON object, found \(value.typeName)")
            }

            var split: SplitRole? = nil
            var attribution = RowAssembler.Attribution.noSplit
            switch object["split"] {
            case nil, .null?:
                break
            case .string(let name)?:
                let trimmedName = trimmedASCII(name[...])
                if trimmedName.isEmpty { break }
                guard let role = role(named: trimmedName) else {
                    return try assembler.reject(line: number, attribution: .unknown,
                        "unknown split \(quoted(trimmedName)) (expected train, query or gallery)")
                }
                split = role
                attribution = .split(role)
            case let other?:
                return try assembler.reject(line: number, attribution: .unknown,
                                            "\"split\" must be a string, found \(other.typeName)")
            }
            func reject(_ reason: String) throws -> Bool {
                try assembler.reject(line: number, attribution: attribution, reason)
            }

            let id: String
            switch object["id"] {
            case .string(let s)?: id = trimmedASCII(s[...])
            case .number(let literal)?: id = literal
            case nil: return try reject("missing \"id\"")
            case let other?: return try reject("\"id\" must be a string or a number, found \(other.typeName)")
            }
            if id.isEmpty { return try reject("empty id") }

            let image: String
            switch object["image"] {
            case .string(let s)?: image = trimmedASCII(s[...])
            case nil, .null?: image = ""
            case let other?: return try reject("\"image\" must be a string, found \(other.typeName)")
            }

            guard case .string(let rawCaption)? = object["caption"] else {
                if let other = object["caption"] { return try reject("\"caption\" must be a string, found \(other.typeName)") }
                return try reject("missing \"caption\"")
            }
            let caption = trimmedASCII(rawCaption[...])
            if caption.utf8.count > assembler.options.maxTitleBytes {
                return try reject(assembler.overLongCaption(caption.utf8.count))
            }

            var labelList: [String] = []
            switch object["labels"] {
            case nil, .null?:
                break
            case .string(let joined)?:
                for piece in joined.split(separator: ";", omittingEmptySubsequences: true) {
                    let label = trimmedASCII(piece)
                    if !label.isEmpty { labelList.append(labels.intern(label)) }
                }
            case .array(let elements)?:
                labelList.reserveCapacity(elements.count)
                for element in elements {
                    guard case .string(let s) = element else {
                        return try reject("\"labels\" must hold strings, found \(element.typeName)")
                    }
                    let label = trimmedASCII(s[...])
                    if !label.isEmpty { labelList.append(labels.intern(label)) }
                }
            case let other?:
                return try reject("\"labels\" must be an array of strings or a ';'-joined string, found \(other.typeName)")
            }
            return try assembler.add(line: number, id: id, image: image, caption: caption, labels: labelList, split: split)
        }
    }

    private static func trimmedASCII(_ s: Substring) -> String {
        let utf8 = s.utf8
        guard let first = utf8.firstIndex(where: { !ASCII.isSpace($0) }),
              let last = utf8.lastIndex(where: { !ASCII.isSpace($0) }) else { return "" }
        return String(s[first...last])
    }
}

/// Collects the rows of a folder-format file into splits: duplicate ids, image resolution, issues and
/// their attribution, strict mode.
struct RowAssembler {
    /// Where a malformed line's issue is reported.
    enum Attribution {
        case split(SplitRole)
        /// The line has no split: the item would have been in `query` and `gallery`.
        case noSplit
        /// The split could not be read.
        case unknown
    }

    let fileName: String
    let path: String
    let options: LoadOptions
    var usesSplitColumn = false
    private var images: ImageResolver
    private var samples: [SplitRole: [Sample]] = [:]
    private var indexes: [SplitRole: [String: Int]] = [:]
    private var issues: [(LoadIssue, Attribution)] = []

    init(root: String, fileName: String, path: String, options: LoadOptions) {
        self.fileName = fileName
        self.path = path
        self.options = options
        self.images = ImageResolver(root: root)
    }

    func overLongCaption(_ bytes: Int) -> String {
        "caption is \(bytes) bytes long, over the limit of \(options.maxTitleBytes) bytes"
    }

    /// Records a malformed line; throws in strict mode. Returns true (go on).
    mutating func reject(line: Int, attribution: Attribution, _ reason: String) throws -> Bool {
        let issue = LoadIssue(file: fileName, line: line, reason: reason)
        if options.strict { throw CatalogError.malformed(issue, path: path) }
        if case .split = attribution { usesSplitColumn = true }
        issues.append((issue, attribution))
        return true
    }

    /// Adds a well-formed row to its split (or to `query` and `gallery`), unless its id is taken there.
    mutating func add(line: Int, id: String, image: String, caption: String, labels: [String],
                      split: SplitRole?) throws -> Bool {
        let targets: [SplitRole] = split.map { [$0] } ?? [.query, .gallery]
        if split != nil { usesSplitColumn = true }
        for role in targets {
            if let first = indexes[role]?[id] {
                let where_ = split == nil ? "" : " in the \(role.rawValue) split"
                let firstLine = samples[role]![first].line
                return try reject(line: line, attribution: split.map { .split($0) } ?? .noSplit,
                                  "duplicate id \(quoted(id))\(where_) (first on line \(firstLine))")
            }
        }
        let attribution: Attribution = split.map { .split($0) } ?? .noSplit
        if let problem = options.labelProblem(count: labels.count, longest: labels.map(\.utf8.count).max() ?? 0) {
            return try reject(line: line, attribution: attribution, problem)
        }
        if id.utf8.count > options.maxIDBytes || image.utf8.count > options.maxIDBytes {
            return try reject(line: line, attribution: attribution, "the id or image reference is over the limit of \(options.maxIDBytes) bytes")
        }
        if let problem = ImageResolver.escapes(image) {
            return try reject(line: line, attribution: split.map { .split($0) } ?? .noSplit,
                              "image \(quoted(image)) \(problem): images are read from inside the dataset folder only")
        }
        let sample = Sample(id: id, caption: caption, imagePath: images.resolve(image), labels: labels, line: line)
        for role in targets {
            indexes[role, default: [:]][id] = samples[role, default: []].count
            samples[role, default: []].append(sample)
        }
        return true
    }

    func finish() -> FolderLoader.Result {
        var perSplit: [SplitRole: [LoadIssue]] = [:]
        var unassigned: [LoadIssue] = []
        for (issue, attribution) in issues {
            switch attribution {
            case .split(let role):
                perSplit[role, default: []].append(issue)
            case .noSplit:
                perSplit[.query, default: []].append(issue)
                perSplit[.gallery, default: []].append(issue)
            case .unknown:
                if usesSplitColumn {
                    unassigned.append(issue)
                } else {
                    perSplit[.query, default: []].append(issue)
                    perSplit[.gallery, default: []].append(issue)
                }
            }
        }
        var splits: [Split] = []
        for role in SplitRole.allCases {
            let roleSamples = samples[role] ?? []
            let roleIssues = perSplit[role] ?? []
            let present = usesSplitColumn ? !(roleSamples.isEmpty && roleIssues.isEmpty) : role != .train
            guard present else { continue }
            splits.append(Split(name: role.rawValue, role: role, file: path, samples: roleSamples,
                                issues: roleIssues, index: indexes[role] ?? [:]))
        }
        return FolderLoader.Result(splits: splits, unassigned: unassigned)
    }
}
