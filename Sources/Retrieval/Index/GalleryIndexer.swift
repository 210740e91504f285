#if canImport(Glibc)
import Support
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Capture
import Catalog
import Foundation

/// Settings shared by `GalleryIndexer` and `RetrievalEngine`.
public struct RetrievalOptions: Sendable, Equatable {
    /// The weights folder; nil finds it as `WeightsFolder.locate()` does (`$VITRINE_WEIGHTS`, `Weights/`).
    public var weightsPath: String?
    /// Where index files live; nil: `IndexLocation.defaultRoot()`.
    public var indexRoot: String?
    /// The backbone feature cache's root; nil: `FeatureCache.defaultRoot()`.
    public var featureCacheRoot: String?
    /// Rebuild the index even when the stored one is current.
    public var rebuild: Bool
    /// Gallery items per forward pass while building.
    public var batchSize: Int
    /// With a checkpoint, a caption query scores `(1 - w) * cos(z_t, z_v) + w * cos(z_t, z_t')`
    /// against each gallery item (docs/model.md §6: "optionally blended"); 0 uses z_v alone.
    public var captionTextWeight: Float
    /// Zero-shot pair queries (image and caption) score
    /// `w * cos(sentence, sentence') + (1 - w) * cos(pooled, pooled')`.
    public var pairTextWeight: Float
    /// The text tower of the zero-shot system (a checkpoint uses its own).
    public var zeroShotTextTower: TextTower
    /// Write nothing: an index that is missing or stale is an error (the host prepares it with
    /// `vitrine index`), and backbone features not in the cache are computed but not stored.
    public var readOnly = false

    /// `pairTextWeight` nil: the zero-shot tower's own (`TextTower.zeroShotPairTextWeight`).
    public init(weightsPath: String? = nil, indexRoot: String? = nil, featureCacheRoot: String? = nil,
                rebuild: Bool = false, batchSize: Int = 32, captionTextWeight: Float = 0, pairTextWeight: Float? = nil,
                zeroShotTextTower: TextTower = .standard) {
        self.weightsPath = weightsPath; self.indexRoot = indexRoot; self.featureCacheRoot = featureCacheRoot
        self.rebuild = rebuild; self.batchSize = batchSize
        self.captionTextWeight = captionTextWeight
        self.pairTextWeight = pairTextWeight ?? zeroShotTextTower.zeroShotPairTextWeight
        self.zeroShotTextTower = zeroShotTextTower
    }
}

/// Where gallery indexes are stored: never inside the dataset (SampleData is committed), but in
/// the user's cache, next to the backbone feature cache:
/// `<root>/<dataset folder name>-<16 hex digits of the SHA-256 of its absolute path>/<system>.vtri`,
/// where `<root>` is `$VITRINE_CACHE/index`, else `$XDG_CACHE_HOME/vitrine/index`, else
/// `~/.cache/vitrine/index`, and `<system>` is `zero-shot` or `model-<16 hex digits of the
/// SHA-256 of the checkpoint's absolute path>`. One file per (dataset folder, system): a rebuild
/// replaces it.
public enum IndexLocation {
    /// The default root folder of index files.
    public static func defaultRoot(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        UserFolders(environment: environment).cache + "/index"
    }

    /// The index file of `system` over the dataset at `datasetRoot`.
    /// The zero-shot system has one file per text tower (`zero-shot.vtri` for the standard one,
    /// `zero-shot-minilm.vtri` for MiniLM), so switching towers does not rebuild the other's.
    public static func path(root: String? = nil, datasetRoot: String, system: RetrievalSystem,
                            zeroShotTextTower: TextTower = .standard) -> String {
        let folderName = (datasetRoot as NSString).lastPathComponent
            .filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        let datasetKey = ContentHash.sha256(Array(datasetRoot.utf8)).prefix(16)
        let file: String
        switch system {
        case .zeroShot:
            file = IndexIdentity.zeroShot + (zeroShotTextTower == .standard ? "" : "-" + zeroShotTextTower.rawValue)
        case .model(let checkpoint): file = "model-" + ContentHash.sha256(Array(checkpoint.utf8)).prefix(16)
        }
        return (root ?? defaultRoot()) + "/" + (folderName.isEmpty ? "dataset" : folderName) + "-" + datasetKey + "/" + file + ".vtri"
    }
}

/// The content fingerprint of a gallery that decides whether an index is stale: the SHA-256 of,
/// for each item in order, its id, caption, image path, and the image file's size and
/// modification time (nanoseconds). Cheap (one `stat` per image, no image is read): replacing an
/// image file, editing a caption, or adding, removing or reordering items changes it. Labels do
/// not: they are read from the dataset at query time.
public enum GalleryFingerprint {
    public static func of(_ gallery: [Sample]) -> String {
        var bytes: [UInt8] = Array("vitrine-gallery/1\n".utf8)
        for sample in gallery {
            bytes += sample.id.utf8; bytes.append(0x09)
            bytes += sample.caption.utf8; bytes.append(0x09)
            if let path = sample.imagePath {
                bytes += path.utf8
                var status = stat()
                if stat(path, &status) == 0 {
                    bytes += " \(status.st_size) \(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)".utf8
                } else {
                    bytes += " missing".utf8
                }
            }
            bytes.append(0x0A)
        }
        return ContentHash.sha256(bytes)
    }
}

