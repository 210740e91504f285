import Foundation
import Catalog
import Retrieval

/// Where the dashboard's panels go in the body: the metrics table and the histogram on top; below
/// them the per-label table (or a drilled-into list of queries) and the curves, side by side when
/// the terminal is wide, else one of the two (`p` switches).
struct DashboardLayout {
    let metrics: Rect
    let histogram: Rect
    let list: Rect?
    let curves: Rect?

    /// Terminals at least this wide show the labels and the curves side by side.
    static let sideBySideWidth = 120

    init(body: Rect, showCurves: Bool) {
        let topHeight = body.height >= 20 ? 12 : max(7, body.height / 2)
        let top = Rect(x: body.x, y: body.y, width: body.width, height: min(topHeight, body.height))
        let metricsWidth = body.width * 11 / 20
        metrics = Rect(x: top.x, y: top.y, width: metricsWidth, height: top.height)
        histogram = Rect(x: top.x + metricsWidth, y: top.y, width: top.width - metricsWidth, height: top.height)
        let lower = Rect(x: body.x, y: top.maxY, width: body.width, height: body.maxY - top.maxY)
        if lower.height < 4 {
            list = nil; curves = nil
        } else if body.width >= Self.sideBySideWidth {
            list = Rect(x: lower.x, y: lower.y, width: metricsWidth, height: lower.height)
            curves = Rect(x: lower.x + metricsWidth, y: lower.y, width: lower.width - metricsWidth, height: lower.height)
        } else if showCurves {
            list = nil; curves = lower
        } else {
            list = lower; curves = nil
        }
    }
}

extension Canvas {
    mutating func drawDashboard() {
        guard let d = state.dashboard else { return }
        let body = workbenchBody
        let layout = DashboardLayout(body: body, showCurves: d.curves)
        drawMetrics(d, in: layout.metrics)
        drawHistogram(d, in: layout.histogram)
        if let r = layout.list {
            if let drill = d.drill { drawDrill(d, drill, in: r) } else { drawLabels(d, in: r) }
        }
        if let r = layout.curves { drawCurves(d, in: r) }
    }

    // MARK: Metrics

    private mutating func drawMetrics(_ d: DashboardState, in r: Rect) {
        box(r, title: "official metrics · " + clean(d.split), focused: false)
        let inside = inner(r)
        guard inside.height > 0 else { return }
        let columnCount = max(1, min(4, (inside.width - 14) / 8))
        let nameWidth = max(14, min(24, inside.width - columnCount * 8))
        let columns: [(String, (OfficialMetricResults) -> Double?)] = [
            ("mAP@10", { $0.at(10)?.mAP }), ("mAP@50", { $0.at(50)?.mAP }), ("mAP@100", { $0.at(100)?.mAP }), ("mAR@100", { $0.at(100)?.mAR }),
        ]
        let shownColumns = columns.prefix(columnCount)
        var y = inside.y
        putLine([(DisplayWidth.pad("ranker", to: nameWidth) + shownColumns.map { leftPad($0.0, 8) }.joined(), CellStyle(.dim))],
                x: inside.x, y: y, maxX: inside.maxX)
        y += 1
        func row(_ name: String, _ slot: DashboardState.Slot, bold: Bool) {
            guard y < inside.maxY else { return }
            let nameText = DisplayWidth.pad(DisplayWidth.truncate(name, to: nameWidth - 1), to: nameWidth)
            switch slot {
            case .pending:
                putLine([(nameText, CellStyle(.text, bold: bold)), (unicode ? "…" : "...", CellStyle(.dim))], x: inside.x, y: y, maxX: inside.maxX)
            case .failed(let why):
                putLine([(nameText, CellStyle(.text, bold: bold)), ("failed: " + clean(why), CellStyle(.error))], x: inside.x, y: y, maxX: inside.maxX)
            case .ready(let e):
                let values = shownColumns.map { leftPad($0.1(e.official).map { format($0) } ?? "–", 8) }.joined()
                putLine([(nameText, CellStyle(.text, bold: bold)), (values, CellStyle(bold ? .accent : .text, bold: bold))],
                        x: inside.x, y: y, maxX: inside.maxX)
            }
            y += 1
        }
        let modelName = d.session.evaluation.map { clean($0.title) } ?? clean(state.training.model.current.name)
        row(modelName, d.session, bold: true)
        for m in DashboardState.baselineOrder { row(m.title, d.baselines[m] ?? .pending, bold: false) }
        y += 1
        guard y < inside.maxY else { return }
        if let p = d.progress {
            putLine([(clean(p.what) + (p.total > 0 ? " \(p.done) of \(p.total)" : "") + (unicode ? "…" : "..."), CellStyle(.placeholder))],
                    x: inside.x, y: y, maxX: inside.maxX)
            y += 1
        }
        if let e = d.session.evaluation, y < inside.maxY {
            let b = e.breakdown
            var text = "\(b.queries.count) queries"
            if b.unscored > 0 { text += ", \(b.unscored) without labels in the gallery (left out below)" }
            putLine([(text, CellStyle(.dim))], x: inside.x, y: y, maxX: inside.maxX)
        }
    }

