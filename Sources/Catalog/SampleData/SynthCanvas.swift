import Foundation
import Imaging

/// A colour with float channels in 0...1 (sRGB values, no gamma decoding).
typealias SynthColor = SIMD3<Float>
/// A point or vector in a drawing's coordinates.
typealias SynthPoint = SIMD2<Float>

extension SynthColor {
    /// `#rrggbb` as a float colour; used for the hand-written palettes.
    init(hex: UInt32) {
        self.init(Float((hex >> 16) & 0xff) / 255, Float((hex >> 8) & 0xff) / 255, Float(hex & 0xff) / 255)
    }

    func mixed(with other: SynthColor, _ t: Float) -> SynthColor { self + (other - self) * t }

    /// Perceived luminance (Rec. 601 weights).
    var luma: Float { 0.299 * x + 0.587 * y + 0.114 * z }
}

/// The similarity transform that puts a drawing (a product, in its own units)
/// on the image: scale, an optional horizontal squeeze (a product turned a
/// little on its axis), rotation, then translation.
struct SynthPlacement: Sendable {
    var origin: SynthPoint
    var scale: Float
    var angle: Float
    var squash: Float = 1

    private var cosA: Float { Float(Foundation.cos(Double(angle))) }
    private var sinA: Float { Float(Foundation.sin(Double(angle))) }

    func toImage(_ p: SynthPoint) -> SynthPoint {
        let c = cosA, s = sinA
        let q = SynthPoint(p.x * scale * squash, p.y * scale)
        return origin + SynthPoint(c * q.x - s * q.y, s * q.x + c * q.y)
    }

    /// The inverse transform, as an affine map `local = base + px * dx + py * dy`
    /// for image point `(px, py)`: cheap to evaluate per pixel.
    func inverse() -> (base: SynthPoint, dx: SynthPoint, dy: SynthPoint) {
        let c = cosA, s = sinA
        let sx = 1 / (scale * squash), sy = 1 / scale
        let dx = SynthPoint(c * sx, -s * sy)
        let dy = SynthPoint(s * sx, c * sy)
        let base = -(dx * origin.x + dy * origin.y)
        return (base, dx, dy)
    }
}

/// Text laid out in a drawing's coordinates with `SynthFont`.
struct SynthText: Sendable {
    /// Glyph rows, one array per character.
    var glyphs: [[UInt8]]
    /// Top-left corner of the text box (before rotation for vertical text).
    var origin: SynthPoint
    /// Size of one font cell (width, height) in drawing units.
    var cell: SynthPoint
    /// Cells from one character to the next (5 = touching; 6 = one cell of spacing).
    var advance: Float = 6
    /// Slant: cells of horizontal shift per cell of height (0.2 = italic).
    var shear: Float = 0
    /// Extra stroke width in cells (0 = plain, 0.35 = bold).
    var bold: Float = 0
    /// Vertical text reads bottom to top (the way lipstick and mascara tubes are printed).
    var vertical: Bool = false

    /// Width and height of the text box in cells (unrotated).
    var cellsWide: Float { Float(glyphs.count) * advance - (advance - 5) }

    /// Text centred at `center`, each cell `cell` in size.
    static func centered(_ string: String, at center: SynthPoint, cell: SynthPoint, advance: Float = 6,
                         shear: Float = 0, bold: Float = 0, vertical: Bool = false) -> SynthText {
        var t = SynthText(glyphs: SynthFont.glyphs(string), origin: .zero, cell: cell, advance: advance,
                          shear: shear, bold: bold, vertical: vertical)
        let w = t.cellsWide * cell.x, h = 7 * cell.y
        if vertical {
            // The text box is turned by -90 degrees: its width runs upwards.
            t.origin = SynthPoint(center.x - h / 2, center.y + w / 2)
        } else {
            t.origin = SynthPoint(center.x - w / 2, center.y - h / 2)
        }
        return t
    }

    /// The drawing-space bounding box (minX, minY, maxX, maxY).
    var bounds: SIMD4<Float> {
        let w = cellsWide * cell.x + abs(shear) * 7 * cell.x, h = 7 * cell.y
        if vertical {
            return SIMD4(origin.x, origin.y - w, origin.x + h, origin.y)
        }
        return SIMD4(origin.x - max(0, -shear) * 7 * cell.x, origin.y, origin.x + w, origin.y + h)
    }

