import Foundation
import Imaging
import Testing

/// Paths, the fixture manifest and small helpers shared by the Imaging tests.
enum Fixtures {
    /// Tests/ImagingTests/Fixtures, found next to this source file (no SwiftPM resources).
    static let directory: String = {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }()

    static func path(_ name: String) -> String { directory + "/" + name }

    static func readBytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    struct Entry: Decodable, Sendable, CustomTestStringConvertible {
        let file: String
        let width: Int
        let height: Int
        /// Quadrant colours as designed: top-left, top-right, bottom-left, bottom-right.
        let expected: [[Int]]
        /// Quadrant-centre colours as Pillow decodes the file (JPEG only, when Pillow can).
        let pillow: [[Int]]?
        var testDescription: String { file }
    }

    struct ResizeReference: Decodable, Sendable, CustomTestStringConvertible {
        let file: String
        let source: [Int]
        let size: [Int]
        var testDescription: String { file }
    }

    struct Manifest: Decodable, Sendable {
        let png: [Entry]
        let jpeg: [Entry]
        let resize: [ResizeReference]
    }

    /// manifest.json, written by make_fixtures.py.
    static let manifest: Manifest = {
        let url = URL(fileURLWithPath: path("manifest.json"))
        guard let data = try? Data(contentsOf: url),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else {
            fatalError("cannot read \(url.path); run Tests/ImagingTests/Fixtures/make_fixtures.py")
        }
        return manifest
    }()

    /// Which quadrant (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) a pixel is in,
    /// with the fixture script's rule.
    static func quadrant(x: Int, y: Int, width: Int, height: Int) -> Int {
        (x < width / 2 ? 0 : 1) + (y < height / 2 ? 0 : 2)
    }

    /// The centres of the four quadrants, in quadrant order.
    static func quadrantCentres(width: Int, height: Int) -> [(x: Int, y: Int)] {
        [(width / 4, height / 4), (3 * width / 4, height / 4), (width / 4, 3 * height / 4), (3 * width / 4, 3 * height / 4)]
    }

    /// A `width` x `height` image with the four quadrant colours.
    static func quadrantImage(width: Int, height: Int, colours: [RGB]) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = colours[quadrant(x: x, y: y, width: width, height: height)]
            }
        }
        return image
    }

    static let quadrantColours = [RGB(200, 30, 30), RGB(30, 200, 30), RGB(30, 30, 200), RGB(230, 210, 40)]

    /// The fixture script's `pattern(w, h)`, used for the PIL resize references.
    static func pattern(width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = RGB(UInt8((x * 255) / max(1, width - 1)),
                                  UInt8(255 * (((x / 3) + (y / 2)) % 2)),
                                  UInt8((x * y * 7) % 256))
            }
        }
        return image
    }

    /// Largest per-channel difference.
    static func distance(_ a: RGB, _ b: RGB) -> Int {
        max(abs(Int(a.r) - Int(b.r)), abs(Int(a.g) - Int(b.g)), abs(Int(a.b) - Int(b.b)))
    }

    static func rgb(_ triple: [Int]) -> RGB { RGB(UInt8(triple[0]), UInt8(triple[1]), UInt8(triple[2])) }
}

/// A fresh temporary directory, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("vitrine-imaging-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` inside the directory and returns the file's path.
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }
}

/// CRC-32 as used by PNG chunks (to hand-craft valid headers).
func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// A small deterministic pseudo-random generator for fuzzing (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array where Element == UInt8 {
    /// Index of the first occurrence of `pattern`, if any.
    func firstIndex(of pattern: [UInt8]) -> Int? {
        guard pattern.count <= count else { return nil }
        for start in 0...(count - pattern.count) where self[start..<start + pattern.count].elementsEqual(pattern) {
            return start
        }
        return nil
    }
}
