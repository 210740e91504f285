import Capture
import Foundation
import Testing

/// The WordPiece tokenizer: algorithm details on a tiny vocabulary (no weights needed), then
/// golden token ids on MiniLM's vocab.txt, long captions and invalid UTF-8.
@Suite struct TokenizerTests {
    static let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

    static func tiny(_ words: [String]) throws -> WordPieceTokenizer {
        try WordPieceTokenizer(vocabulary: specials + words)
    }

    // MARK: The algorithm, on small vocabularies

    @Test func greedyLongestMatchFirstWithContinuations() throws {
        let t = try Self.tiny(["un", "una", "##aff", "##able", "##ffable", "aff", "##a", "##b", "x"])
        // "una" + "##ffable" is the longest first match, not "un" + "##aff" + "##able".
        #expect(t.tokenize("unaffable") == ["una", "##ffable"])
        #expect(t.tokenize("affab") == ["aff", "##a", "##b"])
        // A part that matches nothing makes the whole word [UNK], not just that part.
        #expect(t.tokenize("unaffablez x") == ["[UNK]", "x"])
        #expect(t.tokenize("ab") == ["[UNK]"])  // "##a" cannot start a word
        #expect(t.id(for: "##able") == 8 && t.id(for: "able") == nil && t.token(for: 8) == "##able")
        #expect(t.token(for: -1) == nil && t.token(for: 14) == nil && t.vocabularySize == 14)
    }

    @Test func wordsOver100CharactersAreUnknown() throws {
        let t = try Self.tiny(["a", "##a"])
        #expect(t.tokenize(String(repeating: "a", count: 100)).count == 100)
        #expect(t.tokenize(String(repeating: "a", count: 101)) == ["[UNK]"])
        // Characters are counted in code points: 101 "é" stripped of accents are 101 "e".
        let e = try Self.tiny(["e", "##e"])
        #expect(e.tokenize(String(repeating: "é", count: 101)) == ["[UNK]"])
    }

    @Test func basicTokenisationSplitsWhitespacePunctuationAndCJK() throws {
        let t = try Self.tiny(["hello", "world", "!", ",", "$", "5", "中", "文", "a", "€", "-", "'", "s", "ab", "cd", "##cd", "é"])
        #expect(t.tokenize("Hello,  WORLD!") == ["hello", ",", "world", "!"])
        #expect(t.tokenize("$5") == ["$", "5"])             // ASCII symbols count as punctuation
        #expect(t.tokenize("5€") == ["[UNK]"])               // '€' is a symbol (Sc), not punctuation
        #expect(t.tokenize("a中文a") == ["a", "中", "文", "a"])  // each CJK ideograph alone
        #expect(t.tokenize("a-'s") == ["a", "-", "'", "s"])
        #expect(t.tokenize("¿a¡") == ["[UNK]", "a", "[UNK]"])  // Unicode P* punctuation splits too
        // Controls vanish without splitting; tab, newline, no-break and ideographic spaces split.
        #expect(t.tokenize("ab\u{7}cd") == ["ab", "##cd"])
        #expect(t.tokenize("ab\u{200B}cd\u{FEFF}") == ["ab", "##cd"])  // format characters (Cf)
        #expect(t.tokenize("ab\tcd\nab\u{A0}cd\u{3000}ab\u{2028}cd") == ["ab", "cd", "ab", "cd", "ab", "cd"])
        #expect(t.tokenize("ab\u{FFFD}cd\u{0}") == ["ab", "##cd"])
        // Accents are stripped after lower-casing; "é" in the vocabulary is never reached.
        #expect(t.tokenize("É") == ["[UNK]"] && t.id(for: "é") == 21)
        #expect(t.tokenize("") == [] && t.tokenize(" \t\n ") == [])
    }

    @Test func lookupsCompareExactCodePoints() throws {
        // Precomposed Hangul "한" is canonically equivalent to its jamo, which NFD produces; the
        // lookup must not treat them as equal (Swift's String == would), as BERT does not.
        let t = try Self.tiny(["한", "ᄒ", "##ᅡ", "##ᆫ"])
        #expect(t.tokenize("한") == ["ᄒ", "##ᅡ", "##ᆫ"])
        #expect(t.id(for: "한") == 5 && t.id(for: "ᄒ\u{1161}\u{11AB}") == nil)
    }

