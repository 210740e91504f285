#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Catalog

/// The labels the official Product1M evaluation scores against (docs/data.md §2.2): the first label of
/// every gallery item and the label list (repeats kept) of every query.
///
/// It is built the way the official script `CAPTURE/evaluate_suit.py` builds its dictionaries:
/// - queries of **both** query splits are known, whichever split a ranking file was made for
///   (the script reads test, then dev; a dev line overrides a test line with the same id);
/// - a gallery id listed twice keeps the labels of its last line;
/// - labels are compared code point by code point, exactly as written (no trimming around `#;#`).
public struct OfficialGroundTruth: Sendable {
    /// A labelled item: an id and its labels in file order.
    public struct Item: Sendable, Equatable {
        public let id: String
        public let labels: [String]
        public init(id: String, labels: [String]) {
            self.id = id
            self.labels = labels
        }
    }

    /// A line of a ground-truth file that the official script could not have read (it would stop
    /// with an `IndexError` or `UnicodeDecodeError`). Vitrine skips it and reports it here.
    /// Catalog's `LoadIssue`: file, line and reason, printed `file:line: reason`.
    public typealias SkippedLine = LoadIssue

    /// Label names by index.
    let labelNames: [String]
    /// Label name -> index.
    let labelIndex: [CodePointKey: Int32]
    /// Gallery id -> index of its first label.
    let galleryLabel: [CodePointKey: Int32]
    /// Label index -> number of gallery items whose first label it is (0: the label is no gallery
    /// item's first label; the official script raises a `KeyError` for such a query label).
    let galleryCount: [Int]
    /// Query id -> label indices, repeats kept, in file order.
    let queryLabels: [CodePointKey: [Int32]]
    /// Ground-truth lines that could not be read (only from `loadProduct1M`).
    public let skippedLines: [SkippedLine]

    /// Number of distinct gallery ids.
    public var galleryItemCount: Int { galleryLabel.count }
    /// Number of distinct query ids.
    public var queryCount: Int { queryLabels.count }

    /// Ground truth from items in the order the official script reads them: gallery items, then
    /// queries with later ones overriding earlier ones of the same id. A gallery item without labels
    /// gets the label "" (the script's `"".split("#;#")` gives `[""]`); so does a query.
    public init(gallery: [Item], queries: [Item], skippedLines: [SkippedLine] = []) {
        var names: [String] = []
        var indexOf: [CodePointKey: Int32] = [:]
        func intern(_ label: String) -> Int32 {
            let key = CodePointKey(label)
            if let index = indexOf[key] { return index }
            let index = Int32(names.count)
            names.append(label)
            indexOf[key] = index
            return index
        }
        var galleryLabel: [CodePointKey: Int32] = [:]
        galleryLabel.reserveCapacity(gallery.count)
        for item in gallery {
            galleryLabel[CodePointKey(item.id)] = intern(item.labels.first ?? "")
        }
        var queryLabels: [CodePointKey: [Int32]] = [:]
        queryLabels.reserveCapacity(queries.count)
        for item in queries {
            let labels = item.labels.isEmpty ? [""] : item.labels
            queryLabels[CodePointKey(item.id)] = labels.map(intern)
        }
        var counts = [Int](repeating: 0, count: names.count)
        for label in galleryLabel.values { counts[Int(label)] += 1 }
        self.labelNames = names
        self.labelIndex = indexOf
        self.galleryLabel = galleryLabel
        self.galleryCount = counts
        self.queryLabels = queryLabels
        self.skippedLines = skippedLines
    }

    /// This ground truth with one more query (replacing one with the same id): what a single search
    /// is scored against, without indexing every labelled sample of a dataset up front.
    public func adding(query item: Item) -> OfficialGroundTruth {
        var names = labelNames, indexOf = labelIndex, counts = galleryCount
        func intern(_ label: String) -> Int32 {
            let key = CodePointKey(label)
            if let index = indexOf[key] { return index }
            names.append(label)
            counts.append(0)
            indexOf[key] = Int32(names.count - 1)
            return Int32(names.count - 1)
        }
        var queries = queryLabels
        queries[CodePointKey(item.id)] = (item.labels.isEmpty ? [""] : item.labels).map(intern)
        return OfficialGroundTruth(labelNames: names, labelIndex: indexOf, galleryLabel: galleryLabel, galleryCount: counts,
                                   queryLabels: queries, skippedLines: skippedLines)
    }

