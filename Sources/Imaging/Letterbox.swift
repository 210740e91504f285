/// Where the resized image sits inside a letterboxed square (see `RGBImage.letterboxed`).
public struct LetterboxGeometry: Sendable, Equatable {
    /// The square's side in pixels.
    public let side: Int
    /// Column of the content's left edge.
    public let offsetX: Int
    /// Row of the content's top edge.
    public let offsetY: Int
    /// Size of the resized content; the rest of the square is the fill value.
    public let contentWidth: Int
    public let contentHeight: Int

    public init(side: Int, offsetX: Int, offsetY: Int, contentWidth: Int, contentHeight: Int) {
        self.side = side
        self.offsetX = offsetX
        self.offsetY = offsetY
        self.contentWidth = contentWidth
        self.contentHeight = contentHeight
    }

    /// The geometry `letterboxed(side:)` uses for a `width` x `height` image:
    /// `scale = side / max(width, height)`, content `max(1, round(width * scale))` x
    /// `max(1, round(height * scale))` (Double arithmetic, round half to even as Python's
    /// `round`), centred at `floor((side - content) / 2)` on each axis.
    public init(width: Int, height: Int, side: Int) {
        precondition(side > 0, "letterbox: side must be positive, got \(side)")
        precondition(width >= 0 && height >= 0)
        let content = width > 0 && height > 0 ? fittedSize(width: width, height: height, side: side) : (width: 0, height: 0)
        self.init(side: side,
                  offsetX: (side - content.width) / 2, offsetY: (side - content.height) / 2,
                  contentWidth: content.width, contentHeight: content.height)
    }
}

extension RGBImage {
    /// The model's input framing (docs/model.md §3.2, "Image"): this image scaled to fit a
    /// `side` x `side` square keeping its aspect ratio (antialiased bilinear resampling, see
    /// `resized(width:height:)`; upscaled when smaller), centred, and the borders filled with
    /// `fill` on all channels. An empty image gives a square of `fill` with zero-sized content.
    public func letterboxed(side: Int = 224, fill: UInt8 = 127) -> (image: RGBImage, geometry: LetterboxGeometry) {
        let geometry = LetterboxGeometry(width: width, height: height, side: side)
        var canvas = [UInt8](repeating: fill, count: side * side * 3)
        if geometry.contentWidth > 0 {
            canvas.withUnsafeMutableBufferPointer { buffer in
                let origin = buffer.baseAddress! + (geometry.offsetY * side + geometry.offsetX) * 3
                Resampler.resample(self, width: geometry.contentWidth, height: geometry.contentHeight,
                                   into: origin, rowStride: side * 3)
            }
        }
        return (RGBImage(width: side, height: side, pixels: canvas), geometry)
    }
}
