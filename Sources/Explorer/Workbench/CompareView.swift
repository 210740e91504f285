import Catalog
import Retrieval

// The compare mode's screen: the totals of A against B with the significance test, the query
// shown (walked by ΔAP@10), and both rankings of it side by side. A row whose item is not at the
// same rank in the other ranking is marked, with the rank it has there.

extension Canvas {
    /// The body between the header and the footer (less the training pane).
    var workbenchBody: Rect { Rect(x: 0, y: layout.browser.y, width: frame.width, height: layout.browser.height) }

    mutating func drawCompare() {
        guard let compare = state.compare else { return }
        let body = workbenchBody
        let title = "compare · " + clean(compare.split)
        switch compare.status {
        case .choosing(let entries, let selected):
            box(body, title: title + " · A is the model that searches; choose B", focused: true)
            drawRankerList(entries, selected: selected, in: inner(body))
        case .running(let p):
            box(body, title: title, focused: true)
            let b = compare.b.map { clean($0.name) } ?? "B"
            var lines = ["Comparing the model that searches (A) with \(b) (B)…", clean(p.what)]
            if p.total > 0 { lines[1] += " \(p.done) of \(p.total)" }
            drawCentered(lines, in: inner(body), role: .placeholder)
        case .failed(let message):
            box(body, title: title, focused: true)
            let back = state.keyName(.compareChoose).map { "\($0) chooses another ranker." } ?? ""
            drawCentered(["The comparison could not be made:"] + TextWrap.lines(clean(message), width: max(10, body.width - 6)) + [back],
                         in: inner(body), role: .error)
        case .ready(let summary):
            drawComparison(compare, summary, in: body)
        }
    }

    private mutating func drawRankerList(_ entries: [RankerEntry]?, selected: Int, in r: Rect) {
        guard let entries else {
            drawCentered(["Looking for models in " + clean(state.training.settings.runsDirectory) + "…"], in: r, role: .dim)
            return
        }
        var y = r.y
        putLine([("ranker B", CellStyle(.title, bold: true))], x: r.x, y: y, maxX: r.maxX)
        y += 1
        let rows = r.maxY - y
        guard rows > 0 else { return }
        let first = max(0, min(selected - rows + 1, entries.count - rows))
        let nameWidth = min(40, max(12, r.width / 2))
        for (i, e) in entries.enumerated().dropFirst(first).prefix(rows) {
            let style = i == selected ? CellStyle(.selection, bold: true) : CellStyle(.text)
            frame.fill(x: r.x, y: y, width: r.width, height: 1, style: style)
            let name = DisplayWidth.pad(DisplayWidth.truncate(clean(e.name), to: nameWidth), to: nameWidth)
            putLine([(name + "  ", style), (clean(e.detail), i == selected ? style : CellStyle(.dim))], x: r.x, y: y, maxX: r.maxX)
            y += 1
        }
    }

    private mutating func drawComparison(_ compare: CompareState, _ s: ComparisonSummary, in body: Rect) {
        let x = body.x + 1, maxX = body.maxX - 1
        var y = body.y
        let dot = unicode ? " · " : " | "
        // Totals: both mAP@10, the mean difference and whether it is noise.
        let delta = s.meanDeltaAP10
        let significant = s.pValue < 0.05
        putLine([("A ", CellStyle(.dim)), (clean(s.a.title), CellStyle(.text, bold: true)), ("  mAP@10 " + format(s.a.meanAP10), CellStyle(.text)),
                 ("   B ", CellStyle(.dim)), (clean(s.b.title), CellStyle(.text, bold: true)), ("  mAP@10 " + format(s.b.meanAP10), CellStyle(.text)),
                 (dot + "\(s.byDelta.count) queries of " + clean(compare.split), CellStyle(.dim))], x: x, y: y, maxX: maxX)
        y += 1
        putLine([("ΔmAP@10 " + signed(delta), CellStyle(delta >= 0 ? .accent : .error, bold: true)),
                 (dot + "95% CI [" + signed(s.intervalLower) + ", " + signed(s.intervalUpper) + "]", CellStyle(.text)),
                 (dot + "p = " + format(s.pValue) + (significant ? ", significant at 5%" : ", not significant at 5%"),
                  CellStyle(significant ? .accent : .warning, bold: true))], x: x, y: y, maxX: maxX)
        y += 1
        putLine([("B better on \(s.wins), worse on \(s.losses), tied on \(s.ties)", CellStyle(.text)),
                 (dot + "top-\(s.depth) Jaccard " + format(s.meanJaccard) + ", RBO " + format(s.meanRBO), CellStyle(.dim))],
                x: x, y: y, maxX: maxX)
        y += 1
        guard let shown = compare.shown else { return }
        let q = shown.query
        y += 1
        putLine([("query \(compare.position + 1)/\(s.byDelta.count) by ΔAP", CellStyle(.title, bold: true)),
                 (dot + clean(q.queryID), CellStyle(.dim)),
                 (dot + "AP@10 " + format(q.a.at10) + (unicode ? " → " : " -> ") + format(q.b.at10), CellStyle(.text)),
                 (" (Δ " + signed(q.deltaAP10) + ")", CellStyle(q.deltaAP10 > RankerComparison.tieTolerance ? .accent
                                                            : q.deltaAP10 < -RankerComparison.tieTolerance ? .error : .dim, bold: true)),
                 (dot + "Jaccard " + format(q.jaccard) + ", RBO " + format(q.rbo), CellStyle(.dim))], x: x, y: y, maxX: maxX)
        y += 1
        if let sample = state.sample(id: q.queryID) {
            var parts: [(String, CellStyle)] = [(clean(sample.caption), CellStyle(.text))]
            if !sample.labels.isEmpty {
                parts.append(((unicode ? "  ▸ " : "  > ") + clean(orderedUnique(sample.labels).joined(separator: ", ")), CellStyle(.label)))
            }
            putLine(parts, x: x, y: y, maxX: maxX)
        }
        y += 1
        let panes = Rect(x: body.x, y: y, width: body.width, height: body.maxY - y)
        guard panes.height >= 3 else { return }
        let half = panes.width / 2
        let left = Rect(x: panes.x, y: panes.y, width: half, height: panes.height)
        let right = Rect(x: panes.x + half, y: panes.y, width: panes.width - half, height: panes.height)
        box(left, title: "A · " + clean(s.a.title) + " · AP@10 " + format(q.a.at10), focused: true)
        box(right, title: "B · " + clean(s.b.title) + " · AP@10 " + format(q.b.at10), focused: true)
        drawRanking(shown.a, other: shown.b, otherName: "B", highlighted: compare.row, in: inner(left))
        drawRanking(shown.b, other: shown.a, otherName: "A", highlighted: compare.row, in: inner(right))
    }

