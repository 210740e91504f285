import Explorer
import Foundation
import Imaging
import Testing

// GraphicsPainter (issue 16): what it writes for a frame's pictures, decoded with the decoders
// of GraphicsTestSupport.swift and a tokenizer for the cursor moves around them, checked against
// GraphicsFrame.fitting of the source; and what it remembers from frame to frame (nothing sent
// for an unchanged picture, re-placements, deletes, repaint rows, the kitty image limit, the cache).

// MARK: - Reading the painter's output

/// One escape sequence of the painter's output.
private enum Token: Equatable {
    case save                          // ESC 7
    case restore                       // ESC 8
    case move(row: Int, column: Int)   // ESC [ row+1 ; column+1 H
    case apc([UInt8])                  // ESC _ ... ESC \  (kitty)
    case dcs([UInt8])                  // ESC P ... ESC \  (sixel)
    case osc([UInt8])                  // ESC ] ... BEL    (iTerm2)
    case tmux([UInt8])                 // ESC P tmux ; ... ESC \, unwrapped

    /// The sequence as it reaches the outer terminal.
    var bytes: [UInt8] {
        switch self {
        case .apc(let b), .dcs(let b), .osc(let b), .tmux(let b): return b
        case .save: return GraphicsCursor.save
        case .restore: return GraphicsCursor.restore
        case .move(let r, let c): return GraphicsCursor.moveTo(row: r, column: c)
        }
    }
}

/// Splits bytes into tokens; nil if anything else is there.
private func tokens(_ b: [UInt8]) -> [Token]? {
    var out: [Token] = []
    var i = 0
    /// The index of the `ESC \` at or after `from`.
    func stringTerminator(from: Int) -> Int? {
        var j = from
        while j + 1 < b.count {
            if b[j] == 0x1B { return b[j + 1] == 0x5C ? j : nil }
            j += 1
        }
        return nil
    }
    while i < b.count {
        guard b[i] == 0x1B, i + 1 < b.count else { return nil }
        switch b[i + 1] {
        case 0x37: out.append(.save); i += 2
        case 0x38: out.append(.restore); i += 2
        case 0x5B:
            var j = i + 2
            while j < b.count, (b[j] >= 0x30 && b[j] <= 0x39) || b[j] == 0x3B { j += 1 }
            guard j < b.count, b[j] == UInt8(ascii: "H") else { return nil }
            let numbers = String(decoding: b[(i + 2)..<j], as: UTF8.self).split(separator: ";").compactMap { Int($0) }
            guard numbers.count == 2 else { return nil }
            out.append(.move(row: numbers[0] - 1, column: numbers[1] - 1))
            i = j + 1
        case 0x5F:
            guard let end = stringTerminator(from: i + 2) else { return nil }
            out.append(.apc(Array(b[i..<(end + 2)])))
            i = end + 2
        case 0x50 where b[i...].starts(with: Array("\u{1B}Ptmux;".utf8)):
            var j = i + 7
            var closed = false
            while j + 1 < b.count {
                if b[j] == 0x1B {
                    if b[j + 1] == 0x1B { j += 2; continue }
                    guard b[j + 1] == 0x5C else { return nil }
                    closed = true
                    break
                }
                j += 1
            }
            guard closed, let inner = Decoders.tmuxUnwrap(Array(b[i..<(j + 2)])) else { return nil }
            out.append(.tmux(inner))
            i = j + 2
        case 0x50:
            guard let end = stringTerminator(from: i + 2) else { return nil }
            out.append(.dcs(Array(b[i..<(end + 2)])))
            i = end + 2
        case 0x5D:
            guard let bel = b[(i + 2)...].firstIndex(of: 0x07) else { return nil }
            out.append(.osc(Array(b[i...bel])))
            i = bel + 1
        default:
            return nil
        }
    }
    return out
}

/// A picture drawn at a cursor position: save, move, sequences, restore.
private struct Draw {
    var row: Int
    var column: Int
    var sequences: [Token]

    /// The kitty commands among the sequences (unwrapped from tmux passthrough).
    var kitty: [Decoders.KittyCommand] { Decoders.kittyCommands(sequences.flatMap(\.bytes)) ?? [] }
}

