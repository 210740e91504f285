import Foundation
import Imaging

/// Renders one SampleData picture: a backdrop, then one product (a gallery or
/// training view) or a suit of several, lit and composed at random.
enum SynthScene {
    /// Draws `products` (instance indices, repeats allowed) on a `width` x `height` picture.
    /// All randomness comes from `rng`, so a picture is a function of its generator.
    static func render(_ products: [Int], catalogue: SynthCatalogue, width: Int, height: Int,
                       rng: inout SynthRNG) -> RGBImage {
        var canvas = SynthCanvas(width: width, height: height)
        let floorLine = SynthBackdrop.paint(&canvas, rng: &rng)
        let light = SynthLight(x: rng.jitter(0.85), ambient: rng.float(0.42, 0.62),
                               highlightWidth: rng.float(0.1, 0.2), sheen: rng.float(0.6, 1.0))
        let placements = products.count == 1
            ? [single(catalogue.instances[products[0]], width: width, height: height, floorLine: floorLine, rng: &rng)]
            : suit(products.map { catalogue.instances[$0] }, width: width, height: height, rng: &rng)
        // Paint from the back (highest base line) to the front.
        let order = placements.indices.sorted { a, b in
            let pa = placements[a].origin.y, pb = placements[b].origin.y
            return pa != pb ? pa < pb : a < b
        }
        for i in order {
            let instance = catalogue.instances[products[i]]
            let place = placements[i]
            shadow(instance, place, light: light, canvas: &canvas, rng: &rng)
            for part in instance.parts {
                canvas.fill(part.shape, part.surface, place, light)
            }
        }
        // Camera: exposure, contrast, white balance, vignette.
        let warmth = rng.jitter(0.06)
        let tint = SynthColor(1 + warmth, 1 + warmth * 0.2, 1 - warmth)
        return canvas.quantized(exposure: rng.float(0.93, 1.07), contrast: rng.float(0.9, 1.08), tint: tint,
                                vignette: rng.chance(0.4) ? rng.float(0.05, 0.25) : 0)
    }

    /// A soft contact shadow under a product.
    private static func shadow(_ instance: SynthInstance, _ place: SynthPlacement, light: SynthLight,
                               canvas: inout SynthCanvas, rng: inout SynthRNG) {
        let b = instance.bounds
        let halfWidth = (b.z - b.x) / 2
        let center = SynthPoint((b.x + b.z) / 2 - light.x * halfWidth * 0.25, -0.005)
        let shape = SynthShape.ellipse(center: center, radii: SynthPoint(halfWidth * 1.08, max(0.02, halfWidth * 0.12)))
        let surface = SynthSurface(color: SynthColor(0.05, 0.04, 0.04), shading: .flat(tilt: 0), gloss: 0,
                                   opacity: rng.float(0.25, 0.45))
        canvas.fill(shape, surface, place, .neutral, feather: max(2, place.scale * halfWidth * 0.12))
    }

    /// Where a lone product goes: large, roughly centred, standing on the floor when there is one.
    private static func single(_ instance: SynthInstance, width: Int, height: Int, floorLine: Float?,
                               rng: inout SynthRNG) -> SynthPlacement {
        let w = Float(width), h = Float(height)
        let b = instance.bounds
        let unitsWide = b.z - b.x, unitsHigh = b.w - b.y
        let angle = rng.chance(0.12) ? rng.jitter(0.25) : rng.jitter(0.1)
        let squash = rng.chance(0.5) ? 1 : rng.float(0.86, 1)
        var pixelsHigh = h * rng.float(0.5, 0.84)
        pixelsHigh = min(pixelsHigh, w * rng.float(0.55, 0.88) * unitsHigh / (unitsWide * squash))
        let scale = pixelsHigh / unitsHigh
        let pixelsWide = unitsWide * scale * squash
        let centerX = w / 2 + rng.jitter(1) * max(0, w - pixelsWide) * 0.4
        let lowest = h - 2, highest = pixelsHigh + h * 0.03
        var baseY: Float
        if let floor = floorLine, floor > highest, floor + h * 0.12 < lowest {
            baseY = floor + rng.float(0.02, 0.12) * h
        } else {
            baseY = h - (h - pixelsHigh) * rng.float(0.15, 0.6)
        }
        baseY = max(min(baseY, lowest), min(highest, lowest))
        let originX = centerX - (b.x + b.z) / 2 * scale * squash
        return SynthPlacement(origin: SynthPoint(originX, baseY), scale: scale, angle: angle, squash: squash)
    }

