import ArgumentParser
import Capture
import Catalog
import Foundation
import Retrieval
import SafeText

/// `vitrine compare A B`: two rankers on the same query split, query by query, with Product1M's
/// official AP (docs/data.md §2), the overlap of their top-k lists, and a paired significance test
/// of the difference in AP@10 (docs/data.md §2.6).
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two rankers query by query: ΔAP, overlap of their top lists, and whether the difference is significant.",
        discussion: """
        A and B are each: zero-shot (the pretrained towers, as `vitrine eval --zero-shot`), bm25, colour or \
        random (the baselines, as `vitrine eval --baseline`), a Vitrine checkpoint (.safetensors, as \
        `vitrine eval --model`), or a ranking file (retrieval_id_list.txt, as `vitrine eval --rankings`; a \
        folder written by `vitrine eval --out` names the file in it). A name wins over a file of the same \
        name: write ./bm25 for the file. A ranking file must rank every query of the split once and nothing \
        else. Each ranker's mAP@10 and mAP@100 are those `vitrine eval` reports for it. Per query: official \
        AP@10 and AP@100 of both, ΔAP@10 = B - A, and the Jaccard and rank-biased overlap (RBO_ext, p = 0.9) \
        of the two top-K lists. The difference in AP@10 is tested with a two-sided paired randomisation \
        (sign-flip) test and given a bootstrap 95% interval, both from --resamples draws seeded by --seed \
        (which also seeds the random baseline). Text lists the 10 most improved and the 10 most worsened \
        queries; --json prints one object with every query.
        """)

    @Argument(help: ArgumentHelp("The reference ranker (differences are B - A).", valueName: "A"))
    var first: String

    @Argument(help: ArgumentHelp("The ranker compared with A.", valueName: "B"))
    var second: String

    @OptionGroup var dataOptions: DataOptions

    @Option(name: .long, help: ArgumentHelp("Query split: test or dev (Product1M); folder datasets use their query split.", valueName: "SPLIT"))
    var split: String = "test"

    @Option(name: .long, help: ArgumentHelp("Depth K of the top lists whose overlap (Jaccard, RBO) is measured, 1 to 100.", valueName: "K"))
    var top: Int = 10

    @Flag(name: .long, help: "Print one JSON object (totals, test and every query) instead of text.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Seed of the randomisation test, the bootstrap and the random baseline.", valueName: "S"))
    var seed: UInt64 = 0

    @Option(name: .long, help: ArgumentHelp("Random draws of the randomisation test and of the bootstrap.", valueName: "N"))
    var resamples: Int = 10_000

    @Option(name: .long, help: ArgumentHelp("How a checkpoint or the zero-shot towers use a query: pair (image and caption, the Product1M protocol), caption or image.", valueName: "MODE"))
    var mode: QueryMode?

    @Option(name: .long, help: ArgumentHelp("Text tower of the zero-shot ranker: e5 (the default) or minilm.", valueName: "TOWER"))
    var textTower: TextTower?

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    /// The significance level the verdict is stated at.
    static let alpha = 0.05

    func validate() throws {
        guard (1 ... 100).contains(top) else {
            throw ValidationError("--top must be 1 to 100 (rankings hold at most 100 ids, the official depth); got \(top)")
        }
        guard (1 ... 10_000_000).contains(resamples) else {
            throw ValidationError("--resamples must be 1 to 10000000; got \(resamples)")
        }
        let rankers = [try RankerChoice(first, side: .a), try RankerChoice(second, side: .b)]
        if textTower != nil, !rankers.contains(.system(.zeroShot)) {
            throw ValidationError("--text-tower chooses the zero-shot ranker's text tower, and neither A nor B is zero-shot")
        }
        if mode != nil, !rankers.contains(where: \.usesEngine) {
            throw ValidationError("--mode applies to a checkpoint or zero-shot; neither A nor B is one (baselines and ranking files rank as they do)")
        }
    }

    func run() throws {
        let a = try RankerChoice(first, side: .a), b = try RankerChoice(second, side: .b)
        let dataset = try dataOptions.load()
        let groundTruth = try OfficialScoring.groundTruth(of: dataset)
        let queries = try OfficialScoring.querySplit(named: split, of: dataset)
        let queryIDs = (0 ..< queries.samples.count).map { queries.samples.id(at: $0) }
        // A ranking file is read and checked first, so that a file made for another split stops
        // the command before an index is built for the other side.
        func make(_ ranker: RankerChoice, _ side: RankerSide) throws -> [Ranking] {
            let made = try rankings(by: ranker, queries: queries, dataset: dataset)
            guard case .file = ranker else { return made }
            do {
                try RankerComparison.checkPairing(made, side: side, queryIDs: queryIDs)
            } catch {
                throw CommandError(explain(error, a: a, b: b, dataset: dataset, queries: queries))
            }
            return made
        }
        let early: [Ranking]? = b.isFile && !a.isFile ? try make(b, .b) : nil
        let rankingsA = try make(a, .a)
        let rankingsB = try early ?? (b == a ? rankingsA : make(b, .b))

        let comparison: RankerComparison
        do {
            comparison = try RankerComparison(queryIDs: queryIDs, a: rankingsA, b: rankingsB, groundTruth: groundTruth, depth: top)
        } catch {
            throw CommandError(explain(error, a: a, b: b, dataset: dataset, queries: queries))
        }
        OfficialScoring.warnAboutFailures(comparison.reportA, title: "A (\(a.title(textTower: textTower)))")
        if b != a { OfficialScoring.warnAboutFailures(comparison.reportB, title: "B (\(b.title(textTower: textTower)))") }

        let deltas = comparison.deltasAP10
        let test = SignFlipTest(differences: deltas, resamples: resamples, seed: seed)
        let interval = BootstrapInterval(differences: deltas, level: 0.95, resamples: resamples, seed: seed ^ BootstrapInterval.seedSalt)
        let report = Report(dataset: dataset, queries: queries, a: a, b: b, textTower: textTower, comparison: comparison,
                            test: test, interval: interval, seed: seed)
        if json {
            Console.json(report.json(arguments: (first, second)))
        } else {
            Console.out(report.text())
        }
    }

    /// One ranking per query of `queries`, in the split's order (a ranking file: as it is), made
    /// exactly as `vitrine eval` makes them for the same system.
    private func rankings(by ranker: RankerChoice, queries: Split, dataset: Dataset) throws -> [Ranking] {
        switch ranker {
        case .file(let path):
            return try RankingFile.read(path: path)
        case .baseline(let method):
            let gallery = try OfficialScoring.gallery(of: dataset)
            return OfficialScoring.baseline(method, queries: queries, gallery: gallery, seed: seed, quiet: quiet).rankings
        case .system(let system):
            _ = try OfficialScoring.gallery(of: dataset)
            let title = OfficialScoring.title(of: system, textTower: textTower)
            let bar = ProgressLine(enabled: !quiet)
            let engine = try OfficialScoring.engine(for: system, dataset: dataset, title: title, bar: bar,
                                                    options: RetrievalOptions(zeroShotTextTower: textTower ?? .standard))
            return try OfficialScoring.rankings(of: queries, engine: engine, mode: mode ?? .pair, title: title, bar: bar)
        }
    }

    /// What went wrong in pairing the two rankers, and what to do about it.
    private func explain(_ error: ComparisonError, a: RankerChoice, b: RankerChoice, dataset: Dataset, queries: Split) -> String {
        let splitName = SafeText.terminal(queries.name)
        let writeOne = "`vitrine eval --split \(splitName) --out DIR` writes one"
        func ranker(_ side: RankerSide) -> String {
            "ranker \(side.rawValue) (\(SafeText.terminal((side == .a ? a : b).title(textTower: textTower))))"
        }
        switch error {
        case .noQueries:
            return "\(SafeText.terminal(dataset.root)): the \(splitName) split has no queries, so there is nothing to compare; "
                + "choose another split with --split"
        case .notInSplit(let side, _, _):
            return "\(ranker(side)): \(error) (\(splitName)); was the file made for another split? "
                + "Give that split with --split, or rank the \(splitName) split (\(writeOne))"
        case .duplicateQuery(let side, _, _):
            return "\(ranker(side)): \(error); keep one line per query"
        case .missingQueries(let side, _, _):
            return "\(ranker(side)): \(error) (\(splitName)); a comparison pairs every query of the split, "
                + "so rank all of them (\(writeOne))"
        }
    }
}

