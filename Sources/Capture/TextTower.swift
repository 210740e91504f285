import Foundation

/// The pretrained text tower a model's text stream starts from (docs/model.md §2, "Pretrained
/// towers"): its weights file, its tokenizer and the configuration values that follow from it.
///
/// - `e5`: intfloat/multilingual-e5-small (12 layers, XLM-R SentencePiece vocabulary, reads
///   Chinese): what new models, the zero-shot mode and the `sample` preset use.
/// - `minilm`: all-MiniLM-L6-v2 (6 layers, English uncased WordPiece): for English datasets, and
///   what every checkpoint written before the e5 tower was trained with.
public enum TextTower: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case e5 = "e5"
    case miniLM = "minilm"

    /// The tower new models use.
    public static let standard: TextTower = .e5

    /// The tower's encoder weights (Hugging Face BERT names, float32).
    public var modelFile: WeightsFile {
        switch self {
        case .e5: .e5Model
        case .miniLM: .miniLMModel
        }
    }

    /// The tower's tokenizer file (`tokenizer.bin` or `vocab.txt`).
    public var tokenizerFile: WeightsFile {
        switch self {
        case .e5: .e5Tokenizer
        case .miniLM: .miniLMVocabulary
        }
    }

    /// "multilingual-e5-small" or "all-MiniLM-L6-v2".
    public var description: String {
        switch self {
        case .e5: "multilingual-e5-small"
        case .miniLM: "all-MiniLM-L6-v2"
        }
    }

    /// The zero-shot system's pair queries (image and caption) score `w cos(sentence) + (1 - w)
    /// cos(pooled)`: w for this tower's sentence embeddings, chosen on SampleData's dev split
    /// (official mAP@10 of pair queries). e5's captions carry most of the signal: 0.684 at w 0.5,
    /// 0.728 at 0.7, 0.773 at 0.85, 0.783 at 0.9, 0.763 at 0.95, 0.728 at 1 (captions alone).
    /// MiniLM's do not: 0.465 at 0.5, 0.409 at 0.7, 0.355 at 0.9.
    public var zeroShotPairTextWeight: Float {
        switch self {
        case .e5: 0.9
        case .miniLM: 0.5
        }
    }

    /// The tower's depth: 12 layers for e5, 6 for MiniLM.
    public var textLayers: Int {
        switch self {
        case .e5: 12
        case .miniLM: 6
        }
    }

    /// The model configuration for this tower: the default widths, the tower's layer count,
    /// vocabulary rows and text length (docs/model.md §1). `vocabularyRows` is the tokenizer's
    /// (for e5, the rows of the pruned embedding table).
    public func configuration(vocabularyRows: Int) -> CaptureConfig {
        var config = CaptureConfig()
        config.textTower = self
        config.vocabSize = vocabularyRows
        config.textLayers = textLayers
        switch self {
        case .e5:
            // p99 of SampleData's titles with the "query: " prefix is 61 pieces; 64 cuts 0.5 %
            // of them (docs/model.md §2.1, "Length").
            config.maxTextLength = 64
        case .miniLM:
            break
        }
        return config
    }

    /// The configuration for this tower with the vocabulary of the tokenizer in `weights`.
    public func configuration(in weights: WeightsFolder) throws -> CaptureConfig {
        configuration(vocabularyRows: try TextTokenizer(self, in: weights).vocabularyRows)
    }
}

/// A text tower's tokenizer: WordPiece for MiniLM, SentencePiece (with e5's "query: " prefix)
/// for e5. What the model reads are rows of its word-embedding table.
public enum TextTokenizer: Sendable {
    case wordPiece(WordPieceTokenizer)
    case sentencePiece(SentencePieceTokenizer)

    /// Loads the tokenizer of `tower` from the weights folder.
    public init(_ tower: TextTower, in weights: WeightsFolder) throws {
        let path = try weights.require(tower.tokenizerFile)
        switch tower {
        case .e5: self = .sentencePiece(try SentencePieceTokenizer(path: path))
        case .miniLM: self = .wordPiece(try WordPieceTokenizer(vocabularyPath: path))
        }
    }

    public var tower: TextTower {
        switch self {
        case .wordPiece: .miniLM
        case .sentencePiece: .e5
        }
    }

    /// A caption as the text stream's input: `[CLS] ... [SEP]` (or `<s> query: ... </s>`), padded
    /// to `maxLength` when `pad` is true. e5 reads every caption, query or gallery, with its
    /// "query: " prefix (docs/model.md §2.1: "passage: " for gallery captions measured no better).
    public func encode(_ caption: String, maxLength: Int, pad: Bool = true) -> TokenizedText {
        switch self {
        case .wordPiece(let t): t.encode(caption, maxLength: maxLength, pad: pad)
        case .sentencePiece(let t): t.encode(caption, prefix: .query, maxLength: maxLength, pad: pad)
        }
    }

    /// Rows of the word-embedding table (the model's `vocabSize`).
    public var vocabularyRows: Int {
        switch self {
        case .wordPiece(let t): t.vocabularySize
        case .sentencePiece(let t): t.rowCount
        }
    }

    /// The padding row.
    public var padID: Int {
        switch self {
        case .wordPiece(let t): t.padID
        case .sentencePiece(let t): t.padRow
        }
    }

    /// The special rows MLM masking needs.
    public var masking: PretrainingMasking {
        switch self {
        case .wordPiece(let t): PretrainingMasking(t)
        case .sentencePiece(let t):
            PretrainingMasking(padID: Int32(t.padRow), classID: Int32(t.beginRow), separatorID: Int32(t.endRow),
                               maskID: Int32(t.maskRow))
        }
    }
}
