import Support
import Annotations
import Capture
import ArgumentParser
import Foundation
import SafeText

/// `vitrine flags`: the annotators' verdicts (wrong / confirmed matches) kept in the
/// flag store, which the explorer writes and fine-tuning reads.
struct FlagsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flags",
        abstract: "List, add, undo, adjudicate, export, import and compare the annotators' flags.",
        discussion: """
            The flag store is an SQLite file shared by every explorer and command on the machine: \
            --store PATH, else $VITRINE_FLAGS, else $XDG_DATA_HOME/vitrine/flags.sqlite, \
            else ~/.local/share/vitrine/flags.sqlite. Verdicts are kept per model by the checkpoint \
            file's SHA-256 (its file name is shown); see docs/flags.md.
            """,
        subcommands: [FlagsList.self, FlagsAdd.self, FlagsUndo.self, FlagsAdjudicate.self, FlagsExport.self, FlagsImport.self,
                      FlagsPairs.self, FlagsStats.self]
    )
}

/// `--store PATH`, shared by every `flags` subcommand.
struct FlagStoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The flag store (SQLite). Default: $VITRINE_FLAGS, else $XDG_DATA_HOME/vitrine/flags.sqlite, else ~/.local/share/vitrine/flags.sqlite.", valueName: "PATH"))
    var store: String?

    var path: String { absolute(store ?? FlagStore.defaultPath()) }

    /// Opens the store; when this opening upgraded a v1 store, says what became of each model
    /// name (standard error).
    func open() throws -> FlagStore {
        let store = try FlagStore(path: path)
        if let upgrade = store.upgrade {
            Console.error(upgrade.summary.map(SafeText.terminal).joined(separator: "\n"))
        }
        return store
    }
}

/// What `--model` names: the forms `vitrine flags add` and the `--model` filters accept.
enum ModelArgument {
    /// What `--model` accepts, for help texts and messages.
    static let accepted = "a checkpoint file (.safetensors; kept under its SHA-256, its file name shown), a checkpoint's SHA-256 (64 hex digits), zero-shot (the \(TextTower.standard.rawValue) text tower) or zero-shot:TOWER (\(TextTower.allCases.map(\.rawValue).joined(separator: ", ")))"

    /// The model `text` names. With `filter`, keys as stored are accepted too (`legacy:NAME`,
    /// `rankings:SHA256`, `any-model`), to select verdicts recorded under them.
    static func resolve(_ text: String, filter: Bool = false) throws -> FlagModel {
        if text == "zero-shot" { return .zeroShot(tower: TextTower.standard.rawValue) }
        if text.hasPrefix("zero-shot:") {
            let tower = String(text.dropFirst("zero-shot:".count))
            guard TextTower(rawValue: tower) != nil else {
                throw ValidationError("--model \(SafeText.terminal(text)): unknown text tower; use zero-shot:\(TextTower.allCases.map(\.rawValue).joined(separator: " or zero-shot:"))")
            }
            return .zeroShot(tower: tower)
        }
        if FlagModel.isSHA256(text.lowercased()) { return .checkpoint(sha256: text.lowercased(), fileName: text.lowercased()) }
        if filter, FlagModel.kind(of: text) != .other { return FlagModel(key: text, name: text) }
        let path = absolute(text)
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("--model \(SafeText.terminal(text)): no such checkpoint file. Give \(accepted)\(filter ? ", or a key as `vitrine flags list` shows it (legacy:NAME)" : "").")
        }
        do { return try FlagModel.checkpoint(atPath: path) } catch {
            throw ValidationError("--model: \(SafeText.terminal(error.description))")
        }
    }
}

/// The note shown under lists that hold verdicts on `legacy:` model keys.
func legacyNote(_ count: Int) -> String {
    "\(count) verdict\(count == 1 ? " is" : "s are") under a legacy: model key: recorded by file name before flags were kept by the checkpoint's SHA-256, and no single file of that name was found when the store was upgraded (docs/flags.md §3.1)."
}


