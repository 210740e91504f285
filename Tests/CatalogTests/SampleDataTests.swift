import Support
import Catalog
import Foundation
import Imaging
import Testing

/// SampleData: determinism, the Product1M layout, the manifest, folder safety, and SHA-256.
@Suite("SampleData generator")
struct SampleDataTests {
    /// A small set that generates in well under a second.
    static let small = SampleDataOptions(seed: 7, brands: 4, galleryViews: 2, trainItems: 8, devQueries: 5,
                                         testQueries: 6, minSide: 64, maxSide: 96, jpegQuality: 75)

    static let splitFiles = ["product1m_dev_ossurl_v2.txt", "product1m_gallery_ossurl_v2.txt",
                             "product1m_test_ossurl_v2.txt", "product1m_train_ossurl_v2.txt"]

    /// A fresh folder under the system's temporary directory, removed by `cleanUp`.
    static func makeFolder() -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("vitrine-sampledata-\(UUID().uuidString)").path
        return path
    }

    static func cleanUp(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Every regular file under `root`, as relative paths, sorted.
    static func files(under root: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var result: [String] = []
        for case let path as String in walker {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue {
                result.append(path)
            }
        }
        return result.sorted()
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func text(_ path: String) throws -> String {
        String(decoding: try bytes(path), as: UTF8.self)
    }

    /// The lines of a split file, split into fields.
    static func records(_ path: String) throws -> [[String]] {
        let content = try text(path)
        #expect(content.hasSuffix("\n"), "\(path) must end with a newline")
        return content.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map {
            $0.components(separatedBy: "#####")
        }
    }

    // MARK: Determinism

    @Test("the same seed gives byte-identical files; another seed gives different ones")
    func determinism() throws {
        let a = Self.makeFolder(), b = Self.makeFolder(), c = Self.makeFolder()
        defer { Self.cleanUp(a); Self.cleanUp(b); Self.cleanUp(c) }
        try SampleDataGenerator(options: Self.small).generate(into: a)
        try SampleDataGenerator(options: Self.small).generate(into: b)
        let filesA = Self.files(under: a), filesB = Self.files(under: b)
        #expect(filesA == filesB)
        #expect(filesA.count > 10)
        for file in filesA {
            #expect(try Self.bytes(a + "/" + file) == Self.bytes(b + "/" + file), "\(file) differs between two runs")
        }

        var other = Self.small
        other.seed = 8
        try SampleDataGenerator(options: other).generate(into: c)
        for split in Self.splitFiles {
            #expect(try Self.bytes(a + "/" + split) != Self.bytes(c + "/" + split), "\(split) does not depend on the seed")
        }
        let imagesA = Set(Self.files(under: a).filter { $0.hasPrefix("images/") })
        let imagesC = Set(Self.files(under: c).filter { $0.hasPrefix("images/") })
        #expect(imagesA.isDisjoint(with: imagesC), "item ids should change with the seed")
    }

    @Test("the committed set's catalogue does not change when more brands are asked for")
    func brandsExtendStably() throws {
        let few = Self.makeFolder(), more = Self.makeFolder()
        defer { Self.cleanUp(few); Self.cleanUp(more) }
        var options = Self.small
        options.writeImages = false
        options.galleryViews = 1
        try SampleDataGenerator(options: options).generate(into: few)
        options.brands = 7
        try SampleDataGenerator(options: options).generate(into: more)
        let labelsFew = Set(try Self.records(few + "/product1m_gallery_ossurl_v2.txt").map { $0[4] })
        let labelsMore = Set(try Self.records(more + "/product1m_gallery_ossurl_v2.txt").map { $0[4] })
        #expect(labelsFew.isSubset(of: labelsMore))
        #expect(labelsMore.count > labelsFew.count)
    }

    // MARK: Layout

    @Test("splits are in the Product1M layout: 5 fields, digit ids, labelled queries, gallery labels")
    func layoutAndLineFormat() throws {
        let root = Self.makeFolder()
        defer { Self.cleanUp(root) }
        let options = Self.small
        try SampleDataGenerator(options: options).generate(into: root)

        let top = Set(try FileManager.default.contentsOfDirectory(atPath: root))
        #expect(top == Set(Self.splitFiles + ["images", "README.txt", "MANIFEST.sha256"]))

        var ids = Set<String>()
        var galleryCount: [String: Int] = [:]
        var queryLabels: [String] = []
        for split in Self.splitFiles {
            let records = try Self.records(root + "/" + split)
            for fields in records {
                try #require(fields.count == 5, "\(split): a line has \(fields.count) fields")
                let id = fields[0]
                #expect(id.count == 12 && id.allSatisfy { $0.isASCII && $0.isNumber }, "bad item id \(id)")
                #expect(ids.insert(id).inserted, "item id \(id) is used twice")
                #expect(!fields[1].isEmpty && !fields[1].contains("\n"))
                #expect(fields[2] == "https://img.example.invalid/\(id).jpg")
                #expect(fields[3] == fields[2])
                let labels = fields[4].components(separatedBy: "#;#")
                #expect(labels.allSatisfy { !$0.isEmpty && $0.contains(" ") }, "labels are \"<Brand> <product>\"")

                // Every line has its picture, a JPEG of an allowed size.
                let probe = try ImageDecoder.probe(path: root + "/images/\(id).jpg")
                #expect(probe.format == .jpeg)
                #expect((options.minSide ... options.maxSide).contains(probe.width))
                #expect((options.minSide ... options.maxSide).contains(probe.height))

                switch split {
                case "product1m_gallery_ossurl_v2.txt":
                    #expect(labels.count == 1, "a gallery item has one label")
                    galleryCount[labels[0], default: 0] += 1
                case "product1m_dev_ossurl_v2.txt", "product1m_test_ossurl_v2.txt":
                    #expect((2 ... 6).contains(labels.count), "a query is a suit of 2 to 6 products")
                    queryLabels += labels
                default:
                    #expect((1 ... 6).contains(labels.count))
                }
            }
            let expected = switch split {
            case "product1m_dev_ossurl_v2.txt": options.devQueries
            case "product1m_test_ossurl_v2.txt": options.testQueries
            case "product1m_train_ossurl_v2.txt": options.trainItems
            default: galleryCount.values.reduce(0, +)
            }
            #expect(records.count == expected, "\(split) has \(records.count) lines")
        }
        #expect(galleryCount.count >= options.brands * 2, "each brand has several product instances")
        #expect(galleryCount.values.allSatisfy { $0 == options.galleryViews }, "every instance has \(options.galleryViews) views")
        for label in queryLabels {
            #expect(galleryCount[label] != nil, "query label \(label) is not in the gallery")
        }
        let imageCount = Self.files(under: root + "/images").count
        #expect(imageCount == ids.count, "one picture per line")
    }

    @Test("titles look like e-commerce titles: Chinese text, several words")
    func titles() throws {
        let root = Self.makeFolder()
        defer { Self.cleanUp(root) }
        var options = Self.small
        options.writeImages = false
        options.trainItems = 60
        try SampleDataGenerator(options: options).generate(into: root)
        let titles = try Self.records(root + "/product1m_train_ossurl_v2.txt").map { $0[1] }
        let withChinese = titles.filter { $0.unicodeScalars.contains { (0x4E00 ... 0x9FFF).contains($0.value) } }
        #expect(withChinese.count == titles.count)
        #expect(titles.allSatisfy { $0.split(separator: " ").count >= 3 })
        #expect(Set(titles).count == titles.count, "titles should vary")
    }

    // MARK: Manifest and README

    @Test("MANIFEST.sha256 lists every other file, sorted, with its SHA-256")
    func manifest() throws {
        let root = Self.makeFolder()
        defer { Self.cleanUp(root) }
        try SampleDataGenerator(options: Self.small).generate(into: root)
        let lines = try Self.text(root + "/MANIFEST.sha256").split(separator: "\n").map(String.init)
        let listed = lines.map { String($0.dropFirst(66)) }
        #expect(listed == Self.files(under: root).filter { $0 != "MANIFEST.sha256" })
        #expect(listed == listed.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        for line in lines {
            let hash = String(line.prefix(64))
            #expect(hash.allSatisfy(\.isHexDigit) && line.dropFirst(64).hasPrefix("  "), "sha256sum format: \(line)")
            let path = String(line.dropFirst(66))
            #expect(SHA256.hex(try Self.bytes(root + "/" + path)) == hash, "hash of \(path)")
        }
        let readme = try Self.text(root + "/README.txt")
        #expect(readme.hasPrefix("Vitrine SampleData\n"))
        #expect(readme.contains("vitrine sample-data"))
        #expect(readme.contains("--seed 7"))
    }

    @Test("without images: captions only, no images folder")
    func captionsOnly() throws {
        let root = Self.makeFolder()
        defer { Self.cleanUp(root) }
        var options = Self.small
        options.writeImages = false
        let recorder = SampleDataProgressRecorder()
        try SampleDataGenerator(options: options).generate(into: root) { recorder.record($0) }
        let events = recorder.events
        #expect(!FileManager.default.fileExists(atPath: root + "/images"))
        #expect(Self.files(under: root).count == 6)
        #expect(events.first == .planned(images: 0))
        if case let .finished(files, _)? = events.last { #expect(files == 6) } else { Issue.record("no finished event") }
        #expect(try Self.text(root + "/README.txt").contains("--no-images"))
    }

    @Test("progress: planned, then every picture in order, then finished with the real totals")
    func progress() throws {
        let root = Self.makeFolder()
        defer { Self.cleanUp(root) }
        let recorder = SampleDataProgressRecorder()
        try SampleDataGenerator(options: Self.small).generate(into: root) { recorder.record($0) }
        let events = recorder.events
        guard case let .planned(images)? = events.first else { Issue.record("first event is not planned"); return }
        let wrote = events.compactMap { event -> Int? in
            if case let .wrote(done, total) = event { #expect(total == images); return done }
            return nil
        }
        #expect(wrote == Array(1 ... images))
        let files = Self.files(under: root)
        let bytes = try files.reduce(0) { $0 + (try Self.bytes(root + "/" + $1)).count }
        #expect(events.last == .finished(files: files.count, bytes: bytes))
    }

    // MARK: Folder safety

    @Test("refuses a non-empty folder that is not SampleData, unless told to overwrite")
    func refusesForeignFolder() throws {
        let root = Self.makeFolder()
        defer { Self.cleanUp(root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: root + "/notes.txt"))
        var options = Self.small
        options.writeImages = false
        #expect(throws: SampleDataError.directoryNotEmpty(root)) {
            try SampleDataGenerator(options: options).generate(into: root)
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/README.txt"))
        try SampleDataGenerator(options: options).generate(into: root, overwrite: true)
        #expect(try Self.text(root + "/notes.txt") == "keep me")
        #expect(FileManager.default.fileExists(atPath: root + "/MANIFEST.sha256"))
    }

    @Test("regenerating over a previous set replaces it and leaves no stale pictures")
    func regenerateOverPreviousSet() throws {
        let root = Self.makeFolder()
        defer { Self.cleanUp(root) }
        try SampleDataGenerator(options: Self.small).generate(into: root)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: root + "/images/cover.png"))
        var other = Self.small
        other.seed = 99
        // Without --overwrite a non-empty folder is refused, even one Vitrine wrote.
        #expect(throws: SampleDataError.directoryNotEmpty(root)) { try SampleDataGenerator(options: other).generate(into: root) }
        try SampleDataGenerator(options: other).generate(into: root, overwrite: true)
        let manifest = try Self.text(root + "/MANIFEST.sha256")
        let pictures = Self.files(under: root).filter { $0.hasPrefix("images/") && $0.hasSuffix(".jpg") }
        #expect(pictures.allSatisfy { manifest.contains($0) }, "pictures of the old set are left over")
        #expect(FileManager.default.fileExists(atPath: root + "/images/cover.png"), "files it did not write are kept")
        // And back to captions only: the pictures of the previous set are removed.
        other.writeImages = false
        try SampleDataGenerator(options: other).generate(into: root, overwrite: true)
        #expect(Self.files(under: root + "/images") == ["cover.png"])
    }

    /// The data-loss case: a user's dataset made from SampleData, with their own image (named
    /// like a generated one) and a generated image they edited. Nothing of theirs is deleted.
    @Test("files Vitrine did not write, or that changed since, are never deleted or replaced")
    func neverTouchesTheUsersFiles() throws {
        let root = Self.makeFolder()
        defer { Self.cleanUp(root) }
        try SampleDataGenerator(options: Self.small).generate(into: root)
        let images = Self.files(under: root + "/images")
        let before = Self.files(under: root).count
        // Without --overwrite: refused, nothing deleted.
        #expect(throws: SampleDataError.directoryNotEmpty(root)) { try SampleDataGenerator(options: Self.small).generate(into: root) }
        #expect(Self.files(under: root).count == before)
        // An edited picture stops an overwrite before anything is removed.
        let edited = root + "/images/" + images[0]
        try Data("edited by hand".utf8).write(to: URL(fileURLWithPath: edited))
        #expect(throws: SampleDataError.modifiedSinceWritten(edited)) {
            try SampleDataGenerator(options: Self.small).generate(into: root, overwrite: true)
        }
        #expect(Self.files(under: root).count == before)
        // A file of the user's where a new one would go (not in the manifest) is not replaced.
        try FileManager.default.removeItem(atPath: edited)
        let manifest = try Self.text(root + "/MANIFEST.sha256")
        try manifest.split(separator: "\n").filter { !$0.hasSuffix(images[1]) }.map { $0 + "\n" }.joined()
            .write(toFile: root + "/MANIFEST.sha256", atomically: true, encoding: .utf8)
        #expect(throws: SampleDataError.wouldReplace(root + "/images/" + images[1])) {
            try SampleDataGenerator(options: Self.small).generate(into: root, overwrite: true)
        }
        #expect(try Self.bytes(root + "/images/" + images[1]).count > 0, "the user's file is still there")
    }

    @Test("a file in the way, and invalid options, are reported")
    func errors() throws {
        let root = Self.makeFolder()
        defer { Self.cleanUp(root) }
        try Data().write(to: URL(fileURLWithPath: root))
        #expect(throws: SampleDataError.notADirectory(root)) {
            try SampleDataGenerator(options: Self.small).generate(into: root)
        }
        var bad = Self.small
        bad.maxSide = 10
        #expect(throws: SampleDataError.self) { try SampleDataGenerator(options: bad).generate(into: root + "-x") }
        bad = Self.small
        bad.jpegQuality = 0
        #expect(throws: SampleDataError.self) { try bad.validate() }
        bad = Self.small
        bad.galleryViews = 0
        #expect(throws: SampleDataError.self) { try bad.validate() }
        #expect(!FileManager.default.fileExists(atPath: root + "-x"), "nothing is created for invalid options")
        #expect(throws: Never.self) { try SampleDataOptions.default.validate() }
    }

    @Test("the default options are the committed set's and reproduce with no flags")
    func defaults() {
        let d = SampleDataOptions.default
        #expect(d.seed == 2021 && d.brands == 40 && d.galleryViews == 3 && d.jpegQuality == 80 && d.writeImages)
        #expect(d.commandLineArguments.isEmpty)
        var o = d
        o.seed = 5
        o.writeImages = false
        #expect(o.commandLineArguments == ["--seed", "5", "--no-images"])
    }

    // MARK: SHA-256

    /// Expected digests from FIPS 180-2's examples and, for the others, GNU coreutils `sha256sum`.
    @Test("SHA-256 known-answer vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ("Vitrine 玻尿酸精华", "9c36dd82fd2178f679b150038f485c07070a39e1f86aa7e80c886dd42ecbf92e"),
    ])
    func sha256Vectors(message: String, digest: String) {
        #expect(SHA256.hex(Array(message.utf8)) == digest)
    }

    /// Lengths around the padding boundaries (55/56 bytes: one or two final blocks), from `sha256sum`.
    @Test("SHA-256 at block boundaries", arguments: [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
        (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
        (120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"),
        (128, "6836cf13bac400e9105071cd6af47084dfacad4e5e302c94bfed24e013afb73e"),
    ])
    func sha256Boundaries(length: Int, digest: String) {
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: length)) == digest)
    }

    @Test("SHA-256 of one million 'a' and of all byte values")
    func sha256Long() {
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(SHA256.hex((0 ... 255).map { UInt8($0) })
            == "40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880")
        #expect(SHA256.digest(Array("abc".utf8)).count == 32)
    }
}

/// Collects progress events from the generator's worker threads.
final class SampleDataProgressRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [SampleDataProgress] = []

    var events: [SampleDataProgress] {
        lock.lock(); defer { lock.unlock() }
        return stored
    }

    func record(_ event: SampleDataProgress) {
        lock.lock(); defer { lock.unlock() }
        stored.append(event)
    }
}
