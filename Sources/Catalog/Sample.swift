/// What part a split plays in retrieval.
public enum SplitRole: String, Sendable, Codable, CaseIterable {
    /// Captions and images for (pre)training; labels, if any, are not used.
    case train
    /// Queries: in Product1M the multi-product suits of `dev` and `test`.
    case query
    /// The gallery searched by queries: single products, one label each.
    case gallery
}

/// Whether a sample shows one product or several (a "suit").
public enum SampleKind: String, Sendable, Codable {
    case single, multi
    /// No labels: a Product1M training line with four fields, for instance.
    case unknown
}

/// One image and its caption, with the product-instance labels where known.
///
/// A `Sample` is the one name for "a line of a dataset" in every module.
public struct Sample: Sendable, Hashable {
    /// The dataset's item id (`item_id` in Product1M), unique in the dataset.
    public let id: String
    /// The e-commerce title.
    public let caption: String
    /// Absolute path of the image file, or nil when no image was found for it.
    public let imagePath: String?
    /// Product-instance labels, repeats kept, in file order. Empty when unlabelled.
    public let labels: [String]
    /// Source URLs (Product1M's url1 and url2), kept as metadata.
    public let urls: [String]
    /// 1-based line number in the split file (0 when not from a line-oriented file).
    public let line: Int

    public init(id: String, caption: String, imagePath: String?, labels: [String], urls: [String] = [], line: Int = 0) {
        self.id = id
        self.caption = caption
        self.imagePath = imagePath
        self.labels = labels
        self.urls = urls
        self.line = line
    }

    public var kind: SampleKind {
        switch labels.count {
        case 0: return .unknown
        case 1: return .single
        default: return .multi
        }
    }

    /// A gallery item's identity: only its first label counts (docs/data.md §1.2).
    public var product: String? { labels.first }
}
