import Annotations
import Catalog
import Imaging
import Retrieval

// The results screen: the ranked matches on the left, the highlighted match's preview or its
// attention summary on the right; and the query bar in the footer.

extension Canvas {
    /// Marks: ground truth (right, wrong) and the annotators' verdicts (flagged wrong, confirmed).
    var rightMark: String { unicode ? "✓" : "+" }
    var wrongMark: String { unicode ? "✗" : "x" }
    var flaggedMark: String { unicode ? "⚑" : "!" }
    var confirmedMark: String { unicode ? "★" : "*" }

    mutating func drawResults() {
        let r = layout.browser
        let res = state.retrieval.results
        let inspect = state.retrieval.inspect
        var title = "results"
        if inspect.active, let session = inspect.session {
            title = "inspect · query \(inspect.position + 1)/\(session.queries.count), worst AP first"
        } else if !res.rows.isEmpty {
            title = "results · \(res.rows.count)" + (res.order == .rank ? "" : " · by \(res.order.rawValue)")
        }
        box(r, title: title, focused: true)
        let inner = Rect(x: r.x + 1, y: r.y + 1, width: r.width - 2, height: r.height - 2)
        guard inner.width > 10, inner.height > 2 else { return }

        // Line 1: the query.
        let x = frame.put(" query ", x: inner.x, y: inner.y, style: CellStyle(.dim, bold: true))
        frame.put(DisplayWidth.truncate(queryText(res.query), to: inner.width - x), x: inner.x + x, y: inner.y,
                  maxWidth: inner.width - x, style: CellStyle(.accent, bold: true))
        // Line 2: model, AP, timing, or what is going on.
        let y2 = inner.y + 1
        if res.searching {
            putLine([(" " + searchingText(), CellStyle(.placeholder))], x: inner.x, y: y2, maxX: inner.maxX)
        } else if let error = res.error {
            putLine([(" " + clean(error), CellStyle(.error))], x: inner.x, y: y2, maxX: inner.maxX)
        } else if res.query != nil {
            var parts: [(String, CellStyle)] = []
            if inspect.active, let session = inspect.session {
                let q = session.queries[inspect.position]
                parts.append((" AP@10 ", CellStyle(.dim)))
                parts.append((format(q.averagePrecision10), CellStyle(.accent, bold: true)))
                parts.append(("  @50 \(format(q.averagePrecision50))  @100 \(format(q.averagePrecision100))", CellStyle(.dim)))
                if let failure = q.failure { parts.append(("  " + clean(failure), CellStyle(.warning))) }
                parts.append(("  line \(q.line) of \(clean(lastComponent(session.path)))", CellStyle(.dim)))
            } else {
                parts.append((" model ", CellStyle(.dim)))
                parts.append((clean(res.model), CellStyle(.text, bold: true)))
                // The official AP (docs/data.md §2) at the depth returned, named with it.
                parts.append(("  AP@\(res.rows.count) ", CellStyle(.dim)))
                parts.append((res.averagePrecision.map { format($0) } ?? "– (no labels)", CellStyle(res.averagePrecision == nil ? .dim : .accent, bold: true)))
                parts.append(("  \(format(res.seconds * 1000, digits: 1)) ms", CellStyle(.dim)))
            }
            putLine(parts, x: inner.x, y: y2, maxX: inner.maxX)
        }

        guard !res.rows.isEmpty else {
            if !res.searching, res.error == nil, res.query != nil {
                drawCentered(["No matches."], in: Rect(x: inner.x, y: inner.y + 2, width: inner.width, height: inner.height - 2), role: .dim)
            }
            return
        }
        let rowH = layout.resultRowHeight
        let visible = layout.resultRows
        let thumbW = rowH == 3 ? 6 : 0
        // Columns: marker, rank, truth, flag, score, bar, thumbnail, text.
        let rankW = max(2, String(res.rows.count).count)
        let truthX = inner.x + 1 + rankW + 1
        let flagX = truthX + 2
        let hasScores = res.rows.contains { $0.score != nil }
        let scoreX = flagX + 2
        let barW = hasScores ? max(4, min(10, inner.width / 8)) : 0
        let barX = scoreX + (hasScores ? 6 : 0)
        let thumbX = barX + (hasScores ? barW + 1 : 0)
        let textX = thumbX + (thumbW > 0 ? thumbW + 1 : 0)
        let textW = inner.maxX - textX
        for i in 0..<visible {
            let p = res.scroll + i
            guard p < res.rows.count else { break }
            let row = res.rows[p]
            let y = layout.resultsTop + i * rowH
            let selected = p == res.selected
            let base: Role = selected ? .selection : .text
            if selected { frame.fill(x: inner.x, y: y, width: inner.width, height: rowH, style: CellStyle(.selection)) }
            frame.put(selected ? (unicode ? "▶" : ">") : " ", x: inner.x, y: y, style: CellStyle(selected ? .selection : .accent, bold: true))
            let rank = String(row.rank)
            frame.put(String(repeating: " ", count: max(0, rankW - rank.count)) + rank, x: inner.x + 1, y: y, style: CellStyle(selected ? .selection : .dim))
            switch row.isRelevant {
            case true?: frame.put(rightMark, x: truthX, y: y, style: CellStyle(selected ? .selection : .accent, bold: true))
            case false?: frame.put(wrongMark, x: truthX, y: y, style: CellStyle(selected ? .selection : .error, bold: true))
            case nil: break
            }
            switch state.retrieval.flags.verdicts[row.sampleID] {
            case .wrong?: frame.put(flaggedMark, x: flagX, y: y, style: CellStyle(selected ? .selection : .warning, bold: true))
            case .confirmed?: frame.put(confirmedMark, x: flagX, y: y, style: CellStyle(selected ? .selection : .accent, bold: true))
            case nil: break
            }
            if hasScores, let score = row.score {
                frame.put(format(Double(score)), x: scoreX, y: y, maxWidth: 5, style: CellStyle(base))
                drawBar(fraction: Double(score), x: barX, y: y, width: barW, selected: selected)
            }
            let sample = state.sample(id: row.sampleID)
            if thumbW > 0 {
                drawThumbnail(sample, in: Rect(x: thumbX, y: y, width: thumbW, height: rowH))
            }
            let label = sample?.product.map { clean($0) } ?? (sample == nil ? "not in the dataset" : "no label")
            frame.put(DisplayWidth.truncate(label, to: textW), x: textX, y: y, maxWidth: textW, style: CellStyle(selected ? .selection : (sample?.product == nil ? .dim : .label), bold: selected))
            if rowH == 3 {
                let idLine = clean(row.sampleID) + (sample.map { " · " + clean($0.caption) } ?? "")
                frame.put(DisplayWidth.truncate(idLine, to: textW), x: textX, y: y + 1, maxWidth: textW, style: CellStyle(selected ? .selection : .dim))
                if let verdict = state.retrieval.flags.verdicts[row.sampleID] {
                    let text = verdict == .wrong ? "\(flaggedMark) flagged wrong" : "\(confirmedMark) confirmed right"
                    frame.put(DisplayWidth.truncate(text, to: textW), x: textX, y: y + 2, maxWidth: textW, style: CellStyle(selected ? .selection : (verdict == .wrong ? .warning : .accent)))
                }
            }
        }
        // Position and legend in the bottom border.
        let pos = " \(res.selected + 1)/\(res.rows.count) "
        let pw = DisplayWidth.of(pos)
        if r.width > pw + 4 { frame.put(pos, x: r.maxX - 2 - pw, y: r.maxY - 1, style: CellStyle(.dim)) }
        let legend = " \(rightMark) right \(wrongMark) wrong \(flaggedMark) flagged \(confirmedMark) confirmed "
        if r.width > pw + DisplayWidth.of(legend) + 6 { frame.put(legend, x: r.x + 2, y: r.maxY - 1, style: CellStyle(.dim)) }
    }

