import SafeText
import Support
import Dispatch
import Foundation
import Imaging

/// Generates SampleData: a synthetic cosmetics retrieval set in the exact
/// Product1M layout (docs/data.md §1 and §4), so the official evaluation tool runs
/// on it unchanged.
///
/// Invented brands with product lines give a few hundred product instances;
/// each is drawn procedurally (bottles, jars, tubes, droppers, pumps,
/// compacts, lipsticks, boxes) with the brand's colours, label and lettering,
/// on varied backdrops and lighting. Gallery items show one product (several
/// views of each instance), dev and test queries show suits of 2 to 6, and
/// training items are a mix. Titles are noisy e-commerce captions.
///
/// Output is a pure function of the options: every picture has its own random
/// stream derived from (seed, split, index), so pictures are drawn in
/// parallel and the files are byte-identical from run to run (on one platform;
/// floating-point library functions may round differently elsewhere).
public struct SampleDataGenerator: Sendable {
    public let options: SampleDataOptions

    /// First line of the README; marks a folder as SampleData output.
    static let readmeMarker = "Vitrine SampleData"
    static let readmeName = "README.txt"
    static let manifestName = "MANIFEST.sha256"
    static let imagesFolder = "images"

    public init(options: SampleDataOptions = .default) {
        self.options = options
    }