struct FlagsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list",
        abstract: "Show the current verdicts (with --history, every verdict ever recorded, with its status).")

    @OptionGroup var storeOptions: FlagStoreOptions
    @Option(name: .long, help: "Only this dataset.") var dataset: String?
    @Option(name: .long, help: "Only this query (a sample id, or caption:<text>).") var query: String?
    @ArgumentParser.Flag(name: .long, help: "Also show replaced and undone verdicts, oldest first, with their status.") var history = false

    func run() throws {
        let store = try storeOptions.open()
        var rows: [[String]] = []
        var legacy = 0
        if history {
            for r in try store.history(dataset: dataset, query: query) {
                if r.flag.flagModel.isLegacy { legacy += 1 }
                var status = r.status.rawValue
                if let newer = r.replacedBy { status += " by \(newer)" }
                if let older = r.replaces { status += ", replaces \(older)" }
                rows.append(Self.columns(r.flag) + [status])
            }
        } else {
            let flags: [Annotations.Flag]
            if let dataset {
                flags = try store.flags(dataset: dataset, query: query)
            } else {
                flags = try store.allFlags().filter { query == nil || $0.query == query }
            }
            rows = flags.map(Self.columns)
            legacy = flags.filter(\.flagModel.isLegacy).count
        }
        guard !rows.isEmpty else {
            Console.error("no flags in \(SafeText.terminal(store.path))\(dataset.map { " for dataset \(SafeText.terminal($0))" } ?? "")")
            return
        }
        var header = ["ID", "TIME (UTC)", "VERDICT", "ANNOTATOR", "DATASET", "QUERY", "MATCH", "MODEL"]
        if history { header.append("STATUS") }
        Console.out(Self.table([header] + rows))
        if legacy > 0 { Console.error(legacyNote(legacy)) }
    }

    /// A row of the list: the model as its label (a checkpoint's file name and the first digits
    /// of its SHA-256), an adjudicator marked as such.
    static func columns(_ f: Annotations.Flag) -> [String] {
        [f.id.map(String.init) ?? "-", FlagTime.format(f.createdAt), f.verdict.rawValue,
         SafeText.terminal(f.annotator) + (f.role == .adjudicator ? " (adjudicator)" : ""),
         SafeText.terminal(f.dataset), SafeText.terminal(f.query), SafeText.terminal(f.match), SafeText.terminal(f.flagModel.label)]
    }

    /// The widest a cell is shown (characters): the list is for reading; `vitrine flags export`
    /// gives every field whole.
    static let cellLimit = 60

    /// Left-aligned columns, two spaces apart; the last column is not padded. Each cell is cut to
    /// `cellLimit` characters with an ellipsis, so one huge field costs its row, not the table:
    /// time and size are linear in the input.
    static func table(_ rows: [[String]]) -> String {
        let rows = rows.map { $0.map(cut) }
        let count = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for (r, row) in rows.enumerated() {
            var line = ""
            for (i, cell) in row.enumerated() {
                if i > 0 { line += "  " }
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - cell.count) }
            }
            while line.last == " " { line.removeLast() }
            out += line
            if r < rows.count - 1 { out += "\n" }
        }
        return out
    }

    static func cut(_ cell: String) -> String {
        var end = cell.startIndex
        var n = 0
        while end < cell.endIndex {
            if n == cellLimit { return String(cell[..<cell.index(before: end)]) + "…" }
            end = cell.index(after: end)
            n += 1
        }
        return cell
    }
}

