import SafeText
import Support
import Foundation
import Tensor

/// The identity of a component a checkpoint depends on: a name and the SHA-256 of its
/// file (the tokenizer's `vocab.txt`, the backbone's weights, a frozen tower's weights).
public struct ComponentIdentity: Sendable, Codable, Hashable, CustomStringConvertible {
    public let name: String
    /// Lower-case hexadecimal SHA-256.
    public let sha256: String

    public init(name: String, sha256: String) { self.name = name; self.sha256 = sha256 }

    /// The identity of the file at `path` (its SHA-256 is computed).
    public init(name: String, fileAt path: String) throws(ContentHashError) {
        self.init(name: name, sha256: try ContentHash.sha256(fileAt: path))
    }

    /// `efficientnet-lite0 (sha256 0123...)`.
    public var description: String { "\(name) (sha256 \(sha256))" }

    /// The identity of a file of the weights folder: its display name and the SHA-256 the
    /// folder's MANIFEST records, or (without a MANIFEST entry) the file's computed SHA-256.
    /// For the tokenizer use the tower's `tokenizerFile`, for a frozen text tower its `modelFile`.
    public init(_ file: WeightsFile, in folder: WeightsFolder) throws {
        let path = try folder.require(file)
        if let recorded = folder.recordedSHA256(of: file) {
            self.init(name: file.displayName, sha256: recorded.lowercased())
        } else {
            try self.init(name: file.displayName, fileAt: path)
        }
    }
}

/// What a checkpoint's `__metadata__` records besides its tensors (docs/model.md §8.3, "Metadata").
public struct CheckpointMetadata: Sendable, Equatable {
    public var config: CaptureConfig
    public var tokenizer: ComponentIdentity
    public var backbone: ComponentIdentity
    /// The training step the parameters were saved at.
    public var step: Int
    /// What the model was trained on (free text: data set, split, hash).
    public var data: String
    /// Where the tensors left out of the file come from (nil when nothing is left out).
    public var frozenSource: ComponentIdentity?
    /// The names of the tensors left out of the file (frozen, taken from `frozenSource`).
    public var omittedTensors: [String]

    public init(config: CaptureConfig, tokenizer: ComponentIdentity, backbone: ComponentIdentity, step: Int,
                data: String, frozenSource: ComponentIdentity? = nil, omittedTensors: [String] = []) {
        self.config = config; self.tokenizer = tokenizer; self.backbone = backbone; self.step = step
        self.data = data; self.frozenSource = frozenSource; self.omittedTensors = omittedTensors
    }
}

/// Why a checkpoint could not be written, read or applied.
public struct CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public init(path: String, reason: String) { self.path = path; self.reason = reason }
    public var description: String { "checkpoint \(path): \(reason)" }
}

/// Frozen tensors a checkpoint may leave out (docs/model.md §8.4): each equal, bit
/// for bit, to the same tensor of a pretrained file, which the checkpoint references by SHA-256.
public struct FrozenTensors: Sendable, Equatable {
    public var source: ComponentIdentity
    public var names: Set<String>

    public init(source: ComponentIdentity, names: Set<String>) { self.source = source; self.names = names }

    /// The frozen parameters of `model`'s text stream that equal its pretrained tower's (e5 or
    /// MiniLM, `model.config.textTower`) in `weights` (the only pretrained tower a checkpoint
    /// holds; the backbone is never in one). A frozen parameter that differs (trained earlier,
    /// then frozen) is not among them and stays in the file.
    public static func textTower(of model: CaptureModel, in weights: WeightsFolder) throws -> FrozenTensors {
        let file = model.config.textTower.modelFile
        let source = try SafetensorsFile.read(path: try weights.require(file))
        var names: Set<String> = []
        for p in model.text.parameters where !p.isTrainable {
            let name = model.text.sourceName(of: p.name, in: source)
            guard source.contains(name), let values = try? source.tensor(name, shape: p.shape) else { continue }
            let current = p.value.array
            if values.elementsEqual(current, by: { $0.bitPattern == $1.bitPattern }) { names.insert(p.name) }
        }
        return FrozenTensors(source: try ComponentIdentity(file, in: weights), names: names)
    }
}

/// Saving and loading a `CaptureModel` as one safetensors file with the tensor names of docs/model.md §8.2
/// and metadata. Writes are atomic (a reader never sees a half-written file).
public enum Checkpoint {
    /// The value of the `format` metadata key.
    public static let format = "vitrine-capture/1"

