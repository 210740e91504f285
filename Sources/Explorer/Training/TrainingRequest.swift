import Training

/// Everything needed to start `vitrine train` from the explorer: made by the
/// dialog, carried by `TrainingEffect.start`, turned into arguments by the
/// runner (which picks the output folder).
public struct TrainingRunRequest: Sendable, Equatable {
    public var mode: TrainingMode
    public var preset: TrainingPreset
    /// Optimiser steps; nil leaves the preset's own number.
    public var steps: Int?
    /// The dataset folder to train on.
    public var dataPath: String
    /// Whether the annotators' flags become training pairs (fine-tuning only).
    public var useFlags: Bool
    /// The flags store (SQLite) to read them from; nil: the default store.
    public var flagsStore: String?
    /// The dataset name the flags are recorded under; nil: every flag in the store
    /// (`vitrine train` skips those naming items outside the dataset).
    public var flagsDataset: String?
    /// The folder under which each run gets its own timestamped output folder.
    public var runsDirectory: String
    /// Further arguments passed as they are (`--init-from CKPT`, `--throttle 0.3`, ...),
    /// after the ones above.
    public var extraArguments: [String]

    public init(mode: TrainingMode, preset: TrainingPreset, steps: Int?, dataPath: String, useFlags: Bool,
                flagsStore: String? = nil, flagsDataset: String? = nil, runsDirectory: String, extraArguments: [String] = []) {
        self.mode = mode; self.preset = preset; self.steps = steps; self.dataPath = dataPath
        self.useFlags = useFlags; self.flagsStore = flagsStore; self.flagsDataset = flagsDataset
        self.runsDirectory = runsDirectory; self.extraArguments = extraArguments
    }

    /// Whether flags are used: they only make pairs when fine-tuning.
    public var usesFlags: Bool { useFlags && mode == .finetune }

    /// The command line after the program name:
    /// `train --json --mode M --preset P [--steps N] --data D --out O (--flags F | --no-flags) EXTRA...`.
    /// - Parameter flagsFile: the flags exported as JSON lines for this run (nil: no flags).
    public func arguments(outputDirectory: String, flagsFile: String?) -> [String] {
        var args = ["train", "--json", "--mode", mode.rawValue, "--preset", preset.rawValue]
        if let steps { args += ["--steps", String(steps)] }
        args += ["--data", dataPath, "--out", outputDirectory]
        if usesFlags, let flagsFile { args += ["--flags", flagsFile] } else { args.append("--no-flags") }
        var extra = extraArguments
        // The tiny preset starts from random weights: the model being shown is not its start
        // (`vitrine train` refuses --init-from with it rather than ignore it).
        if preset == .tiny, let i = extra.firstIndex(of: "--init-from"), i + 1 < extra.count { extra.removeSubrange(i ... i + 1) }
        return args + extra
    }
}