struct FlagsAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add",
        abstract: "Record one verdict, as the explorer's f / c keys do; prints the new flag's id.",
        discussion: """
            The annotator's earlier verdict on the same dataset, query, match and model is replaced (and kept in \
            the history). A checkpoint is identified by the SHA-256 of its file, so two runs' best.safetensors \
            are two models and a copied checkpoint is the same one; the file name is kept for display.
            """)

    @OptionGroup var storeOptions: FlagStoreOptions
    @Option(name: .long, help: "The dataset's identity.") var dataset: String
    @Option(name: .long, help: "The query: a sample id, or caption:<text>.") var query: String
    @Option(name: .long, help: "The matched gallery sample's id.") var match: String
    @Option(name: .long, help: ArgumentHelp("The model that ranked it: \(ModelArgument.accepted).", valueName: "MODEL")) var model: String = "zero-shot"
    @Option(name: .long, help: "The verdict.") var verdict: Verdict
    @Option(name: .long, help: "Who says so. Default: $VITRINE_ANNOTATOR, else $USER.") var annotator: String?
    @Option(name: .long, help: ArgumentHelp("When (ISO 8601, e.g. 2026-11-21T08:11:58.123Z). Default: now.", valueName: "TIME")) var at: String?

    func validate() throws {
        if let at, FlagTime.parse(at) == nil {
            throw ValidationError("--at must be an ISO 8601 time such as 2026-11-21T08:11:58.123Z (got \"\(SafeText.terminal(at))\")")
        }
    }

    func run() throws {
        let resolved = try ModelArgument.resolve(model)
        let store = try storeOptions.open()
        let flag = Annotations.Flag(dataset: dataset, query: query, match: match, on: resolved, verdict: verdict,
                                    annotator: annotator ?? FlagStore.defaultAnnotator(), createdAt: at.flatMap(FlagTime.parse) ?? Date())
        let stored = try store.record(flag)
        Console.out(stored.id.map(String.init) ?? "")
    }
}

struct FlagsUndo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "undo",
        abstract: "Withdraw a current verdict by id; the annotator's verdict it had replaced becomes current again.")

    @OptionGroup var storeOptions: FlagStoreOptions
    @Argument(help: "The flag's id (see `vitrine flags list`).") var id: Int64

    func run() throws {
        let store = try storeOptions.open()
        if let restored = try store.undo(id: id) {
            Console.out("undid flag \(id); flag \(restored.id ?? 0) (\(restored.verdict.rawValue)) is current again")
        } else {
            Console.out("undid flag \(id)")
        }
    }
}

struct FlagsAdjudicate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "adjudicate",
        abstract: "Settle a pair: record an adjudicator's verdict, which decides it whatever the annotators said; prints the new flag's id.",
        discussion: """
            The adjudicator's verdict is kept apart from the annotators' (role adjudicator) and holds for the pair \
            (query, match) whatever model showed it. `vitrine flags pairs` and fine-tuning take the latest \
            adjudication of a pair under every --rule. The adjudicator's earlier adjudication of the pair is \
            replaced (and kept in the history); `vitrine flags undo ID` withdraws one.
            """)

    @OptionGroup var storeOptions: FlagStoreOptions
    @Option(name: .long, help: "The dataset's identity.") var dataset: String
    @Option(name: .long, help: "The query: a sample id, or caption:<text>.") var query: String
    @Option(name: .long, help: "The matched gallery sample's id.") var match: String
    @Option(name: .long, help: "The adjudicated verdict.") var verdict: Verdict
    @Option(name: .long, help: "Who adjudicates. Default: $VITRINE_ANNOTATOR, else $USER.") var annotator: String?
    @Option(name: .long, help: ArgumentHelp("When (ISO 8601, e.g. 2026-11-21T08:11:58.123Z). Default: now.", valueName: "TIME")) var at: String?

    func validate() throws {
        if let at, FlagTime.parse(at) == nil {
            throw ValidationError("--at must be an ISO 8601 time such as 2026-11-21T08:11:58.123Z (got \"\(SafeText.terminal(at))\")")
        }
    }

    func run() throws {
        let store = try storeOptions.open()
        let flag = Annotations.Flag.adjudication(dataset: dataset, query: query, match: match, verdict: verdict,
                                                 adjudicator: annotator ?? FlagStore.defaultAnnotator(),
                                                 createdAt: at.flatMap(FlagTime.parse) ?? Date())
        let stored = try store.record(flag)
        Console.out(stored.id.map(String.init) ?? "")
    }
}

