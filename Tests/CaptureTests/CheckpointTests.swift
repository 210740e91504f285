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
        // The file holds MODEL.md's names in PyTorch's layout.
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

    @Test func frozenPartsAreLeftOutAndReferencedByHash() throws {
        let folder = try TemporaryFolder(); defer { folder.remove() }
        let config = TinyCapture.config()
        let model = CaptureModel(config: config, seed: 1)
        model.parameters.setTrainable(false, prefix: "text.")
        let miniLM = ComponentIdentity(name: "all-MiniLM-L6-v2", sha256: String(repeating: "12", count: 32))
        let path = folder.file("fine-tuned.safetensors")
        try Checkpoint.save(model, to: path, metadata: Self.metadata(config), frozenSource: miniLM)
        let file = try SafetensorsFile.read(path: path)
        #expect(!file.names.contains { $0.hasPrefix("text.") })
        #expect(file.contains("mlm.bias"))
        let metadata = try Checkpoint.readMetadata(path: path)
        #expect(metadata.frozenSource == miniLM)
        #expect(metadata.omittedTensors.count == model.parameters.names.filter { $0.hasPrefix("text.") }.count)

        // A model holding the same frozen tower (same seed here) loads it given the source.
        let target = CaptureModel(config: config, seed: 1)
        for p in target.parameters where !p.name.hasPrefix("text.") { p.value.fill(0) }
        try Checkpoint.load(into: target, from: path, expectedBackbone: Self.backbone, frozenSource: miniLM)
        for p in model.parameters { #expect(target.parameters[p.name]!.value.array == p.value.array, "\(p.name)") }
        // Without the source's identity, or with another, it refuses.
        #expect(throws: CheckpointError.self) {
            try Checkpoint.load(into: CaptureModel(config: config), from: path, expectedBackbone: Self.backbone)
        }
        let otherSource = ComponentIdentity(name: "all-MiniLM-L6-v2", sha256: String(repeating: "34", count: 32))
        #expect(throws: CheckpointError.self) {
            try Checkpoint.load(into: CaptureModel(config: config), from: path, expectedBackbone: Self.backbone,
                                frozenSource: otherSource)
        }
    }
}