/// What `GalleryIndexer` did.
public struct IndexReport: Sendable, Equatable {
    public var path: String
    public var system: String
    public var items: Int
    /// Whether vectors were computed (false: the stored index was current).
    public var built: Bool
    /// Why it was (re)built: "no index yet", what changed, why the stored file was unreadable, or "--rebuild".
    public var reason: String?
    /// Seconds spent building (0 when reused).
    public var seconds: Double
    public var missingImages: Int
    /// Items whose vectors came from the journal of an interrupted build (`IndexJournal`).
    public var resumedItems: Int = 0
    /// Items per second of the build, those computed by it (nil when reused).
    public var itemsPerSecond: Double? { built && seconds > 0 ? Double(items - resumedItems) / seconds : nil }
}

/// Builds gallery indexes and reuses them while they are current.
public enum GalleryIndexer {
    /// Opens the current index of `system` over `dataset`'s gallery, building it first when there
    /// is none, when it is stale (`IndexIdentity.staleness`), when it cannot be read (truncated,
    /// damaged, another format version), or when `options.rebuild` is set.
    public static func prepare(dataset: Dataset, system: RetrievalSystem, options: RetrievalOptions = RetrievalOptions(),
                               progress: (@Sendable (IndexEvent) -> Void)? = nil) throws -> (GalleryIndex, IndexReport) {
        let towers = try Towers(system: system, options: options)
        return try prepare(dataset: dataset, towers: towers, options: options, progress: progress)
    }

    static func prepare(dataset: Dataset, towers: Towers, options: RetrievalOptions,
                        progress: (@Sendable (IndexEvent) -> Void)?) throws -> (GalleryIndex, IndexReport) {
        guard let gallery = dataset.gallery.map({ Array($0.samples) }), !gallery.isEmpty else {
            throw RetrievalError.noGallery(dataset.root)
        }
        let path = IndexLocation.path(root: options.indexRoot, datasetRoot: dataset.root, system: towers.system,
                                      zeroShotTextTower: options.zeroShotTextTower)
        let identity = towers.identity(gallery: GalleryFingerprint.of(gallery))
        var reason: String? = options.rebuild ? "rebuild requested" : nil
        if reason == nil {
            if access(path, F_OK) != 0 {
                reason = "no index yet"
            } else {
                do {
                    let stored = try GalleryIndex.open(path: path)
                    if let stale = identity.staleness(of: stored.identity) {
                        reason = stale
                    } else if stored.ids != gallery.map(\.id) {
                        reason = "the gallery ids changed"
                    } else {
                        progress?(.upToDate(items: stored.count))
                        return (stored, IndexReport(path: path, system: towers.system.displayName, items: stored.count,
                                                    built: false, reason: nil, seconds: 0, missingImages: stored.missingImages))
                    }
                } catch {
                    reason = "the stored index could not be read (\(error))"
                }
            }
        }
        if options.readOnly {
            var command = "vitrine index --data \(dataset.root)"
            switch towers.system {
            case .model(let checkpoint): command += " --model \(checkpoint)"
            case .zeroShot where options.zeroShotTextTower != .standard: command += " --text-tower \(options.zeroShotTextTower.rawValue)"
            case .zeroShot: break
            }
            throw RetrievalError.notPrepared(system: towers.system.displayName, reason: reason ?? "rebuild requested", command: command)
        }
        let start = Date()
        // An interrupted build of this very index left its rows in a journal: go on from them.
        let journalPath = IndexJournal.path(for: path)
        let header = IndexJournal.Header(identity: identity, items: gallery.count, sections: layout(of: towers))
        let resumed = options.rebuild ? nil : IndexJournal.resume(path: journalPath, header: header)
        let journal = try? IndexJournal(path: journalPath, header: header, resumed: resumed)
        progress?(.started(items: gallery.count))
        if let resumed { progress?(.progress(done: resumed.done, total: gallery.count)) }
        let (sections, missing) = try computeSections(gallery, towers: towers, batchSize: max(1, options.batchSize),
                                                      resume: resumed) { batchStart, count, batchMissing, rows in
            journal?.append(start: batchStart, count: count, missing: batchMissing, rows: rows)
        } progress: { done in
            progress?(.progress(done: done, total: gallery.count))
        }
        journal?.flush()
        let seconds = Date().timeIntervalSince(start)
        try GalleryIndex.write(to: path, identity: identity, ids: gallery.map(\.id), sections: sections,
                               missingImages: missing, seconds: seconds)
        journal?.remove()
        progress?(.finished(items: gallery.count, seconds: seconds))
        let index = try GalleryIndex.open(path: path)
        var report = IndexReport(path: path, system: towers.system.displayName, items: gallery.count, built: true,
                                 reason: resumed.map { "\(reason ?? "rebuild"); resumed an interrupted build at \($0.done) items" } ?? reason,
                                 seconds: seconds, missingImages: missing)
        report.resumedItems = resumed?.done ?? 0
        return (index, report)
    }

