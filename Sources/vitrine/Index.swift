import ArgumentParser
import Capture
import Catalog
import Foundation
import Retrieval
import SafeText

/// `vitrine index`: builds (or checks) the gallery index of a dataset for the zero-shot towers
/// and, with --model, for a checkpoint.
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Build the gallery index (embeddings of every gallery item), or check that it is current.",
        discussion: """
        Computes, in batches, the zero-shot tower vectors of every gallery item (MiniLM sentence embedding \
        of the caption, pooled EfficientNet-Lite0 feature of the image) and, with --model CKPT, the \
        checkpoint's e, z_t and z_v. Indexes are stored outside the dataset, under $VITRINE_CACHE/index, \
        else $XDG_CACHE_HOME/vitrine/index, else ~/.cache/vitrine/index, with the hashes of the \
        checkpoint, backbone, tokenizer and gallery; an index is rebuilt only when one of them changed \
        (or with --rebuild). Backbone features come from the feature cache.
        """)

    @OptionGroup var dataOptions: DataOptions

    @Option(name: .long, help: ArgumentHelp("A Vitrine checkpoint (.safetensors): also index its e, z_t and z_v.", valueName: "CKPT"))
    var model: String?
    @Option(name: .long, help: ArgumentHelp("Text tower of the zero-shot system: e5 (multilingual-e5-small, the default) or minilm (all-MiniLM-L6-v2, English). A checkpoint uses its own.", valueName: "TOWER"))
    var textTower: TextTower?

    @Flag(name: .long, help: "Rebuild even when the stored index is current.")
    var rebuild = false

    @OptionGroup var report: ReportFlags
    private var json: Bool { report.json }
    private var quiet: Bool { report.quiet }

    func run() throws {
        let dataset = try dataOptions.load()
        var systems: [RetrievalSystem] = [.zeroShot]
        if let model { systems.append(.model(checkpoint: absolute(model))) }
        let options = RetrievalOptions(rebuild: rebuild, zeroShotTextTower: textTower ?? .standard)
        var reports: [IndexReport] = []
        for system in systems {
            let bar = ProgressLine(enabled: !quiet)
            let start = Date()
            let name = system.displayName
            let (_, report) = try GalleryIndexer.prepare(dataset: dataset, system: system, options: options) { event in
                switch event {
                case .progress(let done, let total):
                    let elapsed = Date().timeIntervalSince(start)
                    let rate = elapsed > 0 ? Double(done) / elapsed : 0
                    bar.update(String(format: "%@: %d/%d items, %.1f items/s", name, done, total, rate),
                               fraction: Double(done) / Double(max(1, total)))
                case .started(let items): bar.update("\(name): indexing \(items) gallery items", fraction: 0)
                case .upToDate, .finished: break
                }
            }
            if report.built {
                let resumed = report.resumedItems > 0 ? ", resuming an interrupted build at item \(report.resumedItems)" : ""
                bar.finish(String(format: "%@: indexed %d items in %.1f s (%.1f items/s)%@", name, report.items,
                                  report.seconds, report.itemsPerSecond ?? 0, resumed))
            }
            reports.append(report)
        }
        if json {
            let objects = reports.map { r -> String in
                var fields = ["\"system\":\(jsonString(r.system))", "\"path\":\(jsonString(r.path))", "\"items\":\(r.items)",
                              "\"built\":\(r.built)", "\"seconds\":\(r.seconds)", "\"missingImages\":\(r.missingImages)",
                              "\"resumedItems\":\(r.resumedItems)"]
                fields.append("\"itemsPerSecond\":" + (r.itemsPerSecond.map { "\($0)" } ?? "null"))
                fields.append("\"reason\":" + (r.reason.map(jsonString) ?? "null"))
                return "{" + fields.joined(separator: ",") + "}"
            }
            Console.json("[" + objects.joined(separator: ",") + "]")
        } else {
            for r in reports {
                let state = r.built
                    ? String(format: "built in %.1f s, %.1f items/s (%@)", r.seconds, r.itemsPerSecond ?? 0, r.reason ?? "")
                    : "up to date"
                Console.out("\(SafeText.terminal(r.system)): \(r.items) items, \(SafeText.terminal(state))\n  \(SafeText.terminal(r.path))")
                if r.missingImages > 0 { Console.out("  \(r.missingImages) item(s) without a readable image (zero image vectors)") }
            }
        }
    }
}

/// A JSON string literal for `text`, every control character escaped (`SafeText.jsonQuoted`).
func jsonString(_ text: String) -> String { SafeText.jsonQuoted(text) }
