import Imaging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Colour contrast as WCAG 2 defines it (relative luminance of sRGB colours).
public enum Contrast {
    /// Relative luminance, 0 (black) ... 1 (white).
    public static func luminance(_ c: RGB) -> Double {
        func channel(_ v: UInt8) -> Double {
            let s = Double(v) / 255
            return s <= 0.03928 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b)
    }

    /// The contrast ratio of two colours, 1 ... 21. WCAG asks 4.5 for body
    /// text (AA) and 7 for enhanced contrast (AAA).
    public static func ratio(_ a: RGB, _ b: RGB) -> Double {
        let la = luminance(a), lb = luminance(b)
        return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
    }

    /// `a` moved towards `b` by `t` (0: a, 1: b), per channel.
    public static func mix(_ a: RGB, _ b: RGB, _ t: Double) -> RGB {
        func m(_ x: UInt8, _ y: UInt8) -> UInt8 {
            UInt8(max(0, min(255, (Double(x) * (1 - t) + Double(y) * t).rounded())))
        }
        return RGB(m(a.r, b.r), m(a.g, b.g), m(a.b, b.b))
    }

    /// `text` faded towards `background` by at most `t`, but no further than
    /// keeps a contrast ratio of `minimum` (if `text` itself has it).
    static func faded(_ text: RGB, on background: RGB, by t: Double, keeping minimum: Double) -> RGB {
        var step = t
        while step > 0 {
            let c = mix(text, background, step)
            if ratio(c, background) >= minimum { return c }
            step -= 0.05
        }
        return text
    }
}
