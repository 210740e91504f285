import ArgumentParser
import CBLAS
import Capture
import Explorer
import Foundation
import SafeText
import Serve

/// `vitrine doctor`: what Vitrine finds on this machine, for bug reports and
/// for "why are there no colours over SSH?".
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what Vitrine finds here: libraries, terminal, locale, data, themes, key file.")

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        func row(_ k: String, _ v: String) { Console.out(k.padding(toLength: 16, withPad: " ", startingAt: 0) + SafeText.terminal(v)) }
        row("vitrine", Vitrine.configuration.version)
        if let cfg = openblas_get_config() {
            let env = ProcessInfo.processInfo.environment
            let chosen = env[OpenBLASCore.marker] != nil ? " (kernels chosen by Vitrine from the CPU's flags)"
                : env["OPENBLAS_CORETYPE"] != nil ? " (OPENBLAS_CORETYPE set by you)" : ""
            row("openblas", String(cString: cfg) + ", \(openblas_get_num_threads()) threads" + chosen)
        }
        row("cores", "\(ProcessInfo.processInfo.activeProcessorCount)")
        row("locale", DisplayWidth.prepareLocale() ? "UTF-8" : "not UTF-8 (the explorer falls back to ASCII)")
        row("TERM", env["TERM"] ?? "(unset)")
        row("COLORTERM", env["COLORTERM"] ?? "(unset)")
        if let nc = env["NO_COLOR"], !nc.isEmpty { row("NO_COLOR", "set: no colours") }
        row("colour", Self.colourMode(env))
        row("images", Self.imagesMode(env))
        row("stdout", isatty(1) != 0 ? "a terminal" : "not a terminal")
        row("SampleData", RepositoryFolder.find("SampleData") ?? "not found")
        row("themes", ThemeLibrary.available().joined(separator: ", "))
        row("theme paths", ThemeLibrary.searchPaths().joined(separator: ", "))
        do {
            let weights = try WeightsFolder.locate()
            row("weights", weights.path + (weights.isComplete ? "" : " (incomplete: make weights)"))
        } catch {
            row("weights", "not found (make weights)")
        }
        // vitrine serve's OpenSSH server: the host's, or the copy `make setup` keeps.
        do { row("sshd", try ServeHost.sshdPath() + " (for vitrine serve)") } catch { row("sshd", "not found: make setup (vitrine serve needs it)") }
        let keys = KeyMap.defaultPath
        row("key file", FileManager.default.fileExists(atPath: keys) ? keys : "\(keys) (absent: default keys)")
    }

    /// How `vitrine explore` would draw images here (without `--images`) and why: it asks the
    /// terminal as the explorer does when standard input and output are a terminal.
    static func imagesMode(_ env: [String: String]) -> String {
        let terminal = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        let detection = GraphicsDetection.decide(choice: .auto, environment: env, tmuxCheck: TmuxPassthrough.check) { route in
            terminal ? GraphicsQuery.ask(input: STDIN_FILENO, output: STDOUT_FILENO, route: route)
                : .notAsked("standard input and output are not a terminal")
        }
        var line = "\(detection.mode.rawValue): \(detection.reason)"
        if let cell = detection.cellPixels { line += "; cell \(cell) pixels" }
        if detection.tmuxPassthrough { line += "; through tmux's passthrough" }
        return line + " (--images or I to choose)"
    }

    /// The colour mode `vitrine explore` would pick here (without `--color`) and why. Like the
    /// explorer, it asks the terminal when COLORTERM is missing and standard input and output
    /// are a terminal.
    static func colourMode(_ env: [String: String]) -> String {
        let terminal = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        do {
            let decision = try ColorModeDetection.decide(
                override: nil, environment: env, probe: ColorModeDetection.probeTerminfo,
                askTerminal: terminal ? { TerminalColorQuery.ask(input: STDIN_FILENO, output: STDOUT_FILENO) } : nil)
            var line = "\(decision.colorMode.rawValue): \(decision.reason)"
            if decision.colorMode == .truecolor {
                line += TruecolorForm.from(environment: env) == .colon ? " (in the entry's own form: VITRINE_TRUECOLOR_FORM=colon)"
                    : " (sent as ESC[38;2;R;G;Bm)"
            }
            return line
        } catch {
            return "\(error)"
        }
    }
}
