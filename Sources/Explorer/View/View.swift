import SafeText
import Catalog
import Imaging

/// The explorer's view: the whole screen for a state, as a frame of cells.
/// Pure: the same state always gives the same frame.
public func view(_ state: ExplorerState) -> Frame {
    var canvas = Canvas(state: state)
    canvas.draw()
    return canvas.frame
}

/// Drawing helpers over a frame, for one state.
struct Canvas {
    let state: ExplorerState
    let layout: Layout
    let unicode: Bool
    var frame: Frame

    init(state: ExplorerState) {
        self.state = state
        self.layout = Layout(state)
        self.unicode = state.capabilities.unicode
        self.frame = Frame(width: state.size.width, height: state.size.height, fill: CellStyle(.text))
    }

    /// Data text made safe for the terminal.
    func clean(_ s: String) -> String { SafeText.inert(s, ascii: !unicode) }

    mutating func draw() {
        if layout.tooSmall { drawTooSmall(); return }
        drawHeader()
        switch state.load {
        case .loading(let path):
            drawCentered(["Loading \(clean(path))…"], in: Rect(x: 0, y: 1, width: frame.width, height: frame.height - 2), role: .dim)
        case .failed(let message):
            drawError(message)
        case .loaded(let loaded):
            if state.zoomed, let target = state.zoomTarget {
                drawZoom(target)
            } else if state.review != nil {
                drawReview()
            } else if state.dashboard?.hidden == false {
                drawDashboard()
            } else if state.compare?.hidden == false {
                drawCompare()
            } else if state.screen == .results {
                drawResults()
                drawMatchPane()
            } else {
                drawBrowser(loaded)
                drawPreview()
            }
        }
        drawTraining()
        drawFooter()
        if state.helpScroll != nil || state.training.dialog != nil || state.training.picker != nil { picturesToBlocks() }
        if let scroll = state.helpScroll { drawHelp(scroll: scroll) }
        if let dialog = state.training.dialog {
            renderTrainingDialog(dialog, settings: state.training.settings,
                                 in: Rect(x: 0, y: 0, width: frame.width, height: frame.height),
                                 unicode: unicode, keys: trainingKeys, frame: &frame)
        }
        if state.training.picker != nil {
            renderModelPicker(state.training, in: Rect(x: 0, y: 0, width: frame.width, height: frame.height),
                              unicode: unicode, keys: trainingKeys, frame: &frame)
        }
        if !unicode { asciiOnly() }
    }

    /// The training keys as the user's key map has them, for the pane's and dialog's hints.
    var trainingKeys: TrainingKeyLabels {
        let keyMap = state.keyMap
        return TrainingKeyLabels(unicode: unicode) { keyMap.keys(for: ActionID(rawValue: $0.rawValue)!) }
    }

    /// The training pane across the bottom of the body, when it is shown and has rows.
    mutating func drawTraining() {
        guard state.training.showsPane, layout.bottom.height > 0 else { return }
        renderTrainingPane(state.training, in: layout.bottom, unicode: unicode, keys: trainingKeys, frame: &frame)
    }

    /// Without UTF-8 only ASCII may reach the terminal: the few symbols the
    /// layout uses get ASCII stand-ins, anything else becomes "?" (data text
    /// was already made ASCII by the sanitiser).
    mutating func asciiOnly() {
        let standIns: [String: String] = ["·": "|", "…": "~", "—": "-", "“": "\"", "”": "\"", "▶": ">", "┃": "#", "•": "-", "×": "x",
                                          "─": "-", "│": "|", "┌": "+", "┐": "+", "└": "+", "┘": "+", "⏎": "<", "↑": "^", "↓": "v",
                                          "✓": "+", "✗": "x", "⚑": "!", "★": "*", "›": ">", "█": "#"]
        for y in 0..<frame.height {
            for x in 0..<frame.width {
                var c = frame[x, y]
                if c.text.unicodeScalars.allSatisfy({ $0.isASCII }) { continue }
                c.text = c.isContinuation ? "?" : (standIns[c.text] ?? "?")
                c.width = 1
                frame[x, y] = c
            }
        }
    }

