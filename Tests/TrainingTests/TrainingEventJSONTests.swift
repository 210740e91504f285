import Foundation
import Testing
import Training

@Suite struct TrainingEventJSONTests {
    static let all: [TrainingEvent] = [
        .preparing(FeatureProgress(done: 120, total: 894, cached: 100, computed: 20)),
        .started(TrainingPlan(mode: .finetune, preset: .sample, totalSteps: 150, batchSize: 16, startStep: 20,
                              seed: UInt64.max - 1, dataset: "SampleData: gallery+dev \"x\"", outputDirectory: "/tmp/run 1",
                              flagPairs: 3)),
        .step(StepReport(step: 21, totalSteps: 150, losses: ["total": 1.5, "robust": 0.25, "clr": 2.125, "mlm": .infinity],
                         learningRate: 1.5e-4, samplesPerSecond: 12.75, etaSeconds: 93.5)),
        .evaluation(EvaluationReport(step: 50, devMAP10: 0.3125, bestMAP10: 0.4, improved: false)),
        .checkpoint(CheckpointReport(step: 50, path: "/runs/a/step-000050.safetensors")),
        .paused(step: 51),
        .resumed(step: 51),
        .finished(TrainingSummary(outcome: .earlyStopped, steps: 100, wallSeconds: 61.25, devMAP10Before: 0.1,
                                  devMAP10After: 0.4, checkpoint: "/runs/a/best.safetensors")),
        .finished(TrainingSummary(outcome: .cancelled, steps: 3, wallSeconds: 1, devMAP10Before: nil,
                                  devMAP10After: nil, checkpoint: nil)),
        .failed(message: "cannot write checkpoint /x: disk full\nline two"),
    ]

    @Test func everyEventRoundTripsThroughOneLine() throws {
        for event in Self.all {
            let line = event.jsonLine()
            #expect(!line.contains("\n"))
            #expect(try TrainingEvent.decodeLine(line) == event, "\(line)")
        }
    }

    @Test func theLineIsAFlatObjectWithAnEventField() throws {
        let line = Self.all[2].jsonLine()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["event"] as? String == "step")
        #expect(object["step"] as? Int == 21 && object["totalSteps"] as? Int == 150)
        #expect((object["losses"] as? [String: Any])?["robust"] as? Double == 0.25)
        #expect((object["losses"] as? [String: Any])?["mlm"] as? String == "inf")
        let paused = try #require(try JSONSerialization.jsonObject(with: Data(TrainingEvent.paused(step: 7).jsonLine().utf8)) as? [String: Any])
        #expect(paused.count == 2 && paused["event"] as? String == "paused" && paused["step"] as? Int == 7)
        let finished = try #require(try JSONSerialization.jsonObject(with: Data(Self.all[8].jsonLine().utf8)) as? [String: Any])
        let preparing = try #require(try JSONSerialization.jsonObject(with: Data(Self.all[0].jsonLine().utf8)) as? [String: Any])
        #expect(preparing["event"] as? String == "preparing" && preparing["done"] as? Int == 120
                && preparing["total"] as? Int == 894 && preparing["cached"] as? Int == 100 && preparing["computed"] as? Int == 20)
        #expect(finished["checkpoint"] == nil && finished["outcome"] as? String == "cancelled")
    }

    @Test func otherLinesAreRejectedWithTheLine() {
        for bad in ["", "progress 3/10", #"{"event":"exploded"}"#, #"{"event":"step","step":1}"#, #"{"step":1}"#] {
            #expect(throws: TrainingEventDecodingError.self) { try TrainingEvent.decodeLine(bad) }
        }
    }
}
