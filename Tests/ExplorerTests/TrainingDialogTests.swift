import Explorer
import Testing

/// The training dialog: moving between fields, changing them, typing, and the run it starts.
@Suite struct TrainingDialogTests {
    static let settings = TrainingSettings(dataPath: "/data/SampleData", runsDirectory: "/runs", flagsStore: "/flags.sqlite",
                                           flagsDataset: "SampleData", flagCount: 12, extraArguments: ["--throttle", "0.2"])

    func opened() -> TrainingUIState {
        var s = TrainingUIState(settings: Self.settings)
        _ = updateTraining(&s, .command(.open))
        return s
    }

    func send(_ s: inout TrainingUIState, _ commands: TrainingCommand...) -> [TrainingEffect] {
        commands.flatMap { updateTraining(&s, .command($0)) }
    }

    @Test func opensWithTheExplorersSettingsAndDefaults() throws {
        let s = opened()
        let d = try #require(s.dialog)
        #expect(d.mode == .finetune && d.preset == .sample && d.stepsText.isEmpty && d.useFlags)
        #expect(d.dataPath == "/data/SampleData")
        #expect(d.focus == .mode)
        #expect(s.modalContext == .dialog)
    }

    @Test func tabAndArrowsMoveAroundTheFields() throws {
        var s = opened()
        _ = send(&s, .dialogNext, .dialogNext)
        #expect(s.dialog?.focus == .steps)
        _ = send(&s, .dialogPrevious, .dialogPrevious, .dialogPrevious)
        #expect(s.dialog?.focus == .flags, "Shift-Tab wraps from the first field to the last")
        _ = send(&s, .dialogNext)
        #expect(s.dialog?.focus == .mode, "Tab wraps from the last field to the first")
        _ = send(&s, .dialogIncrease)
        #expect(s.dialog?.mode == .pretrain)
        _ = send(&s, .dialogIncrease)
        #expect(s.dialog?.following == true, "the third choice: follow a run")
        _ = send(&s, .dialogIncrease)
        #expect(s.dialog?.mode == .finetune && s.dialog?.following == false)
        _ = send(&s, .dialogNext, .dialogDecrease)
        #expect(s.dialog?.preset == .tiny, "← wraps to the last preset")
        _ = send(&s, .dialogIncrease, .dialogIncrease)
        #expect(s.dialog?.preset == .small)
    }

    @Test func stepsTakeDigitsAndArrows() throws {
        var s = opened()
        _ = send(&s, .dialogNext, .dialogNext)
        for c in "12a5" { _ = updateTraining(&s, .typed(c)) }
        #expect(s.dialog?.stepsText == "125")
        #expect(s.dialog?.error == nil, "the error for the letter is cleared by the next digit")
        _ = send(&s, .dialogIncrease)
        #expect(s.dialog?.stepsText == "200", "→ snaps up to the next hundred")
        _ = send(&s, .dialogDecrease, .dialogDecrease)
        #expect(s.dialog?.stepsText == "", "below one hundred means the preset's own number")
        _ = updateTraining(&s, .typed("0"))
        #expect(s.dialog?.stepsText == "", "no leading zero")
        for c in "123456789" { _ = updateTraining(&s, .typed(c)) }
        #expect(s.dialog?.stepsText == "1234567", "seven digits at most")
        _ = send(&s, .dialogDeleteBack)
        #expect(s.dialog?.stepsText == "123456")
        _ = send(&s, .dialogDeleteWord)
        #expect(s.dialog?.stepsText == "")
    }

    @Test func theDataFieldIsText() throws {
        var s = opened()
        _ = send(&s, .dialogNext, .dialogNext, .dialogNext)
        #expect(s.dialog?.focus == .data)
        _ = send(&s, .dialogDeleteWord)
        #expect(s.dialog?.dataPath == "/data/")
        for c in "My Data\u{1B}" { _ = updateTraining(&s, .typed(c)) }
        #expect(s.dialog?.dataPath == "/data/My Data", "spaces are text here; control characters are dropped")
        _ = send(&s, .dialogDeleteBack)
        #expect(s.dialog?.dataPath == "/data/My Dat")
    }

    @Test func flagsToggleOnlyWhenFineTuning() throws {
        var s = opened()
        _ = send(&s, .dialogPrevious)
        #expect(s.dialog?.focus == .flags)
        _ = updateTraining(&s, .typed(" "))
        #expect(s.dialog?.useFlags == false)
        _ = send(&s, .dialogIncrease)
        #expect(s.dialog?.useFlags == true)
        _ = send(&s, .dialogNext, .dialogIncrease, .dialogPrevious, .dialogDecrease)   // mode: pretrain
        #expect(s.dialog?.mode == .pretrain && s.dialog?.useFlags == true)
        #expect(s.dialog?.flagsApply == false)
    }