    /// Writes `model`'s parameters to `path` as `dtype` (`.f32`, bit for bit, or `.f16`).
    ///
    /// With `frozen`, the parameters it names that are frozen (`isTrainable == false`) are left
    /// out and recorded as coming from `frozen.source` (the text tower's weights file, by
    /// SHA-256); `load` reads them back from that file. See `FrozenTensors.textTower(of:in:)`.
    public static func save(_ model: CaptureModel, to path: String, metadata: CheckpointMetadata,
                            dtype: SafetensorsDType = .f32, omitting frozen: FrozenTensors? = nil) throws {
        guard dtype == .f32 || dtype == .f16 else {
            throw CheckpointError(path: path, reason: "checkpoints are written as F32 or F16, not \(dtype.rawValue)")
        }
        guard metadata.config == model.config else {
            throw CheckpointError(path: path, reason: "the metadata's configuration is not the model's")
        }
        var kept: [SafetensorsTensor] = [], omitted: [String] = []
        for p in model.parameters {
            if let frozen, !p.isTrainable, frozen.names.contains(p.name) { omitted.append(p.name); continue }
            kept.append(SafetensorsTensor(name: p.name, shape: p.shape, values: p.value.array))
        }
        var recorded = metadata
        recorded.frozenSource = omitted.isEmpty ? nil : frozen?.source
        recorded.omittedTensors = omitted
        try SafetensorsFile.write(path: path, tensors: kept, dtype: dtype, metadata: try encode(recorded, path: path))
    }

    /// Reads only the metadata of the checkpoint at `path`.
    public static func readMetadata(path: String) throws -> CheckpointMetadata {
        try decode(try SafetensorsFile.read(path: path))
    }

    /// Loads the checkpoint at `path` into `model`.
    ///
    /// Fails with a `CheckpointError` naming the difference when the checkpoint's configuration
    /// is not the model's, or when its backbone (or tokenizer) is not `expectedBackbone`
    /// (`expectedTokenizer`). A checkpoint that leaves frozen tensors out has them read from
    /// its text tower's file in `weights`, which must be the file it recorded (same SHA-256). Fails with
    /// the `SafetensorsError` of a missing tensor or a wrong shape. Parameters are only changed
    /// once every check has passed and every tensor was read.
    @discardableResult
    public static func load(into model: CaptureModel, from path: String, expectedBackbone: ComponentIdentity?,
                            expectedTokenizer: ComponentIdentity? = nil,
                            weights: WeightsFolder? = nil) throws -> CheckpointMetadata {
        let file = try SafetensorsFile.read(path: path)
        let metadata = try decode(file)
        if metadata.config != model.config {
            throw CheckpointError(path: path, reason: "its configuration \(describe(metadata.config)) does not match "
                + "the model's \(describe(model.config)); build the model from the checkpoint's configuration "
                + "(Checkpoint.load(path:...)) or use a checkpoint trained with this one")
        }
        if let expectedBackbone, metadata.backbone != expectedBackbone {
            throw CheckpointError(path: path, reason: "it was trained on backbone \(metadata.backbone), but this "
                + "installation's backbone is \(expectedBackbone); its image embeddings would be meaningless. "
                + "Install the matching backbone weights or retrain")
        }
        if let expectedTokenizer, metadata.tokenizer != expectedTokenizer {
            throw CheckpointError(path: path, reason: "it was trained with tokenizer \(metadata.tokenizer), but "
                + "this installation's is \(expectedTokenizer)")
        }
        // Read everything first, so a failure leaves the model unchanged.
        let omitted = Set(metadata.omittedTensors)
        var values: [(Parameter, [Float])] = []
        for p in model.parameters where !(omitted.contains(p.name) && !file.contains(p.name)) {
            let tensor = try file.tensor(p.name, shape: p.shape)
            // NaN or infinity would flow into every embedding and out as invalid JSON.
            guard tensor.allSatisfy(\.isFinite) else {
                throw CheckpointError(path: path, reason: "tensor \(SafeText.quoted(p.name, limit: 200)) holds a value that is "
                    + "not finite (NaN or infinity): the checkpoint is damaged or comes from a run that diverged; "
                    + "use an earlier checkpoint of the run")
            }
            values.append((p, tensor))
        }
        let known = Set(model.parameters.names)
        if let extra = file.names.first(where: { !known.contains($0) }) {
            throw CheckpointError(path: path, reason: "it holds tensor \(SafeText.quoted(extra, limit: 200)), which this model does not have")
        }
        if !omitted.isEmpty {
            values += try frozenValues(omitted.filter { !file.contains($0) }, of: model, recorded: metadata.frozenSource,
                                       weights: weights, path: path)
        }
        for (p, v) in values { p.value.copy(from: v) }
        return metadata
    }

