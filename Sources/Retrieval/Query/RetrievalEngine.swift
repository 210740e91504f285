import Capture
import Catalog
import Foundation

/// Answers retrieval queries over one dataset's gallery: opens (or builds) the gallery index of
/// a `RetrievalSystem`, encodes queries with the same towers, and ranks the gallery by cosine
/// similarity with the exact search of `VectorIndex` (docs/model.md §6, "Retrieval embeddings").
///
/// | query | with a checkpoint | zero-shot (no checkpoint) |
/// |---|---|---|
/// | caption | `z_t` against the gallery's `z_v` (blended with its `z_t` when `captionTextWeight` > 0) | MiniLM sentence embedding against the gallery captions' |
/// | image (file, or a sample as image) | `z_v` against `z_v` | pooled backbone feature against pooled features |
/// | sample as pair (image and caption) | `e` against `e` | `w · cos(sentence) + (1 - w) · cos(pooled)`, w = `pairTextWeight` (the tower's: 0.9 e5, 0.5 MiniLM) |
///
/// A sample used as a query is left out of its own results. Gallery samples' vectors come from
/// the index; other samples and image files are encoded on the fly (backbone maps through the
/// feature cache).
///
/// Thread safety: the engine is `Sendable` and may be used from any thread, including several
/// at once. Searches run concurrently; encoding a query (a forward pass) takes a lock, since the
/// networks are not reentrant. On SampleData a caption search takes a few milliseconds (most of
/// it the MiniLM pass); an image file costs one backbone pass (tens of milliseconds) the first
/// time. `search(_:top:filter:isCancelled:)` checks its cancellation closure between encoding
/// and ranking and before returning, and throws `CancellationError` when it answers true.
public final class RetrievalEngine: @unchecked Sendable {
    // Sendable: immutable after init except `targets`, which is guarded by `targetLock`.

    public let dataset: Dataset
    /// The gallery, row i of the index being `gallery[i]`.
    public let gallery: [Sample]
    public let system: RetrievalSystem
    public let options: RetrievalOptions
    public let index: GalleryIndex
    /// How the index was obtained (reused, or built and why).
    public let indexReport: IndexReport

    private let towers: Towers
    private let groundTruth: OfficialGroundTruth
    private let galleryRows: [String: Int]
    private let targetLock = NSLock()
    private var targets: [Target: VectorIndex] = [:]

    /// "zero-shot" or the checkpoint's file name (what `SearchResult.model` says).
    public var modelName: String { system.displayName }

    /// Opens the engine for `dataset` with `system`, building the gallery index when it is missing
    /// or stale (events go to `progress`).
    public init(dataset: Dataset, system: RetrievalSystem = .zeroShot, options: RetrievalOptions = RetrievalOptions(),
                progress: (@Sendable (IndexEvent) -> Void)? = nil) throws {
        guard let gallery = dataset.gallery.map({ Array($0.samples) }), !gallery.isEmpty else { throw RetrievalError.noGallery(dataset.root) }
        if case .model(let path) = system, !FileManager.default.isReadableFile(atPath: path) {
            throw RetrievalError.invalidArgument("cannot read the checkpoint \(path)")
        }
        guard (0...1).contains(options.captionTextWeight), (0...1).contains(options.pairTextWeight) else {
            throw RetrievalError.invalidArgument("captionTextWeight and pairTextWeight must be in 0...1")
        }
        self.dataset = dataset
        self.gallery = gallery
        self.system = system
        self.options = options
        towers = try Towers(system: system, options: options)
        (index, indexReport) = try GalleryIndexer.prepare(dataset: dataset, towers: towers, options: options, progress: progress)
        // Only the gallery is indexed here: a query sample is looked up in its split when it is asked
        // for, so a training split of a million lines is never walked.
        groundTruth = OfficialGroundTruth(gallery: gallery.map { .init(id: $0.id, labels: $0.labels) }, queries: [])
        var rows: [String: Int] = [:]
        for (row, sample) in gallery.enumerated() where rows[sample.id] == nil { rows[sample.id] = row }
        galleryRows = rows
    }

