import Explorer
import Foundation
import Imaging
import Testing

/// The repository's Themes/ folder, found from this file's path.
private let themesFolder: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }   // Tests/ExplorerTests/ThemeTests.swift
    return url.appendingPathComponent("Themes").path
}()

private func shippedThemeFiles() throws -> [String] {
    let names = try FileManager.default.contentsOfDirectory(atPath: themesFolder).filter { $0.hasSuffix(".toml") }.sorted()
    return names.map { themesFolder + "/" + $0 }
}

private func parseError(_ toml: String, file: String = "Themes/bad.toml") -> ThemeError? {
    do {
        _ = try Theme.parse(toml: toml, file: file)
        return nil
    } catch {
        return error
    }
}

private let minimal = """
foreground = "#d0d0d0"
background = "#101010"
"""

@Suite("Shipped themes")
struct ShippedThemeTests {
    @Test func theShippedThemesAreThere() throws {
        let names = try shippedThemeFiles().map { ($0 as NSString).lastPathComponent }
        for expected in ["dark.toml", "light.toml", "high-contrast.toml"] { #expect(names.contains(expected)) }
    }

    @Test func everyThemeDefinesEveryRoleReadably() throws {
        for path in try shippedThemeFiles() {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let theme = try Theme.parse(toml: text, file: path, requireAllRoles: true)
            #expect(theme.name == ((path as NSString).lastPathComponent as NSString).deletingPathExtension)
            let minimum = theme.name == "high-contrast" ? 7.0 : 4.5
            for role in Role.allCases {
                let style = theme.style(for: role)
                let fg = style.fg ?? theme.foreground
                let bg = style.bg ?? theme.background
                let ratio = Contrast.ratio(fg, bg)
                switch role {
                case .border:
                    // Lines, not text: visible but quiet (WCAG asks 3:1 of controls, not of rules).
                    #expect(ratio >= (theme.name == "high-contrast" ? 7 : 2), "\(theme.name) border \(ratio)")
                default:
                    #expect(ratio >= minimum, "\(theme.name).\(role.rawValue): \(fg.hex) on \(bg.hex) is \(ratio):1")
                }
                #expect(theme.mono[role] != nil, "\(theme.name) mono.\(role.rawValue)")
            }
            // The selection bar must stand out from the screen.
            let selection = theme.style(for: .selection).bg ?? theme.background
            #expect(Contrast.ratio(selection, theme.background) >= 1.3, "\(theme.name) selection bar")
            #expect(theme.mono[.selection]?.reverse == true)
        }
    }

    @Test func libraryFindsAndLoadsThem() throws {
        let library = ThemeLibrary(searchPaths: [themesFolder])
        let names = library.available()
        #expect(names.first == "dark")
        #expect(names == ["dark"] + names.dropFirst().sorted())
        #expect(names.contains("light") && names.contains("high-contrast"))
        let dark = try library.load("dark")
        #expect(dark.name == "dark")
        #expect(dark == (try Theme.parse(toml: String(contentsOfFile: themesFolder + "/dark.toml", encoding: .utf8), file: "x/dark.toml")))
        #expect(try library.load(themesFolder + "/light.toml").name == "light")

        // The process-wide search path finds the repository's Themes/ from the test binary or the working directory.
        func real(_ p: String) -> String { URL(fileURLWithPath: p).resolvingSymlinksInPath().path }
        #expect(ThemeLibrary.searchPaths().map(real).contains(real(themesFolder)))
        #expect(ThemeLibrary.available().contains("high-contrast"))
    }

    @Test func earlierFoldersWinAndUnknownNamesSayWhatExists() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vitrine-themes-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try (minimal + "\n[roles.title]\nfg = \"#ff0000\"\n").write(toFile: dir + "/dark.toml", atomically: true, encoding: .utf8)
        try minimal.write(toFile: dir + "/mine.toml", atomically: true, encoding: .utf8)

        let library = ThemeLibrary(searchPaths: [dir, themesFolder])
        #expect(try library.load("dark").style(for: .title).fg == RGB(255, 0, 0))
        #expect(library.available().first == "dark")
        #expect(library.available().contains("mine"))
        do {
            _ = try library.load("nope")
            Issue.record("loading an unknown theme must fail")
        } catch {
            #expect(error.file == "nope.toml")
            #expect(error.message.contains("mine"))
            #expect(error.message.contains(dir))
        }
    }

