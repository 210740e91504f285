import ArgumentParser
import Capture
import Catalog
import Foundation
import SafeText
import Retrieval

/// `vitrine query`: ranks the gallery for a caption, an image file or a dataset sample, for scripts.
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Rank the gallery for a caption, an image file or a dataset sample.",
        discussion: """
        With --model CKPT a caption is matched by z_t against the gallery's z_v, an image by z_v, and a \
        sample as a pair (image and caption) by e; without it, by the zero-shot towers (MiniLM sentence \
        embeddings caption to caption, pooled backbone features image to image, their mean for a pair). \
        Scores are cosine similarities. For a labelled sample, each match is marked relevant (+) or not \
        (-), and the query's AP at the returned depth is printed (official Product1M definition). \
        The gallery index is built first when it is missing or stale (see `vitrine index`). \
        With --stdin, the model and index are loaded once and every line of standard input is a query: \
        plain text is a caption, a JSON object names one ({"caption": ...}, {"image": PATH} or \
        {"sample": ID, "mode": "pair"}, with optional "top", "label" and "kind"); each answer is one \
        JSON line on standard output, in input order, {"line": N, "error": ...} for a query that fails.
        """)

    @Argument(help: ArgumentHelp("A caption to search for.", valueName: "caption"))
    var caption: String?

    @Option(name: .long, help: ArgumentHelp("Search with an image file (JPEG or PNG).", valueName: "PATH"))
    var image: String?

    @Option(name: .long, help: ArgumentHelp("Search with a dataset sample (any split).", valueName: "ID"))
    var sample: String?

    @Option(name: .long, help: ArgumentHelp("How a --sample is used: caption, image or pair.", valueName: "MODE"))
    var mode: QueryMode = .pair

    @Option(name: .long, help: "Number of matches.")
    var top: Int = 10

    @Option(name: .long, help: ArgumentHelp("Only gallery items with this product label.", valueName: "LABEL"))
    var label: String?

    @Option(name: .long, help: ArgumentHelp("Only single-product or only multi-product gallery items: single or multi.", valueName: "KIND"))
    var kind: KindChoice?

    @OptionGroup var dataOptions: DataOptions

    @Option(name: .long, help: ArgumentHelp("A Vitrine checkpoint (.safetensors); without it, the zero-shot towers.", valueName: "CKPT"))
    var model: String?
    @Option(name: .long, help: ArgumentHelp("Text tower of the zero-shot system: e5 (multilingual-e5-small, the default) or minilm (all-MiniLM-L6-v2, English). A checkpoint uses its own.", valueName: "TOWER"))
    var textTower: TextTower?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @Flag(name: .long, help: "Answer one query per line of standard input, as JSON lines, with the model loaded once.")
    var stdin = false

    @Flag(name: .long, help: "No progress output while an index is built.")
    var quiet = false

    func validate() throws {
        let given = [caption != nil, image != nil, sample != nil].filter { $0 }.count
        if stdin {
            guard given == 0 else { throw ValidationError("--stdin reads the queries from standard input: give no caption, --image or --sample") }
        } else {
            guard given == 1 else { throw ValidationError("give exactly one of: a caption, --image PATH or --sample ID, or --stdin") }
        }
        if model != nil, textTower != nil {
            throw ValidationError("--text-tower chooses the zero-shot system's tower; a --model checkpoint uses its own")
        }
        _ = kindFilter()
        guard top > 0 else { throw ValidationError("--top must be positive") }
    }

    /// `--kind` as a sample kind (nil: no filter).
    private func kindFilter() -> SampleKind? {
        kind.map { $0 == .single ? .single : .multi }
    }

    func run() throws {
        let dataset = try dataOptions.load()
        let system: RetrievalSystem = model.map { .model(checkpoint: absolute($0)) } ?? .zeroShot
        let bar = ProgressLine(enabled: !quiet)
        let engine = try RetrievalEngine(dataset: dataset, system: system,
                                         options: RetrievalOptions(zeroShotTextTower: textTower ?? .standard)) { event in
            if case .progress(let done, let total) = event {
                bar.update("indexing the gallery: \(done)/\(total)", fraction: Double(done) / Double(max(1, total)))
            }
        }
        if engine.indexReport.built {
            bar.finish(String(format: "indexed %d gallery items in %.1f s", engine.indexReport.items, engine.indexReport.seconds))
        }
        let labels = Dictionary(engine.gallery.map { ($0.id, $0.product ?? "") }, uniquingKeysWith: { a, _ in a })
        if stdin {
            QueryLines(engine: engine, labels: labels, top: top, filter: RetrievalFilter(label: label, kind: kindFilter()),
                       mode: mode).answerStandardInput()
            return
        }
        let query: RetrievalQuery
        if let caption {
            query = .caption(caption)
        } else if let image {
            query = .imageFile(path: absolute(image))
        } else {
            query = .sample(id: sample!, mode: mode)
        }
        let result = try engine.search(query, top: top, filter: RetrievalFilter(label: label, kind: kindFilter()))
        if json {
            Console.json("{" + Self.jsonFields(query, result, labels: labels).joined(separator: ",") + "}")
            return
        }
        Console.out("\(Self.describe(query, json: false)), \(SafeText.terminal(result.model)), \(String(format: "%.1f ms", result.seconds * 1000))")
        if let ap = result.averagePrecision { Console.out(String(format: "AP@%d %.4f (official definition)", top, ap)) }
        let ids = result.matches.map { SafeText.terminal($0.sampleID) }
        let idWidth = max(4, ids.map(\.count).max() ?? 0)
        for (m, id) in zip(result.matches, ids) {
            let mark = m.isRelevant.map { $0 ? "+ " : "- " } ?? ""
            let rank = String(repeating: " ", count: max(0, 4 - String(m.rank).count)) + String(m.rank)
            Console.out("\(rank)  \(mark)\(String(format: "%.4f", m.score))  \(id.padding(toLength: idWidth, withPad: " ", startingAt: 0))  \(SafeText.terminal(labels[m.sampleID] ?? ""))")
        }
        if result.matches.isEmpty { Console.out("no gallery item matches the filter") }
    }

    /// The fields of a search's JSON object (`--json`, and each line of `--stdin`).
    static func jsonFields(_ query: RetrievalQuery, _ result: SearchResult, labels: [String: String]) -> [String] {
        var fields = ["\"query\":" + describe(query, json: true), "\"model\":\(jsonString(result.model))",
                      "\"seconds\":\(result.seconds)"]
        fields.append("\"averagePrecision\":" + (result.averagePrecision.map { "\($0)" } ?? "null"))
        let matches = result.matches.map { m -> String in
            "{\"rank\":\(m.rank),\"id\":\(jsonString(m.sampleID)),\"score\":\(m.score),\"label\":\(jsonString(labels[m.sampleID] ?? "")),"
                + "\"relevant\":" + (m.isRelevant.map { "\($0)" } ?? "null") + "}"
        }
        fields.append("\"matches\":[" + matches.joined(separator: ",") + "]")
        return fields
    }

    static func describe(_ query: RetrievalQuery, json: Bool) -> String {
        switch query {
        case .caption(let text):
            return json ? "{\"caption\":\(jsonString(text))}" : "caption \"\(SafeText.terminal(text))\""
        case .imageFile(let path):
            return json ? "{\"image\":\(jsonString(path))}" : "image \(SafeText.terminal(path))"
        case .sample(let id, let mode):
            return json ? "{\"sample\":\(jsonString(id)),\"mode\":\(jsonString(mode.rawValue))}" : "sample \(SafeText.terminal(id)) as \(mode.rawValue)"
        }
    }
}