/// The painter's output: sequences outside any save/restore (kitty deletes), and the draws.
private struct Output {
    var loose: [Token]
    var draws: [Draw]

    init(_ bytes: [UInt8]) throws {
        let list = try #require(tokens(bytes), "output does not tokenize: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
        loose = []
        draws = []
        var i = 0
        while i < list.count {
            guard list[i] == .save else { loose.append(list[i]); i += 1; continue }
            guard i + 1 < list.count, case .move(let row, let column) = list[i + 1] else {
                throw Decoders.DecodeFailure("save without a move")
            }
            var j = i + 2
            var inner: [Token] = []
            while j < list.count && list[j] != .restore {
                guard list[j] != .save else { throw Decoders.DecodeFailure("nested save") }
                if case .move = list[j] { throw Decoders.DecodeFailure("a second move inside a draw") }
                inner.append(list[j]); j += 1
            }
            guard j < list.count else { throw Decoders.DecodeFailure("save without a restore") }
            draws.append(Draw(row: row, column: column, sequences: inner))
            i = j + 1
        }
    }

    /// The loose kitty commands (deletes), unwrapped.
    var looseKitty: [Decoders.KittyCommand] { Decoders.kittyCommands(loose.flatMap(\.bytes)) ?? [] }
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

// MARK: - Fixtures

private let cell = CellPixelSize(width: 6, height: 12)

/// A smooth gradient, different for each `seed`.
private func gradient(width: Int, height: Int, seed: Int = 0) -> RGBImage {
    var img = RGBImage(width: width, height: height)
    for y in 0..<height {
        for x in 0..<width {
            img[x, y] = RGB(UInt8((x * 255 / max(1, width - 1) + seed * 40) % 256), UInt8(64 + y * 128 / max(1, height - 1)),
                            UInt8((255 - x * 200 / max(1, width - 1) + seed * 17) % 256))
        }
    }
    return img
}

/// A picture whose source has the rectangle's aspect at `cell` (so the contained frame fills it).
private func picture(_ key: String, x: Int, y: Int, columns: Int, rows: Int, seed: Int = 0, tint: AttentionTint? = nil) -> Picture {
    Picture(rect: Rect(x: x, y: y, width: columns, height: rows), key: key,
            source: gradient(width: columns * cell.width / 2, height: rows * cell.height / 2, seed: seed), tint: tint)
}

private func options(_ kind: GraphicsProtocol, compact: Bool = false, tmux: Bool = false, maxImages: Int = 32) -> GraphicsPainterOptions {
    GraphicsPainterOptions(protocolKind: kind, cellSize: cell, tmuxPassthrough: tmux, background: RGB(1, 2, 3),
                           compact: compact, maxKittyImages: maxImages)
}

/// What the painter should show for `p`: its source fitted into its cells.
private func fitted(_ p: Picture, source: RGBImage? = nil) throws -> GraphicsFrame {
    try GraphicsFrame.fitting(source ?? p.source, columns: p.rect.width, rows: p.rect.height, cellSize: cell,
                              fit: .contain(background: RGB(1, 2, 3)))
}

private let firstID = GraphicsPainterOptions.defaultFirstImageID

// MARK: - kitty

@Suite("GraphicsPainter: kitty")
struct GraphicsPainterKittyTests {
    @Test(arguments: [false, true])
    func firstPlanTransmitsOnceAndPlaces(compact: Bool) throws {
        let painter = GraphicsPainter(options: options(.kitty, compact: compact))
        let p = picture("a", x: 3, y: 2, columns: 9, rows: 4)
        let plan = painter.plan([p], screenCleared: true, frameHeight: 24)
        #expect(plan.failures.isEmpty && plan.repaintRows.isEmpty)
        let out = try Output(plan.output)
        #expect(out.loose.isEmpty)
        try #require(out.draws.count == 1)
        let draw = out.draws[0]
        #expect(draw.row == 2 && draw.column == 3)
        let images = try #require(Decoders.kittyImages(draw.kitty))
        try #require(images.count == 2)
        let transmit = images[0], place = images[1]
        #expect(transmit.keys["a"] == "t" && transmit.keys["i"] == String(firstID) && transmit.keys["q"] == "2")
        #expect(transmit.keys["f"] == (compact ? "100" : "24"))
        #expect(transmit.keys["c"] == nil && transmit.keys["p"] == nil)
        #expect(place.keys == ["a": "p", "i": String(firstID), "p": "1", "c": "9", "r": "4", "C": "1", "q": "2"])
        #expect(try Decoders.kittyPixels(transmit) == fitted(p).image)
        #expect(painter.heldImageIDs == [firstID])
        #expect(painter.stats.kittyTransmits == 1 && painter.stats.kittyPlacements == 1 && painter.stats.encoded == 1)
        #expect(painter.stats.bytesWritten == plan.output.count)

        // The same frame again: nothing.
        let again = painter.plan([p], screenCleared: false, frameHeight: 24)
        #expect(again == GraphicsPlan())
        #expect(painter.stats.kittyTransmits == 1 && painter.stats.kittyPlacements == 1)
    }

