import Explorer
import Imaging
import Foundation
import Testing

/// Frames that fit a slow link (issue 14): the large image waits for the selection to rest, so
/// that a held key sends list rows rather than a picture a row.
@Suite struct FrameBudgetTests {
    /// Cells drawn from image pixels (with their own colours) in the frame.
    static func imageCells(_ frame: Frame) -> Int {
        var n = 0
        for y in 0 ..< frame.height { for x in 0 ..< frame.width where frame[x, y].style.role == .image { n += 1 } }
        return n
    }

    @Test func thePreviewWaitsForTheSelectionToRest() {
        var s = Fixture.state(width: 120, height: 40)
        #expect(Self.imageCells(view(s)) > 100, "at rest the preview is drawn")
        // Two rows down quickly: each move asks for a rest; only the newest one settles.
        let first = Fixture.key(&s, .char("j"))
        let second = Fixture.key(&s, .char("j"))
        guard case .restPreview(let old, let seconds)? = first.last, case .restPreview(let new, _)? = second.last else {
            Issue.record("no rest asked for: \(first) \(second)"); return
        }
        #expect(seconds > 0 && seconds <= 0.1 && new == old + 1)
        #expect(!s.previewSettled && Self.imageCells(view(s)) == 0, "moving: a placeholder, no picture")
        #expect(view(s).textLines().joined().contains("…"))
        #expect(!view(s).textLines().joined().contains("Caption"), "moving: the details wait too")
        _ = update(&s, .previewRested(serial: old))
        #expect(!s.previewSettled, "an older rest does not count")
        _ = update(&s, .previewRested(serial: new))
        #expect(s.previewSettled && Self.imageCells(view(s)) > 100)
        #expect(view(s).textLines().joined().contains("Caption"))
        // A key that moves nothing asks for no rest and keeps the picture.
        let none = Fixture.key(&s, .char("?"))
        #expect(!none.contains { if case .restPreview = $0 { return true }; return false } && s.previewSettled)
    }

    @Test func theSlowLinkKeyCoarsensImagesAndWaitsLonger() {
        var s = Fixture.state(width: 120, height: 40)
        let full = view(s)
        _ = Fixture.key(&s, .char("L"))
        #expect(s.capabilities.slowLink && s.status?.text.contains("slow link") == true)
        let coarse = view(s)
        // The same cells hold the picture, each a space on one colour, with fewer distinct colours.
        #expect(Self.imageCells(coarse) == Self.imageCells(full))
        var colours = Set<RGB>(), fullColours = Set<RGB>()
        for y in 0 ..< coarse.height { for x in 0 ..< coarse.width where coarse[x, y].style.role == .image {
            #expect(coarse[x, y].text == " ")
            if let bg = coarse[x, y].style.bg { colours.insert(bg) }
            if let fg = full[x, y].style.fg, full[x, y].text != " " { fullColours.insert(fg) }
            if let bg = full[x, y].style.bg { fullColours.insert(bg) }
        } }
        #expect(colours.count < fullColours.count / 2, "\(colours.count) colours against \(fullColours.count)")
        let moved = Fixture.key(&s, .char("j"))
        guard case .restPreview(_, let seconds)? = moved.last else { Issue.record("no rest asked for"); return }
        #expect(seconds >= 0.1)
        _ = Fixture.key(&s, .char("L"))
        #expect(!s.capabilities.slowLink)
    }
}
