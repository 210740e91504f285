import SafeText
import Support
import ArgumentParser
import Capture
import Catalog
import Explorer
import Foundation
import Retrieval

@main
struct Vitrine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vitrine",
        abstract: "A terminal explorer for cross-modal, instance-level product retrieval.",
        discussion: "With no subcommand, opens the explorer on SampleData (or --data DIR).",
        version: "0.1.0",
        subcommands: [Explore.self, Info.self, SampleDataCommand.self, Embed.self, Eval.self, CompareCommand.self, ExportCommand.self, IndexCommand.self, QueryCommand.self, ServeCommand.self, ServeSessionCommand.self, FeaturesCommand.self, Train.self, TrainProbeCommand.self, FlagsCommand.self, Keys.self, Themes.self, Doctor.self, ShowCommand.self, BenchSearch.self, BenchModel.self, BenchQuery.self],
        defaultSubcommand: Explore.self
    )

    /// Runs the command; every message (help, usage errors, errors that quote data) goes out
    /// through `Console`, so no byte of data reaches the terminal as a control sequence.
    static func main() {
        OpenBLASCore.chooseAndReexecIfNeeded()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == .success { Console.out(message) } else { Console.error(message) }
            }
            Foundation.exit(code.rawValue)
        }
    }
}

/// Options shared by the commands that open a dataset.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The dataset folder: Product1M layout or a captions.tsv/.jsonl folder.", valueName: "DIR"))
    var data: String?

    @Flag(name: .long, help: "Stop at the first malformed line instead of skipping it.")
    var strict = false

    /// The folder to open: --data, $VITRINE_DATA, or the SampleData shipped with Vitrine.
    func resolved() throws -> String {
        if let d = data { return absolute(d) }
        if let env = ProcessInfo.processInfo.environment["VITRINE_DATA"], !env.isEmpty { return absolute(env) }
        if let found = RepositoryFolder.find("SampleData") { return found }
        throw ValidationError("no dataset given and no SampleData found; pass --data DIR, or make one with `vitrine sample-data --out DIR`")
    }

    /// The dataset `resolved()` names, loaded with `--strict` as given.
    func load() throws -> Dataset {
        try Dataset.load(from: try resolved(), options: LoadOptions(strict: strict))
    }
}

/// `--json` and `--quiet` of the commands that print a report after a long run (`index`, `features`).
struct ReportFlags: ParsableArguments {
    @Flag(name: .long, help: "Print a JSON report instead of text.")
    var json = false

    @Flag(name: .long, help: "No progress output.")
    var quiet = false
}

func absolute(_ path: String) -> String {
    let url = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    return url.standardizedFileURL.path
}

/// Folders that ship with Vitrine (SampleData, Themes): found from the executable
/// (`Installation`), never from the working directory.
enum RepositoryFolder {
    static func find(_ name: String) -> String? { Installation.folder(name) }
}

/// `--link`: how fast the link to the terminal is (docs/architecture.md §3.4).
enum LinkChoice: String, ExpressibleByArgument, CaseIterable, Codable {
    case normal, slow
}

