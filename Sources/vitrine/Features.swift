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
        // The samples' images in split order, 256 at a time: nothing is kept per image, so a
        // training split of a million images costs no memory (an image two samples share is
        // found in the cache the second time).
        let total = chosen.reduce(0) { $0 + $1.samples.count }
        var cursor = (split: 0, position: 0), withoutImage = 0
        func nextPaths() -> [String] {
            var paths: [String] = []
            while paths.count < 256, cursor.split < chosen.count {
                let samples = chosen[cursor.split].samples
                if cursor.position >= samples.count { cursor = (cursor.split + 1, 0); continue }
                if let path = samples.imagePath(at: cursor.position) { paths.append(path) } else { withoutImage += 1 }
                cursor.position += 1
            }
            return paths
        }
        // Ctrl-C or SIGTERM: the batch in hand finishes, the summary says where it stopped.
        let stop = StopRequest()
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.request(sig) }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }
        let network = try EfficientNetLite0(weights: try WeightsFolder.locate())
        let cache = try FeatureCache(backbone: network.identity, precision: precision == .float16 ? .float16 : .float32)
        let bar = ProgressLine(enabled: !quiet)
        let start = Date()
        var cached = 0, computed = 0, failed = 0, writeFailures = 0
        var firstFailures: [String] = []
        var done = 0, images = 0
        while stop.signal == nil {
            let batch = nextPaths()
            if batch.isEmpty { break }
            images += batch.count
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
            done = cursor.split < chosen.count ? chosen[..<cursor.split].reduce(0) { $0 + $1.samples.count } + cursor.position : total
            let elapsed = Date().timeIntervalSince(start)
            let rate = elapsed > 0 ? Double(computed) / elapsed : 0
            let eta = rate > 0 ? Double(total - done) / max(rate, Double(done) / elapsed) : 0
            bar.update(String(format: "features: %d/%d samples, %d computed (%.1f images/s), %d cached, ETA %@",
                              done, total, computed, rate, cached, EventOutput.duration(eta)),
                       fraction: Double(done) / Double(max(1, total)))
        }
        let seconds = Date().timeIntervalSince(start)
        let bytesPerImage = FeatureCache.headerBytes + cache.elementCount * (precision == .float16 ? 2 : 4)
        let rate = seconds > 0 ? Double(computed) / seconds : 0
        if json {
            var fields = ["\"images\":\(images)", "\"samples\":\(done)", "\"totalSamples\":\(total)",
                          "\"stopped\":\(stop.signal != nil)", "\"withoutImage\":\(withoutImage)", "\"cached\":\(cached)",
                          "\"computed\":\(computed)", "\"failed\":\(failed)", "\"writeFailures\":\(writeFailures)",
                          "\"precision\":\(jsonString(precision.rawValue))", "\"bytesPerImage\":\(bytesPerImage)",
                          "\"seconds\":\(seconds)", "\"computedPerSecond\":\(rate)", "\"cache\":\(jsonString(cache.directory))"]
            fields.append("\"firstFailures\":[" + firstFailures.map(jsonString).joined(separator: ",") + "]")
            Console.json("{" + fields.joined(separator: ",") + "}")
            if let sig = stop.signal { throw ExitCode(128 + sig) }
            return
        }
        bar.finish(String(format: "features: %d images in %.1f s: %d computed (%.1f images/s), %d already cached, %d unreadable",
                          images, seconds, computed, rate, cached, failed))
        if stop.signal != nil {
            Console.out("stopped after \(done) of \(total) samples; run the same command again to compute the rest")
        }
        Console.out("\(images) images (\(withoutImage) samples without one): \(cached) were cached, \(computed) computed, \(failed) unreadable")
        Console.out("new entries: \(precision.rawValue), \(bytesPerImage) bytes each; cache: \(SafeText.terminal(cache.directory))")
        for f in firstFailures { Console.out("  " + SafeText.terminal(f)) }
        if writeFailures > 0 { Console.out("\(writeFailures) entries could not be written (features still computed; see the cache folder's free space)") }
        if let sig = stop.signal { throw ExitCode(128 + sig) }
    }
}

/// A stop asked for by a signal, read by the loop between batches.
final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var received: Int32?
    func request(_ sig: Int32) { lock.withLock { if received == nil { received = sig } } }
    var signal: Int32? { lock.withLock { received } }
}