    // MARK: Histogram

    private mutating func drawHistogram(_ d: DashboardState, in r: Rect) {
        let focused = d.panel == .histogram && d.drill == nil
        box(r, title: "AP@10 over queries", focused: focused)
        let inside = inner(r)
        guard inside.height > 0, inside.width > 14 else { return }
        guard let e = d.session.evaluation else {
            drawSlotState(d.session, in: inside)
            return
        }
        let counts = e.breakdown.histogram(bins: DashboardState.bins)
        let most = max(1, counts.max() ?? 1)
        let countWidth = max(2, String(most).count)
        let barWidth = max(1, inside.width - 8 - countWidth - 1)
        // Best bar on top; as many bars as rows, the selected one kept in view.
        let order = Array((0 ..< DashboardState.bins).reversed())
        let rows = inside.height
        let selectedRow = order.firstIndex(of: d.bin) ?? 0
        let first = max(0, min(selectedRow - rows + 1, order.count - rows))
        for (i, bin) in order.enumerated().dropFirst(first).prefix(rows) {
            let y = inside.y + i - first
            let low = Double(bin) / Double(DashboardState.bins)
            let label = format(low, digits: 1) + (unicode ? "–" : "-") + format(low + 1.0 / Double(DashboardState.bins), digits: 1)
            let selected = bin == d.bin
            let style = selected && focused ? CellStyle(.selection, bold: true) : CellStyle(selected ? .accent : .dim, bold: selected)
            if selected && focused { frame.fill(x: inside.x, y: y, width: inside.width, height: 1, style: style) }
            frame.put(DisplayWidth.pad(label, to: 8), x: inside.x, y: y, maxWidth: 8, style: style)
            let bar = barText(Double(counts[bin]) / Double(most) * Double(barWidth))
            frame.put(bar, x: inside.x + 8, y: y, maxWidth: barWidth, style: selected && focused ? style : CellStyle(.accent))
            frame.put(leftPad(String(counts[bin]), countWidth), x: inside.maxX - countWidth, y: y, maxWidth: countWidth, style: style)
        }
    }

    /// A bar `length` cells long, in eighths of a cell with Unicode, in whole `#` without.
    func barText(_ length: Double) -> String {
        guard length > 0 else { return "" }
        guard unicode else { return String(repeating: "#", count: max(1, Int(length.rounded()))) }
        let eighths = max(1, Int((length * 8).rounded()))
        let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        return String(repeating: "█", count: eighths / 8) + partial[eighths % 8]
    }