    /// Whether the text covers drawing point `p`.
    @inline(__always)
    func covers(_ p: SynthPoint) -> Bool {
        var u: SynthPoint
        if vertical {
            // Rotate back: reading direction is up (-y), glyph top is left (-x).
            u = SynthPoint((origin.y - p.y) / cell.x, (p.x - origin.x) / cell.y)
        } else {
            u = SynthPoint((p.x - origin.x) / cell.x, (p.y - origin.y) / cell.y)
        }
        if u.y < 0 || u.y >= 7 { return false }
        u.x -= shear * (7 - u.y)
        if u.x < 0 { return false }
        let row = Int(u.y)
        func lit(_ x: Float) -> Bool {
            if x < 0 { return false }
            let index = Int(x / advance)
            if index >= glyphs.count { return false }
            let col = Int(x - Float(index) * advance)
            if col >= 5 { return false }
            return glyphs[index][row] & (UInt8(0x10) >> UInt8(col)) != 0
        }
        return lit(u.x) || (bold > 0 && lit(u.x - bold))
    }
}

/// A region of a drawing, as a signed distance (negative inside) in drawing
/// units, or, for text, as a coverage test.
indirect enum SynthShape: Sendable {
    /// An axis-aligned box with rounded corners.
    case box(center: SynthPoint, half: SynthPoint, radius: Float)
    case ellipse(center: SynthPoint, radii: SynthPoint)
    /// A vertical trapezoid from `top` to `bottom` (y grows downwards), rounded by `radius`.
    case taper(centerX: Float, top: Float, bottom: Float, halfTop: Float, halfBottom: Float, radius: Float)
    /// A convex polygon, vertices in order (either winding).
    case polygon([SynthPoint])
    /// The part of `shape` between two heights.
    case slab(SynthShape, top: Float, bottom: Float)
    /// The intersection of two shapes.
    case clip(SynthShape, SynthShape)
    /// The part of `shape` on the side of the line through `point` opposite to `normal`.
    case cut(SynthShape, point: SynthPoint, normal: SynthPoint)
    /// A band of `width` along the outline of `shape`.
    case outline(SynthShape, width: Float)
    case text(SynthText)

    /// Drawing-space bounding box (minX, minY, maxX, maxY).
    var bounds: SIMD4<Float> {
        switch self {
        case let .box(c, h, _):
            return SIMD4(c.x - h.x, c.y - h.y, c.x + h.x, c.y + h.y)
        case let .ellipse(c, r):
            return SIMD4(c.x - r.x, c.y - r.y, c.x + r.x, c.y + r.y)
        case let .taper(cx, top, bottom, ht, hb, _):
            let h = max(ht, hb)
            return SIMD4(cx - h, top, cx + h, bottom)
        case let .polygon(points):
            var b = SIMD4<Float>(.infinity, .infinity, -.infinity, -.infinity)
            for p in points {
                b = SIMD4(min(b.x, p.x), min(b.y, p.y), max(b.z, p.x), max(b.w, p.y))
            }
            return b
        case let .slab(s, top, bottom):
            let b = s.bounds
            return SIMD4(b.x, max(b.y, top), b.z, min(b.w, bottom))
        case let .clip(a, b):
            let p = a.bounds, q = b.bounds
            return SIMD4(max(p.x, q.x), max(p.y, q.y), min(p.z, q.z), min(p.w, q.w))
        case let .cut(s, _, _):
            return s.bounds
        case let .outline(s, w):
            let b = s.bounds
            return SIMD4(b.x - w, b.y - w, b.z + w, b.w + w)
        case let .text(t):
            return t.bounds
        }
    }

    /// Signed distance from `p` (negative inside). Text has no distance; see `SynthText.covers`.
    func distance(_ p: SynthPoint) -> Float {
        switch self {
        case let .box(c, h, r):
            let d = p - c
            let q = SynthPoint(abs(d.x), abs(d.y)) - h + SynthPoint(r, r)
            let outside = SynthPoint(max(q.x, 0), max(q.y, 0))
            return (outside * outside).sum().squareRoot() + min(max(q.x, q.y), 0) - r
        case let .ellipse(c, r):
            // A first-order approximation, exact on the axes; good enough for antialiasing.
            let q = (p - c) / r
            let k0 = (q * q).sum().squareRoot()
            if k0 < 1e-6 { return -min(r.x, r.y) }
            let g = (p - c) / (r * r)
            let k1 = (g * g).sum().squareRoot()
            return k0 * (k0 - 1) / k1
        case let .taper(cx, top, bottom, ht, hb, radius):
            // The trapezoid shrunk by `radius`, then grown back round.
            let a = max(0, ht - radius), b = max(0, hb - radius)
            let y0 = top + radius, y1 = bottom - radius
            return SynthShape.quadDistance(p, SynthPoint(cx - a, y0), SynthPoint(cx + a, y0),
                                           SynthPoint(cx + b, y1), SynthPoint(cx - b, y1)) - radius
        case let .polygon(points):
            return points.withUnsafeBufferPointer { SynthShape.convexDistance(p, $0) }
        case let .slab(s, top, bottom):
            return max(s.distance(p), max(top - p.y, p.y - bottom))
        case let .clip(a, b):
            return max(a.distance(p), b.distance(p))
        case let .cut(s, point, normal):
            return max(s.distance(p), ((p - point) * normal).sum())
        case let .outline(s, w):
            return abs(s.distance(p)) - w / 2
        case .text:
            return .infinity
        }
    }

    /// Exact signed distance to a convex polygon (vertices in either winding).
    static func convexDistance(_ p: SynthPoint, _ points: UnsafeBufferPointer<SynthPoint>) -> Float {
        let n = points.count
        var area: Float = 0
        for i in 0 ..< n {
            let a = points[i], b = points[(i + 1) % n]
            area += a.x * b.y - b.x * a.y
        }
        let sign: Float = area >= 0 ? 1 : -1
        var planes = -Float.infinity
        var nearest = Float.infinity
        for i in 0 ..< n {
            let a = points[i], b = points[(i + 1) % n]
            let e = b - a
            let len2 = max(1e-12, (e * e).sum())
            let len = len2.squareRoot()
            // Outward normal: to the right of the edge for a positive shoelace area.
            let normal = SynthPoint(e.y, -e.x) * (sign / len)
            planes = max(planes, ((p - a) * normal).sum())
            let t = max(0, min(1, ((p - a) * e).sum() / len2))
            let q = p - (a + e * t)
            nearest = min(nearest, (q * q).sum())
        }
        return planes <= 0 ? planes : nearest.squareRoot()
    }

    /// `convexDistance` for four vertices, without an array.
    static func quadDistance(_ p: SynthPoint, _ a: SynthPoint, _ b: SynthPoint,
                             _ c: SynthPoint, _ d: SynthPoint) -> Float {
        withUnsafeTemporaryAllocation(of: SynthPoint.self, capacity: 4) { buf in
            buf[0] = a; buf[1] = b; buf[2] = c; buf[3] = d
            return convexDistance(p, UnsafeBufferPointer(buf))
        }
    }
}

