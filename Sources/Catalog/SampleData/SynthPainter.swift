/// One piece of a product drawing: a region and how it is painted.
struct SynthPart: Sendable {
    var shape: SynthShape
    var surface: SynthSurface
}

/// A brand's house style: what stays the same on every product of the brand.
struct SynthBrandStyle: Sendable {
    /// Letter advance of the logo in font cells (5 = tight, 7 = airy).
    var logoAdvance: Float
    /// Italic slant of the logo (0 or about 0.2).
    var logoShear: Float
    /// Extra stroke width of the logo (0 = regular, about 0.4 = bold).
    var logoBold: Float
    /// Corner roundness preference, 0...1.
    var roundness: Float
    /// How labels are made: 0 a band wrapped round the body, 1 a sticker,
    /// 2 printed straight on the body, 3 printed between two thin stripes.
    var labelStyle: Int
    /// Preference for tall caps, 0...1.
    var tallCaps: Float
    /// Caps with vertical ridges.
    var ridgedCaps: Bool
    /// A small emblem above the logo: 0 none, 1 disc, 2 rule, 3 diamond.
    var emblem: Int
}

/// The colours of one product.
struct SynthColors: Sendable {
    var body: SynthColor
    var bodyGradient: SynthColor?
    var cap: SynthColor
    var label: SynthColor
    var ink: SynthColor
    var accent: SynthColor
    /// What shows through a glass body (or the bullet of a lipstick).
    var contents: SynthColor
    var glass: Bool
    var metalCap: Bool
    var metalInk: Bool
    var metalBody: Bool
    var bodyGloss: Float
}

/// The words printed on one product.
struct SynthPackText: Sendable {
    /// The brand's logo, upper case.
    var logo: String
    /// The product word ("SERUM").
    var product: String
    /// The series word ("HYDRA").
    var series: String
    /// A short detail line ("50ML").
    var detail: String
}

/// Builds the drawing of a product in its own units: the product stands on
/// y = 0, its top at y = -1, centred on x = 0 (y grows downwards, like images).
struct SynthPainter {
    private(set) var parts: [SynthPart] = []
    private let colors: SynthColors
    private let style: SynthBrandStyle
    private let text: SynthPackText
    private var rng: SynthRNG

    /// The drawing of a product with these attributes; `rng` picks its proportions.
    static func draw(_ pack: SynthVocabulary.Pack, colors: SynthColors, style: SynthBrandStyle,
                     text: SynthPackText, rng: SynthRNG) -> [SynthPart] {
        var painter = SynthPainter(colors: colors, style: style, text: text, rng: rng)
        switch pack {
        case .bottle: painter.bottle(pump: false)
        case .pump: painter.bottle(pump: true)
        case .dropper: painter.dropper()
        case .jar: painter.jar()
        case .tube: painter.tube()
        case .lipstick: painter.lipstick()
        case .mascara: painter.mascara()
        case .compact: painter.compact()
        case .box: painter.carton()
        }
        return painter.parts
    }

    private init(colors: SynthColors, style: SynthBrandStyle, text: SynthPackText, rng: SynthRNG) {
        self.colors = colors
        self.style = style
        self.text = text
        self.rng = rng
    }

    // MARK: Building blocks

    private mutating func add(_ shape: SynthShape, _ surface: SynthSurface) {
        parts.append(SynthPart(shape: shape, surface: surface))
    }

    private func cylinder(_ color: SynthColor, halfWidth: Float, top: Float, bottom: Float, centerX: Float = 0,
                          halfBottom: Float? = nil, gloss: Float = 0.5, metal: Float = 0, opacity: Float = 1) -> SynthSurface {
        SynthSurface(color: color,
                     shading: .cylinder(centerX: centerX, halfTop: halfWidth, halfBottom: halfBottom ?? halfWidth,
                                        top: top, bottom: bottom),
                     gloss: gloss, metal: metal, opacity: opacity)
    }

    /// The colour to print with on a background of colour `ground`: the brand's ink, or the
    /// first of its other colours (then black or white) that stands out enough.
    private func inkOn(_ ground: SynthColor) -> SynthColor {
        let candidates = [colors.ink, colors.accent, colors.label, colors.cap,
                          SynthColor(0.12, 0.11, 0.11), SynthColor(0.98, 0.98, 0.97)]
        for c in candidates where abs(c.luma - ground.luma) > 0.3 { return c }
        return ground.luma > 0.5 ? candidates[4] : candidates[5]
    }

    /// Adds a line of text centred at `center`, at most `maxWidth` wide, letters `height` tall,
    /// lit like the surface under it.
    private mutating func inscribe(_ string: String, at center: SynthPoint, maxWidth: Float, height: Float,
                                on ground: SynthColor, shading: SynthSurface.Shading, logo: Bool,
                                vertical: Bool = false, inkOverride: SynthColor? = nil) {
        guard !string.isEmpty, maxWidth > 0, height > 0 else { return }
        let advance: Float = logo ? style.logoAdvance : 6
        var cellH = height / 7
        var cellW = cellH * (logo ? 0.9 : 0.8)
        let cells = Float(string.count) * advance - (advance - 5)
        if cells * cellW > maxWidth {
            let k = maxWidth / (cells * cellW)
            cellW *= k; cellH *= k
        }
        let t = SynthText.centered(string, at: center, cell: SynthPoint(cellW, cellH), advance: advance,
                                   shear: logo ? style.logoShear : 0, bold: logo ? style.logoBold : 0,
                                   vertical: vertical)
        let ink = inkOverride ?? inkOn(ground)
        let metal: Float = (logo && colors.metalInk) ? 0.7 : 0
        add(.text(t), SynthSurface(color: ink, shading: shading, gloss: metal > 0 ? 0.8 : 0.2, metal: metal))
    }

