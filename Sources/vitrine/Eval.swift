import ArgumentParser
import Capture
import Catalog
import Foundation
import SafeText
import Retrieval

/// `vitrine eval`: Product1M's official retrieval metrics (mAP, Prec and mAR at 10, 50 and 100,
/// docs/data.md §2, quirks included) for a model checkpoint, the zero-shot towers and the baselines,
/// or for a ranking file made elsewhere.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score retrieval with Product1M's official protocol: mAP, Prec and mAR at 10, 50 and 100.",
        discussion: """
        Without --rankings, ranks the split's queries against the gallery and prints a table comparing, in \
        the same run: the model (with --model CKPT; queries as pairs, e against e), the zero-shot towers \
        (MiniLM and EfficientNet-Lite0 alone; for pairs the mean of the caption and image cosines) and the \
        baselines that need no model (caption BM25, colour histogram, random). With --rankings FILE, scores \
        a retrieval_id_list.txt made by any system. The numbers equal those of the dataset's own evaluation \
        script (CAPTURE/evaluate_suit.py). --json prints, and --out writes (retrieval_id_list.txt and \
        metric_results.json), the results of the chosen system: the model with --model, the zero-shot \
        towers with --zero-shot, otherwise the baselines (with --baseline all, one folder per method).
        """)

    @OptionGroup var dataOptions: DataOptions

    @Option(name: .long, help: ArgumentHelp("Query split: test or dev (Product1M); folder datasets use their query split.", valueName: "SPLIT"))
    var split: String = "test"

    @Option(name: .long, help: ArgumentHelp("Score this ranking file (query_id,gallery_id,... per line) instead of computing rankings.", valueName: "FILE"))
    var rankings: String?

    @Option(name: .long, help: ArgumentHelp("Which baseline.", valueName: "METHOD"))
    var baseline: BaselineChoice = .all

    @Option(name: .long, help: ArgumentHelp("Write metric_results.json, and the computed retrieval_id_list.txt, into this folder.", valueName: "DIR"))
    var out: String?

    @Flag(name: .long, help: "Print the metric_results.json object instead of a table.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Evaluate this Vitrine checkpoint (.safetensors) and choose it for --json and --out.", valueName: "CKPT"))
    var model: String?
    @Option(name: .long, help: ArgumentHelp("Text tower of the zero-shot system: e5 (multilingual-e5-small, the default) or minilm (all-MiniLM-L6-v2, English). A checkpoint uses its own.", valueName: "TOWER"))
    var textTower: TextTower?
    @Option(name: .long, help: ArgumentHelp("Zero-shot pair queries: the weight w of the caption in w cos(sentence) + (1 - w) cos(image). Default: the text tower's.", valueName: "W"))
    var pairTextWeight: Float?

    @Flag(name: .long, help: "Choose the zero-shot towers for --json and --out.")
    var zeroShot = false

    @Option(name: .long, help: ArgumentHelp("How the model and zero-shot towers use a query: pair (image and caption, the Product1M protocol), caption or image.", valueName: "MODE"))
    var mode: QueryMode = .pair

    @Option(name: .long, help: "Seed of the random baseline.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    private var methods: [BaselineMethod] {
        baseline.methods
    }

    func validate() throws {
        if rankings != nil && baseline != .all {
            throw ValidationError("--baseline and --rankings do not go together: --rankings scores the file as it is")
        }
        if model != nil && zeroShot {
            throw ValidationError("--model and --zero-shot each choose the system to report; give one of them")
        }
        if rankings != nil && (model != nil || zeroShot) {
            throw ValidationError("--rankings scores a file as it is; it does not go with --model or --zero-shot")
        }
    }

    func run() throws {
        let root = try dataOptions.resolved()
        let dataset = try Dataset.load(from: root, options: LoadOptions(strict: dataOptions.strict))
        let groundTruth = try OfficialScoring.groundTruth(of: dataset)

        if let rankings {
            let path = absolute(rankings)
            let report = try OfficialMetrics.evaluate(try RankingFile.read(path: path), groundTruth: groundTruth)
            OfficialScoring.warnAboutFailures(report, title: nil)
            if let out {
                try report.results.write(toFolder: absolute(out))
            }
            if json {
                Console.json(report.results.jsonString())
            } else {
                Console.out("\(SafeText.terminal(dataset.name)): \(SafeText.terminal(path)), \(count(report.lines.count, "line", "lines")), official Product1M protocol (fractions)\n")
                Console.out(table([(SafeText.terminal((rankings as NSString).lastPathComponent), report.results)]))
            }
            return
        }

        let queries = try OfficialScoring.querySplit(named: split, of: dataset)
        let gallery = try OfficialScoring.gallery(of: dataset)
        var rows: [(String, OfficialMetricResults)] = []
        var objects: [(String, String)] = []
        let queryMode = mode
        let chosen: RetrievalSystem? = model.map { .model(checkpoint: absolute($0)) } ?? (zeroShot ? .zeroShot : nil)
        // The table compares every system; --json and --out report the chosen one alone.
        var systems: [RetrievalSystem] = []
        if let chosen { systems.append(chosen) }
        if !json && chosen != .zeroShot { systems.append(.zeroShot) }
        for system in systems {
            let title = OfficialScoring.title(of: system, textTower: textTower)
            let bar = ProgressLine(enabled: !quiet)
            let engine: RetrievalEngine
            do {
                engine = try OfficialScoring.engine(for: system, dataset: dataset, title: title, bar: bar,
                                                    options: RetrievalOptions(pairTextWeight: pairTextWeight, zeroShotTextTower: textTower ?? .standard))
            } catch {
                // The comparison row is optional when the weights are missing; a chosen system is not.
                if system == chosen { throw error }
                bar.finish("")
                OfficialScoring.warn("\(title): skipped (\(error))")
                continue
            }
            let systemRankings = try OfficialScoring.rankings(of: queries, engine: engine, mode: queryMode, title: title, bar: bar)
            let report = try OfficialMetrics.evaluate(systemRankings, groundTruth: groundTruth)
            OfficialScoring.warnAboutFailures(report, title: title)
            if system == chosen {
                if let out {
                    let folder = absolute(out)
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    try RankingFile.write(systemRankings, to: folder + "/" + RankingFile.fileName)
                    try report.results.write(toFolder: folder)
                }
                if json {
                    Console.json(report.results.jsonString())
                    return
                }
            }
            rows.append((title, report.results))
        }
        for method in methods {
            let run = OfficialScoring.baseline(method, queries: queries, gallery: gallery, seed: seed, quiet: quiet)
            let report = try OfficialMetrics.evaluate(run.rankings, groundTruth: groundTruth)
            OfficialScoring.warnAboutFailures(report, title: method.title)
            if let out, chosen == nil {
                let folder = methods.count == 1 ? absolute(out) : absolute(out) + "/" + method.rawValue
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try RankingFile.write(run.rankings, to: folder + "/" + RankingFile.fileName)
                try report.results.write(toFolder: folder)
            }
            rows.append((method.title, report.results))
            objects.append((method.rawValue, report.results.jsonString()))
        }
        if json && chosen == nil {
            if objects.count == 1 {
                Console.json(objects[0].1)
            } else {
                // {"bm25": {...}, ...}, each object indented like json.dump(indent=2) would nest it.
                let members = objects.map { name, object in
                    "  \"\(name)\": " + object.split(separator: "\n", omittingEmptySubsequences: false)
                        .enumerated().map { $0.offset == 0 ? String($0.element) : "  " + $0.element }
                        .joined(separator: "\n")
                }
                Console.json("{\n" + members.joined(separator: ",\n") + "\n}")
            }
        } else {
            Console.out("\(SafeText.terminal(dataset.name)): \(SafeText.terminal(queries.name)) split, \(count(queries.samples.count, "query", "queries")), gallery of \(gallery.samples.count), official Product1M protocol (fractions)\n")
            Console.out(table(rows))
        }
    }

    private func table(_ rows: [(String, OfficialMetricResults)]) -> String {
        let cutoffs = OfficialMetrics.cutoffs
        let nameWidth = max(16, rows.map { $0.0.count }.max() ?? 0)
        var header = "method".padding(toLength: nameWidth, withPad: " ", startingAt: 0)
        for n in cutoffs {
            for metric in ["mAP", "Prec", "mAR"] { header += "  " + leftPad("\(metric)@\(n)", 8) }
        }
        var lines = [header]
        for (name, results) in rows {
            var line = name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
            for n in cutoffs {
                let entry = results.at(n)!
                for value in [entry.mAP, entry.precision, entry.mAR] { line += "  " + leftPad(String(format: "%.4f", value), 8) }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    private func count(_ n: Int, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }

    private func leftPad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}

/// How `vitrine eval` and `vitrine compare` get what they score, in one place so that both score
/// the same lists: the official ground truth, the query split, the gallery, a retrieval system's
/// and a baseline's rankings (top 100, the official depth), and the warnings about them.
enum OfficialScoring {
    /// The official ground truth of `dataset` (docs/data.md §2.2), warning about the lines the
    /// official script could not have read.
    static func groundTruth(of dataset: Dataset) throws -> OfficialGroundTruth {
        let groundTruth = dataset.format == .product1m
            ? try OfficialGroundTruth.loadProduct1M(folder: dataset.root)
            : OfficialGroundTruth(dataset: dataset)
        for line in groundTruth.skippedLines.prefix(10) {
            warn("skipped \(line) (the official script would stop there)")
        }
        if groundTruth.skippedLines.count > 10 { warn("... \(groundTruth.skippedLines.count - 10) more lines skipped") }
        return groundTruth
    }

    /// The query split named `name` (Product1M: test or dev; folder datasets: their query split).
    static func querySplit(named name: String, of dataset: Dataset) throws -> Split {
        if let named = dataset.split(named: name), named.role == .query { return named }
        let available = dataset.splits(role: .query)
        if dataset.format != .product1m, name == "test" || name == "query", available.count == 1 { return available[0] }
        throw CommandError("\(dataset.root) has no query split named \"\(name)\"; its query splits: "
                              + (available.isEmpty ? "none" : available.map(\.name).joined(separator: ", ")))
    }

    /// The gallery the queries are ranked against.
    static func gallery(of dataset: Dataset) throws -> Split {
        guard let gallery = dataset.gallery, !gallery.samples.isEmpty else {
            throw CommandError("\(dataset.root) has no gallery to rank against")
        }
        return gallery
    }

    /// The name of a retrieval system in tables.
    static func title(of system: RetrievalSystem, textTower: TextTower?) -> String {
        system == .zeroShot ? "zero-shot towers (\((textTower ?? .standard).rawValue))" : "model (\(system.displayName))"
    }

    /// Opens `system` on `dataset` (building its gallery index when it is missing or stale, shown on `bar`).
    static func engine(for system: RetrievalSystem, dataset: Dataset, title: String, bar: ProgressLine,
                       options: RetrievalOptions) throws -> RetrievalEngine {
        try RetrievalEngine(dataset: dataset, system: system, options: options) { event in
            if case .progress(let done, let total) = event {
                bar.update("\(title): indexing the gallery \(done)/\(total)", fraction: Double(done) / Double(max(1, total)))
            }
        }
    }

    /// Every query of `queries` ranked by `engine` (top 100), in the split's order; a query without
    /// a usable image gets an empty ranking (warned about).
    static func rankings(of queries: Split, engine: RetrievalEngine, mode: QueryMode, title: String,
                         bar: ProgressLine) throws -> [Ranking] {
        let (rankings, problems) = try engine.rankings(for: Array(queries.samples), mode: mode, top: 100) { done, total in
            bar.update("\(title): queries \(done)/\(total)", fraction: Double(done) / Double(max(1, total)))
        }
        bar.finish("\(title): ranked \(queries.samples.count) queries (\(mode.rawValue))")
        if !problems.isEmpty {
            warn("\(title): \(problems.count) quer\(problems.count == 1 ? "y" : "ies") without a usable image got an empty ranking, e.g. \(problems[0])")
        }
        return rankings
    }

    /// A baseline's rankings of every query of `queries` against `gallery` (top 100), in the split's order.
    static func baseline(_ method: BaselineMethod, queries: Split, gallery: Split, seed: UInt64, quiet: Bool) -> BaselineRun {
        let bar = ProgressLine(enabled: !quiet && method == .colour)
        let run = BaselineRun(method, queries: Array(queries.samples), gallery: Array(gallery.samples), top: 100, seed: seed) { event in
            if case .decodedImages(let done, let total) = event {
                bar.update("\(method.title): images \(done)/\(total)", fraction: Double(done) / Double(max(1, total)))
            }
        }
        if method == .colour { bar.finish("\(method.title): decoded \(gallery.samples.count + queries.samples.count) images") }
        if !run.unreadableImages.isEmpty {
            warn("\(method.title): \(run.unreadableImages.count) image(s) could not be used, e.g. \(run.unreadableImages[0])")
        }
        return run
    }

    /// One warning line per kind of failure (the official script prints the query ids and goes on).
    static func warnAboutFailures(_ report: OfficialReport, title: String?) {
        var counts: [String: (lines: Set<Int>, example: String)] = [:]
        for line in report.lines {
            for score in line.cutoffs {
                guard let failure = score.failure else { continue }
                let kind: String
                switch failure {
                case .unknownQuery: kind = "unknown query id"
                case .labelNotInGallery: kind = "query label without gallery items"
                case .emptyRanking: kind = "no gallery ids"
                case .unknownGalleryID: kind = "gallery id not in the gallery"
                case .noExpectedItems: kind = "more query labels than N (e_l = 0)"
                }
                counts[kind, default: ([], "line \(line.line) (\(line.queryID.isEmpty ? "blank" : SafeText.quoted(line.queryID))): \(failure)")].lines.insert(line.line)
            }
        }
        let prefix = title.map { "\($0): " } ?? ""
        for (kind, value) in counts.sorted(by: { $0.key < $1.key }) {
            warn("\(prefix)\(value.lines.count) line(s) with \(kind), scored as the official script does; e.g. \(value.example)")
        }
    }

    /// A warning on standard error, data in it escaped.
    static func warn(_ message: String) {
        Console.error("warning: " + SafeText.terminal(message))
    }
}

/// A problem found while running a command (printed as "Error: ..." without the usage text).
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
