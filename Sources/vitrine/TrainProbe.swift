import ArgumentParser
import Capture
import Foundation
import SafeText
import Training

/// `vitrine train-probe` (hidden): one forward and backward pass of `vitrine train`'s own loss
/// code on a fixed batch, dropout off and every parameter of the checkpoint trainable; writes
/// the losses and the gradients, for comparing another implementation of the model (the PyTorch
/// twin) with this one. The batch file's format is in docs/model.md §8.7.
struct TrainProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-probe",
        abstract: "One training step's losses and gradients on a fixed batch (for comparing trainers).",
        discussion: """
        Reads the model from --model and the batch (token ids after masking, attention mask, backbone \
        cells after masking, MLM and MRM targets, fine-tuning pairs; metadata mode and objective) from \
        --batch, runs the trainer's loss and backward pass once with dropout off and every parameter \
        trainable, and writes grad.<tensor name> for every parameter and the losses (metadata "losses") \
        to --out. See docs/model.md §8.7.
        """,
        shouldDisplay: false)

    @Option(name: .long, help: ArgumentHelp("The model checkpoint (.safetensors).", valueName: "CKPT"))
    var model: String
    @Option(name: .long, help: ArgumentHelp("The batch (.safetensors, docs/model.md §8.7).", valueName: "BATCH"))
    var batch: String
    @Option(name: .long, help: ArgumentHelp("Where to write the gradients and losses (.safetensors).", valueName: "GRADS"))
    var out: String

    func run() throws {
        let modelPath = absolute(model), batchPath = absolute(batch), outPath = absolute(out)
        // The pretrained towers' folder is needed only for a checkpoint that leaves frozen tensors out.
        let weights = try? WeightsFolder.locate()
        let (network, _) = try Checkpoint.load(path: modelPath, expectedBackbone: nil, weights: weights)
        let probe = try ProbeBatch.read(path: batchPath, config: network.config)
        let (losses, gradients) = TrainingProbe.run(probe, model: network)
        try TrainingProbe.write(losses: losses, gradients: gradients, to: outPath)
        let shown = losses.keys.sorted().map { "\($0) \(losses[$0]!)" }.joined(separator: ", ")
        Console.error(SafeText.terminal("\(probe.mode.rawValue) probe, \(probe.batch.batch) rows: \(shown); "
            + "\(gradients.count) gradients written to \(outPath)"))
    }
}
