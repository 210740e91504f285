/// What the SampleData generator makes: how many brands, pictures and
/// queries, how large the pictures are, and from which seed.
///
/// The defaults are the set committed to the repository (about 2,300
/// pictures, under 25 MB). Larger sets for benchmarks use more brands,
/// views and training items, and usually `writeImages = false`.
public struct SampleDataOptions: Sendable, Equatable {
    /// Seed of every random choice. The same options give byte-identical files on the same platform.
    public var seed: UInt64
    /// Number of invented brands. Each has a few series and product types: about 7 instances per brand.
    public var brands: Int
    /// Gallery pictures per product instance (different views of the same product).
    public var galleryViews: Int
    /// Lines of `product1m_train_ossurl_v2.txt` (half single products, half suits).
    public var trainItems: Int
    /// Queries (multi-product suits) in `product1m_dev_ossurl_v2.txt`.
    public var devQueries: Int
    /// Queries (multi-product suits) in `product1m_test_ossurl_v2.txt`.
    public var testQueries: Int
    /// Smallest picture side in pixels (each side is drawn between `minSide` and `maxSide`).
    public var minSide: Int
    /// Largest picture side in pixels.
    public var maxSide: Int
    /// JPEG quality, 1...100.
    public var jpegQuality: Int
    /// Write `images/`; false writes the caption files only (for large catalogue-loading benchmarks).
    public var writeImages: Bool

    public init(seed: UInt64 = 2021, brands: Int = 40, galleryViews: Int = 3, trainItems: Int = 900,
                devQueries: Int = 150, testQueries: Int = 300, minSide: Int = 200, maxSide: Int = 320,
                jpegQuality: Int = 80, writeImages: Bool = true) {
        self.seed = seed
        self.brands = brands
        self.galleryViews = galleryViews
        self.trainItems = trainItems
        self.devQueries = devQueries
        self.testQueries = testQueries
        self.minSide = minSide
        self.maxSide = maxSide
        self.jpegQuality = jpegQuality
        self.writeImages = writeImages
    }

    /// The committed SampleData set.
    public static let `default` = SampleDataOptions()

    /// Largest picture side accepted.
    public static let maximumSide = 4096

    /// The `vitrine sample-data` flags that reproduce these options (defaults left out);
    /// the generated README.txt quotes them.
    public var commandLineArguments: [String] {
        let d = SampleDataOptions.default
        var args: [String] = []
        if seed != d.seed { args += ["--seed", String(seed)] }
        if brands != d.brands { args += ["--brands", String(brands)] }
        if galleryViews != d.galleryViews { args += ["--gallery-views", String(galleryViews)] }
        if trainItems != d.trainItems { args += ["--train", String(trainItems)] }
        if devQueries != d.devQueries { args += ["--dev", String(devQueries)] }
        if testQueries != d.testQueries { args += ["--test", String(testQueries)] }
        if minSide != d.minSide { args += ["--min-side", String(minSide)] }
        if maxSide != d.maxSide { args += ["--max-side", String(maxSide)] }
        if jpegQuality != d.jpegQuality { args += ["--quality", String(jpegQuality)] }
        if !writeImages { args += ["--no-images"] }
        return args
    }

    /// Checks the options; throws `SampleDataError.invalidOptions` naming the first bad one.
    public func validate() throws(SampleDataError) {
        func fail(_ message: String) throws(SampleDataError) { throw SampleDataError.invalidOptions(message) }
        if brands < 1 { try fail("brands must be at least 1 (got \(brands))") }
        if brands > 100_000 { try fail("brands must be at most 100000 (got \(brands))") }
        if galleryViews < 1 { try fail("galleryViews must be at least 1 (got \(galleryViews)): every instance needs a gallery item") }
        if trainItems < 0 { try fail("trainItems must not be negative (got \(trainItems))") }
        if devQueries < 0 { try fail("devQueries must not be negative (got \(devQueries))") }
        if testQueries < 0 { try fail("testQueries must not be negative (got \(testQueries))") }
        if minSide < 64 { try fail("minSide must be at least 64 pixels (got \(minSide))") }
        if maxSide < minSide { try fail("maxSide (\(maxSide)) must not be smaller than minSide (\(minSide))") }
        if maxSide > Self.maximumSide { try fail("maxSide must be at most \(Self.maximumSide) pixels (got \(maxSide))") }
        if !(1 ... 100).contains(jpegQuality) { try fail("jpegQuality must be between 1 and 100 (got \(jpegQuality))") }
        let total = brands.multipliedReportingOverflow(by: 8 * galleryViews)
        if total.overflow || total.partialValue + trainItems + devQueries + testQueries > 50_000_000 {
            try fail("the set would have more than 50 million items; lower brands, galleryViews or the item counts")
        }
    }
}

/// Progress of `SampleDataGenerator.generate`, reported in this order.
public enum SampleDataProgress: Sendable, Equatable {
    /// The plan is made: this many pictures will be drawn (0 without images).
    case planned(images: Int)
    /// `images` of `total` pictures are written (reported after each picture, from worker threads, in increasing order).
    case wrote(images: Int, total: Int)
    /// Done: `files` files (manifest included) of `bytes` bytes in all.
    case finished(files: Int, bytes: Int)
}

/// Why SampleData could not be generated.
public enum SampleDataError: Error, Equatable, CustomStringConvertible {
    case invalidOptions(String)
    /// The output path exists and is not a folder.
    case notADirectory(String)
    /// The output folder holds files that are not a previous SampleData set.
    case directoryNotEmpty(String)
    case cannotCreateDirectory(path: String, reason: String)
    case cannotWrite(path: String, reason: String)
    case cannotRemove(path: String, reason: String)
    case imageEncoding(path: String, reason: String)
    /// A file of the previous set was changed since Vitrine wrote it: it is the user's now.
    case modifiedSinceWritten(String)
    /// A file Vitrine did not write is where a new one would go.
    case wouldReplace(String)

    public var description: String {
        switch self {
        case let .invalidOptions(message):
            return "invalid SampleData options: \(message)"
        case let .notADirectory(path):
            return "\(path) exists and is not a folder; choose another output path"
        case let .directoryNotEmpty(path):
            return "\(path) is not empty; choose an empty or new folder, or pass --overwrite to replace "
                + "the SampleData set written there before (only files listed in its MANIFEST.sha256 are touched)"
        case let .modifiedSinceWritten(path):
            return "\(path) was changed since Vitrine wrote it, so it is not replaced; move it away (or delete it) and run again"
        case let .wouldReplace(path):
            return "\(path) exists and Vitrine did not write it (it is not in MANIFEST.sha256), so it is not replaced; "
                + "move it away or choose another folder"
        case let .cannotCreateDirectory(path, reason):
            return "cannot create folder \(path): \(reason)"
        case let .cannotWrite(path, reason):
            return "cannot write \(path): \(reason); check the folder's permissions and free space"
        case let .cannotRemove(path, reason):
            return "cannot remove the old file \(path) of the previous SampleData set: \(reason)"
        case let .imageEncoding(path, reason):
            return "cannot encode the picture \(path) as JPEG: \(reason)"
        }
    }
}
