import Catalog
import Explorer
import Testing

/// `:` then an id: the sample in any split, selected in the browser.
@Suite struct GoToTests {
    static func goTo(_ s: inout ExplorerState, _ id: String) {
        Fixture.settle(&s, Fixture.key(&s, .char(":")))
        Fixture.type(&s, id)
        Fixture.settle(&s, Fixture.key(&s, .enter))
    }

    @Test func findsASampleInAnotherSplit() {
        var s = Fixture.state()
        #expect(s.split?.name == "gallery")
        Self.goTo(&s, "200002")
        #expect(s.gotoText == nil && s.context == .browser)
        #expect(s.split?.name == "dev")
        #expect(s.selectedSample?.id == "200002")
        #expect(s.status?.text == "200002: dev, line 2")
    }

    @Test func thePromptShowsWhatIsTypedAndTheKeys() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char(":"))
        Fixture.type(&s, "1000")
        #expect(s.gotoText == "1000" && s.context == .goto)
        let footer = Snapshot.render(view(s)).components(separatedBy: "\n")[24]
        #expect(footer.contains("go to id: 1000"), "\(footer)")
        #expect(footer.contains("⏎ go · esc cancel"), "\(footer)")
        _ = Fixture.key(&s, .backspace)
        #expect(s.gotoText == "100")
        _ = Fixture.key(&s, .escape)
        #expect(s.gotoText == nil && s.split?.name == "gallery" && s.status == nil)
    }

    @Test func aFilterThatHidesTheSampleIsCleared() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "Aurelle")
        _ = Fixture.key(&s, .enter)
        #expect(s.browser.visible.count < 20)
        Self.goTo(&s, "100013")
        #expect(s.filter.isEmpty)
        #expect(s.selectedSample?.id == "100013")
        #expect(s.status?.text.contains("the filter was cleared") == true)
        // One the filter shows keeps the filter.
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "Brisane")
        _ = Fixture.key(&s, .enter)
        let shown = s.browser.visible.map { s.split!.samples[$0].id }
        Self.goTo(&s, shown[2])
        #expect(s.filter == "Brisane" && s.selectedSample?.id == shown[2])
    }

    @Test func anUnknownOrHostileIdSaysSoAndStays() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char("j"))
        let before = s.selectedSample?.id
        Self.goTo(&s, "nope\u{1B}[31m")
        #expect(s.split?.name == "gallery" && s.selectedSample?.id == before)
        #expect(s.status?.role == .warning)
        #expect(s.status?.text.contains("No sample has the id") == true)
        let screen = Snapshot.render(view(s))
        #expect(!screen.contains("\u{1B}"), "escape bytes reach the screen")
        #expect(screen.contains("No sample has the id"))
    }
}
