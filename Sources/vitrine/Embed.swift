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
        Without --model: `tokens` (rows of the text tower's word table: the model's input), for e5 \
        also `piece_ids` (XLM-R's ids, as e5.c gives them), `text_sentence` (the text tower's \
        mean-pooled, L2-normalised sentence embedding, 384 numbers; e5 reads the caption with its \
        "query: " prefix) and `image_pooled` (the mean over the 7x7 cells of EfficientNet-Lite0's \
        block-15 output, 320 numbers; a 224x224 image is fed as is, others are letterboxed). \
        With --model CKPT also `z_t` (caption), `z_v` (image) and `e` (both), 256 numbers each.
        """)

    @Option(name: .long, help: "A caption.") var caption: String?
    @Option(name: .long, help: ArgumentHelp("An image file (JPEG or PNG).", valueName: "PATH")) var image: String?
    @Option(name: .long, help: ArgumentHelp("A Vitrine checkpoint (.safetensors).", valueName: "CKPT")) var model: String?
    @Option(name: .long, help: ArgumentHelp("Text tower: e5 (default) or minilm; with --model, the checkpoint's.", valueName: "TOWER"))
    var textTower: TextTower?
    @Flag(name: .long, help: "Print JSON (the only output format; accepted for scripts).") var json = false

    func validate() throws {
        if caption == nil && image == nil { throw ValidationError("give --caption TEXT, --image PATH or both") }
    }

    func run() throws {
        let weights = try WeightsFolder.locate()
        var fields: [(String, String)] = []
        var tokens: TokenizedText?
        let checkpoint = try model.map { try Checkpoint.readMetadata(path: absolute($0)) }
        if let checkpoint, let textTower, textTower != checkpoint.config.textTower {
            throw ValidationError("--text-tower \(textTower.rawValue) does not match the checkpoint's text stream "
                + "(\(checkpoint.config.textTower.rawValue)); leave --text-tower out")
        }
        if let caption {
            let tower = checkpoint?.config.textTower ?? textTower ?? .standard
            let tokenizer = try TextTokenizer(tower, in: weights)
            let config = checkpoint?.config ?? tower.configuration(vocabularyRows: tokenizer.vocabularyRows)
            let t = tokenizer.encode(caption, maxLength: config.maxTextLength)
            tokens = t
            fields.append(("tokens", "[" + t.ids.prefix(t.length).map(String.init).joined(separator: ",") + "]"))
            if case .sentencePiece(let pieces) = tokenizer {
                let ids = pieces.pieceIDs(caption, prefix: .query)
                let kept = ids.count <= t.length ? ids : Array(ids.prefix(t.length - 1)) + [pieces.endID]
                fields.append(("piece_ids", "[" + kept.map(String.init).joined(separator: ",") + "]"))
            }
            let encoder = try TextEncoder.pretrained(config: tower.configuration(vocabularyRows: tokenizer.vocabularyRows),
                                                     in: weights)
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
            let tower = checkpoint?.config.textTower ?? .standard
            let (capture, _) = try Checkpoint.load(path: absolute(model), expectedBackbone: nil,
                                                   expectedTokenizer: try ComponentIdentity(tower.tokenizerFile, in: weights),
                                                   weights: weights)
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
