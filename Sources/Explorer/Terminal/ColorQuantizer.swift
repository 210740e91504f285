import Imaging

/// Maps 24-bit colours onto the xterm 256-colour and 16-colour palettes.
///
/// Distances are squared Euclidean distances in RGB. The 256-colour mapping
/// never returns 0...15: those sixteen are user-configurable in every
/// terminal, so only the fixed 6x6x6 cube (16...231) and grey ramp
/// (232...255) give predictable colours.
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

    /// The nearest xterm-256 colour (16...255): the nearest cube colour or the
    /// nearest grey of the ramp, whichever is closer (the cube wins ties).
    public static func xterm256(_ c: RGB) -> Int {
        let r = Int(c.r), g = Int(c.g), b = Int(c.b)
        let ri = cubeIndex(r), gi = cubeIndex(g), bi = cubeIndex(b)
        let cr = cubeLevels[ri], cg = cubeLevels[gi], cb = cubeLevels[bi]
        let cubeDistance = square(r - cr) + square(g - cg) + square(b - cb)

        // Grey ramp: 232 + i has level 8 + 10 i, i in 0...23.
        let average = (r + g + b) / 3
        let gi2 = min(23, max(0, (average - 3) / 10))
        let level = 8 + 10 * gi2
        let greyDistance = square(r - level) + square(g - level) + square(b - level)

        if greyDistance < cubeDistance { return 232 + gi2 }
        return 16 + 36 * ri + 6 * gi + bi
    }

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

    /// The palette index in `candidates` nearest to `c`, skipping `excluded`
    /// (nil if every candidate is excluded). Ties go to the lower index.
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

    /// The nearest cube level index for a channel value (midpoints 47.5, 115, 155, 195, 235).
    @inline(__always) static func cubeIndex(_ v: Int) -> Int {
        if v < 48 { return 0 }
        if v < 115 { return 1 }
        return min(5, (v - 35) / 40)
    }

    @inline(__always) static func square(_ v: Int) -> Int { v * v }
}