    @Test func enterStartsTheRunWithItsArguments() throws {
        var s = opened()
        _ = send(&s, .dialogNext, .dialogIncrease, .dialogNext)     // preset small
        for c in "300" { _ = updateTraining(&s, .typed(c)) }
        let effects = send(&s, .dialogStart)
        let request = TrainingRunRequest(mode: .finetune, preset: .small, steps: 300, dataPath: "/data/SampleData", useFlags: true,
                                         flagsStore: "/flags.sqlite", flagsDataset: "SampleData", runsDirectory: "/runs",
                                         extraArguments: ["--throttle", "0.2"])
        #expect(effects == [.start(request)])
        #expect(s.dialog == nil)
        #expect(s.run?.status == .starting && s.run?.request == request)
        #expect(s.paneVisible && s.isRunActive)
        #expect(request.arguments(outputDirectory: "/runs/r1", flagsFile: "/runs/r1/flags.jsonl") ==
                ["train", "--json", "--mode", "finetune", "--preset", "small", "--steps", "300", "--data", "/data/SampleData",
                 "--out", "/runs/r1", "--flags", "/runs/r1/flags.jsonl", "--throttle", "0.2"])
    }

    @Test func pretrainingNeverPassesFlags() {
        let r = TrainingRunRequest(mode: .pretrain, preset: .sample, steps: nil, dataPath: "/d", useFlags: true, runsDirectory: "/r")
        #expect(!r.usesFlags)
        #expect(r.arguments(outputDirectory: "/o", flagsFile: "/o/flags.jsonl") ==
                ["train", "--json", "--mode", "pretrain", "--preset", "sample", "--data", "/d", "--out", "/o", "--no-flags"])
    }

    @Test func anEmptyDataFolderDoesNotStart() throws {
        var s = opened()
        _ = send(&s, .dialogNext, .dialogNext, .dialogNext)
        for _ in 0..<40 { _ = send(&s, .dialogDeleteBack) }
        let effects = send(&s, .dialogStart)
        #expect(effects.isEmpty)
        #expect(s.dialog?.error?.contains("Data is empty") == true)
        #expect(s.run == nil)
    }

    @Test func escapeClosesAndTheNextDialogRemembersTheLastRun() throws {
        var s = opened()
        _ = send(&s, .dialogClose)
        #expect(s.dialog == nil && s.run == nil)
        _ = send(&s, .open, .dialogNext, .dialogIncrease, .dialogIncrease, .dialogStart)   // preset full
        #expect(s.run?.request.preset == .full)
        // While the run is going, `t` shows its pane instead of a second dialog.
        _ = send(&s, .togglePane)
        #expect(!s.paneVisible)
        _ = send(&s, .open)
        #expect(s.dialog == nil && s.paneVisible)
        _ = updateTraining(&s, .event(.failed(message: "no weights")))
        _ = send(&s, .open)
        #expect(s.dialog?.preset == .full, "the dialog opens with the last run's choices")
    }

    @Test func everyCommandHasADescriptionKeysAndAContext() {
        var ids = Set<String>()
        for c in TrainingCommand.allCases {
            #expect(c.rawValue.hasPrefix("training."))
            #expect(!c.description.isEmpty && !c.defaultKeys.isEmpty)
            #expect(ids.insert(c.rawValue).inserted)
            #expect(TrainingCommand(rawValue: c.rawValue) == c)
        }
        // No two commands of one context share a key.
        for context in TrainingKeyContext.allCases {
            let keys = TrainingCommand.allCases.filter { $0.context == context }.flatMap(\.defaultKeys)
            #expect(Set(keys).count == keys.count, "a key is bound twice in \(context)")
        }
    }

    @Test func initFromIsReplacedNotRepeated() {
        var settings = TrainingSettings(dataPath: "/d", runsDirectory: "/r", extraArguments: ["--init-from", "/a.safetensors", "--throttle", "0.2"])
        #expect(settings.initFrom == "/a.safetensors")
        settings.initFrom = "/b.safetensors"
        #expect(settings.extraArguments == ["--throttle", "0.2", "--init-from", "/b.safetensors"])
        settings.initFrom = nil
        #expect(settings.extraArguments == ["--throttle", "0.2"] && settings.initFrom == nil)
    }
}