    @Test func movingRePlacesWithoutTransmitAndRemovingDeletesThePlacement() throws {
        let painter = GraphicsPainter(options: options(.kitty))
        let p = picture("a", x: 3, y: 2, columns: 9, rows: 4)
        _ = painter.plan([p], screenCleared: true, frameHeight: 24)
        var moved = p
        moved.rect.x = 20; moved.rect.y = 5
        let plan = painter.plan([moved], screenCleared: false, frameHeight: 24)
        let out = try Output(plan.output)
        #expect(out.loose.isEmpty && out.draws.count == 1)
        #expect(out.draws[0].row == 5 && out.draws[0].column == 20)
        #expect(out.draws[0].kitty.map(\.keys) == [["a": "p", "i": String(firstID), "p": "1", "c": "9", "r": "4", "C": "1", "q": "2"]])
        #expect(painter.stats.kittyTransmits == 1 && painter.stats.kittyReplacements == 1 && painter.stats.encoded == 1)
        #expect(plan.output.count < 80, "\(plan.output.count) bytes for a move")

        // Gone: its placement deleted, the image kept.
        let removed = painter.plan([], screenCleared: false, frameHeight: 24)
        #expect(text(removed.output) == "\u{1B}_Ga=d,d=i,i=\(firstID),p=1,q=2\u{1B}\\")
        #expect(painter.heldImageIDs == [firstID])
        // Back: placed again, no pixels.
        let back = try Output(painter.plan([p], screenCleared: false, frameHeight: 24).output)
        #expect(back.draws.count == 1 && back.draws[0].kitty.map { $0.keys["a"] } == ["p"])
        #expect(painter.stats.kittyTransmits == 1 && painter.stats.kittyReplacements == 2)
    }

