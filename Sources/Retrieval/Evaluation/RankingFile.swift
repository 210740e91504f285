import Support
import SafeText
/// The official ranking file, `retrieval_id_list.txt`: one line per query,
/// `query_id,gallery_id_0,gallery_id_1,...` (up to 100 ids, best first).
public enum RankingFile {
    /// The file name the official script reads.
    public static let fileName = "retrieval_id_list.txt"

    /// Reads a ranking file the way the official script does, so that evaluating the result gives
    /// the script's numbers: every line counts, blank ones included (a blank line is a query with
    /// the unknown id ""); `\n`, `\r\n` and `\r` end lines; each line is `strip()`ped of Python
    /// whitespace and split on every `,` (ids are not trimmed; `q,a,,b` has an empty id; `q` alone
    /// has no ids). Lists longer than 100 ids are kept whole. Scores are not part of the format.
    public static func read(path: String) throws -> [Ranking] {
        try parse(readWholeFile(path)!, name: path)
    }

    /// Parses the bytes of a ranking file (`name` is used in errors). Invalid UTF-8 is an error, as
    /// it is for the official script.
    public static func parse(_ bytes: [UInt8], name: String) throws -> [Ranking] {
        var rankings: [Ranking] = []
        for (offset, raw) in PythonText.lines(bytes).enumerated() {
            guard let text = PythonText.decode(raw) else {
                throw RetrievalFileError(path: name, message: "line \(offset + 1) is not valid UTF-8; the official evaluation cannot read this file either")
            }
            let fields = PythonText.split(PythonText.strip(text[...]), separator: ",")
            rankings.append(Ranking(queryID: String(fields[0]), galleryIDs: fields.dropFirst().map(String.init)))
        }
        return rankings
    }

    /// The file's text for `rankings`: one `query_id,id,id,...` line each, `\n`-terminated.
    /// Throws if an id could not be read back unchanged (it contains a comma or a line break, or
    /// starts or ends with whitespace where it would be stripped).
    public static func format(_ rankings: [Ranking]) throws -> String {
        var out = ""
        for (index, ranking) in rankings.enumerated() {
            try check(ranking.queryID, what: "query id", line: index + 1, isFirst: true, isLast: ranking.galleryIDs.isEmpty)
            out += ranking.queryID
            for (i, id) in ranking.galleryIDs.enumerated() {
                try check(id, what: "gallery id", line: index + 1, isFirst: false, isLast: i == ranking.galleryIDs.count - 1)
                out += ","
                out += id
            }
            out += "\n"
        }
        return out
    }

    /// Writes `rankings` to `path` atomically (a temporary file renamed over it).
    public static func write(_ rankings: [Ranking], to path: String) throws {
        try AtomicFile.write(Array(format(rankings).utf8), to: path)
    }

    private static func check(_ id: String, what: String, line: Int, isFirst: Bool, isLast: Bool) throws {
        func fail(_ reason: String) -> RetrievalFileError {
            RetrievalFileError(path: fileName, message: "line \(line): \(what) \(SafeText.quoted(id)) \(reason), so the file would not read back the same")
        }
        for scalar in id.unicodeScalars where scalar == "," || scalar == "\n" || scalar == "\r" {
            throw fail("contains a comma or a line break")
        }
        if isFirst, let first = id.unicodeScalars.first, PythonText.isSpace(first) { throw fail("starts with whitespace") }
        if isLast, let last = id.unicodeScalars.last, PythonText.isSpace(last) { throw fail("ends with whitespace") }
    }
}
