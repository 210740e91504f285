import Capture
import Foundation
import Tensor
import Testing

@Suite struct CheckpointTests {
    static let backbone = ComponentIdentity(name: "EfficientNet-Lite0", sha256: String(repeating: "ab", count: 32))
    static let tokenizer = ComponentIdentity(name: "all-MiniLM-L6-v2 vocab.txt", sha256: String(repeating: "cd", count: 32))

    static func metadata(_ config: CaptureConfig, step: Int = 42) -> CheckpointMetadata {
        CheckpointMetadata(config: config, tokenizer: tokenizer, backbone: backbone, step: step,
                           data: "toy set, seed 1")
    }

    @Test func float32RoundTripsBitForBit() throws {
        let folder = try TemporaryFolder(); defer { folder.remove() }
        let config = TinyCapture.config()
        let saved = CaptureModel(config: config, seed: 1)
        let path = folder.file("model.safetensors")
        try Checkpoint.save(saved, to: path, metadata: Self.metadata(config))
        let loaded = CaptureModel(config: config, seed: 2)
        let metadata = try Checkpoint.load(into: loaded, from: path, expectedBackbone: Self.backbone,
                                           expectedTokenizer: Self.tokenizer)
        #expect(metadata == Self.metadata(config))
        for p in saved.parameters {
            let q = try #require(loaded.parameters[p.name])
            #expect(p.value.array.map(\.bitPattern) == q.value.array.map(\.bitPattern), "\(p.name) differs")
        }
        // The file holds the names of docs/model.md §8.2 in PyTorch's layout.
        let file = try SafetensorsFile.read(path: path)
        #expect(Set(file.names) == Set(saved.parameters.names))
        #expect(file.entry("fuse.weight")?.shape == [8, 32])
        #expect(file.metadata["step"] == "42")

        let (rebuilt, _) = try Checkpoint.load(path: path, expectedBackbone: Self.backbone)
        #expect(rebuilt.config == config)
        var rng = SeededRNG(seed: 4)
        let batch = CaptureModelTests.fixedBatch(config: config, rng: &rng)
        #expect(rebuilt.embed(tokens: batch.tokens, imageFeatures: batch.imageInput)
                == saved.embed(tokens: batch.tokens, imageFeatures: batch.imageInput))
    }

    @Test func float16RoundTripsWithinRounding() throws {
        let folder = try TemporaryFolder(); defer { folder.remove() }
        let config = TinyCapture.config()
        let saved = CaptureModel(config: config, seed: 1)
        let path = folder.file("half.safetensors")
        try Checkpoint.save(saved, to: path, metadata: Self.metadata(config), dtype: .f16)
        #expect(try SafetensorsFile.read(path: path).entry("mrm.weight")?.dtype == .f16)
        let loaded = CaptureModel(config: config, seed: 2)
        try Checkpoint.load(into: loaded, from: path, expectedBackbone: Self.backbone)
        for p in saved.parameters {
            let q = try #require(loaded.parameters[p.name])
            for i in 0..<p.count {
                // Half precision keeps 11 significant bits: relative error at most 2^-11 (normal
                // numbers), absolute 2^-25 for subnormals.
                #expect(abs(p.value[i] - q.value[i]) <= abs(p.value[i]) * 0x1p-11 + 0x1p-25, "\(p.name)[\(i)]")
            }
        }
    }

    @Test func mismatchedConfigurationOrBackboneIsAClearError() throws {
        let folder = try TemporaryFolder(); defer { folder.remove() }
        let config = TinyCapture.config()
        let path = folder.file("model.safetensors")
        try Checkpoint.save(CaptureModel(config: config), to: path, metadata: Self.metadata(config))

        var other = config; other.crossLayers = 2
        let wrong = CaptureModel(config: other)
        let before = wrong.parameters["mrm.weight"]!.value.array
        let configError = #expect(throws: CheckpointError.self) {
            try Checkpoint.load(into: wrong, from: path, expectedBackbone: Self.backbone)
        }
        #expect(configError?.description.contains("configuration") == true)
        #expect(wrong.parameters["mrm.weight"]!.value.array == before, "a failed load must not change the model")

        let otherBackbone = ComponentIdentity(name: "EfficientNet-Lite0", sha256: String(repeating: "ef", count: 32))
        let backboneError = #expect(throws: CheckpointError.self) {
            try Checkpoint.load(into: CaptureModel(config: config), from: path, expectedBackbone: otherBackbone)
        }
        #expect(backboneError?.description.contains("backbone") == true)
        #expect(backboneError?.description.contains(String(repeating: "ab", count: 32)) == true)

        // A plain safetensors file is not a checkpoint.
        let plain = folder.file("plain.safetensors")
        try SafetensorsFile.write(path: plain, tensors: [SafetensorsTensor(name: "x", shape: [1], values: [1])])
        #expect(throws: CheckpointError.self) { try Checkpoint.readMetadata(path: plain) }
    }

    @Test func missingTensorOrWrongShapeIsAnError() throws {
        let folder = try TemporaryFolder(); defer { folder.remove() }
        let config = TinyCapture.config()
        let path = folder.file("model.safetensors")
        try Checkpoint.save(CaptureModel(config: config), to: path, metadata: Self.metadata(config))
        let file = try SafetensorsFile.read(path: path)
        var tensors = try file.names.map { name in
            let t = try file.tensor(name)
            return SafetensorsTensor(name: name, shape: t.shape, values: t.values)
        }

        let missing = folder.file("missing.safetensors")
        try SafetensorsFile.write(path: missing, tensors: tensors.filter { $0.name != "co.layer.0.text.output.dense.bias" },
                                  metadata: file.metadata)
        let missingError = #expect(throws: SafetensorsError.self) {
            try Checkpoint.load(into: CaptureModel(config: config), from: missing, expectedBackbone: nil)
        }
        #expect(missingError?.kind == .missingTensor(tensor: "co.layer.0.text.output.dense.bias", expectedShape: [16]))

        let index = try #require(tensors.firstIndex { $0.name == "mrm.weight" })
        tensors[index].shape = [16, 12]
        let reshaped = folder.file("reshaped.safetensors")
        try SafetensorsFile.write(path: reshaped, tensors: tensors, metadata: file.metadata)
        let shapeError = #expect(throws: SafetensorsError.self) {
            try Checkpoint.load(into: CaptureModel(config: config), from: reshaped, expectedBackbone: nil)
        }
        #expect(shapeError?.kind == .wrongShape(tensor: "mrm.weight", expected: [12, 16], actual: [16, 12]))
    }

    /// Frozen tensors equal to MiniLM's are left out and referenced by the file's SHA-256; loading
    /// reads them back from the weights folder, only from the very file recorded.
    @Test func frozenPartsAreLeftOutAndReferencedByHash() throws {
        let folder = try TemporaryFolder(); defer { folder.remove() }
        let config = TinyCapture.config()
        // A weights folder whose "MiniLM" is this tiny model's text tower, in Hugging Face's names.
        let pretrained = CaptureModel(config: config, seed: 1)
        let weights = WeightsFolder(path: folder.file("Weights"))
        try FileManager.default.createDirectory(atPath: weights.path + "/minilm", withIntermediateDirectories: true)
        try SafetensorsFile.write(path: weights.path + "/" + WeightsFile.miniLMModel.rawValue,
                                  tensors: pretrained.text.parameters.map {
                                      SafetensorsTensor(name: String($0.name.dropFirst("text.".count)), shape: $0.shape,
                                                        values: $0.value.array)
                                  }, metadata: [:])
        let miniLM = try ComponentIdentity(.miniLMModel, in: weights)

        // Fine-tuned: text frozen; one frozen tensor differs from MiniLM's (trained, then frozen).
        let model = CaptureModel(config: config, seed: 1)
        model.parameters.setTrainable(false, prefix: "text.")
        let changed = "text.encoder.layer.0.output.dense.bias"
        model.parameters[changed]!.value.fill(0.5)
        for p in model.parameters where !p.name.hasPrefix("text.") { p.value.fill(0.25) }
        let frozen = try FrozenTensors.textTower(of: model, in: weights)
        let textNames = model.parameters.names.filter { $0.hasPrefix("text.") }
        #expect(frozen.source == miniLM)
        #expect(frozen.names == Set(textNames).subtracting([changed]))

        let path = folder.file("fine-tuned.safetensors")
        try Checkpoint.save(model, to: path, metadata: Self.metadata(config), omitting: frozen)
        let file = try SafetensorsFile.read(path: path)
        #expect(file.names.filter { $0.hasPrefix("text.") } == [changed])
        #expect(file.contains("mlm.bias"))
        let metadata = try Checkpoint.readMetadata(path: path)
        #expect(metadata.frozenSource == miniLM)
        #expect(metadata.omittedTensors.count == textNames.count - 1)

        // Loaded into a model of different values: everything comes back, the omitted from MiniLM's file.
        let (target, _) = try Checkpoint.load(path: path, expectedBackbone: Self.backbone, weights: weights)
        for p in model.parameters { #expect(target.parameters[p.name]!.value.array == p.value.array, "\(p.name)") }

        // Without the weights folder, or with another MiniLM, it refuses and changes nothing.
        let untouched = CaptureModel(config: config, seed: 7)
        let before = untouched.parameters.parameters.map(\.value.array)
        #expect(throws: CheckpointError.self) {
            try Checkpoint.load(into: untouched, from: path, expectedBackbone: Self.backbone)
        }
        try SafetensorsFile.write(path: weights.path + "/" + WeightsFile.miniLMModel.rawValue,
                                  tensors: CaptureModel(config: config, seed: 2).text.parameters.map {
                                      SafetensorsTensor(name: String($0.name.dropFirst("text.".count)), shape: $0.shape,
                                                        values: $0.value.array)
                                  }, metadata: [:])
        let refused = #expect(throws: CheckpointError.self) {
            try Checkpoint.load(into: untouched, from: path, expectedBackbone: Self.backbone, weights: weights)
        }
        #expect(refused?.reason.contains("make weights") == true, "\(String(describing: refused))")
        #expect(untouched.parameters.parameters.map(\.value.array) == before)
    }
}