    @Test func screenClearedFreesAndTransmitsAgain() throws {
        let painter = GraphicsPainter(options: options(.kitty))
        let p = picture("a", x: 0, y: 0, columns: 5, rows: 2)
        let q = picture("b", x: 10, y: 0, columns: 5, rows: 2, seed: 1)
        _ = painter.plan([p, q], screenCleared: true, frameHeight: 24)
        let plan = painter.plan([p], screenCleared: true, frameHeight: 24)
        let out = try Output(plan.output)
        #expect(out.looseKitty.map(\.keys) == [
            ["a": "d", "d": "I", "i": String(firstID), "q": "2"], ["a": "d", "d": "I", "i": String(firstID + 1), "q": "2"],
        ])
        #expect(out.draws.count == 1)
        let images = try #require(Decoders.kittyImages(out.draws[0].kitty))
        #expect(images.map { $0.keys["a"] } == ["t", "p"])
        #expect(try Decoders.kittyPixels(images[0]) == fitted(p).image)
        #expect(painter.stats.kittyTransmits == 3 && painter.stats.encoded == 2 && painter.stats.cacheHits == 1)
        #expect(painter.heldImageIDs == [firstID])
    }

    @Test func theLeastRecentlyShownImageIsFreedBeyondTheLimit() throws {
        let painter = GraphicsPainter(options: options(.kitty, maxImages: 3))
        let pictures = (0..<4).map { picture("p\($0)", x: 2, y: 1, columns: 4, rows: 2, seed: $0) }
        _ = painter.plan([pictures[0]], screenCleared: true, frameHeight: 24)
        _ = painter.plan([pictures[1]], screenCleared: false, frameHeight: 24)
        _ = painter.plan([pictures[2]], screenCleared: false, frameHeight: 24)
        _ = painter.plan([pictures[0]], screenCleared: false, frameHeight: 24)  // p0 shown again: p1 is now the oldest
        #expect(painter.heldImageIDs == [firstID, firstID + 1, firstID + 2])
        let plan = painter.plan([pictures[3]], screenCleared: false, frameHeight: 24)
        let out = try Output(plan.output)
        // p0's placement goes, then p1 (least recently shown) is freed, then p3 is sent.
        #expect(out.looseKitty.map(\.keys) == [["a": "d", "d": "i", "i": String(firstID), "p": "1", "q": "2"],
                                                ["a": "d", "d": "I", "i": String(firstID + 1), "q": "2"]])
        try #require(out.draws.count == 1)
        let images = try #require(Decoders.kittyImages(out.draws[0].kitty))
        #expect(images.map { $0.keys["a"] } == ["t", "p"] && images[0].keys["i"] == String(firstID + 3))
        #expect(painter.heldImageIDs == [firstID, firstID + 2, firstID + 3])
        #expect(painter.stats.kittyImageFrees == 1)

        // A frame with more pictures than the limit keeps them all (none can be freed).
        let many = (0..<5).map { picture("m\($0)", x: $0 * 5, y: 10, columns: 4, rows: 2, seed: $0) }
        let full = try Output(painter.plan(many, screenCleared: true, frameHeight: 24).output)
        #expect(full.draws.count == 5 && painter.heldImageIDs.count == 5)
    }

    @Test func clearAllDeletesEveryHeldImageAndOnlyThose() throws {
        let painter = GraphicsPainter(options: options(.kitty, maxImages: 2))
        let pictures = (0..<3).map { picture("p\($0)", x: 0, y: 3 * $0, columns: 4, rows: 2, seed: $0) }
        _ = painter.plan([pictures[0]], screenCleared: true, frameHeight: 24)
        _ = painter.plan([pictures[1]], screenCleared: false, frameHeight: 24)
        _ = painter.plan([pictures[2]], screenCleared: false, frameHeight: 24)  // frees p0
        let held = painter.heldImageIDs
        #expect(held == [firstID + 1, firstID + 2])
        let expected = held.map { "\u{1B}_Ga=d,d=I,i=\($0),q=2\u{1B}\\" }.joined()
        #expect(text(painter.crashCleanup) == expected)
        #expect(text(painter.crashCleanup) == expected)  // reading it changes nothing
        let before = painter.stats
        #expect(text(painter.clearAll()) == expected)
        #expect(painter.stats.bytesWritten == before.bytesWritten + expected.utf8.count)
        #expect(painter.crashCleanup.isEmpty && painter.heldImageIDs.isEmpty && painter.clearAll().isEmpty)
        // As if new: the next plan draws the picture again (from the cache: no re-encoding).
        let out = try Output(painter.plan([pictures[2]], screenCleared: false, frameHeight: 24).output)
        #expect(out.loose.isEmpty && out.draws.count == 1)
        #expect(try Decoders.kittyImages(out.draws[0].kitty)?.map { $0.keys["a"] } == ["t", "p"])
        #expect(painter.stats.encoded == 3)
    }

    @Test func theSamePictureTwiceIsSentOnceAndPlacedTwice() throws {
        let painter = GraphicsPainter(options: options(.kitty))
        let a = picture("same", x: 0, y: 0, columns: 4, rows: 2)
        var b = a
        b.rect.x = 30
        let out = try Output(painter.plan([a, b], screenCleared: true, frameHeight: 24).output)
        #expect(out.draws.count == 2)
        #expect(out.draws[0].kitty.map { $0.keys["a"] } == ["t", "p"] && out.draws[1].kitty.map { $0.keys["a"] } == ["p"])
        #expect(out.draws.flatMap(\.kitty).filter { $0.keys["a"] == "p" }.map { $0.keys["p"] } == ["1", "2"])
        // The second goes away: only its placement is deleted.
        let plan = painter.plan([a], screenCleared: false, frameHeight: 24)
        #expect(text(plan.output) == "\u{1B}_Ga=d,d=i,i=\(firstID),p=2,q=2\u{1B}\\")
    }

    @Test func tmuxPassthroughWrapsEveryAPCAndNothingElse() throws {
        let painter = GraphicsPainter(options: options(.kitty, tmux: true, maxImages: 1))
        // Large enough for several chunks.
        let p = picture("a", x: 3, y: 2, columns: 20, rows: 6)
        let q = picture("b", x: 3, y: 2, columns: 20, rows: 6, seed: 2)
        var all: [Token] = []
        for (pictures, cleared) in [([p], true), ([q], false), ([p], false), ([], false)] {
            let plan = painter.plan(pictures, screenCleared: cleared, frameHeight: 24)
            all += try #require(tokens(plan.output))
        }
        all += try #require(tokens(painter.clearAll()))
        #expect(!all.contains { if case .apc = $0 { return true } else { return false } })
        let wrapped = all.compactMap { token -> [UInt8]? in if case .tmux(let inner) = token { return inner } else { return nil } }
        #expect(wrapped.count > 6)
        // Each wrapper holds exactly one kitty command.
        for inner in wrapped { #expect(Decoders.kittyCommands(inner)?.count == 1) }
        // Moves, saves and restores stay outside.
        #expect(all.contains(.move(row: 2, column: 3)) && all.contains(.save) && all.contains(.restore))
        let transmits = try #require(Decoders.kittyImages(Decoders.kittyCommands(wrapped.flatMap { $0 }) ?? []))
        #expect(transmits.contains { $0.chunks > 1 })
        let firstTransmit = try #require(transmits.first)
        #expect(try Decoders.kittyPixels(firstTransmit) == fitted(p).image)
    }
}