struct FlagsExport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export",
        abstract: "Write the current verdicts as CSV or JSON lines.",
        discussion: """
            Fields: dataset, query, match, model (the model's key: a checkpoint's SHA-256, zero-shot:TOWER...), \
            verdict, annotator, createdAt (ISO 8601, UTC, milliseconds), modelName (the checkpoint's file name), \
            role (annotator or adjudicator). \
            CSV follows RFC 4180 (header line, CRLF, quoted fields); JSON lines hold one object a line. \
            `vitrine flags import` reads both back exactly.
            """)

    @OptionGroup var storeOptions: FlagStoreOptions
    @Option(name: .long, help: "The format. Default: from --out's extension, else csv.") var format: FlagFileFormat?
    @Option(name: .long, help: ArgumentHelp("The file to write (replaced atomically). Default: standard output.", valueName: "FILE")) var out: String?
    @Option(name: .long, help: "Only this dataset.") var dataset: String?

    func run() throws {
        let chosen = format ?? out.flatMap { FlagFileFormat(path: $0) } ?? .csv
        let store = try storeOptions.open()
        let flags = try store.allFlags(dataset: dataset)
        let data = FlagFile.encode(flags, format: chosen)
        if let out {
            let path = absolute(out)
            do {
                try AtomicFile.write([UInt8](data), to: path)
            } catch {
                throw ValidationError("cannot write \(path): \(error.message); check that its folder exists and is writable")
            }
            Console.error("wrote \(flags.count) flag\(flags.count == 1 ? "" : "s") to \(SafeText.terminal(path))")
        } else {
            Console.exportBytes([UInt8](data))
        }
    }
}

struct FlagsImport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import",
        abstract: "Add the verdicts of a CSV or JSON-lines export to the store.",
        discussion: """
            Verdicts already in the store are skipped, so importing a file twice adds nothing. A verdict newer \
            than the annotator's current one on the same key replaces it; an older one is kept as history. \
            Malformed lines are listed with their line numbers and skipped (exit status 1); with --strict \
            nothing is imported when any line is malformed.
            """)

    @OptionGroup var storeOptions: FlagStoreOptions
    @Argument(help: ArgumentHelp("The file to import (.csv, .jsonl).", valueName: "FILE")) var file: String
    @Option(name: .long, help: "The format. Default: from the file's extension.") var format: FlagFileFormat?
    @ArgumentParser.Flag(name: .long, help: "Import nothing if any line is malformed.") var strict = false

    func run() throws {
        let store = try storeOptions.open()
        let path = absolute(file)
        let report = try store.importFile(path, format: format, strict: strict)
        Console.out("\(SafeText.terminal(path)): \(SafeText.terminal("\(report)"))")
        guard !report.malformed.isEmpty else { return }
        var message = ""
        for line in report.malformed.prefix(50) { message += "  \(SafeText.terminal(line.description))\n" }
        if report.malformed.count > 50 { message += "  ... and \(report.malformed.count - 50) more\n" }
        message += "The other lines were imported. Fix these lines and import the file again: what is already in the store is skipped.\n"
        Console.error("malformed lines in \(SafeText.terminal(path)):\n" + message, terminator: "")
        throw ExitCode(1)
    }
}

