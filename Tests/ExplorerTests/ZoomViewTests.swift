import Catalog
import Explorer
import Foundation
import Imaging
import Retrieval
import Testing

/// The zoom view (`z`), the images key (`I`) and pictures in frames (issue 16): the pure update
/// and view, with frame snapshots of the zoom and side-by-side layouts.
@Suite struct ZoomViewTests {
    let driver = Driver()

    /// A state whose terminal shows kitty graphics with cells of 10x20 pixels.
    static func pixels(_ s: inout ExplorerState, _ mode: GraphicsProtocol = .kitty) {
        s.capabilities.pixelProtocol = mode
        s.capabilities.images = mode
        s.capabilities.cellPixels = CellPixelSize(width: 10, height: 20)
    }

    /// A pair query (gallery sample 100002, which has an image) with its results, the first
    /// match highlighted.
    func searched(width: Int = 100, height: Int = 30, pixels: Bool = false) -> ExplorerState {
        var s = Driver.state(width: width, height: height)
        if pixels { Self.pixels(&s) }
        driver.key(&s, .char("j"))
        driver.key(&s, .enter)
        s.status = nil
        return s
    }

    /// The bounding box of the cells drawn as image pixels (half blocks) in columns x0..<x1.
    func imageBox(_ frame: Frame, columns: Range<Int>) -> Rect? {
        var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
        for y in 0..<frame.height { for x in columns where frame[x, y].style.role == .image && frame[x, y].style.bg != nil {
            minX = min(minX, x); maxX = max(maxX, x); minY = min(minY, y); maxY = max(maxY, y)
        } }
        return maxX < 0 ? nil : Rect(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1)
    }

