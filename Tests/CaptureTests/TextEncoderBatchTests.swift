import Capture
import Tensor
import Testing

@Suite struct TextEncoderBatchTests {
    @Test func tokenBatchPadsAndMasks() {
        let batch = TokenBatch(sequences: [[101, 7, 102], [101, 102]], length: 4)
        #expect(batch.batch == 2 && batch.length == 4)
        #expect(batch.ids == [101, 7, 102, 0, 101, 102, 0, 0])
        #expect(batch.mask == [1, 1, 1, 0, 1, 1, 0, 0])
        let longest = TokenBatch(sequences: [[1], [1, 2, 3]])
        #expect(longest.length == 3)
        let empty = TokenBatch(sequences: [])
        #expect(empty.batch == 0 && empty.ids.isEmpty)
    }

    @Test func tokenBatchFromTokenizerEncodings() {
        let a = TokenizedText(ids: [101, 5, 102, 0], attentionMask: [1, 1, 1, 0], tokens: ["[CLS]", "x", "[SEP]"], truncated: false)
        let b = TokenizedText(ids: [101, 102, 0, 0], attentionMask: [1, 1, 0, 0], tokens: ["[CLS]", "[SEP]"], truncated: false)
        let batch = TokenBatch([a, b])
        #expect(batch.ids == [101, 5, 102, 0, 101, 102, 0, 0])
        #expect(batch.mask == [1, 1, 1, 0, 1, 1, 0, 0])
    }

    @Test func meanPoolSkipsPadding() {
        let states = FloatBuffer([1, 2, 3, 4, 100, 100,   5, 6, 7, 8, 9, 10])  // 2 x 3 tokens x 2
        let mask = FloatBuffer([1, 1, 0, 1, 1, 1])
        let out = FloatBuffer(count: 4)
        meanPool(states.pointer, mask: mask.pointer, batch: 2, length: 3, width: 2, into: out.pointer)
        #expect(out.array == [2, 3, 7, 8])
    }

    /// The pointer API and the TokenBatch API give the same states, and the states
    /// of a forward pass stay what they were until the next one.
    @Test func tokenBatchForwardMatchesPointerForward() {
        var config = CaptureConfig()
        config.hidden = 16; config.heads = 2; config.intermediate = 32
        config.vocabSize = 30; config.maxPositions = 8; config.textLayers = 2
        let encoder = TextEncoder(config: config, seed: 9)
        let tokens = TokenBatch(sequences: [[1, 5, 2], [1, 7, 8, 2]])
        let viaBatch = Array(UnsafeBufferPointer(start: encoder.forward(tokens, mode: .inference), count: 2 * 4 * 16))
        let viaPointers = tokens.ids.withUnsafeBufferPointer { ids in
            tokens.mask.withUnsafeBufferPointer { mask in
                Array(UnsafeBufferPointer(start: encoder.forward(ids: ids.baseAddress!, mask: mask.baseAddress!,
                                                                  batch: 2, length: 4, mode: .inference), count: 2 * 4 * 16))
            }
        }
        #expect(viaBatch == viaPointers)
        #expect(viaBatch.allSatisfy { $0.isFinite })
    }
}
