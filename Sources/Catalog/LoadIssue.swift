/// The on-disk layouts `Dataset.load(from:options:)` recognises (docs/data.md §1 and §3).
public enum DatasetFormat: String, Sendable, Codable, CaseIterable {
    /// Product1M split files `product1m_{train,dev,test,gallery}_ossurl_v2.txt` and `images/<item_id>.jpg`.
    case product1m
    /// A plain folder with `captions.tsv` (`id<TAB>image<TAB>caption<TAB>labels[<TAB>split]`).
    case folderTSV = "folder-tsv"
    /// A plain folder with `captions.jsonl` (one `{"id","image","caption","labels","split"}` object a line).
    case folderJSONL = "folder-jsonl"
}

/// How forgiving a load is.
public struct LoadOptions: Sendable, Equatable {
    /// When true, the first malformed line is thrown as a `CatalogError` instead of being reported and skipped.
    public var strict: Bool
    /// Titles (captions) longer than this many UTF-8 bytes make their line malformed.
    public var maxTitleBytes: Int
    /// A label longer than this many UTF-8 bytes makes its line malformed (Product1M's are under 100).
    public var maxLabelBytes: Int
    /// A line with more labels than this is malformed (a Product1M query lists a few to a few dozen):
    /// one field must not cost the explorer seconds a frame.
    public var maxLabels: Int
    /// Ids and image references longer than this many UTF-8 bytes make their line malformed.
    public var maxIDBytes: Int
    /// Product1M splits not to open (by name: `train`, ...), for a first look at a large dataset
    /// before its largest split is scanned.
    public var skippedSplits: Set<String> = []
    /// Product1M: list `images/` when the dataset opens, to find every sample's image and count the
    /// missing ones. Without it (a first look, when the folder may hold a million files), an image
    /// is looked for with `stat` when a sample is read, and `Split.imagesCounted` is false.
    public var imageCensus = true

    public init(strict: Bool = false, maxTitleBytes: Int = 4096, maxLabelBytes: Int = 1024, maxLabels: Int = 256,
                maxIDBytes: Int = 1024) {
        self.strict = strict
        self.maxTitleBytes = maxTitleBytes
        self.maxLabelBytes = maxLabelBytes
        self.maxLabels = maxLabels
        self.maxIDBytes = maxIDBytes
    }

    /// Why a line's labels are over the limits, or nil.
    func labelProblem(count: Int, longest: Int) -> String? {
        if count > maxLabels { return "\(count > maxLabels + 1 ? "more than \(maxLabels)" : "\(count)") labels, over the limit of \(maxLabels)" }
        if longest > maxLabelBytes { return "a label is \(longest) bytes long, over the limit of \(maxLabelBytes) bytes" }
        return nil
    }
}

/// A malformed line: where it is and what is wrong with it. The line was skipped.
public struct LoadIssue: Sendable, Hashable, CustomStringConvertible {
    /// The file's name (not its path; `Split.file` holds the path), e.g. `product1m_dev_ossurl_v2.txt`.
    public let file: String
    /// 1-based line number in that file.
    public let line: Int
    /// What is wrong, in words, e.g. `expected 5 fields separated by '#####', found 3`.
    public let reason: String

    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    /// `file:line: reason`, the form compilers use, so editors can jump to it.
    public var description: String { "\(file):\(line): \(reason)" }
}

/// Why a dataset could not be loaded.
public struct CatalogError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The folder holds none of the files of a known format.
        case noDataset
        /// The path does not exist or is not a folder.
        case notAFolder
        /// A file exists but could not be read.
        case unreadableFile
        /// Strict mode: the first malformed line (see `issue`).
        case malformedLine
    }

    public let kind: Kind
    /// The folder or file concerned.
    public let path: String
    /// The malformed line, for `.malformedLine`.
    public let issue: LoadIssue?
    /// A complete sentence: what went wrong, where, and what to do.
    public let message: String

    public init(kind: Kind, path: String, issue: LoadIssue? = nil, message: String) {
        self.kind = kind
        self.path = path
        self.issue = issue
        self.message = message
    }

    public var description: String { message }

    static func noDataset(in folder: String) -> CatalogError {
        CatalogError(kind: .noDataset, path: folder, message:
            "no dataset in \(folder): expected product1m_*_ossurl_v2.txt or captions.tsv/captions.jsonl; "
            + "`vitrine sample-data --out DIR` makes a demo set")
    }

    static func malformed(_ issue: LoadIssue, path: String) -> CatalogError {
        CatalogError(kind: .malformedLine, path: path, issue: issue, message:
            "\(issue) (strict mode stops at the first malformed line; without it such lines are reported and skipped)")
    }
}