/// One side of a comparison as named on the command line.
enum RankerChoice: Equatable {
    /// The zero-shot towers or a checkpoint (a gallery index is built when needed).
    case system(RetrievalSystem)
    /// A baseline that needs no model.
    case baseline(BaselineMethod)
    /// A ranking file (absolute path).
    case file(String)

    /// The ranker `argument` names: `zero-shot`, a baseline's name, a `.safetensors` checkpoint, a
    /// ranking file, or a folder holding `retrieval_id_list.txt`.
    init(_ argument: String, side: RankerSide) throws {
        if argument == "zero-shot" {
            self = .system(.zeroShot)
            return
        }
        if let method = BaselineMethod(rawValue: argument) {
            self = .baseline(method)
            return
        }
        let names = "zero-shot, " + BaselineMethod.allCases.map(\.rawValue).joined(separator: ", ")
        let path = absolute(argument)
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
        if argument.hasSuffix(".safetensors") {
            guard exists, !isFolder.boolValue, FileManager.default.isReadableFile(atPath: path) else {
                throw ValidationError("\(side.rawValue): cannot read the checkpoint \(SafeText.quoted(path, limit: 200)); "
                                      + "give the path of a .safetensors file that `vitrine train` wrote")
            }
            self = .system(.model(checkpoint: path))
            return
        }
        if exists, isFolder.boolValue {
            let inside = path + "/" + RankingFile.fileName
            guard FileManager.default.isReadableFile(atPath: inside) else {
                throw ValidationError("\(side.rawValue): the folder \(SafeText.quoted(path, limit: 200)) holds no readable "
                                      + "\(RankingFile.fileName); give a ranking file, a checkpoint (.safetensors) or one of \(names)")
            }
            self = .file(inside)
            return
        }
        guard exists else {
            throw ValidationError("\(side.rawValue): \(SafeText.quoted(argument, limit: 200)) is not a ranker and no such file exists; "
                                  + "give one of \(names), a checkpoint (.safetensors) or a ranking file "
                                  + "(\(RankingFile.fileName), as `vitrine eval --out DIR` writes)")
        }
        self = .file(path)
    }

