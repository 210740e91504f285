import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The samples of one Product1M split, backed by its file: the index of a scan (`ScannedSplit`)
/// and the image each item has (`ImageCensus`). A sample is read back from the file and parsed when it
/// is asked for, so memory grows with what is looked at, not with the file (docs/data.md §1.4).
///
/// The file stays open for that; if it is changed in place after the scan, a line that no longer
/// checks is given back as a sample that says so, never as garbage.
final class Product1MLines: @unchecked Sendable {
    let path: String
    let fileName: String
    let imagesFolder: String
    private let descriptor: Int32
    private let allowsFourFields: Bool
    private let options: LoadOptions
    private let scan: ScannedSplit
    /// Per position: 0 when the item has no image, else 1 + an index into `extensions`. Empty when
    /// the folder was not listed (`LoadOptions.imageCensus`): images are then looked for one by one.
    let imageCodes: [UInt8]
    private let extensions: [String]

    init(path: String, fileName: String, imagesFolder: String, descriptor: Int32, allowsFourFields: Bool,
         options: LoadOptions, scan: ScannedSplit, imageCodes: [UInt8], extensions: [String]) {
        self.path = path
        self.fileName = fileName
        self.imagesFolder = imagesFolder
        self.descriptor = descriptor
        self.allowsFourFields = allowsFourFields
        self.options = options
        self.scan = scan
        self.imageCodes = imageCodes
        self.extensions = extensions
    }

    deinit { close(descriptor) }

    var count: Int { scan.count }
    var issues: [LoadIssue] { scan.issues }
    var labelCounts: [String: Int] { scan.labelCounts }
    /// Samples with one label and with several.
    var kindCounts: (single: Int, multi: Int) {
        var single = 0, multi = 0
        for segment in scan.segments {
            for kind in segment.kinds { if kind == 1 { single += 1 } else if kind == 2 { multi += 1 } }
        }
        return (single, multi)
    }

    /// The item id at `position`.
    func id(at position: Int) -> String {
        let key = scan.key(position)
        return key.isLong ? scan.longIDs[position] ?? "" : key.digits
    }

    /// Whether the images were counted (the folder listed when the dataset opened).
    var imagesCounted: Bool { imageCodes.count == count }

    func imagePath(at position: Int) -> String? {
        guard imagesCounted else { return ImageCensus.probe(folder: imagesFolder, id: id(at: position)) }
        let code = Int(imageCodes[position])
        return code == 0 ? nil : imagesFolder + "/" + id(at: position) + "." + extensions[code - 1]
    }

    /// The position of the item with this id, in O(1).
    func position(of id: String) -> Int? {
        guard let key = IDKey.of(id) else { return nil }
        return scan.find(key, long: id)
    }

    /// The id key at `position` and whether another split's table holds it (for totals).
    func key(at position: Int) -> IDKey { scan.key(position) }
    func longID(at position: Int) -> String? { scan.longIDs[position] }

    func contains(_ key: IDKey, long: String?) -> Bool {
        scan.find(key, long: long) != nil
    }

    /// The sample at `position`, read and parsed now.
    func sample(at position: Int) -> Sample {
        let start = scan.start(position), length = scan.length(position)
        let line = scan.lineNumber(position)
        let parsed = Product1MLine.readBack(descriptor, start: start, length: length, allowsFourFields: allowsFourFields,
                                            options: options) { text, fields -> Sample? in
            guard IDKey.of(text, fields.id) == scan.key(position) else { return nil }
            return Product1MLine.sample(text, fields, imagePath: imagePath(at: position), line: line)
        }
        if let parsed { return parsed }
        return Sample(id: id(at: position),
                      caption: "(line \(line) of \(fileName) changed on disk after the dataset was opened: reopen it)",
                      imagePath: imagePath(at: position), labels: [], urls: [], line: line)
    }

    /// Calls `body(position, text, fields)` for each position of `positions` (ascending), reading the
    /// file in blocks of a few MiB rather than a line at a time; a line that no longer checks is
    /// skipped. `body` returns false to stop. Without `validateText` the fields are split but
    /// their UTF-8 is not checked again (see `Product1MLine.check`).
    func forEachLine(_ positions: ArraySlice<Int>, validateText: Bool = true, _ body: (Int, ByteText, Product1MFields) -> Bool) {
        var buffer: [UInt8] = []
        var fields = Product1MFields(), scratch: [ByteRange] = []
        var k = positions.startIndex
        while k < positions.endIndex {
            // A block: the lines from positions[k] on whose span fits in 4 MiB (at least one line).
            let first = scan.start(positions[k])
            var last = k
            while last + 1 < positions.endIndex,
                  scan.start(positions[last + 1]) + scan.length(positions[last + 1]) - first <= Product1MScan.chunkBytes {
                last += 1
            }
            let span = scan.start(positions[last]) + scan.length(positions[last]) - first
            if buffer.count < span { buffer = [UInt8](repeating: 0, count: span) }
            guard readFully(descriptor, into: &buffer, count: span, at: first) else { return }
            let stop: Bool = buffer.withUnsafeBufferPointer { b in
                let text = ByteText(base: b.baseAddress!, count: span)
                for j in k ... last {
                    let p = positions[j]
                    let from = scan.start(p) - first
                    let line = ByteRange(start: from, end: from + scan.length(p))
                    let problem = Product1MLine.check(text, line, allowsFourFields: allowsFourFields, options: options,
                                                      into: &fields, scratch: &scratch, validateText: validateText) {
                        UTF8Check.isValid(text, $0)
                    }
                    if problem == nil && !body(p, text, fields) { return true }
                }
                return false
            }
            if stop { return }
            k = last + 1
        }
    }
}
