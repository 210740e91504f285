/// The four Product1M split files SampleData writes.
enum SynthSplit: Int, CaseIterable, Sendable {
    case gallery, dev, test, train

    var fileName: String {
        switch self {
        case .gallery: return "product1m_gallery_ossurl_v2.txt"
        case .dev: return "product1m_dev_ossurl_v2.txt"
        case .test: return "product1m_test_ossurl_v2.txt"
        case .train: return "product1m_train_ossurl_v2.txt"
        }
    }

    /// The split's part in every random key.
    var key: UInt64 { SynthRNG.key(fileName) }
}

/// One picture to draw.
struct SynthImageJob: Sendable {
    let split: SynthSplit
    /// Index of the item within its split (the picture's random stream depends on it, not on file order).
    let index: Int
    let id: String
    /// Instance indices, repeats kept.
    let products: [Int]
    let width: Int
    let height: Int
}

/// Everything that is decided before drawing: item ids, titles, labels and
/// the contents of the split files, and the list of pictures to draw.
struct SynthPlan {
    /// Split file contents in the order of `SynthSplit.allCases`.
    private(set) var files: [(split: SynthSplit, bytes: [UInt8], lines: Int)] = []
    /// Pictures to draw (empty when images are not written).
    private(set) var jobs: [SynthImageJob] = []

    private let options: SampleDataOptions
    private let catalogue: SynthCatalogue
    private var usedIDs = Set<UInt64>()

    init(catalogue: SynthCatalogue, options: SampleDataOptions) {
        self.options = options
        self.catalogue = catalogue
        for split in SynthSplit.allCases {
            planSplit(split)
        }
    }

    private mutating func planSplit(_ split: SynthSplit) {
        let count: Int
        switch split {
        case .gallery: count = catalogue.instances.count * options.galleryViews
        case .dev: count = options.devQueries
        case .test: count = options.testQueries
        case .train: count = options.trainItems
        }
        // File order: the gallery is shuffled (views of one product are not adjacent), the rest in index order.
        var order = Array(0 ..< count)
        if split == .gallery {
            var rng = SynthRNG(seed: options.seed, SynthRNG.key("gallery-order"))
            rng.shuffle(&order)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * 160)
        for index in order {
            var rng = SynthRNG(seed: options.seed, SynthRNG.key("item"), split.key, UInt64(index))
            let products: [Int]
            let title: String
            switch split {
            case .gallery:
                products = [index / options.galleryViews]
                title = SynthCaptions.single(catalogue.instances[products[0]], catalogue: catalogue, rng: &rng)
            case .dev, .test:
                products = suitProducts(rng: &rng)
                title = SynthCaptions.suit(products, catalogue: catalogue, rng: &rng)
            case .train:
                if rng.chance(0.5) {
                    products = [rng.below(catalogue.instances.count)]
                    title = SynthCaptions.single(catalogue.instances[products[0]], catalogue: catalogue, rng: &rng)
                } else {
                    products = suitProducts(rng: &rng)
                    title = SynthCaptions.suit(products, catalogue: catalogue, rng: &rng)
                }
            }
            let width = rng.int(options.minSide ... options.maxSide)
            let height = rng.int(options.minSide ... options.maxSide)
            let id = String(uniqueID(split: split, index: index))
            let url = "https://img.example.invalid/\(id).jpg"
            let labels = products.map { catalogue.instances[$0].label }.joined(separator: "#;#")
            let line = id + "#####" + title + "#####" + url + "#####" + url + "#####" + labels + "\n"
            bytes.append(contentsOf: line.utf8)
            if options.writeImages {
                jobs.append(SynthImageJob(split: split, index: index, id: id, products: products, width: width, height: height))
            }
        }
        files.append((split, bytes, count))
    }

    /// A 12-digit item id for (split, index), unique in the whole set.
    private mutating func uniqueID(split: SynthSplit, index: Int) -> UInt64 {
        var attempt: UInt64 = 0
        while true {
            var rng = SynthRNG(seed: options.seed, SynthRNG.key("item-id"), split.key, UInt64(index), attempt)
            let id = 100_000_000_000 + UInt64(rng.below(900_000_000_000))
            if usedIDs.insert(id).inserted { return id }
            attempt += 1
        }
    }

    /// The products of a suit: 2 to 6, mostly of one brand and one series, sometimes two of one
    /// product, sometimes two brands.
    private func suitProducts(rng: inout SynthRNG) -> [Int] {
        let n = 2 + rng.weighted([0.28, 0.3, 0.2, 0.13, 0.09])
        let brandIndex = rng.below(catalogue.brands.count)
        let brand = catalogue.brands[brandIndex]
        let series = rng.below(brand.series.count)
        let inSeries = brand.instances.filter { catalogue.instances[$0].seriesIndex == series }
        let others = brand.instances.filter { catalogue.instances[$0].seriesIndex != series }
        var pool = rng.sample(inSeries, count: inSeries.count) + rng.sample(others, count: others.count)
        if catalogue.brands.count > 1 && rng.chance(0.12) {
            // A mixed set: part of it from another brand.
            var second = rng.below(catalogue.brands.count - 1)
            if second >= brandIndex { second += 1 }
            let extra = rng.sample(catalogue.brands[second].instances, count: max(1, n / 2))
            pool = Array(pool.prefix(n - extra.count)) + extra
        }
        var products = Array(pool.prefix(n))
        // Two of one product: when the brand is small, or now and then in a gift set.
        while products.count < n { products.append(rng.pick(products)) }
        if products.count >= 3 && rng.chance(0.12) {
            products[rng.below(products.count)] = products[rng.below(products.count)]
        }
        rng.shuffle(&products)
        return products
    }
}
