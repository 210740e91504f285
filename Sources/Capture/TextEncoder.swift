import Foundation
import Tensor

/// A batch of token sequences, padded to one length, with the attention mask
/// the encoder needs (1 for real tokens, 0 for padding).
public struct TokenBatch: Sendable, Equatable {
    public let batch: Int
    public let length: Int
    /// `[batch * length]` token ids, padded with `padID`.
    public let ids: [Int32]
    /// `[batch * length]`, 1 for real tokens, 0 for padding.
    public let mask: [Float]

    /// Pads unpadded id sequences (e.g. `[CLS] ... [SEP]`) to `length` (default: the longest).
    /// A sequence longer than `length` is an error of the caller: truncate when tokenising.
    public init(sequences: [[Int]], length: Int? = nil, padID: Int = 0) {
        let longest = sequences.map(\.count).max() ?? 0
        let length = length ?? longest
        precondition(longest <= length, "TokenBatch: a sequence of \(longest) tokens does not fit in \(length)")
        var ids = [Int32](repeating: Int32(padID), count: sequences.count * length)
        var mask = [Float](repeating: 0, count: sequences.count * length)
        for (b, sequence) in sequences.enumerated() {
            for (t, id) in sequence.enumerated() {
                ids[b * length + t] = Int32(id); mask[b * length + t] = 1
            }
        }
        self.batch = sequences.count; self.length = length; self.ids = ids; self.mask = mask
    }

    /// A batch given as it is fed to the model: `[batch * length]` ids and their 1/0 mask, row-major.
    public init(ids: [Int32], mask: [Float], batch: Int, length: Int) {
        precondition(batch >= 0 && length >= 0 && ids.count == batch * length && mask.count == batch * length,
                     "TokenBatch: \(ids.count) ids and \(mask.count) mask values for \(batch) x \(length)")
        self.batch = batch; self.length = length; self.ids = ids; self.mask = mask
    }

    /// The tokenizer's padded encodings (all of one length) as a batch.
    public init(_ texts: [TokenizedText]) {
        let length = texts.first?.ids.count ?? 0
        precondition(texts.allSatisfy { $0.ids.count == length && $0.attentionMask.count == length },
                     "TokenBatch: encodings must be padded to one length (encode with pad: true)")
        batch = texts.count; self.length = length
        ids = texts.flatMap { $0.ids.map(Int32.init) }
        mask = texts.flatMap { $0.attentionMask.map(Float.init) }
    }
}

// MARK: - Embeddings

/// BERT's embeddings: `LayerNorm(word[id] + position[t] + token_type[0])`, then
/// dropout in training. Names under `prefix + "embeddings."` as Hugging Face's.
public final class BertEmbeddings: @unchecked Sendable {
    public let word: Parameter
    public let position: Parameter
    public let tokenType: Parameter
    public let layerNorm: LayerNormLayer
    public let hidden: Int
    private let salt: UInt64

    private var ids: UnsafePointer<Int32>?
    private var batch = 0, length = 0
    private var hiddenDropout: Float = 0
    private var summed = Workspace(), output = Workspace(), mean = Workspace(), rstd = Workspace()
    private var dropMask = Workspace(), dSummed = Workspace(), dDropped = Workspace()

    /// `initializeWordTable` false leaves the word table at zero (untouched pages: it is about
    /// to be loaded, and e5's is 214 MB) and draws nothing for it from `rng`.
    public init(prefix: String, vocabularySize: Int, maxPositions: Int, typeVocabularySize: Int,
                hidden: Int, layerNormEps: Float, rng: inout SeededRNG, initializeWordTable: Bool = true) {
        self.hidden = hidden
        word = Parameter(name: prefix + "embeddings.word_embeddings.weight", shape: [vocabularySize, hidden], decays: true)
        position = Parameter(name: prefix + "embeddings.position_embeddings.weight", shape: [maxPositions, hidden], decays: true)
        tokenType = Parameter(name: prefix + "embeddings.token_type_embeddings.weight", shape: [typeVocabularySize, hidden],
                              decays: true)
        for p in initializeWordTable ? [word, position, tokenType] : [position, tokenType] {
            p.initializeNormal(std: 0.02, rng: &rng)
        }
        layerNorm = LayerNormLayer(name: prefix + "embeddings.LayerNorm", width: hidden, eps: layerNormEps)
        salt = stableHash(prefix + "embeddings")
    }

    public var parameters: [Parameter] { [word, position, tokenType] + layerNorm.parameters }