    @Test func specialTokensInTextStayPlainText() throws {
        let t = try Self.tiny(["[", "]", "sep", "mask"])
        #expect(t.tokenize("[SEP] [MASK]") == ["[", "sep", "]", "[", "mask", "]"])
    }

    @Test func encodeAddsSpecialsTruncatesAndPads() throws {
        let t = try Self.tiny(["a", "b"])
        let short = t.encode("a b a", maxLength: 8)
        #expect(short.ids == [2, 5, 6, 5, 3, 0, 0, 0] && short.attentionMask == [1, 1, 1, 1, 1, 0, 0, 0])
        #expect(short.tokens == ["[CLS]", "a", "b", "a", "[SEP]"] && short.length == 5 && !short.truncated)
        let exact = t.encode("a b a b a b", maxLength: 8)
        #expect(exact.ids == [2, 5, 6, 5, 6, 5, 6, 3] && !exact.truncated)
        let long = t.encode("a b a b a b a", maxLength: 8)
        #expect(long.ids == [2, 5, 6, 5, 6, 5, 6, 3] && long.truncated && long.attentionMask.allSatisfy { $0 == 1 })
        let unpadded = t.encode("a", maxLength: 8, pad: false)
        #expect(unpadded.ids == [2, 5, 3] && unpadded.attentionMask == [1, 1, 1])
        let empty = t.encode("", maxLength: 2)
        #expect(empty.ids == [2, 3] && !empty.truncated)
        #expect(t.encode("a", maxLength: 2).truncated)
        #expect(t.encode("a b").ids.count == 36)  // CAPTURE's default length
    }

    @Test func vocabularyErrorsAreClear() throws {
        #expect(throws: TokenizerError.self) { try WordPieceTokenizer(vocabulary: []) }
        do {
            _ = try WordPieceTokenizer(vocabulary: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello"])
            Issue.record("a vocabulary without [MASK] was accepted")
        } catch {
            #expect(error.description.contains("[MASK]"))
        }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        do {
            _ = try WordPieceTokenizer(vocabularyPath: folder.file("vocab.txt"))
            Issue.record("a missing vocab.txt was accepted")
        } catch {
            #expect(error.description.contains(folder.file("vocab.txt")))
        }
        let binary = try folder.write([0x5B, 0x50, 0xFF, 0xFE, 0x0A], to: "binary.txt")
        #expect(throws: TokenizerError("the vocabulary \(binary) is not valid UTF-8 (line 1)")) {
            try WordPieceTokenizer(vocabularyPath: binary)
        }
        // Windows line ends are accepted; the line number is the id.
        let crlf = try folder.write(Array("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nred\r\n##dish".utf8), to: "crlf.txt")
        let t = try WordPieceTokenizer(vocabularyPath: crlf)
        #expect(t.vocabularySize == 7 && t.tokenize("Reddish") == ["red", "##dish"] && t.id(for: "##dish") == 6)
    }

    // MARK: MiniLM's vocabulary

    struct Reference: Decodable {
        let description: String
        let max_length: Int
        let sentences: [String]
        let token_ids: [[Int]]
        let token_ids_full: [[Int]]
        let tokens: [[String]]
    }