    /// Where the products of a suit go: one or two rows, overlapping, some partly out of the frame.
    private static func suit(_ items: [SynthInstance], width: Int, height: Int, rng: inout SynthRNG) -> [SynthPlacement] {
        let w = Float(width), h = Float(height)
        let n = items.count
        // Rows: the taller half at the back when there are four or more.
        var byHeight = Array(items.indices)
        byHeight.sort { items[$0].height != items[$1].height ? items[$0].height > items[$1].height : $0 < $1 }
        var back: [Int] = [], front: [Int] = []
        if n >= 4 || (n == 3 && rng.chance(0.3)) {
            back = Array(byHeight.prefix((n + 1) / 2))
            front = Array(byHeight.dropFirst((n + 1) / 2))
        } else {
            back = byHeight
        }
        rng.shuffle(&back)
        rng.shuffle(&front)
        let tallest = items.map(\.height).max() ?? 1
        let overlap = rng.float(0.72, 1.0)
        func widthUnits(_ i: Int) -> Float {
            let b = items[i].bounds
            return (b.z - b.x) / (b.w - b.y) * items[i].height
        }
        func rowWidth(_ row: [Int], _ k: Float) -> Float {
            guard !row.isEmpty else { return 0 }
            var total: Float = 0
            for (j, i) in row.enumerated() { total += widthUnits(i) * k * (j == row.count - 1 ? 1 : overlap) }
            return total
        }
        let twoRows = !front.isEmpty
        var k = h * (twoRows ? rng.float(0.5, 0.66) : rng.float(0.58, 0.8)) / tallest
        let fit = rng.float(0.82, 1.08)
        let widest = max(rowWidth(back, k * 0.9), rowWidth(front, k))
        if widest > w * fit { k *= w * fit / widest }
        var placements = [SynthPlacement](repeating: SynthPlacement(origin: .zero, scale: 1, angle: 0), count: n)
        let outOfFrame = rng.chance(0.35)
        func place(_ row: [Int], scale: Float, baseY: Float) {
            let total = rowWidth(row, scale)
            var shift = outOfFrame ? rng.jitter(0.3) * w : rng.jitter(0.06) * w
            // Keep at least about half of the outermost products in the picture.
            if let first = row.first, let last = row.last {
                let firstHalf = widthUnits(first) * scale / 2, lastHalf = widthUnits(last) * scale / 2
                let left = (w - total) / 2 + shift, right = left + total
                if left < -firstHalf * 0.9 { shift += -firstHalf * 0.9 - left }
                if right > w + lastHalf * 0.9 { shift -= right - (w + lastHalf * 0.9) }
            }
            var cursor = (w - total) / 2 + shift
            for i in row {
                let item = items[i]
                let b = item.bounds
                let unitScale = scale * item.height / (b.w - b.y)
                let pixelsWide = widthUnits(i) * scale
                let centerX = cursor + pixelsWide / 2
                let stagger = rng.jitter(0.035) * h
                placements[i] = SynthPlacement(
                    origin: SynthPoint(centerX - (b.x + b.z) / 2 * unitScale, min(h - 1, baseY + stagger)),
                    scale: unitScale, angle: rng.chance(0.15) ? rng.jitter(0.3) : rng.jitter(0.06),
                    squash: rng.chance(0.5) ? 1 : rng.float(0.88, 1))
                cursor += pixelsWide * overlap
            }
        }
        if twoRows {
            let backScale = k * 0.9
            let backBase = min(h * rng.float(0.64, 0.78), h * 0.97)
            place(back, scale: backScale, baseY: max(backBase, tallest * backScale + h * 0.02))
            place(front, scale: k, baseY: h * rng.float(0.9, 0.98))
        } else {
            place(back, scale: k, baseY: max(h * rng.float(0.8, 0.95), min(h * 0.98, tallest * k + h * 0.03)))
        }
        return placements
    }
}

extension SynthLight {
    /// Light that leaves colours unchanged (for backdrops and shadows).
    static let neutral = SynthLight(x: 0, ambient: 1, highlightWidth: 0.15, sheen: 0)
}