    private mutating func drawSlotState(_ slot: DashboardState.Slot, in r: Rect) {
        switch slot {
        case .pending: drawCentered(["ranking the query split" + (unicode ? "…" : "...")], in: r, role: .placeholder)
        case .failed(let why): drawCentered(TextWrap.lines(clean(why), width: max(10, r.width)), in: r, role: .error)
        case .ready: break
        }
    }

    // MARK: Labels and drill-down

    private mutating func drawLabels(_ d: DashboardState, in r: Rect) {
        let focused = d.panel == .labels
        box(r, title: "per-label AP@10 · " + labelOrderWords(d.labelOrder), focused: focused)
        let inside = inner(r)
        guard inside.height > 1 else { return }
        guard d.session.evaluation != nil else { drawSlotState(d.session, in: inside); return }
        let labels = d.labels
        let tail = 5 + 8 + 2 + 22   // #q, mean AP, gap, worst example
        let showWorst = inside.width >= 24 + tail
        let nameWidth = max(8, inside.width - (showWorst ? tail : 13))
        var header = DisplayWidth.pad("label", to: nameWidth) + leftPad("#q", 5) + leftPad("mean AP", 8)
        if showWorst { header += "  worst query (AP@10)" }
        putLine([(header, CellStyle(.dim))], x: inside.x, y: inside.y, maxX: inside.maxX)
        let rows = inside.height - 1
        guard !labels.isEmpty else {
            putLine([("no scored queries", CellStyle(.dim))], x: inside.x, y: inside.y + 1, maxX: inside.maxX)
            return
        }
        let first = max(0, min(d.label - rows + 1, labels.count - rows))
        for (i, l) in labels.enumerated().dropFirst(first).prefix(rows) {
            let y = inside.y + 1 + i - first
            let selected = focused && i == d.label
            let style = selected ? CellStyle(.selection, bold: true) : CellStyle(.text)
            if selected { frame.fill(x: inside.x, y: y, width: inside.width, height: 1, style: style) }
            var parts: [(String, CellStyle)] = [
                (DisplayWidth.pad(DisplayWidth.truncate(clean(l.label), to: nameWidth - 1), to: nameWidth), selected ? style : CellStyle(.label)),
                (leftPad(String(l.queryCount), 5), style),
                (leftPad(format(l.meanAP10), 8), selected ? style : CellStyle(apRole(l.meanAP10), bold: true)),
            ]
            if showWorst { parts.append(("  " + clean(l.worstQueryID) + " (" + format(l.worstAP10) + ")", selected ? style : CellStyle(.dim))) }
            putLine(parts, x: inside.x, y: y, maxX: inside.maxX)
        }
    }

    private mutating func drawDrill(_ d: DashboardState, _ drill: DashboardState.Drill, in r: Rect) {
        box(r, title: "queries · " + clean(drill.title) + " · \(drill.queries.count)", focused: true)
        let inside = inner(r)
        guard inside.height > 1, let e = d.session.evaluation else { return }
        putLine([(leftPad("AP@10", 6) + leftPad("AP@100", 7) + "  id / caption", CellStyle(.dim))], x: inside.x, y: inside.y, maxX: inside.maxX)
        let rows = inside.height - 1
        guard !drill.queries.isEmpty else {
            putLine([("no queries here", CellStyle(.dim))], x: inside.x, y: inside.y + 1, maxX: inside.maxX)
            return
        }
        let first = max(0, min(drill.selected - rows + 1, drill.queries.count - rows))
        for (i, position) in drill.queries.enumerated().dropFirst(first).prefix(rows) {
            let q = e.breakdown.queries[position]
            let y = inside.y + 1 + i - first
            let selected = i == drill.selected
            let style = selected ? CellStyle(.selection, bold: true) : CellStyle(.text)
            if selected { frame.fill(x: inside.x, y: y, width: inside.width, height: 1, style: style) }
            let caption = state.sample(id: q.queryID).map { clean($0.caption) } ?? ""
            putLine([(leftPad(format(q.ap10), 6), selected ? style : CellStyle(apRole(q.ap10), bold: true)),
                     (leftPad(format(q.ap100), 7) + "  ", style), (clean(q.queryID) + " ", selected ? style : CellStyle(.dim)),
                     (caption, style)], x: inside.x, y: y, maxX: inside.maxX)
        }
    }

