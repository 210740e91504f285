import Support
import Foundation

/// A caption turned into the text stream's input: `[CLS] wordpieces [SEP]`, then `[PAD]`s.
public struct TokenizedText: Sendable, Equatable {
    /// Token ids, `maxLength` of them when padded (the real tokens, then `[PAD]` = 0).
    public var ids: [Int]
    /// 1 for a real token (`[CLS]` and `[SEP]` included), 0 for padding; as long as `ids`.
    public var attentionMask: [Int]
    /// The real tokens as strings, `[CLS]` first and `[SEP]` last (no padding).
    public var tokens: [String]
    /// Whether wordpieces were dropped to fit `maxLength`.
    public var truncated: Bool

    /// The number of real tokens (`[CLS]` and `[SEP]` included).
    public var length: Int { tokens.count }

    public init(ids: [Int], attentionMask: [Int], tokens: [String], truncated: Bool) {
        self.ids = ids
        self.attentionMask = attentionMask
        self.tokens = tokens
        self.truncated = truncated
    }
}

/// Why a vocabulary could not be loaded.
public struct TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// BERT's uncased WordPiece tokenizer (docs/model.md §3.1, "Text") on all-MiniLM-L6-v2's vocab.txt,
/// matching the model's own `tokenizer.json` as Hugging Face `tokenizers` runs it (what
/// sentence-transformers uses: `BertNormalizer`, `BertPreTokenizer`, `WordPiece`):
///
/// 1. Clean: drop U+0000, U+FFFD and control, format and private-use characters (Cc, Cf, Co),
///    except tab, line feed and carriage return; every White_Space character separates words.
/// 2. Every CJK ideograph (BERT's ranges: U+4E00–9FFF, 3400–4DBF, 20000–2A6DF, 2A700–2B73F,
///    2B740–2B81F, 2B820–2CEAF, F900–FAFF, 2F800–2FA1F) becomes a word of its own.
/// 3. Each word is lower-cased character by character (full Unicode mapping, no final-sigma
///    rule: "ΟΔΟΣ" gives "οδοσ"), decomposed (NFD), stripped of nonspacing marks (Mn), then split
///    around punctuation: ASCII `!`–`/`, `:`–`@`, `[`–`` ` ``, `{`–`~` and every character of a
///    P* category is a word of its own.
/// 4. WordPiece: greedy longest match first, continuations prefixed with `##`; a word of more
///    than 100 code points, or with a part that matches nothing, becomes one `[UNK]`.
///
/// Checked against `tokenizers` 0.23 on the golden sentences of the tests and on 8,000 random
/// strings mixing many scripts, symbols, emoji, controls and combining marks; the only
/// differences left come from Unicode versions (`tokenizers` classifies characters with
/// Unicode 8-era tables, Swift with current ones: U+061D, punctuation since Unicode 14, splits
/// words here and not there). Python's slow `BertTokenizer` differs from both in two corners
/// (it applies the final-sigma rule and drops unassigned code points).
///
/// One deliberate difference: the Hugging Face tokenizers also turn the literal text of a
/// special token (`[CLS]`, `[SEP]`, `[MASK]`, ...) inside the input into that token. Here a
/// caption is always plain text, so it cannot inject a separator or a mask.
///
/// Lookups compare exact code point sequences (as Python and Rust do), not Swift's canonical
/// string equivalence: NFD turns Hangul syllables into jamo, which must not match the
/// precomposed syllables of the vocabulary. Thread-safe: the tokenizer is an immutable value.
public struct WordPieceTokenizer: Sendable {
    /// BERT's limit: longer words become `[UNK]` whole.
    public static let maxCharactersPerWord = 100

    /// Id of `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]` and `[MASK]` in this vocabulary.
    public let padID: Int
    public let unknownID: Int
    public let classID: Int
    public let separatorID: Int
    public let maskID: Int

    private let vocabulary: [String]
    private let table: VocabularyTable