    // MARK: Pieces

    mutating func drawTooSmall() {
        let w = frame.width, h = frame.height
        let lines = [
            "Terminal too small: \(w)x\(h).",
            "Vitrine needs at least \(Layout.minimumWidth)x\(Layout.minimumHeight).",
            state.keyName(.quit).map { "Enlarge the window, or press \($0) to quit." } ?? "Enlarge the window.",
        ]
        drawCentered(lines, in: Rect(x: 0, y: 0, width: w, height: h), role: .warning)
    }

    mutating func drawCentered(_ lines: [String], in rect: Rect, role: Role) {
        let top = rect.y + max(0, (rect.height - lines.count) / 2)
        for (i, line) in lines.enumerated() where top + i < rect.maxY {
            let t = DisplayWidth.truncate(line, to: rect.width)
            let x = rect.x + max(0, (rect.width - DisplayWidth.of(t)) / 2)
            frame.put(t, x: x, y: top + i, maxWidth: rect.width, style: CellStyle(role))
        }
    }

    mutating func box(_ r: Rect, title: String, focused: Bool) {
        guard r.width >= 2, r.height >= 2 else { return }
        frame.drawBorder(r, unicode: unicode)
        if !title.isEmpty, r.width > 6 {
            frame.put(" \(DisplayWidth.truncate(title, to: r.width - 6)) ", x: r.x + 2, y: r.y, maxWidth: r.width - 4, style: CellStyle(.title, bold: focused))
        }
    }

    mutating func drawBrowser(_ loaded: LoadedDataset) {
        let r = layout.browser
        guard let split = state.split else { return }
        let b = state.browser
        var title = "\(clean(split.name)) · "
        if let search = b.search, !search.done {
            // First, so a narrow pane still shows that the count is still growing.
            title += "searching \(min(99, search.checked * 100 / max(1, search.total)))% · "
        }
        title += "\(b.visible.count)"
        if !state.filter.isEmpty { title += " of \(split.samples.count) matching “\(clean(state.filter))”" }
        box(r, title: title, focused: true)
        let inner = Rect(x: r.x + 1, y: r.y + 1, width: r.width - 2, height: r.height - 2)
        let idWidth = min(14, max(2, split.idWidth))
        let kindWidth = 6
        let captionX = inner.x + 1 + idWidth + 1 + kindWidth + 1
        let captionWidth = inner.maxX - captionX
        // Column header.
        frame.put(DisplayWidth.pad("id", to: idWidth), x: inner.x + 1, y: inner.y, style: CellStyle(.dim, bold: true))
        frame.put("kind", x: inner.x + 2 + idWidth, y: inner.y, style: CellStyle(.dim, bold: true))
        frame.put("caption", x: captionX, y: inner.y, style: CellStyle(.dim, bold: true))

        if b.visible.isEmpty {
            let clear = state.keyName(.clearFilter).map { " \($0) clears the filter." } ?? ""
            let searching = b.search.map { !$0.done } ?? false
            let msg = split.samples.isEmpty ? "This split is empty."
                : searching ? "Searching \(split.samples.count) samples for “\(clean(state.filter))”…"
                : "No sample matches “\(clean(state.filter))”.\(clear)"
            drawCentered([msg], in: Rect(x: inner.x, y: inner.y + 1, width: inner.width, height: inner.height - 1), role: .dim)
            return
        }
        let rows = layout.listRows
        let needle = state.filter.lowercased()
        for row in 0..<rows {
            let p = b.scroll + row
            guard p < b.visible.count else { break }
            let sample = split.samples[b.visible[p]]
            let y = layout.listTop + row
            let selected = p == b.selected
            let base: Role = selected ? .selection : .text
            if selected { frame.fill(x: inner.x, y: y, width: inner.width, height: 1, style: CellStyle(.selection)) }
            frame.put(selected ? (unicode ? "▶" : ">") : " ", x: inner.x, y: y, style: CellStyle(selected ? .selection : .accent, bold: true))
            let id = clean(sample.id)
            let idText = DisplayWidth.of(id) > idWidth ? DisplayWidth.truncate(id, to: idWidth) : String(repeating: " ", count: idWidth - DisplayWidth.of(id)) + id
            frame.put(idText, x: inner.x + 1, y: y, style: CellStyle(selected ? .selection : .dim))
            let (tag, tagRole): (String, Role) = switch sample.kind {
            case .single: ("single", .single)
            case .multi: ("multi", .multi)
            case .unknown: ("–", .dim)
            }
            frame.put(unicode ? tag : (tag == "–" ? "-" : tag), x: inner.x + 2 + idWidth, y: y, style: CellStyle(selected ? .selection : tagRole, bold: selected))
            drawHighlighted(clean(sample.caption), needle: needle, x: captionX, y: y, width: captionWidth, base: base)
        }
        // Scroll bar on the right border.
        if b.visible.count > rows, rows > 1 {
            let track = rows
            let thumb = max(1, track * rows / b.visible.count)
            let maxScroll = max(1, b.visible.count - rows)
            let pos = (track - thumb) * b.scroll / maxScroll
            for i in 0..<thumb {
                frame.put(unicode ? "┃" : "#", x: r.maxX - 1, y: layout.listTop + pos + i, style: CellStyle(.accent))
            }
        }
        // Position in the bottom border.
        let pos = " \(b.selected + 1)/\(b.visible.count) "
        let pw = DisplayWidth.of(pos)
        if r.width > pw + 4 { frame.put(pos, x: r.maxX - 2 - pw, y: r.maxY - 1, style: CellStyle(.dim)) }
    }

