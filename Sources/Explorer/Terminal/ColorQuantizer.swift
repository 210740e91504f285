import Foundation
import Imaging

/// Maps 24-bit colours onto the xterm 256-colour and 16-colour palettes.
///
/// The 256-colour mapping never returns 0...15: those sixteen are user-configurable in every
/// terminal, so only the fixed 6x6x6 cube (16...231, levels 0, 95, 135, 175, 215, 255) and the
/// grey ramp (232...255, levels 8...238) give predictable colours. A colour goes to the entry
/// nearest by a perceptual distance (OKLab, with differences of hue and chroma counted twice:
/// on a palette this coarse a colour is recognised by its hue more than by a little lightness),
/// not by RGB distance, which sends pale and skin tones to greys or to the cube's pinks. Image pixels are dithered instead
/// (`dithered256`): an ordered (Bayer 4x4) pattern of the bracketing palette colours whose
/// average is the pixel's colour, so gradients and pastel tones keep their hue. The 16-colour
/// mapping (and `distance`) stay in RGB.
///
/// Speed: palette colours map back to their index at once; dithering is a table lookup per
/// channel; only other colours (theme colours, once per theme) are searched, over a
/// precomputed OKLab table of the 240 fixed colours.
public enum ColorQuantizer {
    /// The six levels of each channel in the xterm colour cube.
    static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]

    /// The standard xterm RGB values of the 16 ANSI colours (0-7 normal, 8-15 bright).
    public static let ansiPalette: [RGB] = [
        RGB(0, 0, 0), RGB(205, 0, 0), RGB(0, 205, 0), RGB(205, 205, 0),
        RGB(0, 0, 238), RGB(205, 0, 205), RGB(0, 205, 205), RGB(229, 229, 229),
        RGB(127, 127, 127), RGB(255, 0, 0), RGB(0, 255, 0), RGB(255, 255, 0),
        RGB(92, 92, 255), RGB(255, 0, 255), RGB(0, 255, 255), RGB(255, 255, 255),
    ]

    /// The perceptually nearest xterm-256 colour (16...255): the cube or the grey ramp.
    public static func xterm256(_ c: RGB) -> Int {
        if let exact = exactXterm256(c) { return exact }
        return nearest256(c, excluding: nil)
    }

    /// The perceptually nearest xterm-256 colour (16...255) other than `excluded`.
    /// Ties go to the lower index.
    public static func nearest256(_ c: RGB, excluding excluded: Int?) -> Int {
        let q = OKLab(c)
        let table = Palette256.table
        var best = -1
        var bestDistance = Float.infinity
        for k in 0..<table.count where k + 16 != excluded {
            let d = q.distanceSquared(table[k])
            if d < bestDistance { bestDistance = d; best = k + 16 }
        }
        return best
    }

    /// The index of a colour that is exactly a cube or grey-ramp colour; nil otherwise.
    @inline(__always)
    public static func exactXterm256(_ c: RGB) -> Int? {
        let r = Palette256.levelIndex[Int(c.r)], g = Palette256.levelIndex[Int(c.g)], b = Palette256.levelIndex[Int(c.b)]
        if r >= 0 && g >= 0 && b >= 0 { return 16 + 36 * Int(r) + 6 * Int(g) + Int(b) }
        if c.r == c.g && c.g == c.b, c.r >= 8, c.r <= 238, (c.r - 8) % 10 == 0 { return 232 + Int(c.r - 8) / 10 }
        return nil
    }

    /// An image pixel at (x, y) in 256 colours, ordered-dithered: each channel is rounded up or
    /// down to its bracketing cube levels by the 4x4 Bayer threshold at (x, y), so that over a
    /// small area the palette colours average to the pixel's colour. Near-greys (channels
    /// within `greyChroma` of each other) are dithered along the finer grey scale (the ramp and
    /// the cube's greys) instead. A palette colour comes back as itself.
    @inline(__always)
    public static func dithered256(_ c: RGB, x: Int, y: Int) -> Int {
        let threshold = Int(bayer4[(y & 3) << 2 | (x & 3)]) * 16 + 8
        let r = Int(c.r), g = Int(c.g), b = Int(c.b)
        if max(r, g, b) - min(r, g, b) < greyChroma {
            let step = Palette256.greySteps[(r + g + b) / 3]
            return Int(step.fraction) > threshold ? Int(step.hi) : Int(step.lo)
        }
        @inline(__always) func level(_ v: Int) -> Int {
            let step = Palette256.cubeSteps[v]
            return Int(step.fraction) > threshold ? Int(step.hi) : Int(step.lo)
        }
        return 16 + 36 * level(r) + 6 * level(g) + level(b)
    }

    /// Pixels whose channels differ by less than this are dithered as greys.
    static let greyChroma = 10

    /// The 4x4 Bayer matrix (thresholds 0...15, row-major).
    static let bayer4: [UInt8] = [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5]

    /// The perceptual distance the 256-colour mapping minimises: OKLab, the a and b (hue and
    /// chroma) differences weighted by `chromaWeight` (about 0.02 is a just-noticeable
    /// difference; black to white is 1).
    public static func perceptualDistance(_ a: RGB, _ b: RGB) -> Float {
        OKLab(a).distanceSquared(OKLab(b)).squareRoot()
    }

    /// How much more a difference of hue or chroma counts than one of lightness (squared).
    static let chromaWeight: Float = 2

    /// The nearest of the 16 ANSI colours (0...15), by their standard xterm values.
    public static func ansi16(_ c: RGB) -> Int { nearest(c, among: 0..<16) }

    /// The RGB value of an xterm-256 colour index (0...255; out-of-range indices are clamped).
    public static func rgb(ofXterm256 index: Int) -> RGB {
        let i = min(255, max(0, index))
        if i < 16 { return ansiPalette[i] }
        if i >= 232 {
            let v = UInt8(8 + 10 * (i - 232))
            return RGB(v, v, v)
        }
        let k = i - 16
        return RGB(UInt8(cubeLevels[k / 36]), UInt8(cubeLevels[(k / 6) % 6]), UInt8(cubeLevels[k % 6]))
    }

    /// The palette index in `candidates` nearest to `c` by RGB distance (the 16-colour
    /// mapping), skipping `excluded` (-1 if every candidate is excluded). Ties go to the lower index.
    public static func nearest(_ c: RGB, among candidates: Range<Int>, excluding excluded: Int? = nil) -> Int {
        var best = -1
        var bestDistance = Int.max
        for i in candidates where i != excluded {
            let d = distance(c, rgb(ofXterm256: i))
            if d < bestDistance { bestDistance = d; best = i }
        }
        return best
    }

    /// Squared Euclidean distance between two colours.
    public static func distance(_ a: RGB, _ b: RGB) -> Int {
        square(Int(a.r) - Int(b.r)) + square(Int(a.g) - Int(b.g)) + square(Int(a.b) - Int(b.b))
    }

    @inline(__always) static func square(_ v: Int) -> Int { v * v }
}

