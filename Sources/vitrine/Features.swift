import ArgumentParser
import Capture
import Catalog
import Foundation
import SafeText

/// `vitrine features`: the backbone features of a dataset's images, computed into the feature cache
/// ahead of training or indexing (docs/data.md §6.1).
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "features",
        abstract: "Compute the backbone features of a dataset's images into the feature cache.",
        discussion: """
        Training and indexing read EfficientNet-Lite0's block-15 map of every image from the feature cache \
        and compute the missing ones first; this computes them ahead, for every split or the --split ones, \
        on every core, with progress. It can be stopped at any time (Ctrl-C, kill): every entry is written \
        whole, and the next run computes only what is missing. New entries are float16 unless \
        --precision float32 (entries of either precision are read by everything).
        """)

    enum PrecisionChoice: String, ExpressibleByArgument, CaseIterable { case float16, float32 }

    @OptionGroup var dataOptions: DataOptions

    @Option(name: .long, help: ArgumentHelp("Only this split (repeatable; default: every split).", valueName: "SPLIT"))
    var split: [String] = []

    @Option(name: .long, help: "How new entries are stored: float16 (half the size) or float32.")
    var precision: PrecisionChoice = .float16

    @OptionGroup var report: ReportFlags
    private var json: Bool { report.json }
    private var quiet: Bool { report.quiet }

    func run() throws {
        let dataset = try dataOptions.load()
        var chosen = dataset.splits
        if !split.isEmpty {
            let names = dataset.splits.map(\.name)
            if let unknown = split.first(where: { !names.contains($0) }) {
                throw ValidationError("no split \(SafeText.quoted(unknown, limit: 40)) in this dataset; its splits: \(names.joined(separator: ", "))")
            }
            chosen = dataset.splits.filter { split.contains($0.name) }
        }
        // Every image once, in split order.
        var seen = Set<String>(), paths: [String] = [], withoutImage = 0
        for s in chosen {
            for p in s.samples.indices {
                guard let path = s.samples.imagePath(at: p) else { withoutImage += 1; continue }
                if seen.insert(path).inserted { paths.append(path) }
            }
        }
        let network = try EfficientNetLite0(weights: try WeightsFolder.locate())
        let cache = try FeatureCache(backbone: network.identity, precision: precision == .float16 ? .float16 : .float32)
        let bar = ProgressLine(enabled: !quiet)
        let start = Date()
        var cached = 0, computed = 0, failed = 0, writeFailures = 0
        var firstFailures: [String] = []
        var done = 0
        while done < paths.count {
            let batch = Array(paths[done ..< min(paths.count, done + 256)])
            let outcome = cache.features(forImagesAt: batch, network: network, batchSize: 32)
            cached += outcome.hits
            computed += outcome.computed
            writeFailures += outcome.writeFailures.count
            for (path, result) in zip(batch, outcome.features) {
                if case .failure(let error) = result {
                    failed += 1
                    if firstFailures.count < 5 { firstFailures.append("\(path): \(error)") }
                }
            }
            done += batch.count
            let elapsed = Date().timeIntervalSince(start)
            let rate = elapsed > 0 ? Double(computed) / elapsed : 0
            let eta = rate > 0 ? Double(paths.count - done) / max(rate, Double(done) / elapsed) : 0
            bar.update(String(format: "features: %d/%d images, %d computed (%.1f images/s), %d cached, ETA %.0f s",
                              done, paths.count, computed, rate, cached, eta), fraction: Double(done) / Double(max(1, paths.count)))
        }
        let seconds = Date().timeIntervalSince(start)
        let bytesPerImage = FeatureCache.headerBytes + cache.elementCount * (precision == .float16 ? 2 : 4)
        let rate = seconds > 0 ? Double(computed) / seconds : 0
        if json {
            var fields = ["\"images\":\(paths.count)", "\"withoutImage\":\(withoutImage)", "\"cached\":\(cached)",
                          "\"computed\":\(computed)", "\"failed\":\(failed)", "\"writeFailures\":\(writeFailures)",
                          "\"precision\":\(jsonString(precision.rawValue))", "\"bytesPerImage\":\(bytesPerImage)",
                          "\"seconds\":\(seconds)", "\"computedPerSecond\":\(rate)", "\"cache\":\(jsonString(cache.directory))"]
            fields.append("\"firstFailures\":[" + firstFailures.map(jsonString).joined(separator: ",") + "]")
            Console.json("{" + fields.joined(separator: ",") + "}")
            return
        }
        bar.finish(String(format: "features: %d images in %.1f s: %d computed (%.1f images/s), %d already cached, %d unreadable",
                          paths.count, seconds, computed, rate, cached, failed))
        Console.out("\(paths.count) images (\(withoutImage) samples without one): \(cached) were cached, \(computed) computed, \(failed) unreadable")
        Console.out("new entries: \(precision.rawValue), \(bytesPerImage) bytes each; cache: \(SafeText.terminal(cache.directory))")
        for f in firstFailures { Console.out("  " + SafeText.terminal(f)) }
        if writeFailures > 0 { Console.out("\(writeFailures) entries could not be written (features still computed; see the cache folder's free space)") }
    }
}