    /// One side's ranking: rank, ✓/✗, id, caption, and where the item is in the other ranking
    /// (a row not at the same rank there is marked).
    private mutating func drawRanking(_ rows: [ResultRow], other: [ResultRow], otherName: String, highlighted: Int,
                                      in r: Rect) {
        guard r.height > 1, r.width > 10 else { return }
        var otherRank: [String: Int] = [:]
        for row in other where otherRank[row.sampleID] == nil { otherRank[row.sampleID] = row.rank }
        let idWidth = min(12, max(6, rows.prefix(100).map { DisplayWidth.of(clean($0.sampleID)) }.max() ?? 6))
        let whereWidth = 6
        putLine([(DisplayWidth.pad("   #  ", to: 7) + DisplayWidth.pad("id", to: idWidth + 1) + "product  caption", CellStyle(.dim))],
                x: r.x, y: r.y, maxX: r.maxX - whereWidth)
        frame.put(leftPad("in " + otherName, whereWidth), x: r.maxX - whereWidth, y: r.y, maxWidth: whereWidth, style: CellStyle(.dim))
        let listRows = r.height - 1
        guard !rows.isEmpty else {
            putLine([("no matches", CellStyle(.dim))], x: r.x, y: r.y + 1, maxX: r.maxX)
            return
        }
        let first = max(0, min(highlighted - listRows + 1, rows.count - listRows))
        for (i, row) in rows.enumerated().dropFirst(first).prefix(listRows) {
            let y = r.y + 1 + i - first
            let there = otherRank[row.sampleID]
            let differs = there != row.rank
            let base = i == highlighted ? CellStyle(.selection, bold: differs) : CellStyle(differs ? .text : .dim, bold: differs)
            frame.fill(x: r.x, y: y, width: r.width, height: 1, style: base)
            let mark: (String, CellStyle)
            switch row.isRelevant {
            case true?: mark = (unicode ? "✓" : "+", i == highlighted ? base : CellStyle(.accent, bold: true))
            case false?: mark = (unicode ? "✗" : "x", i == highlighted ? base : CellStyle(.error, bold: true))
            case nil: mark = (" ", base)
            }
            let diff = differs ? (unicode ? "≠" : "!") : " "
            // The product (its label) tells instances apart; the caption follows.
            let sample = state.sample(id: row.sampleID)
            var parts: [(String, CellStyle)] = [(diff + leftPad("\(row.rank)", 3) + " ", base), mark,
                                                (" " + DisplayWidth.pad(DisplayWidth.truncate(clean(row.sampleID), to: idWidth), to: idWidth) + " ", base)]
            if let product = sample?.product { parts.append((clean(product) + "  ", i == highlighted ? base : CellStyle(.label, bold: differs))) }
            parts.append((sample.map { clean($0.caption) } ?? "not in the dataset", i == highlighted ? base : CellStyle(.dim)))
            putLine(parts, x: r.x, y: y, maxX: r.maxX - whereWidth - 1)
            let whereText = there.map { "#\($0)" } ?? (unicode ? "—" : "-")
            frame.put(leftPad(whereText, whereWidth), x: r.maxX - whereWidth, y: y, maxWidth: whereWidth, style: base)
        }
    }

    func signed(_ x: Double) -> String { (x >= 0 ? "+" : "") + format(x) }

    func leftPad(_ s: String, _ width: Int) -> String {
        let w = DisplayWidth.of(s)
        return w >= width ? s : String(repeating: " ", count: width - w) + s
    }

    func orderedUnique(_ labels: [String]) -> [String] {
        var seen: Set<String> = []
        return labels.filter { seen.insert($0).inserted }
    }
}