    private init(labelNames: [String], labelIndex: [CodePointKey: Int32], galleryLabel: [CodePointKey: Int32],
                 galleryCount: [Int], queryLabels: [CodePointKey: [Int32]], skippedLines: [SkippedLine]) {
        self.labelNames = labelNames
        self.labelIndex = labelIndex
        self.galleryLabel = galleryLabel
        self.galleryCount = galleryCount
        self.queryLabels = queryLabels
        self.skippedLines = skippedLines
    }

    /// Ground truth from a loaded dataset: its gallery split and all its query splits. For Product1M
    /// the query splits are taken test first, then dev (dev wins on a shared id), as the official
    /// script does. Labels are those the Catalog loader read (trimmed around `#;#`); for Product1M
    /// folders prefer `loadProduct1M(folder:)`, which reads the files exactly as the script does.
    public init(dataset: Dataset) {
        let gallery = (dataset.gallery.map { Array($0.samples) } ?? []).map { Item(id: $0.id, labels: $0.labels) }
        var querySplits = dataset.splits(role: .query)
        if dataset.format == .product1m {
            let order = ["test": 0, "dev": 1]
            querySplits.sort { (order[$0.name] ?? 2) < (order[$1.name] ?? 2) }
        }
        let queries = querySplits.flatMap { $0.samples.map { Item(id: $0.id, labels: $0.labels) } }
        self.init(gallery: gallery, queries: queries)
    }

    /// File names the official script reads, in its order.
    public static let product1MGalleryFile = "product1m_gallery_ossurl_v2.txt"
    public static let product1MQueryFiles = ["product1m_test_ossurl_v2.txt", "product1m_dev_ossurl_v2.txt"]

    /// Reads the gallery, test and dev files of the Product1M folder `folder` exactly as the
    /// official script does: each line `strip()`ped and split on `#####`, the item id is field 0
    /// and the labels are field 4 split on `#;#`, nothing trimmed.
    ///
    /// Lines the script could not read (fewer than five fields, invalid UTF-8) are skipped and listed
    /// in `skippedLines`, where the script would stop. The gallery file must exist; a missing test or
    /// dev file is read as empty (the script needs both).
    public static func loadProduct1M(folder: String) throws -> OfficialGroundTruth {
        var skipped: [SkippedLine] = []
        func read(_ name: String, required: Bool) throws -> [Item] {
            let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
            guard let bytes = try readWholeFile(path, missingIsNil: !required) else { return [] }
            var items: [Item] = []
            for (offset, raw) in PythonText.lines(bytes).enumerated() {
                guard let text = PythonText.decode(raw) else {
                    skipped.append(SkippedLine(file: name, line: offset + 1, reason: "invalid UTF-8"))
                    continue
                }
                let fields = PythonText.split(PythonText.strip(text[...]), separator: "#####")
                guard fields.count >= 5 else {
                    skipped.append(SkippedLine(file: name, line: offset + 1, reason:
                        "\(fields.count) field\(fields.count == 1 ? "" : "s") separated by '#####', the official script needs 5"))
                    continue
                }
                let labels = PythonText.split(fields[4], separator: "#;#").map(String.init)
                items.append(Item(id: String(fields[0]), labels: labels))
            }
            return items
        }
        let gallery = try read(product1MGalleryFile, required: true)
        var queries: [Item] = []
        for name in product1MQueryFiles { queries += try read(name, required: false) }
        return OfficialGroundTruth(gallery: gallery, queries: queries, skippedLines: skipped)
    }

    /// The labels of query `id` (repeats kept), or nil when the id is unknown.
    public func labels(ofQuery id: String) -> [String]? {
        queryLabels[CodePointKey(id)].map { $0.map { labelNames[Int($0)] } }
    }

    /// The first label of gallery item `id`, or nil when the id is not in the gallery.
    public func label(ofGalleryItem id: String) -> String? {
        galleryLabel[CodePointKey(id)].map { labelNames[Int($0)] }
    }

    /// How many gallery items have `label` as their first label.
    public func galleryItemCount(label: String) -> Int {
        guard let index = labelIndex[CodePointKey(label)] else { return 0 }
        return galleryCount[Int(index)]
    }
}
