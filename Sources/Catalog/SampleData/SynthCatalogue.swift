/// An invented brand.
struct SynthBrand: Sendable {
    /// Latin name ("Veloura").
    let name: String
    /// Chinese transliteration ("维洛拉").
    let chineseName: String
    let series: [SynthVocabulary.Series]
    /// Indices into `SynthCatalogue.instances`.
    var instances: [Int] = []
}

/// One product instance: what a gallery label names.
struct SynthInstance: Sendable {
    let index: Int
    let brand: Int
    /// Index of its series within the brand.
    let seriesIndex: Int
    let series: SynthVocabulary.Series
    let type: SynthVocabulary.ProductType
    let pack: SynthVocabulary.Pack
    /// The Product1M-style label, "<Brand> <series><product>".
    let label: String
    /// A volume or weight for captions ("50ml").
    let volume: String
    /// The drawing, in the product's own units (see `SynthPainter`); empty when drawings were not asked for.
    let parts: [SynthPart]
    /// Bounds of the drawing (minX, minY, maxX, maxY).
    let bounds: SIMD4<Float>
    /// Height relative to other products, for suits.
    let height: Float
}

/// All brands and product instances of a SampleData set. A function of the
/// seed and the brand count only, and brand `k` is the same whatever the
/// brand count (so a larger set extends a smaller one).
struct SynthCatalogue: Sendable {
    let brands: [SynthBrand]
    let instances: [SynthInstance]

    /// - Parameter drawings: whether to build each product's drawing (not needed for captions only).
    init(seed: UInt64, brandCount: Int, drawings: Bool = true) {
        var brands: [SynthBrand] = []
        var instances: [SynthInstance] = []
        var usedNames = Set<String>()
        for k in 0 ..< brandCount {
            var rng = SynthRNG(seed: seed, SynthRNG.key("brand"), UInt64(k))
            let (name, chinese) = SynthCatalogue.brandName(k, used: &usedNames, seed: seed)
            let kind = rng.weighted([0.68, 0.2, 0.12]) // skincare, makeup, both
            let palette = rng.pick(SynthVocabulary.palettes)
            let style = SynthBrandStyle(
                logoAdvance: rng.pick([5.6, 6, 6, 6.5, 7.2]),
                logoShear: rng.chance(0.2) ? 0.22 : 0,
                logoBold: rng.chance(0.35) ? 0.45 : 0,
                roundness: rng.unit(),
                labelStyle: rng.weighted([0.35, 0.25, 0.25, 0.15]),
                tallCaps: rng.unit(),
                ridgedCaps: rng.chance(0.3),
                emblem: rng.weighted([0.5, 0.2, 0.15, 0.15]))
            let gloss = rng.float(0.25, 0.85)
            let gradient = rng.chance(0.22)

            // Series and the product types of each.
            var series: [SynthVocabulary.Series] = []
            var seriesTypes: [[SynthVocabulary.ProductType]] = []
            let skincareSeriesCount = kind == 1 ? 0 : 1 + rng.weighted([0.3, 0.47, 0.23])
            let makeupSeriesCount = kind == 0 ? 0 : (kind == 1 ? 1 + rng.weighted([0.55, 0.45]) : 1)
            for s in rng.sample(SynthVocabulary.skincareSeries, count: skincareSeriesCount) {
                series.append(s)
                seriesTypes.append(rng.sample(SynthVocabulary.skincareTypes, count: rng.int(2 ... 6)))
            }
            for s in rng.sample(SynthVocabulary.makeupSeries, count: makeupSeriesCount) {
                series.append(s)
                seriesTypes.append(rng.sample(SynthVocabulary.makeupTypes, count: rng.int(2 ... 4)))
            }

            var brand = SynthBrand(name: name, chineseName: chinese, series: series)
            for (si, s) in series.enumerated() {
                // Series colours: a shade of the brand palette towards the series tint.
                var srng = SynthRNG(seed: seed, SynthRNG.key("series"), UInt64(k), UInt64(si))
                let tint = SynthColor(hex: s.tint)
                let bodyShift: Float = (si == 0 && srng.chance(0.6)) ? 0 : srng.float(0.12, 0.32)
                let labelShift = srng.float(0.15, 0.5)
                let tintAccent = srng.chance(0.3)
                let lipShade = SynthColor(hex: srng.pick(SynthVocabulary.lipShades))
                for (ti, type) in seriesTypes[si].enumerated() {
                    var irng = SynthRNG(seed: seed, SynthRNG.key("instance"), UInt64(k), UInt64(si), UInt64(ti))
                    let pack = irng.pick(type.packs)
                    var body = SynthColor(hex: palette.body).mixed(with: tint, bodyShift)
                    body = body * (1 + irng.jitter(0.05))
                    let label = SynthColor(hex: palette.label).mixed(with: tint, labelShift)
                    let accent = tintAccent ? tint : SynthColor(hex: palette.accent)
                    let contents: SynthColor
                    if pack == .lipstick {
                        contents = type.onPack == "LIP BALM" ? SynthColor(0.95, 0.72, 0.72)
                            : lipShade.mixed(with: SynthColor(hex: SynthVocabulary.lipShades[ti % SynthVocabulary.lipShades.count]), 0.3)
                    } else {
                        contents = body.mixed(with: tint, 0.5) * 0.85
                    }
                    let colors = SynthColors(
                        body: body,
                        bodyGradient: gradient ? body.mixed(with: tint, 0.55) * 0.92 : nil,
                        cap: SynthColor(hex: palette.cap),
                        label: label,
                        ink: SynthColor(hex: palette.ink),
                        accent: accent,
                        contents: contents,
                        glass: palette.glass && [.bottle, .dropper, .jar].contains(pack),
                        metalCap: palette.metalCap,
                        metalInk: palette.metalInk,
                        metalBody: palette.metalBody,
                        bodyGloss: gloss)
                    let volume = irng.pick(type.volumes)
                    let detail = volume.allSatisfy(\.isASCII) ? volume.uppercased() : ""
                    let text = SynthPackText(logo: name.uppercased(), product: type.onPack, series: s.code, detail: detail)
                    let parts = !drawings ? [] : SynthPainter.draw(
                        pack, colors: colors, style: style, text: text,
                        rng: SynthRNG(seed: seed, SynthRNG.key("pack"), UInt64(k), UInt64(si), UInt64(ti)))
                    var bounds = SIMD4<Float>(.infinity, .infinity, -.infinity, -.infinity)
                    for part in parts {
                        let b = part.shape.bounds
                        guard b.x.isFinite, b.z.isFinite else { continue }
                        bounds = SIMD4(min(bounds.x, b.x), min(bounds.y, b.y), max(bounds.z, b.z), max(bounds.w, b.w))
                    }
                    if parts.isEmpty { bounds = .zero }
                    let index = instances.count
                    instances.append(SynthInstance(
                        index: index, brand: k, seriesIndex: si, series: s, type: type, pack: pack,
                        label: "\(name) \(s.chinese)\(type.chinese)", volume: volume, parts: parts, bounds: bounds,
                        height: SynthCatalogue.packHeight(pack, type) * (1 + irng.jitter(0.08))))
                    brand.instances.append(index)
                }
            }
            brands.append(brand)
        }
        self.brands = brands
        self.instances = instances
    }

