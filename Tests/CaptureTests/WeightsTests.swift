import Support
import Capture
import Foundation
import Testing

/// Locating Weights/, and the real towers' safetensors files (fetched on first use).
@Suite struct WeightsTests {
    /// A fake weights folder: every expected file (one byte each) and, when `manifest`, a MANIFEST.
    static func fakeFolder(in folder: TemporaryFolder, manifest: Bool, skipping: WeightsFile? = nil) throws -> String {
        let root = folder.file("Weights")
        for file in WeightsFile.allCases where file != skipping {
            let path = (root as NSString).appendingPathComponent(file.rawValue)
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try Data([1]).write(to: URL(fileURLWithPath: path))
        }
        if manifest {
            let lines = WeightsFile.allCases.enumerated().map { index, file in
                String(repeating: String(index), count: 64) + "  " + file.rawValue
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: root + "/MANIFEST", atomically: true, encoding: .utf8)
        }
        return root
    }

    /// Only `<root>/Weights` counts: a Weights/ folder above a root (or above the working
    /// directory) is never picked up.
    @Test func locatesACompleteFolderInARootOnly() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let root = try Self.fakeFolder(in: folder, manifest: true)
        let deep = folder.file("a/b/c")
        try FileManager.default.createDirectory(atPath: deep, withIntermediateDirectories: true)
        #expect(throws: WeightsError.self) { try WeightsFolder.locate(environment: [:], roots: [deep]) }
        let found = try WeightsFolder.locate(environment: [:], roots: [folder.path])
        #expect(URL(fileURLWithPath: found.path).standardizedFileURL == URL(fileURLWithPath: root).standardizedFileURL)
        #expect(found.isComplete)
        #expect(found.path(of: .miniLMVocabulary).hasSuffix("Weights/minilm/vocab.txt"))
        #expect(found.recordedSHA256(of: .miniLMModel) == String(repeating: "0", count: 64))
        let index = WeightsFile.allCases.firstIndex(of: .efficientNetLite0)!
        #expect(found.recordedSHA256(of: .efficientNetLite0) == String(repeating: String(index), count: 64))
    }

    @Test func missingWeightsNameTheFetchCommand() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // Nothing in an empty temporary folder.
        do {
            do {
                _ = try WeightsFolder.locate(environment: [:], roots: [folder.path])
                Issue.record("found weights in an empty folder")
            } catch {
                #expect(error.description.contains("make weights") && error.description.contains("scripts/fetch-weights.sh"))
            }
        }
        // An incomplete folder (no MANIFEST: an interrupted fetch) says so.
        _ = try Self.fakeFolder(in: folder, manifest: false)
        do {
            _ = try WeightsFolder.locate(environment: [:], roots: [folder.path])
            Issue.record("accepted a folder without MANIFEST")
        } catch {
            #expect(error.description.contains("no MANIFEST") && error.description.contains("make weights"))
        }
    }

    @Test func aMissingFileIsNamed() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let root = try Self.fakeFolder(in: folder, manifest: true, skipping: .efficientNetLite0)
        let weights = WeightsFolder(path: root)
        #expect(!weights.isComplete)
        #expect(try weights.require(.miniLMModel) == root + "/minilm/model.safetensors")
        do {
            _ = try weights.require(.efficientNetLite0)
            Issue.record("a missing file was accepted")
        } catch {
            #expect(error.description.contains("EfficientNet-Lite0") && error.description.contains("fetch-weights.sh --force"))
        }
    }

    @Test func environmentVariableOverridesTheSearch() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let root = try Self.fakeFolder(in: folder, manifest: true)
        #expect(try WeightsFolder.locate(environment: ["VITRINE_WEIGHTS": root], roots: []).path == root)
        do {
            _ = try WeightsFolder.locate(environment: ["VITRINE_WEIGHTS": folder.file("nowhere")], roots: [root])
            Issue.record("a VITRINE_WEIGHTS that does not exist was ignored")
        } catch {
            #expect(error.description.contains("VITRINE_WEIGHTS") && error.description.contains(folder.file("nowhere")))
        }
    }

    // MARK: The real files (downloaded by scripts/fetch-weights.sh when missing)

    @Test func realFolderIsCompleteWithPinnedHashes() throws {
        let weights = try TestWeights.folder()
        #expect(weights.isComplete)
        // The upstream all-MiniLM-L6-v2 model.safetensors and the package's .pth (pinned in the script).
        #expect(weights.recordedSHA256(of: .miniLMModel) == "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db")
        #expect(weights.recordedSHA256(of: .miniLMVocabulary) == "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3")
    }

    @Test func realMiniLMSafetensors() throws {
        let file = try SafetensorsFile.read(path: try TestWeights.folder().require(.miniLMModel))
        #expect(file.metadata == ["format": "pt"])
        #expect(file.names.count == 104)  // 6 embedding tensors, 6 layers x 16, the pooler's 2
        #expect(file.entry("embeddings.word_embeddings.weight")?.shape == [30_522, 384])
        #expect(file.entry("embeddings.position_embeddings.weight")?.shape == [512, 384])
        #expect(file.entry("embeddings.token_type_embeddings.weight")?.shape == [2, 384])
        #expect(file.entry("embeddings.position_ids")?.dtype == .i64)
        for layer in 0 ..< 6 {
            let p = "encoder.layer.\(layer)."
            #expect(file.entry(p + "attention.self.query.weight")?.shape == [384, 384])
            #expect(file.entry(p + "intermediate.dense.weight")?.shape == [1536, 384])
            #expect(file.entry(p + "output.dense.weight")?.shape == [384, 1536])
            #expect(file.entry(p + "output.LayerNorm.bias")?.shape == [384])
        }
        #expect(!file.contains("encoder.layer.6.output.dense.weight"))
        // Values as safetensors' torch loader reads them (the row of [CLS], id 101).
        let words = try file.tensor("embeddings.word_embeddings.weight", shape: [30_522, 384])
        #expect(Array(words[101 * 384 ..< 101 * 384 + 4]) == [-0.01761939749121666, -0.007600549608469009, 0.047105543315410614, -0.08691827207803726])
        #expect(Array(try file.tensor("encoder.layer.5.output.LayerNorm.bias", shape: [384]).suffix(2)) == [-0.05801299959421158, 0.06612399220466614])
        #expect(throws: SafetensorsError.self) { _ = try file.tensor("embeddings.position_ids", shape: [1, 512]) }
    }

    /// tools/convert_efficientnet.py's output: the state dict's names, values equal to
    /// torch.load's (the expected numbers were read with torch 2.13 from the .pth; the
    /// convolution and classifier weights are stored non-contiguously there).
    @Test func realEfficientNetConversion() throws {
        let weights = try TestWeights.folder()
        let file = try SafetensorsFile.read(path: try weights.require(.efficientNetLite0))
        #expect(file.names.count == 296)
        #expect(file.metadata["source"] == "efficientnet-lite0-57934424.pth")
        #expect(file.metadata["source_sha256"] == "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db")
        #expect(file.entry("_bn1.num_batches_tracked")?.dtype == .i64 && file.entry("_bn1.num_batches_tracked")?.shape == [])
        #expect(file.entry("_blocks.15._project_conv.weight")?.shape == [320, 1152, 1, 1])

        let stem = try file.tensor("_conv_stem.weight", shape: [32, 3, 3, 3])
        // [0, :, 0, 0] and [1, 2, 1, :]
        #expect([stem[0], stem[9], stem[18]] == [-1.1103360652923584, -2.1162023544311523, -0.38250869512557983])
        #expect(Array(stem[27 + 18 + 3 ..< 27 + 18 + 6]) == [-0.16553017497062683, -0.4181220531463623, -0.4181220531463623])
        let classifier = try file.tensor("_fc.weight", shape: [1000, 1280])
        #expect(Array(classifier[3 * 1280 ..< 3 * 1280 + 3]) == [1.51114072650671e-05, -0.016320208087563515, 0.025907158851623535])
        #expect(classifier[999 * 1280 + 1279] == 0.04085797071456909)
    }
}
