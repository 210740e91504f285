import Catalog
import Explorer
import Imaging
import Testing

/// The pure update: moves, filter, splits, images, mouse, resize, key map.
@Suite struct ExplorerUpdateTests {
    @Test func startsOnTheGalleryWithTheFirstImageRequested() {
        var s = ExplorerState(size: Size(width: 80, height: 24), capabilities: TerminalCapabilities(colorMode: .ansi256, unicode: true, mouse: true),
                              theme: Fixture.theme, dataPath: Fixture.folder)
        let effects = update(&s, .datasetLoaded(.success(LoadedDataset(dataset: Fixture.dataset, loadSeconds: 0))))
        #expect(s.split?.name == "gallery")
        #expect(s.browser.selected == 0)
        #expect(effects.contains { if case .loadImage = $0 { return true } else { return false } })
        #expect(s.status?.role == .warning, "the malformed line is reported")
    }

    @Test func movingClampsAndScrolls() {
        var s = Fixture.state(width: 80, height: 24)
        let count = s.browser.visible.count
        _ = Fixture.key(&s, .up)
        #expect(s.browser.selected == 0)
        _ = Fixture.key(&s, .char("G"))
        #expect(s.browser.selected == count - 1)
        let rows = Layout(size: s.size).listRows
        #expect(s.browser.scroll == max(0, count - rows))
        _ = Fixture.key(&s, .down)
        #expect(s.browser.selected == count - 1)
        _ = Fixture.key(&s, .home)
        #expect(s.browser.selected == 0 && s.browser.scroll == 0)
        _ = Fixture.key(&s, .pageDown)
        #expect(s.browser.selected == rows)
    }

