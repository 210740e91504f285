import Capture
import Foundation
import Tensor
import Testing
import Training

/// `vitrine train-probe`'s batch file, its checks, and its gradients: the probe runs the
/// trainer's own loss and backward code (`Trainer.lossesAndGradients`), so its gradients must be
/// the derivatives of the loss it reports, which finite differences check here.
@Suite struct TrainProbeTests {
    static let config = Tiny.config
    static var cells: Int { config.imageTokens - 1 }
    static var width: Int { config.regionFeatureDim }

    /// A batch of `rows` rows of 6 tokens (the last row 4 real tokens), MLM and MRM targets at a
    /// few positions, and for fine-tuning two matching and two other pairs.
    static func tensors(mode: TrainingMode, rows B: Int = 4, seed: UInt64 = 3) -> [SafetensorsTensor] {
        var rng = SeededRNG(seed: seed)
        let L = 6
        var ids = [Float](), mask = [Float](), mlm = [Float]()
        for b in 0 ..< B {
            let real = b == B - 1 ? 4 : L
            for t in 0 ..< L {
                let isReal = t < real
                let id = t == 0 ? 1 : (t == real - 1 ? 2 : 4 + rng.below(30))
                ids.append(isReal ? Float(id) : 0)
                mask.append(isReal ? 1 : 0)
                // Position 2 of every row is an MLM target (the input there is [MASK]).
                if isReal && t == 2 { mlm.append(Float(id)); ids[ids.count - 1] = 3 } else { mlm.append(-1) }
            }
        }
        let original = (0 ..< B * cells * width).map { _ in rng.normal() }
        var features = original
        var chosen = [Float](repeating: 0, count: B * cells)
        if mode == .pretrain {
            for b in 0 ..< B {
                let c = b % cells
                chosen[b * cells + c] = 1
                for i in 0 ..< width { features[(b * cells + c) * width + i] = 0 }
            }
        }
        var out = [SafetensorsTensor(name: "ids", shape: [B, L], values: ids),
                   SafetensorsTensor(name: "attention_mask", shape: [B, L], values: mask),
                   SafetensorsTensor(name: "features", shape: [B, cells, width], values: features),
                   SafetensorsTensor(name: "mlm_targets", shape: [B, L], values: mlm)]
        if mode == .pretrain {
            out += [SafetensorsTensor(name: "mrm_targets", shape: [B, cells, width], values: original),
                    SafetensorsTensor(name: "mrm_chosen", shape: [B, cells], values: chosen)]
        } else {
            out.append(SafetensorsTensor(name: "pairs", shape: [4, 3], values: [0, 1, 1, 0, 2, 0, 1, 3, 0, 2, 3, 1]))
        }
        return out
    }

    static func objective(_ mode: TrainingMode) -> String {
        mode == .pretrain
            ? #"{"mlm": 1, "mrm": 1, "clr": 1, "robust": 0, "mPos": 0.3, "mNeg": 1.2, "temperature": 0.07}"#
            : #"{"mlm": 0.5, "mrm": 0, "clr": 0.3, "robust": 1, "mPos": 0.3, "mNeg": 1.2, "temperature": 0.07}"#
    }

    static func write(_ tensors: [SafetensorsTensor], mode: String, objective: String, to path: String) throws {
        try SafetensorsFile.write(path: path, tensors: tensors, dtype: .f32, metadata: ["mode": mode, "objective": objective])
    }

    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "train-probe-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The largest-gradient elements of a few parameters against central differences of the
    /// probe's own total loss.
    func checkFiniteDifferences(mode: TrainingMode, parameters names: [String]) throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/batch.safetensors"
        try Self.write(Self.tensors(mode: mode), mode: mode.rawValue, objective: Self.objective(mode), to: path)
        let probe = try ProbeBatch.read(path: path, config: Self.config)
        let model = CaptureModel(config: Self.config, seed: 11)
        // Freeze something, as a preset does: the probe must make every parameter trainable again.
        model.parameters.setTrainable(false, prefix: model.text.prefix)
        let (losses, gradients) = TrainingProbe.run(probe, model: model)
        let expectedNames: Set<String> = mode == .pretrain ? ["mlm", "mrm", "clr", "total"] : ["robust", "clr", "mlm", "total"]
        #expect(Set(losses.keys) == expectedNames)
        #expect(losses.values.allSatisfy { $0.isFinite && $0 > 0 }, "\(losses)")
        #expect(gradients.map(\.name) == model.parameters.names, "a gradient for every parameter, in order")
        let textGradient = try #require(gradients.first { $0.name.hasPrefix(model.text.prefix) })
        #expect(textGradient.values.contains { $0 != 0 }, "frozen text layers were made trainable: \(textGradient.name)")

