import Capture
import Foundation
import SafeText
import Tensor

/// One fixed batch for `vitrine train-probe`: what a training step feeds the model after masking,
/// read from a safetensors file and checked like any input from outside (docs/model.md §8.7).
///
/// Tensors (all F32): `ids` [B, L] (token ids after masking), `attention_mask` [B, L] (1 for the
/// real tokens, which come first in each row, then 0), `features` [B, cells, D] (the backbone's
/// cells after masking, row-major, channels last; the global token is their mean, as in training),
/// `mlm_targets` [B, L] (the original id at chosen positions, -1 elsewhere), `mrm_targets`
/// [B, cells, D] and `mrm_chosen` [B, cells] (1/0; pretraining), `pairs` [P, 3] rows (i, j, y)
/// (fine-tuning). Metadata: `mode` (`pretrain` or `finetune`) and `objective`, JSON
/// `{"mlm": w, "mrm": w, "clr": w, "robust": w, "mPos": x, "mNeg": x, "temperature": t}`.
public struct ProbeBatch: Sendable {
    public var mode: TrainingMode
    /// The model's inputs and the MLM and MRM targets, as `CaptureModel.forward` takes them.
    public var batch: MaskedPretrainingBatch
    /// Fine-tuning: labelled pairs of rows.
    public var pairs: [EmbeddingPair]
    /// The fine-tuning objective (margins, CLR and MLM weights); the trainer's default when pretraining.
    public var objective: FineTuningObjective

    /// Most rows, tokens a row and pairs a batch file may hold.
    public static let maximumRows = 1024
    public static let maximumPairs = 1_000_000

    /// The objective as the batch file's metadata gives it.
    struct Weights: Decodable {
        var mlm: Double?
        var mrm: Double?
        var clr: Double?
        var robust: Double?
        var mPos: Double?
        var mNeg: Double?
        var temperature: Double?
    }

