import Imaging

// DEC sixel graphics.
//
// A sixel image is a DCS string: `ESC P P1;P2;P3 q <data> ESC \`. P2=1 leaves pixels that are
// not drawn as they are (so nothing is filled beyond the image). The data:
//   "Pan;Pad;Ph;Pv   raster attributes: pixel aspect 1:1 and the image size (here `"1;1;W;H`)
//   #Pc;2;Pr;Pg;Pb   defines colour register Pc as RGB on a 0...100 scale (Pu=2 is RGB)
//   #Pc              selects register Pc for the sixels that follow
//   ? ... ~          one sixel: a column of 6 pixels, bit k (value - 63) the k-th row from the top
//   !Pn<sixel>       the sixel repeated Pn times (run-length)
//   $                graphics carriage return: back to the band's left edge (the next colour
//                    is drawn over the same band)
//   -                graphics new line: the next band of 6 rows
// The encoder reduces the image to at most 256 colours with a median-cut palette (or the
// image's own colours when there are few enough), optionally with Floyd–Steinberg error
// diffusion, and writes each band as one run-length line per colour used in that band.
//
// Learnt from: DEC "VT330/VT340 Programmer Reference Manual", volume 2, chapter 14 "Sixel
// Graphics" (DCS parameters, raster attributes, colour introducer, repeat introducer);
// libsixel's and xterm's documentation of the same format (ctlseqs, "Sixel Graphics");
// P. Heckbert, "Color Image Quantization for Frame Buffer Display", SIGGRAPH 1982 (median cut);
// R. W. Floyd and L. Steinberg, "An Adaptive Algorithm for Spatial Greyscale", 1976 (the
// 7/16, 3/16, 5/16, 1/16 error weights).

/// Colour reduction and sixel options.
public struct SixelOptions: Sendable, Equatable {
    /// At most this many colour registers (2...256). Small images get fewer: see `Sixel.colorBudget`.
    public var maxColors: Int
    /// Floyd–Steinberg error diffusion (serpentine); smoother gradients, noisier flat areas.
    public var dither: Bool
    public init(maxColors: Int = 256, dither: Bool = true) {
        self.maxColors = maxColors; self.dither = dither
    }
}

/// Encodes images as DEC sixel. Pure: bytes out.
public enum Sixel {
    /// The sixel string for `image`.
    public static func encode(_ image: RGBImage, options: SixelOptions = SixelOptions()) throws(GraphicsError) -> [UInt8] {
        let quantized = try quantize(image, options: options)
        return write(quantized)
    }

    /// The sixel string for a frame (drawn at the cursor over the frame's cells).
    public static func encode(_ frame: GraphicsFrame, options: SixelOptions = SixelOptions()) throws(GraphicsError) -> [UInt8] {
        try encode(frame.image, options: options)
    }

    /// An image reduced to a palette: what the sixel string carries.
    public struct Quantized: Sendable, Equatable {
        public let width: Int
        public let height: Int
        /// The colour registers as sent, three values (R, G, B) per register on the 0...100 scale.
        public let registers: [UInt8]
        /// `width * height` register numbers.
        public let indices: [UInt8]
    }

    /// The colour budget for an image: `options.maxColors`, but at most one colour per 16 pixels
    /// (a 40x40 thumbnail gets 100), never below 2.
    public static func colorBudget(width: Int, height: Int, maxColors: Int) -> Int {
        max(2, min(maxColors, (width * height) / 16))
    }

    /// The palette (as 0...100 register values, three per colour) and the register of every pixel.
    public static func quantize(_ image: RGBImage, options: SixelOptions = SixelOptions()) throws(GraphicsError) -> Quantized {
        try GraphicsLimits.check(width: image.width, height: image.height, what: "sixel")
        guard (2...256).contains(options.maxColors) else {
            throw GraphicsError.invalidSize("sixel: \(options.maxColors) colours is outside 2...256")
        }
        let budget = colorBudget(width: image.width, height: image.height, maxColors: options.maxColors)
        let palette = exactColors(image, limit: budget) ?? medianCut(image, colors: budget)
        // Round to the register scale and back, so pixels are matched against the colours the
        // terminal will show; drop colours that become equal.
        var registers: [UInt8] = []
        var shown: [RGB] = []
        var seen = Set<RGB>()
        for c in palette {
            let p = (percent(c.r), percent(c.g), percent(c.b))
            let s = RGB(fromPercent(p.0), fromPercent(p.1), fromPercent(p.2))
            if seen.insert(s).inserted {
                registers += [p.0, p.1, p.2]
                shown.append(s)
            }
        }
        let matcher = NearestColor(shown)
        let indices = options.dither ? ditherFS(image, matcher) : mapDirect(image, matcher)
        return Quantized(width: image.width, height: image.height, registers: registers, indices: indices)
    }

