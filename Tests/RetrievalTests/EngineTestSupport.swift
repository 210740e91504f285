import Support
import Capture
import Catalog
import Foundation
import Retrieval

/// Shared fixtures of the engine and index tests: the repository's SampleData and weights, small
/// Product1M folders copied from SampleData, and small random CAPTURE checkpoints.
enum EngineFixture {
    /// The repository's root, found from this source file.
    static let repository: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static var sampleData: String { repository + "/SampleData" }

    /// The weights folder (`Weights/` or `$VITRINE_WEIGHTS`); the tests that need it fail with the
    /// fetch command when it is missing.
    static func weights() throws -> WeightsFolder {
        try WeightsFolder.locate(roots: [repository])
    }

    /// A fresh temporary folder.
    static func temporaryFolder(_ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "vitrine-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A Product1M folder holding the first `gallery` gallery lines and the first `queries` test
    /// lines of SampleData, with their images.
    static func smallDataset(gallery: Int, queries: Int) throws -> String {
        let folder = try temporaryFolder("dataset")
        try FileManager.default.createDirectory(atPath: folder + "/images", withIntermediateDirectories: true)
        for (file, count) in [("product1m_gallery_ossurl_v2.txt", gallery), ("product1m_test_ossurl_v2.txt", queries)] {
            let text = try String(contentsOfFile: sampleData + "/" + file, encoding: .utf8)
            let lines = text.split(separator: "\n").prefix(count)
            try (lines.joined(separator: "\n") + "\n").write(toFile: folder + "/" + file, atomically: true, encoding: .utf8)
            for line in lines {
                let id = String(line.prefix { $0 != "#" })
                let source = sampleData + "/images/" + id + ".jpg"
                if FileManager.default.fileExists(atPath: source) {
                    try FileManager.default.copyItem(atPath: source, toPath: folder + "/images/" + id + ".jpg")
                }
            }
        }
        return folder
    }

    /// A small randomly initialised CAPTURE model over the real tokenizer and backbone, saved as a
    /// checkpoint at `path` (about 4 MB; its fusion layers are untrained but real).
    static func writeSmallCheckpoint(to path: String, seed: UInt64) throws {
        let weights = try weights()
        var config = CaptureConfig()
        config.hidden = 32; config.heads = 2; config.intermediate = 64
        config.textLayers = 1; config.imageLayers = 1; config.coLayers = 1; config.crossLayers = 1
        config.clrDim = 16; config.fusedDim = 16
        let model = CaptureModel(config: config, seed: seed)
        let backbone = ComponentIdentity(name: EfficientNetLite0.name,
                                         sha256: try ContentHash.sha256(fileAt: weights.path(of: .efficientNetLite0)))
        let metadata = CheckpointMetadata(config: config, tokenizer: try ComponentIdentity(.miniLMVocabulary, in: weights),
                                          backbone: backbone, step: 0, data: "test")
        try Checkpoint.save(model, to: path, metadata: metadata)
    }

    /// An options value whose index files go to `folder`.
    static func options(indexRoot folder: String) throws -> RetrievalOptions {
        RetrievalOptions(weightsPath: try weights().path, indexRoot: folder)
    }
}

/// Collects index events from a background-safe closure.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [IndexEvent] = []
    func record(_ event: IndexEvent) { lock.lock(); stored.append(event); lock.unlock() }
    var events: [IndexEvent] { lock.lock(); defer { lock.unlock() }; return stored }
}
