import Support
import Capture
import Foundation
import Imaging
import Tensor
import Testing

/// A Vitrine checkpoint loads in PyTorch and gives the same embeddings (docs/model.md §8.5,
/// "Loading a checkpoint in PyTorch").
///
/// torch is not available where the tests run, so the PyTorch side was computed once and stored
/// in `Fixtures/capture_portability.json`: `tools/reference/capture_portability.py` loaded the
/// checkpoint that `portabilityCheckpoint()` writes with `tools/reference/capture_torch.py`'s
/// `load_checkpoint` (a straightforward PyTorch implementation of docs/model.md, eval mode), ran
/// `embed` on the inputs stored in the same file and recorded z_t, z_v and e, with the
/// checkpoint's SHA-256 (the exact commands are in the fixture's "how" field). This test
/// rebuilds the checkpoint, checks it is byte for byte the file the golden values describe
/// (same SHA-256), loads it and compares the embeddings at 1e-4 relative.
@Suite struct CheckpointPortabilityTests {
    /// The fixture: inputs and PyTorch's embeddings.
    struct Golden: Decodable {
        let checkpointSHA256: String
        /// Token ids `[batch][length]` (padded with 0) and their attention mask.
        let ids: [[Int]]
        let mask: [[Int]]
        /// Block-15-like maps, channel-major `[batch][channels * side * side]`.
        let features: [[Float]]
        let zT: [[Float]]
        let zV: [[Float]]
        let e: [[Float]]

        enum CodingKeys: String, CodingKey {
            case checkpointSHA256 = "checkpoint_sha256", ids, mask, features, zT = "z_t", zV = "z_v", e
        }
    }

    /// A small configuration with every part present (two text layers, padding, a 3 x 3 grid).
    static func config() -> CaptureConfig {
        var c = CaptureConfig()
        c.hidden = 32; c.heads = 4; c.intermediate = 64
        c.vocabSize = 60; c.maxPositions = 16; c.typeVocabSize = 2
        c.textLayers = 2; c.imageLayers = 1; c.coLayers = 1; c.crossLayers = 1
        c.clrDim = 8; c.fusedDim = 8; c.regionFeatureDim = 12; c.imageTokens = 10; c.maxTextLength = 10
        return c
    }

    /// Writes the checkpoint the golden values were computed from: `config()`, every parameter
    /// drawn from `SeededRNG(seed: 2026)` (N(0, 0.2²); LayerNorm weights 1 + N(0, 0.2²), so
    /// nothing is left at its initial 0 or 1), float32.
    static func portabilityCheckpoint(at path: String) throws {
        let config = config()
        let model = CaptureModel(config: config, seed: 1)
        var rng = SeededRNG(seed: 2026)
        for p in model.parameters {
            let offset: Float = p.name.hasSuffix("LayerNorm.weight") ? 1 : 0
            for i in 0..<p.count { p.value[i] = offset + 0.2 * rng.normal() }
        }
        let metadata = CheckpointMetadata(
            config: config,
            tokenizer: ComponentIdentity(name: "portability test vocabulary", sha256: String(repeating: "0", count: 64)),
            backbone: ComponentIdentity(name: "portability test backbone", sha256: String(repeating: "1", count: 64)),
            step: 7, data: "CheckpointPortabilityTests, SeededRNG(seed: 2026)")
        try Checkpoint.save(model, to: path, metadata: metadata)
    }

    static let fixturePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/capture_portability.json").path

    @Test func checkpointGivesPyTorchsEmbeddings() throws {
        let folder = try TemporaryFolder(); defer { folder.remove() }
        let path = folder.file("portability.safetensors")
        try Self.portabilityCheckpoint(at: path)
        // Regenerating the golden values: this environment variable asks for a copy of the file.
        if let copy = ProcessInfo.processInfo.environment["VITRINE_PORTABILITY_CHECKPOINT"], !copy.isEmpty {
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: path, toPath: copy)
        }
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: URL(fileURLWithPath: Self.fixturePath)))
        let sha = try ContentHash.sha256(fileAt: path)
        try #require(sha == golden.checkpointSHA256, """
            the checkpoint written now (sha256 \(sha)) is not the one the golden values describe \
            (\(golden.checkpointSHA256)): the writer, the model's parameters or SeededRNG changed; \
            regenerate the fixture as its "how" field says
            """)

        let (model, _) = try Checkpoint.load(path: path, expectedBackbone: nil)
        let config = model.config
        let tokens = TokenBatch(sequences: zip(golden.ids, golden.mask).map { ids, mask in
            Array(ids.prefix(mask.reduce(0, +)))
        }, length: golden.ids[0].count)
        #expect(tokens.ids.map(Int.init) == golden.ids.flatMap { $0 }, "the fixture's padding is not TokenBatch's")
        let imageFeatures = golden.features.flatMap {
            ImageTokens.features(channelMajor: $0, channels: config.regionFeatureDim)
        }
        let embeddings = model.embed(tokens: tokens, imageFeatures: imageFeatures)
        for (name, ours, theirs) in [("z_t", embeddings.text, golden.zT), ("z_v", embeddings.image, golden.zV),
                                     ("e", embeddings.fused, golden.e),
                                     ("z_t (embedText)", model.embedText(tokens), golden.zT),
                                     ("z_v (embedImages)", model.embedImages(imageFeatures), golden.zV)] {
            #expect(ours.count == theirs.count, "\(name): \(ours.count) rows, PyTorch \(theirs.count)")
            for (row, (a, b)) in zip(ours, theirs).enumerated() {
                #expect(a.count == b.count, "\(name)[\(row)]: width \(a.count), PyTorch \(b.count)")
                // Unit vectors: 1e-4 of the largest component.
                let scale = b.map(abs).max() ?? 1
                let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-4 * scale, "\(name)[\(row)]: differs from PyTorch by up to \(worst)")
            }
        }
    }
}