    /// A horizontal bar for a value in 0...1 (eighths of a cell with Unicode, `#` without).
    mutating func drawBar(fraction: Double, x: Int, y: Int, width: Int, selected: Bool) {
        guard width > 0 else { return }
        let f = min(1, max(0, fraction.isFinite ? fraction : 0))
        let eighths = Int((f * Double(width * 8)).rounded())
        let blocks = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        var text = ""
        if unicode {
            text = String(repeating: "█", count: eighths / 8) + blocks[eighths % 8]
        } else {
            text = String(repeating: "#", count: (eighths + 4) / 8)
        }
        let used = frame.put(text, x: x, y: y, maxWidth: width, style: CellStyle(selected ? .selection : .accent))
        if used < width {
            frame.put(String(repeating: unicode ? "·" : ".", count: width - used), x: x + used, y: y, style: CellStyle(selected ? .selection : .border))
        }
    }

    mutating func drawThumbnail(_ sample: Sample?, in rect: Rect) {
        guard let path = sample?.imagePath else {
            frame.put(unicode ? "·" : ".", x: rect.x + rect.width / 2, y: rect.y + rect.height / 2, style: CellStyle(.placeholder))
            return
        }
        if case .ready(let image)? = state.images[path] {
            drawPicture(image, key: path, in: rect, thumbnail: true)
        } else {
            frame.put(unicode ? "…" : "~", x: rect.x + rect.width / 2, y: rect.y + rect.height / 2, style: CellStyle(.placeholder))
        }
    }

