import Explorer
import Foundation
import Imaging
import Testing

/// The 256-colour mapping on colour fixtures: pure, mid and skin tones, and images, which are
/// dithered so that they keep their colours instead of turning into grey or pink blocks.
@Suite("256 colours")
struct Colour256Tests {
    func isGrey(_ c: RGB) -> Bool { c.r == c.g && c.g == c.b }

    @Test func pureColoursMapToTheCubeCorners() {
        let expected: [(RGB, Int)] = [
            (RGB(255, 0, 0), 196), (RGB(0, 255, 0), 46), (RGB(0, 0, 255), 21), (RGB(255, 255, 0), 226),
            (RGB(0, 255, 255), 51), (RGB(255, 0, 255), 201), (RGB(255, 255, 255), 231), (RGB(0, 0, 0), 16),
        ]
        for (c, i) in expected { #expect(ColorQuantizer.xterm256(c) == i, "\(c.hex)") }
    }

    @Test func midTones() {
        let expected: [(RGB, Int)] = [
            (RGB(128, 128, 128), 244),   // a grey of the ramp
            (RGB(0, 128, 128), 30),      // teal: 0087af... (0, 135, 135)
            (RGB(128, 0, 128), 90),      // purple: (135, 0, 135)
            (RGB(255, 165, 0), 214),     // orange: (255, 175, 0)
            (RGB(100, 149, 237), 68),    // cornflower blue: (95, 135, 215), not the brighter 69
            (RGB(128, 64, 32), 94),      // brown: (135, 95, 0), not dark red (135, 0, 0)
        ]
        for (c, i) in expected {
            #expect(ColorQuantizer.xterm256(c) == i, "\(c.hex) became \(ColorQuantizer.xterm256(c))")
        }
    }

    @Test func skinTonesKeepTheirHue() {
        let expected: [(RGB, Int)] = [
            (RGB(255, 224, 196), 223),   // (255, 215, 175), not the pink (255, 215, 215)
            (RGB(224, 172, 145), 180),   // (215, 175, 135)
            (RGB(198, 134, 66), 172),    // (215, 135, 0)
            (RGB(141, 85, 36), 94),      // (135, 95, 0)
            (RGB(240, 200, 190), 224),   // (255, 215, 215), not the grey (208, 208, 208)
        ]
        for (c, i) in expected {
            let got = ColorQuantizer.xterm256(c)
            #expect(got == i, "\(c.hex) became \(got) \(ColorQuantizer.rgb(ofXterm256: got).hex)")
            let q = ColorQuantizer.rgb(ofXterm256: got)
            #expect(!isGrey(q) && q.r >= q.g && q.g >= q.b, "\(c.hex) lost its warm hue: \(q.hex)")
        }
    }

    @Test func paletteColoursMapToThemselvesDitheredOrNot() {
        for i in 16..<256 {
            let c = ColorQuantizer.rgb(ofXterm256: i)
            #expect(ColorQuantizer.xterm256(c) == i)
            for (x, y) in [(0, 0), (1, 2), (3, 3), (2, 1)] { #expect(ColorQuantizer.dithered256(c, x: x, y: y) == i, "\(i) at \(x),\(y)") }
        }
    }

    /// The mean of the dithered palette colours over one 4x4 Bayer tile.
    func tileMean(_ c: RGB) -> (Double, Double, Double) {
        var r = 0.0, g = 0.0, b = 0.0
        for y in 0..<4 { for x in 0..<4 {
            let q = ColorQuantizer.rgb(ofXterm256: ColorQuantizer.dithered256(c, x: x, y: y))
            r += Double(q.r); g += Double(q.g); b += Double(q.b)
        } }
        return (r / 16, g / 16, b / 16)
    }

    @Test func ditheringAveragesToTheColour() {
        // Skin tones from pale to dark (the darkest has no close colour in the palette at all:
        // its nearest is a grey), pastels, and a spread of others.
        var colours = [RGB(255, 224, 196), RGB(241, 194, 167), RGB(224, 172, 145), RGB(198, 134, 66), RGB(141, 85, 36),
                       RGB(92, 51, 23), RGB(60, 40, 30), RGB(250, 220, 200), RGB(230, 215, 205), RGB(200, 180, 230)]
        var state: UInt64 = 7
        for _ in 0..<200 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            colours.append(RGB(UInt8(truncatingIfNeeded: state >> 20), UInt8(truncatingIfNeeded: state >> 30), UInt8(truncatingIfNeeded: state >> 40)))
        }
        for c in colours {
            let (r, g, b) = tileMean(c)
            // Within a sixteenth of the widest step (0 to 95) of each channel, plus rounding.
            let worst = max(abs(r - Double(c.r)), abs(g - Double(c.g)), abs(b - Double(c.b)))
            #expect(worst <= 7, "\(c.hex): tile mean \(r), \(g), \(b)")
        }
        // The dark brown's tile is mostly warm colours, not its nearest grey.
        let brown = RGB(92, 51, 23)
        let tile = (0..<16).map { k in ColorQuantizer.rgb(ofXterm256: ColorQuantizer.dithered256(brown, x: k % 4, y: k / 4)) }
        #expect(tile.filter { $0.r > $0.b }.count >= 10)
        #expect(tile.filter(isGrey).count < 8)
    }

    /// An image drawn in 256 colours: the cells' colours.
    func drawn256(_ image: RGBImage, width: Int, height: Int) -> [RGB] {
        var frame = Frame(width: width, height: height)
        ImageCells.draw(image, into: &frame, rect: Rect(x: 0, y: 0, width: width, height: height),
                        capabilities: TerminalCapabilities(colorMode: .ansi256, unicode: true, mouse: false))
        // A half block shows its foreground on top; a space (both halves alike) its background twice.
        return frame.cells.flatMap { cell in
            (cell.text == " " ? [cell.style.bg, cell.style.bg] : [cell.style.fg, cell.style.bg]).compactMap { $0 }
        }
    }

    @Test func aGradientImageIsNotTurnedGrey() {
        // A soft gradient, light skin to a muted mauve: every colour of it is low in chroma, so
        // the nearest-colour mapping alone draws most of it in greys (and pinks).
        let w = 64, h = 32
        var img = RGBImage(width: w, height: h)
        for y in 0..<h { for x in 0..<w {
            let t = Double(x) / Double(w - 1)
            func mix(_ a: Double, _ b: Double) -> UInt8 { UInt8((a + (b - a) * t).rounded()) }
            img[x, y] = RGB(mix(250, 180), mix(220, 160), mix(200, 175))
        } }
        let nearestGreys = (0..<w).filter { x in
            let q = ColorQuantizer.rgb(ofXterm256: ColorQuantizer.xterm256(img[x, 0]))
            return isGrey(q)
        }.count
        #expect(nearestGreys > w / 3, "the fixture should be one that nearest-colour mapping greys out")

        let colours = drawn256(img, width: w, height: h / 2)
        #expect(colours.count == w * h)
        // Every drawn colour is one of the palette's (so the back end maps it exactly).
        #expect(colours.allSatisfy { ColorQuantizer.exactXterm256($0) != nil })
        // Greys are part of the mix (a low chroma is made of them), not most of it.
        let greys = colours.filter(isGrey).count
        #expect(greys * 5 < colours.count * 2, "\(greys) of \(colours.count) pixels grey")
        // Each 4-pixel-wide band averages to the gradient's colour there, hue included; the
        // nearest-colour mapping is far off in many bands.
        var nearestFarOff = 0
        for band in stride(from: 0, to: w, by: 4) {
            var sum = (0.0, 0.0, 0.0), nearest = (0.0, 0.0, 0.0), want = (0.0, 0.0, 0.0)
            for y in 0..<h { for x in band..<band + 4 {
                let q = colours[(y / 2) * w * 2 + x * 2 + (y % 2)]
                sum.0 += Double(q.r); sum.1 += Double(q.g); sum.2 += Double(q.b)
                let c = img[x, y]
                want.0 += Double(c.r); want.1 += Double(c.g); want.2 += Double(c.b)
                let p = ColorQuantizer.rgb(ofXterm256: ColorQuantizer.xterm256(c))
                nearest.0 += Double(p.r); nearest.1 += Double(p.g); nearest.2 += Double(p.b)
            } }
            let n = Double(4 * h)
            let error = max(abs(sum.0 - want.0), abs(sum.1 - want.1), abs(sum.2 - want.2)) / n
            #expect(error <= 6, "band at \(band): off by \(error)")
            if max(abs(nearest.0 - want.0), abs(nearest.1 - want.1), abs(nearest.2 - want.2)) / n > 10 { nearestFarOff += 1 }
        }
        #expect(nearestFarOff >= 4)
    }

    @Test func truecolorKeepsFiveBitsAChannelAndOtherModesThePixelColours() {
        var img = RGBImage(width: 2, height: 2)
        img[0, 0] = RGB(250, 220, 200)
        var frame = Frame(width: 2, height: 1)
        ImageCells.draw(img, into: &frame, rect: Rect(x: 0, y: 0, width: 2, height: 1),
                        capabilities: TerminalCapabilities(colorMode: .truecolor, unicode: true, mouse: false))
        // 4 bits a channel, the middle of the step: within 8 of the pixel, neighbours merge into runs.
        #expect(frame[0, 0].style.fg == RGB(248, 216, 200))
        var plain = Frame(width: 2, height: 1)
        ImageCells.draw(img, into: &plain, rect: Rect(x: 0, y: 0, width: 2, height: 1),
                        capabilities: TerminalCapabilities(colorMode: .ansi16, unicode: true, mouse: false))
        #expect(plain[0, 0].style.fg == RGB(250, 220, 200))
        // Both halves alike: a space on that background (the foreground does not matter).
        var flat = Frame(width: 2, height: 1)
        ImageCells.draw(RGBImage(width: 2, height: 2, fill: RGB(10, 200, 30)), into: &flat, rect: Rect(x: 0, y: 0, width: 2, height: 1),
                        capabilities: TerminalCapabilities(colorMode: .truecolor, unicode: true, mouse: false))
        #expect(flat[0, 0].text == " " && flat[0, 0].style.bg == RGB(8, 200, 24) && flat[1, 0].text == " ")
    }

    @Test func aSlowLinkDrawsOneCoarseColourACell() {
        // Top pixel red-ish, bottom blue-ish: a full-detail cell is a half block with both; over a
        // slow link, a space on their mean at 3 bits a channel, and a flat area is one run.
        var img = RGBImage(width: 2, height: 2, fill: RGB(100, 100, 100))
        img[0, 0] = RGB(200, 40, 40); img[0, 1] = RGB(40, 40, 200)
        let slow = TerminalCapabilities(colorMode: .truecolor, unicode: true, mouse: false, slowLink: true)
        var frame = Frame(width: 2, height: 1)
        ImageCells.draw(img, into: &frame, rect: Rect(x: 0, y: 0, width: 2, height: 1), capabilities: slow)
        #expect(frame[0, 0].text == " " && frame[1, 0].text == " ")
        #expect(frame[0, 0].style.bg == RGB(112, 48, 112))   // mean (120, 40, 120), then 3 bits a channel
        #expect(frame[1, 0].style.bg == RGB(112, 112, 112))
        // Only the background changes along a row: the foreground stays the first cell's.
        #expect(frame[1, 0].style.fg == frame[0, 0].style.fg)
        // In 256 colours, the nearest palette colour, without the dither that would break runs.
        var gradient = RGBImage(width: 16, height: 2)
        for x in 0..<16 { gradient[x, 0] = RGB(UInt8(120 + x), 80, 60); gradient[x, 1] = gradient[x, 0] }
        var cells = Frame(width: 16, height: 1)
        ImageCells.draw(gradient, into: &cells, rect: Rect(x: 0, y: 0, width: 16, height: 1),
                        capabilities: TerminalCapabilities(colorMode: .ansi256, unicode: true, mouse: false, slowLink: true))
        #expect(Set((0..<16).compactMap { cells[$0, 0].style.bg }).count <= 2)
        // Without colour or UTF-8, the ASCII ramp as before.
        var ascii = Frame(width: 2, height: 1)
        ImageCells.draw(img, into: &ascii, rect: Rect(x: 0, y: 0, width: 2, height: 1),
                        capabilities: TerminalCapabilities(colorMode: .none, unicode: false, mouse: false, slowLink: true))
        #expect(ImageCells.asciiRamp.contains(Character(ascii[0, 0].text)))
    }

    @Test func ditheringIsATableLookup() {
        // A million pixels well under a second: no search per pixel.
        let start = Date()
        var sum = 0
        for i in 0..<1_000_000 {
            let c = RGB(UInt8(truncatingIfNeeded: i &* 7), UInt8(truncatingIfNeeded: i &* 13), UInt8(truncatingIfNeeded: i &* 29))
            sum &+= ColorQuantizer.dithered256(c, x: i, y: i >> 8)
        }
        #expect(sum > 0)
        #expect(Date().timeIntervalSince(start) < 1.0)
    }
}
