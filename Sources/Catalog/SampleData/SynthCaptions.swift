/// E-commerce titles in the style of Product1M's: brand names in several
/// spellings, product words, claims, hype and promotional noise, in varied
/// order. Correspondence with the picture is fuzzy on purpose: some titles
/// name a product that is not shown, or leave out one that is.
enum SynthCaptions {
    typealias V = SynthVocabulary

    /// A title for a picture of one product.
    static func single(_ instance: SynthInstance, catalogue: SynthCatalogue, rng: inout SynthRNG) -> String {
        let brand = catalogue.brands[instance.brand]
        var head: [String] = []
        var body: [String] = []
        head.append(brandForm(brand, rng: &rng))
        switch rng.weighted([0.78, 0.1, 0.12]) {
        case 0: body.append(instance.series.chinese + instance.type.chinese)
        case 1: body.append(instance.type.chinese)                        // series left out
        default: body.append(instance.series.chinese + "系列 " + instance.type.chinese)
        }
        if rng.chance(0.25) { body.append(rng.chance(0.5) ? instance.type.english : instance.series.code.lowercased()) }
        body.append(contentsOf: claims(makeup: instance.type.makeup, count: rng.int(1 ... 2), rng: &rng))
        if rng.chance(0.5) { body.append(instance.volume) }
        if rng.chance(0.4) { body.append(rng.pick(V.hype)) }
        if rng.chance(0.35) { body.append(rng.pick(V.categories)) }
        // Fuzzy: a gift or bundle that is not in the picture.
        if rng.chance(0.14), let other = otherProduct(of: brand, not: [instance.index], catalogue: catalogue, rng: &rng) {
            body.append(rng.pick(V.giftWords) + other.type.short)
        }
        return assemble(head: head, body: body, rng: &rng)
    }

    /// A title for a picture of several products (a suit or gift set).
    static func suit(_ products: [Int], catalogue: SynthCatalogue, rng: inout SynthRNG) -> String {
        var distinct: [Int] = []
        for p in products where !distinct.contains(p) { distinct.append(p) }
        let instances = distinct.map { catalogue.instances[$0] }
        var brandOrder: [Int] = []
        for i in instances where !brandOrder.contains(i.brand) { brandOrder.append(i.brand) }
        let mainBrand = catalogue.brands[brandOrder[0]]
        let lead = instances[0]

        var head: [String] = brandOrder.map { brandForm(catalogue.brands[$0], rng: &rng) }
        var body: [String] = []
        let suitWord = rng.pick(V.suitWords)
        head.append(rng.chance(0.6) ? lead.series.chinese + suitWord : suitWord)
        if rng.chance(0.4) {
            let count = min(max(products.count, 2), 6)
            body.append(V.countWords[count - 2])
        }
        // Products named in the title: one may be left out, one that is not shown may be added.
        var named = instances
        if named.count >= 2 && rng.chance(0.3) { named.remove(at: rng.below(named.count)) }
        if rng.chance(0.25), let extra = otherProduct(of: mainBrand, not: distinct, catalogue: catalogue, rng: &rng) {
            named.insert(extra, at: rng.below(named.count + 1))
        }
        if rng.chance(0.5) {
            body.append(named.map(\.type.short).joined(separator: "+"))
        } else {
            for item in named {
                body.append(rng.chance(0.6) ? item.series.chinese + item.type.chinese : item.type.chinese)
            }
        }
        body.append(contentsOf: claims(makeup: lead.type.makeup, count: rng.int(1 ... 2), rng: &rng))
        if rng.chance(0.3) { body.append(rng.pick(V.hype)) }
        if rng.chance(0.4) { body.append(rng.pick(V.categories)) }
        return assemble(head: head, body: body, rng: &rng)
    }

    /// The brand as sellers write it: Latin, upper or lower case, Chinese, or both.
    private static func brandForm(_ brand: SynthBrand, rng: inout SynthRNG) -> String {
        switch rng.weighted([0.3, 0.1, 0.06, 0.2, 0.2, 0.08, 0.06]) {
        case 0: return brand.name
        case 1: return brand.name.uppercased()
        case 2: return brand.name.lowercased()
        case 3: return brand.chineseName
        case 4: return brand.name + "/" + brand.chineseName
        case 5: return brand.chineseName + brand.name
        default: return brand.chineseName + "（" + brand.name + "）"
        }
    }

    private static func claims(makeup: Bool, count: Int, rng: inout SynthRNG) -> [String] {
        rng.sample(makeup ? V.makeupBenefits : V.benefits, count: count)
    }

    private static func otherProduct(of brand: SynthBrand, not excluded: [Int], catalogue: SynthCatalogue,
                                     rng: inout SynthRNG) -> SynthInstance? {
        let pool = brand.instances.filter { !excluded.contains($0) }
        guard !pool.isEmpty else { return nil }
        return catalogue.instances[rng.pick(pool)]
    }

    /// Puts the pieces in a seller's order: usually the brand first, noise at either end,
    /// the rest shuffled a little, some pieces run together without a space.
    private static func assemble(head: [String], body: [String], rng: inout SynthRNG) -> String {
        var pieces = body
        // Swap a few neighbours rather than shuffling everything: titles keep some structure.
        for _ in 0 ..< rng.int(0 ... 3) where pieces.count > 1 {
            let i = rng.below(pieces.count - 1)
            pieces.swapAt(i, i + 1)
        }
        if rng.chance(0.8) {
            pieces.insert(contentsOf: head, at: 0)
        } else {
            for h in head { pieces.insert(h, at: rng.below(pieces.count + 1)) }
        }
        let noise = rng.sample(V.noise, count: rng.int(1 ... 3))
        for word in noise {
            if rng.chance(0.35) { pieces.insert(word, at: 0) } else { pieces.append(word) }
        }
        var title = ""
        for (i, piece) in pieces.enumerated() {
            if i > 0 {
                let previous = pieces[i - 1]
                let tight = rng.chance(0.25) && !(previous.last?.isASCII ?? true) && !(piece.first?.isASCII ?? true)
                if !tight { title += " " }
            }
            title += piece
        }
        return title
    }
}