    @Test func filterIsIncrementalAndKeepsTheSelection() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char("/"))
        #expect(s.editingFilter)
        Fixture.type(&s, "BRISANE")
        #expect(s.browser.visible.count == 5, "case-insensitive on captions and labels")
        Fixture.type(&s, " 柔肤")
        #expect(s.browser.visible.count == 1)
        _ = Fixture.key(&s, .backspace)
        _ = Fixture.key(&s, .backspace)
        _ = Fixture.key(&s, .backspace)
        #expect(s.browser.visible.count == 5)
        _ = Fixture.key(&s, .down)          // accept
        #expect(!s.editingFilter)
        _ = Fixture.key(&s, .down)          // now moves in the list
        let chosen = s.selectedSample?.id
        _ = Fixture.key(&s, .escape)        // clears the filter, the sample stays selected
        #expect(s.filter.isEmpty)
        #expect(s.selectedSample?.id == chosen)
    }

    @Test func filterMatchesIds() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "100013")
        #expect(s.browser.visible.count == 1)
        #expect(s.selectedSample?.id == "100013")
    }

    @Test func keysAreTextWhileFiltering() {
        var s = Fixture.state()
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "q?T")
        #expect(s.filter == "q?T")
        #expect(!s.quitting && s.helpScroll == nil)
    }

    @Test func splitsCycleBothWays() {
        var s = Fixture.state()
        let names = Fixture.dataset.splits.map(\.name)
        let start = s.splitIndex
        _ = Fixture.key(&s, .tab)
        #expect(s.splitIndex == (start + 1) % names.count)
        _ = Fixture.key(&s, .backTab)
        #expect(s.splitIndex == start)
    }

    @Test func imagesAreRequestedOnceAndCached() {
        var s = Fixture.state()
        let first = Fixture.key(&s, .down)
        let again = Fixture.key(&s, .up) + Fixture.key(&s, .down)
        let paths = (first + again).compactMap { e -> String? in if case .loadImage(let p, _) = e { return p } else { return nil } }
        #expect(Set(paths).count == paths.count, "an image was requested twice: \(paths)")
    }

    @Test func badImagesBecomePlaceholdersWithTheReason() {
        var s = Fixture.state(width: 100, height: 30)
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "broken")
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("cannot show image"))
    }

    @Test func missingImageIsSaid() {
        var s = Fixture.state(width: 100, height: 30)
        _ = Fixture.key(&s, .char("/"))
        Fixture.type(&s, "100007")
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("no image file"))
    }

    @Test func mouseClickSelectsAndWheelScrolls() {
        var s = Fixture.state(width: 80, height: 24)
        let layout = Layout(size: s.size)
        _ = update(&s, .input(.mouse(MouseEvent(x: 5, y: layout.listTop + 4, button: .left))))
        #expect(s.browser.selected == 4)
        _ = update(&s, .input(.mouse(MouseEvent(x: 5, y: 5, button: .wheelDown))))
        #expect(s.browser.selected == 7)
    }

    @Test func resizeKeepsTheSelectionVisible() {
        var s = Fixture.state(width: 80, height: 40)
        _ = Fixture.key(&s, .char("G"))
        _ = update(&s, .input(.resize(width: 80, height: 18)))
        let rows = Layout(size: s.size).listRows
        #expect(s.browser.selected >= s.browser.scroll && s.browser.selected < s.browser.scroll + rows)
    }

    @Test func quitAndSignals() {
        var s = Fixture.state()
        #expect(Fixture.key(&s, .char("q")) == [.quit(exitCode: 0)])
        var t = Fixture.state()
        #expect(update(&t, .input(.signal(15))) == [.quit(exitCode: 143)])
    }

    @Test func keyOverridesFromTOML() throws {
        let map = try KeyMap.parse(toml: "[keys]\n\"move.down\" = [\"n\", \"ctrl-n\"]\nquit = \"Q\"\n", file: "keys.toml")
        #expect(map.action(for: .char("n"), in: .browser) == .moveDown)
        #expect(map.action(for: .ctrl("n"), in: .browser) == .moveDown)
        #expect(map.action(for: .char("j"), in: .browser) == nil)
        #expect(map.action(for: .char("Q"), in: .browser) == .quit)
        #expect(throws: KeyMapError.self) { try KeyMap.parse(toml: "[keys]\n\"move.sideways\" = \"x\"\n", file: "k.toml") }
        #expect(throws: KeyMapError.self) { try KeyMap.parse(toml: "[keys]\nquit = \"ctrl-shift-meta-q\"\n", file: "k.toml") }
        #expect(throws: KeyMapError.self) { try KeyMap.parse(toml: "[keys\n", file: "k.toml") }
    }

    @Test func keyNamesRoundTrip() {
        for a in ActionRegistry.all {
            for k in a.defaultKeys { #expect(KeyName.parse(KeyName.format(k)) == k, "\(k)") }
        }
    }

    @Test func noTwoActionsShareAKeyInOneContext() {
        let map = KeyMap()
        for ctx in ActionContext.allCases {
            var seen: [Key: ActionID] = [:]
            for a in ActionRegistry.all where a.context == ctx {
                for k in map.keys(for: a.id) {
                    #expect(seen[k] == nil, "\(KeyName.format(k)) is bound to \(seen[k].map { $0.rawValue } ?? "") and \(a.id.rawValue)")
                    seen[k] = a.id
                }
            }
        }
    }

    @Test func componentCommandsAreActionsOfTheRegistry() {
        // `perform` routes these actions to the retrieval and training components by raw value.
        for c in RetrievalCommand.allCases { #expect(ActionID(rawValue: c.rawValue) != nil, "\(c.rawValue)") }
        for c in TrainingCommand.allCases { #expect(ActionID(rawValue: c.rawValue) != nil, "\(c.rawValue)") }
        // Every key of the results pane and the query bar is the retrieval component's (a click has its row).
        for a in ActionRegistry.all where (a.context == .results || a.context == .query) && a.id != .clickMatch {
            #expect(RetrievalCommand(rawValue: a.id.rawValue) != nil, "\(a.id.rawValue)")
        }
    }

    @Test func readmeKeyTableIsCurrent() throws {
        let readme = try String(contentsOfFile: Snapshot.directory + "/../../../README.md", encoding: .utf8)
        #expect(readme.contains(KeyMap().markdownTable()), "README's key table is stale: paste `vitrine keys --markdown`")
    }
}