    /// Draws one line of text, cut to `width`, with the filter's matches in the match role.
    mutating func drawHighlighted(_ text: String, needle: String, x: Int, y: Int, width: Int, base: Role) {
        let t = DisplayWidth.truncate(text, to: width)
        guard !needle.isEmpty, let lowered = Optional(t.lowercased()), lowered.count == t.count else {
            frame.put(t, x: x, y: y, maxWidth: width, style: CellStyle(base)); return
        }
        // Mark the characters of every match (character offsets of the lower-cased copy).
        let chars = Array(t), low = Array(lowered), nd = Array(needle)
        var marked = [Bool](repeating: false, count: chars.count)
        if nd.count <= low.count {
            var i = 0
            while i + nd.count <= low.count {
                if Array(low[i..<i + nd.count]) == nd { for k in i..<i + nd.count { marked[k] = true }; i += nd.count } else { i += 1 }
            }
        }
        var cx = x
        for (i, ch) in chars.enumerated() {
            cx += frame.put(String(ch), x: cx, y: y, maxWidth: x + width - cx,
                            style: marked[i] ? CellStyle(.match, bold: true, underline: true) : CellStyle(base))
        }
    }

    mutating func drawPreview() {
        let r = layout.preview
        guard let sample = state.selectedSample else {
            box(r, title: "preview", focused: false)
            return
        }
        let labelsCount = sample.labels.count
        box(r, title: "\(clean(sample.id)) · \(sample.kind.rawValue)\(labelsCount > 0 ? " · \(labelsCount) label\(labelsCount == 1 ? "" : "s")" : "")", focused: false)
        let inner = Rect(x: r.x + 2, y: r.y + 1, width: r.width - 4, height: r.height - 2)
        guard inner.width > 4, inner.height > 2 else { return }
        drawSampleDetails(sample, in: inner, waitForRest: true)
    }