    /// Embeds `[batch, length]` token ids (token type 0 everywhere, positions 0 ..< length).
    /// `ids` must stay alive until `backward`. Returns `[batch, length, hidden]` (owned).
    public func forward(ids: UnsafePointer<Int32>, batch: Int, length: Int, mode: ForwardMode) -> UnsafePointer<Float> {
        precondition(length <= position.shape[0],
                     "BertEmbeddings: \(length) tokens exceed the \(position.shape[0]) learned positions")
        self.ids = ids; self.batch = batch; self.length = length
        let C = hidden, rows = batch * length
        let sum = summed.reserve(rows * C)
        embeddingForward(output: sum, ids: ids, table: word.value.pointer, count: rows, width: C, rows: word.shape[0])
        let pos = position.value.pointer, type0 = tokenType.value.pointer
        Parallel.forEachRange(rows, workPerItem: 2 * C) { range in
            for r in range {
                let row = sum + r * C, p = pos + (r % length) * C
                for c in 0..<C { row[c] += p[c] + type0[c] }
            }
        }
        let out = output.reserve(rows * C)
        layerNorm.forward(sum, into: out, mean: mean.reserve(rows), rstd: rstd.reserve(rows), rows: rows)
        hiddenDropout = mode.dropout?.hidden ?? 0
        if hiddenDropout > 0 {
            var rng = SeededRNG(seed: mode.dropout!.seed ^ salt)
            let mask = dropMask.reserve(rows * C)
            dropoutMaskFill(mask, count: rows * C, probability: hiddenDropout, rng: &rng)
            dropoutForward(output: out, input: out, mask: mask, count: rows * C)
        }
        return UnsafePointer(out)
    }

    /// Accumulates the gradients of the (trainable) embedding tables and LayerNorm.
    public func backward(_ dOutput: UnsafePointer<Float>) {
        guard let ids else { preconditionFailure("BertEmbeddings.backward called before forward") }
        guard parameters.contains(where: \.isTrainable) else { return }
        let C = hidden, rows = batch * length
        var dOut = dOutput
        if hiddenDropout > 0 {
            let dd = dDropped.reserve(rows * C)
            dropoutBackward(dInput: dd, dOutput: dOutput, mask: dropMask.pointer, count: rows * C)
            dOut = UnsafePointer(dd)
        }
        let ds = dSummed.reserve(rows * C)
        layerNorm.backward(dOut, input: summed.pointer, mean: mean.pointer, rstd: rstd.pointer, dInput: ds, rows: rows)
        if word.isTrainable {
            embeddingBackward(dTable: word.grad.pointer, dOutput: ds, ids: ids, count: rows, width: C)
        }
        if position.isTrainable {
            // Position t receives the gradient of row t of every sequence.
            for b in 0..<batch { accumulate(position.grad.pointer, ds + b * length * C, count: length * C) }
        }
        if tokenType.isTrainable { columnSums(into: tokenType.grad.pointer, ds, rows: rows, columns: C) }
    }
}

// MARK: - Text encoder

/// The text stream: BERT embeddings and `textLayers` BERT layers (MiniLM-L6 when loaded
/// from its weights), with parameter names `text.` + Hugging Face's names.
public final class TextEncoder: @unchecked Sendable {
    public let config: CaptureConfig
    public let embeddings: BertEmbeddings
    public let layers: [BertLayer]
    /// Every parameter, in Hugging Face order, named with the `text.` prefix.
    public let parameters: ParameterSet
    /// The prefix of every parameter name.
    public let prefix: String

    private var mask: UnsafePointer<Float>?
    private var batch = 0, length = 0
    private var pooled = Workspace(), maskCopy = Workspace()
    private var idCopy = UnsafeMutablePointer<Int32>.allocate(capacity: 1), idCapacity = 1

    deinit { idCopy.deallocate() }

    /// A randomly initialised encoder (BERT's initialisation), for tests and small configurations.
    /// `initializeWordTable` false leaves the word table at zero, for an encoder about to be loaded.
    public init(config: CaptureConfig, prefix: String = "text.", seed: UInt64 = 0, initializeWordTable: Bool = true) {
        self.config = config
        self.prefix = prefix
        var rng = SeededRNG(seed: seed)
        embeddings = BertEmbeddings(prefix: prefix, vocabularySize: config.vocabSize, maxPositions: config.maxPositions,
                                    typeVocabularySize: config.typeVocabSize, hidden: config.hidden,
                                    layerNormEps: config.layerNormEps, rng: &rng, initializeWordTable: initializeWordTable)
        let dims = BertDimensions(config)
        layers = (0..<config.textLayers).map { BertLayer(prefix: prefix + "encoder.layer.\($0).", dims: dims, rng: &rng) }
        var set = ParameterSet()
        for p in embeddings.parameters + layers.flatMap(\.parameters) {
            do { try set.append(p) } catch { preconditionFailure("TextEncoder: \(error)") }
        }
        parameters = set
    }

    /// Loads MiniLM (or any BERT checkpoint in Hugging Face's names, without the
    /// `text.` prefix) from a safetensors file. Tensors the encoder does not use
    /// (`embeddings.position_ids`, a pooler) are ignored; a missing tensor or a
    /// wrong shape is an error naming it.
    public func load(from file: SafetensorsFile) throws(SafetensorsError) {
        for p in parameters {
            // The word table maps straight from the file where it can (only the rows used become resident).
            try file.loadTensor(sourceName(of: p.name, in: file), shape: p.shape, into: p.value)
        }
    }

    /// The name in a pretrained BERT file (`file`, Hugging Face's names with or without
    /// `bert.`) of this encoder's parameter `parameterName` (`text.encoder.layer.0...`).
    public func sourceName(of parameterName: String, in file: SafetensorsFile) -> String {
        let name = parameterName.hasPrefix(prefix) ? String(parameterName.dropFirst(prefix.count)) : parameterName
        return !file.contains(name) && file.contains("bert." + name) ? "bert." + name : name
    }