// MARK: - sixel

@Suite("GraphicsPainter: sixel")
struct GraphicsPainterSixelTests {
    @Test(arguments: [false, true])
    func pixelsWithinQuantisationError(compact: Bool) throws {
        let painter = GraphicsPainter(options: options(.sixel, compact: compact))
        let p = picture("a", x: 4, y: 1, columns: 12, rows: 5)
        let plan = painter.plan([p], screenCleared: true, frameHeight: 24)
        #expect(plan.failures.isEmpty && plan.repaintRows.isEmpty)
        let out = try Output(plan.output)
        try #require(out.loose.isEmpty && out.draws.count == 1)
        #expect(out.draws[0].row == 1 && out.draws[0].column == 4)
        guard case .dcs(let bytes) = try #require(out.draws[0].sequences.first), out.draws[0].sequences.count == 1 else {
            Issue.record("not one DCS string"); return
        }
        let decoded = try Decoders.sixel(bytes).image
        let expected = try fitted(p).image
        #expect(decoded.width == expected.width && decoded.height == expected.height)
        let error = ErrorStats(expected, decoded)
        let block = ErrorStats.blockMean(expected, decoded, block: 6)
        // Not dithered: every pixel near its colour; dithered: the local average is.
        if compact { #expect(error.mean < 4 && error.max < 40, "\(error)") } else { #expect(block < 3, "\(block)") }
        #expect(painter.plan([p], screenCleared: false, frameHeight: 24) == GraphicsPlan())
    }

