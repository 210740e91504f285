import Catalog
import Foundation
import Imaging
import Retrieval
import Testing

/// The gallery index file: round trip through disk and mmap, staleness, damaged files.
@Suite struct GalleryIndexFileTests {
    static let identity = IndexIdentity(checkpoint: "zero-shot", checkpointName: "zero-shot", backbone: "b1",
                                        tokenizer: "t1", textTower: "m1", dataset: "d1")

    func sections(_ count: Int) -> [GalleryIndex.SectionData] {
        var fixture = SearchFixture(seed: 11)
        return [.init(section: .sentence, dimension: 12, rows: fixture.unitVectors(count, 12)),
                .init(section: .pooled, dimension: 5, rows: fixture.unitVectors(count, 5))]
    }

    @Test func writesAndMapsBack() throws {
        let folder = try EngineFixture.temporaryFolder("index")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let ids = (0..<37).map { "item-\($0)-黄金" }
        let data = sections(37)
        let path = folder + "/nested/zero-shot.vtri"
        try GalleryIndex.write(to: path, identity: Self.identity, ids: ids, sections: data, missingImages: 2, seconds: 1.5)
        let index = try GalleryIndex.open(path: path)
        #expect(index.identity == Self.identity && index.ids == ids && index.count == 37)
        #expect(index.missingImages == 2 && index.buildSeconds == 1.5)
        #expect(index.sectionNames == [.sentence, .pooled])
        #expect(index.vectors(.fused) == nil)
        for (s, section) in [IndexSection.sentence, .pooled].enumerated() {
            let matrix = try #require(index.vectors(section))
            #expect(matrix.count == 37 && matrix.dimension == data[s].dimension && matrix.path == path)
            for row in [0, 17, 36] {
                let d = data[s].dimension
                #expect(matrix.row(row) == Array(data[s].rows[row * d ..< (row + 1) * d]))
            }
        }
        // Sections start on 64-byte boundaries and nothing else is left in the folder.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder + "/nested") == ["zero-shot.vtri"])
    }

    @Test func truncatedOrForeignFilesGiveClearErrors() throws {
        let folder = try EngineFixture.temporaryFolder("index")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/i.vtri"
        try GalleryIndex.write(to: path, identity: Self.identity, ids: (0..<20).map(String.init), sections: sections(20),
                               missingImages: 0, seconds: 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        func message(of data: Data) -> String {
            try? data.write(to: URL(fileURLWithPath: path))
            do { _ = try GalleryIndex.open(path: path); return "" } catch { return "\(error)" }
        }
        let truncated = message(of: bytes.prefix(bytes.count - 30))
        #expect(truncated.contains(path) && truncated.contains("truncated") && truncated.contains("vitrine index"))
        let cut = message(of: bytes.prefix(40))
        #expect(cut.contains("not a valid gallery index"))
        var foreign = bytes
        foreign[0] = UInt8(ascii: "X")
        #expect(message(of: foreign).contains("VTRNINDX"))
        var newer = bytes
        newer[8] = 9
        #expect(message(of: newer).contains("newer"))
        var damaged = bytes
        // A NaN in the first vector: refused, not searched.
        let headerLength = Int(bytes[12]) | Int(bytes[13]) << 8
        let dataStart = (16 + headerLength + 63) / 64 * 64
        damaged.replaceSubrange(dataStart ..< dataStart + 4, with: [0x00, 0x00, 0xC0, 0x7F])
        #expect(message(of: damaged).contains("not finite"))
    }

    @Test func stalenessNamesWhatChanged() {
        var other = Self.identity
        #expect(Self.identity.staleness(of: other) == nil)
        other.dataset = "d2"
        #expect(Self.identity.staleness(of: other)?.contains("gallery") == true)
        other = Self.identity
        other.checkpoint = "abc"; other.checkpointName = "ckpt.safetensors"
        #expect(Self.identity.staleness(of: other)?.contains("model") == true)
        other = Self.identity
        other.backbone = "b2"
        #expect(Self.identity.staleness(of: other)?.contains("backbone") == true)
    }

    @Test func fingerprintFollowsCaptionsAndImageFiles() throws {
        let folder = try EngineFixture.temporaryFolder("fingerprint")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let image = folder + "/a.jpg"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: image))
        let a = Sample(id: "1", caption: "cream", imagePath: image, labels: ["x"])
        let base = GalleryFingerprint.of([a])
        #expect(GalleryFingerprint.of([a]) == base)
        #expect(GalleryFingerprint.of([Sample(id: "1", caption: "cream", imagePath: image, labels: ["other label"])]) == base)
        #expect(GalleryFingerprint.of([Sample(id: "1", caption: "serum", imagePath: image, labels: ["x"])]) != base)
        try Data([1, 2, 3, 4]).write(to: URL(fileURLWithPath: image))
        #expect(GalleryFingerprint.of([a]) != base)
    }

    @Test func locationIsOutsideTheDataset() {
        let path = IndexLocation.path(root: "/cache/index", datasetRoot: "/work/SampleData", system: .zeroShot)
        #expect(path.hasPrefix("/cache/index/SampleData-") && path.hasSuffix("/zero-shot.vtri"))
        let model = IndexLocation.path(root: "/cache/index", datasetRoot: "/work/SampleData", system: .model(checkpoint: "/m/a.safetensors"))
        #expect(model != path && model.contains("/model-"))
        #expect(IndexLocation.defaultRoot(environment: ["VITRINE_CACHE": "/v"]) == "/v/index")
        #expect(IndexLocation.defaultRoot(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/x/vitrine/index")
        #expect(IndexLocation.defaultRoot(environment: ["HOME": "/h"]) == "/h/.cache/vitrine/index")
    }
}

