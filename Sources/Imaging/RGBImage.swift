/// An 8-bit RGB image, pixels interleaved row by row (R, G, B), no padding.
///
/// This is the one image type every module passes around: decoders produce it,
/// resizing and letterboxing transform it, the SampleData generator draws into
/// it and the explorer turns it into terminal cells.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 3` bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * 3,
                     "RGBImage: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A `width` x `height` image filled with one colour.
    public init(width: Int, height: Int, fill: RGB = RGB(0, 0, 0)) {
        precondition(width >= 0 && height >= 0)
        var p = [UInt8](repeating: 0, count: width * height * 3)
        if fill != RGB(0, 0, 0) {
            for i in stride(from: 0, to: p.count, by: 3) {
                p[i] = fill.r; p[i + 1] = fill.g; p[i + 2] = fill.b
            }
        }
        self.init(width: width, height: height, pixels: p)
    }

    public subscript(x: Int, y: Int) -> RGB {
        get {
            let i = (y * width + x) * 3
            return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            let i = (y * width + x) * 3
            pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b
        }
    }
}

/// One 8-bit RGB colour.
public struct RGB: Sendable, Hashable {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    /// Parses `#rrggbb` (or `rrggbb`); nil if malformed.
    public init?(hex: String) {
        var s = Substring(hex)
        if s.hasPrefix("#") { s = s.dropFirst() }
        guard s.count == 6, let v = UInt32(s, radix: 16) else { return nil }
        self.init(UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff))
    }

    public var hex: String {
        func h(_ v: UInt8) -> String { let s = String(v, radix: 16); return s.count == 1 ? "0" + s : s }
        return "#" + h(r) + h(g) + h(b)
    }
}
