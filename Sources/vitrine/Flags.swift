import Support
import Annotations
import ArgumentParser
import Foundation
import SafeText

/// `vitrine flags`: the annotators' verdicts (wrong / confirmed matches) kept in the
/// flag store, which the explorer writes and fine-tuning reads.
struct FlagsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flags",
        abstract: "List, add, undo, export and import the annotators' flags.",
        discussion: """
            The flag store is an SQLite file shared by every explorer and command on the machine: \
            --store PATH, else $VITRINE_FLAGS, else $XDG_DATA_HOME/vitrine/flags.sqlite, \
            else ~/.local/share/vitrine/flags.sqlite.
            """,
        subcommands: [FlagsList.self, FlagsAdd.self, FlagsUndo.self, FlagsExport.self, FlagsImport.self, FlagsPairs.self]
    )
}

/// `--store PATH`, shared by every `flags` subcommand.
struct FlagStoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The flag store (SQLite). Default: $VITRINE_FLAGS, else $XDG_DATA_HOME/vitrine/flags.sqlite, else ~/.local/share/vitrine/flags.sqlite.", valueName: "PATH"))
    var store: String?

    var path: String { absolute(store ?? FlagStore.defaultPath()) }

    func open() throws -> FlagStore { try FlagStore(path: path) }
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
        if history {
            for r in try store.history(dataset: dataset, query: query) {
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
        }
        guard !rows.isEmpty else {
            Console.error("no flags in \(SafeText.terminal(store.path))\(dataset.map { " for dataset \(SafeText.terminal($0))" } ?? "")")
            return
        }
        var header = ["ID", "TIME (UTC)", "VERDICT", "ANNOTATOR", "DATASET", "QUERY", "MATCH", "MODEL"]
        if history { header.append("STATUS") }
        Console.out(Self.table([header] + rows))
    }

    static func columns(_ f: Annotations.Flag) -> [String] {
        [f.id.map(String.init) ?? "-", FlagTime.format(f.createdAt), f.verdict.rawValue,
         SafeText.terminal(f.annotator), SafeText.terminal(f.dataset), SafeText.terminal(f.query), SafeText.terminal(f.match), SafeText.terminal(f.model)]
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
        discussion: "The annotator's earlier verdict on the same dataset, query, match and model is replaced (and kept in the history).")

    @OptionGroup var storeOptions: FlagStoreOptions
    @Option(name: .long, help: "The dataset's identity.") var dataset: String
    @Option(name: .long, help: "The query: a sample id, or caption:<text>.") var query: String
    @Option(name: .long, help: "The matched gallery sample's id.") var match: String
    @Option(name: .long, help: "The model that ranked it: zero-shot or a checkpoint's SHA-256.") var model: String = "zero-shot"
    @Option(name: .long, help: "The verdict.") var verdict: Verdict
    @Option(name: .long, help: "Who says so. Default: $VITRINE_ANNOTATOR, else $USER.") var annotator: String?
    @Option(name: .long, help: ArgumentHelp("When (ISO 8601, e.g. 2026-11-21T08:11:58.123Z). Default: now.", valueName: "TIME")) var at: String?

    func validate() throws {
        if let at, FlagTime.parse(at) == nil {
            throw ValidationError("--at must be an ISO 8601 time such as 2026-11-21T08:11:58.123Z (got \"\(SafeText.terminal(at))\")")
        }
    }

    func run() throws {
        let store = try storeOptions.open()
        let flag = Annotations.Flag(dataset: dataset, query: query, match: match, model: model, verdict: verdict,
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

struct FlagsExport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export",
        abstract: "Write the current verdicts as CSV or JSON lines.",
        discussion: """
            Fields: dataset, query, match, model, verdict, annotator, createdAt (ISO 8601, UTC, milliseconds). \
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
            `vitrine train --flag-rule` takes the same rule, with the same default.
            """)

    @OptionGroup var storeOptions: FlagStoreOptions
    @Option(name: .long, help: "The dataset.") var dataset: String
    @Option(name: .long, help: "How disagreeing annotators are settled.") var rule: DisagreementRule = .majority

    func run() throws {
        let store = try storeOptions.open()
        let pairs = try store.pairs(dataset: dataset, rule: rule)
        let rows = pairs.map { p in
            [p.isPositive ? "positive" : "negative", SafeText.terminal(p.query), SafeText.terminal(p.match),
             "\(p.annotators)", p.contested ? "contested" : ""]
        }
        if !rows.isEmpty { Console.out(FlagsList.table([["PAIR", "QUERY", "MATCH", "ANNOTATORS", ""]] + rows)) }
        let positives = pairs.filter(\.isPositive).count
        Console.error("\(pairs.count) pair\(pairs.count == 1 ? "" : "s"): \(positives) positive, \(pairs.count - positives) negative, \(pairs.filter(\.contested).count) contested")
    }
}
