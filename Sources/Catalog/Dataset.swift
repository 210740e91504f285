import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch

/// One split of a dataset: the samples of one file (Product1M) or of one `split` value (folder formats).
public struct Split: Sendable {
    /// `train`, `dev`, `test`, `gallery` (Product1M) or `train`, `query`, `gallery` (folder formats).
    public let name: String
    public let role: SplitRole
    /// Path of the file the split was read from.
    public let file: String
    /// The well-formed lines, in file order. A Product1M split reads each from its file when it is
    /// asked for (`SampleList`): iterate what you need, and use `kindCounts`, `missingImages` and
    /// `sample(id:)` rather than walking all of them.
    public let samples: SampleList
    /// The malformed lines, all of them, in file order. They were skipped.
    public let issues: [LoadIssue]
    /// Samples whose image was not found (`imagePath == nil`). They are kept. 0 when the images
    /// were not counted (`imagesCounted`).
    public let missingImages: Int
    /// Whether `missingImages` was counted: false for a Product1M split opened without listing its
    /// images (`LoadOptions.imageCensus`).
    public let imagesCounted: Bool
    /// Samples with one label and with several (the rest are unlabelled).
    public let kindCounts: (single: Int, multi: Int)
    /// The widest id among the first 2,000 samples, in characters (for laying out a table).
    public let idWidth: Int
    /// Each distinct label with the number of times it occurs over the samples.
    let labelCounts: [String: Int]
    private let index: [String: Int]

    /// A split made in memory. If two samples share an id, `sample(id:)` finds the first.
    public init(name: String, role: SplitRole, file: String, samples: [Sample], issues: [LoadIssue] = []) {
        var index: [String: Int] = [:]
        index.reserveCapacity(samples.count)
        for (position, sample) in samples.enumerated() where index[sample.id] == nil {
            index[sample.id] = position
        }
        self.init(name: name, role: role, file: file, samples: samples, issues: issues, index: index)
    }

    /// A split with its id index already built by a loader.
    init(name: String, role: SplitRole, file: String, samples: [Sample], issues: [LoadIssue], index: [String: Int]) {
        self.name = name
        self.role = role
        self.file = file
        self.samples = SampleList(samples)
        self.issues = issues
        self.index = index
        var missing = 0, single = 0, multi = 0
        var labels: [String: Int] = [:]
        for sample in samples {
            if sample.imagePath == nil { missing += 1 }
            switch sample.kind {
            case .single: single += 1
            case .multi: multi += 1
            case .unknown: break
            }
            for label in sample.labels { labels[label, default: 0] += 1 }
        }
        self.missingImages = missing
        self.imagesCounted = true
        self.kindCounts = (single, multi)
        self.labelCounts = labels
        self.idWidth = samples.prefix(2000).map { $0.id.count }.max() ?? 0
    }

    /// A Product1M split backed by its file.
    init(name: String, role: SplitRole, lines: Product1MLines) {
        self.name = name
        self.role = role
        self.file = lines.path
        self.samples = SampleList(lines)
        self.issues = lines.issues
        self.index = [:]
        self.missingImages = lines.imagesCounted ? lines.imageCodes.count(where: { $0 == 0 }) : 0
        self.imagesCounted = lines.imagesCounted
        self.kindCounts = lines.kindCounts
        self.labelCounts = lines.labelCounts
        self.idWidth = (0 ..< min(2000, lines.count)).map { lines.id(at: $0).count }.max() ?? 0
    }

    /// The position in `samples` of the sample with this id, in O(1).
    public func position(ofID id: String) -> Int? {
        if let lines = samples.lines { return lines.position(of: id) }
        return index[id]
    }

    /// The sample with this id, in O(1).
    public func sample(id: String) -> Sample? {
        if let lines = samples.lines { return lines.position(of: id).map(lines.sample(at:)) }
        return index[id].map { samples[$0] }
    }
}

/// The samples of a split, in file order: an array, or (Product1M) the lines of a file read back
/// and parsed one at a time when they are asked for, so that a split of a million lines costs
/// about 27 bytes a line until it is looked at.
public struct SampleList: RandomAccessCollection, Sendable {
    private let array: [Sample]
    let lines: Product1MLines?

    init(_ samples: [Sample]) { array = samples; lines = nil }
    init(_ lines: Product1MLines) { array = []; self.lines = lines }

    public var startIndex: Int { 0 }
    public var endIndex: Int { lines?.count ?? array.count }

    public subscript(position: Int) -> Sample {
        if let lines {
            precondition(position >= 0 && position < lines.count, "SampleList: index \(position) out of range")
            return lines.sample(at: position)
        }
        return array[position]
    }

    /// Whether the samples are read from their file when asked for (a Product1M split).
    public var isFileBacked: Bool { lines != nil }

    /// The image path at `position`, without reading the line (Product1M) or copying the sample.
    public func imagePath(at position: Int) -> String? {
        lines.map { $0.imagePath(at: position) } ?? array[position].imagePath
    }

    /// The id at `position`, without reading the line (Product1M) or copying the sample.
    public func id(at position: Int) -> String {
        lines?.id(at: position) ?? array[position].id
    }
}