/// Checkpoints are data: every number in one is checked before it sizes anything, so a mutated or
/// hostile checkpoint is a clear error, never a trap, an abort or a huge allocation.
@Suite struct HostileCheckpointTests {
    /// The tiny model's checkpoint rewritten with its configuration's `key` set to `value`.
    static func mutated(_ key: String, _ value: Any, in folder: TemporaryFolder) throws -> String {
        let config = TinyCapture.config()
        let path = folder.file("base.safetensors")
        try Checkpoint.save(CaptureModel(config: config, seed: 1), to: path, metadata: CheckpointTests.metadata(config))
        let file = try SafetensorsFile.read(path: path)
        var json = try #require(try JSONSerialization.jsonObject(with: Data(file.metadata["config"]!.utf8)) as? [String: Any])
        json[key] = value
        var metadata = file.metadata
        metadata["config"] = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
        let tensors = try file.names.map { name in
            let (shape, values) = try file.tensor(name)
            return SafetensorsTensor(name: name, shape: shape, values: values)
        }
        let out = folder.file("\(key)-\(value).safetensors")
        try SafetensorsFile.write(path: out, tensors: tensors, metadata: metadata)
        return out
    }

    @Test(arguments: [("heads", 0), ("heads", 3), ("hidden", 0), ("hidden", -32), ("boxDim", 4), ("imageTokens", 0),
                      ("imageTokens", 7), ("coLayers", 100_000), ("hidden", 1 << 40), ("intermediate", 1 << 30),
                      ("vocabSize", 1 << 40), ("maxTextLength", 0), ("maxTextLength", 1), ("textLayers", -1),
                      ("maxPositions", 2), ("clrDim", 0)])
    func impossibleConfigurationsAreClearErrors(_ key: String, _ value: Int) throws {
        let folder = try TemporaryFolder(); defer { folder.remove() }
        let path = try Self.mutated(key, value, in: folder)
        do {
            _ = try Checkpoint.load(path: path, expectedBackbone: CheckpointTests.backbone)
            Issue.record("a checkpoint with \(key) = \(value) loaded")
        } catch let error as CheckpointError {
            #expect(error.description.contains("configuration"), "\(error)")
        }
    }

    @Test func nonFiniteWeightsAreRefusedAtLoad() throws {
        let folder = try TemporaryFolder(); defer { folder.remove() }
        let config = TinyCapture.config()
        let model = CaptureModel(config: config, seed: 1)
        let name = try #require(model.parameters.names.first { $0.hasPrefix("fuse") })
        model.parameters[name]!.value[0] = .nan
        let path = folder.file("nan.safetensors")
        try Checkpoint.save(model, to: path, metadata: CheckpointTests.metadata(config))
        do {
            _ = try Checkpoint.load(path: path, expectedBackbone: CheckpointTests.backbone)
            Issue.record("a checkpoint holding NaN loaded")
        } catch let error as CheckpointError {
            #expect(error.description.contains("not finite"), "\(error)")
        }
    }
}