    /// Reads and checks the batch file at `path` for a model of `config`.
    ///
    /// - Throws: `TrainingError.probe` saying what is wrong, where, and what the file must hold.
    public static func read(path: String, config: CaptureConfig) throws -> ProbeBatch {
        func fail(_ reason: String) -> TrainingError { .probe(path: path, reason: reason) }
        let file: SafetensorsFile
        do { file = try SafetensorsFile.read(path: path) } catch { throw fail("\(error)") }

        guard let modeText = file.metadata["mode"] else {
            throw fail("its metadata has no \"mode\" (pretrain or finetune)")
        }
        guard let mode = TrainingMode(rawValue: modeText) else {
            throw fail("its metadata's \"mode\" is \(SafeText.quoted(modeText)); expected pretrain or finetune")
        }
        let objective = try readObjective(file.metadata["objective"], mode: mode, fail: fail)

        let known: Set<String> = ["ids", "attention_mask", "features", "mlm_targets", "mrm_targets", "mrm_chosen", "pairs"]
        if let extra = file.names.first(where: { !known.contains($0) }) {
            throw fail("it holds tensor \(SafeText.quoted(extra)), which a probe batch does not have (known: \(known.sorted().joined(separator: ", ")))")
        }
        func entry(_ name: String, required: Bool = true) throws -> SafetensorsEntry? {
            guard let e = file.entry(name) else {
                if required { throw fail("it has no tensor \"\(name)\"") }
                return nil
            }
            guard e.dtype == .f32 else { throw fail("tensor \"\(name)\" is \(e.dtype.rawValue); probe batches are F32") }
            return e
        }
        func values(_ name: String, _ shape: [Int]) throws -> [Float] {
            let e = try entry(name)!
            guard e.shape == shape else {
                throw fail("tensor \"\(name)\" has shape \(e.shape); expected \(shape)")
            }
            let v: [Float]
            do { v = try file.tensor(name, shape: shape) } catch { throw fail("\(error)") }
            if let i = v.firstIndex(where: { !$0.isFinite }) {
                throw fail("tensor \"\(name)\" holds a value that is not finite at element \(i)")
            }
            return v
        }
        /// Whole numbers in `range` (ids, flags), as Int32.
        func integers(_ name: String, _ v: [Float], in range: ClosedRange<Int>, what: String) throws -> [Int32] {
            try v.enumerated().map { i, x in
                guard x == x.rounded(), Double(x) >= Double(range.lowerBound), Double(x) <= Double(range.upperBound) else {
                    throw fail("tensor \"\(name)\" element \(i) is \(x); expected \(what)")
                }
                return Int32(x)
            }
        }

        // Sizes: from ids, bounded, then every other tensor must agree.
        let idsEntry = try entry("ids")!
        guard idsEntry.shape.count == 2 else { throw fail("tensor \"ids\" has shape \(idsEntry.shape); expected [B, L]") }
        let B = idsEntry.shape[0], L = idsEntry.shape[1]
        guard (1 ... maximumRows).contains(B) else { throw fail("it has \(B) rows; a probe batch has 1 to \(maximumRows)") }
        guard (2 ... config.maxTextLength).contains(L) else {
            throw fail("its rows have \(L) tokens; this model takes 2 to \(config.maxTextLength)")
        }
        let cells = config.imageTokens - 1, D = config.regionFeatureDim, N = config.imageTokens

        let ids = try integers("ids", try values("ids", [B, L]), in: 0 ... config.vocabSize - 1,
                               what: "a token id from 0 to \(config.vocabSize - 1)")
        let mask = try values("attention_mask", [B, L])
        for b in 0 ..< B {
            var ended = false
            for t in 0 ..< L {
                let m = mask[b * L + t]
                guard m == 0 || m == 1 else { throw fail("tensor \"attention_mask\" row \(b) holds \(m); expected 1 or 0") }
                if m == 0 { ended = true } else if ended {
                    throw fail("tensor \"attention_mask\" row \(b) has a real token after padding; real tokens come first")
                }
            }
            guard mask[b * L] == 1 else { throw fail("tensor \"attention_mask\" row \(b) has no real token") }
        }
        let mlm = try integers("mlm_targets", try values("mlm_targets", [B, L]), in: -1 ... config.vocabSize - 1,
                               what: "-1 or a token id from 0 to \(config.vocabSize - 1)")
        for (i, t) in mlm.enumerated() where t >= 0 && mask[i] == 0 {
            throw fail("tensor \"mlm_targets\" row \(i / L) has a target at padding (position \(i % L))")
        }
        let features = try values("features", [B, cells, D])

        var regionTargets = features, chosen = [Float](repeating: 0, count: B * cells)
        let hasRegions = file.contains("mrm_targets") || file.contains("mrm_chosen")
        if mode == .pretrain || hasRegions {
            regionTargets = try values("mrm_targets", [B, cells, D])
            chosen = try values("mrm_chosen", [B, cells])
            if let x = chosen.first(where: { $0 != 0 && $0 != 1 }) { throw fail("tensor \"mrm_chosen\" holds \(x); expected 1 or 0") }
            if mode == .finetune, chosen.contains(1) {
                throw fail("tensor \"mrm_chosen\" chooses cells, but fine-tuning masks no regions (MRM is pretraining's)")
            }
        }

        var pairs: [EmbeddingPair] = []
        if let e = try entry("pairs", required: mode == .finetune) {
            guard mode == .finetune else { throw fail("it has \"pairs\", which only fine-tuning uses (mode is pretrain)") }
            guard e.shape.count == 2, e.shape[1] == 3 else { throw fail("tensor \"pairs\" has shape \(e.shape); expected [P, 3]") }
            let P = e.shape[0]
            guard P <= maximumPairs else { throw fail("it has \(P) pairs; at most \(maximumPairs)") }
            let rows = try values("pairs", [P, 3])
            for k in 0 ..< P {
                let (i, j, y) = (rows[3 * k], rows[3 * k + 1], rows[3 * k + 2])
                guard i == i.rounded(), j == j.rounded(), i >= 0, j >= 0, Int(i) < B, Int(j) < B, i != j else {
                    throw fail("tensor \"pairs\" row \(k) is (\(i), \(j), \(y)): i and j must be two different rows from 0 to \(B - 1)")
                }
                guard y == 0 || y == 1 else { throw fail("tensor \"pairs\" row \(k) has y = \(y); expected 1 (match) or 0") }
                pairs.append(EmbeddingPair(Int(i), Int(j), isMatch: y == 1))
            }
        }

        var regionMask = [Float](repeating: 0, count: B * N)
        for b in 0 ..< B { for c in 0 ..< cells where chosen[b * cells + c] == 1 { regionMask[b * N + 1 + c] = 1 } }
        func tokens(_ cellValues: [Float]) -> [Float] {
            var out: [Float] = []
            out.reserveCapacity(B * N * D)
            for b in 0 ..< B { out += ImageTokens.features(cellMajor: Array(cellValues[(b * cells * D) ..< ((b + 1) * cells * D)]), width: D) }
            return out
        }
        let masked = MaskedPretrainingBatch(tokens: TokenBatch(ids: ids, mask: mask, batch: B, length: L),
                                            mlmTargets: mlm.map { $0 < 0 ? -100 : $0 },
                                            imageInput: tokens(features), regionTargets: tokens(regionTargets),
                                            regionMask: regionMask)
        return ProbeBatch(mode: mode, batch: masked, pairs: pairs, objective: objective)
    }