    /// The values of the frozen tensors a checkpoint left out, from its text tower's file in `weights`.
    private static func frozenValues(_ names: Set<String>, of model: CaptureModel, recorded: ComponentIdentity?,
                                     weights: WeightsFolder?, path: String) throws -> [(Parameter, [Float])] {
        guard let recorded else {
            throw CheckpointError(path: path, reason: "it leaves out \(names.count) frozen tensors without saying "
                + "where they come from (no \"frozen\" source in its metadata)")
        }
        guard let weights else {
            throw CheckpointError(path: path, reason: "it leaves out \(names.count) frozen tensors of \(recorded), "
                + "read from the weights folder, and none was given")
        }
        let towerFile = model.config.textTower.modelFile
        let installed = try ComponentIdentity(towerFile, in: weights)
        guard installed == recorded else {
            throw CheckpointError(path: path, reason: "it leaves out \(names.count) frozen tensors of \(recorded), "
                + "but \(weights.path) holds \(installed); install the weights it was trained from (make weights)")
        }
        let source = try SafetensorsFile.read(path: try weights.require(towerFile))
        return try names.sorted().map { name in
            guard let p = model.parameters[name], name.hasPrefix(model.text.prefix) else {
                throw CheckpointError(path: path, reason: "it leaves out \"\(name)\", which is not a parameter of "
                    + "the pretrained text tower")
            }
            return (p, try source.tensor(model.text.sourceName(of: name, in: source), shape: p.shape))
        }
    }

    /// A model built from the checkpoint's own configuration, with its parameters loaded
    /// (frozen tensors it left out come from its text tower's file in `weights`).
    public static func load(path: String, expectedBackbone: ComponentIdentity?,
                            expectedTokenizer: ComponentIdentity? = nil,
                            weights: WeightsFolder? = nil) throws -> (CaptureModel, CheckpointMetadata) {
        let metadata = try readMetadata(path: path)
        let model = CaptureModel(config: metadata.config)
        let loaded = try load(into: model, from: path, expectedBackbone: expectedBackbone,
                              expectedTokenizer: expectedTokenizer, weights: weights)
        return (model, loaded)
    }

    // MARK: Metadata

    private struct Frozen: Codable { var source: ComponentIdentity; var tensors: [String] }

    private static func encode(_ m: CheckpointMetadata, path: String) throws -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func json<T: Encodable>(_ value: T) throws -> String {
            do { return String(decoding: try encoder.encode(value), as: UTF8.self) } catch {
                throw CheckpointError(path: path, reason: "cannot encode its metadata: \(error)")
            }
        }
        var out = ["format": format, "config": try json(m.config), "tokenizer": try json(m.tokenizer),
                   "backbone": try json(m.backbone), "step": String(m.step), "data": m.data]
        if let source = m.frozenSource, !m.omittedTensors.isEmpty {
            out["frozen"] = try json(Frozen(source: source, tensors: m.omittedTensors))
        }
        return out
    }

    private static func decode(_ file: SafetensorsFile) throws -> CheckpointMetadata {
        let path = file.path, meta = file.metadata
        func fail(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: reason) }
        guard let f = meta["format"] else {
            throw fail("it is a safetensors file but not a Vitrine checkpoint (no \"format\" in its metadata)")
        }
        guard f == format else { throw fail("its format is \(SafeText.quoted(f)); this version reads \"\(format)\"") }
        func field<T: Decodable>(_ key: String, as type: T.Type) throws -> T {
            guard let text = meta[key] else { throw fail("its metadata has no \"\(key)\"") }
            do { return try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
                throw fail("its metadata's \"\(key)\" is not valid: \(error)")
            }
        }
        guard let stepText = meta["step"], let step = Int(stepText) else {
            throw fail("its metadata has no valid \"step\"")
        }
        let frozen: Frozen? = meta["frozen"] == nil ? nil : try field("frozen", as: Frozen.self)
        let config = try field("config", as: CaptureConfig.self)
        if let problem = config.problem {
            throw fail("its configuration is not one Vitrine can build: \(problem)")
        }
        guard step >= 0 else { throw fail("its metadata's \"step\" is negative (\(step))") }
        return CheckpointMetadata(config: config,
                                  tokenizer: try field("tokenizer", as: ComponentIdentity.self),
                                  backbone: try field("backbone", as: ComponentIdentity.self),
                                  step: step, data: meta["data"] ?? "", frozenSource: frozen?.source,
                                  omittedTensors: frozen?.tensors ?? [])
    }

    private static func describe(_ c: CaptureConfig) -> String {
        "(hidden \(c.hidden), heads \(c.heads), FFN \(c.intermediate), vocab \(c.vocabSize), layers text \(c.textLayers)"
            + " image \(c.imageLayers) co \(c.coLayers) cross \(c.crossLayers), image tokens \(c.imageTokens))"
    }
}