    /// Whether it is a ranking file.
    var isFile: Bool {
        if case .file = self { return true }
        return false
    }

    /// Whether it ranks through a retrieval engine (and so reads --mode).
    var usesEngine: Bool {
        if case .system = self { return true }
        return false
    }

    /// The kind in JSON: zero-shot, checkpoint, baseline or rankings.
    var kind: String {
        switch self {
        case .system(.zeroShot): return "zero-shot"
        case .system(.model): return "checkpoint"
        case .baseline: return "baseline"
        case .file: return "rankings"
        }
    }

    /// The file it reads, if any.
    var path: String? {
        switch self {
        case .system(.model(let path)), .file(let path): return path
        default: return nil
        }
    }

    /// Its name in tables (not yet escaped: a file name is data).
    func title(textTower: TextTower?) -> String {
        switch self {
        case .system(let system): return OfficialScoring.title(of: system, textTower: textTower)
        case .baseline(let method): return method.title
        case .file(let path): return "rankings " + (path as NSString).lastPathComponent
        }
    }
}

/// The printed forms of a comparison: text for a terminal, JSON for scripts.
private struct Report {
    let dataset: Dataset
    let queries: Split
    let a: RankerChoice
    let b: RankerChoice
    let textTower: TextTower?
    let comparison: RankerComparison
    let test: SignFlipTest
    let interval: BootstrapInterval
    let seed: UInt64

    /// How many of the most improved and the most worsened queries text shows.
    static let shown = 10

    var significant: Bool { test.pValue < CompareCommand.alpha }

    /// The verdict in words.
    var verdict: String {
        let mean = comparison.meanDeltaAP10
        let level = String(format: "%.2f", CompareCommand.alpha)
        if comparison.queries.allSatisfy({ $0.deltaAP10 == 0 }) {
            return "A and B have the same AP@10 on every query: there is no difference (p = 1)"
        }
        if significant {
            return "B is significantly \(mean > 0 ? "better" : "worse") than A on AP@10 at the \(level) level "
                + "(p = \(format(p: test.pValue)) < \(level))"
        }
        return "the difference is not significant at the \(level) level (p = \(format(p: test.pValue)) ≥ \(level)): "
            + "on these queries it could be chance"
    }

