import Foundation
import SafeText

/// Draws the model picker centred in `screen`, over whatever is there: one row a model (name,
/// step, dev mAP@10, date), the model in use marked, the selected row highlighted.
public func renderModelPicker(_ state: TrainingUIState, in screen: Rect, unicode: Bool, keys: TrainingKeyLabels? = nil,
                              frame: inout Frame) {
    guard let picker = state.picker else { return }
    let keys = keys ?? TrainingKeyLabels(unicode: unicode)
    let clean = { (s: String) in SafeText.inert(s, ascii: !unicode) }
    let dot = unicode ? " · " : " | "
    let entries = picker.entries ?? []
    let w = min(screen.width - 2, 96)
    let h = min(screen.height - 2, max(8, entries.count + 6))
    guard w >= 30, h >= 6 else { return }
    let r = Rect(x: screen.x + (screen.width - w) / 2, y: screen.y + (screen.height - h) / 2, width: w, height: h)
    frame.fill(x: r.x, y: r.y, width: r.width, height: r.height, style: CellStyle(.overlay))
    TrainingPaneLayout.box(r, title: "Model that searches", status: nil, focused: true, unicode: unicode, frame: &frame)

    let x = r.x + 2
    let inner = r.width - 4
    // Columns: mark, name, step, mAP@10, date (the date goes first when columns are short).
    let stepWidth = 7, mapWidth = 7
    let showDate = inner >= 62
    let dateWidth = showDate ? 16 : 0
    let nameWidth = max(8, inner - 2 - stepWidth - 1 - mapWidth - 1 - (showDate ? dateWidth + 1 : 0))
    func row(_ mark: String, _ name: String, _ step: String, _ map: String, _ date: String) -> String {
        var line = DisplayWidth.pad(mark, to: 2) + DisplayWidth.pad(DisplayWidth.truncate(name, to: nameWidth), to: nameWidth)
        line += " " + String(repeating: " ", count: max(0, stepWidth - step.count)) + step
        line += " " + String(repeating: " ", count: max(0, mapWidth - map.count)) + map
        if showDate { line += " " + DisplayWidth.pad(date, to: dateWidth) }
        return line
    }
    var y = r.y + 1
    frame.put(row("", "model", "step", "mAP@10", showDate ? "modified" : ""), x: x, y: y, maxWidth: inner, style: CellStyle(.overlayTitle, bold: true))
    y += 1

    let listRows = r.maxY - 2 - y
    if picker.entries == nil {
        frame.put("Looking for checkpoints in " + clean(state.settings.runsDirectory) + (unicode ? "…" : "..."), x: x, y: y,
                  maxWidth: inner, style: CellStyle(.dim))
    } else if listRows > 0 {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        formatter.timeZone = picker.timeZone
        formatter.locale = Locale(identifier: "en_US_POSIX")
        let inUse = state.model.current.choice
        let first = max(0, min(picker.selected - listRows + 1, entries.count - listRows))
        for (i, e) in entries.enumerated().dropFirst(first).prefix(listRows) {
            let mark = e.choice == inUse ? (unicode ? "●" : "*") : e.choice == state.model.switching?.choice ? (unicode ? "…" : "~") : ""
            var name = clean(e.name)
            if let note = e.note { name += " (" + clean(note) + ")" }
            let text = row(mark, name, e.step.map(String.init) ?? "–", e.devMAP10.map { TrainingFormat.map($0) } ?? "–",
                           e.modified.map { formatter.string(from: $0) } ?? "")
            let style = i == picker.selected ? CellStyle(.selection, bold: e.choice == inUse) : CellStyle(.overlay, bold: e.choice == inUse)
            frame.fill(x: x, y: y, width: inner, height: 1, style: style)
            frame.put(text, x: x, y: y, maxWidth: inner, style: style)
            y += 1
        }
        if entries.count <= 1 {
            frame.put("No checkpoints in " + clean(state.settings.runsDirectory) + " yet", x: x, y: y, maxWidth: inner, style: CellStyle(.dim))
        }
    }

    var hint: [TrainingSpan] = [TrainingSpan(unicode ? "● in use" : "* in use", CellStyle(.dim)),
                                TrainingSpan(dot, CellStyle(.dim))]
    let pairs: [(TrainingCommand, String)] = [(.pickerChoose, "use"), (.pickerClose, "close")]
    for (i, (command, label)) in pairs.enumerated() {
        guard let k = keys[command] else { continue }
        hint.append(TrainingSpan(k, CellStyle(.overlayTitle, bold: true)))
        hint.append(TrainingSpan(" " + label + (i < pairs.count - 1 ? dot : ""), CellStyle(.dim)))
    }
    if let switching = state.model.switching {
        hint.append(TrainingSpan(dot + "indexing with " + clean(switching.name) + (unicode ? "…" : "..."), CellStyle(.warning)))
    }
    TrainingPaneLayout.draw(hint, x: x, y: r.maxY - 2, width: inner, frame: &frame)
}