struct FlagsPairs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pairs",
        abstract: "Show the training pairs fine-tuning takes from a dataset's flags.",
        discussion: """
            A confirmed match is a positive pair, a wrong one a negative. Each annotator counts once per \
            (query, match): their most recent verdict, whatever the model. When annotators disagree, \
            --rule decides: majority (default; a tie goes to the most recent verdict), latest, or exclude. \
            An adjudicated pair (`vitrine flags adjudicate`) takes the adjudicator's latest verdict under \
            every rule. `vitrine train --flag-rule` takes the same rule, with the same default.
            """)

    @OptionGroup var storeOptions: FlagStoreOptions
    @Option(name: .long, help: "The dataset.") var dataset: String
    @Option(name: .long, help: "How disagreeing annotators are settled.") var rule: DisagreementRule = .majority

    func run() throws {
        let store = try storeOptions.open()
        let pairs = try store.pairs(dataset: dataset, rule: rule)
        let rows = pairs.map { p in
            [p.isPositive ? "positive" : "negative", SafeText.terminal(p.query), SafeText.terminal(p.match),
             "\(p.annotators)", [p.contested ? "contested" : "", p.adjudicated ? "adjudicated" : ""].filter { !$0.isEmpty }.joined(separator: ", ")]
        }
        if !rows.isEmpty { Console.out(FlagsList.table([["PAIR", "QUERY", "MATCH", "ANNOTATORS", ""]] + rows)) }
        let positives = pairs.filter(\.isPositive).count
        Console.error("\(pairs.count) pair\(pairs.count == 1 ? "" : "s"): \(positives) positive, \(pairs.count - positives) negative, \(pairs.filter(\.contested).count) contested, \(pairs.filter(\.adjudicated).count) adjudicated")
    }
}

