import Imaging

/// Draws an attention map (a `side` x `side` grid over the letterboxed image the model saw)
/// over an image: with colour (truecolor, 256 or 16), every pixel is dimmed where the map is weak
/// and tinted warm where it is strong; without colour or UTF-8 the cells show the map itself
/// through the ASCII density ramp, from "." to "@" (the picture cannot carry both there).
public enum AttentionCells {
    /// The warm tint of strong attention.
    static let heat = RGB(255, 170, 40)

    /// Draws `image`, letterboxed to a square as the model sees it, centred in `rect`, with `map`
    /// (row-major, `side * side` non-negative values) over it. Returns the rectangle covered.
    @discardableResult
    public static func draw(_ image: RGBImage, map: [Float], side: Int, into frame: inout Frame, rect: Rect,
                            capabilities: TerminalCapabilities) -> Rect {
        guard side > 0, map.count == side * side, image.width > 0, image.height > 0 else {
            return ImageCells.draw(image, into: &frame, rect: rect, capabilities: capabilities)
        }
        let square = image.letterboxed(side: max(image.width, image.height)).image
        let colour = capabilities.imageMode != .ascii
        let (cols, rows) = ImageCells.fittedSize(width: square.width, height: square.height, in: rect, halfBlocks: colour)
        guard cols > 0, rows > 0 else { return Rect(x: rect.x, y: rect.y, width: 0, height: 0) }
        let x0 = rect.x + (rect.width - cols) / 2
        let y0 = rect.y + (rect.height - rows) / 2
        let scale = peakScale(map)
        /// The map's relative weight (0...1) at a pixel of a `w` x `h` grid.
        func weight(_ x: Int, _ y: Int, _ w: Int, _ h: Int) -> Float {
            AttentionCells.weight(map, side: side, scale: scale, x: x, y: y, width: w, height: h)
        }
        if colour {
            let scaled = square.resized(width: cols, height: rows * 2)
            let mode = capabilities.colorMode
            for r in 0..<rows {
                for c in 0..<cols {
                    let top = ImageCells.shown(tint(scaled[c, 2 * r], weight(c, 2 * r, cols, rows * 2)),
                                               x: x0 + c, y: 2 * (y0 + r), mode: mode)
                    let bottom = ImageCells.shown(tint(scaled[c, 2 * r + 1], weight(c, 2 * r + 1, cols, rows * 2)),
                                                  x: x0 + c, y: 2 * (y0 + r) + 1, mode: mode)
                    frame[x0 + c, y0 + r] = Cell(text: "▀", width: 1, style: CellStyle(.image, fg: top, bg: bottom))
                }
            }
        } else {
            let ramp = ImageCells.asciiRamp
            for r in 0..<rows {
                for c in 0..<cols {
                    let w = weight(c, r, cols, rows)
                    // "." at the weakest, so the picture's extent stays visible; "@" at the peak.
                    let i = min(ramp.count - 1, 1 + Int((w * Float(ramp.count - 2)).rounded()))
                    frame[x0 + c, y0 + r] = Cell(text: String(ramp[i]), width: 1, style: CellStyle(.image))
                }
            }
        }
        return Rect(x: x0, y: y0, width: cols, height: rows)
    }

    /// What a map's values are multiplied by to make its peak 1 (0 when no value is positive).
    static func peakScale(_ map: [Float]) -> Float {
        let peak = map.max() ?? 0
        return peak > 0 ? 1 / peak : 0
    }

    /// The relative weight (0...1) of a `side` x `side` map, normalised by `scale`
    /// (`peakScale`), at pixel (`x`, `y`) of a `width` x `height` grid laid over the map.
    /// Also used by `GraphicsPainter` to tint pictures drawn with real pixels.
    @inline(__always)
    static func weight(_ map: [Float], side: Int, scale: Float, x: Int, y: Int, width: Int, height: Int) -> Float {
        let cx = min(side - 1, x * side / width), cy = min(side - 1, y * side / height)
        return min(1, max(0, map[cy * side + cx] * scale))
    }

    /// A pixel dimmed where attention is weak and tinted warm where it is strong.
    static func tint(_ p: RGB, _ w: Float) -> RGB {
        let keep = (0.25 + 0.75 * w) * (1 - 0.4 * w)
        let add = 0.4 * w
        func mix(_ a: UInt8, _ h: UInt8) -> UInt8 { UInt8(min(255, max(0, (Float(a) * keep + Float(h) * add).rounded()))) }
        return RGB(mix(p.r, heat.r), mix(p.g, heat.g), mix(p.b, heat.b))
    }
}