    /// A sample's image, caption, labels and image path, from the top of `inner`: the browser's
    /// preview, and the query pane of the results. With `waitForRest` (the browser's preview,
    /// which changes at every row), the text too waits for the selection to rest, like the
    /// picture: a held key then sends list rows only (the list shows each caption already).
    mutating func drawSampleDetails(_ sample: Sample, in inner: Rect, waitForRest: Bool = false) {
        let imageHeight = max(3, min(inner.height * 11 / 20, inner.width / 2 + 2))
        let imageRect = Rect(x: inner.x, y: inner.y, width: inner.width, height: imageHeight)
        drawImageSlot(sample, in: imageRect)
        if waitForRest && !state.previewSettled { return }

        var lines: [(String, CellStyle)] = []
        lines.append(("", CellStyle(.text)))
        lines.append(("Caption", CellStyle(.title, bold: true)))
        for l in TextWrap.lines(clean(sample.caption), width: inner.width) { lines.append((l, CellStyle(.text))) }
        lines.append(("", CellStyle(.text)))
        if sample.labels.isEmpty {
            lines.append(("No labels", CellStyle(.dim)))
        } else {
            lines.append(("Labels", CellStyle(.title, bold: true)))
            var counts: [String: Int] = [:]
            var order: [String] = []
            for l in sample.labels { if counts[l] == nil { order.append(l) }; counts[l, default: 0] += 1 }
            for l in order {
                let n = counts[l]!
                let text = (unicode ? "• " : "- ") + clean(l) + (n > 1 ? " ×\(n)" : "")
                for w in TextWrap.lines(text, width: inner.width) { lines.append((w, CellStyle(.label))) }
            }
        }
        lines.append(("", CellStyle(.text)))
        if let path = sample.imagePath {
            lines.append((clean("image: " + relative(path)), CellStyle(.dim)))
        } else {
            lines.append(("image: none found for this id", CellStyle(.warning)))
        }
        drawLines(lines, from: imageRect.maxY, in: inner)
    }

    /// The keys of an up and a down action as one hint ("↑↓", "k/j"); nil without either.
    func upDown(_ up: ActionID, _ down: ActionID) -> String? {
        guard let u = state.keyName(up), let d = state.keyName(down) else { return state.keyName(up) ?? state.keyName(down) }
        return DisplayWidth.of(u) == 1 && DisplayWidth.of(d) == 1 ? u + d : u + "/" + d
    }

    func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    func relative(_ path: String) -> String {
        if let root = state.dataset?.root, path.hasPrefix(root + "/") { return String(path.dropFirst(root.count + 1)) }
        return path
    }

    mutating func drawImageSlot(_ sample: Sample, in rect: Rect) {
        guard let path = sample.imagePath else {
            drawCentered(["[no image]", "no image file for id \(clean(sample.id))"], in: rect, role: .placeholder)
            return
        }
        switch state.images[path] {
        case .ready?  where !state.previewSettled:
            // Moving: a cheap placeholder, the picture once the selection rests.
            drawCentered([unicode ? "…" : "..."], in: rect, role: .placeholder)
        case .ready(let image)?:
            drawPicture(image, key: path, in: rect)
        case .failed(let reason)?:
            drawCentered(["[cannot show image]", clean(reason)], in: rect, role: .warning)
        case .loading?, nil:
            drawCentered(["loading image…"], in: rect, role: .placeholder)
        }
    }

    mutating func drawError(_ message: String) {
        let w = min(frame.width - 4, 90)
        let lines = TextWrap.lines(clean(message), width: w - 4)
        let h = min(frame.height - 4, lines.count + 4)
        let r = Rect(x: (frame.width - w) / 2, y: max(1, (frame.height - h) / 2), width: w, height: h)
        frame.fill(x: r.x, y: r.y, width: r.width, height: r.height, style: CellStyle(.overlay))
        box(r, title: "Cannot open the dataset", focused: true)
        for (i, l) in lines.enumerated() where r.y + 1 + i < r.maxY - 2 {
            frame.put(l, x: r.x + 2, y: r.y + 1 + i, maxWidth: w - 4, style: CellStyle(.error))
        }
        if let quit = state.keyName(.quit) { frame.put("\(quit) quits", x: r.x + 2, y: r.maxY - 2, style: CellStyle(.dim)) }
    }

