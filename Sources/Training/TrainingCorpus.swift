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

/// The examples a run draws from: every sample with an image whose features exist, by id.
public struct TrainingCorpus: Sendable {
    public let examples: [TrainingExample]
    private let index: [String: Int]
    /// Samples left out (no image, unreadable image), with the reason; reported, not fatal.
    public let skipped: [(id: String, reason: String)]

    public init(examples: [TrainingExample], skipped: [(id: String, reason: String)] = []) {
        var seen: [String: Int] = [:]
        var kept: [TrainingExample] = []
        for e in examples where seen[e.id] == nil {
            seen[e.id] = kept.count; kept.append(e)
        }
        self.examples = kept; self.index = seen; self.skipped = skipped
    }

    public func example(id: String) -> TrainingExample? { index[id].map { examples[$0] } }
    public func position(of id: String) -> Int? { index[id] }

    /// Positions of the examples of `role`.
    public func positions(role: SplitRole) -> [Int] { examples.indices.filter { examples[$0].role == role } }

    /// The examples of `splits` of `dataset`: captions tokenised with `tokenizer` and image features
    /// from `cache` (the missing ones computed with `network` and stored first; `progress` after
    /// each batch of images).
    public static func build(dataset: Dataset, splits: [Split], tokenizer: TextTokenizer, maxTextLength: Int,
                             cache: FeatureCache, network: EfficientNetLite0,
                             progress: (FeatureProgress) -> Void = { _ in }) -> TrainingCorpus {
        var samples: [(Sample, Split)] = []
        var skipped: [(id: String, reason: String)] = []
        for split in splits {
            for s in split.samples {
                if s.imagePath == nil {
                    skipped.append((s.id, "\(split.name) line \(s.line): no image file"))
                } else {
                    samples.append((s, split))
                }
            }
        }
        var examples: [TrainingExample] = []
        examples.reserveCapacity(samples.count)
        var report = FeatureProgress(done: 0, total: samples.count, cached: 0, computed: 0)
        progress(report)
        let chunk = 32
        var start = 0
        while start < samples.count {
            let part = Array(samples[start..<min(samples.count, start + chunk)])
            let outcome = cache.features(forImagesAt: part.map { $0.0.imagePath! }, network: network, batchSize: chunk)
            for (offset, result) in outcome.features.enumerated() {
                let (sample, split) = part[offset]
                switch result {
                case .success(let map):
                    let tokens = tokenizer.encode(sample.caption, maxLength: maxTextLength, pad: false)
                    examples.append(TrainingExample(id: sample.id, tokenIDs: tokens.ids,
                                                    cellFeatures: EfficientNetLite0.cellMajor(map),
                                                    labels: sample.labels, role: split.role, split: split.name))
                case .failure(let error):
                    skipped.append((sample.id, "\(split.name) line \(sample.line): \(error)"))
                }
            }
            report.done += part.count; report.cached += outcome.hits; report.computed += outcome.computed
            progress(report)
            start += chunk
        }
        return TrainingCorpus(examples: examples, skipped: skipped)
    }

    /// The fine-tuning pairs stated by annotators' flags whose query and match are both in the
    /// corpus: `wrong` is a negative pair, `confirmed` a positive one. Verdicts on one (query,
    /// match) are settled by the store's own code with `rule` (each annotator counts once, with
    /// their latest verdict), exactly as `vitrine flags pairs --rule` lists them. Flags on typed
    /// captions (`caption:...`) or on items outside the corpus are counted in `ignored`.
    public func flagPairs(_ flags: [Flag], rule: DisagreementRule = .majority) -> (pairs: [TrainingPair], ignored: Int) {
        let usable = flags.filter { index[$0.query] != nil && index[$0.match] != nil && $0.query != $0.match }
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