    /// How tall a product stands next to others: the product type's height, corrected for packs
    /// that make it squat (a mask in a jar) or tall (an eye cream in a tube).
    static func packHeight(_ pack: SynthVocabulary.Pack, _ type: SynthVocabulary.ProductType) -> Float {
        switch pack {
        case .jar: return min(type.height, 0.38)
        case .tube: return max(type.height, 0.45)
        default: return type.height
        }
    }

    /// Well-known cosmetics names a generated name must not be.
    private static let avoid: Set<String> = [
        "nivea", "nyvea", "lolane", "vera", "olay", "sisley", "kate", "dove", "nars", "dior", "lancome", "avene",
        "laneige", "vichy", "fresh", "clinique", "loreal", "garnier", "revlon", "rimmel", "etude", "missha", "chanel",
        "coco", "lux", "camay", "natura", "avon", "tarte", "stila", "becca", "hera", "iope", "pola", "sk", "lamer",
        "sulwhasoo", "innisfree", "sephora", "bioderma", "nuxe", "filorga", "valmont", "biotherm", "shiseido",
    ]

    /// The name of brand `k`: from the hand-made list, then generated from syllables.
    private static func brandName(_ k: Int, used: inout Set<String>, seed: UInt64) -> (String, String) {
        if k < SynthVocabulary.brandNames.count {
            let pair = SynthVocabulary.brandNames[k]
            used.insert(pair.0.lowercased())
            return pair
        }
        var rng = SynthRNG(seed: seed, SynthRNG.key("brand-name"), UInt64(k))
        var attempts = 0
        while true {
            attempts += 1
            var latin = ""
            var chinese = ""
            for _ in 0 ..< rng.int(2 ... 3) {
                let s = rng.pick(SynthVocabulary.syllables)
                latin += s.0
                chinese += s.1
            }
            latin += rng.pick(SynthVocabulary.endings)
            if attempts > 200 { latin += "\(k)" } // the syllable space is crowded: make it unique
            let key = latin.lowercased()
            if latin.count < 4 || used.contains(key) || avoid.contains(key) { continue }
            used.insert(key)
            return (latin.prefix(1).uppercased() + latin.dropFirst(), chinese)
        }
    }
}