    /// Opens the dataset folder at `dataPath` and the engine over it.
    public convenience init(dataPath: String, system: RetrievalSystem = .zeroShot, options: RetrievalOptions = RetrievalOptions(),
                            progress: (@Sendable (IndexEvent) -> Void)? = nil) throws {
        try self.init(dataset: try Dataset.load(from: dataPath), system: system, options: options, progress: progress)
    }

    /// The sample with id `id` in any split.
    /// The sample with this id, from the first split that lists it.
    public func sample(id: String) -> Sample? {
        for split in dataset.splits { if let sample = split.sample(id: id) { return sample } }
        return nil
    }

    // MARK: Search

    /// The `top` best gallery items for `query` allowed by `filter`, with the query's official AP
    /// at that depth when it has labels.
    public func search(_ query: RetrievalQuery, top: Int, filter: RetrievalFilter = .none,
                       isCancelled: () -> Bool = { false }) throws -> SearchResult {
        guard top > 0 else { throw RetrievalError.invalidArgument("top must be positive, got \(top)") }
        let top = min(top, max(1, gallery.count))  // AP@N is the same for every N at or above the gallery's size
        let start = DispatchTime.now()
        let plan = try self.plan(query)
        if isCancelled() { throw CancellationError() }
        let searcher = try target(plan.target)
        let rowFilter = makeFilter(filter, excluding: plan.exclude)
        if let rowFilter, rowFilter.allowedCount == 0 {
            return SearchResult(query: query, matches: [], averagePrecision: plan.labels.map { _ in 0 }, model: modelName,
                                seconds: seconds(since: start))
        }
        let hits = try searcher.search(plan.vector, k: top, filter: rowFilter)
        try checkIndexIntact()
        if isCancelled() { throw CancellationError() }
        let wanted = plan.labels.map(Set.init)
        let matches = hits.enumerated().map { i, hit in
            RankedMatch(rank: i + 1, sampleID: gallery[hit.row].id, score: hit.score,
                        isRelevant: wanted.map { labels in gallery[hit.row].product.map(labels.contains) ?? false })
        }
        var ap: Double? = nil
        if let id = plan.queryID, let labels = plan.labels {
            let ranking = Ranking(queryID: id, galleryIDs: matches.map(\.sampleID))
            let truth = groundTruth.adding(query: .init(id: id, labels: labels))
            ap = OfficialMetrics.score(ranking, line: 1, groundTruth: truth, cutoffs: [top]).cutoffs[0].averagePrecision
        }
        return SearchResult(query: query, matches: matches, averagePrecision: ap, model: modelName,
                            seconds: seconds(since: start))
    }