    /// A line being typed, in the footer: `label`, the text (its end kept in view, with the
    /// cursor there; a cut start shows "…"), and the keys that end it at the right.
    mutating func drawPrompt(_ label: String, _ text: String, hints: [(ActionID, String)]) {
        let r = layout.footer
        var x = frame.put(label, x: 0, y: r.y, style: CellStyle(.footerKey, bold: true))
        let hint = "  " + state.keyHints(hints).joined(separator: " · ") + " "
        let room = r.width - x - DisplayWidth.of(hint) - 1
        x += frame.put(DisplayWidth.truncateLeading(clean(text), to: room), x: x, y: r.y, maxWidth: room, style: CellStyle(.footer))
        frame.cursor = (x, r.y)
        frame.put(hint, x: r.width - DisplayWidth.of(hint), y: r.y, style: CellStyle(.footer))
    }

    mutating func drawFooter() {
        let r = layout.footer
        frame.fill(x: 0, y: r.y, width: r.width, height: 1, style: CellStyle(.footer))
        if state.editingFilter {
            drawPrompt(" / ", state.filter, hints: [(.filterAccept, "keep"), (.filterCancel, "clear")])
            return
        }
        if state.editingQuery {
            drawQueryBar()
            return
        }
        if let text = state.findText {
            drawPrompt(" find in results: ", text, hints: [(.findAccept, "next"), (.findCancel, "cancel")])
            return
        }
        if let text = state.gotoText {
            drawPrompt(" go to id: ", text, hints: [(.gotoAccept, "go"), (.gotoCancel, "cancel")])
            return
        }
        // The retrieval engine's state (index build progress) at the right end.
        var right = r.width
        let (engine, engineRole) = engineText()
        if !engine.isEmpty, DisplayWidth.of(engine) < r.width / 2 {
            right -= DisplayWidth.of(engine)
            frame.put(engine, x: right, y: r.y, style: CellStyle(engineRole == .footer ? .footer : engineRole, bold: engineRole != .footer))
        }
        var x = 1
        // A run whose pane is hidden (or gets no rows) still shows its one-line summary.
        if let run = state.training.run, !(state.training.showsPane && layout.bottom.height > 0) {
            let room = min(right - 2, r.width / 2)
            for span in trainingSummaryLine(run, width: room, unicode: unicode) {
                let text = DisplayWidth.truncate(span.text, to: max(0, room - x))
                guard !text.isEmpty else { break }
                x += frame.put(text, x: x, y: r.y, style: span.style)
            }
            x += frame.put("  ", x: x, y: r.y, style: CellStyle(.footer))
        }
        if let status = state.status {
            let text = DisplayWidth.truncate(clean(status.text), to: min(right - x - 2, r.width / 2))
            x += frame.put(text, x: x, y: r.y, style: CellStyle(status.role == .dim ? .footer : status.role, bold: status.role != .dim))
            x += frame.put("  ", x: x, y: r.y, style: CellStyle(.footer))
        }
        let context = state.context
        // A modal context (help, the review queue, the training dialog) takes every key: no global hints.
        // Quit and help first, then what this context does, then the other global keys as room allows.
        let global = context.isModal ? [] : ActionRegistry.all.filter { $0.context == .global }
        let first: Set<ActionID> = [.quit, .help]
        let ordered = global.filter { first.contains($0.id) } + ActionRegistry.all.filter { $0.context == context }
            + global.filter { !first.contains($0.id) }
        for a in ordered where a.hint != nil && state.allows(a.id) {
            guard let key = state.keyMap.keys(for: a.id).first, var hint = a.hint else { continue }
            // The mode hint says which mode is on; in the results only sample queries have one.
            if a.id == .resultsCycleMode, state.retrieval.results.query?.captionText != nil { continue }
            if a.id == .cycleQueryMode || a.id == .resultsCycleMode { hint += ":" + state.retrieval.mode.rawValue }
            if (a.id == .flagWrong || a.id == .flagConfirm || a.id == .flagUndo), !state.retrieval.flags.available { continue }
            if (a.id == .trainingPause || a.id == .trainingCancel), !state.training.isRunActive { continue }
            // A followed run is another process's: the pane says what x does for it.
            if (a.id == .trainingPause || a.id == .trainingCancel), state.training.run?.isFollowed == true { continue }
            let k = clean(KeyName.display(key, unicode: unicode))
            let need = DisplayWidth.of(k) + 1 + DisplayWidth.of(hint) + 2
            if x + need > right { break }
            x += frame.put(k, x: x, y: r.y, style: CellStyle(.footerKey, bold: true))
            x += frame.put(" " + hint + "  ", x: x, y: r.y, style: CellStyle(.footer))
        }
    }