    static func reference() throws -> Reference {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestWeights.fixture("minilm_reference.json")))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    /// Golden ids from tools/reference/minilm_reference.py: the model's own tokenizer.json run
    /// by Hugging Face `tokenizers` (what sentence-transformers uses), truncated to 36.
    @Test func goldenTokenIDsMatchTheOfficialTokenizer() throws {
        let t = try TestWeights.tokenizer()
        let reference = try Self.reference()
        #expect(reference.max_length == 36 && reference.sentences.count >= 10)
        for (i, sentence) in reference.sentences.enumerated() {
            let encoded = t.encode(sentence, maxLength: reference.max_length, pad: false)
            #expect(encoded.ids == reference.token_ids[i], "sentence \(i): \(sentence.debugDescription)")
            #expect(encoded.tokens == reference.tokens[i], "sentence \(i)")
            #expect(encoded.truncated == (reference.token_ids_full[i].count > reference.max_length))
            let full = [t.classID] + t.tokenize(sentence).map { t.id(for: $0)! } + [t.separatorID]
            #expect(full == reference.token_ids_full[i], "sentence \(i) untruncated")
        }
    }

    @Test func miniLMSpecialTokens() throws {
        let t = try TestWeights.tokenizer()
        #expect(t.vocabularySize == 30_522)
        #expect(t.padID == 0 && t.unknownID == 100 && t.classID == 101 && t.separatorID == 102 && t.maskID == 103)
        let encoded = t.encode("A red dress")
        #expect(encoded.ids.count == 36 && encoded.attentionMask.reduce(0, +) == encoded.length)
        #expect(encoded.ids[encoded.length...].allSatisfy { $0 == 0 })
    }

    @Test func hundredThousandCharacterCaptionsAreFast() throws {
        let t = try TestWeights.tokenizer()
        let words = "lightweight breathable mesh running shoes for men, size 42 (EU) — 日本 ÉDITION "
        var caption = ""
        while caption.unicodeScalars.count < 100_000 { caption += words }
        let noSpaces = String(repeating: "ab", count: 50_000)
        let cjk = String(repeating: "衣", count: 100_000)

        let clock = ContinuousClock()
        var encoded: [TokenizedText] = []
        let encodeTime = clock.measure {
            for text in [caption, noSpaces, cjk] { encoded.append(t.encode(text)) }
        }
        #expect(encoded.allSatisfy { $0.ids.count == 36 })
        #expect(encoded[0].truncated && encoded[2].truncated && encoded[2].length == 36)
        #expect(encoded[1].tokens == ["[CLS]", "[UNK]", "[SEP]"] && !encoded[1].truncated)  // one 100,000-character word
        #expect(encodeTime < .milliseconds(100), "encoding three 100,000-character captions took \(encodeTime)")

        // The full tokenisation of every character is linear and quick too.
        var counts: [Int] = []
        let fullTime = clock.measure {
            for text in [caption, noSpaces, cjk] { counts.append(t.tokenize(text).count) }
        }
        #expect(counts[1] == 1 && counts[2] == 100_000 && counts[0] > 20_000)
        #expect(fullTime < .seconds(3), "tokenising three 100,000-character captions took \(fullTime)")
        // Truncation keeps exactly the first wordpieces of the full tokenisation.
        #expect(Array(t.tokenize(caption).prefix(34)) == Array(encoded[0].tokens.dropFirst().dropLast()))
    }

    @Test func invalidUTF8IsReplacedAndDropped() throws {
        let t = try TestWeights.tokenizer()
        let cases: [[UInt8]] = [
            Array("red".utf8) + [0xFF] + Array(" dress".utf8),        // invalid byte
            Array("red".utf8) + [0xC3] + Array(" dress".utf8),        // truncated two-byte sequence
            [0xED, 0xA0, 0x80] + Array("red dress".utf8),             // UTF-8-encoded surrogate
            [0xC0, 0xAF] + Array("red dress".utf8) + [0xE2, 0x82],    // overlong '/', truncated '€' at the end
            Array("red\u{FFFD} dress".utf8),                          // a real U+FFFD is dropped as well
        ]
        let expected = t.encode("red dress")
        for bytes in cases {
            #expect(t.encode(bytes: bytes) == expected, "\(bytes)")
            #expect(t.tokenize(bytes: bytes) == ["red", "dress"])
        }
        // Random bytes never crash and always give [CLS] ... [SEP].
        var rng = SafetensorsTestRandom(seed: 3)
        for _ in 0 ..< 200 {
            let bytes = (0 ..< 300).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let encoded = t.encode(bytes: bytes)
            #expect(encoded.ids.count == 36 && encoded.tokens.first == "[CLS]" && encoded.tokens.last == "[SEP]")
        }
    }
}