struct FlagsStats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats",
        abstract: "Compare the annotators: their counts, how often each two agree (with Cohen's kappa), and the pairs they disagree on.",
        discussion: """
            A pair is (dataset, query, match); each annotator counts once per pair with their latest verdict, \
            whatever the model (as `vitrine flags pairs` does). Two annotators are compared on the pairs both \
            judged: the share of those with the same verdict, and Cohen's kappa = (p_o - p_e) / (1 - p_e), \
            where p_o is that share and p_e the agreement expected by chance from each one's proportions of \
            wrong and confirmed on those pairs. Kappa is undefined without shared pairs, or when both gave one \
            and the same verdict to all of them. Disagreeing pairs are listed with each annotator's verdict \
            and the adjudication, if any (see docs/flags.md §5.1).
            """)

    @OptionGroup var storeOptions: FlagStoreOptions
    @Option(name: .long, help: "Only this dataset.") var dataset: String?
    @Option(name: .long, help: ArgumentHelp("Only verdicts given on this model's rankings: \(ModelArgument.accepted), or a key as `vitrine flags list` shows it (legacy:NAME). Adjudications count whatever the model.", valueName: "MODEL"))
    var model: String?
    @ArgumentParser.Flag(name: .long, help: "Print one JSON object instead of tables.") var json = false

    func run() throws {
        let selected = try model.map { try ModelArgument.resolve($0, filter: true) }
        let store = try storeOptions.open()
        let report = try store.agreement(dataset: dataset, model: selected?.key)
        if json {
            Console.json(Self.json(report, store: store.path, dataset: dataset, model: selected))
            return
        }
        guard !report.annotators.isEmpty else {
            Console.error("no annotators' verdicts in \(SafeText.terminal(store.path))"
                          + (dataset.map { " for dataset \(SafeText.terminal($0))" } ?? "")
                          + (selected.map { " on model \(SafeText.terminal($0.label))" } ?? ""))
            return
        }
        var out: [String] = []
        out.append(FlagsList.table([["ANNOTATOR", "WRONG", "CONFIRMED", "TOTAL", "PAIRS"]] + report.annotators.map { c in
            [SafeText.terminal(c.annotator), "\(c.wrong)", "\(c.confirmed)", "\(c.total)", "\(c.pairs)"]
        }))
        if !report.pairwise.isEmpty {
            out.append("")
            out.append(FlagsList.table([["ANNOTATORS", "SHARED", "AGREED", "AGREEMENT", "KAPPA"]] + report.pairwise.map { p in
                let t = p.table
                return [SafeText.terminal(p.first) + " / " + SafeText.terminal(p.second), "\(t.shared)",
                        t.shared == 0 ? "-" : "\(t.agreed)",
                        t.observed.map { String(format: "%.1f%%", $0 * 100) } ?? "-",
                        t.kappa.map { String(format: "%.3f", $0) } ?? "undefined: " + (t.kappaUndefinedReason ?? "")]
            }))
        }
        let showDataset = dataset == nil && Set(report.disagreements.map(\.dataset)).count > 1
        if !report.disagreements.isEmpty {
            out.append("")
            out.append("\(report.disagreements.count) pair\(report.disagreements.count == 1 ? "" : "s") with disagreeing annotators:")
            var header = ["QUERY", "MATCH", "VERDICTS", "ADJUDICATED"]
            if showDataset { header.insert("DATASET", at: 0) }
            out.append(FlagsList.table([header] + report.disagreements.map { d in
                var row = [SafeText.terminal(d.query), SafeText.terminal(d.match),
                           d.verdicts.map { SafeText.terminal($0.annotator) + ": " + $0.verdict.rawValue }.joined(separator: ", "),
                           d.adjudication.map { "\($0.verdict.rawValue) (\(SafeText.terminal($0.annotator)))" } ?? "-"]
                if showDataset { row.insert(SafeText.terminal(d.dataset), at: 0) }
                return row
            }))
        }
        Console.out(out.joined(separator: "\n"))
        let unsettled = report.disagreements.filter { $0.adjudication == nil }.count
        Console.error("\(report.annotators.count) annotator\(report.annotators.count == 1 ? "" : "s"), \(report.disagreements.count) disagreeing pair\(report.disagreements.count == 1 ? "" : "s") (\(unsettled) not adjudicated), \(report.adjudicated) adjudicated pair\(report.adjudicated == 1 ? "" : "s")")
        if report.legacyVerdicts > 0 { Console.error(legacyNote(report.legacyVerdicts)) }
    }

    /// The report as one JSON object; every string through `SafeText.jsonQuoted`.
    static func json(_ report: AgreementReport, store: String, dataset: String?, model: FlagModel?) -> String {
        func q(_ s: String) -> String { SafeText.jsonQuoted(s) }
        func number(_ d: Double?) -> String { d.map { "\($0)" } ?? "null" }
        func verdict(_ v: AnnotatorVerdict) -> String {
            "{\"annotator\":\(q(v.annotator)),\"verdict\":\(q(v.verdict.rawValue)),\"createdAt\":\(q(FlagTime.format(v.at)))}"
        }
        let annotators = report.annotators.map { c in
            "{\"annotator\":\(q(c.annotator)),\"wrong\":\(c.wrong),\"confirmed\":\(c.confirmed),\"total\":\(c.total),\"pairs\":\(c.pairs)}"
        }
        let agreement = report.pairwise.map { p in
            let t = p.table
            return "{\"annotators\":[\(q(p.first)),\(q(p.second))],\"shared\":\(t.shared),\"agreed\":\(t.agreed),"
                + "\"observed\":\(number(t.observed)),\"expected\":\(number(t.expected)),\"kappa\":\(number(t.kappa)),"
                + "\"kappaUndefined\":\(t.kappaUndefinedReason.map(q) ?? "null"),"
                + "\"table\":{\"bothWrong\":\(t.bothWrong),\"onlyFirstWrong\":\(t.onlyFirstWrong),"
                + "\"onlySecondWrong\":\(t.onlySecondWrong),\"bothConfirmed\":\(t.bothConfirmed)}}"
        }
        let disagreements = report.disagreements.map { d in
            "{\"dataset\":\(q(d.dataset)),\"query\":\(q(d.query)),\"match\":\(q(d.match)),"
                + "\"verdicts\":[\(d.verdicts.map(verdict).joined(separator: ","))],"
                + "\"adjudication\":\(d.adjudication.map(verdict) ?? "null")}"
        }
        let modelField = model.map { "{\"key\":\(q($0.key)),\"name\":\(q($0.name))}" } ?? "null"
        return "{\"store\":\(q(store)),\"dataset\":\(dataset.map(q) ?? "null"),\"model\":\(modelField),"
            + "\"annotators\":[\(annotators.joined(separator: ","))],\"agreement\":[\(agreement.joined(separator: ","))],"
            + "\"disagreements\":[\(disagreements.joined(separator: ","))],"
            + "\"adjudicatedPairs\":\(report.adjudicated),\"legacyVerdicts\":\(report.legacyVerdicts)}"
    }
}
