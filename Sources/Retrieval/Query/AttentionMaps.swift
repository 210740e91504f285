import Capture

/// Turning raw attention and feature maps into `AttentionSummary` values.
enum AttentionMaps {
    /// Whole words from wordpieces (`##` pieces joined to the word before; `[CLS]`, `[SEP]`,
    /// `[PAD]` left out), each with its summed text-to-image mass and summed cell attention;
    /// weights are shares of the caption's total mass, maps normalised to sum to 1.
    static func summary(_ raw: TextImageAttention, maxTokens: Int) -> AttentionSummary {
        let cells = raw.side * raw.side
        var words: [(text: String, mass: Float, map: [Float])] = []
        for (t, token) in raw.tokens.enumerated() {
            if token == "[CLS]" || token == "[SEP]" || token == "[PAD]" { continue }
            if token.hasPrefix("##"), !words.isEmpty {
                words[words.count - 1].text += token.dropFirst(2)
                words[words.count - 1].mass += raw.imageMass[t]
                for c in 0..<cells { words[words.count - 1].map[c] += raw.cellAttention[t][c] }
            } else {
                words.append((token, raw.imageMass[t], raw.cellAttention[t]))
            }
        }
        var overall = [Float](repeating: 0, count: cells)
        for word in words { for c in 0..<cells { overall[c] += word.map[c] } }
        let totalMass = words.reduce(Float(0)) { $0 + $1.mass }
        let ranked = words.enumerated().sorted { a, b in
            a.element.mass > b.element.mass || (a.element.mass == b.element.mass && a.offset < b.offset)
        }.prefix(max(0, maxTokens))
        return AttentionSummary(
            tokens: ranked.map { TokenWeight(token: $0.element.text, weight: totalMass > 0 ? $0.element.mass / totalMass : 0) },
            side: raw.side, map: normalizedToOne(overall), tokenMaps: ranked.map { normalizedToOne($0.element.map) })
    }

    /// For each cell of the match, the best cosine similarity (clipped at 0) of its feature with
    /// any cell of the query, normalised to sum to 1. Maps are channel-major `[channel][cell]`.
    static func cellSimilarity(query: [Float], match: [Float], channels: Int, cells: Int) -> [Float] {
        precondition(query.count == channels * cells && match.count == channels * cells,
                     "cellSimilarity: maps of \(query.count) and \(match.count) floats, expected \(channels * cells)")
        func unitCells(_ map: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: cells * channels)
            for c in 0..<cells {
                var sum = 0.0
                for ch in 0..<channels { sum += Double(map[ch * cells + c]) * Double(map[ch * cells + c]) }
                let inverse = sum > 0 ? Float(1 / sum.squareRoot()) : 0
                for ch in 0..<channels { out[c * channels + ch] = map[ch * cells + c] * inverse }
            }
            return out
        }
        let q = unitCells(query), m = unitCells(match)
        var best = [Float](repeating: 0, count: cells)
        q.withUnsafeBufferPointer { qp in
            m.withUnsafeBufferPointer { mp in
                for c in 0..<cells {
                    var top: Float = 0
                    for i in 0..<cells {
                        var dot: Float = 0
                        for ch in 0..<channels { dot += qp[i * channels + ch] * mp[c * channels + ch] }
                        top = max(top, dot)
                    }
                    best[c] = top
                }
            }
        }
        return normalizedToOne(best)
    }

    /// `values / sum(values)`; uniform when the sum is not positive.
    static func normalizedToOne(_ values: [Float]) -> [Float] {
        let sum = values.reduce(Float(0), +)
        guard sum > 0, sum.isFinite else { return [Float](repeating: 1 / Float(max(1, values.count)), count: values.count) }
        return values.map { $0 / sum }
    }
}