/// How light falls on a product (one per image).
struct SynthLight: Sendable {
    /// Horizontal direction of the key light, -1 (from the left) to 1 (from the right).
    var x: Float
    /// Share of light that does not depend on the surface's orientation.
    var ambient: Float
    /// Width of specular highlights (in normalised surface coordinates).
    var highlightWidth: Float
    /// Strength multiplier for every highlight.
    var sheen: Float

    var z: Float { (max(0, 1 - x * x)).squareRoot() }
}

/// How a part of a product is coloured and lit.
struct SynthSurface: Sendable {
    enum Shading: Sendable {
        /// A flat face; `tilt` (-1...1) turns it towards the light on one side.
        case flat(tilt: Float)
        /// A vertical cylinder (or cone) centred at `centerX`, half width `halfTop` at `top`, `halfBottom` at `bottom`.
        case cylinder(centerX: Float, halfTop: Float, halfBottom: Float, top: Float, bottom: Float)
        /// An ellipsoidal cap (bulbs, lids seen from above, compacts).
        case dome(center: SynthPoint, radii: SynthPoint)
    }

    var color: SynthColor
    var shading: Shading
    /// Strength of the specular highlight (0 = matte, 1 = lacquer).
    var gloss: Float = 0.5
    /// 0 = paint, 1 = polished metal (bands of reflected light and dark).
    var metal: Float = 0
    var opacity: Float = 1
    /// Optional vertical colour gradient: `color` at `gradientTop`, `gradientColor` at `gradientBottom`.
    var gradientColor: SynthColor? = nil
    var gradientTop: Float = 0
    var gradientBottom: Float = 0

