import Foundation
import SafeText
import Testing

@Suite struct SafeTextTests {
    /// Every control character (C0, DEL, C1) and the JavaScript line breaks come out escaped,
    /// and the literal parses back to the very text.
    @Test func jsonQuotedEscapesEveryControlAndRoundTrips() throws {
        var text = "quote \" backslash \\ 商品 é 🧴 "
        for v in Array(0..<0x20) + Array(0x7F...0x9F) + [0x2028, 0x2029] { text.unicodeScalars.append(Unicode.Scalar(v)!) }
        let quoted = SafeText.jsonQuoted(text)
        #expect(!quoted.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\u{2028}" || $0 == "\u{2029}" })
        #expect(quoted.contains("\\u009b") && quoted.contains("\\u007f") && quoted.contains("\\u2028") && quoted.contains("\\n"))
        #expect(quoted.contains("商品 é 🧴"))
        let decoded = try JSONDecoder().decode(String.self, from: Data(quoted.utf8))
        #expect(decoded == text)
    }

    @Test func encodedJSONGetsTheControlsJSONEncoderLeaves() throws {
        let text = "name\u{9B}2J\u{7F}\u{2028}商品 \u{1B}"
        let encoded = String(decoding: try JSONEncoder().encode(["dataset": text]), as: UTF8.self)
        let safe = SafeText.escapingControls(inJSON: encoded)
        #expect(!safe.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0 == "\u{2028}" })
        #expect(try JSONDecoder().decode([String: String].self, from: Data(safe.utf8)) == ["dataset": text])
        #expect(SafeText.escapingControls(inJSON: #"{"a":"b"}"#) == #"{"a":"b"}"#)
    }

    @Test func terminalShowsControlsAsEscapes() {
        #expect(SafeText.terminal("a\u{1B}[31mred\u{9B}2J\tb\nc\u{7F}") == "a\\u{1b}[31mred\\u{9b}2J\\tb\\nc\\u{7f}")
        #expect(SafeText.terminal("商品 é") == "商品 é")
    }

    @Test func terminalLinesKeepsLineEndsOnly() {
        #expect(SafeText.terminalLines("a\u{1B}[31m\r\nb\rc\n") == "a\\u{1b}[31m\\r\nb\\rc\n")
        #expect(SafeText.terminalLines("a\u{1B}[31m\r\nb\rc\n", keepingCRLF: true) == "a\\u{1b}[31m\r\nb\\rc\n")
        #expect(SafeText.terminalLines("\u{9B}2J\u{202E}x\n", keepingCRLF: true) == "\\u{9b}2J\\u{202e}x\n")
    }
}
