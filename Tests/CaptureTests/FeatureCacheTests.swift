import Support
import Capture
import Foundation
import Imaging
import Tensor
import Testing

/// The on-disk feature cache: entries round-trip, and missing, stale and corrupt entries are
/// told apart. Small maps and made-up hashes: no weights needed, except for the last suite.
@Suite struct FeatureCacheTests {
    static let shape = (channels: 4, height: 2, width: 3)
    static let backboneA = BackboneIdentity(name: "efficientnet-lite0", sha256: String(repeating: "ab", count: 32))
    static let backboneB = BackboneIdentity(name: "efficientnet-lite0", sha256: String(repeating: "cd", count: 32))
    static let imageX = ContentHash.sha256(Array("image x".utf8))
    static let imageY = ContentHash.sha256(Array("image y".utf8))

    static func temporaryRoot() throws -> String {
        let path = NSTemporaryDirectory() + "vitrine-cache-test-\(UInt64.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func cache(_ root: String, _ backbone: BackboneIdentity = backboneA,
                      precision: FeatureCache.Precision = .float32) throws -> FeatureCache {
        try FeatureCache(root: root, backbone: backbone, precision: precision, shape: shape)
    }

    static func features(seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0 ..< 24).map { _ in rng.normal() * 3 }
    }

    static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    static func write(_ bytes: [UInt8], _ path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    @Test func storedFeaturesComeBackExactly() throws {
        let root = try Self.temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = try Self.cache(root)
        #expect(cache.load(imageSHA256: Self.imageX) == .miss)
        let values = Self.features(seed: 1)
        try cache.store(values, imageSHA256: Self.imageX)
        #expect(cache.load(imageSHA256: Self.imageX) == .hit(values))
        #expect(cache.load(imageSHA256: Self.imageY) == .miss)
        // Upper-case hashes name the same entry.
        #expect(cache.load(imageSHA256: Self.imageX.uppercased()) == .hit(values))
        #expect(cache.path(forImageSHA256: Self.imageX).hasPrefix(root + "/efficientnet-lite0-abababababababab/"))
        // Replacing an entry.
        let newer = Self.features(seed: 2)
        try cache.store(newer, imageSHA256: Self.imageX)
        #expect(cache.load(imageSHA256: Self.imageX) == .hit(newer))
        // No temporary files left behind.
        let folder = (cache.path(forImageSHA256: Self.imageX) as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == [Self.imageX + ".feat"])
    }

    @Test func float16EntriesAreHalfTheSizeAndClose() throws {
        let root = try Self.temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let half = try Self.cache(root, precision: .float16)
        let values = Self.features(seed: 3)
        try half.store(values, imageSHA256: Self.imageX)
        guard case .hit(let back) = half.load(imageSHA256: Self.imageX) else {
            Issue.record("float16 entry not read back"); return
        }
        for (a, b) in zip(back, values) { #expect(abs(a - b) <= 1e-3 * max(1, abs(b))) }
        // A float32 cache reads float16 entries too.
        #expect(try Self.cache(root).load(imageSHA256: Self.imageX) == .hit(back))
        let size = try FileManager.default.attributesOfItem(atPath: half.path(forImageSHA256: Self.imageX))[.size] as? Int
        #expect(size == 96 + 24 * 2)
    }

    @Test func otherBackbonesDoNotSeeTheEntries() throws {
        let root = try Self.temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = try Self.cache(root, Self.backboneA), b = try Self.cache(root, Self.backboneB)
        try a.store(Self.features(seed: 4), imageSHA256: Self.imageX)
        #expect(b.load(imageSHA256: Self.imageX) == .miss)
        #expect(a.directory != b.directory)
    }

    @Test func staleEntriesAreReported() throws {
        let root = try Self.temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = try Self.cache(root, Self.backboneA), b = try Self.cache(root, Self.backboneB)
        try a.store(Self.features(seed: 5), imageSHA256: Self.imageX)
        let entry = try Self.bytes(a.path(forImageSHA256: Self.imageX))

        // Another backbone's entry copied into this backbone's folder.
        try b.store(Self.features(seed: 6), imageSHA256: Self.imageX)
        try Self.write(entry, b.path(forImageSHA256: Self.imageX))
        guard case .stale(let why) = b.load(imageSHA256: Self.imageX) else { Issue.record("not stale"); return }
        #expect(why.contains("another backbone"))

        // Another image's entry under this image's name.
        try a.store(Self.features(seed: 7), imageSHA256: Self.imageY)
        try Self.write(entry, a.path(forImageSHA256: Self.imageY))
        guard case .stale(let why2) = a.load(imageSHA256: Self.imageY) else { Issue.record("not stale"); return }
        #expect(why2.contains("another image"))

        // An older format version.
        var old = entry
        old[4] = 0
        try Self.write(old, a.path(forImageSHA256: Self.imageX))
        guard case .stale(let why3) = a.load(imageSHA256: Self.imageX) else { Issue.record("not stale"); return }
        #expect(why3.contains("version"))

        // Another map shape.
        let other = try FeatureCache(root: root, backbone: Self.backboneA, shape: (channels: 8, height: 1, width: 3))
        try Self.write(entry, other.path(forImageSHA256: Self.imageX))
        guard case .stale = other.load(imageSHA256: Self.imageX) else { Issue.record("not stale"); return }
    }

    @Test func corruptEntriesAreReported() throws {
        let root = try Self.temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = try Self.cache(root)
        try cache.store(Self.features(seed: 8), imageSHA256: Self.imageX)
        let path = cache.path(forImageSHA256: Self.imageX)
        let entry = try Self.bytes(path)
        #expect(entry.count == 96 + 24 * 4)  // 96-byte header

        func expectCorrupt(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            try Self.write(bytes, path)
            guard case .corrupt(let why) = cache.load(imageSHA256: Self.imageX) else {
                Issue.record("not reported corrupt", sourceLocation: sourceLocation); return
            }
            #expect(why.contains(fragment), "\(why)", sourceLocation: sourceLocation)
        }
        var flipped = entry
        flipped[entry.count - 3] ^= 0x10
        try expectCorrupt(flipped, "checksum")
        try expectCorrupt(Array(entry.dropLast(5)), "truncated")
        try expectCorrupt(Array(entry.prefix(40)), "header")
        try expectCorrupt([], "header")
        try expectCorrupt(Array("definitely not a cache entry, but long enough to hold a header: ".utf8)
                          + Array(repeating: 0, count: 100), "magic")
        var badType = entry
        badType[8] = 9
        try expectCorrupt(badType, "element type")
        // A folder where the entry should be.
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        guard case .corrupt = cache.load(imageSHA256: Self.imageX) else { Issue.record("a folder read as an entry"); return }
    }

    @Test func badArgumentsAreErrors() throws {
        let root = try Self.temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(throws: FeatureCacheError.self) {
            try FeatureCache(root: root, backbone: BackboneIdentity(name: "x", sha256: "not a hash"))
        }
        let cache = try Self.cache(root)
        #expect(throws: FeatureCacheError.wrongSize(3, expected: 24)) { try cache.store([1, 2, 3], imageSHA256: Self.imageX) }
        #expect(throws: FeatureCacheError.self) { try cache.store(Self.features(seed: 9), imageSHA256: "xyz") }
        if case .corrupt = cache.load(imageSHA256: "xyz") {} else { Issue.record("a bad key must not look like a miss") }
    }

    @Test func unwritableFolderIsAClearError() throws {
        let root = try Self.temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A file where the cache's folder should be (permissions do not stop root).
        let blocked = root + "/blocked"
        try Self.write([1], blocked)
        let cache = try FeatureCache(root: blocked, backbone: Self.backboneA, shape: Self.shape)
        do {
            try cache.store(Self.features(seed: 10), imageSHA256: Self.imageX)
            Issue.record("stored under a regular file")
        } catch {
            #expect(error.description.contains(blocked) && error.description.contains("VITRINE_CACHE"))
        }
    }

    @Test func defaultRootFollowsTheEnvironment() {
        #expect(FeatureCache.defaultRoot(environment: ["VITRINE_CACHE": "/c", "HOME": "/h"]) == "/c/features")
        #expect(FeatureCache.defaultRoot(environment: ["XDG_CACHE_HOME": "/x", "HOME": "/h"]) == "/x/vitrine/features")
        #expect(FeatureCache.defaultRoot(environment: ["HOME": "/h"]) == "/h/.cache/vitrine/features")
    }
}

/// Images through the cache with the real backbone (fetches the weights when missing).
@Suite struct FeatureCacheBackboneTests {
    @Test func imagesAreComputedOnceThenRead() throws {
        let network = try BackboneFixtures.network()
        let root = try FeatureCacheTests.temporaryRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = try FeatureCache(root: root, backbone: network.identity)

        // The golden PNG, a wide JPEG (letterboxed), a missing file and a text file.
        let png = BackboneFixtures.inputImagePath
        var wide = RGBImage(width: 300, height: 120, fill: RGB(30, 160, 90))
        for x in 0 ..< 300 { for y in 40 ..< 80 { wide[x, y] = RGB(UInt8(x % 256), 20, 200) } }
        let jpeg = root + "/wide.jpg"
        try Data(try JPEGEncoder.encode(wide, quality: 90)).write(to: URL(fileURLWithPath: jpeg))
        let missing = root + "/missing.png"
        let text = root + "/text.png"
        try Data("plain text".utf8).write(to: URL(fileURLWithPath: text))
        let paths = [png, missing, jpeg, text]

        let first = cache.features(forImagesAt: paths, network: network, batchSize: 1)
        #expect(first.hits == 0 && first.computed == 2 && first.writeFailures.isEmpty)
        let direct = network.features([try EfficientNetLite0.modelInput(path: png), try EfficientNetLite0.modelInput(path: jpeg)])
        let computedPNG = try first.features[0].get(), computedJPEG = try first.features[2].get()
        // Batches of 1 against a batch of 2: equal to float32 rounding.
        #expect(Discrepancy(computedPNG, direct[0]).relativeNorm < 1e-6)
        #expect(Discrepancy(computedJPEG, direct[1]).relativeNorm < 1e-6)
        #expect(throws: BackboneError.image(ImagingError(file: missing, kind: .notFound))) { try first.features[1].get() }
        #expect(throws: BackboneError.image(ImagingError(file: text, kind: .notAnImage))) { try first.features[3].get() }

        // The second time everything comes from the cache, bit for bit.
        let second = cache.features(forImagesAt: paths, network: network)
        #expect(second.hits == 2 && second.computed == 0)
        #expect(try second.features[0].get() == computedPNG)
        #expect(try second.features[2].get() == computedJPEG)

        // A corrupt entry is reported, recomputed and replaced.
        let pngHash = try ContentHash.sha256(fileAt: png)
        var entry = [UInt8](try Data(contentsOf: URL(fileURLWithPath: cache.path(forImageSHA256: pngHash))))
        entry[entry.count / 2] ^= 0xFF
        try Data(entry).write(to: URL(fileURLWithPath: cache.path(forImageSHA256: pngHash)))
        let third = cache.features(forImagesAt: [png], network: network)
        #expect(third.computed == 1 && third.replaced.count == 1 && third.replaced.first?.contains("checksum") == true)
        let recomputed = try third.features[0].get()
        #expect(recomputed == computedPNG)
        #expect(cache.load(imageSHA256: pngHash) == .hit(recomputed))

        // A cache that cannot be written still gives the features, and says why it could not keep them.
        let blocked = root + "/blocked"
        try Data([1]).write(to: URL(fileURLWithPath: blocked))
        let unwritable = try FeatureCache(root: blocked, backbone: network.identity)
        let fourth = unwritable.features(forImagesAt: [png], network: network)
        #expect(fourth.computed == 1 && fourth.writeFailures.count == 1)
        #expect(try fourth.features[0].get() == computedPNG)
    }
}