        for name in names {
            let parameter = try #require(model.parameters[name], "no parameter \(name)")
            let g = try #require(gradients.first { $0.name == name }).values
            let i = g.indices.max { abs(g[$0]) < abs(g[$1]) }!
            #expect(abs(g[i]) > 1e-3, "\(name): a gradient worth checking")
            let saved = parameter.value[i]
            let h: Float = 1e-2
            parameter.value[i] = saved + h
            let plus = TrainingProbe.run(probe, model: model).losses["total"]!
            parameter.value[i] = saved - h
            let minus = TrainingProbe.run(probe, model: model).losses["total"]!
            parameter.value[i] = saved
            let numeric = (plus - minus) / Double(2 * h)
            #expect(abs(numeric - Double(g[i])) <= 0.03 * abs(numeric) + 2e-3,
                    "\(mode.rawValue) \(name)[\(i)]: backward \(g[i]), finite differences \(numeric)")
        }
    }

    @Test func pretrainingGradientsAreTheLossDerivatives() throws {
        try checkFiniteDifferences(mode: .pretrain, parameters: ["mrm.weight", "clr.image.weight", "cross.modality_embeddings.weight"])
    }

    @Test func fineTuningGradientsAreTheLossDerivatives() throws {
        try checkFiniteDifferences(mode: .finetune, parameters: ["fuse.weight", "clr.text.weight", "mlm.bias"])
    }

    @Test func theOutputFileHoldsEveryGradientAndTheLosses() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.write(Self.tensors(mode: .finetune), mode: "finetune", objective: Self.objective(.finetune), to: dir + "/b.safetensors")
        let model = CaptureModel(config: Self.config, seed: 5)
        let (losses, gradients) = TrainingProbe.run(try ProbeBatch.read(path: dir + "/b.safetensors", config: Self.config), model: model)
        try TrainingProbe.write(losses: losses, gradients: gradients, to: dir + "/g.safetensors")
        let file = try SafetensorsFile.read(path: dir + "/g.safetensors")
        #expect(file.names == model.parameters.names.map { "grad." + $0 }.sorted())
        let written = try JSONDecoder().decode([String: Double].self, from: Data(try #require(file.metadata["losses"]).utf8))
        #expect(written == losses)
        #expect(try file.tensor("grad.fuse.weight", shape: model.fuse.weight.shape) == gradients.first { $0.name == "fuse.weight" }!.values)
    }

    /// Hostile or mistaken batch files: each is refused with an error that names what is wrong.
    @Test func badBatchesAreRefusedWithClearErrors() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func replacing(_ name: String, _ change: (inout SafetensorsTensor) -> Void, mode: TrainingMode = .pretrain) -> [SafetensorsTensor] {
            Self.tensors(mode: mode).map { var t = $0; if t.name == name { change(&t) }; return t }
        }
        let cases: [(String, [SafetensorsTensor], String, String, String)] = [
            ("a NaN feature", replacing("features") { $0.values[7] = .nan }, "pretrain", Self.objective(.pretrain), "not finite"),
            ("an id past the vocabulary", replacing("ids") { $0.values[1] = 40 }, "pretrain", Self.objective(.pretrain), "token id"),
            ("a fractional id", replacing("ids") { $0.values[1] = 4.5 }, "pretrain", Self.objective(.pretrain), "\"ids\" element 1"),
            ("a token after padding", replacing("attention_mask") { $0.values[$0.values.count - 1] = 1 }, "pretrain", Self.objective(.pretrain), "after padding"),
            ("a mask of 2", replacing("attention_mask") { $0.values[0] = 2 }, "pretrain", Self.objective(.pretrain), "expected 1 or 0"),
            ("features of another width", replacing("features") { $0.shape = [4, Self.cells * Self.width]; }, "pretrain", Self.objective(.pretrain), "\"features\" has shape"),
            ("a pair out of the batch", replacing("pairs", { $0.values[1] = 9 }, mode: .finetune), "finetune", Self.objective(.finetune), "\"pairs\" row 0"),
            ("a pair label of 0.5", replacing("pairs", { $0.values[2] = 0.5 }, mode: .finetune), "finetune", Self.objective(.finetune), "y = 0.5"),
            ("no pairs when fine-tuning", Self.tensors(mode: .finetune).filter { $0.name != "pairs" }, "finetune", Self.objective(.finetune), "no tensor \"pairs\""),
            ("pairs when pretraining", Self.tensors(mode: .pretrain) + [SafetensorsTensor(name: "pairs", shape: [1, 3], values: [0, 1, 1])], "pretrain", Self.objective(.pretrain), "only fine-tuning"),
            ("another temperature", Self.tensors(mode: .pretrain), "pretrain", Self.objective(.pretrain).replacingOccurrences(of: "0.07", with: "0.1"), "temperature"),
            ("pretraining weights not 1", Self.tensors(mode: .pretrain), "pretrain", Self.objective(.pretrain).replacingOccurrences(of: "\"mrm\": 1", with: "\"mrm\": 2"), "\"mrm\" is 2"),
            ("margins the wrong way round", Self.tensors(mode: .finetune), "finetune", Self.objective(.finetune).replacingOccurrences(of: "1.2", with: "0.1"), "mPos"),
            ("an unknown mode", Self.tensors(mode: .pretrain), "distill", Self.objective(.pretrain), "pretrain or finetune"),
            ("an objective that is not JSON", Self.tensors(mode: .pretrain), "pretrain", "{mlm: 1", "not a JSON object"),
            ("an unknown tensor", Self.tensors(mode: .pretrain) + [SafetensorsTensor(name: "extra\u{1B}[2J", shape: [1], values: [0])], "pretrain", Self.objective(.pretrain), "does not have"),
            ("too many rows", replacing("ids") { $0.shape = [2000, 2]; $0.values = [Float](repeating: 1, count: 4000) }, "pretrain", Self.objective(.pretrain), "1 to 1024"),
        ]
        for (what, tensors, mode, objective, expected) in cases {
            let path = dir + "/bad.safetensors"
            try Self.write(tensors, mode: mode, objective: objective, to: path)
            do {
                _ = try ProbeBatch.read(path: path, config: Self.config)
                Issue.record("\(what): accepted")
            } catch {
                let message = "\(error)"
                #expect(message.contains(expected) && message.contains(path), "\(what): \(message)")
                #expect(!message.contains("\u{1B}"), "\(what): the message carries an escape")
            }
        }
        // Not a safetensors file at all.
        try Data("{\"event\": \"step\"}\n".utf8).write(to: URL(fileURLWithPath: dir + "/text.safetensors"))
        #expect(throws: TrainingError.self) { try ProbeBatch.read(path: dir + "/text.safetensors", config: Self.config) }
    }
}