    /// The DCS string for a quantized image.
    public static func write(_ q: Quantized) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(q.width * q.height / 2 + 4096)
        out += Array("\u{1B}P0;1;0q\"1;1;\(q.width);\(q.height)".utf8)
        let count = q.registers.count / 3
        for n in 0..<count {
            out += Array("#\(n);2;\(q.registers[n * 3]);\(q.registers[n * 3 + 1]);\(q.registers[n * 3 + 2])".utf8)
        }
        let width = q.width
        var bits = [UInt8](repeating: 0, count: count * width)
        var first = [Int](repeating: Int.max, count: count)
        var last = [Int](repeating: -1, count: count)
        var used: [Int] = []
        var band = 0
        while band < q.height {
            let rows = min(6, q.height - band)
            used.removeAll(keepingCapacity: true)
            for r in 0..<rows {
                let row = (band + r) * width
                let bit = UInt8(1 << r)
                for x in 0..<width {
                    let c = Int(q.indices[row + x])
                    if last[c] < 0 { used.append(c) }
                    if x < first[c] { first[c] = x }
                    if x > last[c] { last[c] = x }
                    bits[c * width + x] |= bit
                }
            }
            used.sort()
            for (k, c) in used.enumerated() {
                if k > 0 { out.append(0x24) }  // $
                out += Array("#\(c)".utf8)
                // Sixels before `first` are empty ('?'); nothing after `last` needs sending.
                var x = 0
                let end = last[c] + 1
                while x < end {
                    let value = bits[c * width + x]
                    var run = 1
                    while x + run < end && bits[c * width + x + run] == value { run += 1 }
                    let char = 0x3F + value
                    if run > 3 {
                        out += Array("!\(run)".utf8)
                        out.append(char)
                    } else {
                        for _ in 0..<run { out.append(char) }
                    }
                    x += run
                }
                for i in first[c]..<end { bits[c * width + i] = 0 }
                first[c] = Int.max
                last[c] = -1
            }
            band += 6
            if band < q.height { out.append(0x2D) }  // -
        }
        out += [0x1B, 0x5C]
        return out
    }

    // MARK: - Palette

    static func percent(_ v: UInt8) -> UInt8 { UInt8((Int(v) * 100 + 127) / 255) }
    static func fromPercent(_ p: UInt8) -> UInt8 { UInt8((Int(p) * 255 + 50) / 100) }

    /// The image's own colours when it has at most `limit` of them (so few-colour images lose
    /// nothing but the register rounding).
    static func exactColors(_ image: RGBImage, limit: Int) -> [RGB]? {
        var seen = Set<UInt32>()
        let px = image.pixels
        var i = 0
        while i < px.count {
            let key = UInt32(px[i]) << 16 | UInt32(px[i + 1]) << 8 | UInt32(px[i + 2])
            if seen.insert(key).inserted && seen.count > limit { return nil }
            i += 3
        }
        return seen.sorted().map { RGB(UInt8($0 >> 16), UInt8(($0 >> 8) & 0xFF), UInt8($0 & 0xFF)) }
    }

    /// One occupied cell of the 5-bit-per-channel histogram: its pixel count and the sums of
    /// its pixels' exact values.
    struct Bin {
        var key: (UInt8, UInt8, UInt8)
        var count: Int
        var sum: (Int, Int, Int)
        func coordinate(_ axis: Int) -> UInt8 { axis == 0 ? key.0 : axis == 1 ? key.1 : key.2 }
    }

    /// Median cut: starting from one box holding every histogram cell, repeatedly split the box
    /// with the largest squared error around its mean, along its channel of largest variance,
    /// at the pixel-weighted median; each final box's colour is the exact mean of its pixels.
    static func medianCut(_ image: RGBImage, colors: Int) -> [RGB] {
        var counts = [Int](repeating: 0, count: 32768)
        var sums = [Int](repeating: 0, count: 32768 * 3)
        let px = image.pixels
        var i = 0
        while i < px.count {
            let key = Int(px[i] >> 3) << 10 | Int(px[i + 1] >> 3) << 5 | Int(px[i + 2] >> 3)
            counts[key] += 1
            sums[key * 3] += Int(px[i]); sums[key * 3 + 1] += Int(px[i + 1]); sums[key * 3 + 2] += Int(px[i + 2])
            i += 3
        }
        var bins: [Bin] = []
        for key in 0..<32768 where counts[key] > 0 {
            bins.append(Bin(key: (UInt8(key >> 10), UInt8((key >> 5) & 31), UInt8(key & 31)), count: counts[key],
                            sum: (sums[key * 3], sums[key * 3 + 1], sums[key * 3 + 2])))
        }
        struct Box { var range: Range<Int>; var error: Double; var axis: Int }
        func measure(_ range: Range<Int>) -> Box {
            // Per-channel weighted variance of the bins' means (in 8-bit units).
            var n = 0.0
            var s0 = 0.0, s1 = 0.0, s2 = 0.0, q0 = 0.0, q1 = 0.0, q2 = 0.0
            for b in bins[range] {
                let w = Double(b.count)
                let m0 = Double(b.sum.0) / w, m1 = Double(b.sum.1) / w, m2 = Double(b.sum.2) / w
                n += w
                s0 += m0 * w; s1 += m1 * w; s2 += m2 * w
                q0 += m0 * m0 * w; q1 += m1 * m1 * w; q2 += m2 * m2 * w
            }
            let errors = [max(0, q0 - s0 * s0 / n), max(0, q1 - s1 * s1 / n), max(0, q2 - s2 * s2 / n)]
            let axis = errors[0] >= errors[1] ? (errors[0] >= errors[2] ? 0 : 2) : (errors[1] >= errors[2] ? 1 : 2)
            return Box(range: range, error: range.count > 1 ? errors[0] + errors[1] + errors[2] : 0, axis: axis)
        }
        var boxes = [measure(0..<bins.count)]
        while boxes.count < colors {
            guard let worst = boxes.indices.max(by: { boxes[$0].error < boxes[$1].error }), boxes[worst].error > 0 else { break }
            let box = boxes[worst]
            let axis = box.axis
            bins[box.range].sort { $0.coordinate(axis) < $1.coordinate(axis) }
            let total = bins[box.range].reduce(0) { $0 + $1.count }
            var running = 0
            var split = box.range.lowerBound + 1
            for j in box.range {
                running += bins[j].count
                if running * 2 >= total { split = j + 1; break }
            }
            split = min(max(split, box.range.lowerBound + 1), box.range.upperBound - 1)
            boxes[worst] = measure(box.range.lowerBound..<split)
            boxes.append(measure(split..<box.range.upperBound))
        }
        return boxes.map { box in
            var n = 0, r = 0, g = 0, b = 0
            for bin in bins[box.range] { n += bin.count; r += bin.sum.0; g += bin.sum.1; b += bin.sum.2 }
            return RGB(UInt8((r + n / 2) / n), UInt8((g + n / 2) / n), UInt8((b + n / 2) / n))
        }
    }

    // MARK: - Mapping

    /// Exact nearest palette colour (squared RGB distance) with the palette sorted by red and a
    /// search that stops once the red difference alone exceeds the best distance.
    struct NearestColor {
        let order: [Int]          // palette indices sorted by red
        let reds: [Int32]
        let greens: [Int32]
        let blues: [Int32]
        let colors: [RGB]         // the palette, by index

        init(_ palette: [RGB]) {
            colors = palette
            order = palette.indices.sorted { palette[$0].r < palette[$1].r }
            reds = order.map { Int32(palette[$0].r) }
            greens = order.map { Int32(palette[$0].g) }
            blues = order.map { Int32(palette[$0].b) }
        }

        func nearest(_ r: Int32, _ g: Int32, _ b: Int32) -> Int {
            // First sorted position with red >= r.
            var lo = 0, hi = reds.count
            while lo < hi { let mid = (lo + hi) / 2; if reds[mid] < r { lo = mid + 1 } else { hi = mid } }
            var best = Int32.max, bestAt = 0
            var up = lo, down = lo - 1
            while up < reds.count || down >= 0 {
                if up < reds.count {
                    let dr = reds[up] - r
                    if dr * dr >= best { up = reds.count } else {
                        let dg = greens[up] - g, db = blues[up] - b
                        let d = dr * dr + dg * dg + db * db
                        if d < best { best = d; bestAt = up }
                        up += 1
                    }
                }
                if down >= 0 {
                    let dr = reds[down] - r
                    if dr * dr >= best { down = -1 } else {
                        let dg = greens[down] - g, db = blues[down] - b
                        let d = dr * dr + dg * dg + db * db
                        if d < best { best = d; bestAt = down }
                        down -= 1
                    }
                }
            }
            return order[bestAt]
        }
    }

    static func mapDirect(_ image: RGBImage, _ matcher: NearestColor) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: image.width * image.height)
        var cache = [Int16](repeating: -1, count: 1 << 15)  // by 5-bit key, when the colour repeats exactly
        var cacheColor = [UInt32](repeating: 0, count: 1 << 15)
        let px = image.pixels
        for p in 0..<out.count {
            let r = px[p * 3], g = px[p * 3 + 1], b = px[p * 3 + 2]
            let full = UInt32(r) << 16 | UInt32(g) << 8 | UInt32(b)
            let key = Int(r >> 3) << 10 | Int(g >> 3) << 5 | Int(b >> 3)
            if cache[key] >= 0 && cacheColor[key] == full {
                out[p] = UInt8(cache[key])
            } else {
                let n = matcher.nearest(Int32(r), Int32(g), Int32(b))
                cache[key] = Int16(n); cacheColor[key] = full
                out[p] = UInt8(n)
            }
        }
        return out
    }

    /// Floyd–Steinberg, serpentine: the quantisation error of each pixel goes 7/16 to the next
    /// pixel in scan order, 3/16, 5/16 and 1/16 to the row below.
    static func ditherFS(_ image: RGBImage, _ matcher: NearestColor) -> [UInt8] {
        let w = image.width, h = image.height
        var out = [UInt8](repeating: 0, count: w * h)
        // Errors in 1/16 units for the current and next row, one pixel of margin each side.
        var current = [Int32](repeating: 0, count: (w + 2) * 3)
        var next = [Int32](repeating: 0, count: (w + 2) * 3)
        let px = image.pixels
        for y in 0..<h {
            let forward = y % 2 == 0
            for i in next.indices { next[i] = 0 }
            for step in 0..<w {
                let x = forward ? step : w - 1 - step
                let dir = forward ? 1 : -1
                let e = (x + 1) * 3
                func wanted(_ c: Int) -> Int32 {
                    let carried = current[e + c]
                    let v = Int32(px[(y * w + x) * 3 + c]) + (carried >= 0 ? (carried + 8) / 16 : -((-carried + 8) / 16))
                    return min(255, max(0, v))
                }
                let wr = wanted(0), wg = wanted(1), wb = wanted(2)
                let n = matcher.nearest(wr, wg, wb)
                out[y * w + x] = UInt8(n)
                let got = matcher.colors[n]
                let er = wr - Int32(got.r), eg = wg - Int32(got.g), eb = wb - Int32(got.b)
                let ahead = e + dir * 3, behind = e - dir * 3
                current[ahead] += er * 7; current[ahead + 1] += eg * 7; current[ahead + 2] += eb * 7
                next[behind] += er * 3; next[behind + 1] += eg * 3; next[behind + 2] += eb * 3
                next[e] += er * 5; next[e + 1] += eg * 5; next[e + 2] += eb * 5
                next[ahead] += er; next[ahead + 1] += eg; next[ahead + 2] += eb
            }
            swap(&current, &next)
        }
        return out
    }
}