struct Explore: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Browse a dataset in the terminal (the default command).")

    @OptionGroup var dataOptions: DataOptions

    @Option(name: .long, help: ArgumentHelp("Colour theme: a name from `vitrine themes` or a path to a .toml file.", valueName: "NAME"))
    var theme: String = "dark"

    @Option(name: .long, help: ArgumentHelp("Key overrides (TOML). Default: ~/.config/vitrine/keys.toml if present.", valueName: "FILE"))
    var keys: String?

    @Option(name: .long, help: ArgumentHelp("Colours. Default: detected from the terminal (and NO_COLOR).", valueName: "MODE"))
    var color: ColorChoice = .auto

    @Flag(name: .long, help: "Do not capture the mouse (leaves the terminal's own selection working).")
    var noMouse = false

    @Option(name: .long, help: ArgumentHelp("The link to the terminal: slow draws images with less detail and far fewer bytes (L toggles it).", valueName: "SPEED"))
    var link: LinkChoice = .normal

    @Option(name: .long, help: ArgumentHelp("How images are drawn: auto (asks the terminal), kitty, sixel, iterm (real pixels), blocks (half blocks) or ascii. I cycles through what the terminal shows; --link slow keeps blocks.", valueName: "MODE"))
    var images: String = "auto"

    @Option(name: .long, help: ArgumentHelp("Search with this Vitrine checkpoint (.safetensors); without it, the zero-shot towers.", valueName: "CKPT"))
    var model: String?
    @Option(name: .long, help: ArgumentHelp("Text tower of the zero-shot system: e5 (multilingual-e5-small, the default) or minilm (all-MiniLM-L6-v2, English). A checkpoint uses its own.", valueName: "TOWER"))
    var textTower: TextTower?

    @Option(name: .long, help: ArgumentHelp("The pretrained towers' folder. Default: $VITRINE_WEIGHTS, else Weights/ (see `make weights`).", valueName: "DIR"))
    var weights: String?

    @Flag(name: .long, help: "Browse only: do not open the retrieval engine (no gallery index is built).")
    var noSearch = false

    @Option(name: .long, help: ArgumentHelp("Inspect this ranking file (retrieval_id_list.txt): its queries, worst AP first.", valueName: "FILE"))
    var rankings: String?

    @Option(name: .long, help: ArgumentHelp("Record flags under this name. Default: $VITRINE_ANNOTATOR, else $USER.", valueName: "NAME"))
    var annotator: String?

    @Option(name: .long, help: ArgumentHelp("The flags store (SQLite). Default: $VITRINE_FLAGS, else ~/.local/share/vitrine/flags.sqlite.", valueName: "PATH"))
    var flags: String?

    @Option(name: .long, help: ArgumentHelp("Where training runs started with t write their folders. Default: ./vitrine-runs.", valueName: "DIR"))
    var runs: String?

    @Option(name: .long, help: ArgumentHelp("Follow a training run in the training pane: its folder's events.jsonl, written by vitrine train or the PyTorch twin, wherever it runs (waits for the file to appear). When the run ends, its best model is offered (U re-indexes the gallery with it).", valueName: "RUN_DIR"))
    var follow: String?

    @Flag(name: .long, help: "A guest session (what `vitrine serve` runs for each SSH guest): browse and search only. No flags, reviews, exports, training or model switching; no file is written (the host prepares the gallery index with `vitrine index`); image:PATH only inside the dataset; searches take turns with other guests on $VITRINE_GUEST_LOCK.")
    var guest = false

    @Option(name: .long, help: ArgumentHelp("With --guest: seconds without a key before the session ends (a warning comes 60 s before).", valueName: "SECONDS"))
    var idleLimit: Int = 600

    @Option(name: .long, help: ArgumentHelp("With --guest: seconds after which the session ends.", valueName: "SECONDS"))
    var sessionLimit: Int = 3600

    func validate() throws {
        if noSearch && model != nil { throw ValidationError("--no-search and --model do not go together") }
        if noSearch && textTower != nil { throw ValidationError("--no-search and --text-tower do not go together") }
        if model != nil && textTower != nil {
            throw ValidationError("--text-tower chooses the zero-shot system's tower; a --model checkpoint uses its own")
        }
        if let annotator, annotator.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--annotator must not be empty") }
        do { _ = try ImagesOption.parse(images) } catch { throw ValidationError(error.description) }
        if guest {
            if follow != nil { throw ValidationError("--follow does not go with --guest: a guest follows no training") }
            for (given, name) in [(flags != nil, "--flags"), (annotator != nil, "--annotator"), (runs != nil, "--runs")] where given {
                throw ValidationError("\(name) does not go with --guest: a guest records no flags and starts no training")
            }
        }
        guard (10 ... 86_400).contains(idleLimit) else { throw ValidationError("--idle-limit must be 10 to 86400 seconds; got \(idleLimit)") }
        guard (10 ... 604_800).contains(sessionLimit) else { throw ValidationError("--session-limit must be 10 to 604800 seconds; got \(sessionLimit)") }
    }

    func run() throws {
        if let rankings, !FileManager.default.isReadableFile(atPath: absolute(rankings)) {
            throw ValidationError("--rankings \(rankings): no such readable file")
        }
        if let follow, let problem = RunFollower.folderProblem(absolute(follow)) {
            throw ValidationError("--follow: \(problem)")
        }
        let system: RetrievalSystem = model.map { .model(checkpoint: absolute($0)) } ?? .zeroShot
        let retrievalOptions = {
            var o = RetrievalOptions(weightsPath: weights.map(absolute), zeroShotTextTower: textTower ?? .standard)
            // A guest writes nothing: the host's index is opened as it is, features are not stored.
            o.readOnly = guest
            return o
        }()
        let opener: RetrievalOpener? = noSearch ? nil : EngineRetrievalService.opener(system: system, options: retrievalOptions)
        // Another model chosen in the explorer (a run's offer, the model picker): a checkpoint, or
        // the zero-shot towers (nil). A guest has one model, the host's.
        let reopen: (@Sendable (String?) -> RetrievalOpener)? = noSearch || guest ? nil : { @Sendable checkpoint in
            EngineRetrievalService.opener(system: checkpoint.map { .model(checkpoint: $0) } ?? .zeroShot, options: retrievalOptions)
        }
        var options = ExplorerOptions(dataPath: try dataOptions.resolved(), themeName: theme, keysFile: keys,
                                      colorOverride: color.mode,
                                      mouse: !noMouse, strict: dataOptions.strict,
                                      openRetrieval: opener, retrievalUnavailable: "started with --no-search",
                                      openFlags: FlagsSetup.opener(path: flags.map(absolute)),
                                      annotator: annotator ?? FlagsSetup.defaultAnnotator(),
                                      rankingsPath: rankings.map(absolute), reopenRetrieval: reopen,
                                      flagsPath: flags.map(absolute))
        if let runs { options.runsDirectory = absolute(runs) }
        options.slowLink = link == .slow
        options.images = (try? ImagesOption.parse(images)) ?? .auto
        options.modelPath = model.map(absolute)
        options.followDirectory = follow.map(absolute)
        // A run started from the explorer fine-tunes the model it is showing.
        if let model { options.trainingArguments = ["--init-from", absolute(model)] }
        if guest {
            // SSH passes the client's locale only when it sends one; without any, a guest's
            // explorer would fall back to ASCII and show "?" for every Chinese character. SSH
            // clients are UTF-8 terminals: say so (a locale the client did send is kept).
            // A locale the client sent that this host does not have (macOS sends LC_CTYPE=UTF-8,
            // which glibc does not know) would leave the explorer in the C locale just the same.
            let env = ProcessInfo.processInfo.environment
            if ["LC_ALL", "LC_CTYPE", "LANG"].allSatisfy({ (env[$0] ?? "").isEmpty }) || setlocale(LC_ALL, "") == nil {
                setenv("LC_ALL", "C.UTF-8", 1)
            }
            options.guest = GuestLimits(idleSeconds: idleLimit, warningSeconds: 60, sessionSeconds: sessionLimit)
            options.openFlags = nil
            options.guestLockPath = ProcessInfo.processInfo.environment["VITRINE_GUEST_LOCK"].flatMap { $0.isEmpty ? nil : $0 }
        }
        let app = ExplorerApp(options: options)
        let code = try app.run()
        if let ended = app.guestEnded { Console.error(SafeText.terminal(ended)) }
        // The terminal is restored. Background work (an index build inside OpenBLAS, a decode)
        // may still be running: end the process now rather than run library destructors under it
        // (OpenBLAS frees its buffers at exit while a GEMM is using them).
        fflush(nil)
        _exit(code)
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Count samples, labels, missing images and malformed lines per split.")

    @OptionGroup var dataOptions: DataOptions

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let dataset = try dataOptions.load()
        let info = DatasetInfo(dataset)
        if json { Console.json(info.jsonString()) } else { Console.out(info.table(), terminator: "") }
    }
}

