import Support
/// Product1M's official retrieval metrics (docs/data.md §2), reproduced to the last bit of the
/// official script `CAPTURE/evaluate_suit.py` (zhanxlin/Product1M, as fixed on 2022-04-20 in
/// issue #3, where `label_ap = ...` became `label_ap += ...`), quirks included.
///
/// For each line (query) of a ranking, and each cutoff N in 10, 50, 100, the script:
/// 1. counts the line (`cnt += 1`), whatever happens next;
/// 2. looks the query up (unknown id: `KeyError`, nothing added) and builds `pos`, the gallery ids
///    of each of its labels, repeats included (a label with no gallery item: `KeyError`);
/// 3. `k = min(N, len(pos), len(ranking))`; AP over the first k ids, divided by the hits found;
///    Prec = hits / k (an empty ranking makes k = 0 and raises `ZeroDivisionError` here, before
///    anything is added); then adds AP and Prec;
/// 4. AR with N itself: expected e_l = count(l in Q) * int(N / len(Q)) capped at the gallery count
///    of l; it walks the first N ids, looking up each id's gallery label (an id not in the gallery:
///    `KeyError`, AR not added), counts r_l for labels of Q, sums min(r_l, e_l) / e_l over the
///    labels retrieved at least once, in the order they were first retrieved (e_l = 0:
///    `ZeroDivisionError`, AR not added), and divides by the number of distinct labels of Q;
///    then adds AR.
/// The means divide by the number of lines. Floating-point sums are taken in the script's order,
/// so the results are bitwise equal to its own.
public enum OfficialMetrics {
    /// The cutoffs N the official script reports, in its order.
    public static let cutoffs = [10, 50, 100]

    /// Scores `rankings` (one per line of a ranking file, in file order) against `groundTruth`.
    /// Throws when there are no rankings (the official script divides by zero then).
    public static func evaluate(_ rankings: [Ranking], groundTruth: OfficialGroundTruth) throws(EvaluationError) -> OfficialReport {
        guard !rankings.isEmpty else { throw EvaluationError.noRankings }
        var lines: [OfficialLineScore] = []
        lines.reserveCapacity(rankings.count)
        for (offset, ranking) in rankings.enumerated() {
            lines.append(score(ranking, line: offset + 1, groundTruth: groundTruth))
        }
        var entries: [OfficialMetricResults.Entry] = []
        for (c, cutoff) in cutoffs.enumerated() {
            var sumAP = 0.0, sumPrecision = 0.0, sumRecall = 0.0
            for line in lines {
                let score = line.cutoffs[c]
                sumAP += score.averagePrecision
                sumPrecision += score.precision
                sumRecall += score.averageRecall
            }
            let count = Double(lines.count)
            entries.append(.init(cutoff: cutoff, mAP: sumAP / count, precision: sumPrecision / count, mAR: sumRecall / count))
        }
        return OfficialReport(results: OfficialMetricResults(entries: entries), lines: lines)
    }