/// The backdrop behind the products: plain, gradient, textured, cluttered or a table top.
enum SynthBackdrop {
    /// Studio colours: light neutrals and pastels, a few darker ones.
    private static let walls: [UInt32] = [
        0xF5F3EF, 0xFFFFFF, 0xEDEAE4, 0xF3E6E1, 0xE6EEF3, 0xE9F1EA, 0xF7EFE1, 0xE8E4EE, 0xDCDCDC, 0xF1D9D9,
        0xD6E4EA, 0xCFD8CC, 0xEFE3D0, 0x3A3F47, 0x2E2A2A, 0xC9B8A6, 0xF9F0F2, 0xDDE7F0,
    ]
    private static let tables: [UInt32] = [
        0xC8A27A, 0xB08560, 0xE8E2DA, 0xF2F2F0, 0xD9CFC4, 0x8E6B4E, 0xCBD3D8, 0xE9D8C9, 0x5A5048,
    ]
    private static let blobs: [UInt32] = [
        0xF4C6CF, 0xC9E4DE, 0xF7E1B5, 0xD9D2EE, 0xBFD8EE, 0xFFFFFF, 0xE9C9A8, 0xA8C99A, 0xF0A9A0, 0xE3E3E3,
    ]

    /// Paints a backdrop; returns the floor line (a y in pixels) when there is a table top.
    static func paint(_ canvas: inout SynthCanvas, rng: inout SynthRNG) -> Float? {
        let kind = rng.weighted([0.2, 0.22, 0.18, 0.2, 0.2]) // plain, gradient, texture, clutter, table
        let wall = SynthColor(hex: rng.pick(walls))
        var floorLine: Float? = nil
        switch kind {
        case 0:
            linear(&canvas, wall, wall * rng.float(0.88, 0.98), angle: Float.pi / 2)
        case 1:
            let other = rng.chance(0.5) ? SynthColor(hex: rng.pick(walls)) : wall * rng.float(0.7, 0.9)
            linear(&canvas, wall, other, angle: rng.float(0, 2 * Float.pi))
        case 2:
            linear(&canvas, wall, wall * 0.95, angle: Float.pi / 2)
            texture(&canvas, tint: rng.chance(0.5) ? wall * 0.82 : SynthColor(hex: rng.pick(blobs)),
                    period: rng.float(14, 60), strength: rng.float(0.25, 0.6), streaks: rng.chance(0.4), rng: &rng)
        case 3:
            linear(&canvas, wall, wall * rng.float(0.85, 0.97), angle: rng.float(0, 2 * Float.pi))
            clutter(&canvas, rng: &rng)
        default:
            let line = Float(canvas.height) * rng.float(0.45, 0.75)
            let table = SynthColor(hex: rng.pick(tables))
            tableTop(&canvas, wall: wall, table: table, line: line)
            if rng.chance(0.4) {
                texture(&canvas, tint: table * 0.8, period: rng.float(6, 20), strength: 0.35, streaks: true,
                        rng: &rng, below: line)
            }
            floorLine = line
        }
        if rng.chance(0.45) { grain(&canvas, amplitude: rng.float(0.004, 0.012), rng: &rng) }
        return floorLine
    }

    private static func linear(_ canvas: inout SynthCanvas, _ a: SynthColor, _ b: SynthColor, angle: Float) {
        let w = canvas.width, h = canvas.height
        let dx = Float(Foundation.cos(Double(angle))), dy = Float(Foundation.sin(Double(angle)))
        let extent = abs(dx) * Float(w) + abs(dy) * Float(h)
        let cx = Float(w) / 2, cy = Float(h) / 2
        canvas.pixels.withUnsafeMutableBufferPointer { px in
            for y in 0 ..< h {
                for x in 0 ..< w {
                    let t = max(0, min(1, ((Float(x) - cx) * dx + (Float(y) - cy) * dy) / extent + 0.5))
                    let c = a + (b - a) * t
                    let i = (y * w + x) * 3
                    px[i] = c.x; px[i + 1] = c.y; px[i + 2] = c.z
                }
            }
        }
    }

    private static func tableTop(_ canvas: inout SynthCanvas, wall: SynthColor, table: SynthColor, line: Float) {
        let w = canvas.width, h = canvas.height
        canvas.pixels.withUnsafeMutableBufferPointer { px in
            for y in 0 ..< h {
                let fy = Float(y) + 0.5
                let t = max(0, min(1, (fy - line) / 2 + 0.5)) // 2-pixel soft edge
                let wallShade = wall * (0.9 + 0.1 * fy / max(1, line))
                let depth = max(0, (fy - line) / max(1, Float(h) - line))
                let tableShade = table * (1.02 - 0.12 * depth)
                let c = wallShade + (tableShade - wallShade) * t
                for x in 0 ..< w {
                    let i = (y * w + x) * 3
                    px[i] = c.x; px[i + 1] = c.y; px[i + 2] = c.z
                }
            }
        }
    }