    @Test func zoomOnTheSelectedSampleInTheBrowser() {
        var s = Driver.state(width: 100, height: 30)
        driver.key(&s, .char("z"))
        #expect(s.zoomed && s.context == .zoom)
        let frame = view(s)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("zoom · 100001"))
        #expect(text.contains("100001 · single"))
        // The picture takes most of the body's width or height.
        let box = imageBox(frame, columns: 0..<100)!
        #expect(box.width >= 80 || box.height >= 20, "picture \(box)")
        Snapshot.check(frame, "zoom-browser-100x30")
        driver.key(&s, .char("j"))
        #expect(s.zoomed && s.selectedSample?.id == "100002")
        #expect(view(s).textLines().joined().contains("zoom · 100002"))
        driver.key(&s, .escape)
        #expect(!s.zoomed && s.context == .browser)
    }

    @Test func sideBySideWithThePairQueryAtOneScale() {
        var s = searched()
        driver.key(&s, .char("z"))
        let frame = view(s)
        let text = frame.textLines().joined(separator: "\n")
        #expect(text.contains("zoom · match #1 of"))
        #expect(text.contains("query · 100002 · image + caption"))
        #expect(text.contains("#1 · "))
        let left = imageBox(frame, columns: 0..<50)!, right = imageBox(frame, columns: 50..<100)!
        // Both fixture images are 48x32: at one scale they take the same cells.
        #expect(left.width == right.width && left.height == right.height, "\(left) \(right)")
        #expect(left.y == right.y)
        Snapshot.check(frame, "zoom-side-by-side-100x30")
        // j walks the matches, still zoomed; the query stays on the left.
        let first = s.retrieval.results.selectedRow?.sampleID
        driver.key(&s, .char("j"))
        #expect(s.zoomed && s.retrieval.results.selectedRow?.sampleID != first)
        #expect(view(s).textLines().joined().contains("#2 · "))
    }

    @Test func aCaptionQueryZoomsOnTheMatchAlone() {
        var s = Driver.state(width: 100, height: 30)
        driver.search(&s, "aurelle")
        driver.key(&s, .char("z"))
        let text = view(s).textLines().joined(separator: "\n")
        #expect(s.zoomed && !text.contains("query ·"))
        #expect(text.contains("#1 · "))
    }

    @Test func attentionIsToggledOverTheMatch() {
        var s = searched(pixels: true)
        driver.key(&s, .char("z"))
        #expect(view(s).pictures.allSatisfy { $0.tint == nil })
        driver.key(&s, .char("a"))
        #expect(s.zoomed && s.retrieval.results.showAttention)
        let frame = view(s)
        let tinted = frame.pictures.filter { $0.tint != nil }
        #expect(tinted.count == 1 && tinted[0].key.contains("|attention:"))
        // The tinted picture is the match's, on the right; the query's is untouched.
        #expect(tinted[0].rect.x >= 50)
        #expect(frame.textLines().joined().contains("· attention"))
        driver.key(&s, .char("a"))
        #expect(view(s).pictures.allSatisfy { $0.tint == nil })
    }

    @Test func picturesInPixelModeLeaveTheirCellsBlank() {
        var s = searched(pixels: true)
        driver.key(&s, .char("z"))
        let frame = view(s)
        #expect(frame.pictures.count == 2)
        let cell = CellPixelSize(width: 10, height: 20)
        for p in frame.pictures {
            // The rectangle is exactly what GraphicsFrame.fitting(.contain) will fill.
            let fitted = try! GraphicsFrame.fitting(p.source, columns: p.rect.width, rows: p.rect.height, cellSize: cell)
            #expect(fitted.columns == p.rect.width && fitted.rows == p.rect.height, "\(p.rect)")
            for y in p.rect.y..<p.rect.maxY { for x in p.rect.x..<p.rect.maxX {
                #expect(frame[x, y].text == " " && frame[x, y].style.bg == nil)
            } }
            #expect(p.rect.maxY < frame.height - 1, "pictures stay off the footer")
        }
        if frame.pictures.count == 2 { #expect(frame.pictures[0].rect.width == frame.pictures[1].rect.width, "one scale") }
        Snapshot.check(frame, "zoom-side-by-side-pixels-100x30")
        // The help over it: the pictures become half blocks around the overlay.
        driver.key(&s, .char("?"))
        let helped = view(s)
        #expect(helped.pictures.isEmpty)
        #expect(imageBox(helped, columns: 0..<100) != nil)
    }

    @Test func theReviewQueueZoomsOnItsPair() throws {
        var s = try ReviewQueueTests.opened()
        s.images = ImageCache()   // opened() drops the decodes R asked for
        let first = s.review?.current?.row.sampleID, query = s.review?.current?.queryID ?? "?"
        Fixture.settle(&s, Fixture.key(&s, .char("z")))
        #expect(s.zoomed && s.context == .zoom)
        let text = view(s).textLines().joined(separator: "\n")
        #expect(text.contains("zoom · review pair 1 of"))
        #expect(text.contains("query · \(query)"), "the pair's query on the left")
        #expect(!text.contains("loading image"))
        #expect(text.contains("#1 · \(first ?? "?")"))
        // j walks the pairs; a has no attention here and says why; esc goes back to the queue.
        Fixture.settle(&s, Fixture.key(&s, .char("j")))
        #expect(s.zoomed && s.review?.position == 1)
        _ = Fixture.key(&s, .char("a"))
        #expect(s.status?.text.contains("no attention") == true)
        _ = Fixture.key(&s, .escape)
        #expect(!s.zoomed && s.context == .review)
    }

    @Test func otherActionsCloseTheZoom() {
        var s = searched()
        driver.key(&s, .char("z"))
        driver.key(&s, .char("T"))   // the theme key keeps it
        #expect(s.zoomed)
        driver.key(&s, .char("D"))   // the dashboard replaces it
        #expect(!s.zoomed)
    }

    @Test func nothingToZoomSaysSo() {
        var s = Driver.state(width: 100, height: 30)
        driver.key(&s, .char("/"))
        for c in "no such thing" { driver.key(&s, .char(c)) }
        driver.key(&s, .enter)
        driver.key(&s, .char("z"))
        #expect(!s.zoomed)
        #expect(s.status?.text.contains("nothing to zoom") == true)
    }

    @Test func theImagesKeyCyclesWhatTheTerminalShows() {
        var s = Driver.state(width: 100, height: 30)
        Self.pixels(&s, .sixel)
        #expect(s.capabilities.imageModes == [.sixel, .blocks, .ascii])
        #expect(!view(s).pictures.isEmpty)
        driver.key(&s, .char("I"))
        #expect(s.capabilities.imageMode == .blocks && view(s).pictures.isEmpty)
        #expect(s.status?.text == "images: half blocks")
        driver.key(&s, .char("I"))
        #expect(s.capabilities.imageMode == .ascii)
        let ascii = view(s)
        #expect(ascii.pictures.isEmpty && !ascii.cells.contains { $0.text == "▀" })
        driver.key(&s, .char("I"))
        #expect(s.capabilities.imageMode == .sixel)
        // A slow link keeps blocks, and says so.
        driver.key(&s, .char("L"))
        #expect(s.capabilities.imageMode == .blocks && view(s).pictures.isEmpty)
        // A terminal without pixels cycles blocks and ASCII.
        var plain = Driver.state(width: 100, height: 30)
        #expect(plain.capabilities.imageModes == [.blocks, .ascii])
        driver.key(&plain, .char("I"))
        #expect(plain.capabilities.imageMode == .ascii)
        var mono = Driver.state(width: 100, height: 30, colorMode: .none, unicode: false)
        driver.key(&mono, .char("I"))
        #expect(mono.capabilities.imageMode == .ascii && mono.status?.text.contains("no other kind") == true)
    }

    @Test func aGuestDrawsThumbnailsInBlocksAndTheMatchInPixels() {
        var s = searched(width: 120, height: 40, pixels: true)
        #expect(view(s).pictures.count > 1, "the host gets pixel thumbnails")
        s.guest = GuestState(limits: GuestLimits())
        let frame = view(s)
        #expect(frame.pictures.count == 1, "only the large picture: \(frame.pictures.map(\.rect))")
        #expect(imageBox(frame, columns: 0..<60) != nil, "thumbnails in half blocks")
    }

    @Test func aPictureTheTerminalCouldNotBeSentIsSaidInTheFooter() {
        var s = Driver.state(width: 100, height: 30)
        _ = update(&s, .pictureFailed("picture at column 3, row 2 (5x4 cells): reaches the last row"))
        #expect(s.status?.role == .warning)
        #expect(s.status?.text == "a picture could not be drawn: picture at column 3, row 2 (5x4 cells): reaches the last row; I draws images another way")
    }

    @Test func pictureFitMatchesTheEncoder() {
        let cell = CellPixelSize(width: 9, height: 19)
        for (w, h) in [(430, 360), (48, 32), (1, 900), (900, 1), (640, 640)] {
            for (cols, rows) in [(43, 18), (5, 2), (120, 40), (1, 1)] {
                let fit = PictureFit.cells(width: w, height: h, columns: cols, rows: rows, cell: cell)
                let frame = try! GraphicsFrame.fitting(RGBImage(width: w, height: h), columns: cols, rows: rows, cellSize: cell)
                #expect(fit.columns == frame.columns && fit.rows == frame.rows, "\(w)x\(h) in \(cols)x\(rows)")
            }
        }
    }

    @Test func lateGraphicsRepliesAreDropped() {
        func input(_ text: String) -> [(code: Bool, value: UInt32)] { text.unicodeScalars.map { (false, $0.value) } }
        func text(_ keys: [(code: Bool, value: UInt32)]) -> String { String(String.UnicodeScalarView(keys.compactMap { Unicode.Scalar($0.value) })) }
        // Two queries gave up: the colour query's and the graphics query's, each ending with DA1.
        var filter = LateReplyFilter(armedAt: 0).adding(queryAt: 10)
        let late = "j\u{1B}_Gi=7331;OK\u{1B}\\\u{1B}[6;20;10t\u{1B}[4;800;1000tk\u{1B}[?62;4c\u{1B}P1$r48:2:1:2:3m\u{1B}\\x\u{1B}[?62;4cq"
        #expect(text(filter.strip(input(late), now: 100)) == "jkxq")
        #expect(!filter.isArmed(at: 100), "both DA1 answers came: the filter is off")
        // Keys that look like replies, typed later, are keys.
        #expect(text(filter.strip(input("\u{1B}[6;20;10t"), now: 200)).count == 10)
    }
}