    @Test func removingAPictureRepaintsItsRowsAndRedrawsWhatWasOnThem() throws {
        let painter = GraphicsPainter(options: options(.sixel))
        let a = picture("a", x: 0, y: 1, columns: 6, rows: 3)     // rows 1...3
        let b = picture("b", x: 20, y: 2, columns: 6, rows: 3)    // rows 2...4
        let c = picture("c", x: 40, y: 6, columns: 6, rows: 2)    // rows 6...7
        let first = try Output(painter.plan([a, b, c], screenCleared: true, frameHeight: 24).output)
        #expect(first.draws.map { [$0.row, $0.column] } == [[1, 0], [2, 20], [6, 40]])
        let plan = painter.plan([b, c], screenCleared: false, frameHeight: 24)
        #expect(plan.repaintRows == [1, 2, 3])
        let out = try Output(plan.output)
        #expect(out.loose.isEmpty && out.draws.map { [$0.row, $0.column] } == [[2, 20]])
        // From the cache.
        #expect(painter.stats.encoded == 3 && painter.stats.cacheHits == 1)
        #expect(painter.plan([b, c], screenCleared: false, frameHeight: 24) == GraphicsPlan())
        // Screen cleared: everything drawn, nothing to repaint (curses repaints all of it).
        let cleared = painter.plan([b, c], screenCleared: true, frameHeight: 24)
        let clearedDraws = try Output(cleared.output).draws
        #expect(cleared.repaintRows.isEmpty && clearedDraws.count == 2)
    }

    @Test func picturesOnRowsCursesUpdatedAreDrawnAgain() throws {
        let painter = GraphicsPainter(options: options(.sixel))
        let a = picture("a", x: 0, y: 1, columns: 6, rows: 3)     // rows 1...3
        let b = picture("b", x: 20, y: 6, columns: 6, rows: 2)    // rows 6...7
        _ = painter.plan([a, b], screenCleared: true, frameHeight: 24)
        // Rows without pictures, or columns beside them: nothing.
        #expect(painter.plan([a, b], screenCleared: false, frameHeight: 24,
                             touched: [0: 0...79, 4: 0...79, 5: 0...79, 23: 0...79, 2: 6...19, 6: 30...79]) == GraphicsPlan())
        // Row 2 was rewritten over the first picture's columns: it is drawn again from the cache,
        // the other is not.
        let plan = painter.plan([a, b], screenCleared: false, frameHeight: 24, touched: [2: 3...40])
        let out = try Output(plan.output)
        #expect(plan.repaintRows.isEmpty && out.draws.map { [$0.row, $0.column] } == [[1, 0]])
        #expect(painter.stats.encoded == 2)
    }

    @Test func aMovedPictureIsNotEncodedAgain() throws {
        let painter = GraphicsPainter(options: options(.sixel))
        let p = picture("a", x: 0, y: 0, columns: 8, rows: 4)
        let first = painter.plan([p], screenCleared: true, frameHeight: 24)
        var moved = p
        moved.rect.y = 2
        let plan = painter.plan([moved], screenCleared: false, frameHeight: 24)
        #expect(plan.repaintRows == [0, 1, 2, 3])
        let out = try Output(plan.output)
        #expect(out.draws.count == 1 && out.draws[0].row == 2 && out.draws[0].column == 0)
        #expect(painter.stats.encoded == 1 && painter.stats.cacheHits == 1)
        // The same sixel bytes, at the new place.
        #expect(try Output(first.output).draws[0].sequences == out.draws[0].sequences)
    }

    @Test func aPictureOnTheLastRowIsRefused() throws {
        let p = picture("a", x: 0, y: 7, columns: 4, rows: 3)     // rows 7...9 of 10
        for kind in [GraphicsProtocol.sixel, .iterm] {
            let painter = GraphicsPainter(options: options(kind))
            let plan = painter.plan([p], screenCleared: true, frameHeight: 10)
            #expect(plan.output.isEmpty && plan.failures.count == 1)
            #expect(plan.failures.first?.contains("last row") == true, "\(plan.failures)")
            #expect(painter.plan([p], screenCleared: true, frameHeight: 11).failures.isEmpty)
        }
        // kitty images never scroll the screen (C=1): allowed.
        let kitty = GraphicsPainter(options: options(.kitty))
        #expect(kitty.plan([p], screenCleared: true, frameHeight: 10).failures.isEmpty)
    }

    @Test func emptyAndOutsidePicturesAreRefused() {
        for kind in [GraphicsProtocol.kitty, .sixel, .iterm] {
            let painter = GraphicsPainter(options: options(kind))
            let bad = [
                Picture(rect: Rect(x: 0, y: 0, width: 0, height: 3), key: "empty", source: gradient(width: 4, height: 4)),
                Picture(rect: Rect(x: -1, y: 0, width: 3, height: 3), key: "left", source: gradient(width: 4, height: 4)),
                Picture(rect: Rect(x: 0, y: 20, width: 3, height: 6), key: "below", source: gradient(width: 4, height: 4)),
                Picture(rect: Rect(x: 78, y: 0, width: 3, height: 3), key: "right", source: gradient(width: 4, height: 4)),
                Picture(rect: Rect(x: 0, y: 0, width: 3, height: 3), key: "nopixels", source: RGBImage(width: 0, height: 0)),
            ]
            let plan = painter.plan(bad, screenCleared: true, frameWidth: 80, frameHeight: 24)
            #expect(plan.output.isEmpty && plan.failures.count == 5, "\(kind): \(plan.failures)")
            #expect(plan.failures[0].contains("empty") && plan.failures[1].contains("outside"))
            // Reported again while nothing changes, without encoding again.
            let encoded = painter.stats.encoded
            #expect(painter.plan(bad, screenCleared: false, frameWidth: 80, frameHeight: 24).failures == plan.failures)
            #expect(painter.stats.encoded == encoded)
        }
    }
}

