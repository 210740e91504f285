// One ranker's rankings of a query split, broken down for the evaluation dashboard: each query's
// official AP@10 and AP@100 (docs/data.md §2.3), its hits at every depth, and what the dashboard
// draws from them (an AP@10 histogram, mean precision@k and recall@k curves, a per-label table).
// Pure values and functions: no I/O.

/// The per-query breakdown of one ranker's rankings against the official ground truth.
///
/// A ranked id is relevant exactly when the official script counts it in `pos`: it is a gallery
/// item whose first label is one of the query's labels. An id repeated in a ranking counts each
/// time, as in the official Prec; an id not in the gallery, and a rank past the ranking's end, is a
/// miss. Unknown query ids and empty rankings are data, never a trap.
public struct EvaluationBreakdown: Sendable, Equatable {
    /// One ranking (one line of a ranking file).
    public struct Query: Sendable, Equatable {
        public let queryID: String
        /// Index in the rankings (split order).
        public let position: Int
        /// The query's distinct labels in file order ([] for an unknown query).
        public let labels: [String]
        /// Official AP@10 and AP@100 (`OfficialMetrics.score`): 0 where the script adds nothing.
        public let ap10: Double
        public let ap100: Double
        /// Gallery items whose first label is one of the query's (each distinct label counted once).
        public let relevant: Int
        /// `hits[k - 1]`: relevant ids among the first k, for k = 1...depth.
        public let hits: [Int]
        /// False for an unknown query and for one without relevant items: such queries stay out of
        /// the histogram, the curves and the label table (see `unscored`).
        public let scored: Bool

        public init(queryID: String, position: Int, labels: [String], ap10: Double, ap100: Double,
                    relevant: Int, hits: [Int], scored: Bool) {
            self.queryID = queryID
            self.position = position
            self.labels = labels
            self.ap10 = ap10
            self.ap100 = ap100
            self.relevant = relevant
            self.hits = hits
            self.scored = scored
        }
    }

    /// One row of the label table: the scored queries that carry a label.
    public struct LabelSummary: Sendable, Equatable {
        public let label: String
        public let queryCount: Int
        public let meanAP10: Double
        /// The query with the lowest AP@10 (ties: the earliest), and where it is in `queries`.
        public let worstQueryID: String
        public let worstPosition: Int
        public let worstAP10: Double

        public init(label: String, queryCount: Int, meanAP10: Double, worstQueryID: String, worstPosition: Int, worstAP10: Double) {
            self.label = label
            self.queryCount = queryCount
            self.meanAP10 = meanAP10
            self.worstQueryID = worstQueryID
            self.worstPosition = worstPosition
            self.worstAP10 = worstAP10
        }
    }

    /// Orders of the label table.
    public enum LabelOrder: String, CaseIterable, Sendable {
        /// Mean AP@10 ascending, then label.
        case worst
        /// Most queries first, then as `worst`.
        case queries
        /// Label by code points.
        case name
    }

    /// One entry per ranking, in order.
    public let queries: [Query]
    /// One row per distinct label of the scored queries, worst first (mean AP@10 ascending, then
    /// label by code points).
    public let labels: [LabelSummary]
    /// The deepest rank counted in `hits` and the curves.
    public let depth: Int
    /// Mean precision@k over the scored queries, k = 1...depth (`hits[k - 1] / k`); empty when no
    /// query is scored.
    public let precisionCurve: [Double]
    /// Mean recall@k over the scored queries (`hits[k - 1] / relevant`); empty when no query is
    /// scored. A ranking that repeats relevant ids can pass 1, as its hits count each time.
    public let recallCurve: [Double]