    /// Value noise in 0...1 on an integer lattice, smoothly interpolated.
    @inline(__always)
    private static func noise(_ x: Float, _ y: Float, _ key: UInt64) -> Float {
        let fx = x.rounded(.down), fy = y.rounded(.down)
        let ix = Int64(fx), iy = Int64(fy)
        let tx = x - fx, ty = y - fy
        let sx = tx * tx * (3 - 2 * tx), sy = ty * ty * (3 - 2 * ty)
        @inline(__always) func lattice(_ a: Int64, _ b: Int64) -> Float {
            let h = SynthRNG.mix(UInt64(bitPattern: a) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: b) &* 0xC2B2_AE3D_27D4_EB4F ^ key)
            return Float(h >> 40) * 0x1p-24
        }
        let v00 = lattice(ix, iy), v10 = lattice(ix + 1, iy)
        let v01 = lattice(ix, iy + 1), v11 = lattice(ix + 1, iy + 1)
        let top = v00 + (v10 - v00) * sx, bottom = v01 + (v11 - v01) * sx
        return top + (bottom - top) * sy
    }

    /// Marble, paper or wood-like texture: two octaves of value noise blended towards `tint`.
    private static func texture(_ canvas: inout SynthCanvas, tint: SynthColor, period: Float, strength: Float,
                                streaks: Bool, rng: inout SynthRNG, below: Float = 0) {
        let w = canvas.width, h = canvas.height
        let key = rng.next()
        let inv = 1 / period
        let stretch: Float = streaks ? 0.18 : 1
        let firstRow = max(0, Int(below))
        canvas.pixels.withUnsafeMutableBufferPointer { px in
            for y in firstRow ..< h {
                for x in 0 ..< w {
                    let u = Float(x) * inv * stretch, v = Float(y) * inv
                    var n = noise(u, v, key) * 0.65 + noise(u * 2.3, v * 2.3, key ^ 0xABCD) * 0.35
                    if streaks { n = abs(n * 2 - 1) }
                    let a = n * strength
                    let i = (y * w + x) * 3
                    px[i] += (tint.x - px[i]) * a
                    px[i + 1] += (tint.y - px[i + 1]) * a
                    px[i + 2] += (tint.z - px[i + 2]) * a
                }
            }
        }
    }

    /// Soft out-of-focus shapes: bokeh discs, leaves, petals, ribbons.
    private static func clutter(_ canvas: inout SynthCanvas, rng: inout SynthRNG) {
        let w = Float(canvas.width), h = Float(canvas.height)
        let count = rng.int(4 ... 11)
        for _ in 0 ..< count {
            let color = SynthColor(hex: rng.pick(blobs))
            let center = SynthPoint(rng.float(-0.1, 1.1) * w, rng.float(-0.1, 1.1) * h)
            let size = min(w, h) * rng.float(0.06, 0.3)
            let shape: SynthShape
            switch rng.below(4) {
            case 0: shape = .ellipse(center: .zero, radii: SynthPoint(size, size))
            case 1: shape = .ellipse(center: .zero, radii: SynthPoint(size, size * rng.float(0.3, 0.6)))
            case 2: shape = .box(center: .zero, half: SynthPoint(size * 1.6, size * 0.18), radius: size * 0.18)
            default: shape = .outline(.ellipse(center: .zero, radii: SynthPoint(size, size)), width: size * 0.12)
            }
            let place = SynthPlacement(origin: center, scale: 1, angle: rng.float(0, Float.pi))
            let surface = SynthSurface(color: color, shading: .flat(tilt: 0), gloss: 0, opacity: rng.float(0.2, 0.6))
            canvas.fill(shape, surface, place, .neutral, feather: rng.float(1, size * 0.25))
        }
    }

    /// Fine sensor noise.
    private static func grain(_ canvas: inout SynthCanvas, amplitude: Float, rng: inout SynthRNG) {
        canvas.pixels.withUnsafeMutableBufferPointer { px in
            var i = 0
            while i < px.count {
                let bits = rng.next()
                let n = (Float(bits & 0xFFFF) * (1 / 65536) - 0.5) * 2 * amplitude
                px[i] += n; px[i + 1] += n; px[i + 2] += n
                i += 3
            }
        }
    }
}