// MARK: - iTerm2, tint, other modes, hostile keys

@Suite("GraphicsPainter: iTerm2, tint and keys")
struct GraphicsPainterMiscTests {
    @Test(arguments: [false, true])
    func itermPNGDecodesToTheFittedFrame(tmux: Bool) throws {
        let painter = GraphicsPainter(options: options(.iterm, tmux: tmux))
        let p = picture("a", x: 7, y: 3, columns: 10, rows: 4)
        let plan = painter.plan([p], screenCleared: true, frameHeight: 24)
        let out = try Output(plan.output)
        try #require(out.draws.count == 1 && out.draws[0].sequences.count == 1)
        #expect(out.draws[0].row == 3 && out.draws[0].column == 7)
        let sequence = out.draws[0].sequences[0]
        switch sequence {
        case .osc: #expect(!tmux)
        case .tmux: #expect(tmux)
        default: Issue.record("unexpected \(sequence)")
        }
        let (arguments, file) = try #require(Decoders.iterm(sequence.bytes))
        #expect(arguments["width"] == "10c" && arguments["height"] == "4c" && arguments["inline"] == "1")
        #expect(try ImageDecoder.decode(bytes: file, name: "iterm.png") == fitted(p).image)
        #expect(painter.clearAll().isEmpty)
    }

    @Test func aTintedPictureShowsTheTintedPixels() throws {
        // A 16x16 square with a 4x4 map. The oracle is AttentionCells.draw itself: into 16x8
        // half-block cells (16 colours, so cell colours are the tinted pixels unchanged) the
        // square is drawn at its own size, one cell half per pixel.
        let source = gradient(width: 16, height: 16, seed: 3)
        let map: [Float] = (0..<16).map { Float(($0 * 7) % 16) / 3 }
        var frame = Frame(width: 16, height: 8)
        let covered = AttentionCells.draw(source, map: map, side: 4, into: &frame, rect: Rect(x: 0, y: 0, width: 16, height: 8),
                                          capabilities: TerminalCapabilities(colorMode: .ansi16, unicode: true, mouse: false))
        try #require(covered == Rect(x: 0, y: 0, width: 16, height: 8))
        var oracle = RGBImage(width: 16, height: 16)
        for y in 0..<8 {
            for x in 0..<16 {
                let style = frame[x, y].style
                oracle[x, 2 * y] = try #require(style.fg)
                oracle[x, 2 * y + 1] = try #require(style.bg)
            }
        }
        #expect(oracle != source)
        // 4x2 cells of 6x12 pixels: 24x24.
        let p = Picture(rect: Rect(x: 1, y: 1, width: 4, height: 2), key: "attention", source: source,
                        tint: AttentionTint(map: map, side: 4))
        let painter = GraphicsPainter(options: options(.kitty))
        let out = try Output(painter.plan([p], screenCleared: true, frameHeight: 24).output)
        let tintedDraw = try #require(out.draws.first)
        let images = try #require(Decoders.kittyImages(tintedDraw.kitty))
        #expect(try Decoders.kittyPixels(images[0]) == fitted(p, source: oracle).image)
        #expect(try Decoders.kittyPixels(images[0]) != fitted(p).image)
        // The untinted picture with the same key and place is another picture.
        var plain = p
        plain.tint = nil
        let again = try Output(painter.plan([plain], screenCleared: false, frameHeight: 24).output)
        let plainDraw = try #require(again.draws.first)
        let plainImages = try #require(Decoders.kittyImages(plainDraw.kitty))
        #expect(try Decoders.kittyPixels(plainImages[0]) == fitted(p).image)
    }