    /// Rankings of dataset samples used as queries in `mode` (the official evaluation's input):
    /// one per query, in order, `top` ids each. Queries are encoded in batches. A query whose
    /// image the mode needs but cannot be read gets an empty ranking and is listed in `problems`.
    public func rankings(for queries: [Sample], mode: QueryMode, top: Int = 100,
                         progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> (rankings: [Ranking], problems: [String]) {
        guard top > 0 else { throw RetrievalError.invalidArgument("top must be positive, got \(top)") }
        let top = min(top, max(1, gallery.count))  // AP@N is the same for every N at or above the gallery's size
        var vectors: [[Float]?] = []
        var problems: [String] = []
        let batchSize = max(1, options.batchSize)
        var start = 0
        while start < queries.count {
            let batch = Array(queries[start..<min(queries.count, start + batchSize)])
            let (encoded, failed) = try encodeSamples(batch, mode: mode)
            vectors += encoded
            problems += failed
            start += batch.count
            progress?(start, queries.count)
        }
        let searcher = try target(targetKind(for: mode))
        let present = vectors.enumerated().compactMap { i, v in v.map { (i, $0) } }
        let excluded = queries.map { galleryRows[$0.id] }
        let extra = excluded.contains { $0 != nil } ? 1 : 0
        let hits = try searcher.search(batch: present.map(\.1), k: top + extra)
        try checkIndexIntact()
        var rankings = queries.map { Ranking(queryID: $0.id, galleryIDs: []) }
        for (k, (i, _)) in present.enumerated() {
            let kept = hits[k].filter { $0.row != excluded[i] }.prefix(top)
            rankings[i] = Ranking(queryID: queries[i].id, galleryIDs: kept.map { gallery[$0.row].id }, scores: kept.map(\.score))
        }
        return (rankings, problems)
    }

    // MARK: Attention

    /// Why `match` ranks where it does for `query` (docs/model.md §7, "Attention summary of a match").
    ///
    /// - Caption and pair queries with a checkpoint: the model runs on (query caption, match
    ///   image); tokens are whole words (wordpieces merged, `[CLS]`/`[SEP]` left out) weighted by
    ///   their share of the caption's text-to-image attention mass in the cross stream; maps are
    ///   the attention over the 7x7 cells, averaged over heads and the co-attention and cross layers
    ///   (see `CaptureModel.textImageAttention`), each normalised to sum to 1. At most `maxTokens` tokens.
    /// - Image queries (and, zero-shot, pair queries): no tokens; the map gives each cell of the
    ///   match the best cosine similarity (clipped at 0) of its backbone feature with any cell of
    ///   the query image, normalised to sum to 1.
    /// - Zero-shot caption queries throw `RetrievalError.attentionNeedsModel`: MiniLM's token
    ///   states and the backbone's cells live in unrelated spaces, so there is no honest map.
    public func attention(for query: RetrievalQuery, match sampleID: String, maxTokens: Int = 8) throws -> AttentionSummary {
        guard let row = galleryRows[sampleID] else {
            throw sample(id: sampleID) == nil ? RetrievalError.unknownSample(sampleID) : RetrievalError.notInGallery(sampleID)
        }
        guard let matchPath = gallery[row].imagePath else { throw RetrievalError.sampleHasNoImage(sampleID) }
        let matchMap = try towers.imageMap(path: matchPath)

        enum Source { case caption(String), image(String), pair(String, String) }
        let source: Source
        switch query {
        case .caption(let text): source = .caption(text)
        case .imageFile(let path): source = .image(path)
        case .sample(let id, let mode):
            guard let sample = sample(id: id) else { throw RetrievalError.unknownSample(id) }
            switch mode {
            case .caption: source = .caption(sample.caption)
            case .image:
                guard let path = sample.imagePath else { throw RetrievalError.sampleHasNoImage(id) }
                source = .image(path)
            case .pair:
                guard let path = sample.imagePath else { throw RetrievalError.sampleHasNoImage(id) }
                source = .pair(sample.caption, path)
            }
        }
        switch (source, system) {
        case (.image(let path), _), (.pair(_, let path), .zeroShot):
            let queryMap = try towers.imageMap(path: path)
            let side = EfficientNetLite0.featureSide
            let map = AttentionMaps.cellSimilarity(query: queryMap, match: matchMap, channels: EfficientNetLite0.featureChannels,
                                                   cells: side * side)
            return AttentionSummary(tokens: [], side: side, map: map, tokenMaps: [])
        case (.caption, .zeroShot):
            throw RetrievalError.attentionNeedsModel
        case (.caption(let text), .model), (.pair(let text, _), .model):
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw RetrievalError.emptyCaption }
            let raw = towers.attention(caption: text, map: matchMap)
            return AttentionMaps.summary(raw, maxTokens: maxTokens)
        }
    }

    // MARK: Planning

    /// Which gallery vectors a query is scored against.
    enum Target: Hashable {
        case section(IndexSection)
        /// Zero-shot pair: sentence and pooled vectors concatenated with weights.
        case zeroShotPair
        /// Model caption: z_v and z_t concatenated with weights.
        case blendedCaption
    }

    private struct Plan {
        var vector: [Float]
        var target: Target
        var labels: [String]?
        var queryID: String?
        var exclude: Int?
    }

    private func targetKind(for mode: QueryMode) -> Target {
        switch (system, mode) {
        case (.zeroShot, .caption): return .section(.sentence)
        case (.zeroShot, .image): return .section(.pooled)
        case (.zeroShot, .pair): return .zeroShotPair
        case (.model, .caption): return options.captionTextWeight > 0 ? .blendedCaption : .section(.image)
        case (.model, .image): return .section(.image)
        case (.model, .pair): return .section(.fused)
        }
    }