/// A dataset on disk, loaded: its splits, each with its samples and the lines that were skipped.
public struct Dataset: Sendable {
    /// Absolute path of the dataset folder.
    public let root: String
    /// The folder's name.
    public let name: String
    public let format: DatasetFormat
    /// Splits in a fixed order: `train`, `dev`, `test`, `gallery` (Product1M) or `train`, `query`,
    /// `gallery` (folder formats); only those present.
    public let splits: [Split]
    /// Malformed lines that belong to no split: in a folder-format file with a split column, lines
    /// whose split could not be read (wrong field count, broken JSON, unknown split name).
    public let unassignedIssues: [LoadIssue]
    private let allIssues: [LoadIssue]

    public init(root: String, name: String, format: DatasetFormat, splits: [Split], unassignedIssues: [LoadIssue] = []) {
        self.root = root
        self.name = name
        self.format = format
        self.splits = splits
        self.unassignedIssues = unassignedIssues
        // A line is reported once even where it is listed in two splits (folder formats: query and gallery).
        var seen = Set<LoadIssue>()
        var fileOrder: [String: Int] = [:]
        var all: [LoadIssue] = []
        for issue in splits.flatMap(\.issues) + unassignedIssues where seen.insert(issue).inserted {
            if fileOrder[issue.file] == nil { fileOrder[issue.file] = fileOrder.count }
            all.append(issue)
        }
        all.sort { (fileOrder[$0.file]!, $0.line) < (fileOrder[$1.file]!, $1.line) }
        self.allIssues = all
    }

    /// The dataset's identity where other tools keep records about it (the annotators' flags):
    /// `name:root`.
    public var identityKey: String { "\(name):\(root)" }

    /// The split with this name (`dev`, `gallery`, ...).
    public func split(named name: String) -> Split? {
        splits.first { $0.name == name }
    }

    /// The splits that play `role`, in order (Product1M has two query splits, `dev` and `test`).
    public func splits(role: SplitRole) -> [Split] {
        splits.filter { $0.role == role }
    }

    /// The gallery split, if there is one.
    public var gallery: Split? {
        splits.first { $0.role == .gallery }
    }

    /// Every malformed line of the dataset, once each, by file and line.
    public var issues: [LoadIssue] { allIssues }

    /// Loads the dataset in the folder at `path`, detecting its format (`detectFormat(in:)`).
    ///
    /// Malformed lines are reported in `Split.issues` and skipped, or, with `options.strict`, the first
    /// one is thrown. Absent split files are fine; a folder with no dataset file at all is an error.
    /// Product1M splits are parsed concurrently.
    public static func load(from path: String, options: LoadOptions = LoadOptions()) throws -> Dataset {
        let root = absolutePath(path)
        switch entryKind(root) {
        case .folder:
            break
        case .missing:
            throw CatalogError(kind: .notAFolder, path: root, message: "no such folder: \(root)")
        case .file, .other:
            throw CatalogError(kind: .notAFolder, path: root, message:
                "\(root) is a file, not a dataset folder: pass the folder that holds it (\(parentPath(root)))")
        }
        guard let format = detectFormat(in: root) else { throw CatalogError.noDataset(in: root) }
        let name = root == "/" ? "/" : String(root[root.index(after: root.lastIndex(of: "/")!)...])

        switch format {
        case .product1m:
            let splits = try Product1MLoader.load(root: root, options: options)
            return Dataset(root: root, name: name, format: format, splits: splits)
        case .folderTSV, .folderJSONL:
            let result = try FolderLoader.load(format: format, root: root, options: options)
            return Dataset(root: root, name: name, format: format, splits: result.splits,
                           unassignedIssues: result.unassigned)
        }
    }

    /// The Product1M split files in `folder` larger than `bytes`, by split name (none for the folder
    /// formats): what is worth opening after the rest.
    public static func largeSplits(in folder: String, over bytes: Int) -> [String] {
        let root = absolutePath(folder)
        guard detectFormat(in: root) == .product1m else { return [] }
        return Product1MSplitSpec.all.compactMap { spec in
            var info = stat()
            guard stat(root + "/" + spec.fileName, &info) == 0, Int(info.st_size) > bytes else { return nil }
            return spec.name
        }
    }

    /// The format of the dataset in `folder`, or nil when it holds none. Product1M wins over the
    /// folder formats, and `captions.tsv` over `captions.jsonl`, when a folder holds several.
    public static func detectFormat(in folder: String) -> DatasetFormat? {
        let root = absolutePath(folder)
        if Product1MSplitSpec.all.contains(where: { entryKind(root + "/" + $0.fileName) != .missing }) {
            return .product1m
        }
        if entryKind(root + "/" + FolderLoader.tsvName) != .missing { return .folderTSV }
        if entryKind(root + "/" + FolderLoader.jsonlName) != .missing { return .folderJSONL }
        return nil
    }
}


// MARK: - Paths

/// `path` made absolute against the working directory, with `.`, `..`, repeated and trailing slashes
/// removed (symbolic links are left alone).
func absolutePath(_ path: String) -> String {
    var full = path
    if !path.hasPrefix("/") {
        let cwd = currentDirectory()
        full = cwd + "/" + path
    }
    var parts: [Substring] = []
    for part in full.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == ".." {
            if !parts.isEmpty { parts.removeLast() }
            continue
        }
        parts.append(part)
    }
    return "/" + parts.joined(separator: "/")
}

func parentPath(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
    return String(path[..<slash])
}
