import Foundation
import Retrieval
import Tensor
import Testing

/// The repository root, found from this file's path.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

let sampleDataFolder = repositoryRoot + "/SampleData"
let referenceScript = repositoryRoot + "/tools/reference/official_metrics.py"

/// Runs `python3` with `arguments`; nil when Python cannot be started.
func runPython(_ arguments: [String]) -> (status: Int32, output: String, errors: String)? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    do { try process.run() } catch { return nil }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

let pythonAvailable: Bool = runPython(["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 7) else 1)"])?.status == 0

func temporaryFolder(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "vitrine-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Rankings with every quirk, drawn at random: mostly gallery ids of the query's own labels (so
/// the metrics are far from 0), other gallery ids, repeats, unknown and empty ids, queries of the
/// other split, unknown queries, blank lines, lists from 0 to 120 ids.
func randomRankingText(queries: [(id: String, labels: [String])], gallery: [(id: String, label: String)],
                       seed: UInt64) -> String {
    var rng = SeededRNG(seed: seed)
    var byLabel: [String: [String]] = [:]
    for item in gallery { byLabel[item.label, default: []].append(item.id) }
    var lines: [String] = []
    for query in queries {
        let roll = rng.below(100)
        if roll < 3 { lines.append(""); continue }
        let queryID = roll < 6 ? "999\(rng.below(1000))" : query.id
        let length = rng.below(10) == 0 ? rng.below(5) : rng.below(121)
        var ids: [String] = []
        for _ in 0..<length {
            let pick = rng.below(100)
            if pick < 55, let label = query.labels.randomElement(using: &rng), let pool = byLabel[label], !pool.isEmpty {
                ids.append(pool[rng.below(pool.count)])
            } else if pick < 97 {
                ids.append(gallery[rng.below(gallery.count)].id)
            } else if pick < 99 {
                ids.append("unknown\(rng.below(50))")
            } else {
                ids.append("")
            }
        }
        lines.append(([queryID] + ids).joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
}

@Suite(.enabled(if: pythonAvailable, "python3 is needed for the cross-check"))
struct OfficialCrossCheckTests {
    /// Swift and the Python reference on the same files must print the same metric_results.json.
    func compare(dataset: String, rankingText: String) throws {
        let folder = try temporaryFolder("crosscheck")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let rankingPath = folder + "/" + RankingFile.fileName
        try rankingText.write(toFile: rankingPath, atomically: true, encoding: .utf8)

        let python = try #require(runPython([referenceScript, "--gt", dataset, "--rankings", rankingPath]))
        #expect(python.status == 0, "reference script failed: \(python.errors)")

        let groundTruth = try OfficialGroundTruth.loadProduct1M(folder: dataset)
        let report = try OfficialMetrics.evaluate(try RankingFile.read(path: rankingPath), groundTruth: groundTruth)
        #expect(report.results.jsonString() == python.output)
        // The random rankings are far from trivial, and they exercise the failure paths.
        #expect(report.results.at(10)!.mAP > 0.2)
        #expect(report.failedLines.count > 5)
    }

    @Test func sampleDataTestSplitWithRandomRankings() throws {
        let groundTruth = try OfficialGroundTruth.loadProduct1M(folder: sampleDataFolder)
        #expect(groundTruth.skippedLines.isEmpty)
        let read = { (name: String) -> [(id: String, labels: [String])] in
            let text = try String(contentsOfFile: sampleDataFolder + "/" + name, encoding: .utf8)
            return text.split(separator: "\n").map { line in
                let fields = line.components(separatedBy: "#####")
                return (fields[0], fields[4].components(separatedBy: "#;#"))
            }
        }
        let test = try read("product1m_test_ossurl_v2.txt")
        let dev = try read("product1m_dev_ossurl_v2.txt")
        let gallery = try read("product1m_gallery_ossurl_v2.txt").map { (id: $0.id, label: $0.labels[0]) }
        #expect(test.count == 300 && gallery.count == 894)
        for seed in 1...4 as ClosedRange<UInt64> {
            // Mostly test queries, some dev queries (the official script knows both splits).
            let queries = test + dev.prefix(Int(seed) * 10)
            try compare(dataset: sampleDataFolder, rankingText: randomRankingText(queries: queries, gallery: gallery, seed: seed))
        }
    }

    @Test func quirkyDatasetWithRandomRankings() throws {
        // Queries with up to 14 labels (int(10 / len(Q)) = 0), labels with no gallery item,
        // spaces around "#;#" (not trimmed by the official script), a gallery id listed twice, a
        // test id repeated in dev, CRLF line ends, trailing whitespace.
        let folder = try temporaryFolder("quirky")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var rng = SeededRNG(seed: 77)
        let labels = (0..<30).map { "牌子 \($0)" } + ["label ", " spaced"]
        var galleryLines: [String] = []
        var gallery: [(id: String, label: String)] = []
        for i in 0..<400 {
            let label = labels[rng.below(labels.count - 3)]  // the last labels get no gallery item
            galleryLines.append("\(10_000 + i)#####title \(i)#####u#####u#####\(label)#;#extra")
            gallery.append(("\(10_000 + i)", label))
        }
        galleryLines.append("10005#####again#####u#####u#####\(labels[1])")  // id listed twice: last wins
        gallery[5].label = labels[1]
        var queries: [(id: String, labels: [String])] = []
        var queryLines: [String] = []
        for q in 0..<160 {
            let count = 1 + rng.below(14)
            let chosen = (0..<count).map { _ in labels[rng.below(labels.count)] }
            queries.append(("\(50_000 + q)", chosen))
            queryLines.append("\(50_000 + q)#####suit#####u#####u#####" + chosen.joined(separator: "#;#") + " \r")
        }
        let devLines = ["50003#####suit#####u#####u#####\(labels[2])#;#\(labels[2])", "60000#####suit#####u#####u#####\(labels[3])"]
        queries[3].labels = [labels[2], labels[2]]
        queries.append(("60000", [labels[3]]))
        try (galleryLines.joined(separator: "\n") + "\n").write(toFile: folder + "/product1m_gallery_ossurl_v2.txt", atomically: true, encoding: .utf8)
        try queryLines.joined(separator: "\n").write(toFile: folder + "/product1m_test_ossurl_v2.txt", atomically: true, encoding: .utf8)
        try (devLines.joined(separator: "\n") + "\n").write(toFile: folder + "/product1m_dev_ossurl_v2.txt", atomically: true, encoding: .utf8)

        let groundTruth = try OfficialGroundTruth.loadProduct1M(folder: folder)
        #expect(groundTruth.labels(ofQuery: "50003") == [labels[2], labels[2]])
        #expect(groundTruth.label(ofGalleryItem: "10005") == labels[1])
        for seed in 11...16 as ClosedRange<UInt64> {
            try compare(dataset: folder, rankingText: randomRankingText(queries: queries, gallery: gallery, seed: seed))
        }
    }

    @Test func pythonFloatReprMatchesPython() throws {
        var rng = SeededRNG(seed: 5)
        var values: [Double] = [0, 1, 0.1, 0.5, 1e-5, 1e-4, 9.999999999999999e-5, 1e16, 1e15, 9007199254740992, 2.0 / 3]
        for _ in 0..<3000 {
            switch rng.below(4) {
            case 0: values.append(Double(rng.next() >> 11) * 0x1p-53)  // [0, 1): metric values
            case 1: values.append(Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF))  // any magnitude
            case 2: values.append(Double(rng.below(1000)) / Double(1 + rng.below(1000)))  // ratios
            default: values.append(Double(rng.next() >> 11) * 0x1p-53 * pow(10, Double(rng.below(40)) - 20))
            }
        }
        let folder = try temporaryFolder("repr")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bitsPath = folder + "/bits.txt"
        try values.map { String($0.bitPattern, radix: 16) }.joined(separator: "\n").write(toFile: bitsPath, atomically: true, encoding: .utf8)
        let script = "import struct,sys\nfor h in open(sys.argv[1]).read().split():\n    print(repr(struct.unpack('<d', struct.pack('<Q', int(h, 16)))[0]))"
        let python = try #require(runPython(["-c", script, bitsPath]))
        #expect(python.status == 0)
        let expected = python.output.split(separator: "\n").map(String.init)
        #expect(expected.count == values.count)
        for (value, repr) in zip(values, expected) where PythonFloat.repr(value) != repr {
            Issue.record("repr(\(value)): Swift \(PythonFloat.repr(value)), Python \(repr)")
        }
    }
}