    mutating func drawHelp(scroll: Int) {
        let w = min(frame.width - 4, 80)
        var keyTexts: [ActionID: String] = [:]
        for a in ActionRegistry.all {
            keyTexts[a.id] = state.keyMap.keys(for: a.id).map { clean(KeyName.display($0, unicode: unicode)) }.joined(separator: " ")
        }
        let keyWidth = min(w / 3, keyTexts.values.map { DisplayWidth.of($0) }.max() ?? 8)
        let descWidth = max(10, w - keyWidth - 7)
        var lines: [(String, String, Role)] = []   // keys, description, role
        for ctx in ActionContext.allCases where !(state.isGuest && GuestMode.unreachable.contains(ctx)) {
            let actions = ActionRegistry.all.filter { $0.context == ctx && state.allows($0.id) }
            guard !actions.isEmpty else { continue }
            if !lines.isEmpty { lines.append(("", "", .overlay)) }
            lines.append((ctx.title, "", .overlayTitle))
            for a in actions {
                let description = state.keyMap.describe(a) { clean(KeyName.display($0, unicode: unicode)) }
                for (i, part) in TextWrap.lines(description, width: descWidth).enumerated() {
                    lines.append((i == 0 ? keyTexts[a.id] ?? "" : "", part, .overlay))
                }
            }
        }
        let h = min(frame.height - 2, lines.count + 4)
        let r = Rect(x: (frame.width - w) / 2, y: (frame.height - h) / 2, width: w, height: h)
        frame.fill(x: r.x, y: r.y, width: r.width, height: r.height, style: CellStyle(.overlay))
        box(r, title: "Keys", focused: true)
        let rows = h - 4
        let maxScroll = max(0, lines.count - rows)
        let start = min(scroll, maxScroll)
        for i in 0..<rows {
            let li = start + i
            guard li < lines.count else { break }
            let (keys, desc, role) = lines[li]
            let y = r.y + 1 + i
            if role == .overlayTitle {
                frame.put(keys, x: r.x + 2, y: y, maxWidth: w - 4, style: CellStyle(.overlayTitle, bold: true))
            } else {
                frame.put(DisplayWidth.truncate(keys, to: keyWidth), x: r.x + 3, y: y, style: CellStyle(.overlayTitle))
                frame.put(desc, x: r.x + 4 + keyWidth, y: y, maxWidth: w - keyWidth - 6, style: CellStyle(.overlay))
            }
        }
        let more = maxScroll > 0 ? " \(start + 1)-\(min(lines.count, start + rows))/\(lines.count) " : ""
        var hints = state.keyHints([(.helpClose, "close")])
        if maxScroll > 0, let scroll = upDown(.helpScrollUp, .helpScrollDown) { hints.append(scroll + " scroll") }
        let hint = hints.joined(separator: unicode ? " · " : " | ")
        frame.put(hint, x: r.x + 2, y: r.maxY - 2, style: CellStyle(.dim))
        if !more.isEmpty { frame.put(more, x: r.maxX - 2 - DisplayWidth.of(more), y: r.maxY - 1, style: CellStyle(.dim)) }
    }
}