    /// Writes the dataset into `directory` (created if needed). Vitrine never deletes or replaces
    /// a file it did not write: a non-empty folder is refused unless `overwrite` is true, and then
    /// only the files listed in the folder's `MANIFEST.sha256` (what an earlier run wrote), still
    /// holding the bytes it wrote, are removed; any other file where a new one would go is an
    /// error, and every other file is left alone.
    ///
    /// Files: the four `product1m_*_ossurl_v2.txt` splits, `images/<item_id>.jpg` (unless
    /// `writeImages` is false), `README.txt`, and `MANIFEST.sha256` with the SHA-256 of every other
    /// file in `sha256sum` format, sorted by path.
    public func generate(into directory: String, overwrite: Bool = false,
                         progress: @Sendable (SampleDataProgress) -> Void = { _ in }) throws {
        try options.validate()
        let catalogue = SynthCatalogue(seed: options.seed, brandCount: options.brands, drawings: options.writeImages)
        let plan = SynthPlan(catalogue: catalogue, options: options)
        var targets = [Self.readmeName, Self.manifestName] + plan.files.map(\.split.fileName)
        if options.writeImages { targets += plan.jobs.map { Self.imagesFolder + "/" + $0.id + ".jpg" } }
        try prepare(directory, overwrite: overwrite, targets: targets)
        progress(.planned(images: plan.jobs.count))

        var written: [(path: String, hash: String, bytes: Int)] = []
        func record(_ relativePath: String, _ bytes: [UInt8]) throws {
            try Self.write(bytes, to: directory + "/" + relativePath)
            written.append((relativePath, SHA256.hex(bytes), bytes.count))
        }
        // The README goes first, so that an interrupted run still leaves a folder recognised as
        // SampleData (and regenerated without `overwrite`).
        try record(Self.readmeName, Array(readme(catalogue: catalogue, plan: plan).utf8))
        if options.writeImages {
            written += try drawImages(plan.jobs, catalogue: catalogue, directory: directory, progress: progress)
        }
        for file in plan.files {
            try record(file.split.fileName, file.bytes)
        }
        written.sort { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        var manifest = ""
        for file in written { manifest += "\(file.hash)  \(file.path)\n" }
        let manifestBytes = Array(manifest.utf8)
        try Self.write(manifestBytes, to: directory + "/" + Self.manifestName)
        let total = written.reduce(manifestBytes.count) { $0 + $1.bytes }
        progress(.finished(files: written.count + 1, bytes: total))
    }

    // MARK: Pictures

    /// Shared state of the drawing workers.
    private final class DrawingState: @unchecked Sendable {
        let lock = NSLock()
        var hashes: [String]
        var sizes: [Int]
        var done = 0
        var failure: SampleDataError?

        init(count: Int) {
            hashes = [String](repeating: "", count: count)
            sizes = [Int](repeating: 0, count: count)
        }
    }

    private func drawImages(_ jobs: [SynthImageJob], catalogue: SynthCatalogue, directory: String,
                            progress: @Sendable (SampleDataProgress) -> Void) throws -> [(path: String, hash: String, bytes: Int)] {
        let folder = directory + "/" + Self.imagesFolder
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw SampleDataError.cannotCreateDirectory(path: folder, reason: Self.reason(error))
        }
        let state = DrawingState(count: jobs.count)
        let seed = options.seed, quality = options.jpegQuality
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            state.lock.lock()
            let stop = state.failure != nil
            state.lock.unlock()
            if stop { return }
            let job = jobs[i]
            let path = folder + "/" + job.id + ".jpg"
            var rng = SynthRNG(seed: seed, SynthRNG.key("render"), job.split.key, UInt64(job.index))
            let image = SynthScene.render(job.products, catalogue: catalogue, width: job.width, height: job.height, rng: &rng)
            var failure: SampleDataError?
            var hash = ""
            var size = 0
            do {
                let bytes = try JPEGEncoder.encode(image, quality: quality)
                try Self.write(bytes, to: path)
                hash = SHA256.hex(bytes)
                size = bytes.count
            } catch let error as SampleDataError {
                failure = error
            } catch {
                failure = .imageEncoding(path: path, reason: String(describing: error))
            }
            state.lock.lock()
            defer { state.lock.unlock() }
            if let failure {
                if state.failure == nil { state.failure = failure }
                return
            }
            state.hashes[i] = hash
            state.sizes[i] = size
            state.done += 1
            progress(.wrote(images: state.done, total: jobs.count))
        }
        if let failure = state.failure { throw failure }
        return jobs.indices.map { i in
            (Self.imagesFolder + "/" + jobs[i].id + ".jpg", state.hashes[i], state.sizes[i])
        }
    }

    // MARK: Files and folders

    private static func write(_ bytes: [UInt8], to path: String) throws(SampleDataError) {
        do {
            try AtomicFile.write(bytes, to: path)
        } catch {
            throw SampleDataError.cannotWrite(path: path, reason: error.message)
        }
    }

    private static func reason(_ error: any Error) -> String {
        (error as NSError).localizedDescription
    }

    /// Makes `directory` ready: created when missing; refused when not empty unless `overwrite`;
    /// then the previous set's files removed (`removePreviousSet`) and every target checked to be
    /// free, so that no file Vitrine did not write is replaced.
    private func prepare(_ directory: String, overwrite: Bool, targets: [String]) throws(SampleDataError) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw .cannotCreateDirectory(path: directory, reason: Self.reason(error))
            }
            return
        }
        guard isDirectory.boolValue else { throw .notADirectory(directory) }
        let contents: [String]
        do { contents = try fm.contentsOfDirectory(atPath: directory) } catch {
            throw .cannotCreateDirectory(path: directory, reason: Self.reason(error))
        }
        if contents.isEmpty { return }
        guard overwrite else { throw .directoryNotEmpty(directory) }
        try removePreviousSet(in: directory)
        for target in targets {
            var status = stat()
            if lstat(directory + "/" + target, &status) == 0 { throw .wouldReplace(directory + "/" + target) }
        }
    }

    /// Removes what a previous run wrote here, and only that: the files its `MANIFEST.sha256`
    /// lists, each only if it still holds the bytes that were written (a file changed since is
    /// the user's and stops the run), then the manifest, then `images/` if that leaves it empty.
    /// Nothing is removed until every listed file has been checked.
    private func removePreviousSet(in directory: String) throws(SampleDataError) {
        let manifestPath = directory + "/" + Self.manifestName
        let bytes: [UInt8]
        do {
            guard let read = try RegularFile.read(manifestPath, kind: "manifest", limit: 256 << 20, missingIsNil: true) else { return }
            bytes = read
        } catch {
            throw .cannotRemove(path: manifestPath, reason: error.message)
        }
        var remove: [String] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            // `sha256sum` lines: 64 hex digits, two spaces, a path relative to the folder.
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].count == 64, parts[1].hasPrefix(" ") else {
                throw .cannotRemove(path: manifestPath, reason: "a line is not \"<sha256>  <path>\"; remove the old files yourself")
            }
            let relative = String(parts[1].dropFirst())
            let components = relative.split(separator: "/", omittingEmptySubsequences: false)
            guard !relative.hasPrefix("/"), !components.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }) else {
                throw .cannotRemove(path: manifestPath, reason: "it lists \(SafeText.quoted(relative)), which is not a file inside the folder")
            }
            let path = directory + "/" + relative
            var status = stat()
            if lstat(path, &status) != 0 && errno == ENOENT { continue }  // already gone
            // Streamed in pieces (ContentHash), never held whole; a FIFO or device is refused.
            let current: String
            do { current = try ContentHash.sha256(fileAt: path) } catch {
                throw .cannotRemove(path: path, reason: "\(error.reason); it is not a file Vitrine wrote")
            }
            guard current == parts[0].lowercased() else { throw .modifiedSinceWritten(path) }
            remove.append(path)
        }
        for path in remove + [manifestPath] where unlink(path) != 0 && errno != ENOENT {
            throw .cannotRemove(path: path, reason: String(cString: strerror(errno)))
        }
        rmdir(directory + "/" + Self.imagesFolder)  // only when empty
    }

    // MARK: README

    private func readme(catalogue: SynthCatalogue, plan: SynthPlan) -> String {
        let o = options
        let lines = Dictionary(uniqueKeysWithValues: plan.files.map { ($0.split, $0.lines) })
        let images = o.writeImages ? plan.jobs.count : 0
        let command = (["vitrine", "sample-data", "--out", "<this folder>"]
            + o.commandLineArguments).joined(separator: " ")
        var text = """
        \(Self.readmeMarker)
        ==================

        A synthetic cosmetics retrieval dataset in the Product1M layout (ICCV 2021),
        made by Vitrine's SampleData generator so that Vitrine and Product1M's own
        evaluation tool can run without the real data. The brands are invented and
        the product pictures are drawn procedurally: nothing here shows a real product.

        Files
          product1m_gallery_ossurl_v2.txt  \(lines[.gallery] ?? 0) gallery items: one product each, one label;
                                           \(o.galleryViews) views of each of \(catalogue.instances.count) product instances
          product1m_dev_ossurl_v2.txt      \(lines[.dev] ?? 0) queries: suits of 2 to 6 products, labelled
          product1m_test_ossurl_v2.txt     \(lines[.test] ?? 0) queries: suits of 2 to 6 products, labelled
          product1m_train_ossurl_v2.txt    \(lines[.train] ?? 0) training items, single products and suits
                                           (labels are written but not meant to be used)

        """
        if o.writeImages {
            text += """
              images/<item_id>.jpg             \(images) JPEG pictures, quality \(o.jpegQuality), sides \(o.minSide) to \(o.maxSide) px

            """
        } else {
            text += """
              (no images: generated with --no-images, for catalogue-loading benchmarks)

            """
        }
        text += """
          MANIFEST.sha256                  SHA-256 of every other file; check with: sha256sum -c MANIFEST.sha256

        Line format (UTF-8, one item a line):
          item_id#####title#####url1#####url2#####label1#;#label2...
        Titles are noisy on purpose: some name a product that is not in the picture,
        some leave out one that is. A query's labels list every product in its
        picture (a label repeats when the suit holds two of that product).

        \(o.brands) brands, \(catalogue.instances.count) product instances, seed \(o.seed).

        Regenerate (byte-identical on the same platform):
          \(command)

        """
        return text
    }
}