    /// Loads a `vocab.txt` (one token per line, the line number is the id).
    public init(vocabularyPath path: String) throws(TokenizerError) {
        let data: Data
        do {
            data = Data(try RegularFile.read(path, kind: "vocabulary", limit: 64 << 20)!)
        } catch {
            throw TokenizerError("cannot read the vocabulary \(path): \(error.message)")
        }
        // One token per line; "\n" or "\r\n" line ends, as Hugging Face's loaders accept.
        var lines: [String] = []
        lines.reserveCapacity(32_768)
        let bytes = [UInt8](data)
        var start = 0
        while start < bytes.count {
            var end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let next = end + 1
            if end > start, bytes[end - 1] == 0x0D { end -= 1 }
            guard let line = String(bytes: bytes[start ..< end], encoding: .utf8) else {
                throw TokenizerError("the vocabulary \(path) is not valid UTF-8 (line \(lines.count + 1))")
            }
            lines.append(line)
            start = next
        }
        try self.init(vocabulary: lines, source: path)
    }

    /// A tokenizer over `vocabulary` (index = id). It must contain `[PAD]`, `[UNK]`, `[CLS]`,
    /// `[SEP]` and `[MASK]`. A token listed twice keeps its last id, as in Hugging Face's loader.
    public init(vocabulary: [String]) throws(TokenizerError) {
        try self.init(vocabulary: vocabulary, source: "the vocabulary")
    }

    private init(vocabulary: [String], source: String) throws(TokenizerError) {
        guard !vocabulary.isEmpty else { throw TokenizerError("\(source) is empty") }
        let table = VocabularyTable(vocabulary)
        func special(_ token: String) throws(TokenizerError) -> Int {
            guard let id = table.lookup(Array(token.unicodeScalars.map(\.value))[...], continuation: false) else {
                throw TokenizerError("\(source) has no \(token) token; is it a BERT vocab.txt?")
            }
            return id
        }
        padID = try special("[PAD]")
        unknownID = try special("[UNK]")
        classID = try special("[CLS]")
        separatorID = try special("[SEP]")
        maskID = try special("[MASK]")
        self.vocabulary = vocabulary
        self.table = table
    }

    /// The number of ids (lines of vocab.txt).
    public var vocabularySize: Int { vocabulary.count }

    /// The token string for `id`, or nil outside the vocabulary.
    public func token(for id: Int) -> String? {
        vocabulary.indices.contains(id) ? vocabulary[id] : nil
    }

    /// The id of the exact token string `token` (e.g. `"##ing"`), or nil.
    public func id(for token: String) -> Int? {
        let scalars = token.unicodeScalars.map(\.value)
        if scalars.count > 2, scalars[0] == 0x23, scalars[1] == 0x23 {
            return table.lookup(scalars[2...], continuation: true)
        }
        return table.lookup(scalars[...], continuation: false)
    }

    /// All wordpieces of `text`, without `[CLS]`/`[SEP]` and without truncation.
    public func tokenize(_ text: String) -> [String] {
        var pieces: [Int] = []
        wordpieces(of: text, limit: .max) { pieces.append($0) }
        return pieces.map { vocabulary[$0] }
    }

    /// All wordpieces of UTF-8 `bytes`; invalid sequences become U+FFFD, which cleaning drops.
    public func tokenize(bytes: [UInt8]) -> [String] {
        tokenize(String(decoding: bytes, as: UTF8.self))
    }

    /// `[CLS] wordpieces [SEP]`, the wordpieces truncated so that the whole is at most
    /// `maxLength` tokens, then (when `pad`) padded with `[PAD]` to exactly `maxLength`.
    /// Only as much of `text` is processed as the tokens need, so a 100,000-character caption
    /// costs no more than its first words.
    public func encode(_ text: String, maxLength: Int = 36, pad: Bool = true) -> TokenizedText {
        precondition(maxLength >= 2, "maxLength must leave room for [CLS] and [SEP] (got \(maxLength))")
        let budget = maxLength - 2
        var ids = [classID]
        ids.reserveCapacity(min(maxLength, 512))
        var truncated = false
        wordpieces(of: text, limit: budget + 1) { id in
            if ids.count - 1 < budget { ids.append(id) } else { truncated = true }
        }
        ids.append(separatorID)
        let tokens = ids.map { vocabulary[$0] }
        var mask = [Int](repeating: 1, count: ids.count)
        if pad && ids.count < maxLength {
            let padding = maxLength - ids.count
            ids += [Int](repeating: padID, count: padding)
            mask += [Int](repeating: 0, count: padding)
        }
        return TokenizedText(ids: ids, attentionMask: mask, tokens: tokens, truncated: truncated)
    }