/// A colour in OKLab (Björn Ottosson's perceptual space: L lightness 0...1, a and b the
/// green-red and blue-yellow axes).
struct OKLab: Sendable {
    var l: Float, a: Float, b: Float

    init(l: Float, a: Float, b: Float) { self.l = l; self.a = a; self.b = b }

    init(_ c: RGB) {
        let lin = Palette256.linear
        let r = lin[Int(c.r)], g = lin[Int(c.g)], b = lin[Int(c.b)]
        let l = Float(cbrt(Double(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b)))
        let m = Float(cbrt(Double(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b)))
        let s = Float(cbrt(Double(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b)))
        self.l = 0.2104542553 * l + 0.7936177850 * m - 0.0040720468 * s
        self.a = 1.9779984951 * l - 2.4285922050 * m + 0.4505937099 * s
        self.b = 0.0259040371 * l + 0.7827717662 * m - 0.8086757660 * s
    }

    /// The squared distance, with `ColorQuantizer.chromaWeight` on the a and b terms.
    @inline(__always) func distanceSquared(_ o: OKLab) -> Float {
        let dl = l - o.l, da = a - o.a, db = b - o.b
        return dl * dl + ColorQuantizer.chromaWeight * (da * da + db * db)
    }
}

/// Tables for the 256-colour mapping, built once.
enum Palette256 {
    /// sRGB channel value to linear light (0...1).
    static let linear: [Float] = (0..<256).map { v in
        let s = Double(v) / 255
        return Float(s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4))
    }

    /// The OKLab values of colours 16...255 (index - 16).
    static let table: [OKLab] = (16..<256).map { OKLab(ColorQuantizer.rgb(ofXterm256: $0)) }

    /// For each channel value, its cube level index (0...5), or -1 when it is not a level.
    static let levelIndex: [Int8] = (0..<256).map { v in Int8(ColorQuantizer.cubeLevels.firstIndex(of: v) ?? -1) }

    /// A value between two palette steps: the lower and upper step (cube level indices, or
    /// palette indices for greys) and how far up it is, in 256ths.
    struct Step: Sendable { var lo: UInt8; var hi: UInt8; var fraction: UInt16 }

    static func steps(_ levels: [Int], _ ids: [Int]) -> [Step] {
        (0..<256).map { v in
            var i = 0
            while i + 1 < levels.count && levels[i + 1] <= v { i += 1 }
            guard i + 1 < levels.count else { return Step(lo: UInt8(ids[i]), hi: UInt8(ids[i]), fraction: 0) }
            let f = (v - levels[i]) * 256 / (levels[i + 1] - levels[i])
            return Step(lo: UInt8(ids[i]), hi: UInt8(ids[i + 1]), fraction: UInt16(f))
        }
    }

    /// Each channel value between its bracketing cube levels (as level indices 0...5).
    static let cubeSteps: [Step] = steps(ColorQuantizer.cubeLevels, Array(0..<6))

    /// Each grey between its bracketing greys of the palette (the ramp and the cube's six),
    /// as palette indices.
    static let greySteps: [Step] = {
        var greys: [(level: Int, index: Int)] = (0..<24).map { (8 + 10 * $0, 232 + $0) }
        greys += ColorQuantizer.cubeLevels.enumerated().map { ($0.element, 16 + 43 * $0.offset) }
        greys.sort { $0.level < $1.level }
        return steps(greys.map(\.level), greys.map(\.index))
    }()
}
