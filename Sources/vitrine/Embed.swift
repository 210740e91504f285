import ArgumentParser
import Capture
import Foundation
import SafeText
import Imaging

/// `vitrine embed`: the numbers behind a caption and an image, as JSON, so an
/// independent implementation (PyTorch) can check them.
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print token ids and embeddings of a caption and/or an image as JSON.",
        discussion: """
        Without --model: `tokens`, `text_sentence` (MiniLM's mean-pooled, L2-normalised sentence \
        embedding, 384 numbers) and `image_pooled` (the mean over the 7x7 cells of EfficientNet-Lite0's \
        block-15 output, 320 numbers; a 224x224 image is fed as is, others are letterboxed). \
        With --model CKPT also `z_t` (caption), `z_v` (image) and `e` (both), 256 numbers each.
        """)

    @Option(name: .long, help: "A caption.") var caption: String?
    @Option(name: .long, help: ArgumentHelp("An image file (JPEG or PNG).", valueName: "PATH")) var image: String?
    @Option(name: .long, help: ArgumentHelp("A Vitrine checkpoint (.safetensors).", valueName: "CKPT")) var model: String?
    @Flag(name: .long, help: "Print JSON (the only output format; accepted for scripts).") var json = false

    func validate() throws {
        if caption == nil && image == nil { throw ValidationError("give --caption TEXT, --image PATH or both") }
    }

    func run() throws {
        let weights = try WeightsFolder.locate()
        var fields: [(String, String)] = []
        var tokens: TokenizedText?
        if let caption {
            let tokenizer = try WordPieceTokenizer(vocabularyPath: try weights.require(.miniLMVocabulary))
            let t = tokenizer.encode(caption, maxLength: CaptureConfig.default.maxTextLength)
            tokens = t
            fields.append(("tokens", "[" + t.ids.prefix(t.length).map(String.init).joined(separator: ",") + "]"))
            let encoder = try TextEncoder.miniLM(in: weights)
            fields.append(("text_sentence", Self.numbers(encoder.sentenceEmbeddings(TokenBatch([t]))[0])))
        }
        var cellFeatures: [Float]?
        if let image {
            let backbone = try EfficientNetLite0(weights: weights)
            let input = try EfficientNetLite0.modelInput(path: absolute(image))
            let map = backbone.features(input)
            cellFeatures = map
            fields.append(("image_pooled", Self.numbers(EfficientNetLite0.pool(map))))
        }
        if let model {
            let (capture, _) = try Checkpoint.load(path: absolute(model), expectedBackbone: nil, weights: weights)
            let config = capture.config
            let imageTokens = cellFeatures.map { ImageTokens.features(channelMajor: $0, channels: config.regionFeatureDim) }
            if let t = tokens { fields.append(("z_t", Self.numbers(capture.embedText(TokenBatch([t]))[0]))) }
            if let v = imageTokens { fields.append(("z_v", Self.numbers(capture.embedImages(v)[0]))) }
            if let t = tokens, let v = imageTokens {
                fields.append(("e", Self.numbers(capture.embed(tokens: TokenBatch([t]), imageFeatures: v).fused[0])))
            }
        }
        Console.json("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
    }

    /// Shortest round-trip decimal forms, as JSON numbers.
    static func numbers(_ v: [Float]) -> String { "[" + v.map { "\($0)" }.joined(separator: ",") + "]" }
}
