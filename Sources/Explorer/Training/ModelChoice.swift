import Capture
import Foundation
import Training

/// The model a search can rank with: the zero-shot towers, or a trained checkpoint.
public enum ModelChoice: Sendable, Equatable, Hashable {
    case zeroShot
    /// A checkpoint file (absolute path).
    case checkpoint(String)

    /// The checkpoint's path; nil for the zero-shot towers.
    public var checkpointPath: String? {
        if case .checkpoint(let path) = self { return path }
        return nil
    }
}

/// A model as the picker and the header show it: what it is, and what is known about it.
public struct ModelEntry: Sendable, Equatable {
    public var choice: ModelChoice
    /// "zero-shot", or "<run folder>/best" (data from disk: the view cleans it).
    public var name: String
    /// The training step it was saved at, when known.
    public var step: Int?
    /// Its dev mAP@10, when known (a run folder's manifest knows its best checkpoint's).
    public var devMAP10: Double?
    /// The file's modification time.
    public var modified: Date?
    /// Where it came from, when it is worth saying ("--model").
    public var note: String?

    public init(choice: ModelChoice, name: String, step: Int? = nil, devMAP10: Double? = nil, modified: Date? = nil, note: String? = nil) {
        self.choice = choice; self.name = name; self.step = step; self.devMAP10 = devMAP10; self.modified = modified; self.note = note
    }

    public static let zeroShot = ModelEntry(choice: .zeroShot, name: "zero-shot")

    /// A checkpoint known only by its path: named "<folder>/<file without .safetensors>".
    public init(checkpoint path: String, step: Int? = nil, devMAP10: Double? = nil, modified: Date? = nil, note: String? = nil) {
        self.init(choice: .checkpoint(path), name: ModelEntry.name(ofCheckpoint: path), step: step, devMAP10: devMAP10,
                  modified: modified, note: note)
    }

    /// "<run folder>/best" for "/runs/<run folder>/best.safetensors".
    public static func name(ofCheckpoint path: String) -> String {
        let url = URL(fileURLWithPath: path)
        var file = url.lastPathComponent
        if file.hasSuffix(".safetensors") { file.removeLast(".safetensors".count) }
        let folder = url.deletingLastPathComponent().lastPathComponent
        return folder.isEmpty || folder == "/" ? file : folder + "/" + file
    }

    /// "zero-shot", "finetune-1/best (step 400)".
    public var label: String { name + (step.map { " (step \($0))" } ?? "") }
}

/// Which model ranks the results, and the one being switched to.
public struct ModelInUse: Sendable, Equatable {
    public var current: ModelEntry = .zeroShot
    /// The model the gallery is being re-indexed with; it becomes `current` once that is done.
    public var switching: ModelEntry? = nil
    /// The last switch that failed, and why.
    public var lastError: String? = nil

    public init() {}

    /// The best thing known about `choice` (the current or switching model's entry).
    func entry(for choice: ModelChoice) -> ModelEntry? {
        if current.choice == choice { return current }
        if switching?.choice == choice { return switching }
        return nil
    }
}

/// The model picker: a modal list of the zero-shot towers and every checkpoint found.
public struct ModelPickerState: Sendable, Equatable {
    /// Nil while the runs folder is being scanned.
    public var entries: [ModelEntry]? = nil
    public var selected = 0
    /// The dates' time zone (the local one; tests fix it).
    public var timeZone: TimeZone = .current

    public init(entries: [ModelEntry]? = nil, selected: Int = 0) { self.entries = entries; self.selected = selected }
}

/// Finding the models on disk (I/O: the app runs it off the UI thread, `TrainingEffect.scanModels`).
public enum ModelScan {
    /// Zero-shot first, then the checkpoint given on the command line (if any), then each run
    /// folder's `best.safetensors` and `latest.safetensors` under `runsDirectory`, newest first.
    /// Steps and dev mAP@10 come from each folder's `training.json` manifest; a checkpoint
    /// without one gives the step recorded in its own metadata.
    public static func scan(runsDirectory: String, extra: String?) -> [ModelEntry] {
        let fm = FileManager.default
        var entries = [ModelEntry.zeroShot]
        var seen: Set<String> = []
        if let extra {
            var e = describe(checkpoint: extra, manifest: manifest(inFolderOf: extra))
            e.note = "--model"
            entries.append(e)
            seen.insert(canonical(extra))
        }
        var found: [ModelEntry] = []
        let folders = ((try? fm.contentsOfDirectory(atPath: runsDirectory)) ?? []).sorted()
        for folder in folders {
            let dir = runsDirectory + "/" + folder
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { continue }
            let manifest = CheckpointStore.manifest(inFolder: dir)
            for name in [CheckpointStore.bestName, CheckpointStore.latestName] {
                let path = dir + "/" + name
                guard fm.fileExists(atPath: path) else { continue }
                guard !seen.contains(canonical(path)) else { continue }
                seen.insert(canonical(path))
                found.append(describe(checkpoint: path, manifest: manifest))
            }
        }
        // Newest first; of one folder, best before latest (the sort is stable).
        let order = found.enumerated().sorted { a, b in
            let (ta, tb) = (a.element.modified ?? .distantPast, b.element.modified ?? .distantPast)
            let (fa, fb) = (folderName(a.element), folderName(b.element))
            if fa != fb { return ta != tb ? ta > tb : fa > fb }
            return a.offset < b.offset
        }
        return entries + order.map(\.element)
    }

    /// A checkpoint with what its run folder's manifest says of it.
    static func describe(checkpoint path: String, manifest: CheckpointManifest?) -> ModelEntry {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let modified = attributes?[.modificationDate] as? Date
        var step: Int? = nil, map: Double? = nil
        if let m = manifest {
            let file = URL(fileURLWithPath: path).lastPathComponent
            if file == CheckpointStore.bestName {
                step = m.bestStep ?? m.latestStep
                map = m.bestMAP10
            } else if file == CheckpointStore.latestName {
                step = m.latestStep
                if m.bestStep == m.latestStep { map = m.bestMAP10 }
            }
        }
        // Without a manifest (a file given with --model, a copy): the step the file records.
        if step == nil { step = try? Checkpoint.readMetadata(path: path).step }
        return ModelEntry(checkpoint: path, step: step, devMAP10: map, modified: modified)
    }

    static func manifest(inFolderOf path: String) -> CheckpointManifest? {
        CheckpointStore.manifest(inFolder: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    private static func canonical(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }

    private static func folderName(_ e: ModelEntry) -> String {
        URL(fileURLWithPath: e.choice.checkpointPath ?? "").deletingLastPathComponent().lastPathComponent
    }
}
