import Foundation
import SafeText

/// The JSON-lines form of `TrainingEvent` (what `vitrine train --json` prints and the
/// explorer's training pane reads back from a child process): one object per line,
/// `{"event": "<case>", ...the payload's fields}`.
///
/// | event | fields |
/// |---|---|
/// | `preparing` | `done`, `total`, `cached`, `computed` (backbone features before the run) |
/// | `estimate` | `pairs`, `batchSize`, `stepsPerEpoch`, `computeSeconds`, `optimizerSeconds`, `readSecondsCached`, `missSeconds`?, `cachedFraction`, `sampled`, `firstEpochSeconds`, `laterEpochSeconds` (pretraining, before the first step) |
/// | `skipped` | `id`, `reason` (a sample drawn into a batch that could not be read) |
/// | `started` | `mode`, `preset`, `totalSteps`, `batchSize`, `startStep`, `seed`, `dataset`, `outputDirectory`, `flagPairs` |
/// | `step` | `step`, `totalSteps`, `losses` (object: name to number), `learningRate`, `samplesPerSecond`, `etaSeconds` |
/// | `evaluation` | `step`, `devMAP10`, `bestMAP10`, `improved` |
/// | `checkpoint` | `step`, `path` |
/// | `paused`, `resumed` | `step` |
/// | `finished` | `outcome`, `steps`, `wallSeconds`, `devMAP10Before`?, `devMAP10After`?, `checkpoint`? (absent when nil) |
/// | `failed` | `message` |
///
/// Non-finite numbers (a diverged loss) are written as the strings `"nan"`, `"inf"`, `"-inf"`.
extension TrainingEvent: Codable {
    private enum Tag: String, Codable {
        case preparing, estimate, skipped, started, step, evaluation, checkpoint, paused, resumed, finished, failed
    }

    private enum Keys: String, CodingKey { case event, step, message }

    /// The value of the `event` field for this case.
    public var name: String {
        switch self {
        case .preparing: return Tag.preparing.rawValue
        case .estimate: return Tag.estimate.rawValue
        case .skipped: return Tag.skipped.rawValue
        case .started: return Tag.started.rawValue
        case .step: return Tag.step.rawValue
        case .evaluation: return Tag.evaluation.rawValue
        case .checkpoint: return Tag.checkpoint.rawValue
        case .paused: return Tag.paused.rawValue
        case .resumed: return Tag.resumed.rawValue
        case .finished: return Tag.finished.rawValue
        case .failed: return Tag.failed.rawValue
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(name, forKey: .event)
        // The payload's fields go into the same object as "event".
        switch self {
        case .preparing(let progress): try progress.encode(to: encoder)
        case .estimate(let estimate): try estimate.encode(to: encoder)
        case .skipped(let skipped): try skipped.encode(to: encoder)
        case .started(let plan): try plan.encode(to: encoder)
        case .step(let report): try report.encode(to: encoder)
        case .evaluation(let report): try report.encode(to: encoder)
        case .checkpoint(let report): try report.encode(to: encoder)
        case .paused(let step), .resumed(let step): try container.encode(step, forKey: .step)
        case .finished(let summary): try summary.encode(to: encoder)
        case .failed(let message): try container.encode(message, forKey: .message)
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        let text = try container.decode(String.self, forKey: .event)
        guard let tag = Tag(rawValue: text) else {
            throw DecodingError.dataCorruptedError(forKey: .event, in: container, debugDescription:
                "unknown training event \"\(text)\" (known: preparing, estimate, skipped, started, step, evaluation, checkpoint, paused, resumed, finished, failed)")
        }
        switch tag {
        case .preparing: self = .preparing(try FeatureProgress(from: decoder))
        case .estimate: self = .estimate(try EpochEstimate(from: decoder))
        case .skipped: self = .skipped(try SkippedExample(from: decoder))
        case .started: self = .started(try TrainingPlan(from: decoder))
        case .step: self = .step(try StepReport(from: decoder))
        case .evaluation: self = .evaluation(try EvaluationReport(from: decoder))
        case .checkpoint: self = .checkpoint(try CheckpointReport(from: decoder))
        case .paused: self = .paused(step: try container.decode(Int.self, forKey: .step))
        case .resumed: self = .resumed(step: try container.decode(Int.self, forKey: .step))
        case .finished: self = .finished(try TrainingSummary(from: decoder))
        case .failed: self = .failed(message: try container.decode(String.self, forKey: .message))
        }
    }

    /// The event as one line of JSON (no newline at the end), keys sorted after `event`.
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf",
                                                                      negativeInfinity: "-inf", nan: "nan")
        do {
            return SafeText.escapingControls(inJSON: String(decoding: try encoder.encode(self), as: UTF8.self))
        } catch {
            // Every payload is plain numbers and strings; keep the stream parseable regardless.
            let message = "cannot encode a \(name) event as JSON: \(error)"
            return "{\"event\":\"failed\",\"message\":" + SafeText.jsonQuoted(message) + "}"
        }
    }

    /// Decodes one line of `vitrine train --json` output.
    ///
    /// - Throws: `TrainingEventDecodingError` naming the line when it is not a training event.
    public static func decodeLine(_ line: String) throws -> TrainingEvent {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf",
                                                                        negativeInfinity: "-inf", nan: "nan")
        do {
            return try decoder.decode(TrainingEvent.self, from: Data(trimmed.utf8))
        } catch {
            throw TrainingEventDecodingError(line: String(trimmed.prefix(200)), reason: "\(error)")
        }
    }
}

/// A line of a training event stream that is not a training event.
public struct TrainingEventDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The line (its first 200 characters).
    public let line: String
    public let reason: String
    public var description: String {
        "not a training event line (expected {\"event\": ...} as `vitrine train --json` writes): \(reason); line: \(line)"
    }
}
