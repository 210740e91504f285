import Explorer
import Testing

/// `BraillePlot`: characters worked out by hand from the dot bits (dot1 0x01, dot2 0x02, dot3 0x04,
/// dot7 0x40 down the left column; dot4 0x08, dot5 0x10, dot6 0x20, dot8 0x80 down the right).
@Suite struct BraillePlotTests {
    /// The plot of `series` in a frame exactly the size of the rect.
    func plot(_ series: [PlotSeries], width: Int, height: Int, yRange: ClosedRange<Double> = 0...1,
              unicode: Bool = true) -> Frame {
        var frame = Frame(width: width, height: height)
        BraillePlot.draw(series, yRange: yRange, in: Rect(x: 0, y: 0, width: width, height: height), unicode: unicode,
                         frame: &frame)
        return frame
    }

    func line(_ values: [Double], _ role: Role = .accent) -> PlotSeries { PlotSeries(values: values, role: role) }

    @Test func aConstantAtTheTopLightsTheTopDotRow() {
        // 0x2800 | 0x01 | 0x08 = ⠉ in every cell of the top row; the row below stays blank.
        #expect(plot([line([1, 1, 1])], width: 3, height: 1).textLines() == ["⠉⠉⠉"])
        #expect(plot([line(Array(repeating: 1, count: 100))], width: 4, height: 2).textLines() == ["⠉⠉⠉⠉", "    "])
        let frame = plot([line([1, 1], .accent)], width: 2, height: 1)
        #expect(frame.cells.allSatisfy { $0.style == CellStyle(.accent) && $0.width == 1 })
    }

    @Test func aConstantAtTheBottomLightsTheBottomDotRow() {
        // 0x2800 | 0x40 | 0x80 = ⣀, in the bottom row of cells only.
        #expect(plot([line([0, 0, 0])], width: 3, height: 1).textLines() == ["⣀⣀⣀"])
        #expect(plot([line([0, 0])], width: 2, height: 2).textLines() == ["  ", "⣀⣀"])
    }

    @Test func aDiagonalIsJoinedDotByDot() {
        // [0, 1] across 2x1 cells (4x4 dots): (0,3) (1,2) | (2,1) (3,0).
        // Left cell: dot7 0x40 + dot6 0x20 = U+2860 ⡠; right cell: dot2 0x02 + dot4 0x08 = U+280A ⠊.
        #expect(plot([line([0, 1])], width: 2, height: 1).textLines() == ["⡠⠊"])
        #expect(plot([line([0, 1.0 / 3, 2.0 / 3, 1])], width: 2, height: 1).textLines() == ["⡠⠊"])
        // Falling: (0,0) (1,1) | (2,2) (3,3): 0x01 + 0x10 = ⠑, 0x04 + 0x80 = ⢄.
        #expect(plot([line([1, 0])], width: 2, height: 1).textLines() == ["⠑⢄"])
    }

    @Test func aSteepCurveHasNoGaps() {
        // [0, 1] in one column of three cells (2x12 dots): one dot on each of the 12 dot rows.
        let frame = plot([line([0, 1])], width: 1, height: 3)
        let bits = frame.cells.map { Int($0.text.unicodeScalars.first!.value) - 0x2800 }
        #expect(bits.allSatisfy { $0 > 0 && $0 < 0x100 })
        #expect(bits.map(\.nonzeroBitCount).reduce(0, +) == 12)
        // So each cell has a dot on each of its four dot rows.
        for b in bits {
            let rows = [0x01 | 0x08, 0x02 | 0x10, 0x04 | 0x20, 0x40 | 0x80].map { b & $0 != 0 }
            #expect(rows == [true, true, true, true])
        }
    }

    @Test func valuesOutsideTheRangeAreClamped() {
        #expect(plot([line([2, 7])], width: 2, height: 1).textLines() == ["⠉⠉"])
        #expect(plot([line([-1, -.infinity])], width: 2, height: 1).textLines() == ["⣀⣀"])
        #expect(plot([line([-5, 5])], width: 2, height: 1).textLines() == ["⡠⠊"])
        // Another range: 10 is its top, 0 (below it) its bottom.
        #expect(plot([line([10, 10])], width: 1, height: 1, yRange: 5...10).textLines() == ["⠉"])
        #expect(plot([line([0, 0])], width: 1, height: 1, yRange: 5...10).textLines() == ["⣀"])
    }

