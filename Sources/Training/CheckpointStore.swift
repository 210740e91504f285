#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Capture
import Foundation
import Support
import Tensor

/// What a training run's checkpoints say they depend on (written into every model file's metadata).
public struct CheckpointIdentity: Sendable, Equatable {
    public var tokenizer: ComponentIdentity
    public var backbone: ComponentIdentity
    /// What the model is trained on (free text: dataset, splits, counts).
    public var data: String
    public init(tokenizer: ComponentIdentity, backbone: ComponentIdentity, data: String) {
        self.tokenizer = tokenizer; self.backbone = backbone; self.data = data
    }
}

/// `training.json`: which checkpoints of a run folder are complete. It is replaced atomically
/// after a checkpoint's files are written, so it only ever names whole files.
public struct CheckpointManifest: Sendable, Codable, Equatable {
    public static let currentFormat = "vitrine-training/1"
    public var format: String
    /// The step of the last complete checkpoint.
    public var latestStep: Int
    /// The step whose dev mAP@10 is the best so far, and that value (nil before any evaluation).
    public var bestStep: Int?
    public var bestMAP10: Double?
    /// Every step whose files are kept, ascending (the last N and the best).
    public var steps: [Int]

    public init(latestStep: Int, bestStep: Int?, bestMAP10: Double?, steps: [Int]) {
        format = Self.currentFormat
        self.latestStep = latestStep; self.bestStep = bestStep; self.bestMAP10 = bestMAP10; self.steps = steps
    }
}

/// A run folder's checkpoints on disk.
///
/// Layout of `directory`:
///
///     step-000150.safetensors        the model (checkpoint format, docs/model.md §8), loadable on its own
///     step-000150.state.safetensors  the trainer state: AdamW moments (`m.<name>`, `v.<name>`),
///                                    and in its metadata `trainer` (JSON: step, optimiser step,
///                                    options, early-stopping state)
///     latest.safetensors             hard link to the latest complete model file
///     best.safetensors               hard link to the model with the best dev mAP@10
///     training.json                  the manifest (`CheckpointManifest`)
///
/// Every file is written to a temporary file in the same folder, fsynced, renamed over its
/// name, and the folder fsynced; the manifest and links change only after the step's two
/// files are complete, and old steps are deleted only after that. A process killed at any
/// moment (kill -9) leaves `training.json`, `latest.safetensors` and `best.safetensors`
/// naming complete, loadable files.
public struct CheckpointStore: Sendable {
    public let directory: String
    public static let manifestName = "training.json"
    public static let latestName = "latest.safetensors"
    public static let bestName = "best.safetensors"

    /// A store in `directory` (created when missing).
    public init(directory: String) throws(TrainingError) {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .checkpointWrite(path: directory, reason: "cannot create the folder: \(error.localizedDescription)")
        }
    }

    public func modelPath(step: Int) -> String { directory + "/" + String(format: "step-%06d.safetensors", step) }
    public func statePath(step: Int) -> String { directory + "/" + String(format: "step-%06d.state.safetensors", step) }
    public var latestPath: String { directory + "/" + Self.latestName }
    public var bestPath: String { directory + "/" + Self.bestName }
    public var manifestPath: String { directory + "/" + Self.manifestName }

    /// The manifest, or nil when there is none yet (or it cannot be read).
    public func manifest() -> CheckpointManifest? { Self.manifest(inFolder: directory) }

    /// The `training.json` of the run folder `folder`, read without creating anything (the model
    /// picker looks at folders it does not own); nil when it is missing, too large or not one.
    public static func manifest(inFolder folder: String) -> CheckpointManifest? {
        guard let bytes = try? RegularFile.read(folder + "/" + manifestName, kind: "run manifest", limit: 16 << 20) else { return nil }
        return try? JSONDecoder().decode(CheckpointManifest.self, from: Data(bytes))
    }

    /// The model file of the last complete checkpoint, or nil when the run has none yet.
    public func latestCheckpoint() -> String? {
        guard let m = manifest() else { return nil }
        return modelPath(step: m.latestStep)
    }

    /// Records `step` (whose model and state files are complete) as the latest, and as the best
    /// when `isBest`; keeps the last `keep` steps and the best; deletes the other step files.
    func commit(step: Int, isBest: Bool, bestMAP10: Double?, keep: Int) throws(TrainingError) {
        let previous = manifest()
        var bestStep = previous?.bestStep, best = previous?.bestMAP10
        if isBest { bestStep = step; best = bestMAP10 }
        var steps = Array(Set((previous?.steps ?? []) + [step])).sorted()
        var kept = Array(steps.suffix(keep))
        if let bestStep, steps.contains(bestStep), !kept.contains(bestStep) { kept.append(bestStep) }
        steps = kept.sorted()
        let next = CheckpointManifest(latestStep: step, bestStep: bestStep, bestMAP10: best, steps: steps)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let bytes: Data
        do { bytes = try encoder.encode(next) } catch {
            throw .checkpointWrite(path: manifestPath, reason: "cannot encode the manifest: \(error)")
        }
        try Self.writeAtomically(Array(bytes), to: manifestPath)
        try Self.linkAtomically(modelPath(step: step), as: latestPath)
        if isBest { try Self.linkAtomically(modelPath(step: step), as: bestPath) }
        removeUnlisted(keeping: Set(steps))
    }

    /// Deletes step files not in `keeping` and temporary files left by a killed writer.
    func removeUnlisted(keeping: Set<Int>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names {
            if name.hasPrefix("."), name.contains(".tmp-") {
                unlink(directory + "/" + name)
                continue
            }
            guard name.hasPrefix("step-"), name.hasSuffix(".safetensors") else { continue }
            let digits = name.dropFirst(5).prefix { $0.isNumber }
            guard let step = Int(digits), !keeping.contains(step) else { continue }
            unlink(directory + "/" + name)
        }
    }

    // MARK: Atomic file operations

    /// Writes `bytes` to `path` atomically and durably (Support's `AtomicFile`).
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(TrainingError) {
        do { try AtomicFile.write(bytes, to: path) } catch { throw .checkpointWrite(path: error.path, reason: error.message) }
    }

    /// Makes `linkPath` a hard link to `target`, atomically (a reader sees the old or the new file).
    static func linkAtomically(_ target: String, as linkPath: String) throws(TrainingError) {
        do { try AtomicFile.link(target, as: linkPath) } catch { throw .checkpointWrite(path: error.path, reason: error.message) }
    }
}
