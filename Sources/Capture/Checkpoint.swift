import Foundation
import Tensor

/// The identity of a component a checkpoint depends on: a name and the SHA-256 of its
/// file (the tokenizer's `vocab.txt`, the backbone's weights, a frozen tower's weights).
public struct ComponentIdentity: Sendable, Codable, Equatable, CustomStringConvertible {
    public var name: String
    /// Lower-case hexadecimal SHA-256.
    public var sha256: String

    public init(name: String, sha256: String) { self.name = name; self.sha256 = sha256 }

    /// The identity of the file at `path` (its SHA-256 is computed).
    public init(name: String, fileAt path: String) throws(ContentHashError) {
        self.init(name: name, sha256: try ContentHash.sha256(fileAt: path))
    }

    public var description: String { "\(name) (sha256 \(sha256))" }

    /// The identity of a loaded backbone (as its feature cache keys it).
    public init(_ backbone: BackboneIdentity) { self.init(name: backbone.name, sha256: backbone.sha256) }

    /// The identity of a file of the weights folder: its display name and the SHA-256 the
    /// folder's MANIFEST records, or (without a MANIFEST entry) the file's computed SHA-256.
    /// For the tokenizer use `.miniLMVocabulary`, for a frozen text tower `.miniLMModel`.
    public init(_ file: WeightsFile, in folder: WeightsFolder) throws {
        let path = try folder.require(file)
        if let recorded = folder.recordedSHA256(of: file) {
            self.init(name: file.displayName, sha256: recorded.lowercased())
        } else {
            try self.init(name: file.displayName, fileAt: path)
        }
    }
}

/// What a checkpoint's `__metadata__` records besides its tensors (MODEL.md, "Checkpoint format").
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

/// Saving and loading a `CaptureModel` as one safetensors file with MODEL.md's tensor names
/// and metadata. Writes are atomic (a reader never sees a half-written file).
public enum Checkpoint {
    /// The value of the `format` metadata key.
    public static let format = "vitrine-capture/1"

    /// Writes `model`'s parameters to `path` as `dtype` (`.f32`, bit for bit, or `.f16`).
    ///
    /// With `frozenSource`, the frozen parameters (`isTrainable == false`) are left out and
    /// recorded as coming from that source (e.g. MiniLM's weights file, by SHA-256); loading
    /// such a file needs a model that already holds them and the same source identity.
    public static func save(_ model: CaptureModel, to path: String, metadata: CheckpointMetadata,
                            dtype: SafetensorsDType = .f32, frozenSource: ComponentIdentity? = nil) throws {
        guard dtype == .f32 || dtype == .f16 else {
            throw CheckpointError(path: path, reason: "checkpoints are written as F32 or F16, not \(dtype.rawValue)")
        }
        guard metadata.config == model.config else {
            throw CheckpointError(path: path, reason: "the metadata's configuration is not the model's")
        }
        var kept: [SafetensorsTensor] = [], omitted: [String] = []
        for p in model.parameters {
            if frozenSource != nil && !p.isTrainable { omitted.append(p.name); continue }
            kept.append(SafetensorsTensor(name: p.name, shape: p.shape, values: p.value.array))
        }
        var recorded = metadata
        recorded.frozenSource = omitted.isEmpty ? nil : frozenSource
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
    /// is not the model's, when its backbone (or tokenizer) is not `expectedBackbone`
    /// (`expectedTokenizer`), or when it leaves tensors out and `frozenSource` is not the
    /// recorded source; fails with the `SafetensorsError` of a missing tensor or a wrong shape.
    /// Parameters are only changed once every check has passed and every tensor was read.
    @discardableResult
    public static func load(into model: CaptureModel, from path: String, expectedBackbone: ComponentIdentity?,
                            expectedTokenizer: ComponentIdentity? = nil,
                            frozenSource: ComponentIdentity? = nil) throws -> CheckpointMetadata {
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
        let omitted = Set(metadata.omittedTensors)
        if !omitted.isEmpty {
            guard let recorded = metadata.frozenSource, let frozenSource, recorded == frozenSource else {
                throw CheckpointError(path: path, reason: "it leaves out \(omitted.count) frozen tensors taken from "
                    + "\(metadata.frozenSource?.description ?? "an unrecorded source"), but the model's frozen "
                    + "weights come from \(frozenSource?.description ?? "nowhere stated"); load those first and "
                    + "pass their identity as frozenSource")
            }
        }
        // Read everything first, so a failure leaves the model unchanged.
        var values: [(Parameter, [Float])] = []
        for p in model.parameters where !(omitted.contains(p.name) && !file.contains(p.name)) {
            values.append((p, try file.tensor(p.name, shape: p.shape)))
        }
        let known = Set(model.parameters.names)
        if let extra = file.names.first(where: { !known.contains($0) }) {
            throw CheckpointError(path: path, reason: "it holds tensor \"\(extra)\", which this model does not have")
        }
        for (p, v) in values { p.value.copy(from: v) }
        return metadata
    }

    /// A model built from the checkpoint's own configuration, with its parameters loaded.
    public static func load(path: String, expectedBackbone: ComponentIdentity?,
                            expectedTokenizer: ComponentIdentity? = nil) throws -> (CaptureModel, CheckpointMetadata) {
        let metadata = try readMetadata(path: path)
        let model = CaptureModel(config: metadata.config)
        let loaded = try load(into: model, from: path, expectedBackbone: expectedBackbone,
                              expectedTokenizer: expectedTokenizer)
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
        guard f == format else { throw fail("its format is \"\(f)\"; this version reads \"\(format)\"") }
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
        return CheckpointMetadata(config: try field("config", as: CaptureConfig.self),
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
