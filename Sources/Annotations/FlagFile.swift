import Support
import Foundation
import SafeText

/// The two file formats of `vitrine flags export` / `import`.
public enum FlagFileFormat: String, Sendable, CaseIterable {
    /// RFC 4180 CSV: a header line, CRLF line ends, fields with a comma, quote, CR or LF
    /// quoted, quotes doubled.
    case csv
    /// JSON Lines: one object per line, keys in the column order.
    case jsonl

    /// The format a file name's extension names: `.csv`; `.jsonl`, `.ndjson` or `.json`.
    public init?(path: String) {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "csv": self = .csv
        case "jsonl", "ndjson", "json": self = .jsonl
        default: return nil
        }
    }
}

/// Reading and writing flags files. Both formats carry the same nine fields, named
/// as in ``columns`` (the names of `Flag`'s properties, so a JSON line decodes as a
/// `Flag` with `JSONDecoder`'s `.iso8601` dates); `createdAt` is ISO 8601 in UTC with
/// milliseconds. Store ids are not exported (they are local to a store). Text is UTF-8.
///
/// `modelName` and `role` came with schema v2 and may be missing on import: a file without
/// `modelName` was written before v2, so its `model` is a v1 value (a file name, `zero-shot`)
/// and is read as ``FlagModel/fromVersion1(_:)`` says (`legacy:<value>` unless it is already
/// a key); without `role` every verdict is an annotator's.
public enum FlagFile {
    /// The fields of a flag in a file, in the order they are written.
    public static let columns = ["dataset", "query", "match", "model", "verdict", "annotator", "createdAt", "modelName", "role"]

    /// The fields every file must have (those of schema v1's exports).
    public static let requiredColumns = Array(columns.prefix(7))

    /// Other spellings accepted on import: `created_at` for `createdAt`.
    static let aliases = ["created_at": "createdAt"]

    /// What `decode` makes of a file: the flags it could read (with their line numbers)
    /// and the lines it could not.
    public struct Contents: Sendable, Equatable {
        public var flags: [Flag]
        /// The line each flag starts on (parallel to `flags`).
        public var lines: [Int]
        public var malformed: [MalformedLine]
    }

    // MARK: Writing

    /// The flags as a file in `format`, in the order given.
    public static func encode(_ flags: [Flag], format: FlagFileFormat) -> Data {
        var out = ""
        switch format {
        case .csv:
            out = columns.joined(separator: ",") + "\r\n"
            for f in flags {
                out += fields(of: f).map(csvField).joined(separator: ",") + "\r\n"
            }
        case .jsonl:
            for f in flags {
                out += "{" + zip(columns, fields(of: f)).map { jsonString($0) + ":" + jsonString($1) }.joined(separator: ",") + "}\n"
            }
        }
        return Data(out.utf8)
    }

    private static func fields(of f: Flag) -> [String] {
        [f.dataset, f.query, f.match, f.model, f.verdict.rawValue, f.annotator, FlagTime.format(f.createdAt), f.modelName, f.role.rawValue]
    }

    /// A CSV field, quoted when it holds a comma, a quote, CR or LF (RFC 4180).
    static func csvField(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0D || $0 == 0x0A }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A JSON string literal, every control character escaped (`SafeText.jsonQuoted`).
    static func jsonString(_ s: String) -> String { SafeText.jsonQuoted(s) }

    // MARK: Reading

    /// Reads a flags file. Lines that cannot be read are listed in `malformed` (with
    /// their 1-based line numbers) and left out; blank lines are skipped; a UTF-8 byte
    /// order mark is ignored.
    ///
    /// - Throws: `FlagStoreError.unreadableFile` when the file as a whole cannot be read
    ///   (a CSV file without the header line naming the columns). `source` names the
    ///   file in messages.
    public static func decode(_ data: Data, format: FlagFileFormat, source: String = "input") throws -> Contents {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        switch format {
        case .csv: return try decodeCSV(bytes, source: source)
        case .jsonl: return decodeJSONLines(bytes)
        }
    }