    func apRole(_ ap: Double) -> Role { ap < 0.5 ? .error : ap < 0.8 ? .warning : .accent }

    // MARK: Curves

    private mutating func drawCurves(_ d: DashboardState, in r: Rect) {
        box(r, title: "precision@k and recall@k, k = 1 to 100 (log scale)", focused: false)
        let inside = inner(r)
        guard inside.height > 2, inside.width > 12 else { return }
        guard let e = d.session.evaluation else { drawSlotState(d.session, in: inside); return }
        let p = e.breakdown.precisionCurve, rc = e.breakdown.recallCurve
        func at(_ curve: [Double], _ k: Int) -> String { k <= curve.count ? format(curve[k - 1], digits: 2) : "–" }
        let line = unicode ? "━━" : "**"
        putLine([(line, CellStyle(.accent, bold: true)), (" P@k  ", CellStyle(.text)),
                 (unicode ? "━━" : "++", CellStyle(.match, bold: true)), (" R@k   ", CellStyle(.text)),
                 ("P@1 \(at(p, 1)) · P@10 \(at(p, 10)) · R@10 \(at(rc, 10)) · R@100 \(at(rc, 100))", CellStyle(.dim))],
                x: inside.x, y: inside.y, maxX: inside.maxX)
        // The plot, with the y axis (0 to 1) on the left and k under it.
        let plot = Rect(x: inside.x + 4, y: inside.y + 1, width: inside.width - 4, height: inside.height - 2)
        guard plot.height > 0, plot.width > 2 else { return }
        frame.put("1.0", x: inside.x, y: plot.y, maxWidth: 3, style: CellStyle(.dim))
        if plot.height > 2 { frame.put("0.5", x: inside.x, y: plot.y + plot.height / 2, maxWidth: 3, style: CellStyle(.dim)) }
        frame.put("0.0", x: inside.x, y: plot.maxY - 1, maxWidth: 3, style: CellStyle(.dim))
        // k on a log scale: the curves change most over the first ranks.
        let points = plot.width * 2
        BraillePlot.draw([PlotSeries(values: logSampled(p, points: points), role: .accent),
                          PlotSeries(values: logSampled(rc, points: points), role: .match)],
                         yRange: 0 ... 1, in: plot, unicode: unicode, frame: &frame)
        let axisY = plot.maxY
        frame.put("k=1", x: plot.x, y: axisY, maxWidth: 3, style: CellStyle(.dim))
        let end = String(p.count)
        frame.put(end, x: plot.maxX - end.count, y: axisY, maxWidth: end.count, style: CellStyle(.dim))
        if p.count >= 100, plot.width > 12 {
            let x = plot.x + Int((log(10.0) / log(Double(p.count)) * Double(plot.width - 1)).rounded())
            frame.put("10", x: x, y: axisY, maxWidth: 2, style: CellStyle(.dim))
        }
    }

    /// `curve` (values at k = 1, 2, …) read at `points` values of k spaced evenly in log k, from 1
    /// to the last k, between neighbours linearly.
    func logSampled(_ curve: [Double], points: Int) -> [Double] {
        guard curve.count > 1, points > 1 else { return curve }
        let top = log(Double(curve.count))
        return (0 ..< points).map { i in
            let k = exp(top * Double(i) / Double(points - 1)) - 1   // 0-based, fractional
            let low = min(curve.count - 1, Int(k)), high = min(curve.count - 1, low + 1)
            let t = k - Double(low)
            return curve[low] * (1 - t) + curve[high] * t
        }
    }
}