    /// The brand's emblem, centred at `center`, `size` across.
    private mutating func emblem(at center: SynthPoint, size: Float, on ground: SynthColor, shading: SynthSurface.Shading) {
        let ink = inkOn(ground)
        let surface = SynthSurface(color: ink, shading: shading, gloss: 0.4, metal: colors.metalInk ? 0.6 : 0)
        switch style.emblem {
        case 1:
            add(.outline(.ellipse(center: center, radii: SynthPoint(size / 2, size / 2)), width: size * 0.14), surface)
        case 2:
            add(.box(center: center, half: SynthPoint(size * 0.9, size * 0.05), radius: 0), surface)
        case 3:
            let r = size / 2
            add(.polygon([center + SynthPoint(0, -r), center + SynthPoint(r * 0.7, 0),
                          center + SynthPoint(0, r), center + SynthPoint(-r * 0.7, 0)]), surface)
        default:
            break
        }
    }

    /// The label and print on a cylindrical body from `top` to `bottom`, `halfWidth` wide.
    private mutating func decorateCylinder(body: SynthShape, top: Float, bottom: Float, halfWidth: Float,
                                           halfBottom: Float? = nil) {
        let height = bottom - top
        let shading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: halfWidth, halfBottom: halfBottom ?? halfWidth,
                                                    top: top, bottom: bottom)
        let bandHeight = height * rng.float(0.34, 0.52)
        let bandTop = top + (height - bandHeight) * rng.float(0.3, 0.62)
        let bandBottom = bandTop + bandHeight
        var ground = colors.body
        switch style.labelStyle {
        case 0:
            add(.slab(body, top: bandTop, bottom: bandBottom),
                cylinder(colors.label, halfWidth: halfWidth, top: top, bottom: bottom, halfBottom: halfBottom, gloss: 0.25))
            let line = height * 0.012
            add(.slab(body, top: bandTop, bottom: bandTop + line),
                cylinder(colors.accent, halfWidth: halfWidth, top: top, bottom: bottom, halfBottom: halfBottom, gloss: 0.6,
                         metal: colors.metalCap ? 0.6 : 0))
            add(.slab(body, top: bandBottom - line, bottom: bandBottom),
                cylinder(colors.accent, halfWidth: halfWidth, top: top, bottom: bottom, halfBottom: halfBottom, gloss: 0.6,
                         metal: colors.metalCap ? 0.6 : 0))
            ground = colors.label
        case 1:
            let r = halfWidth * 0.12 * (0.3 + style.roundness)
            let sticker = SynthShape.box(center: SynthPoint(0, (bandTop + bandBottom) / 2),
                                         half: SynthPoint(halfWidth * 0.74, bandHeight / 2), radius: r)
            add(.clip(body, sticker),
                cylinder(colors.label, halfWidth: halfWidth, top: top, bottom: bottom, halfBottom: halfBottom, gloss: 0.2))
            ground = colors.label
        case 3:
            let line = height * 0.018
            for y in [bandTop, bandBottom - line] {
                add(.slab(body, top: y, bottom: y + line),
                    cylinder(colors.accent, halfWidth: halfWidth, top: top, bottom: bottom, halfBottom: halfBottom, gloss: 0.6,
                             metal: colors.metalCap ? 0.5 : 0))
            }
        default:
            break
        }
        let width = 2 * min(halfWidth, halfBottom ?? halfWidth) * (style.labelStyle == 1 ? 0.66 : 0.76)
        let logoY = bandTop + bandHeight * 0.38
        if style.emblem != 0 && bandHeight > 0.12 {
            emblem(at: SynthPoint(0, bandTop + bandHeight * 0.13), size: bandHeight * 0.12, on: ground, shading: shading)
        }
        inscribe(text.logo, at: SynthPoint(0, logoY), maxWidth: width, height: bandHeight * 0.2, on: ground,
              shading: shading, logo: true)
        inscribe(text.product, at: SynthPoint(0, bandTop + bandHeight * 0.64), maxWidth: width * 0.8,
              height: bandHeight * 0.11, on: ground, shading: shading, logo: false)
        inscribe(text.series, at: SynthPoint(0, bandTop + bandHeight * 0.82), maxWidth: width * 0.7,
              height: bandHeight * 0.075, on: ground, shading: shading, logo: false)
        if bottom - bandBottom > height * 0.12 {
            inscribe(text.detail, at: SynthPoint(0, bottom - (bottom - bandBottom) * 0.45), maxWidth: width * 0.5,
                  height: min(bandHeight * 0.06, (bottom - bandBottom) * 0.3), on: colors.body, shading: shading, logo: false)
        }
    }

    /// A cap from `top` to `bottom`, `halfWidth` wide, with the brand's cap finish.
    private mutating func cap(top: Float, bottom: Float, halfWidth: Float, roundTop: Bool) {
        let h = bottom - top
        let radius = roundTop ? min(halfWidth * 0.9, h * 0.45) : min(halfWidth, h) * (0.08 + 0.25 * style.roundness)
        let shape = SynthShape.box(center: SynthPoint(0, (top + bottom) / 2), half: SynthPoint(halfWidth, h / 2), radius: radius)
        let surface = cylinder(colors.cap, halfWidth: halfWidth, top: top, bottom: bottom,
                               gloss: colors.metalCap ? 0.9 : 0.55, metal: colors.metalCap ? 0.85 : 0)
        add(shape, surface)
        if style.ridgedCaps && h > 0.06 {
            let count = 9
            for i in 0 ..< count {
                let x = halfWidth * (-0.85 + 1.7 * Float(i) / Float(count - 1))
                let ridge = SynthShape.clip(shape, .box(center: SynthPoint(x, (top + bottom) / 2),
                                                        half: SynthPoint(halfWidth * 0.035, h / 2), radius: 0))
                var s = surface
                s.color = colors.cap * 0.72
                s.opacity = 0.55
                add(ridge, s)
            }
        }
        // A thin ring where the cap meets the bottle.
        if rng.chance(0.5) {
            add(.box(center: SynthPoint(0, bottom - h * 0.05), half: SynthPoint(halfWidth * 1.01, h * 0.05), radius: 0),
                cylinder(colors.accent, halfWidth: halfWidth, top: top, bottom: bottom, gloss: 0.7,
                         metal: colors.metalCap ? 0.7 : 0.2))
        }
    }

    // MARK: Packs

    /// A bottle with a screw cap, or with a pump head.
    private mutating func bottle(pump: Bool) {
        let bodyHalf = rng.float(0.15, 0.26)
        let headHeight = pump ? rng.float(0.2, 0.28) : rng.float(0.13, 0.2) + 0.12 * style.tallCaps
        let neckHeight = rng.float(0.015, 0.045)
        let capHalf = pump ? rng.float(0.065, min(0.1, bodyHalf * 0.6))
                           : rng.float(min(0.07, bodyHalf * 0.5), bodyHalf * (rng.chance(0.35) ? 1.0 : 0.72))
        let shoulderHeight: Float = rng.chance(0.55) ? rng.float(0.05, 0.13) : 0
        let neckTop = -1 + headHeight
        let bodyTop = neckTop + neckHeight + shoulderHeight
        let radius = min(bodyHalf, 0.12) * (0.12 + 0.6 * style.roundness)
        let body = SynthShape.box(center: SynthPoint(0, bodyTop / 2), half: SynthPoint(bodyHalf, -bodyTop / 2), radius: radius)
        let bodySurface = makeBodySurface(halfWidth: bodyHalf, top: bodyTop, bottom: 0)
        if colors.glass {
            let fill = bodyTop + (-bodyTop) * rng.float(0.05, 0.2)
            add(.box(center: SynthPoint(0, fill / 2), half: SynthPoint(bodyHalf * 0.9, -fill / 2 - 0.012), radius: radius * 0.8),
                cylinder(colors.contents, halfWidth: bodyHalf, top: bodyTop, bottom: 0, gloss: 0.2))
        }
        add(body, bodySurface)
        if shoulderHeight > 0 {
            add(.taper(centerX: 0, top: neckTop + neckHeight, bottom: bodyTop + min(radius, 0.02) + 0.005,
                       halfTop: capHalf * 0.95, halfBottom: bodyHalf, radius: 0.008),
                makeBodySurface(halfWidth: bodyHalf, top: bodyTop, bottom: 0))
        }
        add(.box(center: SynthPoint(0, neckTop + neckHeight / 2 + 0.005), half: SynthPoint(capHalf * 0.8, neckHeight / 2 + 0.01),
                 radius: 0), cylinder(colors.body * 0.92, halfWidth: capHalf, top: neckTop, bottom: bodyTop, gloss: 0.4))
        decorateCylinder(body: body, top: bodyTop + 0.02, bottom: -0.01, halfWidth: bodyHalf)
        if pump {
            pumpHead(top: -1, bottom: neckTop, collarHalf: capHalf)
        } else {
            cap(top: -1, bottom: neckTop + 0.004, halfWidth: capHalf, roundTop: rng.chance(0.3 + 0.4 * style.roundness))
        }
    }

    private func makeBodySurface(halfWidth: Float, top: Float, bottom: Float) -> SynthSurface {
        var s = cylinder(colors.body, halfWidth: halfWidth, top: top, bottom: bottom,
                         gloss: colors.glass ? 0.95 : colors.bodyGloss, metal: colors.metalBody ? 0.75 : 0,
                         opacity: colors.glass ? 0.68 : 1)
        if let g = colors.bodyGradient {
            s.gradientColor = g
            s.gradientTop = top
            s.gradientBottom = bottom
        }
        return s
    }

    /// A pump: collar, stem, head and nozzle, from `top` to `bottom`.
    private mutating func pumpHead(top: Float, bottom: Float, collarHalf: Float) {
        let h = bottom - top
        let collarHeight = h * rng.float(0.3, 0.42)
        let headHeight = h * rng.float(0.22, 0.3)
        let stemHalf = collarHalf * rng.float(0.22, 0.32)
        let headHalf = collarHalf * rng.float(0.8, 1.1)
        let metal: Float = colors.metalCap ? 0.85 : 0
        let gloss: Float = colors.metalCap ? 0.9 : 0.5
        // Stem.
        add(.box(center: SynthPoint(0, top + h / 2), half: SynthPoint(stemHalf, h / 2 - 0.01), radius: 0),
            cylinder(colors.cap * 0.9, halfWidth: stemHalf, top: top, bottom: bottom, gloss: 0.6, metal: metal))
        // Head and nozzle.
        let nozzleLength = collarHalf * rng.float(0.9, 1.5)
        let direction: Float = rng.chance(0.5) ? 1 : -1
        let headCenter = SynthPoint(0, top + headHeight / 2)
        add(.box(center: SynthPoint(direction * (headHalf + nozzleLength / 2 - 0.01), top + headHeight * 0.35),
                 half: SynthPoint(nozzleLength / 2 + 0.01, headHeight * 0.16), radius: headHeight * 0.1),
            SynthSurface(color: colors.cap * 0.95, shading: .flat(tilt: 0.2), gloss: gloss, metal: metal))
        add(.box(center: headCenter, half: SynthPoint(headHalf, headHeight / 2), radius: headHeight * 0.3),
            cylinder(colors.cap, halfWidth: headHalf, top: top, bottom: top + headHeight, gloss: gloss, metal: metal))
        // Collar.
        let collarTop = bottom - collarHeight
        add(.box(center: SynthPoint(0, collarTop + collarHeight / 2), half: SynthPoint(collarHalf, collarHeight / 2),
                 radius: collarHalf * 0.15),
            cylinder(colors.cap, halfWidth: collarHalf, top: collarTop, bottom: bottom, gloss: gloss, metal: metal))
    }

    /// A dropper bottle: short round-shouldered bottle, collar and rubber bulb.
    private mutating func dropper() {
        let bodyHalf = rng.float(0.2, 0.3)
        let bulbHeight = rng.float(0.2, 0.27)
        let collarHeight = rng.float(0.1, 0.15)
        let bodyTop = -1 + bulbHeight + collarHeight
        let radius = bodyHalf * rng.float(0.15, 0.55)
        let body = SynthShape.box(center: SynthPoint(0, bodyTop / 2), half: SynthPoint(bodyHalf, -bodyTop / 2), radius: radius)
        if colors.glass {
            let fill = bodyTop + (-bodyTop) * rng.float(0.06, 0.22)
            add(.box(center: SynthPoint(0, fill / 2), half: SynthPoint(bodyHalf * 0.88, -fill / 2 - 0.015), radius: radius * 0.8),
                cylinder(colors.contents, halfWidth: bodyHalf, top: bodyTop, bottom: 0, gloss: 0.2))
        }
        add(body, makeBodySurface(halfWidth: bodyHalf, top: bodyTop, bottom: 0))
        decorateCylinder(body: body, top: bodyTop + radius * 0.6, bottom: -0.02, halfWidth: bodyHalf)
        let collarHalf = bodyHalf * rng.float(0.45, 0.62)
        cap(top: bodyTop - collarHeight, bottom: bodyTop + 0.01, halfWidth: collarHalf, roundTop: false)
        let bulbHalf = collarHalf * rng.float(0.6, 0.8)
        let bulbColor = rng.chance(0.5) ? colors.cap : (rng.chance(0.5) ? SynthColor(0.1, 0.1, 0.1) : SynthColor(0.95, 0.95, 0.94))
        let bulbTop: Float = -1
        let bulbBottom = bodyTop - collarHeight + 0.01
        add(.box(center: SynthPoint(0, (bulbTop + bulbBottom) / 2), half: SynthPoint(bulbHalf, (bulbBottom - bulbTop) / 2),
                 radius: bulbHalf * 0.95),
            cylinder(bulbColor, halfWidth: bulbHalf, top: bulbTop, bottom: bulbBottom, gloss: 0.3))
    }

    /// A wide cream jar with a lid.
    private mutating func jar() {
        let bodyHalf = rng.float(0.62, 0.85)
        let lidHeight = rng.float(0.3, 0.44)
        let lidHalf = bodyHalf * rng.float(0.98, 1.06)
        let gap: Float = 0.02
        let bodyTop = -1 + lidHeight + gap
        let radius = min(-bodyTop / 2, 0.05 + 0.15 * style.roundness)
        let body = SynthShape.box(center: SynthPoint(0, bodyTop / 2), half: SynthPoint(bodyHalf, -bodyTop / 2), radius: radius)
        if colors.glass {
            add(.box(center: SynthPoint(0, bodyTop / 2), half: SynthPoint(bodyHalf * 0.9, -bodyTop / 2 - 0.05), radius: radius),
                cylinder(colors.contents, halfWidth: bodyHalf, top: bodyTop, bottom: 0, gloss: 0.2))
        }
        add(body, makeBodySurface(halfWidth: bodyHalf, top: bodyTop, bottom: 0))
        // Lid, with a lighter top rim seen from slightly above.
        let lidRadius = min(lidHeight / 2, 0.04 + 0.12 * style.roundness)
        let lid = SynthShape.box(center: SynthPoint(0, -1 + lidHeight / 2 + gap / 2), half: SynthPoint(lidHalf, lidHeight / 2),
                                 radius: lidRadius)
        let metal: Float = colors.metalCap ? 0.85 : 0
        add(lid, cylinder(colors.cap, halfWidth: lidHalf, top: -1, bottom: bodyTop, gloss: colors.metalCap ? 0.9 : 0.55, metal: metal))
        add(.clip(lid, .ellipse(center: SynthPoint(0, -1 + 0.015), radii: SynthPoint(lidHalf * 0.98, 0.05))),
            SynthSurface(color: colors.cap * 1.12, shading: .dome(center: SynthPoint(0, -1), radii: SynthPoint(lidHalf, 0.06)),
                         gloss: 0.4, metal: metal * 0.7, opacity: 0.8))
        let lidShading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: lidHalf, halfBottom: lidHalf, top: -1, bottom: bodyTop)
        if rng.chance(0.5) {
            // Stripe and small logo on the lid's front.
            add(.slab(lid, top: -1 + lidHeight * 0.78, bottom: -1 + lidHeight * 0.86),
                cylinder(colors.accent, halfWidth: lidHalf, top: -1, bottom: bodyTop, gloss: 0.6, metal: colors.metalCap ? 0.6 : 0.1))
            inscribe(text.logo, at: SynthPoint(0, -1 + lidHeight * 0.45), maxWidth: lidHalf * 1.1, height: lidHeight * 0.26,
                  on: colors.cap, shading: lidShading, logo: true)
        }
        // Label on the body.
        let h = -bodyTop
        let shading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: bodyHalf, halfBottom: bodyHalf, top: bodyTop, bottom: 0)
        var ground = colors.body
        if style.labelStyle == 0 || style.labelStyle == 1 {
            let bandTop = bodyTop + h * rng.float(0.15, 0.3)
            let bandBottom = bandTop + h * rng.float(0.4, 0.55)
            let labelShape: SynthShape = style.labelStyle == 0
                ? .slab(body, top: bandTop, bottom: bandBottom)
                : .clip(body, .box(center: SynthPoint(0, (bandTop + bandBottom) / 2),
                                   half: SynthPoint(bodyHalf * 0.6, (bandBottom - bandTop) / 2), radius: 0.03))
            add(labelShape, cylinder(colors.label, halfWidth: bodyHalf, top: bodyTop, bottom: 0, gloss: 0.25))
            ground = colors.label
            inscribe(text.logo, at: SynthPoint(0, bandTop + (bandBottom - bandTop) * 0.38), maxWidth: bodyHalf * 1.1,
                  height: (bandBottom - bandTop) * 0.34, on: ground, shading: shading, logo: true)
            inscribe(text.product, at: SynthPoint(0, bandTop + (bandBottom - bandTop) * 0.76), maxWidth: bodyHalf * 0.9,
                  height: (bandBottom - bandTop) * 0.17, on: ground, shading: shading, logo: false)
        } else {
            if style.labelStyle == 3 {
                add(.slab(body, top: bodyTop + h * 0.08, bottom: bodyTop + h * 0.12),
                    cylinder(colors.accent, halfWidth: bodyHalf, top: bodyTop, bottom: 0, gloss: 0.6, metal: colors.metalCap ? 0.6 : 0))
            }
            inscribe(text.logo, at: SynthPoint(0, bodyTop + h * 0.42), maxWidth: bodyHalf * 1.2, height: h * 0.2,
                  on: ground, shading: shading, logo: true)
            inscribe(text.product, at: SynthPoint(0, bodyTop + h * 0.68), maxWidth: bodyHalf * 0.9, height: h * 0.1,
                  on: ground, shading: shading, logo: false)
        }
        inscribe(text.series, at: SynthPoint(0, bodyTop + h * 0.9), maxWidth: bodyHalf * 0.8, height: h * 0.06,
              on: colors.body, shading: shading, logo: false)
    }

    /// A squeeze tube standing on its cap, crimped at the top.
    private mutating func tube() {
        let capHeight = rng.float(0.09, 0.15)
        let capHalf = rng.float(0.09, 0.14)
        let topHalf = rng.float(0.19, 0.26)
        let bottomHalf = max(capHalf * 1.05, topHalf * rng.float(0.55, 0.7))
        let crimpHeight = rng.float(0.035, 0.055)
        let bodyTop = -1 + crimpHeight
        let bodyBottom = -capHeight - 0.03
        let body = SynthShape.taper(centerX: 0, top: bodyTop - 0.005, bottom: bodyBottom, halfTop: topHalf,
                                    halfBottom: bottomHalf, radius: 0.012)
        var bodySurface = makeBodySurface(halfWidth: topHalf, top: bodyTop, bottom: bodyBottom)
        bodySurface.shading = .cylinder(centerX: 0, halfTop: topHalf * 1.3, halfBottom: bottomHalf * 1.1, top: bodyTop, bottom: bodyBottom)
        bodySurface.opacity = 1
        add(body, bodySurface)
        // Crimp with ridges.
        let crimp = SynthShape.box(center: SynthPoint(0, -1 + crimpHeight / 2), half: SynthPoint(topHalf + 0.006, crimpHeight / 2),
                                   radius: 0.004)
        add(crimp, SynthSurface(color: colors.body * 0.93, shading: .flat(tilt: 0), gloss: 0.2))
        for i in 0 ..< 14 {
            let x = (topHalf + 0.006) * (-0.95 + 1.9 * Float(i) / 13)
            add(.clip(crimp, .box(center: SynthPoint(x, -1 + crimpHeight / 2), half: SynthPoint(0.004, crimpHeight / 2), radius: 0)),
                SynthSurface(color: colors.body * 0.7, shading: .flat(tilt: 0), gloss: 0, opacity: 0.6))
        }
        // Shoulder and cap.
        add(.taper(centerX: 0, top: bodyBottom - 0.01, bottom: -capHeight + 0.005, halfTop: bottomHalf, halfBottom: capHalf * 0.9,
                   radius: 0.005),
            cylinder(colors.body * 0.95, halfWidth: bottomHalf, top: bodyBottom, bottom: -capHeight, gloss: 0.4))
        cap(top: -capHeight, bottom: 0, halfWidth: capHalf, roundTop: false)
        // Print: upper half of the tube (the reading side, cap down).
        let h = bodyBottom - bodyTop
        let shading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: topHalf * 1.3, halfBottom: bottomHalf * 1.1,
                                                    top: bodyTop, bottom: bodyBottom)
        var ground = colors.body
        if style.labelStyle == 0 || style.labelStyle == 3 {
            let bandTop = bodyTop + h * rng.float(0.12, 0.2)
            let bandBottom = bandTop + h * 0.36
            add(.slab(body, top: bandTop, bottom: bandBottom),
                SynthSurface(color: colors.label, shading: shading, gloss: 0.2))
            ground = colors.label
        }
        if style.emblem != 0 {
            emblem(at: SynthPoint(0, bodyTop + h * 0.1), size: h * 0.05, on: colors.body, shading: shading)
        }
        inscribe(text.logo, at: SynthPoint(0, bodyTop + h * 0.25), maxWidth: topHalf * 1.6, height: h * 0.075,
              on: ground, shading: shading, logo: true)
        inscribe(text.product, at: SynthPoint(0, bodyTop + h * 0.4), maxWidth: topHalf * 1.4, height: h * 0.04,
              on: ground, shading: shading, logo: false)
        inscribe(text.series, at: SynthPoint(0, bodyTop + h * 0.62), maxWidth: topHalf * 1.2, height: h * 0.03,
              on: colors.body, shading: shading, logo: false)
        inscribe(text.detail, at: SynthPoint(0, bodyTop + h * 0.85), maxWidth: bottomHalf * 1.2, height: h * 0.025,
              on: colors.body, shading: shading, logo: false)
    }

    /// A lipstick (open, bullet showing) or a lip balm (closed).
    private mutating func lipstick() {
        let open = text.product != "LIP BALM" && rng.chance(0.75)
        let half = rng.float(0.095, 0.13)
        let metal: Float = colors.metalCap ? 0.85 : 0
        if open {
            let baseTop = -rng.float(0.46, 0.56)
            let sleeveTop = baseTop - rng.float(0.1, 0.14)
            let base = SynthShape.box(center: SynthPoint(0, baseTop / 2), half: SynthPoint(half, -baseTop / 2), radius: half * 0.15)
            add(base, makeBodySurface(halfWidth: half, top: baseTop, bottom: 0))
            add(.box(center: SynthPoint(0, (sleeveTop + baseTop) / 2), half: SynthPoint(half * 0.86, (baseTop - sleeveTop) / 2 + 0.005),
                     radius: 0.004),
                cylinder(colors.cap, halfWidth: half * 0.86, top: sleeveTop, bottom: baseTop, gloss: 0.9, metal: max(metal, 0.5)))
            let bulletHalf = half * 0.66
            let bullet = SynthShape.box(center: SynthPoint(0, (-1 + sleeveTop) / 2 + 0.01),
                                        half: SynthPoint(bulletHalf, (sleeveTop + 1) / 2 + 0.01), radius: bulletHalf * 0.3)
            let slope = rng.float(0.5, 0.9) * (rng.chance(0.5) ? 1 : -1)
            let normal = SynthPoint(slope, -1) / (slope * slope + 1).squareRoot()
            add(.cut(bullet, point: SynthPoint(0, -1 + bulletHalf * abs(slope)), normal: normal),
                cylinder(colors.contents, halfWidth: bulletHalf, top: -1, bottom: sleeveTop, gloss: 0.7))
            let shading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: half, halfBottom: half, top: baseTop, bottom: 0)
            inscribe(text.logo, at: SynthPoint(0, baseTop * 0.5), maxWidth: -baseTop * 0.8, height: half * 0.9,
                  on: colors.body, shading: shading, logo: true, vertical: true)
        } else {
            let split = -rng.float(0.42, 0.5)
            let base = SynthShape.box(center: SynthPoint(0, split / 2), half: SynthPoint(half, -split / 2), radius: half * 0.15)
            add(base, makeBodySurface(halfWidth: half, top: split, bottom: 0))
            let capShape = SynthShape.box(center: SynthPoint(0, (-1 + split) / 2), half: SynthPoint(half * 1.02, (split + 1) / 2),
                                          radius: half * (0.15 + 0.8 * style.roundness))
            add(capShape, cylinder(colors.cap, halfWidth: half, top: -1, bottom: split, gloss: colors.metalCap ? 0.9 : 0.6, metal: metal))
            add(.box(center: SynthPoint(0, split), half: SynthPoint(half * 1.03, 0.008), radius: 0),
                cylinder(colors.accent, halfWidth: half, top: split - 0.01, bottom: split + 0.01, gloss: 0.8, metal: 0.6))
            let shading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: half, halfBottom: half, top: -1, bottom: split)
            inscribe(text.logo, at: SynthPoint(0, (-1 + split) / 2), maxWidth: (split + 1) * 0.8, height: half * 0.9,
                  on: colors.cap, shading: shading, logo: true, vertical: true)
            let bodyShading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: half, halfBottom: half, top: split, bottom: 0)
            inscribe(text.product, at: SynthPoint(0, split / 2), maxWidth: -split * 0.75, height: half * 0.6,
                  on: colors.body, shading: bodyShading, logo: false, vertical: true)
        }
    }

    /// A mascara or liner: slim tube and a long cap.
    private mutating func mascara() {
        let half = rng.float(0.06, 0.085)
        let split = -rng.float(0.45, 0.58)
        let metal: Float = colors.metalCap ? 0.85 : 0
        let body = SynthShape.box(center: SynthPoint(0, split / 2), half: SynthPoint(half, -split / 2), radius: half * 0.4)
        add(body, makeBodySurface(halfWidth: half, top: split, bottom: 0))
        let capShape = SynthShape.box(center: SynthPoint(0, (-1 + split) / 2), half: SynthPoint(half * 1.05, (split + 1) / 2),
                                      radius: half * (0.3 + 0.7 * style.roundness))
        add(capShape, cylinder(colors.cap, halfWidth: half, top: -1, bottom: split, gloss: colors.metalCap ? 0.9 : 0.6, metal: metal))
        add(.box(center: SynthPoint(0, split), half: SynthPoint(half * 1.08, 0.012), radius: 0.004),
            cylinder(colors.accent, halfWidth: half, top: split - 0.012, bottom: split + 0.012, gloss: 0.8, metal: 0.6))
        let shading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: half, halfBottom: half, top: split, bottom: 0)
        inscribe(text.logo, at: SynthPoint(0, split / 2), maxWidth: -split * 0.8, height: half * 1.1,
              on: colors.body, shading: shading, logo: true, vertical: true)
        let capShading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: half, halfBottom: half, top: -1, bottom: split)
        inscribe(text.product, at: SynthPoint(0, (-1 + split) / 2), maxWidth: (split + 1) * 0.7, height: half * 0.7,
              on: colors.cap, shading: capShading, logo: false, vertical: true)
    }

    /// A round compact seen from a little above: lid on top, rim below.
    private mutating func compact() {
        let rimHeight = rng.float(0.18, 0.28)
        let rx = rng.float(0.85, 1.05)
        let ry = (1 - rimHeight) / 2
        let topY = -1 + ry, bottomY = -ry
        let metal: Float = colors.metalBody ? 0.75 : 0
        let rimShading = SynthSurface.Shading.cylinder(centerX: 0, halfTop: rx, halfBottom: rx, top: topY, bottom: bottomY + ry)
        let rimColor = colors.cap
        add(.ellipse(center: SynthPoint(0, bottomY), radii: SynthPoint(rx, ry)),
            SynthSurface(color: rimColor, shading: rimShading, gloss: 0.5, metal: colors.metalCap ? 0.8 : 0))
        add(.box(center: SynthPoint(0, (topY + bottomY) / 2), half: SynthPoint(rx, (bottomY - topY) / 2), radius: 0),
            SynthSurface(color: rimColor, shading: rimShading, gloss: 0.5, metal: colors.metalCap ? 0.8 : 0))
        // Seam between lid and base.
        add(.clip(.outline(.ellipse(center: SynthPoint(0, topY + rimHeight * 0.45), radii: SynthPoint(rx, ry)), width: 0.012),
                  .box(center: SynthPoint(0, 0), half: SynthPoint(2, -(topY + rimHeight * 0.45)), radius: 0)),
            SynthSurface(color: rimColor * 0.6, shading: .flat(tilt: 0), gloss: 0))
        let lidShading = SynthSurface.Shading.dome(center: SynthPoint(0, topY), radii: SynthPoint(rx, ry))
        var lid = SynthSurface(color: colors.body, shading: lidShading, gloss: colors.bodyGloss, metal: metal)
        if let g = colors.bodyGradient {
            lid.gradientColor = g; lid.gradientTop = topY - ry; lid.gradientBottom = topY + ry
        }
        add(.ellipse(center: SynthPoint(0, topY), radii: SynthPoint(rx, ry)), lid)
        if style.labelStyle != 2 {
            add(.outline(.ellipse(center: SynthPoint(0, topY), radii: SynthPoint(rx * 0.82, ry * 0.82)), width: 0.018),
                SynthSurface(color: colors.accent, shading: lidShading, gloss: 0.8, metal: colors.metalCap ? 0.7 : 0.2))
        }
        // Print on the lid, foreshortened like the lid.
        let squeeze = ry / rx
        let cellsWide = Float(text.logo.count) * style.logoAdvance - (style.logoAdvance - 5)
        let k = min(0.04, rx * 1.2 / max(1, cellsWide)) // cell width in drawing units
        let logo = SynthText.centered(text.logo, at: SynthPoint(0, topY - ry * 0.08), cell: SynthPoint(k, k * squeeze * 1.3),
                                      advance: style.logoAdvance, shear: style.logoShear, bold: style.logoBold)
        add(.text(logo), SynthSurface(color: inkOn(colors.body), shading: lidShading, gloss: 0.5, metal: colors.metalInk ? 0.7 : 0))
        let small = SynthText.centered(text.product, at: SynthPoint(0, topY + ry * 0.4),
                                       cell: SynthPoint(k * 0.5, k * 0.5 * squeeze * 1.3))
        add(.text(small), SynthSurface(color: inkOn(colors.body), shading: lidShading, gloss: 0.3))
    }

    /// A carton (gift box or sheet-mask box) seen a little from the side and above.
    private mutating func carton() {
        let half = rng.float(0.3, 0.5)
        let depth = rng.float(0.08, 0.14)
        let rise = depth * 0.6
        let right: Float = rng.chance(0.5) ? 1 : -1
        let frontLeft = right > 0 ? -half : -half + depth
        let frontRight = right > 0 ? half - depth : half
        let top = -1 + rise
        let front = SynthShape.box(center: SynthPoint((frontLeft + frontRight) / 2, top / 2),
                                   half: SynthPoint((frontRight - frontLeft) / 2, -top / 2), radius: 0.004)
        let edge = right > 0 ? frontRight : frontLeft
        let side = SynthShape.polygon([SynthPoint(edge, top), SynthPoint(edge + right * depth, -1),
                                       SynthPoint(edge + right * depth, -rise), SynthPoint(edge, 0)])
        let far = right > 0 ? frontLeft : frontRight
        let topFace = SynthShape.polygon([SynthPoint(far, top), SynthPoint(far + right * depth, -1),
                                          SynthPoint(edge + right * depth, -1), SynthPoint(edge, top)])
        let frontSurface = SynthSurface(color: colors.body, shading: .flat(tilt: 0), gloss: 0.2, metal: colors.metalBody ? 0.4 : 0,
                                        gradientColor: colors.bodyGradient, gradientTop: top, gradientBottom: 0)
        add(front, frontSurface)
        add(side, SynthSurface(color: colors.body * 0.82, shading: .flat(tilt: right), gloss: 0.1))
        add(topFace, SynthSurface(color: colors.body * 1.08, shading: .flat(tilt: 0), gloss: 0.1))
        let cx = (frontLeft + frontRight) / 2
        let w = frontRight - frontLeft
        let h = -top
        let flat = SynthSurface.Shading.flat(tilt: 0)
        var ground = colors.body
        if style.labelStyle != 2 {
            let bandTop = top + h * rng.float(0.3, 0.45)
            add(.box(center: SynthPoint(cx, bandTop + h * 0.15), half: SynthPoint(w / 2, h * 0.15), radius: 0),
                SynthSurface(color: colors.label, shading: flat, gloss: 0.15))
            add(.box(center: SynthPoint(cx, bandTop + h * 0.3), half: SynthPoint(w / 2, h * 0.008), radius: 0),
                SynthSurface(color: colors.accent, shading: flat, gloss: 0.6, metal: colors.metalCap ? 0.6 : 0))
            ground = colors.label
            inscribe(text.logo, at: SynthPoint(cx, bandTop + h * 0.11), maxWidth: w * 0.8, height: h * 0.09,
                  on: ground, shading: flat, logo: true)
            inscribe(text.product, at: SynthPoint(cx, bandTop + h * 0.22), maxWidth: w * 0.6, height: h * 0.045,
                  on: ground, shading: flat, logo: false)
        } else {
            inscribe(text.logo, at: SynthPoint(cx, top + h * 0.35), maxWidth: w * 0.8, height: h * 0.1,
                  on: ground, shading: flat, logo: true)
            inscribe(text.product, at: SynthPoint(cx, top + h * 0.5), maxWidth: w * 0.6, height: h * 0.05,
                  on: ground, shading: flat, logo: false)
        }
        if style.emblem != 0 {
            emblem(at: SynthPoint(cx, top + h * 0.14), size: w * 0.14, on: colors.body, shading: flat)
        }
        inscribe(text.series, at: SynthPoint(cx, top + h * 0.82), maxWidth: w * 0.6, height: h * 0.035,
              on: colors.body, shading: flat, logo: false)
        inscribe(text.detail, at: SynthPoint(cx, top + h * 0.9), maxWidth: w * 0.4, height: h * 0.03,
              on: colors.body, shading: flat, logo: false)
    }
}