struct SampleDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sample-data",
        abstract: "Generate the synthetic cosmetics dataset (Product1M layout).",
        discussion: "The same seed and sizes always give byte-identical files. The shipped SampleData/ is `vitrine sample-data --out SampleData` with the defaults.")

    @Option(name: .long, help: ArgumentHelp("Folder to write.", valueName: "DIR")) var out: String
    @Option(name: .long, help: "Random seed.") var seed: UInt64 = SampleDataOptions.default.seed
    @Option(name: .long, help: "Number of invented brands.") var brands: Int = SampleDataOptions.default.brands
    @Option(name: .long, help: "Gallery views per product instance.") var galleryViews: Int = SampleDataOptions.default.galleryViews
    @Option(name: .long, help: "Training items.") var train: Int = SampleDataOptions.default.trainItems
    @Option(name: .long, help: "Dev queries.") var dev: Int = SampleDataOptions.default.devQueries
    @Option(name: .long, help: "Test queries.") var test: Int = SampleDataOptions.default.testQueries
    @Option(name: .long, help: "Smallest image side in pixels.") var minSide: Int = SampleDataOptions.default.minSide
    @Option(name: .long, help: "Largest image side in pixels.") var maxSide: Int = SampleDataOptions.default.maxSide
    @Option(name: .long, help: "JPEG quality (1-100).") var quality: Int = SampleDataOptions.default.jpegQuality
    @Flag(name: .long, help: "Write captions only, no images (for catalogue-loading benchmarks).") var noImages = false
    @Flag(name: .long, help: "Replace the files of an earlier SampleData in DIR.") var overwrite = false
    @Flag(name: .long, help: "No progress output.") var quiet = false

    func validate() throws {
        guard (1...100).contains(quality) else { throw ValidationError("--quality must be 1...100") }
        guard brands > 0, galleryViews > 0, train >= 0, dev >= 0, test >= 0 else { throw ValidationError("sizes must be positive") }
        guard maxSide >= minSide else { throw ValidationError("--max-side must be at least --min-side") }
    }

    func run() throws {
        var o = SampleDataOptions.default
        o.seed = seed; o.brands = brands; o.galleryViews = galleryViews
        o.trainItems = train; o.devQueries = dev; o.testQueries = test
        o.minSide = minSide; o.maxSide = maxSide; o.jpegQuality = quality; o.writeImages = !noImages
        let start = Date()
        let bar = ProgressLine(enabled: !quiet)
        try SampleDataGenerator(options: o).generate(into: absolute(out), overwrite: overwrite) { event in
            switch event {
            case .planned(let images): bar.update("planned \(images) images")
            case .wrote(let n, let total): bar.update("images \(n)/\(total)", fraction: Double(n) / Double(max(1, total)))
            case .finished(let files, let bytes):
                bar.finish(String(format: "wrote %d files, %.1f MB, in %.1f s", files, Double(bytes) / 1e6, Date().timeIntervalSince(start)))
            }
        }
    }
}

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the key bindings (with --markdown, the README's table).")
    @Flag(name: .long, help: "Print a Markdown table.") var markdown = false
    @Option(name: .long, help: ArgumentHelp("Key overrides file to apply.", valueName: "FILE")) var keys: String?

    func run() throws {
        let map = try KeyMap.load(path: keys)
        if markdown { Console.out(map.markdownTable(), terminator: ""); return }
        for ctx in ActionContext.allCases {
            let actions = ActionRegistry.all.filter { $0.context == ctx }
            guard !actions.isEmpty else { continue }
            Console.out(ctx.title)
            for a in actions {
                let k = map.keys(for: a.id).map { KeyName.format($0) }.joined(separator: " ")
                Console.out("  " + k.padding(toLength: max(k.count, 22), withPad: " ", startingAt: 0) + "  " + map.describe(a))
            }
        }
    }
}

struct Themes: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the colour themes and where they are looked for.")
    func run() throws {
        for name in ThemeLibrary.available() { Console.out(SafeText.terminal(name)) }
        Console.out("\nsearched: " + ThemeLibrary.searchPaths().map(SafeText.terminal).joined(separator: ", "))
    }
}

/// A one-line progress display on stderr (a bar when it is a terminal).
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let tty = isatty(2) != 0
    private let lock = NSLock()
    private var last = Date.distantPast

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ text: String, fraction: Double? = nil) {
        guard enabled else { return }
        lock.lock(); defer { lock.unlock() }
        let now = Date()
        guard tty, now.timeIntervalSince(last) > 0.1 || fraction == 1 else { return }
        last = now
        var line = text
        if let f = fraction {
            let width = 30, filled = Int(f * Double(width))
            line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] " + text
        }
        Console.progress(line, terminal: true)
    }

    func finish(_ text: String) {
        guard enabled else { return }
        Console.finishProgress(text, terminal: tty)
    }
}