    /// The sections an index of `towers` holds, with their dimensions, in file order.
    static func layout(of towers: Towers) -> [IndexJournal.Header.Section] {
        switch towers.system {
        case .zeroShot:
            return [.init(name: .sentence, dimension: CaptureConfig.default.hidden),
                    .init(name: .pooled, dimension: EfficientNetLite0.featureChannels)]
        case .model:
            guard let config = towers.model?.config else { preconditionFailure("model system without a model") }
            return [.init(name: .fused, dimension: config.fusedDim), .init(name: .text, dimension: config.clrDim),
                    .init(name: .image, dimension: config.clrDim)]
        }
    }

    /// The vectors of every gallery item, in batches.
    /// A build resumed from a journal starts after its rows; `record` gets each batch's rows (in
    /// `layout(of:)` order) and how many of its items had no usable image.
    static func computeSections(_ gallery: [Sample], towers: Towers, batchSize: Int, resume: IndexJournal.Resumed? = nil,
                                record: (_ start: Int, _ count: Int, _ missing: Int, _ rows: [[Float]]) -> Void = { _, _, _, _ in },
                                progress: (Int) -> Void) throws -> ([GalleryIndex.SectionData], Int) {
        let n = gallery.count
        var missing = resume?.missing ?? 0
        let layout = layout(of: towers)
        // Each section, its first rows from the journal, the rest zero.
        var rows = layout.enumerated().map { i, s -> [Float] in
            var r = resume?.rows[i] ?? []
            r += [Float](repeating: 0, count: n * s.dimension - r.count)
            return r
        }
        var start = resume?.done ?? 0
        switch towers.system {
        case .zeroShot:
            let textDim = layout[0].dimension, imageDim = layout[1].dimension
            var text = rows[0], image = rows[1]
            rows = []
            while start < n {
                let batch = Array(gallery[start..<min(n, start + batchSize)])
                let sentences = towers.sentenceVectors(batch.map(\.caption))
                let maps = towers.imageMaps(batch.map(\.imagePath))
                var batchMissing = 0
                for (i, sentence) in sentences.enumerated() {
                    precondition(sentence.count == textDim)
                    text.replaceSubrange((start + i) * textDim ..< (start + i + 1) * textDim, with: sentence)
                    if case .success(let map)? = maps[i] {
                        image.replaceSubrange((start + i) * imageDim ..< (start + i + 1) * imageDim, with: Towers.pooledVector(map))
                    } else {
                        missing += 1
                        batchMissing += 1
                    }
                }
                record(start, batch.count, batchMissing, [Array(text[start * textDim ..< (start + batch.count) * textDim]),
                                                          Array(image[start * imageDim ..< (start + batch.count) * imageDim])])
                start += batch.count
                progress(start)
            }
            return ([.init(section: .sentence, dimension: textDim, rows: text),
                     .init(section: .pooled, dimension: imageDim, rows: image)], missing)
        case .model:
            let f = layout[0].dimension, z = layout[1].dimension
            var fused = rows[0], text = rows[1], image = rows[2]
            rows = []
            while start < n {
                let batch = Array(gallery[start..<min(n, start + batchSize)])
                let maps = towers.imageMaps(batch.map(\.imagePath))
                var withImage: [(Int, [Float])] = []
                var withoutImage: [Int] = []
                for (i, map) in maps.enumerated() {
                    if case .success(let m)? = map { withImage.append((i, m)) } else { withoutImage.append(i) }
                }
                if !withImage.isEmpty {
                    let out = towers.pairVectors(withImage.map { batch[$0.0].caption }, withImage.map(\.1))
                    for (k, (i, _)) in withImage.enumerated() {
                        let row = start + i
                        fused.replaceSubrange(row * f ..< (row + 1) * f, with: out.fused[k])
                        text.replaceSubrange(row * z ..< (row + 1) * z, with: out.text[k])
                        image.replaceSubrange(row * z ..< (row + 1) * z, with: out.image[k])
                    }
                }
                if !withoutImage.isEmpty {
                    let out = towers.textVectors(withoutImage.map { batch[$0].caption })
                    for (k, i) in withoutImage.enumerated() {
                        text.replaceSubrange((start + i) * z ..< (start + i + 1) * z, with: out[k])
                    }
                    missing += withoutImage.count
                }
                let c = batch.count
                record(start, c, withoutImage.count, [Array(fused[start * f ..< (start + c) * f]),
                                                      Array(text[start * z ..< (start + c) * z]),
                                                      Array(image[start * z ..< (start + c) * z])])
                start += batch.count
                progress(start)
            }
            return ([.init(section: .fused, dimension: f, rows: fused),
                     .init(section: .text, dimension: z, rows: text),
                     .init(section: .image, dimension: z, rows: image)], missing)
        }
    }
}