    /// `encode` on UTF-8 `bytes`; invalid sequences become U+FFFD, which cleaning drops.
    public func encode(bytes: [UInt8], maxLength: Int = 36, pad: Bool = true) -> TokenizedText {
        encode(String(decoding: bytes, as: UTF8.self), maxLength: maxLength, pad: pad)
    }

    // MARK: - The pipeline

    /// Calls `emit` with the id of each wordpiece of `text` in order; stops after `limit` ids.
    private func wordpieces(of text: String, limit: Int, emit: (Int) -> Void) {
        guard limit > 0 else { return }
        var produced = 0
        var word: [Unicode.Scalar] = []
        var pieces: [UInt32] = []   // scratch for one punctuation-free piece
        var normalised: [Unicode.Scalar] = []

        // Emits the wordpieces of one whitespace-delimited word; returns false once `limit` is reached.
        func flushWord() -> Bool {
            defer { word.removeAll(keepingCapacity: true) }
            if word.isEmpty { return true }
            BasicNormaliser.normalise(word, into: &normalised)
            // Split around punctuation; each part goes through WordPiece.
            pieces.removeAll(keepingCapacity: true)
            for scalar in normalised {
                if BasicNormaliser.isPunctuation(scalar) {
                    if !pieces.isEmpty {
                        if !wordPiece(pieces) { return false }
                        pieces.removeAll(keepingCapacity: true)
                    }
                    if !wordPiece([scalar.value]) { return false }
                } else {
                    pieces.append(scalar.value)
                }
            }
            if !pieces.isEmpty { return wordPiece(pieces) }
            return true
        }

        // Greedy longest-match-first over one piece; returns false once `limit` is reached.
        func wordPiece(_ piece: [UInt32]) -> Bool {
            if piece.count > Self.maxCharactersPerWord {
                emit(unknownID)
                produced += 1
                return produced < limit
            }
            var matches: [Int] = []
            var start = 0
            while start < piece.count {
                var end = min(piece.count, start + table.longestToken)
                var found: Int?
                while end > start {
                    if let id = table.lookup(piece[start ..< end], continuation: start > 0) {
                        found = id
                        break
                    }
                    end -= 1
                }
                guard let id = found else {
                    matches = [unknownID]
                    break
                }
                matches.append(id)
                start = end
            }
            for id in matches {
                emit(id)
                produced += 1
                if produced >= limit { return false }
            }
            return true
        }

        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value == 0 || value == 0xFFFD || BasicNormaliser.isControl(scalar) { continue }
            if BasicNormaliser.isWhitespace(scalar) {
                if !flushWord() { return }
            } else if BasicNormaliser.isCJK(value) {
                if !flushWord() { return }
                word.append(scalar)
                if !flushWord() { return }
            } else {
                word.append(scalar)
            }
        }
        _ = flushWord()
    }
}

