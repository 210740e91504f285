import Annotations
import Capture
import Catalog
import Foundation
import Tensor

/// One caption-image pair ready for the model: token ids and the backbone's cell features.
public struct TrainingExample: Sendable, Equatable {
    /// The sample's id in its dataset.
    public var id: String
    /// `[CLS] ... [SEP]` token ids, no padding.
    public var tokenIDs: [Int]
    /// The backbone's cells, `[cells, regionFeatureDim]` row-major (`EfficientNetLite0.cellMajor`).
    public var cellFeatures: [Float]
    /// The sample's labels (repeats kept); a gallery item's identity is the first.
    public var labels: [String]
    public var role: SplitRole
    /// The split it came from ("train", "gallery", "dev", ...).
    public var split: String

    public init(id: String, tokenIDs: [Int], cellFeatures: [Float], labels: [String], role: SplitRole, split: String) {
        self.id = id; self.tokenIDs = tokenIDs; self.cellFeatures = cellFeatures; self.labels = labels
        self.role = role; self.split = split
    }
}

/// A labelled pair of examples for the robust contrastive loss, by example id.
public struct TrainingPair: Sendable, Hashable, Codable {
    public var first: String
    public var second: String
    public var isMatch: Bool
    public init(first: String, second: String, isMatch: Bool) {
        self.first = first; self.second = second; self.isMatch = isMatch
    }
}

/// Progress of preparing the backbone features of a corpus.
public struct FeatureProgress: Sendable, Equatable, Codable {
    public var done: Int
    public var total: Int
    /// Read from the cache so far, and computed by the backbone so far.
    public var cached: Int
    public var computed: Int

    public init(done: Int, total: Int, cached: Int, computed: Int) {
        self.done = done; self.total = total; self.cached = cached; self.computed = computed
    }
}

/// Reads examples from their splits when a batch asks for them: the caption read back from the
/// split's file and tokenised, the image's features read from the feature cache (computed with the
/// backbone and stored when missing). One caller at a time uses the backbone: the trainer's
/// prefetch and an evaluation may ask at once.
public final class ExampleReader: @unchecked Sendable {
    public let tokenizer: TextTokenizer
    public let maxTextLength: Int
    public let cache: FeatureCache
    public let network: EfficientNetLite0
    private let lock = NSLock()

    public init(tokenizer: TextTokenizer, maxTextLength: Int, cache: FeatureCache, network: EfficientNetLite0) {
        self.tokenizer = tokenizer; self.maxTextLength = maxTextLength; self.cache = cache; self.network = network
    }

    /// The examples of `samples` (with their split), in order: each one, or why it cannot be used;
    /// and how many features came from the cache and how many were computed.
    func read(_ samples: [(Sample, Split)]) -> (examples: [Result<TrainingExample, SkippedExample>], hits: Int, computed: Int) {
        let paths = samples.map { $0.0.imagePath ?? "" }
        let outcome = lock.withLock { cache.features(forImagesAt: paths, network: network, batchSize: 32) }
        let examples = zip(samples, outcome.features).map { item, result -> Result<TrainingExample, SkippedExample> in
            let (sample, split) = item
            guard sample.imagePath != nil else {
                return .failure(SkippedExample(id: sample.id, reason: "\(split.name) line \(sample.line): no image file"))
            }
            switch result {
            case .success(let map):
                let tokens = tokenizer.encode(sample.caption, maxLength: maxTextLength, pad: false)
                return .success(TrainingExample(id: sample.id, tokenIDs: tokens.ids,
                                                cellFeatures: EfficientNetLite0.cellMajor(map),
                                                labels: sample.labels, role: split.role, split: split.name))
            case .failure(let error):
                return .failure(SkippedExample(id: sample.id, reason: "\(split.name) line \(sample.line): \(error)"))
            }
        }
        return (examples, outcome.hits, outcome.computed)
    }
}

/// A sample left out of a run, and why (no image, an image that cannot be read).
public struct SkippedExample: Sendable, Equatable, Error, Codable {
    public var id: String
    public var reason: String
    public init(id: String, reason: String) { self.id = id; self.reason = reason }
}

/// The samples of one split that a streamed corpus draws from: the positions (in the split) of
/// those with an image, 4 bytes each. Nothing else is kept per sample.
public struct StreamedSplit: Sendable {
    public let split: Split
    let positions: [UInt32]

    public var count: Int { positions.count }
    func samplePosition(_ i: Int) -> Int { Int(positions[i]) }

    /// The index in `positions` of the sample at split position `position`.
    func index(ofSamplePosition position: Int) -> Int? {
        var low = 0, high = positions.count
        while low < high {
            let mid = (low + high) / 2
            if Int(positions[mid]) < position { low = mid + 1 } else { high = mid }
        }
        return low < positions.count && Int(positions[low]) == position ? low : nil
    }
}