    func text() -> String {
        let c = comparison
        let n = c.queries.count
        let titleA = SafeText.terminal(a.title(textTower: textTower)), titleB = SafeText.terminal(b.title(textTower: textTower))
        let width = max(titleA.count, titleB.count)
        var lines: [String] = []
        let gallery = dataset.gallery.map { ", gallery of \($0.samples.count)" } ?? ""
        lines.append("\(SafeText.terminal(dataset.name)): \(SafeText.terminal(queries.name)) split, \(n) quer\(n == 1 ? "y" : "ies")\(gallery); official Product1M protocol (fractions)")
        for (side, title, report) in [("A", titleA, c.reportA), ("B", titleB, c.reportB)] {
            let at10 = report.results.at(10)?.mAP ?? 0, at100 = report.results.at(100)?.mAP ?? 0
            lines.append("\(side)  \(pad(title, width))  mAP@10 \(f4(at10))  mAP@100 \(f4(at100))")
        }
        lines.append("")
        let (wins, ties, losses) = c.outcome
        lines.append("B - A: mean ΔAP@10 \(signed(c.meanDeltaAP10)), mean ΔAP@100 \(signed(c.meanDeltaAP100)); "
                     + "B's AP@10 is higher on \(wins), equal on \(ties), lower on \(losses) quer\(n == 1 ? "y" : "ies")")
        lines.append("top-\(c.depth) overlap: mean Jaccard \(f4(c.meanJaccard)), mean RBO \(f4(c.meanRBO)) (extrapolated, p = \(c.persistence))")
        var pText = "p = \(format(p: test.pValue))"
        if test.atLeastAsExtreme == 0 { pText += " (the smallest \(test.resamples) resamples can give)" }
        lines.append("paired randomisation test, two-sided (the signs of the \(n) ΔAP@10 flipped at random, "
                     + "\(test.resamples) resamples, seed \(seed)): \(pText)")
        lines.append("bootstrap \(Int((interval.level * 100).rounded()))% interval of the mean ΔAP@10 (\(interval.resamples) resamples): "
                     + "[\(signed(interval.lower)), \(signed(interval.upper))]")
        lines.append(verdict.prefix(1).uppercased() + verdict.dropFirst() + ".")

        let sorted = c.byDelta
        let improved = sorted.filter { $0.deltaAP10 > RankerComparison.tieTolerance }
        let worsened = sorted.filter { $0.deltaAP10 < -RankerComparison.tieTolerance }
        lines.append("")
        if improved.isEmpty {
            lines.append("No query has a higher AP@10 under B.")
        } else {
            lines.append("Most improved by B (\(min(Self.shown, improved.count)) of \(improved.count)):")
            lines += table(Array(improved.prefix(Self.shown)))
        }
        lines.append("")
        if worsened.isEmpty {
            lines.append("No query has a lower AP@10 under B.")
        } else {
            lines.append("Most worsened by B (\(min(Self.shown, worsened.count)) of \(worsened.count), the worst last):")
            lines += table(Array(worsened.suffix(Self.shown)))
        }
        return lines.joined(separator: "\n")
    }

    /// Rows of queries: id, AP@10 of A and B, ΔAP@10, AP@100 of A and B, Jaccard, RBO, caption.
    private func table(_ rows: [QueryComparison]) -> [String] {
        let ids = rows.map { SafeText.terminal($0.queryID) }
        let idWidth = max(5, ids.map(\.count).max() ?? 0)
        let columns = ["AP@10 A", "AP@10 B", "ΔAP@10", "AP@100 A", "AP@100 B", "Jaccard", "RBO"]
        var out = ["  " + pad("query", idWidth) + columns.map { "  " + leftPad($0, 8) }.joined() + "  caption"]
        for (row, id) in zip(rows, ids) {
            let values = [f4(row.a.at10), f4(row.b.at10), signed(row.deltaAP10), f4(row.a.at100), f4(row.b.at100),
                          f4(row.jaccard), f4(row.rbo)]
            out.append("  " + pad(id, idWidth) + values.map { "  " + leftPad($0, 8) }.joined() + "  " + caption(at: row.position))
        }
        return out
    }