/// BERT's character classes and per-word normalisation.
enum BasicNormaliser {
    @inline(__always) static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0x80 { return v == 0x20 || v == 0x09 || v == 0x0A || v == 0x0D }
        return scalar.properties.isWhitespace
    }

    /// General category Cc, Cf or Co, except tab, line feed and carriage return. (`tokenizers`'
    /// definition; Python's slow `BertTokenizer` also drops unassigned code points, Cn.)
    @inline(__always) static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v == 0x09 || v == 0x0A || v == 0x0D { return false }
        if v >= 0x20 && v < 0x7F { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .privateUse: return true
        default: return false
        }
    }

    @inline(__always) static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if (33 ... 47).contains(v) || (58 ... 64).contains(v) || (91 ... 96).contains(v) || (123 ... 126).contains(v) {
            return true
        }
        if v < 0x80 { return false }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    @inline(__always) static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00 ... 0x9FFF).contains(v) || (0x3400 ... 0x4DBF).contains(v)
            || (0x20000 ... 0x2A6DF).contains(v) || (0x2A700 ... 0x2B73F).contains(v)
            || (0x2B740 ... 0x2B81F).contains(v) || (0x2B820 ... 0x2CEAF).contains(v)
            || (0xF900 ... 0xFAFF).contains(v) || (0x2F800 ... 0x2FA1F).contains(v)
    }

    /// Lower-cases `word` character by character, decomposes it (NFD) and drops nonspacing
    /// marks, writing the result into `out`. ASCII words take a fast path.
    static func normalise(_ word: [Unicode.Scalar], into out: inout [Unicode.Scalar]) {
        out.removeAll(keepingCapacity: true)
        if word.allSatisfy({ $0.isASCII }) {
            for s in word {
                let v = s.value
                out.append((0x41 ... 0x5A).contains(v) ? Unicode.Scalar(v + 32)! : s)
            }
            return
        }
        var lowered = String.UnicodeScalarView()
        for s in word {
            if s.isASCII {
                let v = s.value
                lowered.append((0x41 ... 0x5A).contains(v) ? Unicode.Scalar(v + 32)! : s)
            } else {
                lowered.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        for s in String(lowered).decomposedStringWithCanonicalMapping.unicodeScalars
        where s.properties.generalCategory != .nonspacingMark {
            out.append(s)
        }
    }
}

/// The vocabulary as an open-addressing hash table over exact code point sequences, in two
/// halves: word-initial tokens and `##` continuations (stored without the `##`). Lookups take
/// a slice of code points and allocate nothing.
struct VocabularyTable: Sendable {
    private var scalars: [UInt32] = []
    /// Per slot: (start in `scalars`, length, id, continuation flag); id -1 = empty.
    private var slots: [(start: Int32, length: Int32, id: Int32, continuation: Bool)]
    private let mask: Int
    /// The longest token in code points (continuations without their `##`).
    let longestToken: Int

    init(_ vocabulary: [String]) {
        var capacity = 1
        while capacity < vocabulary.count * 2 { capacity <<= 1 }
        slots = Array(repeating: (0, 0, -1, false), count: capacity)
        mask = capacity - 1
        let entries = vocabulary.map { token -> (code: [UInt32], continuation: Bool) in
            let code = token.unicodeScalars.map(\.value)
            if code.count > 2, code[0] == 0x23, code[1] == 0x23 { return (Array(code.dropFirst(2)), true) }
            return (code, false)
        }
        longestToken = entries.map(\.code.count).max() ?? 1
        for (id, entry) in entries.enumerated() {
            insert(entry.code, continuation: entry.continuation, id: id)
        }
    }

    private mutating func insert(_ code: [UInt32], continuation: Bool, id: Int) {
        var slot = Self.hash(code[...], continuation: continuation) & mask
        while slots[slot].id >= 0 {
            if matches(slot, code[...], continuation: continuation) {
                slots[slot].id = Int32(id)   // a duplicate keeps its last id
                return
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = (Int32(scalars.count), Int32(code.count), Int32(id), continuation)
        scalars.append(contentsOf: code)
    }

    func lookup(_ code: ArraySlice<UInt32>, continuation: Bool) -> Int? {
        var slot = Self.hash(code, continuation: continuation) & mask
        while slots[slot].id >= 0 {
            if matches(slot, code, continuation: continuation) { return Int(slots[slot].id) }
            slot = (slot + 1) & mask
        }
        return nil
    }

    @inline(__always) private func matches(_ slot: Int, _ code: ArraySlice<UInt32>, continuation: Bool) -> Bool {
        let entry = slots[slot]
        guard entry.continuation == continuation, Int(entry.length) == code.count else { return false }
        var i = Int(entry.start)
        for value in code {
            if scalars[i] != value { return false }
            i += 1
        }
        return true
    }

    /// FNV-1a over the code points, then a final mix.
    @inline(__always) private static func hash(_ code: ArraySlice<UInt32>, continuation: Bool) -> Int {
        var h: UInt64 = continuation ? 0x9E37_79B9_7F4A_7C15 : FNV1a.offsetBasis
        for value in code {
            h = (h ^ UInt64(value)) &* FNV1a.prime
        }
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return Int(truncatingIfNeeded: h)
    }
}