/// The examples a run draws from, by position: resident examples (built in memory, as tests do)
/// first, then the samples of streamed splits, which are read with their features only when a
/// batch or an evaluation needs them (`load`). A streamed corpus costs a few bytes a sample, so
/// pretraining on Product1M's 1.13 million training pairs keeps its memory bounded
/// (docs/model.md §5.4).
public struct TrainingCorpus: Sendable {
    /// The resident examples: positions `0 ..< examples.count`.
    public let examples: [TrainingExample]
    /// The streamed splits: positions from `examples.count` on, one split after the other.
    public let streamed: [StreamedSplit]
    let reader: ExampleReader?
    private let index: [String: Int]
    private let starts: [Int]
    /// The first samples left out (no image, unreadable image), with the reason; reported, not fatal.
    public let skipped: [SkippedExample]
    /// All the samples left out (`skipped` keeps the first `skippedKept`).
    public let skippedCount: Int
    static let skippedKept = 100

    /// A corpus of resident examples. If two share an id, the first is kept.
    public init(examples: [TrainingExample], skipped: [SkippedExample] = []) {
        var seen: [String: Int] = [:]
        var kept: [TrainingExample] = []
        for e in examples where seen[e.id] == nil {
            seen[e.id] = kept.count; kept.append(e)
        }
        self.examples = kept; self.index = seen; self.skipped = Array(skipped.prefix(Self.skippedKept))
        self.skippedCount = skipped.count
        self.streamed = []; self.starts = []; self.reader = nil
    }

    private init(streamed: [StreamedSplit], reader: ExampleReader, skipped: [SkippedExample], skippedCount: Int) {
        self.examples = []; self.index = [:]; self.streamed = streamed; self.reader = reader
        self.skipped = skipped; self.skippedCount = skippedCount
        var starts: [Int] = [], next = 0
        for s in streamed { starts.append(next); next += s.count }
        self.starts = starts
    }

    /// Every position: resident examples, then streamed samples.
    public var count: Int { examples.count + streamed.reduce(0) { $0 + $1.count } }

    /// The streamed split and its index for position `p` (nil: a resident example).
    private func locate(_ p: Int) -> (split: StreamedSplit, index: Int)? {
        guard p >= examples.count else { return nil }
        let q = p - examples.count
        var s = starts.count - 1
        while s > 0 && starts[s] > q { s -= 1 }
        return (streamed[s], q - starts[s])
    }

    public func id(at p: Int) -> String {
        guard let (s, i) = locate(p) else { return examples[p].id }
        return s.split.samples.id(at: s.samplePosition(i))
    }

    public func role(at p: Int) -> SplitRole {
        guard let (s, _) = locate(p) else { return examples[p].role }
        return s.split.role
    }

    public func splitName(at p: Int) -> String {
        guard let (s, _) = locate(p) else { return examples[p].split }
        return s.split.name
    }

    /// The image file of a streamed sample (nil for a resident example).
    public func imagePath(at p: Int) -> String? {
        guard let (s, i) = locate(p) else { return nil }
        return s.split.samples.imagePath(at: s.samplePosition(i))
    }

    /// The labels at `p` (a streamed sample's line is read back).
    public func labels(at p: Int) -> [String] {
        guard let (s, i) = locate(p) else { return examples[p].labels }
        return s.split.samples[s.samplePosition(i)].labels
    }

    /// The position of the example with this id, resident or streamed.
    public func position(of id: String) -> Int? {
        if let p = index[id] { return p }
        for (s, stream) in streamed.enumerated() {
            if let at = stream.split.position(ofID: id), let i = stream.index(ofSamplePosition: at) {
                return examples.count + starts[s] + i
            }
        }
        return nil
    }

    public func example(id: String) -> TrainingExample? {
        position(of: id).flatMap { try? load([$0]).examples[0].get() }
    }

    /// Positions of the examples of `role`.
    public func positions(role: SplitRole) -> [Int] {
        var result = examples.indices.filter { examples[$0].role == role }
        for (s, stream) in streamed.enumerated() where stream.split.role == role {
            let first = examples.count + starts[s]
            result += first ..< first + stream.count
        }
        return result
    }

    /// Positions of the examples of the split named `name`.
    public func positions(split name: String) -> [Int] {
        var result = examples.indices.filter { examples[$0].split == name }
        for (s, stream) in streamed.enumerated() where stream.split.name == name {
            let first = examples.count + starts[s]
            result += first ..< first + stream.count
        }
        return result
    }

