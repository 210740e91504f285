import Explorer
import Foundation
import Testing

/// The mouse in the key map, the help and the README; feedback for a key that does nothing;
/// and key names on screen taken from the user's key map.
@Suite struct KeysAndMouseTests {
    let driver = Driver()

    /// A fixture state (search ready, flags on) with a key map.
    func state(_ keyMap: KeyMap = KeyMap(), width: Int = 100, height: Int = 30) -> ExplorerState {
        var s = Driver.state(width: width, height: height)
        s.keyMap = keyMap
        return s
    }

    func footer(_ s: ExplorerState) -> String { view(s).textLines().last ?? "" }
    func screen(_ s: ExplorerState) -> String { view(s).textLines().joined(separator: "\n") }

    // MARK: An unbound key

    @Test func anUnboundKeySaysSoForAFewSeconds() {
        var s = state()
        let effects = update(&s, .input(.key(.char("Z"))))
        let serial = s.statusSerial
        #expect(effects == [.expireStatus(serial: serial, seconds: 3)])
        #expect(s.status?.text == "Z: no action here — ? for help")
        #expect(footer(s).contains("Z: no action here — ? for help"))
        // A later message is not cleared by an earlier timer; its own timer clears it.
        _ = update(&s, .input(.key(.function(7))))
        #expect(s.status?.text.hasPrefix("f7: no action here") == true)
        _ = update(&s, .statusExpired(serial: serial))
        #expect(s.status != nil)
        _ = update(&s, .statusExpired(serial: s.statusSerial))
        #expect(s.status == nil)
        #expect(!footer(s).contains("no action"))
        // A bound key clears the message at once.
        _ = update(&s, .input(.key(.char("Z"))))
        _ = update(&s, .input(.key(.char("j"))))
        #expect(s.status == nil)
    }

    @Test func theMessageNamesTheUsersHelpKeyAndEscapesTheKey() {
        var s = state(KeyMap(overrides: [.help: [.function(1)]]))
        _ = update(&s, .input(.key(.char("?"))))
        #expect(s.status?.text == "?: no action here — f1 for help")
        // A key that would not show is written as its code point; a space by its name.
        _ = update(&s, .input(.key(.char("\u{200B}"))))
        #expect(s.status?.text.hasPrefix("U+200B: no action here") == true)
        #expect(KeyName.quoted(.char("\u{202E}")) == "U+202E")
        #expect(KeyName.quoted(.char(" ")) == "space")
        #expect(KeyName.quoted(.char("é")) == "é")
        // Without a help key, the message does not invent one.
        var t = state(KeyMap(overrides: [.help: []]))
        _ = update(&t, .input(.key(.char("Z"))))
        #expect(t.status?.text == "Z: no action here")
    }

    @Test func typedTextIsNotAnUnboundKey() {
        var s = state()
        _ = update(&s, .input(.key(.char("/"))))
        _ = update(&s, .input(.key(.char("Z"))))
        #expect(s.filter == "Z" && s.status == nil)
        _ = update(&s, .input(.key(.function(5))))
        #expect(s.status?.text.hasPrefix("f5: no action here") == true)
    }

    // MARK: The mouse

    @Test func theMouseGoesThroughTheKeyMap() {
        var s = state(width: 80, height: 24)
        let layout = Layout(size: s.size)
        func mouse(_ b: MouseButton, y: Int = 5) { _ = update(&s, .input(.mouse(MouseEvent(x: 5, y: y, button: b)))) }
        mouse(.left, y: layout.listTop + 4)
        #expect(s.browser.selected == 4)
        mouse(.wheelDown)
        #expect(s.browser.selected == 7)
        mouse(.wheelUp)
        #expect(s.browser.selected == 4)
        // Rebound: the wheel moves one sample at a time (move.down comes first in the registry).
        s.keyMap = KeyMap(overrides: [.moveDown: [.down, .wheelDown]])
        mouse(.wheelDown)
        #expect(s.browser.selected == 5)
        // Unbound: the wheel does nothing.
        s.keyMap = KeyMap(overrides: [.wheelDown: []])
        mouse(.wheelDown)
        #expect(s.browser.selected == 5)
        s.keyMap = KeyMap()

        // The help: the wheel scrolls, a click closes.
        _ = update(&s, .input(.key(.char("?"))))
        mouse(.wheelDown)
        #expect(s.helpScroll == 3)
        mouse(.left, y: layout.listTop)
        #expect(s.helpScroll == nil)
        #expect(s.browser.selected == 5, "the click that closes the help selects nothing")

        // A filter being typed: the mouse still moves in the list beside it.
        _ = update(&s, .input(.key(.char("/"))))
        mouse(.left, y: layout.listTop + 2)
        #expect(s.browser.selected == 2 && s.editingFilter)
        _ = update(&s, .input(.key(.escape)))

        // A modal dialog takes no clicks.
        _ = update(&s, .input(.key(.char("t"))))
        #expect(s.training.dialog != nil)
        mouse(.left, y: layout.listTop + 6)
        mouse(.wheelDown)
        #expect(s.browser.selected == 2)
    }