    /// The lit colour at drawing point `p`.
    @inline(__always)
    func shade(_ p: SynthPoint, _ light: SynthLight) -> SynthColor {
        var base = color
        if let g = gradientColor {
            let t = max(0, min(1, (p.y - gradientTop) / max(1e-4, gradientBottom - gradientTop)))
            base = base + (g - base) * t
        }
        var n: Float = 0          // horizontal surface coordinate, -1...1
        var diffuse: Float
        var spec: Float = 0
        switch shading {
        case let .flat(tilt):
            n = tilt
            diffuse = max(0, 0.92 * light.z + 0.35 * tilt * light.x + 0.08)
            spec = 0.25 * gloss * max(0, tilt * light.x)
        case let .cylinder(cx, ht, hb, top, bottom):
            let t = max(0, min(1, (p.y - top) / max(1e-4, bottom - top)))
            let hw = max(1e-4, ht + (hb - ht) * t)
            n = max(-1, min(1, (p.x - cx) / hw))
            let nz = max(0, 1 - n * n).squareRoot()
            diffuse = max(0, n * light.x + nz * light.z)
            let hx = light.x * 0.55
            let dh = (n - hx) / light.highlightWidth
            spec = gloss * Float(Foundation.exp(Double(-dh * dh)))
            // A faint rim light on the far side.
            let dr = (n + (light.x >= 0 ? 0.86 : -0.86)) / 0.07
            spec += 0.35 * gloss * Float(Foundation.exp(Double(-dr * dr)))
        case let .dome(c, r):
            let q = (p - c) / r
            n = max(-1, min(1, q.x))
            let r2 = min(1, (q * q).sum())
            let nz = (1 - r2).squareRoot()
            diffuse = max(0, q.x * light.x - q.y * 0.3 + nz * light.z)
            let h = SynthPoint(light.x * 0.45, -0.4)
            let dq = (q - h) / (light.highlightWidth * 1.8)
            spec = gloss * Float(Foundation.exp(Double(-(dq * dq).sum())))
        }
        let ambient = light.ambient
        var k = ambient + (1 - ambient) * diffuse
        if metal > 0 {
            let bands = 0.5 + 0.5 * Float(Foundation.cos(Double(n * 4.4 + 0.7)))
            k = k * (1 - metal) + metal * (0.45 + 0.85 * bands) * (0.6 + 0.4 * k)
        }
        var c = base * k
        let s = min(1, spec * light.sheen)
        c = c + (SynthColor(1, 1, 1) - c) * s
        return c
    }
}

/// A float RGB image being drawn, with antialiased shape filling.
struct SynthCanvas {
    let width: Int
    let height: Int
    /// Interleaved RGB, 0...1 (values may overshoot until quantisation).
    var pixels: [Float]

    init(width: Int, height: Int, fill: SynthColor = SynthColor(1, 1, 1)) {
        self.width = width
        self.height = height
        pixels = [Float](repeating: 0, count: width * height * 3)
        pixels.withUnsafeMutableBufferPointer { px in
            for i in stride(from: 0, to: px.count, by: 3) {
                px[i] = fill.x; px[i + 1] = fill.y; px[i + 2] = fill.z
            }
        }
    }