    /// Breaks `rankings` (one per query line, in order) down against `groundTruth`, counting hits
    /// down to rank `depth`.
    public init(rankings: [Ranking], groundTruth gt: OfficialGroundTruth, depth: Int = 100) {
        precondition(depth >= 1, "EvaluationBreakdown: depth must be at least 1, got \(depth)")
        self.depth = depth
        // Scratch membership of the current query's labels, set and cleared per query so the work
        // stays proportional to the ranked ids (plus `depth` per query for `hits`).
        var inQuery = [Bool](repeating: false, count: gt.labelNames.count)
        var labelIndices: [[Int32]] = []
        var queries: [Query] = []
        queries.reserveCapacity(rankings.count)
        labelIndices.reserveCapacity(rankings.count)
        for (position, ranking) in rankings.enumerated() {
            let official = OfficialMetrics.score(ranking, line: position + 1, groundTruth: gt, cutoffs: [10, 100])
            let ap10 = official.cutoffs[0].averagePrecision, ap100 = official.cutoffs[1].averagePrecision
            guard let query = gt.queryLabels[CodePointKey(ranking.queryID)] else {
                queries.append(Query(queryID: ranking.queryID, position: position, labels: [], ap10: ap10, ap100: ap100,
                                     relevant: 0, hits: [Int](repeating: 0, count: depth), scored: false))
                labelIndices.append([])
                continue
            }
            var distinct: [Int32] = []
            var relevant = 0
            for label in query where !inQuery[Int(label)] {
                inQuery[Int(label)] = true
                distinct.append(label)
                relevant += gt.galleryCount[Int(label)]
            }
            var hits = [Int](repeating: 0, count: depth)
            var found = 0
            for (i, id) in ranking.galleryIDs.prefix(depth).enumerated() {
                if let label = gt.galleryLabel[CodePointKey(id)], inQuery[Int(label)] { found += 1 }
                hits[i] = found
            }
            for i in min(ranking.galleryIDs.count, depth)..<depth { hits[i] = found }
            for label in distinct { inQuery[Int(label)] = false }
            queries.append(Query(queryID: ranking.queryID, position: position, labels: distinct.map { gt.labelNames[Int($0)] },
                                 ap10: ap10, ap100: ap100, relevant: relevant, hits: hits, scored: relevant > 0))
            labelIndices.append(distinct)
        }
        self.queries = queries

        // Curves: sums in query order, then one division.
        let scored = queries.filter(\.scored)
        if scored.isEmpty {
            precisionCurve = []
            recallCurve = []
        } else {
            var precision = [Double](repeating: 0, count: depth), recall = [Double](repeating: 0, count: depth)
            for query in scored {
                for k in 1...depth {
                    precision[k - 1] += Double(query.hits[k - 1]) / Double(k)
                    recall[k - 1] += Double(query.hits[k - 1]) / Double(query.relevant)
                }
            }
            let count = Double(scored.count)
            precisionCurve = precision.map { $0 / count }
            recallCurve = recall.map { $0 / count }
        }

        // Label table, grouped by label index (labels compare code point by code point).
        var rows: [Int32: (count: Int, sum: Double, worst: Int)] = [:]
        for query in queries where query.scored {
            for label in labelIndices[query.position] {
                if let row = rows[label] {
                    let worst = query.ap10 < queries[row.worst].ap10 ? query.position : row.worst
                    rows[label] = (row.count + 1, row.sum + query.ap10, worst)
                } else {
                    rows[label] = (1, query.ap10, query.position)
                }
            }
        }
        let summaries = rows.map { label, row in
            LabelSummary(label: gt.labelNames[Int(label)], queryCount: row.count, meanAP10: row.sum / Double(row.count),
                         worstQueryID: queries[row.worst].queryID, worstPosition: row.worst, worstAP10: queries[row.worst].ap10)
        }
        self.labels = Self.sorted(summaries, by: .worst)
    }

    /// Queries left out of the histogram, the curves and the label table.
    public var unscored: Int { queries.count { !$0.scored } }

    /// Mean AP@10 over all queries, unscored ones included (their AP is 0): the official mAP@10,
    /// summed in the same order. 0 when there are no queries.
    public var meanAP10: Double {
        guard !queries.isEmpty else { return 0 }
        var sum = 0.0
        for query in queries { sum += query.ap10 }
        return sum / Double(queries.count)
    }

    /// AP@10 histogram of the scored queries: bin i holds [i/bins, (i+1)/bins), the last bin 1.0 too.
    public func histogram(bins: Int = 10) -> [Int] {
        precondition(bins >= 1, "EvaluationBreakdown.histogram: bins must be at least 1, got \(bins)")
        var counts = [Int](repeating: 0, count: bins)
        for query in queries where query.scored { counts[Self.bin(of: query.ap10, bins: bins)] += 1 }
        return counts
    }

    /// Positions of the scored queries in histogram bin `bin` of `bins`, worst AP@10 first (ties:
    /// earliest first); [] for a bin out of range.
    public func queries(inBin bin: Int, of bins: Int = 10) -> [Int] {
        precondition(bins >= 1, "EvaluationBreakdown.queries(inBin:): bins must be at least 1, got \(bins)")
        return worstFirst(queries.filter { $0.scored && Self.bin(of: $0.ap10, bins: bins) == bin })
    }

    /// Positions of the scored queries that carry `label` (compared code point by code point),
    /// worst AP@10 first.
    public func queries(withLabel label: String) -> [Int] {
        worstFirst(queries.filter { $0.scored && $0.labels.contains { $0.utf8.elementsEqual(label.utf8) } })
    }

    /// The label table in `order`.
    public func labels(sortedBy order: LabelOrder) -> [LabelSummary] { Self.sorted(labels, by: order) }

    private func worstFirst(_ selected: [Query]) -> [Int] {
        selected.sorted { $0.ap10 != $1.ap10 ? $0.ap10 < $1.ap10 : $0.position < $1.position }.map(\.position)
    }

    /// The bin of `ap`, with the bounds computed as `Double(i) / Double(bins)` so an AP of exactly
    /// i/bins lands in bin i whatever the rounding of `ap * bins`.
    private static func bin(of ap: Double, bins: Int) -> Int {
        let value = min(max(ap, 0), 1)
        var bin = min(bins - 1, Int(value * Double(bins)))
        if bin > 0, value < Double(bin) / Double(bins) { bin -= 1 }
        if bin + 1 < bins, value >= Double(bin + 1) / Double(bins) { bin += 1 }
        return bin
    }

    /// Code-point order (UTF-8 byte order is code-point order), not String's canonical order.
    private static func precedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    private static func sorted(_ rows: [LabelSummary], by order: LabelOrder) -> [LabelSummary] {
        func worse(_ a: LabelSummary, _ b: LabelSummary) -> Bool {
            a.meanAP10 != b.meanAP10 ? a.meanAP10 < b.meanAP10 : precedes(a.label, b.label)
        }
        switch order {
        case .worst: return rows.sorted(by: worse)
        case .queries: return rows.sorted { $0.queryCount != $1.queryCount ? $0.queryCount > $1.queryCount : worse($0, $1) }
        case .name: return rows.sorted { precedes($0.label, $1.label) }
        }
    }
}