    /// The query's caption, cut to 40 characters, escaped.
    private func caption(at position: Int) -> String {
        guard position < queries.samples.count else { return "" }
        let text = queries.samples[position].caption
        return SafeText.terminal(text.count > 40 ? String(text.prefix(40)) + "…" : text)
    }

    /// The whole comparison as one JSON object; `arguments` are A and B as given.
    func json(arguments: (String, String)) -> String {
        let c = comparison
        func ranker(_ choice: RankerChoice, _ argument: String, _ report: OfficialReport) -> String {
            var fields = ["\"ranker\": \(jsonString(argument))", "\"kind\": \(jsonString(choice.kind))",
                          "\"title\": \(jsonString(choice.title(textTower: textTower)))"]
            if let path = choice.path { fields.append("\"path\": \(jsonString(path))") }
            fields.append("\"mAP10\": \(number(report.results.at(10)?.mAP ?? 0))")
            fields.append("\"mAP100\": \(number(report.results.at(100)?.mAP ?? 0))")
            let official = report.results.jsonString().split(separator: "\n", omittingEmptySubsequences: false)
                .enumerated().map { $0.offset == 0 ? String($0.element) : "    " + $0.element }.joined(separator: "\n")
            fields.append("\"official\": " + official)
            return "{\n    " + fields.joined(separator: ",\n    ") + "\n  }"
        }
        let (wins, ties, losses) = c.outcome
        var members: [String] = [
            "\"dataset\": \(jsonString(dataset.name))",
            "\"split\": \(jsonString(queries.name))",
            "\"queries\": \(c.queries.count)",
            "\"a\": " + ranker(a, arguments.0, c.reportA),
            "\"b\": " + ranker(b, arguments.1, c.reportB),
            "\"depth\": \(c.depth)",
            "\"rboPersistence\": \(number(c.persistence))",
            "\"meanDeltaAP10\": \(number(c.meanDeltaAP10))",
            "\"meanDeltaAP100\": \(number(c.meanDeltaAP100))",
            "\"meanJaccard\": \(number(c.meanJaccard))",
            "\"meanRBO\": \(number(c.meanRBO))",
            "\"wins\": \(wins)",
            "\"ties\": \(ties)",
            "\"losses\": \(losses)",
        ]
        members.append("\"test\": {\"method\": \"paired sign-flip randomisation, two-sided, on ΔAP@10\", "
                       + "\"resamples\": \(test.resamples), \"seed\": \(seed), \"atLeastAsExtreme\": \(test.atLeastAsExtreme), "
                       + "\"pValue\": \(number(test.pValue)), \"alpha\": \(number(CompareCommand.alpha)), \"significant\": \(significant)}")
        members.append("\"bootstrap\": {\"statistic\": \"mean ΔAP@10\", \"level\": \(number(interval.level)), "
                       + "\"resamples\": \(interval.resamples), \"lower\": \(number(interval.lower)), \"upper\": \(number(interval.upper))}")
        members.append("\"verdict\": \(jsonString(verdict))")
        let perQuery = c.byDelta.map { q in
            "{\"query\": \(jsonString(q.queryID)), \"a\": {\"ap10\": \(number(q.a.at10)), \"ap100\": \(number(q.a.at100))}, "
                + "\"b\": {\"ap10\": \(number(q.b.at10)), \"ap100\": \(number(q.b.at100))}, "
                + "\"deltaAP10\": \(number(q.deltaAP10)), \"deltaAP100\": \(number(q.deltaAP100)), "
                + "\"jaccard\": \(number(q.jaccard)), \"rbo\": \(number(q.rbo))}"
        }
        members.append("\"perQuery\": [" + (perQuery.isEmpty ? "]" : "\n    " + perQuery.joined(separator: ",\n    ") + "\n  ]"))
        return "{\n  " + members.joined(separator: ",\n  ") + "\n}"
    }

    private func number(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
    private func f4(_ x: Double) -> String { String(format: "%.4f", x) }
    private func signed(_ x: Double) -> String { String(format: "%+.4f", x) }

    /// A p-value: 4 decimals, or 2 significant digits below 0.001.
    private func format(p: Double) -> String { String(format: p < 0.001 ? "%.1e" : "%.4f", p) }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private func leftPad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