    @Test func nonPixelModesDrawNothing() {
        for kind in [GraphicsProtocol.blocks, .ascii] {
            let painter = GraphicsPainter(options: options(kind))
            #expect(painter.plan([picture("a", x: 0, y: 0, columns: 4, rows: 2)], screenCleared: true, frameHeight: 24) == GraphicsPlan())
            #expect(painter.clearAll().isEmpty && painter.crashCleanup.isEmpty)
        }
    }

    @Test func aHostileKeyNeverReachesTheOutput() throws {
        let key = "\u{1B}]0;evil title\u{07}\n\r\u{1B}[2J\u{1B}\\\u{1B}_Ga=d\u{1B}\\"
        for kind in [GraphicsProtocol.kitty, .sixel, .iterm] {
            for tmux in [false, true] {
                let painter = GraphicsPainter(options: options(kind, tmux: tmux))
                let p = picture(key, x: 2, y: 2, columns: 6, rows: 3)
                var moved = p
                moved.rect.x = 30
                let bad = Picture(rect: Rect(x: 0, y: 30, width: 3, height: 3), key: key, source: gradient(width: 4, height: 4))
                var bytes: [UInt8] = []
                var failures: [String] = []
                for (pictures, cleared) in [([p, bad], true), ([moved], false), ([], false)] {
                    let plan = painter.plan(pictures, screenCleared: cleared, frameHeight: 24)
                    bytes += plan.output
                    failures += plan.failures
                }
                bytes += painter.crashCleanup + painter.clearAll()
                let all = text(bytes)
                #expect(!all.contains("evil") && !all.contains(" ") && !all.contains("\n") && !all.contains("\r"))
                #expect(!all.contains("\u{1B}]0;") && !all.contains("\u{1B}[2J"))
                #expect(tokens(bytes) != nil, "\(kind) tmux \(tmux): output does not tokenize")
                #expect(!failures.isEmpty && failures.allSatisfy { !$0.contains("evil") && !$0.contains("\u{1B}") })
            }
        }
    }

    @Test func reconfigureClearsAndUsesTheNewOptions() throws {
        let painter = GraphicsPainter(options: options(.kitty))
        let p = picture("a", x: 0, y: 0, columns: 4, rows: 2)
        _ = painter.plan([p], screenCleared: true, frameHeight: 24)
        let bytes = painter.reconfigure(options(.sixel))
        #expect(text(bytes) == "\u{1B}_Ga=d,d=I,i=\(firstID),q=2\u{1B}\\")
        let out = try Output(painter.plan([p], screenCleared: true, frameHeight: 24).output)
        guard case .dcs = try #require(out.draws.first?.sequences.first) else { Issue.record("not sixel"); return }
    }

    @Test func theCacheStaysWithinItsLimit() throws {
        let pictures = (0..<6).map { picture("p\($0)", x: 0, y: 0, columns: 8, rows: 3, seed: $0) }
        // Room for about two encodings.
        let one = GraphicsPainter(options: options(.sixel)).plan([pictures[0]], screenCleared: true, frameHeight: 24).output.count
        var small = options(.sixel)
        small.cacheByteLimit = one * 5 / 2
        let painter = GraphicsPainter(options: small)
        for p in pictures { _ = painter.plan([p], screenCleared: false, frameHeight: 24) }
        #expect(painter.stats.encoded == 6)
        // The most recent is still cached; the first was dropped.
        _ = painter.plan([pictures[5]], screenCleared: true, frameHeight: 24)
        #expect(painter.stats.encoded == 6)
        _ = painter.plan([pictures[0]], screenCleared: true, frameHeight: 24)
        #expect(painter.stats.encoded == 7)
    }
}