    @Test func nanPointsAreSkippedAndBreakTheCurve() {
        // [1, NaN, 1] over 6 dots across: x = 0, 3, 5. Only (0,0) and (5,0) are drawn, not joined:
        // ⠁ (dot1), a blank cell, ⠈ (dot4).
        #expect(plot([line([1, .nan, 1])], width: 3, height: 1).textLines() == ["⠁ ⠈"])
        #expect(plot([line([.nan, .nan])], width: 2, height: 1) == Frame(width: 2, height: 1))
        #expect(plot([line([])], width: 2, height: 1) == Frame(width: 2, height: 1))
    }

    @Test func aSharedCellTakesTheRoleWithMostDots() {
        // One cell (2x4 dots). [1, 1]: (0,0) (1,0), 2 dots. [0, 1]: (0,3) (0,2) (1,1) (1,0), 4 dots.
        // Union 0x01 | 0x08 | 0x40 | 0x04 | 0x10 = 0x5D: ⡝, in the role of the second series.
        let frame = plot([line([1, 1], .accent), line([0, 1], .warning)], width: 1, height: 1)
        #expect(frame.textLines() == ["⡝"])
        #expect(frame[0, 0].style == CellStyle(.warning))
        // Top row and bottom row, 2 dots each: a tie goes to the earlier series. ⣉ = 0x01|0x08|0x40|0x80.
        let tie = plot([line([0, 0], .error), line([1, 1], .accent)], width: 1, height: 1)
        #expect(tie.textLines() == ["⣉"] && tie[0, 0].style == CellStyle(.error))
        let swapped = plot([line([1, 1], .accent), line([0, 0], .error)], width: 1, height: 1)
        #expect(swapped.textLines() == ["⣉"] && swapped[0, 0].style == CellStyle(.accent))
    }

    @Test func asciiMarksOnePerCellLastSeriesWins() {
        // Series 0 along the top of 3 cells; series 1 only at the last dot (cell 2); series 2 a
        // single point at x = 0 (cell 0).
        let series = [line([1, 1, 1], .accent), line([.nan, .nan, 0], .warning), line([0], .error)]
        let frame = plot(series, width: 3, height: 1, unicode: false)
        #expect(frame.textLines() == ["o*+"])
        #expect([frame[0, 0], frame[1, 0], frame[2, 0]].map(\.style.role) == [.error, .accent, .warning])
        // Two rows: the bottom curve marks the bottom row only.
        #expect(plot([line([0, 0])], width: 2, height: 2, unicode: false).textLines() == ["  ", "**"])
        #expect(plot([line([0, 1])], width: 2, height: 2, unicode: false).textLines() == [" *", "* "])
    }

    @Test func anEmptyRectDrawsNothing() {
        let sentinel = Frame(width: 4, height: 3, fill: CellStyle(.dim))
        for rect in [Rect(x: 1, y: 1, width: 0, height: 2), Rect(x: 1, y: 1, width: 2, height: 0)] {
            for unicode in [true, false] {
                var frame = sentinel
                BraillePlot.draw([line([0, 1, 0.5])], in: rect, unicode: unicode, frame: &frame)
                #expect(frame == sentinel)
            }
        }
    }

    @Test func noCellOutsideTheRectIsTouched() {
        var sentinel = Frame(width: 12, height: 7)
        for y in 0..<7 { sentinel.put(String(repeating: "#", count: 12), x: 0, y: y, style: CellStyle(.dim)) }
        let series = [line([0, 1, -3, 9, .nan, 0.5, 1, 0], .accent), line((0..<100).map { Double($0) / 99 }, .warning),
                      line([1], .error)]
        // Inside the frame, and hanging over its right and bottom edges and its top-left corner.
        let rects = [Rect(x: 2, y: 1, width: 5, height: 3), Rect(x: 8, y: 4, width: 10, height: 10),
                     Rect(x: -3, y: -2, width: 5, height: 4)]
        for rect in rects {
            for unicode in [true, false] {
                var frame = sentinel
                BraillePlot.draw(series, in: rect, unicode: unicode, frame: &frame)
                var touched = 0
                for y in 0..<7 {
                    for x in 0..<12 where frame[x, y] != sentinel[x, y] {
                        #expect(rect.contains(x: x, y: y), "cell (\(x), \(y)) outside \(rect) was drawn")
                        touched += 1
                    }
                }
                #expect(touched > 0)
            }
        }
    }
}