    /// The official per-cutoff values of one ranking (`line` is its 1-based line in the file).
    ///
    /// `cutoffs` defaults to the official 10, 50 and 100; other values of N apply the same
    /// definitions (k = min(N, len(pos), len(ranking)) for AP and Prec, N itself for AR), which is
    /// how the explorer reports the AP of a result list of any depth.
    public static func score(_ ranking: Ranking, line: Int, groundTruth gt: OfficialGroundTruth,
                             cutoffs: [Int] = OfficialMetrics.cutoffs) -> OfficialLineScore {
        precondition(cutoffs.allSatisfy { $0 > 0 }, "OfficialMetrics.score: cutoffs must be positive, got \(cutoffs)")
        func failedEverywhere(_ failure: OfficialLineFailure) -> OfficialLineScore {
            OfficialLineScore(line: line, queryID: ranking.queryID, cutoffs: cutoffs.map {
                OfficialCutoffScore(cutoff: $0, averagePrecision: 0, precision: 0, averageRecall: 0, failure: failure)
            })
        }
        guard let query = gt.queryLabels[CodePointKey(ranking.queryID)] else { return failedEverywhere(.unknownQuery) }
        // `pos_set += gallery_unit_label_id[label]` for each label: a label without gallery items raises.
        var positives = 0
        for label in query {
            let count = gt.galleryCount[Int(label)]
            if count == 0 { return failedEverywhere(.labelNotInGallery(gt.labelNames[Int(label)])) }
            positives += count
        }
        // Membership in `pos` is "the id is a gallery item whose first label is one of Q's".
        var inQuery = [Bool](repeating: false, count: gt.labelNames.count)
        var distinct: [Int32] = []
        var multiplicity = [Int](repeating: 0, count: gt.labelNames.count)
        for label in query {
            if !inQuery[Int(label)] { distinct.append(label) }
            inQuery[Int(label)] = true
            multiplicity[Int(label)] += 1
        }
        // Each ranked id's gallery label, or nil for an id not in the gallery.
        let longest = cutoffs.max() ?? 0
        let considered = min(ranking.galleryIDs.count, longest)
        var rankedLabels: [Int32?] = []
        rankedLabels.reserveCapacity(considered)
        for id in ranking.galleryIDs.prefix(considered) { rankedLabels.append(gt.galleryLabel[CodePointKey(id)]) }

        var scores: [OfficialCutoffScore] = []
        scores.reserveCapacity(cutoffs.count)
        var retrieved = [Int](repeating: 0, count: gt.labelNames.count)
        for cutoff in cutoffs {
            let k = min(cutoff, positives, ranking.galleryIDs.count)
            guard k > 0 else {
                // compute_p divides by k = 0 before AP or Prec is added.
                scores.append(OfficialCutoffScore(cutoff: cutoff, averagePrecision: 0, precision: 0, averageRecall: 0,
                                                  failure: .emptyRanking))
                continue
            }
            var hits = 0
            var ap = 0.0
            for i in 0..<k {
                if let label = rankedLabels[i], inQuery[Int(label)] {
                    hits += 1
                    ap += Double(hits) / Double(i + 1)
                }
            }
            ap = hits == 0 ? 0 : ap / Double(hits)
            let precision = Double(hits) / Double(k)

            // compute_ar over the first N ids.
            let share = cutoff / query.count  // int(N / len(Q)): exact floor for these small integers
            var failure: OfficialLineFailure? = nil
            var firstRetrieved: [Int32] = []
            for label in distinct { retrieved[Int(label)] = 0 }
            for (i, label) in rankedLabels.prefix(cutoff).enumerated() {
                guard let label else {
                    failure = .unknownGalleryID(ranking.galleryIDs[i], rank: i + 1)
                    break
                }
                guard inQuery[Int(label)] else { continue }
                if retrieved[Int(label)] == 0 { firstRetrieved.append(label) }
                retrieved[Int(label)] += 1
            }
            var recall = 0.0
            if failure == nil {
                var sum = 0.0
                for label in firstRetrieved {
                    let expected = min(multiplicity[Int(label)] * share, gt.galleryCount[Int(label)])
                    if expected == 0 {
                        failure = .noExpectedItems(label: gt.labelNames[Int(label)])
                        break
                    }
                    sum += Double(min(retrieved[Int(label)], expected)) / Double(expected)
                }
                if failure == nil { recall = sum / Double(distinct.count) }
            }
            scores.append(OfficialCutoffScore(cutoff: cutoff, averagePrecision: ap, precision: precision,
                                              averageRecall: recall, failure: failure))
        }
        return OfficialLineScore(line: line, queryID: ranking.queryID, cutoffs: scores)
    }
}

/// Why the official script stopped early on a line for one cutoff (it prints the query id and
/// goes on). The line still counts in the means with what it had added before.
public enum OfficialLineFailure: Sendable, Equatable, CustomStringConvertible {
    /// The query id is neither a test nor a dev query: nothing added.
    case unknownQuery
    /// A label of the query is no gallery item's first label: nothing added.
    case labelNotInGallery(String)
    /// The line has no gallery ids (k = 0): nothing added.
    case emptyRanking
    /// An id among the first N is not a gallery id: AP and Prec added, AR not.
    case unknownGalleryID(String, rank: Int)
    /// A retrieved label of the query expects no items at this cutoff (the query has more labels
    /// than N, so int(N / len(Q)) = 0): AP and Prec added, AR not.
    case noExpectedItems(label: String)

