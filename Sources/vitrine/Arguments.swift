import Annotations
import Capture
import ArgumentParser
import Explorer
import Retrieval
import Training

// The closed sets the command line takes: argument-parser lists their values in --help and
// refuses anything else with the list of choices, so no command compares strings itself.

extension TrainingMode: ExpressibleByArgument {}
extension TrainingPreset: ExpressibleByArgument {}
extension QueryMode: ExpressibleByArgument {}
extension DisagreementRule: ExpressibleByArgument {}
extension TextTower: ExpressibleByArgument {}
// Verdicts and flag file formats are read without regard to case, as in flag files.
extension FlagFileFormat: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
extension Verdict: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}

/// `vitrine eval --baseline`: one method, or all three.
enum BaselineChoice: String, CaseIterable, ExpressibleByArgument {
    case bm25, colour, random, all

    var methods: [BaselineMethod] {
        self == .all ? BaselineMethod.allCases : [BaselineMethod(rawValue: rawValue)!]
    }
}

/// `--color`: detected from the terminal, or forced.
enum ColorChoice: String, CaseIterable, ExpressibleByArgument {
    case auto, truecolor, c256 = "256", c16 = "16", none

    /// The forced mode, or nil to detect it.
    var mode: ColorMode? { self == .auto ? nil : ColorMode(rawValue: rawValue) }
}

/// `vitrine query --kind`: only single-product or only multi-product gallery items.
enum KindChoice: String, CaseIterable, ExpressibleByArgument {
    case single, multi
}
