import ArgumentParser
import Catalog
import Foundation
import SafeText

/// `vitrine export`: a split's samples, or those a filter lets through (the explorer's `/`
/// filter, the same rule), as TSV or JSON lines (docs/data.md §3.1).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a split's samples, or those matching a filter, as TSV or JSON lines.",
        discussion: """
        The filter is the explorer's: a sample passes when its id, caption or one of its labels \
        contains the text (caption and labels compared lower-cased). TSV has a header line and the \
        columns id, split, line, labels (joined with ;) and caption; JSON lines add the image path. \
        Control characters from the data are escaped in both, so the output is safe to print. \
        Without --out the lines go to standard output; with it the file is written atomically.
        """)

    @OptionGroup var dataOptions: DataOptions

    @Option(name: .long, help: ArgumentHelp("The split to export (default: the gallery).", valueName: "SPLIT"))
    var split: String?

    @Option(name: .long, help: ArgumentHelp("Only the samples whose id, caption or a label contains TEXT.", valueName: "TEXT"))
    var filter: String?

    @Option(name: .long, help: "tsv or jsonl.")
    var format: String = "tsv"

    @Option(name: .long, help: ArgumentHelp("Write to this file (atomically) instead of standard output.", valueName: "FILE"))
    var out: String?

    func validate() throws {
        guard SampleExportFormat(rawValue: format) != nil else {
            throw ValidationError("--format \(SafeText.quoted(format)): use tsv or jsonl")
        }
    }

    func run() throws {
        let dataset = try dataOptions.load()
        let names = dataset.splits.map(\.name)
        let chosen: Split
        if let split {
            guard let found = dataset.split(named: split) else {
                throw ValidationError("no split \(SafeText.quoted(split)) in this dataset; its splits: \(names.joined(separator: ", "))")
            }
            chosen = found
        } else {
            guard let gallery = dataset.gallery ?? dataset.splits.first else { throw CommandError("the dataset has no split") }
            chosen = gallery
        }
        var positions: [Int] = []
        if let filter, !filter.isEmpty {
            SampleFilter(filter).scan(chosen.samples, isCancelled: { false }) { found, _ in positions += found }
        } else {
            positions = Array(chosen.samples.indices)
        }
        let kind = SampleExportFormat(rawValue: format)!
        if let out {
            let path = absolute(out)
            do {
                try SampleExport.write(chosen, positions: positions, format: kind, to: path)
            } catch {
                throw CommandError("cannot write \(SafeText.quoted(path, limit: 200)): \(error)")
            }
            Console.error("\(positions.count) of \(chosen.samples.count) samples of \(SafeText.terminal(chosen.name)) written to "
                + SafeText.terminal(path))
        } else {
            var buffer: [UInt8] = []
            SampleExport.lines(chosen, positions: positions, format: kind) { line in
                buffer += line.utf8
                if buffer.count >= 1 << 20 { Console.exportBytes(buffer); buffer.removeAll(keepingCapacity: true) }
            }
            Console.exportBytes(buffer)
        }
    }
}