    private func plan(_ query: RetrievalQuery) throws -> Plan {
        switch query {
        case .caption(let text):
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw RetrievalError.emptyCaption }
            let sample = Sample(id: "", caption: text, imagePath: nil, labels: [])
            let (vectors, _) = try encodeSamples([sample], mode: .caption)
            return Plan(vector: vectors[0]!, target: targetKind(for: .caption), labels: nil, queryID: nil, exclude: nil)
        case .imageFile(let path):
            let sample = Sample(id: "", caption: "", imagePath: path, labels: [])
            let (vectors, problems) = try encodeSamples([sample], mode: .image)
            guard let vector = vectors[0] else { throw RetrievalError.imageUnreadable(path, problems.first ?? "unreadable") }
            return Plan(vector: vector, target: targetKind(for: .image), labels: nil, queryID: nil, exclude: nil)
        case .sample(let id, let mode):
            guard let sample = sample(id: id) else { throw RetrievalError.unknownSample(id) }
            if mode != .caption && sample.imagePath == nil { throw RetrievalError.sampleHasNoImage(id) }
            let (vectors, problems) = try encodeSamples([sample], mode: mode)
            guard let vector = vectors[0] else {
                throw RetrievalError.imageUnreadable(sample.imagePath ?? id, problems.first ?? "unreadable")
            }
            return Plan(vector: vector, target: targetKind(for: mode), labels: sample.labels.isEmpty ? nil : sample.labels,
                        queryID: id, exclude: galleryRows[id])
        }
    }

    /// Query vectors of samples for `mode` (nil where the needed image cannot be read, with a
    /// message in the second list). Gallery samples take their vectors from the index.
    private func encodeSamples(_ samples: [Sample], mode: QueryMode) throws -> ([[Float]?], [String]) {
        var out = [[Float]?](repeating: nil, count: samples.count)
        var problems: [String] = []
        var pending: [Int] = []
        for (i, sample) in samples.enumerated() {
            if let row = galleryRows[sample.id], !sample.id.isEmpty, let stored = storedVector(row: row, mode: mode) {
                out[i] = stored
            } else {
                pending.append(i)
            }
        }
        guard !pending.isEmpty else { return (out, problems) }
        let todo = pending.map { samples[$0] }
        var maps = [[Float]?](repeating: nil, count: todo.count)
        if mode != .caption {
            for (k, result) in towers.imageMaps(todo.map(\.imagePath)).enumerated() {
                switch result {
                case .success(let map)?: maps[k] = map
                case .failure(let error)?: problems.append("\(todo[k].id.isEmpty ? "query" : todo[k].id): \(error)")
                case nil: problems.append("\(todo[k].id.isEmpty ? "query" : todo[k].id): no image file")
                }
            }
        }
        switch (system, mode) {
        case (.zeroShot, .caption):
            for (k, v) in towers.sentenceVectors(todo.map(\.caption)).enumerated() { out[pending[k]] = v }
        case (.zeroShot, .image):
            for (k, map) in maps.enumerated() { out[pending[k]] = map.map(Towers.pooledVector) }
        case (.zeroShot, .pair):
            let sentences = towers.sentenceVectors(todo.map(\.caption))
            for (k, map) in maps.enumerated() {
                guard let map else { continue }
                out[pending[k]] = pairVector(text: sentences[k], image: Towers.pooledVector(map))
            }
        case (.model, .caption):
            let z = towers.textVectors(todo.map(\.caption))
            for (k, v) in z.enumerated() { out[pending[k]] = captionVector(v) }
        case (.model, .image):
            let present = maps.enumerated().compactMap { k, m in m.map { (k, $0) } }
            if !present.isEmpty {
                for (j, v) in towers.imageVectors(present.map(\.1)).enumerated() { out[pending[present[j].0]] = v }
            }
        case (.model, .pair):
            let present = maps.enumerated().compactMap { k, m in m.map { (k, $0) } }
            if !present.isEmpty {
                let e = towers.pairVectors(present.map { todo[$0.0].caption }, present.map(\.1)).fused
                for (j, v) in e.enumerated() { out[pending[present[j].0]] = v }
            }
        }
        return (out, problems)
    }

    /// The query vector of gallery row `row` in `mode`, read from the index (nil when the row's
    /// image was missing at build time and the mode needs it).
    private func storedVector(row: Int, mode: QueryMode) -> [Float]? {
        let imageMissing = gallery[row].imagePath == nil
        switch (system, mode) {
        case (.zeroShot, .caption): return index.vectors(.sentence)?.row(row)
        case (.zeroShot, .image): return imageMissing ? nil : index.vectors(.pooled)?.row(row)
        case (.zeroShot, .pair):
            guard !imageMissing, let t = index.vectors(.sentence)?.row(row), let v = index.vectors(.pooled)?.row(row) else { return nil }
            return pairVector(text: t, image: v)
        case (.model, .caption): return index.vectors(.text).map { captionVector($0.row(row)) }
        case (.model, .image): return imageMissing ? nil : index.vectors(.image)?.row(row)
        case (.model, .pair): return imageMissing ? nil : index.vectors(.fused)?.row(row)
        }
    }

    private func pairVector(text: [Float], image: [Float]) -> [Float] {
        let a = options.pairTextWeight.squareRoot(), b = (1 - options.pairTextWeight).squareRoot()
        return text.map { $0 * a } + image.map { $0 * b }
    }

    /// A model caption query: z_t, or (blended) z_t on both halves.
    private func captionVector(_ z: [Float]) -> [Float] {
        guard options.captionTextWeight > 0 else { return z }
        let a = (1 - options.captionTextWeight).squareRoot(), b = options.captionTextWeight.squareRoot()
        return z.map { $0 * a } + z.map { $0 * b }
    }

    /// Throws when the index file was cut short by another program while mapped: what was read
    /// past its new end was zeros, so the results are wrong. The damaged file fails its checks
    /// when it is opened again, and is rebuilt then.
    func checkIndexIntact() throws {
        if index.damagedWhileInUse {
            throw RetrievalFileError(path: index.path, message: "the gallery index was cut short by another program while in use, "
                + "so these results cannot be trusted; open the dataset again to rebuild it")
        }
    }

    /// The search index of a target, built on first use.
    private func target(_ target: Target) throws -> VectorIndex {
        targetLock.lock()
        defer { targetLock.unlock() }
        if let existing = targets[target] { return existing }
        let vectors: VectorMatrix
        func section(_ s: IndexSection) throws -> VectorMatrix {
            guard let m = index.vectors(s) else {
                throw RetrievalFileError(path: index.path, message: "the index has no \(s.rawValue) vectors; rebuild it (`vitrine index --rebuild`)")
            }
            return m
        }
        switch target {
        case .section(let s):
            vectors = try section(s)
        case .zeroShotPair:
            vectors = try concatenate(try section(.sentence), options.pairTextWeight, try section(.pooled), 1 - options.pairTextWeight)
        case .blendedCaption:
            vectors = try concatenate(try section(.image), 1 - options.captionTextWeight, try section(.text), options.captionTextWeight)
        }
        let compact = vectors.count > 2048 ? vectors.bfloat16() : nil
        let made = try VectorIndex(vectors: vectors, compact: compact)
        targets[target] = made
        return made
    }

    /// Rows `[sqrt(wa) a ; sqrt(wb) b]`: their dot products are `wa a·a' + wb b·b'`.
    private func concatenate(_ a: VectorMatrix, _ wa: Float, _ b: VectorMatrix, _ wb: Float) throws -> VectorMatrix {
        let da = a.dimension, db = b.dimension, width = da + db
        var rows = [Float](repeating: 0, count: a.count * width)
        let sa = wa.squareRoot(), sb = wb.squareRoot()
        rows.withUnsafeMutableBufferPointer { out in
            let pa = a.floats, pb = b.floats
            for r in 0..<a.count {
                let o = out.baseAddress! + r * width
                for j in 0..<da { o[j] = pa[r * da + j] * sa }
                for j in 0..<db { o[da + j] = pb[r * db + j] * sb }
            }
        }
        return try VectorMatrix(rows: rows, dimension: width, ids: a.ids)
    }

    private func makeFilter(_ filter: RetrievalFilter, excluding row: Int?) -> RowFilter? {
        guard filter.label != nil || filter.kind != nil || row != nil else { return nil }
        return RowFilter(rowCount: gallery.count) { r in
            if r == row { return false }
            if let label = filter.label, gallery[r].product != label { return false }
            if let kind = filter.kind, gallery[r].kind != kind { return false }
            return true
        }
    }

    private func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}
