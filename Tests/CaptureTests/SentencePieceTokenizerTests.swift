import Capture
import Foundation
import Support
import Testing

/// The e5 tower's SentencePiece tokenizer (docs/model.md §2.1): e5.c's ids on every SampleData
/// caption, on hostile texts and on 100,000-character texts (Fixtures/e5_reference.json, written
/// by tools/reference/e5_reference.py from e5.c itself); the rows, mask, padding and truncation
/// of `encode`; damaged tokenizer.bin files; speed.
@Suite struct SentencePieceTokenizerTests {
    // MARK: Shared tokenizer and fixture

    struct TokenizerMissing: Error, CustomStringConvertible {
        let description: String
    }

    /// Weights/e5-small/tokenizer.bin, fetched with the other weights when the folder is missing.
    static func tokenizerPath() throws -> String {
        let path = joinPath(try TestWeights.folder().path, "e5-small/tokenizer.bin")
        guard RegularFile.exists(path) else {
            throw TokenizerMissing(description: "\(path) is missing: fetch and convert the e5 tower with "
                + "make weights (or scripts/fetch-weights.sh)")
        }
        return path
    }

    static let shared: Result<SentencePieceTokenizer, any Error> = Result {
        try SentencePieceTokenizer(path: try tokenizerPath())
    }

    static func tokenizer() throws -> SentencePieceTokenizer { try shared.get() }

    struct Fixture: Decodable, Sendable {
        struct Caption: Decodable, Sendable {
            let text: String
            let query: [Int]
            let raw: [Int]
        }

        struct Hostile: Decodable, Sendable {
            let name: String
            let text: String?
            let bytes_hex: String?
            let query: [Int]
            let raw: [Int]
        }

        struct Digest: Decodable, Sendable {
            let count: Int
            let first: [Int]
            let last: [Int]
            let sha256: String
        }

        struct Long: Decodable, Sendable {
            let name: String
            let `repeat`: String
            let chars: Int
            let query: Digest
            let raw: Digest
        }

        let sources: [String: String]
        let special_ids: [String: Int]
        let captions: [Caption]
        let hostile: [Hostile]
        let long: [Long]
    }

    static let sharedFixture: Result<Fixture, any Error> = Result {
        let data = try Data(contentsOf: URL(fileURLWithPath: TestWeights.fixture("e5_reference.json")))
        return try JSONDecoder().decode(Fixture.self, from: data)
    }

    static func fixture() throws -> Fixture { try sharedFixture.get() }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        func value(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10 }
        return stride(from: 0, to: digits.count - 1, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
    }

    /// A long fixture text: `unit` cycled code point by code point to `count` code points.
    static func cycled(_ unit: String, count: Int) -> String {
        let scalars = Array(unit.unicodeScalars)
        var view = String.UnicodeScalarView()
        for i in 0 ..< count { view.append(scalars[i % scalars.count]) }
        return String(view)
    }

    /// The fixture's digest of an id sequence: SHA-256 of the ids in decimal joined by commas.
    static func digest(_ ids: [Int]) -> String {
        SHA256.hex(Array(ids.map(String.init).joined(separator: ",").utf8))
    }

    // MARK: The file and its special pieces

