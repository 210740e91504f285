/// Python's `repr(float)`, which is what `json.dump` writes for a float.
///
/// Both Python (`repr`, David Gay's shortest mode) and Swift (`Double.description`) print the
/// shortest digit string that reads back to the same double, choosing the closest one when several
/// are that short; they differ only in layout. Python writes `d.ddde±XX` (at least two exponent
/// digits) when the decimal exponent is below -4 or at least 16, and plain decimals otherwise,
/// always with a fractional part (`1.0`). Swift switches to exponents at other points (it writes
/// `9.5e+15` from 2^53 up, where Python writes `9500000000000000.0` below 1e16). This takes
/// Swift's digits and lays them out Python's way.
public enum PythonFloat {
    /// `repr(x)` as Python 3 prints it: `0.1`, `1e-05`, `0.0001`, `1.0`, `1e+16`, `nan`, `-inf`.
    public static func repr(_ x: Double) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x < 0 ? "-inf" : "inf" }
        let negative = x.sign == .minus
        let (digits, pointPosition) = shortestDigits(abs(x))
        var out = negative ? "-" : ""
        if digits == "0" { return out + "0.0" }
        // `pointPosition` is Python's `decpt`: value = 0.DIGITS * 10^decpt.
        if pointPosition > -4 && pointPosition <= 16 {
            if pointPosition <= 0 {
                out += "0." + String(repeating: "0", count: -pointPosition) + digits
            } else if pointPosition >= digits.count {
                out += digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
            } else {
                let split = digits.index(digits.startIndex, offsetBy: pointPosition)
                out += digits[..<split] + "." + digits[split...]
            }
        } else {
            let first = digits.prefix(1)
            let rest = digits.dropFirst()
            out += first + (rest.isEmpty ? "" : "." + rest)
            let exponent = pointPosition - 1
            let magnitude = String(abs(exponent))
            out += "e" + (exponent < 0 ? "-" : "+") + (magnitude.count < 2 ? "0" + magnitude : magnitude)
        }
        return out
    }

    /// The shortest round-trip significant digits of a finite non-negative `x` (no leading or
    /// trailing zeros; "0" for zero) and the position of the decimal point relative to them.
    static func shortestDigits(_ x: Double) -> (digits: String, pointPosition: Int) {
        if x == 0 { return ("0", 1) }
        let text = x.description  // e.g. "0.001", "123.5", "1e-05", "1.2345e+17", "5e-324"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...])!
        }
        var integerPart = mantissa
        var fractionPart: Substring = ""
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fractionPart = mantissa[mantissa.index(after: dot)...]
        }
        var digits = String(integerPart) + fractionPart
        var pointPosition = integerPart.count + exponent
        // Leading zeros move the point left; trailing zeros are not significant.
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (digits, pointPosition)
    }
}