    /// Whether AP and Prec were still added for the line.
    public var keptPrecision: Bool {
        switch self {
        case .unknownQuery, .labelNotInGallery, .emptyRanking: return false
        case .unknownGalleryID, .noExpectedItems: return true
        }
    }

    public var description: String {
        switch self {
        case .unknownQuery: return "unknown query id (scores 0)"
        case .labelNotInGallery(let label): return "query label \"\(label)\" has no gallery item (scores 0)"
        case .emptyRanking: return "no gallery ids (scores 0)"
        case .unknownGalleryID(let id, let rank): return "gallery id \"\(id)\" at rank \(rank) is not in the gallery (mAR gets 0)"
        case .noExpectedItems(let label): return "label \"\(label)\" expects no items at this cutoff (mAR gets 0)"
        }
    }
}

/// One cutoff of one line: the values the official script added (0 for those it did not add).
public struct OfficialCutoffScore: Sendable, Equatable {
    public let cutoff: Int
    public let averagePrecision: Double
    public let precision: Double
    public let averageRecall: Double
    /// Set when the script stopped early on this line for this cutoff.
    public let failure: OfficialLineFailure?
}

/// The official values of one ranking line, for each cutoff in `OfficialMetrics.cutoffs` order.
public struct OfficialLineScore: Sendable, Equatable {
    /// 1-based line number in the ranking file (position in the rankings list).
    public let line: Int
    public let queryID: String
    public let cutoffs: [OfficialCutoffScore]

    /// The values at cutoff `n` (10, 50 or 100), or nil for another cutoff.
    public func at(_ n: Int) -> OfficialCutoffScore? { cutoffs.first { $0.cutoff == n } }
}

/// The three means per cutoff, as `metric_results.json` holds them (fractions, not percent).
public struct OfficialMetricResults: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let cutoff: Int
        public let mAP: Double
        public let precision: Double
        public let mAR: Double
        public init(cutoff: Int, mAP: Double, precision: Double, mAR: Double) {
            self.cutoff = cutoff
            self.mAP = mAP
            self.precision = precision
            self.mAR = mAR
        }
    }

    public let entries: [Entry]
    public init(entries: [Entry]) { self.entries = entries }

    /// The values at cutoff `n`, or nil.
    public func at(_ n: Int) -> Entry? { entries.first { $0.cutoff == n } }

    /// Exactly the text the official script writes to `metric_results.json`
    /// (`json.dump(results, f, indent=2, ensure_ascii=False)`: keys `topN` with `mAP`, `Prec`,
    /// `mAR` in that order, floats as Python's `repr`, no final newline).
    public func jsonString() -> String {
        var out = "{"
        for (i, entry) in entries.enumerated() {
            out += (i == 0 ? "\n" : ",\n") + "  \"top\(entry.cutoff)\": {\n"
            out += "    \"mAP\": " + PythonFloat.repr(entry.mAP) + ",\n"
            out += "    \"Prec\": " + PythonFloat.repr(entry.precision) + ",\n"
            out += "    \"mAR\": " + PythonFloat.repr(entry.mAR) + "\n  }"
        }
        return out + (entries.isEmpty ? "}" : "\n}")
    }

    /// The file name the official script writes.
    public static let fileName = "metric_results.json"

    /// Writes `metric_results.json` into `folder` (created if needed), atomically.
    public func write(toFolder folder: String) throws {
        try makeFolder(folder)
        try AtomicFile.write(Array(jsonString().utf8), to: joinPath(folder, Self.fileName))
    }
}

/// The evaluation of a whole ranking file: the means and every line's values.
public struct OfficialReport: Sendable, Equatable {
    public let results: OfficialMetricResults
    /// One entry per ranking, in order.
    public let lines: [OfficialLineScore]

    /// The lines where the official script stopped early for at least one cutoff.
    public var failedLines: [OfficialLineScore] { lines.filter { $0.cutoffs.contains { $0.failure != nil } } }
}

/// Why an evaluation could not be computed.
public enum EvaluationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// There is nothing to average: the official script would divide by zero.
    case noRankings

    public var description: String {
        switch self {
        case .noRankings: return "the ranking file has no lines: there is nothing to evaluate"
        }
    }
}
