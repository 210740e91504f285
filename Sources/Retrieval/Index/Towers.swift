import Support
import Capture
import Catalog
import Foundation
import Imaging

/// What a gallery index and the retrieval engine compute vectors with: the zero-shot towers
/// (the text tower, EfficientNet-Lite0 through the feature cache) or a CAPTURE checkpoint.
public enum RetrievalSystem: Sendable, Equatable, Hashable {
    /// The pretrained towers alone: caption to caption and image to image.
    case zeroShot
    /// A CAPTURE checkpoint (`.safetensors`) at this path.
    case model(checkpoint: String)

    /// "zero-shot" or the checkpoint's file name.
    public var displayName: String {
        switch self {
        case .zeroShot: return IndexIdentity.zeroShot
        case .model(let path): return (path as NSString).lastPathComponent
        }
    }
}

/// The networks behind one `RetrievalSystem`, loaded once, with a lock around every forward pass
/// (the encoders keep their activations and are not reentrant).
final class Towers: @unchecked Sendable {
    // Sendable: every stored property is immutable; the mutable encoder state is only touched
    // while `lock` is held.
    let system: RetrievalSystem
    let weights: WeightsFolder
    let tokenizer: TextTokenizer
    let backbone: EfficientNetLite0
    let cache: FeatureCache
    /// The pretrained text tower for zero-shot caption vectors (nil for a checkpoint: its own
    /// text stream is used).
    let textEncoder: TextEncoder?
    let model: CaptureModel?
    let maxTextLength: Int
    /// Hashes of the components (for index identities).
    let tokenizerHash: String
    let textTowerHash: String
    let checkpointHash: String
    private let lock = NSLock()

    init(system: RetrievalSystem, options: RetrievalOptions) throws {
        self.system = system
        weights = try options.weightsPath.map { WeightsFolder(path: $0) } ?? WeightsFolder.locate()
        backbone = try EfficientNetLite0(weights: weights)
        var cache = try FeatureCache(root: options.featureCacheRoot, backbone: backbone.identity)
        cache.readOnly = options.readOnly
        self.cache = cache
        let tower: TextTower
        switch system {
        case .zeroShot:
            tower = options.zeroShotTextTower
            tokenizer = try TextTokenizer(tower, in: weights)
            let config = tower.configuration(vocabularyRows: tokenizer.vocabularyRows)
            textEncoder = try TextEncoder.pretrained(config: config, in: weights)
            model = nil
            checkpointHash = IndexIdentity.zeroShot
            maxTextLength = config.maxTextLength
        case .model(let path):
            checkpointHash = try ContentHash.sha256(fileAt: path)
            // The checkpoint's tower decides the tokenizer, which must be the one it was trained
            // with; a fine-tuned checkpoint may leave the frozen text-tower tensors out: they come
            // from `weights`.
            tower = try Checkpoint.readMetadata(path: path).config.textTower
            let (capture, metadata) = try Checkpoint.load(path: path, expectedBackbone: backbone.identity,
                                                          expectedTokenizer: try ComponentIdentity(tower.tokenizerFile, in: weights),
                                                          weights: weights)
            tokenizer = try TextTokenizer(tower, in: weights)
            guard tokenizer.vocabularyRows == metadata.config.vocabSize else {
                throw CheckpointError(path: path, reason: "its text stream has \(metadata.config.vocabSize) word rows, but "
                    + "the installed \(tower) tokenizer has \(tokenizer.vocabularyRows); install the weights it was "
                    + "trained with (make weights)")
            }
            model = capture
            textEncoder = nil
            maxTextLength = metadata.config.maxTextLength
        }
        tokenizerHash = try ComponentIdentity(tower.tokenizerFile, in: weights).sha256
        textTowerHash = try ComponentIdentity(tower.modelFile, in: weights).sha256
    }

    /// The identity of vectors computed by these towers over a gallery with `fingerprint`.
    func identity(gallery fingerprint: String) -> IndexIdentity {
        IndexIdentity(checkpoint: checkpointHash, checkpointName: system.displayName, backbone: backbone.identity.sha256,
                      tokenizer: tokenizerHash, textTower: textTowerHash, dataset: fingerprint)
    }