    /// The pixel rectangle (x0, y0, x1, y1), exclusive ends, covering drawing bounds `b` under `place`.
    private func pixelRect(_ b: SIMD4<Float>, _ place: SynthPlacement, margin: Float) -> (Int, Int, Int, Int)? {
        guard b.x <= b.z, b.y <= b.w, b.x.isFinite, b.y.isFinite, b.z.isFinite, b.w.isFinite else { return nil }
        let corners = [SynthPoint(b.x, b.y), SynthPoint(b.z, b.y), SynthPoint(b.x, b.w), SynthPoint(b.z, b.w)]
            .map { place.toImage($0) }
        var lo = corners[0], hi = corners[0]
        for c in corners { lo = pointwiseMin(lo, c); hi = pointwiseMax(hi, c) }
        let x0 = max(0, Int((lo.x - margin).rounded(.down)))
        let y0 = max(0, Int((lo.y - margin).rounded(.down)))
        let x1 = min(width, Int((hi.x + margin).rounded(.up)) + 1)
        let y1 = min(height, Int((hi.y + margin).rounded(.up)) + 1)
        if x0 >= x1 || y0 >= y1 { return nil }
        return (x0, y0, x1, y1)
    }

    /// Paints `shape` (in drawing units, placed by `place`) with `surface` lit by `light`.
    /// `feather` widens the antialiasing ramp (in pixels) for soft shapes such as shadows.
    mutating func fill(_ shape: SynthShape, _ surface: SynthSurface, _ place: SynthPlacement,
                       _ light: SynthLight, feather: Float = 1) {
        guard surface.opacity > 0,
              let (x0, y0, x1, y1) = pixelRect(shape.bounds, place, margin: feather + 1) else { return }
        let (base, dx, dy) = place.inverse()
        let pixelsPerUnit = place.scale
        let ramp = max(1, feather)
        let w = width
        let opacity = surface.opacity
        if case let .text(text) = shape {
            // Coverage by 4 x 4 supersampling of the bitmap.
            let offsets: [Float] = [-0.375, -0.125, 0.125, 0.375]
            pixels.withUnsafeMutableBufferPointer { px in
                for y in y0 ..< y1 {
                    for x in x0 ..< x1 {
                        let center = base + dx * (Float(x) + 0.5) + dy * (Float(y) + 0.5)
                        var hits = 0
                        for oy in offsets {
                            for ox in offsets where text.covers(center + dx * ox + dy * oy) {
                                hits += 1
                            }
                        }
                        if hits == 0 { continue }
                        let a = Float(hits) / 16 * opacity
                        let c = surface.shade(center, light)
                        let i = (y * w + x) * 3
                        px[i] += (c.x - px[i]) * a
                        px[i + 1] += (c.y - px[i + 1]) * a
                        px[i + 2] += (c.z - px[i + 2]) * a
                    }
                }
            }
            return
        }
        pixels.withUnsafeMutableBufferPointer { px in
            for y in y0 ..< y1 {
                for x in x0 ..< x1 {
                    let p = base + dx * (Float(x) + 0.5) + dy * (Float(y) + 0.5)
                    let d = shape.distance(p) * pixelsPerUnit
                    let coverage = min(1, max(0, 0.5 - d / ramp))
                    if coverage <= 0 { continue }
                    let a = coverage * opacity
                    let c = surface.shade(p, light)
                    let i = (y * w + x) * 3
                    px[i] += (c.x - px[i]) * a
                    px[i + 1] += (c.y - px[i + 1]) * a
                    px[i + 2] += (c.z - px[i + 2]) * a
                }
            }
        }
    }

    /// The image with a final exposure, contrast, colour tint and vignette, quantised to 8 bits.
    func quantized(exposure: Float, contrast: Float, tint: SynthColor, vignette: Float) -> RGBImage {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        let cx = Float(width) / 2, cy = Float(height) / 2
        let invR2 = 1 / (cx * cx + cy * cy)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0 ..< height {
                    for x in 0 ..< width {
                        let fx = Float(x) + 0.5 - cx, fy = Float(y) + 0.5 - cy
                        let v = 1 - vignette * (fx * fx + fy * fy) * invR2
                        let i = (y * width + x) * 3
                        for ch in 0 ..< 3 {
                            let t = ch == 0 ? tint.x : (ch == 1 ? tint.y : tint.z)
                            var value = src[i + ch] * exposure * t * v
                            value = (value - 0.5) * contrast + 0.5
                            let q = (value * 255).rounded()
                            dst[i + ch] = UInt8(max(0, min(255, q)))
                        }
                    }
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
