import Catalog
import Explorer
import Imaging
import Testing

/// Frame snapshots of the explorer at fixed sizes and colour modes.
@Suite struct ExplorerViewTests {
    func settled(width: Int, height: Int, colorMode: ColorMode = .truecolor, unicode: Bool = true) -> ExplorerState {
        Fixture.state(width: width, height: height, colorMode: colorMode, unicode: unicode)
    }

    @Test func browser80x24() {
        Snapshot.check(view(settled(width: 80, height: 24)), "browser-80x24")
    }

    @Test func browser160x48() {
        Snapshot.check(view(settled(width: 160, height: 48)), "browser-160x48")
    }

    @Test func monochromeASCII80x24() {
        let s = settled(width: 80, height: 24, colorMode: .none, unicode: false)
        let frame = view(s)
        for line in frame.textLines() { #expect(line.unicodeScalars.allSatisfy { $0.isASCII }, "non-ASCII in \(line)") }
        Snapshot.check(frame, "browser-80x24-mono-ascii")
    }

    @Test func helpOverlay80x24() {
        var s = settled(width: 80, height: 24)
        _ = Fixture.key(&s, .char("?"))
        Snapshot.check(view(s), "help-80x24")
    }

    @Test func filterTyping80x24() {
        var s = settled(width: 80, height: 24)
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "面霜")
        let frame = view(s)
        #expect(frame.cursor != nil, "the filter shows a cursor")
        Snapshot.check(frame, "filter-80x24")
    }

    @Test func tooSmall() {
        let s = settled(width: 40, height: 10)
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("Terminal too small: 40x10"))
        Snapshot.check(view(s), "too-small-40x10")
    }

    @Test func hostileTextIsShownNotSent() {
        var s = settled(width: 100, height: 30)
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "evil")
        let frame = view(s)
        for cell in frame.cells {
            #expect(!cell.text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) },
                    "a control character reached a cell")
        }
        #expect(frame.textLines().joined().contains("␛[31mred"))
    }

    @Test func wideCharactersTakeTwoColumns() {
        var f = Frame(width: 10, height: 1)
        let used = f.put("面霜ab", x: 0, y: 0, style: CellStyle(.text))
        #expect(used == 6)
        #expect(f[1, 0].isContinuation && f[3, 0].isContinuation)
        // A wide character that does not fit is not split.
        var g = Frame(width: 3, height: 1)
        #expect(g.put("a面霜", x: 0, y: 0, style: CellStyle(.text)) == 3)
        #expect(g.textLines()[0] == "a面")
        #expect(g.put("xy", x: 2, y: 0, style: CellStyle(.text)) == 1)
        #expect(g.textLines()[0] == "a x", "overwriting half a wide character leaves a blank")
    }

    @Test func wrappingMeasuresDisplayWidth() {
        let lines = TextWrap.lines("Aurelle 水光面霜 正品 包邮 gift box authentic", width: 12)
        for l in lines { #expect(DisplayWidth.of(l) <= 12, "\(l) is too wide") }
        #expect(lines.joined(separator: " ").replacingOccurrences(of: " ", with: "") == "Aurelle水光面霜正品包邮giftboxauthentic")
    }
}