    // MARK: Inputs

    func encode(_ caption: String) -> TokenizedText {
        tokenizer.encode(caption, maxLength: maxTextLength)
    }

    /// The block-15 maps (`[channel][row][column]`) of images through the feature cache; nil for
    /// a sample without an image or an image that cannot be decoded (with the reason).
    func imageMaps(_ paths: [String?]) -> [Result<[Float], BackboneError>?] {
        let present = paths.enumerated().compactMap { i, p in p.map { (i, $0) } }
        var out = [Result<[Float], BackboneError>?](repeating: nil, count: paths.count)
        guard !present.isEmpty else { return out }
        let outcome = lock.withLock { cache.features(forImagesAt: present.map(\.1), network: backbone) }
        for (k, (i, _)) in present.enumerated() { out[i] = outcome.features[k] }
        return out
    }

    /// The map of one image file, or the error saying why it cannot be used.
    func imageMap(path: String) throws -> [Float] {
        guard let result = imageMaps([path])[0] else { throw RetrievalError.imageUnreadable(path, "no image") }
        switch result {
        case .success(let map): return map
        case .failure(let error): throw RetrievalError.imageUnreadable(path, error.description)
        }
    }

    // MARK: Zero-shot vectors

    /// The text tower's sentence embeddings (unit vectors, 384-d).
    func sentenceVectors(_ captions: [String]) -> [[Float]] {
        guard let textEncoder else { preconditionFailure("sentenceVectors needs the zero-shot towers") }
        let batch = TokenBatch(captions.map(encode))
        return lock.withLock { textEncoder.sentenceEmbeddings(batch) }
    }

    /// The pooled backbone feature of a map, L2-normalised (zero stays zero).
    static func pooledVector(_ map: [Float]) -> [Float] {
        normalized(EfficientNetLite0.pool(map))
    }

    // MARK: Model vectors

    /// `z_t` of captions.
    func textVectors(_ captions: [String]) -> [[Float]] {
        guard let model else { preconditionFailure("textVectors needs a checkpoint") }
        let batch = TokenBatch(captions.map(encode))
        return lock.withLock { model.embedText(batch) }
    }

    /// `z_v` of images given as block-15 maps.
    func imageVectors(_ maps: [[Float]]) -> [[Float]] {
        guard let model else { preconditionFailure("imageVectors needs a checkpoint") }
        let features = maps.flatMap { ImageTokens.features(channelMajor: $0, channels: model.config.regionFeatureDim) }
        return lock.withLock { model.embedImages(features) }
    }

    /// `z_t`, `z_v` and `e` of (caption, image map) pairs.
    func pairVectors(_ captions: [String], _ maps: [[Float]]) -> CaptureEmbeddings {
        guard let model else { preconditionFailure("pairVectors needs a checkpoint") }
        let batch = TokenBatch(captions.map(encode))
        let features = maps.flatMap { ImageTokens.features(channelMajor: $0, channels: model.config.regionFeatureDim) }
        return lock.withLock { model.embed(tokens: batch, imageFeatures: features) }
    }

    /// Where the caption's tokens attend in the image (one forward pass of the whole model).
    func attention(caption: String, map: [Float]) -> TextImageAttention {
        guard let model else { preconditionFailure("attention needs a checkpoint") }
        let encoded = encode(caption)
        let features = ImageTokens.features(channelMajor: map, channels: model.config.regionFeatureDim)
        return lock.withLock {
            model.textImageAttention(tokens: TokenBatch([encoded]), tokenStrings: encoded.tokens, imageFeatures: features)
        }
    }
}

/// `v / |v|`, or `v` unchanged when it is zero.
func normalized(_ v: [Float]) -> [Float] {
    var sum = 0.0
    for x in v { sum += Double(x) * Double(x) }
    guard sum > 0 else { return v }
    let inverse = Float(1 / sum.squareRoot())
    return v.map { $0 * inverse }
}