    @Test func specialPiecesRowsAndPrefixes() throws {
        let t = try Self.tokenizer()
        let fixture = try Self.fixture()
        #expect(t.pieceCount == 250_002 && t.rowCount == 139_096 && t.maxPieceBytes == 48)
        #expect(t.unknownID == 3 && t.beginID == 0 && t.endID == 2 && t.padID == 1 && t.maskID == 250_001)
        #expect(fixture.special_ids == ["unk": t.unknownID, "bos": t.beginID, "eos": t.endID, "pad": t.padID, "mask": t.maskID])
        #expect(t.queryPrefix == "query: " && t.passagePrefix == "passage: ")
        #expect(t.piece(0) == "<s>" && t.piece(1) == "<pad>" && t.piece(2) == "</s>" && t.piece(3) == "<unk>")
        #expect(t.piece(250_001) == "<mask>")
        #expect(t.unknownScore < -30.36 && t.unknownScore > -30.37)
        // The fixture was written from this very file.
        let path = try Self.tokenizerPath()
        let file = try #require(try RegularFile.read(path, limit: 64 << 20))
        #expect(SHA256.hex(file) == fixture.sources["tokenizer_bin_sha256"],
                "\(path) is not the tokenizer.bin the fixture was written from; run make weights")
        // Every piece has a row of the pruned table; the specials keep rows of their own.
        var maxRow = 0
        for id in 0 ..< t.pieceCount {
            let row = t.row(ofPiece: id)
            #expect(row >= 0 && row < t.rowCount)
            maxRow = max(maxRow, row)
        }
        #expect(maxRow == t.rowCount - 1)
        let specialRows = [t.padRow, t.beginRow, t.endRow, t.maskRow, t.unknownRow]
        #expect(Set(specialRows).count == 5)
        #expect(t.padRow == t.row(ofPiece: t.padID) && t.unknownRow == t.row(ofPiece: t.unknownID))
        #expect(t.maskRow == t.row(ofPiece: t.maskID) && t.beginRow == t.row(ofPiece: 0) && t.endRow == t.row(ofPiece: 2))
    }

    /// Every piece is found by its own text (the hash table holds all 250,001 matchable pieces),
    /// and `<unk>` is never matched as text.
    @Test func everyPieceIsFoundByItsText() throws {
        let t = try Self.tokenizer()
        var missing: [Int] = []
        for id in 0 ..< t.pieceCount where id != t.unknownID {
            if t.id(ofPiece: t.piece(id)) != id { missing.append(id) }
        }
        #expect(missing.isEmpty, "pieces not found by their text: \(missing.prefix(10))")
        #expect(t.id(ofPiece: "<unk>") == nil && t.id(ofPiece: "") == nil)
        #expect(t.id(ofPiece: "▁face") != nil && t.id(ofPiece: "▁nosuchpiecexyz") == nil)
    }

    // MARK: e5.c's ids

    @Test func everySampleDataCaptionMatchesE5C() throws {
        let t = try Self.tokenizer()
        let fixture = try Self.fixture()
        #expect(fixture.captions.count >= 2_000)
        var mismatches: [String] = []
        for caption in fixture.captions {
            let query = t.pieceIDs(caption.text, prefix: .query)
            let raw = t.pieceIDs(caption.text, prefix: .none)
            if query != caption.query || raw != caption.raw {
                mismatches.append("\(caption.text.debugDescription)\n  e5.c  \(caption.query)\n  Swift \(query)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(fixture.captions.count) captions differ:\n\(mismatches.prefix(5).joined(separator: "\n"))")
        // SampleData's titles have no character without a piece.
        let unknown = fixture.captions.reduce(0) { $0 + $1.query.filter { $0 == t.unknownID }.count }
        #expect(unknown == 0)
    }

    /// The passage prefix is the file's "passage: " in front of the text.
    @Test func prefixesAreTheFilesText() throws {
        let t = try Self.tokenizer()
        for caption in try Self.fixture().captions.prefix(200) {
            #expect(t.pieceIDs(caption.text, prefix: .passage) == t.pieceIDs("passage: " + caption.text, prefix: .none))
            #expect(t.pieceIDs(caption.text, prefix: .query) == t.pieceIDs("query: " + caption.text, prefix: .none))
        }
    }

    @Test func hostileTextsMatchE5C() throws {
        let t = try Self.tokenizer()
        let fixture = try Self.fixture()
        #expect(fixture.hostile.count >= 25)
        #expect(fixture.hostile.filter { $0.bytes_hex != nil }.count >= 5)
        for entry in fixture.hostile {
            let query: [Int], raw: [Int]
            if let text = entry.text {
                query = t.pieceIDs(text, prefix: .query)
                raw = t.pieceIDs(text, prefix: .none)
                // The String and byte entry points agree on valid UTF-8.
                #expect(t.pieceIDs(bytes: Array(text.utf8), prefix: .query) == query, "\(entry.name)")
            } else {
                let bytes = Self.bytes(hex: try #require(entry.bytes_hex, "\(entry.name) has neither text nor bytes"))
                query = t.pieceIDs(bytes: bytes, prefix: .query)
                raw = t.pieceIDs(bytes: bytes, prefix: .none)
            }
            #expect(query == entry.query, "\(entry.name): e5.c \(entry.query), Swift \(query)")
            #expect(raw == entry.raw, "\(entry.name): e5.c \(entry.raw), Swift \(raw)")
        }
    }

    @Test func hundredThousandCharacterTextsMatchE5C() throws {
        let t = try Self.tokenizer()
        let fixture = try Self.fixture()
        #expect(fixture.long.count >= 2)
        for entry in fixture.long {
            let text = Self.cycled(entry.repeat, count: entry.chars)
            for (prefix, expected) in [(SentencePieceTokenizer.Prefix.query, entry.query), (.none, entry.raw)] {
                let ids = t.pieceIDs(text, prefix: prefix)
                #expect(ids.count == expected.count, "\(entry.name) \(prefix)")
                #expect(Array(ids.prefix(64)) == expected.first, "\(entry.name) \(prefix)")
                #expect(Array(ids.suffix(64)) == expected.last, "\(entry.name) \(prefix)")
                #expect(Self.digest(ids) == expected.sha256, "\(entry.name) \(prefix)")
            }
        }
    }

    // MARK: The algorithm's corners, on the real vocabulary

    @Test func algorithmCorners() throws {
        let t = try Self.tokenizer()
        let mark = try #require(t.id(ofPiece: "▁"))
        // An empty text, and one of spaces only, is a lone boundary mark.
        #expect(t.pieceIDs("", prefix: .none) == [0, mark, 2])
        #expect(t.pieceIDs(" \t\n\u{3000} ", prefix: .none) == [0, mark, 2])
        #expect(t.pieceIDs(bytes: [], prefix: .none) == [0, mark, 2])
        // The bytes end at the first NUL.
        #expect(t.pieceIDs("face\u{0}cream", prefix: .query) == t.pieceIDs("face", prefix: .query))
        // Runs of spaces (after normalisation) become one; U+2581 in the text is a space.
        #expect(t.pieceIDs("face \t\u{A0} cream", prefix: .none) == t.pieceIDs("face cream", prefix: .none))
        #expect(t.pieceIDs("face\u{2581}cream", prefix: .none) == t.pieceIDs("face cream", prefix: .none))
        // Fullwidth forms fold to ASCII.
        #expect(t.pieceIDs("ＳＫ－ＩＩ", prefix: .none) == t.pieceIDs("SK-II", prefix: .none))
        // Literal specials are matched as pieces.
        #expect(t.pieceIDs("<s>", prefix: .none) == [0, mark, 0, 2])
        #expect(t.pieceIDs("<mask>", prefix: .none).contains(t.maskID))
        // A character no piece holds is one <unk> each, not merged (U+FDD0 and U+FFFF, which
        // Swift's string literals refuse).
        let unknown = t.pieceIDs(bytes: [0xEF, 0xB7, 0x90, 0xEF, 0xBF, 0xBF], prefix: .none)
        #expect(unknown.filter { $0 == t.unknownID }.count == 2)
        // Lax decoding: C3 41 is one code point (U+00C1, the 'A' is swallowed); a lone lead byte
        // at the end is the code point of its value.
        #expect(t.pieceIDs(bytes: [0xC3, 0x41], prefix: .none) == t.pieceIDs("\u{C1}", prefix: .none))
        #expect(t.pieceIDs(bytes: [0xC3], prefix: .none) == t.pieceIDs("\u{C3}", prefix: .none))
        // Pieces are whole: joining them gives back the normalised text.
        let ids = t.pieceIDs("Lumessa 精华露 50ml", prefix: .query)
        #expect(ids.dropFirst().dropLast().map { t.piece($0) }.joined() == "▁query:▁Lumessa▁精华露▁50ml")
    }

    // MARK: The algorithm's rules, on a tiny file whose scores make ties exact

    /// A tokenizer.bin written here: `<s>`, `<pad>`, `</s>`, `<unk>`, `pieces`, `<mask>`.
    static func tinyFile(_ pieces: [(String, Float)], unknownScore: Float,
                         normalisation: [(UInt32, [UInt32])]) -> [UInt8] {
        let all: [(String, Float, UInt8)] = [("<s>", 0, 2), ("<pad>", 0, 2), ("</s>", 0, 2), ("<unk>", 0, 1)]
            + pieces.map { ($0.0, $0.1, 0) } + [("<mask>", 0, 3)]
        var out: [UInt8] = Array("VSPM".utf8)
        func u32(_ v: UInt32) { for k in 0 ..< 4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * k))) } }
        func u16(_ v: Int) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8)) }
        u32(1)
        u32(UInt32(all.count))
        for id in [3, 0, 2, 1, all.count - 1] { u32(UInt32(id)) }
        u32(unknownScore.bitPattern)
        for (text, score, kind) in all {
            u32(score.bitPattern)
            out.append(kind)
            u16(text.utf8.count)
            out += Array(text.utf8)
        }
        u32(UInt32(normalisation.count))
        for (cp, replacement) in normalisation {
            u32(cp)
            out.append(UInt8(replacement.count))
            replacement.forEach { u32($0) }
        }
        u32(4)                                               // rows
        for id in 0 ..< all.count { u32(UInt32(id % 4)) }
        u32(UInt32(all.map(\.0.utf8.count).max()!))
        u32(0x2581)
        for prefix in ["query: ", "passage: "] {
            u16(prefix.utf8.count)
            out += Array(prefix.utf8)
        }
        return out
    }

    /// Ties go to the smallest start (the longest last piece) and to a piece before `<unk>`;
    /// normalisation is applied once; specials written in the text match; every uncovered
    /// character is its own `<unk>`. (Expected ids checked with tools/reference/e5_reference.py's
    /// tokenizer on the same file.)
    @Test func tiesNormalisationAndUnknownsOnATinyFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // ids: 4 ▁, 5 a, 6 ▁a, 7 b, 8 y, 9 z, 10 aa, 11 abcd, 12 <mask>
        let file = Self.tinyFile([("▁", -1), ("a", -2), ("▁a", -3), ("b", -10), ("y", -1), ("z", -1), ("aa", -4), ("abcd", -1)],
                                 unknownScore: -10,
                                 normalisation: [(0x09, [0x20]), (0x71, []), (0x77, [0x61, 0x61]), (0x78, [0x79]), (0x79, [0x7A])])
        let t = try SentencePieceTokenizer(path: try folder.write(file, to: "tiny.bin"))
        #expect(t.pieceCount == 13 && t.rowCount == 4 && t.maskID == 12 && t.maxPieceBytes == 6)
        let cases: [(String, [Int])] = [
            ("a", [0, 6, 2]),              // ▁a (-3) ties ▁ + a (-3): the longest last piece wins
            ("qw", [0, 4, 10, 2]),         // q deleted, w -> aa; ▁ + aa ties ▁a + a and ▁ + a + a
            ("aaa", [0, 6, 10, 2]),
            ("b", [0, 4, 7, 2]),           // b (-10) ties an unknown character (-10): the piece wins
            ("c", [0, 4, 3, 2]),
            ("cc", [0, 4, 3, 3, 2]),       // one <unk> a character
            ("x", [0, 4, 8, 2]),           // x -> y, not on to z
            ("y", [0, 4, 9, 2]),
            ("<s>", [0, 4, 0, 2]),
            ("<mask>b", [0, 4, 12, 7, 2]),
            ("abcd", [0, 4, 11, 2]),       // found although neither ab nor abc is a piece
            ("abc", [0, 6, 7, 3, 2]),
            (" a\t\ta ", [0, 6, 6, 4, 2]),  // a leading space is the boundary mark; a trailing one stays
            ("", [0, 4, 2]),
        ]
        for (text, expected) in cases {
            #expect(t.pieceIDs(text, prefix: .none) == expected, "\(text.debugDescription)")
        }
        #expect(t.encode("a", prefix: .none, maxLength: 5).ids == [0, 2, 2, 1, 1])   // rows are id % 4
    }

    // MARK: encode

    @Test func encodeGivesRowsMaskPaddingAndTruncation() throws {
        let t = try Self.tokenizer()
        let caption = "露美莎Lumessa 旅行套装 精华露+乳+面膜+身体乳+眼霜 面部护理"
        let full = t.pieceIDs(caption, prefix: .query)
        let n = full.count
        #expect(n > 12)
        // ids are rows, not piece ids (they differ for most pieces).
        let padded = t.encode(caption, prefix: .query, maxLength: n + 5)
        #expect(padded.ids == full.map { t.row(ofPiece: $0) } + Array(repeating: t.padRow, count: 5))
        #expect(padded.ids != full + Array(repeating: t.padID, count: 5))
        #expect(padded.attentionMask == Array(repeating: 1, count: n) + Array(repeating: 0, count: 5))
        #expect(padded.tokens == full.map { t.piece($0) } && padded.length == n && !padded.truncated)
        #expect(padded.tokens.first == "<s>" && padded.tokens.last == "</s>")

        let exact = t.encode(caption, prefix: .query, maxLength: n)
        #expect(exact.ids == full.map { t.row(ofPiece: $0) } && !exact.truncated)

        // Truncation keeps the first maxLength - 2 pieces, then </s>.
        for limit in [2, 3, 8, n - 1] {
            let cut = t.encode(caption, prefix: .query, maxLength: limit)
            let kept = Array(full[1 ..< limit - 1])
            #expect(cut.ids == [t.beginRow] + kept.map { t.row(ofPiece: $0) } + [t.endRow], "limit \(limit)")
            #expect(cut.tokens == ["<s>"] + kept.map { t.piece($0) } + ["</s>"])
            #expect(cut.truncated && cut.attentionMask == Array(repeating: 1, count: limit))
        }

        let unpadded = t.encode(caption, prefix: .query, maxLength: 512, pad: false)
        #expect(unpadded.ids.count == n && unpadded.attentionMask.allSatisfy { $0 == 1 })
        #expect(t.encode(bytes: Array(caption.utf8), prefix: .query, maxLength: 40) == t.encode(caption, prefix: .query, maxLength: 40))

        // A piece of a pruned script keeps its id but gets the <unk> row.
        let cyrillic = t.pieceIDs("Крем для лица", prefix: .none)
        let pruned = cyrillic.dropFirst().dropLast().filter { $0 != t.unknownID && t.row(ofPiece: $0) == t.unknownRow }
        #expect(!pruned.isEmpty)
        let encoded = t.encode("Крем для лица", prefix: .none, maxLength: 16)
        #expect(encoded.ids.prefix(cyrillic.count) == ArraySlice(cyrillic.map { t.row(ofPiece: $0) }))
    }

    // MARK: Hostile input

    @Test func randomBytesNeverCrash() throws {
        let t = try Self.tokenizer()
        var rng = SafetensorsTestRandom(seed: 11)
        for round in 0 ..< 400 {
            let count = Int(rng.next() % 300)
            var bytes = (0 ..< count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if round % 2 == 0 { bytes = bytes.map { $0 == 0 ? 0x80 : $0 } }   // no early NUL
            let ids = t.pieceIDs(bytes: bytes, prefix: .query)
            #expect(ids.first == t.beginID && ids.last == t.endID && ids.count >= 3)
            #expect(ids.allSatisfy { $0 >= 0 && $0 < t.pieceCount })
            let encoded = t.encode(bytes: bytes, prefix: .passage, maxLength: 24)
            #expect(encoded.ids.count == 24 && encoded.ids.allSatisfy { $0 >= 0 && $0 < t.rowCount })
        }
    }

    @Test func concurrentUseGivesTheSameIDs() async throws {
        let t = try Self.tokenizer()
        let captions = Array(try Self.fixture().captions.prefix(400))
        let expected = captions.map { $0.query }
        let results = await withTaskGroup(of: [[Int]].self) { group in
            for _ in 0 ..< 4 {
                group.addTask { captions.map { t.pieceIDs($0.text, prefix: .query) } }
            }
            var all: [[[Int]]] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 4 && results.allSatisfy { $0 == expected })
    }

    // MARK: Speed (generous bounds; release builds load in about 20 ms and tokenise a title in
    // a few microseconds)

    @Test func loadingAndTokenisingAreFast() throws {
        let path = try Self.tokenizerPath()
        let clock = ContinuousClock()
        var fastestLoad = Duration.seconds(1_000)
        for _ in 0 ..< 3 {
            fastestLoad = min(fastestLoad, try clock.measure { _ = try SentencePieceTokenizer(path: path) })
        }
        #expect(fastestLoad < .seconds(1), "loading tokenizer.bin took \(fastestLoad)")

        let t = try Self.tokenizer()
        let captions = try Self.fixture().captions.map(\.text)
        var tokens = 0
        let titles = clock.measure {
            for caption in captions { tokens += t.encode(caption, prefix: .query, maxLength: 64).length }
        }
        #expect(tokens > 20 * captions.count)
        #expect(titles < .seconds(2), "tokenising \(captions.count) titles took \(titles)")

        // 100,000 characters: a mixed title, and the texts with the most candidates a character.
        for unit in ["香港直邮韩国AHC黄金水乳霜套盒 Lumessa 精华露+乳液 50ml×2 【正品】 ", "…", "=", "a", "衣"] {
            let text = Self.cycled(unit, count: 100_000)
            var encoded: TokenizedText?
            let time = clock.measure { encoded = t.encode(text, prefix: .query, maxLength: 64) }
            #expect(encoded?.ids.count == 64)
            #expect(time < .seconds(1), "a 100,000-character caption of \(unit.debugDescription) took \(time)")
        }
    }

    // MARK: Damaged files

    /// Where tokenizer.bin's fields are (docs/model.md §2.1), found by walking the file.
    struct Layout {
        var bytes: [UInt8]
        var pieceCount = 0
        var pieces: [Int] = []         // offset of each piece's record (its score)
        var normCount = 0              // offset of the normalisation count
        var normEntries: [Int] = []    // offset of each normalisation entry
        var rowCount = 0               // offset of the row count; the rows follow
        var longest = 0                // offset of maxPieceBytes
        var metaspace = 0
        var queryPrefix = 0            // offset of its u16 length

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            pieceCount = Int(u32(at: 8))
            var at = 36
            for _ in 0 ..< pieceCount {
                pieces.append(at)
                at += 7 + Int(u16(at: at + 5))
            }
            normCount = at
            let entries = Int(u32(at: at))
            at += 4
            for _ in 0 ..< entries {
                normEntries.append(at)
                at += 5 + 4 * Int(bytes[at + 4])
            }
            rowCount = at
            at += 4 + 4 * pieceCount
            longest = at
            metaspace = at + 4
            queryPrefix = at + 8
        }

        func u16(at offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
        func u32(at offset: Int) -> UInt32 { (0 ..< 4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) } }

        func with(u32 value: UInt32, at offset: Int) -> [UInt8] {
            var copy = bytes
            for k in 0 ..< 4 { copy[offset + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
            return copy
        }

        func with(u16 value: UInt16, at offset: Int) -> [UInt8] {
            var copy = bytes
            copy[offset] = UInt8(truncatingIfNeeded: value)
            copy[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
            return copy
        }

        func with(byte value: UInt8, at offset: Int) -> [UInt8] {
            var copy = bytes
            copy[offset] = value
            return copy
        }

        func pieceText(_ id: Int) -> [UInt8] {
            let at = pieces[id]
            return Array(bytes[at + 7 ..< at + 7 + Int(u16(at: at + 5))])
        }
    }

    @Test func damagedFilesAreRefusedWithTheReason() throws {
        let good = try #require(try RegularFile.read(try Self.tokenizerPath(), limit: 64 << 20))
        let layout = Layout(good)
        #expect(layout.pieceCount == 250_002 && layout.queryPrefix + 2 + 7 + 2 + 9 == good.count)
        let folder = try TemporaryFolder()
        defer { folder.remove() }

        // An unchanged copy loads and tokenises as the original.
        let copy = try folder.write(good, to: "copy.bin")
        let reference = try Self.tokenizer()
        #expect(try SentencePieceTokenizer(path: copy).pieceIDs("面霜 face cream", prefix: .query)
            == reference.pieceIDs("面霜 face cream", prefix: .query))

        // Two pieces of the same length, to make one a copy of the other.
        let a = 1_000
        let b = try #require((a + 1 ..< 2_000).first { layout.pieceText($0).count == layout.pieceText(a).count })
        var duplicate = good
        duplicate.replaceSubrange(layout.pieces[b] + 7 ..< layout.pieces[b] + 7 + layout.pieceText(b).count,
                                  with: layout.pieceText(a))

        let row0 = layout.rowCount + 4
        // (Past 2 MB: a shorter file is refused at once, as too short for 250,002 pieces.)
        let longPiece = try #require((200_077 ..< 201_000).first { layout.pieceText($0).count >= 2 })
        let replaced = try #require(layout.normEntries.first { good[$0 + 4] > 0 })
        let cases: [(name: String, bytes: [UInt8], says: String)] = [
            ("empty", [], "does not start with VSPM"),
            ("bad magic", layout.with(byte: 0x58, at: 0), "does not start with VSPM"),
            ("version 2", layout.with(u32: 2, at: 4), "version 2"),
            ("2^31 pieces", layout.with(u32: 1 << 31, at: 8), "declares 2147483648 pieces"),
            ("more pieces than bytes", layout.with(u32: 900_000, at: 8), "900000 pieces but only"),
            ("special id out of range", layout.with(u32: 250_002, at: 12 + 16), "the id of <mask>, 250002"),
            ("NaN unknown score", layout.with(u32: 0x7FC0_0000, at: 32), "the unknown score is nan"),
            ("truncated in the pieces", Array(good.prefix(layout.pieces[200_000] + 3)), "it ends inside piece 200000 of 250002"),
            ("piece bytes past the end", Array(good.prefix(layout.pieces[longPiece] + 8)),
             "piece \(longPiece)'s \(layout.pieceText(longPiece).count) bytes run past the end"),
            ("unknown kind of piece", layout.with(byte: 9, at: layout.pieces[500] + 4), "piece 500 is of kind 9"),
            ("a second <unk>", layout.with(byte: 1, at: layout.pieces[500] + 4), "2 pieces are of the unknown kind"),
            ("NaN score", layout.with(u32: 0xFFC0_0000, at: layout.pieces[42]), "piece 42's score is"),
            ("an empty piece", layout.with(u16: 0, at: layout.pieces[6] + 5), "piece 6 is empty"),
            ("duplicate pieces", duplicate, "pieces \(a) and \(b) are the same text"),
            ("huge normalisation count", layout.with(u32: 0xFFFF_FFFF, at: layout.normCount), "4294967295 normalisation entries"),
            ("unsorted normalisation table",
             layout.with(u32: layout.u32(at: layout.normEntries[0]), at: layout.normEntries[1]), "not sorted"),
            ("replacement beyond U+10FFFF",
             layout.with(u32: 0x20_0000, at: replaced + 5), "gives 2097152, beyond U+10FFFF"),
            ("truncated in the normalisation table", Array(good.prefix(layout.normEntries[100] + 2)), "truncated"),
            ("no rows", layout.with(u32: 0, at: layout.rowCount), "declares 0 word-table rows"),
            ("2^31 rows", layout.with(u32: 1 << 31, at: layout.rowCount), "declares 2147483648 word-table rows"),
            ("row past the table", layout.with(u32: 139_096, at: row0 + 4 * 9), "piece 9 has row 139096, outside 0..<139096"),
            ("negative row", layout.with(u32: 0xFFFF_FFFF, at: row0 + 4 * 250_001), "piece 250001 has row -1"),
            ("truncated in the rows", Array(good.prefix(row0 + 1_000)), "row map"),
            ("wrong longest piece", layout.with(u32: 47, at: layout.longest), "longest piece has 47 bytes, but it has 48"),
            ("space as boundary mark", layout.with(u32: 0x20, at: layout.metaspace), "word-boundary mark"),
            ("prefix not UTF-8", layout.with(byte: 0xFF, at: layout.queryPrefix + 2), "query prefix is not valid UTF-8"),
            ("last byte missing", Array(good.dropLast()), "truncated"),
            ("a byte too many", good + [0], "1 bytes follow the last field"),
        ]
        for (k, test) in cases.enumerated() {
            let path = try folder.write(test.bytes, to: "case\(k).bin")
            do {
                _ = try SentencePieceTokenizer(path: path)
                Issue.record("\(test.name): accepted")
            } catch {
                #expect(error.description.contains(path), "\(test.name): \(error)")
                #expect(error.description.contains(test.says), "\(test.name): \(error)")
                #expect(error.description.contains("make weights"), "\(test.name): \(error)")
            }
            try? FileManager.default.removeItem(atPath: path)
        }

        // A missing file and a folder are refused with the path and the command too.
        for path in [folder.file("missing.bin"), folder.path] {
            do {
                _ = try SentencePieceTokenizer(path: path)
                Issue.record("\(path) was accepted")
            } catch {
                #expect(error.description.contains(path) && error.description.contains("make weights"), "\(error)")
            }
        }
    }
}