    func queryText(_ query: RetrievalQuery?) -> String {
        switch query {
        case nil:
            let hints = state.keyHints([(.resultsSearch, "types a caption"), (.searchWithSample, "in the browser uses the selected sample")])
            return "none yet" + (hints.isEmpty ? "" : ": " + hints.joined(separator: ", "))
        case .caption(let text)?: return "caption “\(clean(text))”"
        case .imageFile(let path)?: return "image \(clean(lastComponent(path)))"
        case .sample(let id, let mode)?:
            var s = "sample \(clean(id)) as \(modeDescription(mode))"
            if let sample = state.sample(id: id) {
                if mode != .image { s += " · “\(clean(sample.caption))”" }
                if let p = sample.product { s += " · \(clean(p))" }
            }
            return s
        }
    }

    func searchingText() -> String {
        switch state.retrieval.engine {
        case .opening: return "searching… (opening the retrieval engine)"
        case .indexing(let done, let total): return "searching… (indexing the gallery: \(done)/\(total))"
        default: return "searching…"
        }
    }

    // MARK: Right pane

    mutating func drawMatchPane() {
        let r = layout.preview
        let res = state.retrieval.results
        if res.showQuery, let query = res.query {
            drawQueryPane(query, in: r)
            return
        }
        guard let row = res.selectedRow else {
            box(r, title: res.showAttention ? "attention" : "match", focused: false)
            return
        }
        let sample = state.sample(id: row.sampleID)
        let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 4, height: r.height - 2)
        if res.showAttention {
            box(r, title: "attention · #\(row.rank) \(clean(row.sampleID))", focused: false)
            guard inner.width > 4, inner.height > 2 else { return }
            drawAttention(row: row, sample: sample, in: inner)
            return
        }
        box(r, title: "match #\(row.rank) · \(clean(row.sampleID))", focused: false)
        guard inner.width > 4, inner.height > 2 else { return }
        let imageHeight = max(3, min(inner.height * 11 / 20, inner.width / 2 + 2))
        let imageRect = Rect(x: inner.x, y: inner.y, width: inner.width, height: imageHeight)
        if let sample { drawImageSlot(sample, in: imageRect) }
        var lines: [(String, CellStyle)] = [("", CellStyle(.text))]
        if let s = row.score { lines.append(("score \(format(Double(s)))", CellStyle(.text, bold: true))) }
        switch row.isRelevant {
        case true?: lines.append(("\(rightMark) right: shares a label with the query", CellStyle(.accent)))
        case false?: lines.append(("\(wrongMark) wrong: no label in common with the query", CellStyle(.error)))
        case nil: lines.append(("the query has no labels to check against", CellStyle(.dim)))
        }
        switch state.retrieval.flags.verdicts[row.sampleID] {
        case .wrong?: lines.append((([flaggedMark + " flagged wrong"] + state.keyHints([(.flagUndo, "undoes")])).joined(separator: " · "), CellStyle(.warning, bold: true)))
        case .confirmed?: lines.append((([confirmedMark + " confirmed right"] + state.keyHints([(.flagUndo, "undoes")])).joined(separator: " · "), CellStyle(.accent, bold: true)))
        case nil:
            let hints = state.keyHints([(.flagWrong, "flags it wrong"), (.flagConfirm, "confirms it")])
            if state.retrieval.flags.available, !hints.isEmpty { lines.append((hints.joined(separator: " · "), CellStyle(.dim))) }
        }
        if let sample {
            lines.append(("", CellStyle(.text)))
            if let p = sample.product {
                lines.append(("Product", CellStyle(.title, bold: true)))
                for l in TextWrap.lines(clean(p), width: inner.width) { lines.append((l, CellStyle(.label))) }
            }
            lines.append(("Caption", CellStyle(.title, bold: true)))
            for l in TextWrap.lines(clean(sample.caption), width: inner.width) { lines.append((l, CellStyle(.text))) }
        } else {
            lines.append(("not in this dataset", CellStyle(.warning)))
        }
        drawLines(lines, from: imageRect.maxY, in: inner)
    }

    /// The query itself in the right pane: a sample's image, caption and labels (as the browser's
    /// preview shows them), an image file, or the typed caption.
    mutating func drawQueryPane(_ query: RetrievalQuery, in r: Rect) {
        let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 4, height: r.height - 2)
        switch query {
        case .sample(let id, let mode):
            box(r, title: "query · \(clean(id)) · \(mode == .pair ? "image + caption" : mode.rawValue)", focused: false)
            guard inner.width > 4, inner.height > 2 else { return }
            guard let sample = state.sample(id: id) else {
                drawCentered(["not in this dataset"], in: inner, role: .warning)
                return
            }
            drawSampleDetails(sample, in: inner)
        case .imageFile(let path):
            box(r, title: "query · image file", focused: false)
            guard inner.width > 4, inner.height > 2 else { return }
            let imageHeight = max(3, min(inner.height * 11 / 20, inner.width / 2 + 2))
            drawImageSlot(Sample(id: "", caption: "", imagePath: path, labels: []), in: Rect(x: inner.x, y: inner.y, width: inner.width, height: imageHeight))
            drawLines([("", CellStyle(.text))] + TextWrap.lines(clean(path), width: inner.width).map { ($0, CellStyle(.dim)) },
                      from: inner.y + imageHeight, in: inner)
        case .caption(let text):
            box(r, title: "query · typed caption", focused: false)
            guard inner.width > 4, inner.height > 2 else { return }
            drawLines([("Caption", CellStyle(.title, bold: true))] + TextWrap.lines(clean(text), width: inner.width).map { ($0, CellStyle(.text)) },
                      from: inner.y, in: inner)
        }
    }

    mutating func drawAttention(row: ResultRow, sample: Sample?, in inner: Rect) {
        let slot = state.retrieval.results.attention
        guard let slot, slot.match == row.sampleID else {
            drawCentered(["computing attention…"], in: inner, role: .placeholder)
            return
        }
        switch slot {
        case .loading:
            drawCentered(["computing attention…"], in: inner, role: .placeholder)
        case .failed(_, let message):
            var lines: [(String, CellStyle)] = [("Cannot compute the attention summary:", CellStyle(.error, bold: true))]
            for l in TextWrap.lines(clean(message), width: inner.width) { lines.append((l, CellStyle(.error))) }
            drawLines(lines, from: inner.y, in: inner)
        case .ready(_, let summary):
            let tokenIndex = state.retrieval.results.attentionToken
            let map = tokenIndex.flatMap { $0 < summary.tokenMaps.count ? summary.tokenMaps[$0] : nil } ?? summary.map
            let tokenRows = min(summary.tokens.count, 8)
            let textRows = 3 + (summary.tokens.isEmpty ? 1 : tokenRows + 1)
            let imageHeight = max(3, min(inner.height - textRows, inner.width / 2 + 2))
            let imageRect = Rect(x: inner.x, y: inner.y, width: inner.width, height: imageHeight)
            if let path = sample?.imagePath, case .ready(let image)? = state.images[path] {
                if state.previewSettled {
                    drawAttentionPicture(image, map: map, side: summary.side, key: path, in: imageRect)
                } else {
                    drawCentered([unicode ? "…" : "..."], in: imageRect, role: .placeholder)
                }
            } else if sample?.imagePath == nil {
                drawCentered(["[no image]"], in: imageRect, role: .placeholder)
            } else {
                drawCentered(["loading image…"], in: imageRect, role: .placeholder)
            }
            let which = tokenIndex.map { "map of “\(clean(summary.tokens[$0].token))”" } ?? "overall map"
            var lines: [(String, CellStyle)] = [("\(which) over the match's \(summary.side)x\(summary.side) cells", CellStyle(.dim)), ("", CellStyle(.text))]
            if summary.tokens.isEmpty {
                lines.append(("Image query: similarity of the match's cells to the query image", CellStyle(.dim)))
                drawLines(lines, from: imageRect.maxY, in: inner)
                return
            }
            let each = summary.tokens.count > 1 ? state.keyName(.nextAttentionToken).map { " (\($0): map of each)" } ?? "" : ""
            lines.append(("Query tokens" + each, CellStyle(.title, bold: true)))
            var y = drawLines(lines, from: imageRect.maxY, in: inner)
            // One row per token: the token, its weight, and a bar relative to the heaviest.
            let shown = Array(summary.tokens.prefix(max(0, inner.maxY - y)))
            let tokenW = min(16, max(4, shown.map { DisplayWidth.of(clean($0.token)) }.max() ?? 4))
            let heaviest = summary.tokens.map(\.weight).max() ?? 0
            for (i, t) in shown.enumerated() {
                let selected = tokenIndex == i
                let style = CellStyle(selected ? .selection : .text, bold: selected)
                if selected { frame.fill(x: inner.x, y: y, width: inner.width, height: 1, style: style) }
                let label = DisplayWidth.pad(clean(t.token), to: tokenW) + " " + format(Double(t.weight), digits: 2) + " "
                let used = frame.put(label, x: inner.x, y: y, maxWidth: inner.width, style: style)
                let fraction = heaviest > 0 ? Double(t.weight / heaviest) : 0
                drawBar(fraction: fraction, x: inner.x + used, y: y, width: max(0, min(12, inner.width - used)), selected: selected)
                y += 1
            }
        }
    }

    /// Draws lines from row `top`, cut with "…" when they do not fit; returns the next free row.
    @discardableResult
    mutating func drawLines(_ lines: [(String, CellStyle)], from top: Int, in inner: Rect) -> Int {
        var y = top
        for (i, (text, style)) in lines.enumerated() {
            guard y < inner.maxY else { break }
            if y == inner.maxY - 1 && i < lines.count - 1 {
                frame.put("…", x: inner.x, y: y, style: CellStyle(.dim))
                break
            }
            frame.put(DisplayWidth.truncate(text, to: inner.width), x: inner.x, y: y, maxWidth: inner.width, style: style)
            y += 1
        }
        return y
    }

    /// Draws pieces of one line from `x`, the piece that does not fit before `maxX` cut with "…"
    /// (and the rest left out).
    mutating func putLine(_ parts: [(String, CellStyle)], x: Int, y: Int, maxX: Int) {
        let fits = parts.reduce(0) { $0 + DisplayWidth.of($1.0) } <= maxX - x
        var px = x
        for (text, style) in parts {
            // Cut: one column stays free for the "…" until the piece that ends the line.
            let room = maxX - px - (fits ? 0 : 1)
            let w = DisplayWidth.of(text)
            if w <= room {
                px += frame.put(text, x: px, y: y, style: style)
                continue
            }
            frame.put(DisplayWidth.truncate(text, to: room + 1), x: px, y: y, maxWidth: maxX - px, style: style)
            break
        }
    }

    // MARK: Footer pieces

    /// The query bar, in the footer while a search is typed.
    mutating func drawQueryBar() {
        let r = layout.footer
        var x = frame.put(" search ", x: 0, y: r.y, style: CellStyle(.footerKey, bold: true))
        x += frame.put(unicode ? "› " : "> ", x: x, y: r.y, style: CellStyle(.footerKey, bold: true))
        let bar = state.retrieval.bar
        var hints = state.keyHints([(.queryAccept, "search")])
        if let history = upDown(.queryHistoryPrevious, .queryHistoryNext) { hints.append(history + " history") }
        hints += state.keyHints([(.queryCancel, "cancel")])
        var hint = "  " + hints.joined(separator: unicode ? " · " : " | ") + " "
        if let p = bar.historyPosition { hint = "  \(p + 1)/\(bar.history.count)" + hint }
        if DisplayWidth.of(hint) > r.width / 2 { hint = "" }
        let room = r.width - x - DisplayWidth.of(hint) - 1
        // The end of the text stays in view (the cursor is there); a cut start shows "…".
        let visible = DisplayWidth.truncateLeading(clean(bar.text), to: room)
        x += frame.put(visible, x: x, y: r.y, maxWidth: room, style: CellStyle(.footer))
        frame.cursor = (x, r.y)
        if !hint.isEmpty { frame.put(hint, x: r.width - DisplayWidth.of(hint), y: r.y, style: CellStyle(.footer)) }
    }

    /// Where the retrieval engine is, for the right end of the footer ("" when there is nothing to say).
    func engineText() -> (String, Role) {
        switch state.retrieval.engine {
        case .unavailable: return ("", .footer)
        case .opening: return ("opening search… ", .footer)
        case .indexing(let done, let total):
            let pct = total > 0 ? done * 100 / total : 0
            return ("indexing gallery \(done)/\(total) \(pct)% ", .footer)
        case .ready: return ("", .footer)
        case .failed: return ("search unavailable ", .error)
        }
    }
}
