/// One curve of a plot: its values at x = 0, 1, 2, ... and the role its cells take.
public struct PlotSeries: Sendable, Equatable {
    public var values: [Double]
    public var role: Role

    public init(values: [Double], role: Role) {
        self.values = values
        self.role = role
    }
}

/// Line curves in terminal cells (the evaluation dashboard's precision@k and recall@k), pure:
/// it only writes cells of the frame inside the rect.
///
/// The rect is a grid of dots, 2 across and 4 down per cell. A series' index i maps to dot column
/// round(i · (dots across - 1) / (count - 1)), so the first and last values sit on the rect's left
/// and right edges; a value maps to a dot row from the bottom (yRange's lower bound) to the top
/// (its upper bound). Consecutive points are joined by a line of dots, so a steep curve has no gaps.
public enum BraillePlot {
    /// Braille dot bits by dot column (0, 1) and row (0 at the top to 3).
    private static let dotBits: [[UInt8]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]

    /// Draws `series` into `rect` of `frame`.
    ///
    /// With `unicode`, each cell with dots becomes a braille character (U+2800 plus its dots' bits)
    /// in the role of the series with most dots in it (ties: the earlier series). Without, each cell
    /// a series passes through gets one ASCII mark, '*' for series 0, '+' for series 1 and 'o' for
    /// the others, the last series drawn winning. Values outside `yRange` are clamped; a NaN value
    /// is not drawn and breaks its curve there. Cells without dots keep what they had.
    public static func draw(_ series: [PlotSeries], yRange: ClosedRange<Double> = 0...1, in rect: Rect, unicode: Bool,
                            frame: inout Frame) {
        guard rect.width > 0, rect.height > 0, !series.isEmpty else { return }
        let columns = rect.width, rows = rect.height
        let masks = series.map { dots(of: $0.values, yRange: yRange, columns: columns, rows: rows) }
        func write(_ text: String, cell: Int, style: CellStyle) {
            let x = rect.x + cell % columns, y = rect.y + cell / columns
            guard x >= 0, y >= 0, x < frame.width, y < frame.height else { return }
            frame.put(text, x: x, y: y, maxWidth: 1, style: style)
        }
        if unicode {
            for cell in 0..<columns * rows {
                var union: UInt8 = 0
                var best = -1, bestCount = 0
                for (s, mask) in masks.enumerated() where mask[cell] != 0 {
                    union |= mask[cell]
                    let count = mask[cell].nonzeroBitCount
                    if count > bestCount { best = s; bestCount = count }
                }
                guard best >= 0, let scalar = Unicode.Scalar(0x2800 + UInt32(union)) else { continue }
                write(String(Character(scalar)), cell: cell, style: CellStyle(series[best].role))
            }
        } else {
            for (s, mask) in masks.enumerated() {
                let mark = s == 0 ? "*" : s == 1 ? "+" : "o"
                for cell in 0..<columns * rows where mask[cell] != 0 {
                    write(mark, cell: cell, style: CellStyle(series[s].role))
                }
            }
        }
    }

    /// The dots a curve lights, as braille bits per cell (row-major, `columns` × `rows` cells).
    private static func dots(of values: [Double], yRange: ClosedRange<Double>, columns: Int, rows: Int) -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: columns * rows)
        let across = 2 * columns, down = 4 * rows
        func light(_ x: Int, _ y: Int) {
            mask[(y / 4) * columns + x / 2] |= dotBits[x % 2][y % 4]
        }
        let span = yRange.upperBound - yRange.lowerBound
        var previous: (x: Int, y: Int)? = nil
        for (i, value) in values.enumerated() {
            let clamped = min(max(value, yRange.lowerBound), yRange.upperBound)
            let fraction = span > 0 ? (clamped - yRange.lowerBound) / span : 0
            guard !value.isNaN, fraction.isFinite else {
                previous = nil
                continue
            }
            let x = values.count == 1 ? 0 : Int((Double(i) * Double(across - 1) / Double(values.count - 1)).rounded())
            let y = Int(((1 - fraction) * Double(down - 1)).rounded())
            let point = (x: min(max(x, 0), across - 1), y: min(max(y, 0), down - 1))
            if let from = previous {
                line(from, point, light)
            } else {
                light(point.x, point.y)
            }
            previous = point
        }
        return mask
    }

    /// Bresenham's line from `a` to `b`, both ends included.
    private static func line(_ a: (x: Int, y: Int), _ b: (x: Int, y: Int), _ plot: (Int, Int) -> Void) {
        let dx = abs(b.x - a.x), dy = -abs(b.y - a.y)
        let sx = a.x < b.x ? 1 : -1, sy = a.y < b.y ? 1 : -1
        var x = a.x, y = a.y, error = dx + dy
        while true {
            plot(x, y)
            if x == b.x, y == b.y { return }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }
}