    /// The pretrained MiniLM text tower from the weights folder (`Weights/minilm/model.safetensors`).
    public static func miniLM(in folder: WeightsFolder, config: CaptureConfig = .default) throws -> TextEncoder {
        try pretrained(config: config, in: folder)
    }

    /// The pretrained text tower `config.textTower` (e5 or MiniLM) from the weights folder, with
    /// `config`'s sizes (take them from `TextTower.configuration(in:)`).
    public static func pretrained(config: CaptureConfig, in folder: WeightsFolder) throws -> TextEncoder {
        let path = try folder.require(config.textTower.modelFile)
        let encoder = TextEncoder(config: config, initializeWordTable: false)
        try encoder.load(from: try SafetensorsFile.read(path: path))
        return encoder
    }

    /// Runs the encoder over `[batch, length]` token ids with attention mask `mask`
    /// (1 real, 0 padding). `ids` and `mask` must stay alive until `backward`.
    /// Returns the last layer's states `[batch, length, hidden]`, owned by the encoder.
    public func forward(ids: UnsafePointer<Int32>, mask: UnsafePointer<Float>, batch: Int, length: Int,
                        mode: ForwardMode) -> UnsafePointer<Float> {
        self.mask = mask; self.batch = batch; self.length = length
        var x = embeddings.forward(ids: ids, batch: batch, length: length, mode: mode)
        for layer in layers {
            x = layer.forward(x, keyMask: mask, batch: batch, length: length, mode: mode)
        }
        return x
    }

    /// Runs the encoder over a token batch, keeping its own copy of the ids and mask
    /// (so nothing needs to stay alive for `backward`). Returns the last layer's
    /// states `[batch, length, hidden]`, owned by the encoder; `lastMask` is the
    /// batch's mask, for the layers that attend to these states.
    public func forward(_ tokens: TokenBatch, mode: ForwardMode) -> UnsafePointer<Float> {
        let count = tokens.batch * tokens.length
        if idCapacity < count {
            idCopy.deallocate()
            idCopy = .allocate(capacity: count); idCapacity = count
        }
        tokens.ids.withUnsafeBufferPointer { if let b = $0.baseAddress { idCopy.update(from: b, count: count) } }
        let m = maskCopy.reserve(count)
        tokens.mask.withUnsafeBufferPointer { if let b = $0.baseAddress { m.update(from: b, count: count) } }
        return forward(ids: idCopy, mask: m, batch: tokens.batch, length: tokens.length, mode: mode)
    }

    /// The attention mask `[batch, length]` of the last forward pass.
    public var lastMask: UnsafePointer<Float>? { mask }

    /// Backward pass from the gradient of the last layer's states: accumulates the
    /// gradients of every trainable parameter, and stops as soon as nothing below trains.
    public func backward(_ dOutput: UnsafePointer<Float>) {
        var d = dOutput
        for i in stride(from: layers.count - 1, through: 0, by: -1) {
            let belowTrains = layers[..<i].contains(where: \.isTrainable)
                || embeddings.parameters.contains(where: \.isTrainable)
            guard let dIn = layers[i].backward(d, computeInputGradient: belowTrains).dInput else { return }
            d = dIn
        }
        embeddings.backward(d)
    }

    /// The tower's sentence embedding (MiniLM's `text_sentence`, e5's embedding): the encoder's
    /// states averaged over real tokens (the special tokens included), then L2-normalised;
    /// `[batch, hidden]`.
    public func sentenceEmbeddings(_ tokens: TokenBatch) -> [[Float]] {
        let C = config.hidden
        guard tokens.batch > 0 else { return [] }
        let states = forward(tokens, mode: .inference)
        let out = pooled.reserve(tokens.batch * C)
        meanPool(states, mask: maskCopy.pointer, batch: tokens.batch, length: tokens.length, width: C, into: out)
        let norms = FloatBuffer(count: tokens.batch)
        l2NormalizeForward(output: out, norms: norms.pointer, input: out, rows: tokens.batch, width: C)
        return (0..<tokens.batch).map { Array(UnsafeBufferPointer(start: out + $0 * C, count: C)) }
    }
}

/// Mean over the real tokens of each sequence (sentence-transformers' mean pooling:
/// `Σ mask·h / max(Σ mask, 1e-9)`): `[batch, length, width]` to `[batch, width]`.
public func meanPool(_ states: UnsafePointer<Float>, mask: UnsafePointer<Float>, batch: Int, length: Int,
                     width: Int, into output: UnsafeMutablePointer<Float>) {
    for b in 0..<batch {
        let out = output + b * width
        out.update(repeating: 0, count: width)
        var count: Float = 0
        for t in 0..<length where mask[b * length + t] != 0 {
            accumulate(out, states + (b * length + t) * width, scaledBy: mask[b * length + t], count: width)
            count += mask[b * length + t]
        }
        scale(out, by: 1 / max(count, 1e-9), count: width)
    }
}