    @Test func builtinFallbackWhenNothingIsFound() throws {
        let library = ThemeLibrary(searchPaths: ["/nonexistent/vitrine/themes"])
        #expect(library.available() == [ThemeLibrary.builtinFallback.name])
        #expect(try library.load(ThemeLibrary.builtinFallback.name) == ThemeLibrary.builtinFallback)
        for role in Role.allCases { #expect(ThemeLibrary.builtinFallback.roles[role] != nil) }
    }
}

@Suite("Theme files")
struct ThemeParsingTests {
    @Test func missingRolesAreDerived() throws {
        let theme = try Theme.parse(toml: minimal + "\n[roles.selection]\nbg = \"#303060\"\nbold = true\n[mono]\ntitle = []\n", file: "Themes/mini.toml")
        #expect(theme.name == "mini")
        #expect(theme.foreground == RGB(0xd0, 0xd0, 0xd0))
        #expect(theme.style(for: .selection) == RoleStyle(bg: RGB(0x30, 0x30, 0x60), bold: true))
        for role in Role.allCases {
            #expect(theme.roles[role] != nil && theme.mono[role] != nil)
            let s = theme.style(for: role)
            if role != .border {
                #expect(Contrast.ratio(s.fg ?? theme.foreground, s.bg ?? theme.background) >= 4.5, "\(role)")
            }
        }
        #expect(theme.mono[.title] == RoleStyle())
        #expect(theme.mono[.selection]?.reverse == true)
        #expect(theme.style(for: .dim).fg != theme.foreground)
    }

    @Test func badColour() {
        let e = parseError(minimal + "\n[roles.selection]\nfg = \"#12345\"\n")
        #expect(e?.description == "Themes/bad.toml: roles.selection.fg: \"#12345\" is not a #rrggbb colour")
        #expect(parseError("foreground = \"#d0d0d0\"\nbackground = \"101010\"\n")?.key == "background")
        #expect(parseError("foreground = \"#+12345\"\nbackground = \"#101010\"\n")?.key == "foreground")
        #expect(parseError("foreground = 12\nbackground = \"#101010\"\n")?.message.contains("integer") == true)
    }

    @Test func unknownNames() {
        let role = parseError(minimal + "\n[roles.selecton]\nfg = \"#ffffff\"\n")
        #expect(role?.key == "roles.selecton")
        #expect(role?.message.contains("unknown role \"selecton\"") == true)
        #expect(role?.message.contains("selection") == true)

        #expect(parseError(minimal + "\n[roles.text]\ncolour = \"#ffffff\"\n")?.key == "roles.text.colour")
        #expect(parseError(minimal + "\nforegound = \"#ffffff\"\n")?.key == "foregound")
        #expect(parseError(minimal + "\nname = \"dark\"\n")?.message.contains("named after its file") == true)
        let mono = parseError(minimal + "\n[mono]\nselection = [\"blink\"]\n")
        #expect(mono?.key == "mono.selection")
        #expect(mono?.message.contains("blink") == true)
        #expect(parseError(minimal + "\n[mono]\nselektion = [\"bold\"]\n")?.key == "mono.selektion")
    }

    @Test func wrongTypes() {
        #expect(parseError(minimal + "\n[roles.text]\nbold = \"yes\"\n")?.key == "roles.text.bold")
        #expect(parseError(minimal + "\nroles = 3\n")?.key == "roles")
        #expect(parseError(minimal + "\n[mono]\nselection = \"reverse\"\n")?.key == "mono.selection")
        #expect(parseError(minimal + "\n[roles]\ntext = 1\n")?.key == "roles.text")
    }

    @Test func missingAndMalformed() {
        let e = parseError("background = \"#101010\"\n", file: "a/b.toml")
        #expect(e?.file == "a/b.toml" && e?.key == "foreground")
        let syntax = parseError("foreground = \"#d0d0d0\n", file: "a/b.toml")
        #expect(syntax?.key == nil)
        #expect(syntax?.description.hasPrefix("a/b.toml: not valid TOML at line 1") == true)
    }

    @Test func requireAllRolesNamesTheMissingOnes() throws {
        do {
            _ = try Theme.parse(toml: minimal + "\n[roles.text]\nfg = \"#ffffff\"\n", file: "t.toml", requireAllRoles: true)
            Issue.record("a theme without every role must fail in strict mode")
        } catch {
            #expect(error.key == "roles")
            #expect(error.message.contains("selection"))
            #expect(!error.message.contains("text,"))
        }
    }

    @Test func contrastFormula() {
        #expect(abs(Contrast.ratio(RGB(0, 0, 0), RGB(255, 255, 255)) - 21) < 1e-9)
        #expect(Contrast.ratio(RGB(10, 20, 30), RGB(10, 20, 30)) == 1)
        // #767676 on white is the classic 4.54:1.
        #expect(abs(Contrast.ratio(RGB(0x76, 0x76, 0x76), RGB(255, 255, 255)) - 4.54) < 0.01)
    }
}
