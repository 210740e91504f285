import Foundation

/// Numbers and durations as the training pane shows them.
enum TrainingFormat {
    /// "45s", "2m 14s", "1h 05m", "3d 4h"; "–" ("-" in ASCII) when unknown.
    static func duration(_ seconds: Double?, unicode: Bool) -> String {
        // Beyond a thousand years (a followed run's file may say anything) is as good as unknown.
        guard let seconds, seconds.isFinite, seconds >= 0, seconds < 3e10 else { return unicode ? "–" : "-" }
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m \(String(format: "%02d", s % 60))s" }
        if s < 86400 { return "\(s / 3600)h \(String(format: "%02d", (s % 3600) / 60))m" }
        return "\(s / 86400)d \((s % 86400) / 3600)h"
    }

    /// A loss with four significant figures or so: "1.234", "12.35", "123.5".
    static func loss(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        let a = abs(v)
        if a >= 1000 { return String(format: "%.3g", v) }
        if a >= 100 { return String(format: "%.1f", v) }
        if a >= 10 { return String(format: "%.2f", v) }
        return String(format: "%.3f", v)
    }

    static func learningRate(_ v: Double) -> String {
        guard v.isFinite else { return "nan" }
        return v == 0 ? "0" : String(format: "%.1e", v)
    }

    static func rate(_ v: Double) -> String {
        guard v.isFinite, v >= 0 else { return "?" }
        return v >= 100 ? String(format: "%.0f", v) : String(format: "%.1f", v)
    }

    static func map(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "n/a" }
        return String(format: "%.3f", v)
    }

    /// "+0.118", "-0.020", "±0.000".
    static func delta(_ v: Double, unicode: Bool) -> String {
        let s = String(format: "%.3f", abs(v))
        if s == "0.000" { return unicode ? "±0.000" : "+-0.000" }
        return (v > 0 ? "+" : "-") + s
    }
}