    /// Builds a flag from its text fields (the seven required, `modelName` and `role` when the
    /// file has them), or says what is wrong with them.
    private static func flag(from values: [String: String]) -> Result<Flag, MalformedLine> {
        func fail(_ reason: String) -> Result<Flag, MalformedLine> { .failure(MalformedLine(line: 0, reason: reason)) }
        for name in requiredColumns where values[name] == nil { return fail("the field \(name) is missing") }
        var role = FlagRole.annotator
        if let roleText = values["role"] {
            guard let r = FlagRole(rawValue: roleText.trimmingCharacters(in: .whitespaces).lowercased()) else {
                return fail("unknown role \"\(printable(roleText))\" (expected one of: \(FlagRole.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            role = r
        }
        let model = values["modelName"].map { FlagModel(key: values["model"]!, name: $0) } ?? FlagModel.fromVersion1(values["model"]!)
        let verdictText = values["verdict"]!
        guard let verdict = Verdict(rawValue: verdictText.trimmingCharacters(in: .whitespaces).lowercased()) else {
            return fail("unknown verdict \"\(printable(verdictText))\" (expected one of: \(Verdict.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let timeText = values["createdAt"]!
        guard let ms = FlagTime.parseMilliseconds(timeText.trimmingCharacters(in: .whitespaces)) else {
            return fail("createdAt \"\(printable(timeText))\" is not an ISO 8601 time such as 2026-11-21T08:11:58.123Z")
        }
        let f = Flag(dataset: values["dataset"]!, query: values["query"]!, match: values["match"]!, model: model.key,
                     modelName: model.name, verdict: verdict, annotator: values["annotator"]!, role: role,
                     createdAt: FlagTime.date(milliseconds: ms))
        do {
            try FlagStore.validate(f)
        } catch let error as FlagStoreError {
            if case .invalidFlag(let reason) = error { return fail(reason) }
            return fail("\(error)")
        } catch {
            return fail("\(error)")
        }
        return .success(f)
    }

    /// A value quoted in a message: control characters shown as escapes, long text cut.
    static func printable(_ s: String) -> String {
        var out = ""
        for scalar in s.unicodeScalars.prefix(60) {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return s.unicodeScalars.count > 60 ? out + "..." : out
    }

    // MARK: JSON Lines

    private static func decodeJSONLines(_ bytes: [UInt8]) -> Contents {
        var contents = Contents(flags: [], lines: [], malformed: [])
        var lineNumber = 0, start = 0
        while start < bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            var line = bytes[start..<end]
            start = end + 1
            if line.last == 0x0D { line = line.dropLast() }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            switch jsonLineFlag(line) {
            case .success(let f):
                contents.flags.append(f)
                contents.lines.append(lineNumber)
            case .failure(var problem):
                problem.line = lineNumber
                contents.malformed.append(problem)
            }
        }
        return contents
    }

    private static func jsonLineFlag(_ line: ArraySlice<UInt8>) -> Result<Flag, MalformedLine> {
        func fail(_ reason: String) -> Result<Flag, MalformedLine> { .failure(MalformedLine(line: 0, reason: reason)) }
        if let offset = invalidUTF8Offset(line) {
            return fail("not valid UTF-8 (at byte \(offset + 1) of the line); save the file as UTF-8")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(line), options: [])
        } catch {
            return fail("not valid JSON; each line must be one object such as {\"dataset\":...,\"createdAt\":...}")
        }
        guard let dictionary = object as? [String: Any] else {
            return fail("a JSON value that is not an object; each line must be one object with the fields \(columns.joined(separator: ", "))")
        }
        var values: [String: String] = [:]
        for name in columns {
            let alias = aliases.first { $0.value == name }?.key
            guard let raw = dictionary[name] ?? alias.flatMap({ dictionary[$0] }) else {
                if requiredColumns.contains(name) { return fail("the field \(name) is missing") }
                continue
            }
            guard let text = raw as? String else { return fail("the field \(name) is not a string") }
            values[name] = text
        }
        return flag(from: values)
    }

    /// The offset of the first byte that breaks UTF-8, or nil when the bytes are valid.
    static func invalidUTF8Offset<C: Collection>(_ bytes: C) -> Int? where C.Element == UInt8 {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            // Decoding one scalar at a time; count bytes by the scalar's length.
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    // MARK: CSV

    /// One CSV record as raw fields, or the reason it could not be split.
    private struct CSVRecord {
        var line: Int
        var fields: [ArraySlice<UInt8>]
        var quotedFieldParts: [Int: [UInt8]]  // unescaped contents of quoted fields, by field index
        var problem: String?

        func field(_ i: Int) -> [UInt8] { quotedFieldParts[i] ?? Array(fields[i]) }
    }

    /// Splits CSV bytes into records (RFC 4180; LF or CRLF line ends; quoted fields may
    /// hold commas, quotes and line breaks). A malformed record is reported and the
    /// reader goes on at the next line.
    private static func csvRecords(_ b: [UInt8]) -> [CSVRecord] {
        let quote: UInt8 = 0x22, comma: UInt8 = 0x2C, cr: UInt8 = 0x0D, lf: UInt8 = 0x0A
        var records: [CSVRecord] = []
        var i = 0, line = 1
        let n = b.count
        func atLineEnd(_ k: Int) -> Bool { k >= n || b[k] == lf || (b[k] == cr && k + 1 < n && b[k + 1] == lf) || (b[k] == cr && k + 1 == n) }
        func skipLineEnd(_ k: inout Int) {
            if k < n && b[k] == cr { k += 1 }
            if k < n && b[k] == lf { k += 1 }
        }
        while i < n {
            var record = CSVRecord(line: line, fields: [], quotedFieldParts: [:], problem: nil)
            fieldLoop: while true {
                if i < n && b[i] == quote {
                    let opened = line
                    var content: [UInt8] = []
                    i += 1
                    var closed = false
                    while i < n {
                        if b[i] == quote {
                            if i + 1 < n && b[i + 1] == quote { content.append(quote); i += 2; continue }
                            i += 1
                            closed = true
                            break
                        }
                        if b[i] == lf { line += 1 }
                        content.append(b[i])
                        i += 1
                    }
                    guard closed else {
                        record.problem = "a quoted field opened on line \(opened) is never closed (a missing \")"
                        break fieldLoop
                    }
                    record.quotedFieldParts[record.fields.count] = content
                    record.fields.append([])
                    if atLineEnd(i) { skipLineEnd(&i); break fieldLoop }
                    if b[i] == comma { i += 1; continue fieldLoop }
                    record.problem = "text after the closing quote of field \(record.fields.count); quote the whole field and double the quotes inside it"
                    while i < n && b[i] != lf { i += 1 }
                    skipLineEnd(&i)
                    break fieldLoop
                } else {
                    let start = i
                    while i < n && b[i] != comma && !atLineEnd(i) {
                        if b[i] == quote && record.problem == nil {
                            record.problem = "a quote inside unquoted field \(record.fields.count + 1); quote the whole field and double the quotes inside it"
                        }
                        i += 1
                    }
                    record.fields.append(b[start..<i])
                    if i < n && b[i] == comma { i += 1; continue fieldLoop }
                    skipLineEnd(&i)
                    break fieldLoop
                }
            }
            line += 1
            let blank = record.problem == nil && record.fields.count == 1 && record.quotedFieldParts.isEmpty
                && record.fields[0].allSatisfy { $0 == 0x20 || $0 == 0x09 }
            if !blank { records.append(record) }
        }
        return records
    }

    private static func decodeCSV(_ bytes: [UInt8], source: String) throws -> Contents {
        let records = csvRecords(bytes)
        guard let header = records.first else {
            throw FlagStoreError.unreadableFile(path: source, reason: "the file is empty; a flags CSV starts with the header line \(requiredColumns.joined(separator: ","))")
        }
        if let problem = header.problem {
            throw FlagStoreError.unreadableFile(path: source, reason: "line \(header.line), the header: \(problem)")
        }
        var index: [String: Int] = [:]
        for k in 0..<header.fields.count {
            guard let name = String(validating: header.field(k), as: UTF8.self) else {
                throw FlagStoreError.unreadableFile(path: source, reason: "line \(header.line), the header is not valid UTF-8")
            }
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            let key = columns.first { $0.lowercased() == trimmed.lowercased() } ?? aliases[trimmed.lowercased()] ?? trimmed
            if index[key] != nil {
                throw FlagStoreError.unreadableFile(path: source, reason: "line \(header.line): the header names the column \(key) twice")
            }
            index[key] = k
        }
        let missing = requiredColumns.filter { index[$0] == nil }
        if !missing.isEmpty {
            throw FlagStoreError.unreadableFile(path: source, reason: "line \(header.line): the header lacks the column\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")); a flags CSV starts with the header line \(requiredColumns.joined(separator: ",")) (any order, modelName and role optional, extra columns ignored)")
        }
        var contents = Contents(flags: [], lines: [], malformed: [])
        for record in records.dropFirst() {
            if let problem = record.problem {
                contents.malformed.append(MalformedLine(line: record.line, reason: problem))
                continue
            }
            guard record.fields.count == header.fields.count else {
                contents.malformed.append(MalformedLine(line: record.line, reason: "\(record.fields.count) field\(record.fields.count == 1 ? "" : "s") where the header has \(header.fields.count); quote fields that contain commas"))
                continue
            }
            var values: [String: String] = [:]
            var problem: String?
            for name in columns {
                guard let column = index[name] else { continue }   // an optional column the file lacks
                let raw = record.field(column)
                guard let text = String(validating: raw, as: UTF8.self) else {
                    problem = "the field \(name) is not valid UTF-8 (at byte \((invalidUTF8Offset(raw) ?? 0) + 1) of the field); save the file as UTF-8"
                    break
                }
                values[name] = text
            }
            if let problem {
                contents.malformed.append(MalformedLine(line: record.line, reason: problem))
                continue
            }
            switch flag(from: values) {
            case .success(let f):
                contents.flags.append(f)
                contents.lines.append(record.line)
            case .failure(var failure):
                failure.line = record.line
                contents.malformed.append(failure)
            }
        }
        return contents
    }
}

extension FlagStore {
    /// Imports a flags file (see `importFlags(_:)` for what happens to each verdict).
    /// The format is taken from the extension when not given. Malformed lines are
    /// reported in the result and skipped; with `strict`, any malformed line refuses the
    /// whole file and nothing is imported.
    ///
    /// - Throws: `FlagStoreError.unreadableFile` (missing, a folder, unknown format, no
    ///   CSV header), `.malformedLines` in strict mode, `.database` when writing fails.
    public func importFile(_ filePath: String, format: FlagFileFormat? = nil, strict: Bool = false) throws -> ImportReport {
        guard let format = format ?? FlagFileFormat(path: filePath) else {
            throw FlagStoreError.unreadableFile(path: filePath, reason: "cannot tell its format from the extension; name it .csv or .jsonl, or pass --format csv|jsonl")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: filePath, isDirectory: &isDirectory) else {
            throw FlagStoreError.unreadableFile(path: filePath, reason: "no such file")
        }
        if isDirectory.boolValue { throw FlagStoreError.unreadableFile(path: filePath, reason: "it is a folder, not a file") }
        let data: Data
        do {
            data = Data(try RegularFile.read(filePath, kind: "flags file", limit: 4 << 30)!)
        } catch {
            throw FlagStoreError.unreadableFile(path: filePath, reason: error.message)
        }
        let contents = try FlagFile.decode(data, format: format, source: filePath)
        if strict && !contents.malformed.isEmpty {
            throw FlagStoreError.malformedLines(path: filePath, lines: contents.malformed)
        }
        var report = try importFlags(contents.flags)
        report.malformed = contents.malformed
        return report
    }
}