    @Test func theMouseInTheResults() {
        var s = state()
        driver.search(&s, "aurelle")
        let layout = Layout(s)
        func mouse(_ b: MouseButton, y: Int = 5) { driver.run(&s, update(&s, .input(.mouse(MouseEvent(x: 5, y: y, button: b))))) }
        mouse(.wheelDown)
        #expect(s.retrieval.results.selected == 1)
        mouse(.left, y: layout.resultsTop + 3 * layout.resultRowHeight)
        #expect(s.retrieval.results.selected == 3)
        mouse(.wheelUp)
        #expect(s.retrieval.results.selected == 2)
    }

    @Test func helpKeysAndTheReadmeListTheMouse() {
        for name in ["click", "wheel-up", "wheel-down"] {
            let key = KeyName.parse(name)
            #expect(key != nil && KeyName.format(key!) == name)
        }
        let table = KeyMap().markdownTable()
        #expect(table.contains("| Dataset browser | `click` | Select the clicked sample | `move.click` |"))
        #expect(table.contains("`wheel-down`") && table.contains("| Search results | `click` |"))
        // The help overlay, scrolled to the end of the browser's keys (tall enough for the global keys,
        // the model picker's among them, and the start of the results').
        var s = state(width: 100, height: 78)
        _ = update(&s, .input(.key(.char("?"))))
        let help = screen(s)
        #expect(help.contains("click") && help.contains("Select the clicked sample"))
        #expect(help.contains("wheel-down") && help.contains("Move three samples down"))
        #expect(help.contains("Highlight the clicked match"))
    }

    // MARK: Key names on screen

    @Test func descriptionsNameTheUsersKeys() {
        for a in ActionRegistry.all {
            let text = KeyMap().describe(a)
            #expect(!text.contains("{") && !text.contains("}"), "\(a.id.rawValue): \(text)")
        }
        let defaults = KeyMap()
        #expect(defaults.describe(ActionRegistry.action(.startSearch)).hasSuffix("enter runs it"))
        #expect(defaults.describe(ActionRegistry.action(.searchWithSample)).hasSuffix("see m)"))
        let mine = KeyMap(overrides: [.queryAccept: [.ctrl("j")], .showResults: [], .cycleQueryMode: [.char("M")]])
        #expect(mine.describe(ActionRegistry.action(.startSearch)).hasSuffix("ctrl-j runs it"))
        #expect(mine.describe(ActionRegistry.action(.closeResults)).contains("((no key) there shows"))
        #expect(mine.markdownTable().contains("ctrl-j runs it"))
        // The help overlay.
        var s = state(mine, width: 120, height: 60)
        _ = update(&s, .input(.key(.char("?"))))
        let help = screen(s)
        #expect(help.contains("⏎ runs it") == false && help.contains("ctrl-j runs it"))
        #expect(!help.contains("see m)") && help.contains("M)"))
    }

    @Test func keyNamesOnScreenComeFromTheKeyMap() {
        let keys = KeyMap(overrides: [.flagWrong: [.char("X")], .flagConfirm: [.char("Y")], .flagUndo: [.char("U")],
                                      .quit: [.char("Q")], .filterAccept: [.ctrl("k")], .filterCancel: [.function(2)],
                                      .queryCancel: [.function(3)], .queryHistoryPrevious: [.ctrl("p")], .clearFilter: [.function(4)],
                                      .helpClose: [.function(9)], .searchWithSample: [.char("S")], .resultsSearch: [.char("R")],
                                      .nextAttentionToken: [.char("W")]])
        var s = state(keys)
        // The results' match pane, before and after a flag.
        s.retrieval.results.query = nil
        driver.key(&s, .char("r"))
        #expect(s.status?.text == "no search yet: s types a caption, S uses the selected sample")
        driver.search(&s, "aurelle gift box")
        let text = screen(s)
        #expect(text.contains("X flags it wrong · Y confirms it") && !text.contains("f flags"))
        driver.key(&s, .char("X"))
        #expect(s.status?.text.hasSuffix("(U undoes)") == true)
        #expect(screen(s).contains("flagged wrong · U undoes"))
        driver.key(&s, .char("a"))
        #expect(screen(s).contains("Query tokens (W: map of each)"))
        driver.key(&s, .escape)
        // The query bar's and the filter's hints.
        driver.key(&s, .char("s"))
        let bar = footer(s)
        #expect(bar.contains("⏎ search · ctrl-p/↓ history · f3 cancel"))
        driver.key(&s, .function(3))
        driver.key(&s, .char("/"))
        driver.type(&s, "zz")
        #expect(footer(s).contains("ctrl-k keep · f2 clear"))
        driver.key(&s, .ctrl("k"))
        #expect(screen(s).contains("f4 clears the filter"))
        // The help's own hint, and a terminal too small.
        driver.key(&s, .char("?"))
        #expect(screen(s).contains("f9 close"))
        driver.key(&s, .function(9))
        _ = update(&s, .input(.resize(width: 40, height: 10)))
        #expect(screen(s).contains("press Q to quit"))
    }
}