/// Building, reusing and rebuilding real indexes (needs the weights).
@Suite(.serialized) struct GalleryIndexerTests {
    /// A read-only engine (a guest session) writes nothing: no index is built for it, the host's
    /// is opened as it is, and an image query's features are computed but not stored.
    @Test func readOnlyWritesNothing() throws {
        let data = try EngineFixture.smallDataset(gallery: 12, queries: 0)
        let cache = try EngineFixture.temporaryFolder("read-only-cache")
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: cache) }
        func files() -> [String] { (FileManager.default.enumerator(atPath: cache)?.allObjects as? [String] ?? []).sorted() }
        var options = try EngineFixture.options(indexRoot: cache + "/index")
        options.featureCacheRoot = cache + "/features"
        options.readOnly = true
        #expect(throws: RetrievalError.self) { _ = try RetrievalEngine(dataset: try Dataset.load(from: data), options: options) }
        do { _ = try RetrievalEngine(dataset: try Dataset.load(from: data), options: options) } catch {
            #expect("\(error)".contains("not prepared") && "\(error)".contains("vitrine index"), "\(error)")
        }
        #expect(files().isEmpty, "nothing written: \(files())")
        // The host prepares it; the read-only engine then opens it and searches with a new image.
        options.readOnly = false
        _ = try RetrievalEngine(dataset: try Dataset.load(from: data), options: options)
        let prepared = files()
        options.readOnly = true
        let engine = try RetrievalEngine(dataset: try Dataset.load(from: data), options: options)
        var image = RGBImage(width: 64, height: 48, fill: RGB(200, 40, 90))
        for x in 0 ..< 64 { image[x, x % 48] = RGB(10, 220, 30) }
        let path = data + "/new.jpg"
        try Data(try JPEGEncoder.encode(image, quality: 90)).write(to: URL(fileURLWithPath: path))
        let result = try engine.search(.imageFile(path: path), top: 5)
        #expect(result.matches.count == 5)
        #expect(files() == prepared, "a read-only engine stored no feature")
    }

    @Test func reusesCurrentIndexAndRebuildsStaleOrDamagedOnes() throws {
        let data = try EngineFixture.smallDataset(gallery: 24, queries: 0)
        let cache = try EngineFixture.temporaryFolder("index-cache")
        defer { try? FileManager.default.removeItem(atPath: data); try? FileManager.default.removeItem(atPath: cache) }
        let options = try EngineFixture.options(indexRoot: cache)

        let log = EventLog()
        let (first, report) = try GalleryIndexer.prepare(dataset: try Dataset.load(from: data), system: .zeroShot, options: options,
                                                         progress: log.record)
        #expect(report.built && report.reason == "no index yet" && report.items == 24 && first.count == 24)
        #expect(log.events.first == .started(items: 24))
        #expect(log.events.contains(.progress(done: 24, total: 24)))
        if case .finished(let items, _)? = log.events.last { #expect(items == 24) } else { Issue.record("no finished event") }
        #expect(first.vectors(.sentence)?.dimension == 384 && first.vectors(.pooled)?.dimension == 320)
        #expect(report.path.hasPrefix(cache))

        // Current: reused, nothing computed.
        let again = EventLog()
        let (_, second) = try GalleryIndexer.prepare(dataset: try Dataset.load(from: data), system: .zeroShot, options: options,
                                                     progress: again.record)
        #expect(!second.built && again.events == [.upToDate(items: 24)])

        // A caption edited in the gallery file: stale.
        let galleryFile = data + "/product1m_gallery_ossurl_v2.txt"
        let text = try String(contentsOfFile: galleryFile, encoding: .utf8)
        let firstLine = text.split(separator: "\n")[0]
        let fields = firstLine.components(separatedBy: "#####")
        let edited = ([fields[0], fields[1] + " 新款"] + fields[2...]).joined(separator: "#####")
        try text.replacingOccurrences(of: String(firstLine), with: edited).write(toFile: galleryFile, atomically: true, encoding: .utf8)
        let (_, third) = try GalleryIndexer.prepare(dataset: try Dataset.load(from: data), system: .zeroShot, options: options)
        #expect(third.built && third.reason?.contains("gallery") == true)

        // A truncated file: rebuilt, saying why.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: third.path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: third.path))
        let (rebuilt, fourth) = try GalleryIndexer.prepare(dataset: try Dataset.load(from: data), system: .zeroShot, options: options)
        #expect(fourth.built && fourth.reason?.contains("could not be read") == true && rebuilt.count == 24)

        // A checkpoint index; replacing the checkpoint file makes it stale.
        let checkpoint = cache + "/small.safetensors"
        try EngineFixture.writeSmallCheckpoint(to: checkpoint, seed: 1)
        let (model, fifth) = try GalleryIndexer.prepare(dataset: try Dataset.load(from: data), system: .model(checkpoint: checkpoint),
                                                        options: options)
        #expect(fifth.built && model.sectionNames == [.fused, .text, .image] && model.vectors(.fused)?.dimension == 16)
        let (_, sixth) = try GalleryIndexer.prepare(dataset: try Dataset.load(from: data), system: .model(checkpoint: checkpoint),
                                                    options: options)
        #expect(!sixth.built)
        try EngineFixture.writeSmallCheckpoint(to: checkpoint, seed: 2)
        let (_, seventh) = try GalleryIndexer.prepare(dataset: try Dataset.load(from: data), system: .model(checkpoint: checkpoint),
                                                      options: options)
        #expect(seventh.built && seventh.reason?.contains("model") == true)
        // The zero-shot index was left alone.
        let (_, eighth) = try GalleryIndexer.prepare(dataset: try Dataset.load(from: data), system: .zeroShot, options: options)
        #expect(!eighth.built)
    }
}