    /// The objective the metadata asks for, if it is one `vitrine train` computes: pretraining sums
    /// MLM, MRM and CLR with weight 1; fine-tuning is robust (weight 1) + CLR and MLM with any
    /// weights, no MRM; CLR's temperature is 0.07 (docs/model.md §5).
    private static func readObjective(_ text: String?, mode: TrainingMode,
                                      fail: (String) -> TrainingError) throws -> FineTuningObjective {
        guard let text else { throw fail("its metadata has no \"objective\" (JSON: mlm, mrm, clr, robust, mPos, mNeg, temperature)") }
        guard text.utf8.count <= 4096, let w = try? JSONDecoder().decode(Weights.self, from: Data(text.utf8)) else {
            throw fail("its metadata's \"objective\" is not a JSON object of numbers: \(SafeText.quoted(text, limit: 120))")
        }
        let given: [(String, Double?)] = [("mlm", w.mlm), ("mrm", w.mrm), ("clr", w.clr), ("robust", w.robust),
                                          ("mPos", w.mPos), ("mNeg", w.mNeg), ("temperature", w.temperature)]
        if let (name, _) = given.first(where: { $0.1.map { !$0.isFinite } ?? false }) {
            throw fail("its objective's \"\(name)\" is not a finite number")
        }
        func need(_ name: String, _ value: Double?, _ expected: Double, _ why: String) throws {
            guard let value else { throw fail("its objective has no \"\(name)\"") }
            guard abs(value - expected) <= 1e-6 else {
                throw fail("its objective's \"\(name)\" is \(value); vitrine train uses \(expected) (\(why))")
            }
        }
        try need("temperature", w.temperature, 0.07, "CLR's temperature is fixed, docs/model.md §5.1")
        let defaults = TrainingOptions.defaultObjective
        switch mode {
        case .pretrain:
            for name in ["mlm", "mrm", "clr"] {
                try need(name, given.first { $0.0 == name }!.1, 1, "pretraining sums MLM, MRM and CLR")
            }
            try need("robust", w.robust ?? 0, 0, "pretraining has no robust loss")
            return defaults
        case .finetune:
            try need("robust", w.robust, 1, "the robust contrastive loss is fine-tuning's own term")
            try need("mrm", w.mrm ?? 0, 0, "fine-tuning has no MRM")
            guard let clr = w.clr, let mlm = w.mlm, clr >= 0, mlm >= 0, clr <= 1000, mlm <= 1000 else {
                throw fail("its objective needs \"clr\" and \"mlm\" weights from 0 to 1000 for fine-tuning")
            }
            guard let pos = w.mPos, let neg = w.mNeg, pos >= 0, neg > pos, neg <= 4 else {
                throw fail("its objective needs margins 0 <= \"mPos\" < \"mNeg\" <= 4 for fine-tuning (got \(w.mPos.map { "\($0)" } ?? "none"), \(w.mNeg.map { "\($0)" } ?? "none"))")
            }
            return FineTuningObjective(positiveMargin: Float(pos), negativeMargin: Float(neg),
                                       clrWeight: Float(clr), mlmWeight: Float(mlm))
        }
    }
}

/// `vitrine train-probe`: one forward and backward pass of the trainer's own loss code
/// (`Trainer.lossesAndGradients`, what every step of `vitrine train` runs) on a fixed batch,
/// with dropout off and every parameter trainable, so that another implementation of the model
/// (the PyTorch twin) can be compared with it loss for loss and gradient for gradient.
public enum TrainingProbe {
    /// The losses (the names `step` events report, `total` included) and the gradient of
    /// `total` for every parameter of `model`, in its parameter order. Makes every parameter
    /// trainable (frozen layers included) and leaves the gradients in the model. Gradients are
    /// before clipping (clipping is the optimiser step's, not the loss's).
    public static func run(_ probe: ProbeBatch, model: CaptureModel) -> (losses: [String: Double], gradients: [(name: String, shape: [Int], values: [Float])]) {
        for p in model.parameters.parameters { p.isTrainable = true }
        model.parameters.zeroGradients()
        let noDropout = ForwardMode.training(TrainingDropout(hidden: 0, attention: 0, seed: 0))
        let losses = Trainer.lossesAndGradients(model: model, batch: probe.batch, mode: probe.mode, pairs: probe.pairs,
                                                objective: probe.objective, forward: noDropout)
        let gradients = model.parameters.parameters.map { ($0.name, $0.shape, $0.grad.array) }
        return (losses, gradients)
    }

    /// Writes `grad.<name>` for every gradient (F32) and the losses as the metadata's `losses`
    /// (a JSON object; non-finite values as the strings "nan", "inf", "-inf").
    public static func write(losses: [String: Double], gradients: [(name: String, shape: [Int], values: [Float])],
                             to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = String(decoding: try encoder.encode(losses), as: UTF8.self)
        let tensors = gradients.map { SafetensorsTensor(name: "grad." + $0.name, shape: $0.shape, values: $0.values) }
        try SafetensorsFile.write(path: path, tensors: tensors, dtype: .f32, metadata: ["losses": json, "format": "vitrine-train-probe/1"])
    }
}
