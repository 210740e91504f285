import Training
import SafeText

/// Draws the training dialog centred in `screen` (the whole frame, usually),
/// over whatever is there, like the help overlay. Sets the frame's cursor
/// in the steps and data fields.
public func renderTrainingDialog(_ dialog: TrainingDialogState, settings: TrainingSettings, in screen: Rect, unicode: Bool,
                                 keys: TrainingKeyLabels? = nil, frame: inout Frame) {
    let keys = keys ?? TrainingKeyLabels(unicode: unicode)
    let clean = { (s: String) in SafeText.inert(s, ascii: !unicode) }
    let text = { (s: String) in unicode ? s : TrainingPaneLayout.ascii(s) }
    let w = min(screen.width, 72)
    let h = min(screen.height, 12)
    guard w >= 24, h >= 5 else { return }
    let r = Rect(x: screen.x + (screen.width - w) / 2, y: screen.y + (screen.height - h) / 2, width: w, height: h)
    frame.fill(x: r.x, y: r.y, width: r.width, height: r.height, style: CellStyle(.overlay))
    TrainingPaneLayout.box(r, title: "Train a model", status: nil, focused: true, unicode: unicode, frame: &frame)

    let labelWidth = 7
    let x = r.x + 2
    let valueX = x + labelWidth + 1
    let valueWidth = r.maxX - 2 - valueX
    let (leftMark, rightMark) = unicode ? ("‹ ", " ›") : ("< ", " >")
    var y = r.y + 2

    for field in dialog.fields {
        guard y < r.maxY - 3 else { break }
        let focused = dialog.focus == field
        frame.put(field.label, x: x, y: y, style: CellStyle(.overlayTitle, bold: focused))
        let valueStyle = focused ? CellStyle(.selection) : CellStyle(.overlay)
        // Text fields are underlined, so that they show where to type even when empty.
        let fieldStyle = CellStyle(focused ? .selection : .overlay, underline: true)
        var spans: [TrainingSpan] = []
        var cursorAt: Int? = nil
        switch field {
        case .mode where dialog.following:
            spans.append(TrainingSpan(leftMark + "Follow a run" + rightMark, valueStyle))
            spans.append(TrainingSpan("  another process's run, from its folder", CellStyle(.dim)))
        case .mode:
            spans.append(TrainingSpan(leftMark + dialog.mode.title + rightMark, valueStyle))
            spans.append(TrainingSpan("  " + (dialog.mode == .finetune ? "labelled pairs, for retrieval" : "captions and images, no labels"),
                                      CellStyle(.dim)))
        case .preset:
            spans.append(TrainingSpan(leftMark + dialog.preset.rawValue + rightMark, valueStyle))
            spans.append(TrainingSpan("  " + dialog.preset.note, CellStyle(.dim)))
        case .steps:
            let fieldWidth = 9
            let shown = dialog.stepsText
            spans.append(TrainingSpan(" " + DisplayWidth.pad(shown, to: fieldWidth - 1), fieldStyle))
            cursorAt = 1 + DisplayWidth.of(shown)
            if shown.isEmpty { spans.append(TrainingSpan("  empty: the preset's own number", CellStyle(.dim))) }
        case .data, .folder:
            let fieldWidth = max(4, valueWidth)
            let path = clean(field == .data ? dialog.dataPath : dialog.followPath)
            // The end of a long path matters most: show its tail.
            var shown = path
            while DisplayWidth.of(shown) > fieldWidth - 2, !shown.isEmpty { shown.removeFirst() }
            if shown != path, !shown.isEmpty { shown = (unicode ? "…" : "~") + String(shown.dropFirst()) }
            spans.append(TrainingSpan(" " + DisplayWidth.pad(shown, to: fieldWidth - 1), fieldStyle))
            cursorAt = 1 + DisplayWidth.of(shown)
        case .flags:
            if dialog.flagsApply {
                spans.append(TrainingSpan(dialog.useFlags ? "[x]" : "[ ]", valueStyle))
                var note = " use the annotators' flags as pairs"
                if let n = settings.flagCount { note += " (\(n) in the store)" }
                spans.append(TrainingSpan(note, CellStyle(.overlay)))
            } else {
                spans.append(TrainingSpan("[-]", valueStyle))
                spans.append(TrainingSpan(" flags are used by fine-tuning only", CellStyle(.dim)))
            }
        }
        TrainingPaneLayout.draw(spans.map { TrainingSpan(text($0.text), $0.style) }, x: valueX, y: y, width: valueWidth, frame: &frame)
        if focused, let c = cursorAt, c < valueWidth { frame.cursor = (valueX + c, y) }
        y += 1
    }

    if dialog.following, y + 1 < r.maxY - 3 {
        // What following does, in two lines.
        let about = "Shows the progress of a run another process writes (vitrine train, the PyTorch twin: its "
            + "events.jsonl) and offers its best model when it ends."
        for (i, line) in TextWrap.lines(text(about), width: r.width - 4).prefix(max(0, r.maxY - 3 - (y + 1))).enumerated() {
            TrainingPaneLayout.draw([TrainingSpan(line, CellStyle(.dim))], x: x, y: y + 1 + i, width: r.width - 4, frame: &frame)
        }
    } else if y + 1 < r.maxY - 3 {
        // Where the run starts: the model that searches (a checkpoint) or the pretrained towers.
        let start: String
        if dialog.preset == .tiny {
            start = "random weights (the tiny preset is a small model of its own)"
        } else if let path = settings.initFrom {
            start = clean(ModelEntry.name(ofCheckpoint: path)) + ", the model that searches"
        } else {
            start = "the pretrained towers, as zero-shot searches"
        }
        frame.put("From", x: x, y: y + 1, style: CellStyle(.overlayTitle))
        let shown = DisplayWidth.truncate(text(start), to: valueWidth, ellipsis: unicode ? "…" : "~")
        TrainingPaneLayout.draw([TrainingSpan(shown, CellStyle(.overlay))], x: valueX, y: y + 1, width: valueWidth, frame: &frame)
    }
    if let error = dialog.error {
        TrainingPaneLayout.draw([TrainingSpan(text(clean(error)), CellStyle(.error, bold: true))], x: x, y: r.maxY - 3, width: r.width - 4, frame: &frame)
    }
    var hint: [TrainingSpan] = []
    let pairs: [(TrainingCommand, String)] = [(.dialogStart, dialog.following ? "follow" : "start"), (.dialogNext, "next"),
                                              (.dialogIncrease, "change"), (.dialogClose, "close")]
    for (i, (command, label)) in pairs.enumerated() {
        guard var k = keys[command] else { continue }
        if command == .dialogIncrease, let d = keys[.dialogDecrease] { k = d + (unicode ? "" : "/") + k }
        hint.append(TrainingSpan(text(k), CellStyle(.overlayTitle, bold: true)))
        hint.append(TrainingSpan(" " + label + (i < pairs.count - 1 ? (unicode ? " · " : " | ") : ""), CellStyle(.dim)))
    }
    TrainingPaneLayout.draw(hint, x: x, y: r.maxY - 2, width: r.width - 4, frame: &frame)
}