    /// The examples at `positions`, in order: resident ones as they are, streamed ones read now
    /// (caption, and features from the cache, computed when missing). A streamed sample that
    /// cannot be read any more (its image changed or went away) is a failure, not a crash.
    public func load(_ positions: [Int]) -> (examples: [Result<TrainingExample, SkippedExample>], hits: Int, computed: Int) {
        var results = [Result<TrainingExample, SkippedExample>?](repeating: nil, count: positions.count)
        var pending: [(slot: Int, sample: Sample, split: Split)] = []
        for (slot, p) in positions.enumerated() {
            if let (s, i) = locate(p) {
                pending.append((slot, s.split.samples[s.samplePosition(i)], s.split))
            } else {
                results[slot] = .success(examples[p])
            }
        }
        var hits = 0, computed = 0
        if let reader, !pending.isEmpty {
            let read = reader.read(pending.map { ($0.sample, $0.split) })
            for (item, result) in zip(pending, read.examples) { results[item.slot] = result }
            hits = read.hits; computed = read.computed
        }
        return (results.map { $0! }, hits, computed)
    }

    /// A streamed corpus over `splits`: every sample with an image. The samples of `prepare`'s
    /// splits have their features made ready now (read from the cache or computed and stored,
    /// `progress` after each batch of images), so that evaluations only read the cache; one that
    /// cannot be read is left out with its reason. The other splits' samples are read, and their
    /// missing features computed, when a batch draws them.
    public static func streaming(splits: [Split], reader: ExampleReader, prepare: Set<String>,
                                 progress: (FeatureProgress) -> Void = { _ in }) -> TrainingCorpus {
        var skipped: [SkippedExample] = [], skippedCount = 0
        // Only the first few are described (a split without images would read every line back).
        func skip(_ s: @autoclosure () -> SkippedExample) {
            skippedCount += 1
            if skipped.count < skippedKept { skipped.append(s()) }
        }
        var kept: [[UInt32]] = []
        var toPrepare: [(split: Int, position: Int)] = []
        for (s, split) in splits.enumerated() {
            var positions: [UInt32] = []
            positions.reserveCapacity(split.samples.count - split.missingImages)
            for p in 0 ..< split.samples.count {
                if split.samples.imagePath(at: p) == nil {
                    skip(SkippedExample(id: split.samples.id(at: p), reason: "\(split.name) line \(split.samples[p].line): no image file"))
                } else if prepare.contains(split.name) {
                    toPrepare.append((s, p))
                } else {
                    positions.append(UInt32(p))
                }
            }
            kept.append(positions)
        }
        var report = FeatureProgress(done: 0, total: toPrepare.count, cached: 0, computed: 0)
        progress(report)
        var start = 0
        while start < toPrepare.count {
            let part = toPrepare[start ..< min(toPrepare.count, start + 32)]
            let read = reader.read(part.map { (splits[$0.split].samples[$0.position], splits[$0.split]) })
            for (item, result) in zip(part, read.examples) {
                switch result {
                case .success: kept[item.split].append(UInt32(item.position))
                case .failure(let why): skip(why)
                }
            }
            report.done += part.count; report.cached += read.hits; report.computed += read.computed
            progress(report)
            start += part.count
        }
        let streamed = zip(splits, kept).map { split, positions in StreamedSplit(split: split, positions: positions.sorted()) }
        return TrainingCorpus(streamed: streamed, reader: reader, skipped: skipped, skippedCount: skippedCount)
    }

    /// The fine-tuning pairs stated by annotators' flags whose query and match are both in the
    /// corpus: `wrong` is a negative pair, `confirmed` a positive one. Verdicts on one (query,
    /// match) are settled by the store's own code with `rule` (each annotator counts once, with
    /// their latest verdict), exactly as `vitrine flags pairs --rule` lists them. Flags on typed
    /// captions (`caption:...`) or on items outside the corpus are counted in `ignored`.
    public func flagPairs(_ flags: [Flag], rule: DisagreementRule = .majority) -> (pairs: [TrainingPair], ignored: Int) {
        let usable = flags.filter { position(of: $0.query) != nil && position(of: $0.match) != nil && $0.query != $0.match }
        let pairs = FlagStore.resolvePairs(usable, rule: rule).map {
            TrainingPair(first: $0.query, second: $0.match, isMatch: $0.isPositive)
        }
        return (pairs, flags.count - usable.count)
    }
}

/// The (query or gallery) relation used to label pairs inside a fine-tuning batch.
enum PairLabel {
    /// Whether two examples show the same product instance: two gallery items with the same
    /// first label, or a query and a gallery item whose label is one of the query's; nil when
    /// the labels cannot tell (no labels, or two queries).
    static func matches(_ a: TrainingExample, _ b: TrainingExample) -> Bool? {
        switch (a.role, b.role) {
        case (.gallery, .gallery):
            guard let x = a.labels.first, let y = b.labels.first else { return nil }
            return x == y
        case (.query, .gallery):
            guard let y = b.labels.first, !a.labels.isEmpty else { return nil }
            return a.labels.contains(y)
        case (.gallery, .query):
            return matches(b, a)
        default:
            return nil
        }
    }
}
