import SafeText
import Foundation
import Training

/// The key names the training pane and dialog show in their hints: the
/// user's keys (from the explorer's key map), first key of each action.
public struct TrainingKeyLabels: Sendable, Equatable {
    public var labels: [TrainingCommand: String]

    /// Labels for the keys `keys` gives each command (default: the registry defaults).
    public init(unicode: Bool, keys: (TrainingCommand) -> [Key] = { $0.defaultKeys }) {
        var l: [TrainingCommand: String] = [:]
        for c in TrainingCommand.allCases {
            if let k = keys(c).first { l[c] = KeyName.display(k, unicode: unicode) }
        }
        labels = l
    }

    public subscript(_ c: TrainingCommand) -> String? { labels[c] }
}

// MARK: - The pane

/// Draws the training pane into `rect` (its border included, like the
/// explorer's other panes): progress, losses with sparklines, learning rate,
/// throughput, ETA, dev mAP@10, the status, and at the end the before/after
/// line. Below 40 columns (or 3 rows) it is a one-line summary. Draws nothing
/// when there has been no run.
public func renderTrainingPane(_ state: TrainingUIState, in rect: Rect, unicode: Bool, focused: Bool = false,
                               keys: TrainingKeyLabels? = nil, frame: inout Frame) {
    guard let run = state.run, rect.width > 0, rect.height > 0 else { return }
    let keys = keys ?? TrainingKeyLabels(unicode: unicode)
    frame.fill(x: rect.x, y: rect.y, width: rect.width, height: rect.height, style: CellStyle(.text))
    if rect.width < TrainingPaneLayout.minimumWidth || rect.height < 3 {
        let line = trainingSummaryLine(run, width: rect.width, unicode: unicode)
        TrainingPaneLayout.draw(line, x: rect.x, y: rect.y, width: rect.width, frame: &frame)
        return
    }
    let title: String
    if let folder = run.followedDirectory {
        // A followed run: what it is once its `started` event says, else its folder.
        title = run.plan != nil ? "following · \(run.request.mode.title) · \(run.request.preset.rawValue)"
                                : "following · " + SafeText.inert((folder as NSString).lastPathComponent, ascii: !unicode)
    } else {
        title = "training · \(run.request.mode.title) · \(run.request.preset.rawValue)"
    }
    let word = run.isFollowed && run.status == .starting ? "waiting" : run.status.word
    TrainingPaneLayout.box(rect, title: title, status: (word, statusStyle(run.status)), focused: focused, unicode: unicode, frame: &frame)
    let inner = Rect(x: rect.x + 2, y: rect.y + 1, width: rect.width - 4, height: rect.height - 2)
    let lines = paneLines(run, width: inner.width, unicode: unicode, keys: keys, model: state.model, offerScores: state.offerScores)
    // Keep the most important lines that fit, in their order; the key line sits at the bottom.
    var kept = lines
    while kept.count > inner.height {
        // The least important line goes first; of equals, the lowest on the pane.
        var worst = 0
        for i in kept.indices where kept[i].priority >= kept[worst].priority { worst = i }
        kept.remove(at: worst)
    }
    var y = inner.y
    for (i, line) in kept.enumerated() {
        let row = line.atBottom && i == kept.count - 1 ? inner.maxY - 1 : y
        TrainingPaneLayout.draw(line.spans, x: inner.x, y: row, width: inner.width, frame: &frame)
        y += 1
    }
}

/// The rows the pane would like at `width` columns (border included) to show
/// everything it has: 0 when it is hidden or there is no run, 1 below 40
/// columns (the one-line summary). Give it fewer and it drops its least
/// important lines (the before/after line and the progress stay).
public func trainingPanePreferredHeight(_ state: TrainingUIState, width: Int) -> Int {
    guard state.showsPane, let run = state.run, width > 0 else { return 0 }
    if width < TrainingPaneLayout.minimumWidth { return 1 }
    return paneLines(run, width: width - 4, unicode: true, keys: TrainingKeyLabels(unicode: true), model: state.model, offerScores: state.offerScores).count + 2
}

/// The run in one line of at most `width` columns: for narrow panes, the
/// footer, or a status bar.
public func trainingSummaryLine(_ run: TrainingPaneState, width: Int, unicode: Bool) -> [TrainingSpan] {
    let clean = { (s: String) in SafeText.inert(s, ascii: !unicode) }
    var spans: [TrainingSpan] = [TrainingSpan("train ", CellStyle(.title, bold: true))]
    switch run.status {
    case .failed(let message):
        spans.append(TrainingSpan("failed: " + clean(message), CellStyle(.error)))
    case .finished(let outcome):
        if outcome == .cancelled {
            spans.append(TrainingSpan("cancelled at step \(run.step)", CellStyle(.warning)))
        } else if let ba = run.beforeAfter, let before = ba.before, let after = ba.after {
            spans.append(TrainingSpan("mAP@10 \(TrainingFormat.map(before))\(unicode ? "→" : "->")\(TrainingFormat.map(after))",
                                      CellStyle(.accent, bold: true)))
            spans.append(TrainingSpan(" (\(TrainingFormat.delta(after - before, unicode: unicode)))", CellStyle(.text)))
        } else {
            spans.append(TrainingSpan("\(outcome.rawValue), \(run.step) steps", CellStyle(.text)))
        }
    case .starting where run.isFollowed && run.preparation == nil:
        spans.append(TrainingSpan("waiting for events…", CellStyle(.dim)))
    case .starting:
        if let p = run.preparation {
            spans.append(TrainingSpan("features \(p.done)/\(p.total)", CellStyle(.dim)))
        } else {
            spans.append(TrainingSpan("starting…", CellStyle(.dim)))
        }
    case .unfollowed:
        spans.append(TrainingSpan("not followed any more, at step \(run.step)", CellStyle(.dim)))
    case .running, .paused, .cancelling:
        var text = "\(run.step)"
        if let total = run.totalSteps, total > 0 {
            text += "/\(total) \(Int((min(1, max(0, Double(run.step) / Double(total))) * 100).rounded(.down)))%"
        }
        spans.append(TrainingSpan(text, CellStyle(.text)))
        if let total = run.losses["total"] ?? run.lossNames.first.flatMap({ run.losses[$0] }) {
            spans.append(TrainingSpan(" · loss \(TrainingFormat.loss(total.latest))", CellStyle(.text)))
        }
        if run.devMAP10 != nil { spans.append(TrainingSpan(" · mAP \(TrainingFormat.map(run.devMAP10))", CellStyle(.text))) }
        if run.status != .running { spans.append(TrainingSpan(" · \(run.status.word)", statusStyle(run.status))) }
    }
    if !unicode { spans = spans.map { TrainingSpan(TrainingPaneLayout.ascii($0.text), $0.style) } }
    return TrainingPaneLayout.fit(spans, width: width)
}

/// A piece of a line with its style.
public struct TrainingSpan: Sendable, Equatable {
    public var text: String
    public var style: CellStyle
    public init(_ text: String, _ style: CellStyle) { self.text = text; self.style = style }
}

func statusStyle(_ status: TrainingRunStatus) -> CellStyle {
    switch status {
    case .starting, .unfollowed: return CellStyle(.dim)
    case .running: return CellStyle(.accent, bold: true)
    case .paused, .cancelling: return CellStyle(.warning, bold: true)
    case .finished(let outcome): return outcome == .cancelled ? CellStyle(.warning, bold: true) : CellStyle(.accent, bold: true)
    case .failed: return CellStyle(.error, bold: true)
    }
}

struct PaneLine {
    var spans: [TrainingSpan]
    /// Lower is more important; lines with the highest number go first when rows are short.
    var priority: Int
    var atBottom = false
}

private func paneLines(_ run: TrainingPaneState, width: Int, unicode: Bool, keys: TrainingKeyLabels,
                       model: ModelInUse = ModelInUse(), offerScores: OfferScores? = nil) -> [PaneLine] {
    let clean = { (s: String) in SafeText.inert(s, ascii: !unicode) }
    let dot = unicode ? " · " : " | "
    var lines: [PaneLine] = []

    // Progress.
    if run.status == .starting, let p = run.preparation {
        // Before the first step: the corpus's backbone features (slow on a cold cache).
        let percent = p.total > 0 ? " \(Int(min(1, max(0, Double(p.done) / Double(p.total))) * 100))%" : ""
        lines.append(PaneLine(spans: [TrainingSpan("preparing features \(p.done)/\(p.total)\(percent)", CellStyle(.text, bold: true)),
                                      TrainingSpan(dot + "cached \(p.cached), computed \(p.computed)", CellStyle(.dim))],
                              priority: 0))
    } else if run.status == .starting {
        let text = run.isFollowed ? "waiting for the run's events" : "starting vitrine train"
        lines.append(PaneLine(spans: [TrainingSpan(text + (unicode ? "…" : "..."), CellStyle(.dim))], priority: 0))
    } else {
        let total = run.totalSteps ?? 0
        let left = total > 0 ? "step \(run.step)/\(total)" : "step \(run.step)"
        let fraction = total > 0 ? min(1, max(0, Double(run.step) / Double(total))) : 0
        let right = total > 0 ? " \(Int((fraction * 100).rounded(.down)))%" : ""
        var spans = [TrainingSpan(left, CellStyle(.text, bold: true))]
        let barWidth = width - DisplayWidth.of(left) - DisplayWidth.of(right) - 1
        if total > 0, barWidth >= 4 {
            spans.append(TrainingSpan(" ", CellStyle(.text)))
            spans += progressBar(fraction, width: barWidth, unicode: unicode)
        }
        spans.append(TrainingSpan(right, CellStyle(.text)))
        lines.append(PaneLine(spans: spans, priority: 0))
    }

    // What the follower says, or why a key cannot act on a run that is not ours.
    if let notice = run.notice {
        for (i, l) in TextWrap.lines(clean(notice.text), width: width).prefix(2).enumerated() {
            lines.append(PaneLine(spans: [TrainingSpan(l, CellStyle(notice.warning ? .warning : .dim))], priority: notice.warning ? 1 + i : 7))
        }
    }

    // Rate, learning rate, time left (or the run's wall time at the end).
    if let summary = run.summary {
        lines.append(PaneLine(spans: [TrainingSpan("\(summary.steps) steps in \(TrainingFormat.duration(summary.wallSeconds, unicode: unicode))"
                                                   + (run.samplesPerSecond.map { dot + TrainingFormat.rate($0) + " samples/s" } ?? ""),
                                                   CellStyle(.dim))], priority: 5))
    } else if run.learningRate != nil || run.samplesPerSecond != nil {
        var text = "lr " + (run.learningRate.map(TrainingFormat.learningRate) ?? "?")
        text += dot + (run.samplesPerSecond.map(TrainingFormat.rate) ?? "?") + " samples/s"
        text += dot + "eta " + (run.status == .paused ? "paused" : TrainingFormat.duration(run.etaSeconds, unicode: unicode))
        lines.append(PaneLine(spans: [TrainingSpan(text, CellStyle(.text))], priority: 4))
    }

    // Pretraining: how long an epoch takes; samples that could not be read.
    if let e = run.epoch, run.summary == nil {
        var text = "epoch " + (unicode ? "≈ " : "~") + TrainingFormat.duration(e.laterEpochSeconds, unicode: unicode)
            + " (\(e.stepsPerEpoch) steps)"
        if e.cachedFraction < 1 {
            text += dot + "first " + TrainingFormat.duration(e.firstEpochSeconds, unicode: unicode)
                + ", \(Int((min(1, max(0, e.cachedFraction.isFinite ? e.cachedFraction : 0)) * 100).rounded()))% features cached"
        }
        lines.append(PaneLine(spans: [TrainingSpan(text, CellStyle(.dim))], priority: 6))
    }
    if run.skippedSamples > 0, let last = run.lastSkipped {
        lines.append(PaneLine(spans: [TrainingSpan("\(run.skippedSamples) sample(s) skipped, last: " + clean(last.id + ": " + last.reason),
                                                   CellStyle(.warning))], priority: 6))
    }

    // The end: before/after, re-indexing; or the failure.
    switch run.status {
    case .finished(let outcome) where outcome == .cancelled:
        lines.append(PaneLine(spans: [TrainingSpan("Cancelled at step \(run.step); the model in use is unchanged.", CellStyle(.warning))], priority: 1))
    case .finished:
        if let ba = run.beforeAfter, let before = ba.before, let after = ba.after {
            lines.append(PaneLine(spans: [
                TrainingSpan("dev mAP@10 before \(TrainingFormat.map(before)) \(unicode ? "→" : "->") after \(TrainingFormat.map(after))", CellStyle(.accent, bold: true)),
                TrainingSpan(" (\(TrainingFormat.delta(after - before, unicode: unicode)))", CellStyle(after >= before ? .text : .warning, bold: true)),
            ], priority: 1))
        } else {
            lines.append(PaneLine(spans: [TrainingSpan("No dev evaluation, so no before/after mAP@10.", CellStyle(.dim))], priority: 1))
        }
        if let line = reindexLine(run, unicode: unicode, keys: keys, model: model, offerScores: offerScores) { lines.append(line) }
    case .failed(let message):
        for (i, l) in TextWrap.lines(clean(message), width: width).prefix(4).enumerated() {
            lines.append(PaneLine(spans: [TrainingSpan(l, CellStyle(.error, bold: i == 0))], priority: i == 0 ? 1 : 3))
        }
        // A followed run that failed may still leave its best model in its folder.
        if run.isFollowed, let line = reindexLine(run, unicode: unicode, keys: keys, model: model, offerScores: offerScores) {
            lines.append(line)
        }
    case .unfollowed:
        lines.append(PaneLine(spans: [TrainingSpan("Not following " + clean(run.followedDirectory ?? "") + " any more; "
                                                   + "the run goes on in its own process.", CellStyle(.dim))], priority: 1))
    default:
        break
    }

    // Dev mAP@10.
    if run.devMAP10 != nil || run.status.isActive {
        var spans = [TrainingSpan("dev mAP@10 ", CellStyle(.dim))]
        if let map = run.devMAP10 {
            spans.append(TrainingSpan(TrainingFormat.map(map), CellStyle(.text, bold: true)))
            if let best = run.bestMAP10 {
                spans.append(TrainingSpan(dot + "best \(TrainingFormat.map(best))" + (run.bestStep.map { " (step \($0))" } ?? ""), CellStyle(.text)))
            }
        } else {
            spans.append(TrainingSpan("not evaluated yet", CellStyle(.dim)))
        }
        // Once the run has ended, the before/after line says more.
        lines.append(PaneLine(spans: spans, priority: run.summary == nil ? 2 : 5))
    }

    // Losses, each with its curve.
    let names = run.lossNames
    let nameWidth = min(10, names.map { DisplayWidth.of(clean($0)) }.max() ?? 0)
    let valueWidth = 7
    let sparkWidth = width - nameWidth - 1 - valueWidth - 1
    for (i, name) in names.enumerated() {
        guard let series = run.losses[name] else { continue }
        var spans = [TrainingSpan(DisplayWidth.pad(clean(name), to: nameWidth) + " ", CellStyle(.dim)),
                     TrainingSpan(String(repeating: " ", count: max(0, valueWidth - TrainingFormat.loss(series.latest).count)) + TrainingFormat.loss(series.latest) + " ",
                                  CellStyle(.text))]
        if sparkWidth >= 4 {
            spans.append(TrainingSpan(Sparkline.render(series.displayValues, width: sparkWidth, unicode: unicode), CellStyle(.accent)))
        }
        lines.append(PaneLine(spans: spans, priority: i == 0 ? 3 : 5))
    }

    // The log's last lines after a failure.
    if case .failed = run.status, let exit = run.exit {
        for l in exit.logTail.suffix(3) where !l.trimmingCharacters(in: .whitespaces).isEmpty {
            lines.append(PaneLine(spans: [TrainingSpan(clean(l), CellStyle(.dim))], priority: 7))
        }
    }

    // What the run is: batch, flag pairs, where it writes.
    if let plan = run.plan {
        var parts = ["batch \(plan.batchSize)"]
        if run.request.usesFlags || plan.flagPairs > 0 { parts.append("\(plan.flagPairs) flag pair\(plan.flagPairs == 1 ? "" : "s")") }
        parts.append(clean(plan.outputDirectory))
        lines.append(PaneLine(spans: [TrainingSpan(parts.joined(separator: dot), CellStyle(.dim))], priority: 8))
    }
    if let folder = run.followedDirectory, run.status.isActive || run.plan != nil {
        lines.append(PaneLine(spans: [TrainingSpan("events from " + clean(folder + "/" + TrainingEventLog.fileName)
                                                   + dot + "another process's run", CellStyle(.dim))], priority: 8))
    }

    // Keys, or the cancel question.
    if run.confirmingCancel, run.isFollowed {
        // Not ours to cancel: say whose it is and how to stop it, and offer what we can do.
        var spans = [TrainingSpan("Stop following this run? ", CellStyle(.warning, bold: true))]
        spans += keyHint(keys[.confirmCancel], "yes", dot: dot) + keyHint(keys[.keepRunning], "no", dot: "")
        lines.append(PaneLine(spans: spans, priority: 0, atBottom: true))
    } else if run.confirmingCancel {
        var spans = [TrainingSpan("Cancel the training run? ", CellStyle(.warning, bold: true))]
        spans += keyHint(keys[.confirmCancel], "yes", dot: dot) + keyHint(keys[.keepRunning], "no", dot: "")
        lines.append(PaneLine(spans: spans, priority: 0, atBottom: true))
    } else {
        var spans: [TrainingSpan] = []
        if run.status.isActive && run.isFollowed {
            spans += keyHint(keys[.cancelRun], "stop following", dot: dot)
        } else if run.status.isActive {
            if run.status == .running || run.status == .paused {
                spans += keyHint(keys[.pauseResume], run.status == .paused ? "resume" : "pause", dot: dot)
            }
            if run.status != .cancelling { spans += keyHint(keys[.cancelRun], "cancel", dot: dot) }
        } else {
            spans += keyHint(keys[.open], "new run", dot: dot)
        }
        spans += keyHint(keys[.togglePane], "hide", dot: "")
        lines.append(PaneLine(spans: spans, priority: 6, atBottom: true))
    }
    if !unicode {
        for i in lines.indices { lines[i].spans = lines[i].spans.map { TrainingSpan(TrainingPaneLayout.ascii($0.text), $0.style) } }
    }
    return lines
}

/// The line about the model a run that ended offers: the offer with both models' scores, the
/// re-indexing, its end; nil when it offers none.
private func reindexLine(_ run: TrainingPaneState, unicode: Bool, keys: TrainingKeyLabels, model: ModelInUse,
                         offerScores: OfferScores?) -> PaneLine? {
    let clean = { (s: String) in SafeText.inert(s, ascii: !unicode) }
    let dot = unicode ? " · " : " | "
    switch run.reindex {
    case .none: return nil
    case .offered(let checkpoint):
        // The run's best against what searches now; nothing changes until the user accepts.
        let new = ModelEntry(checkpoint: checkpoint, step: run.bestStep)
        var spans = [TrainingSpan("New model " + clean(new.label), CellStyle(.accent, bold: true))]
        // Both scored as search ranks on dev (the run's own figure is on the fused embedding).
        let scores = offerScores.flatMap { $0.checkpoint == checkpoint && $0.current == model.current.choice ? $0 : nil }
        if let scores, let newMAP = scores.offeredMAP10, let nowMAP = scores.currentMAP10 {
            spans.append(TrainingSpan(dot + "dev mAP@10 \(TrainingFormat.map(newMAP))", CellStyle(.text, bold: true)))
            spans.append(TrainingSpan(" vs \(TrainingFormat.map(nowMAP)) now (" + clean(model.current.name) + ")",
                                      CellStyle(newMAP >= nowMAP ? .text : .warning, bold: newMAP < nowMAP)))
            spans.append(TrainingSpan(", \(scores.queries) " + clean(scores.split) + (scores.heldOut ? " queries held out" : " queries"),
                                      CellStyle(.dim)))
        } else if let scores, let failure = scores.failure {
            spans.append(TrainingSpan(dot + "could not score it against " + clean(model.current.name) + ": " + clean(failure), CellStyle(.warning)))
        } else if scores != nil {
            spans.append(TrainingSpan(dot + "scoring it and " + clean(model.current.name) + " on " + clean(scores!.split)
                                      + (unicode ? "…" : "..."), CellStyle(.dim)))
        } else if let best = run.summary?.devMAP10After ?? run.bestMAP10 {
            // Without search open, the run's own figure.
            spans.append(TrainingSpan(dot + "dev mAP@10 \(TrainingFormat.map(best))", CellStyle(.text, bold: true)))
            if let now = model.current.devMAP10 {
                spans.append(TrainingSpan(" vs \(TrainingFormat.map(now)) now (" + clean(model.current.name) + ")",
                                          CellStyle(best >= now ? .text : .warning)))
            } else {
                spans.append(TrainingSpan(dot + "now " + clean(model.current.name), CellStyle(.dim)))
            }
        }
        spans.append(TrainingSpan("  ", CellStyle(.text)))
        spans += keyHint(keys[.useNewModel], "use it", dot: "")
        return PaneLine(spans: spans, priority: 1)
    case .running:
        return PaneLine(spans: [TrainingSpan("Re-indexing the gallery with the new model" + (unicode ? "…" : "..."), CellStyle(.warning))], priority: 2)
    case .done(let checkpoint):
        return PaneLine(spans: [TrainingSpan("Gallery re-indexed with " + clean((checkpoint as NSString).lastPathComponent) + "; results refreshed.", CellStyle(.dim))], priority: 2)
    case .failed(let message):
        return PaneLine(spans: [TrainingSpan("Re-indexing failed: " + clean(message), CellStyle(.error))], priority: 1)
    }
}

private func keyHint(_ key: String?, _ label: String, dot: String) -> [TrainingSpan] {
    guard let key else { return [] }
    return [TrainingSpan(key, CellStyle(.title, bold: true)), TrainingSpan(" " + label + dot, CellStyle(.dim))]
}

/// A bar of `width` columns, filled to `fraction` (to an eighth of a column with Unicode).
private func progressBar(_ fraction: Double, width: Int, unicode: Bool) -> [TrainingSpan] {
    if unicode {
        let eighths = Int((fraction * Double(width * 8)).rounded(.down))
        let full = eighths / 8, part = eighths % 8
        var filled = String(repeating: "█", count: full)
        if part > 0, full < width { filled.append(["▏", "▎", "▍", "▌", "▋", "▊", "▉"][part - 1]) }
        let rest = width - full - (part > 0 && full < width ? 1 : 0)
        return [TrainingSpan(filled, CellStyle(.accent)), TrainingSpan(String(repeating: "░", count: max(0, rest)), CellStyle(.dim))]
    }
    let inside = width - 2
    let full = Int((fraction * Double(inside)).rounded(.down))
    return [TrainingSpan("[", CellStyle(.dim)), TrainingSpan(String(repeating: "#", count: full), CellStyle(.accent)),
            TrainingSpan(String(repeating: "-", count: max(0, inside - full)), CellStyle(.dim)), TrainingSpan("]", CellStyle(.dim))]
}

/// Drawing helpers shared by the pane and the dialog.
enum TrainingPaneLayout {
    static let minimumWidth = 40

    /// Cuts spans to `width` columns, with "…" where text was cut.
    static func fit(_ spans: [TrainingSpan], width: Int) -> [TrainingSpan] {
        var out: [TrainingSpan] = []
        var used = 0
        for s in spans {
            let w = DisplayWidth.of(s.text)
            if used + w <= width { out.append(s); used += w; continue }
            let room = width - used
            if room > 0 { out.append(TrainingSpan(DisplayWidth.truncate(s.text, to: room), s.style)) }
            break
        }
        return out
    }

    static func draw(_ spans: [TrainingSpan], x: Int, y: Int, width: Int, frame: inout Frame) {
        var cx = x
        for s in fit(spans, width: width) {
            cx += frame.put(s.text, x: cx, y: y, maxWidth: x + width - cx, style: s.style)
        }
    }

    /// A border like the explorer's panes, with a title on the left and a status on the right.
    static func box(_ r: Rect, title: String, status: (String, CellStyle)?, focused: Bool, unicode: Bool, frame: inout Frame) {
        guard r.width >= 2, r.height >= 2 else { return }
        frame.drawBorder(r, unicode: unicode)
        var statusWidth = 0
        if let (word, style) = status, r.width > 12 {
            let text = " \(word) "
            statusWidth = DisplayWidth.of(text)
            frame.put(text, x: r.maxX - 2 - statusWidth, y: r.y, style: style)
        }
        if !title.isEmpty, r.width > 6 {
            let room = r.width - 4 - (statusWidth > 0 ? statusWidth + 1 : 0)
            let t = DisplayWidth.truncate(" \(unicode ? title : ascii(title)) ", to: room)
            frame.put(t, x: r.x + 2, y: r.y, maxWidth: room, style: CellStyle(.title, bold: focused))
        }
    }

    /// ASCII stand-ins for the few symbols the pane uses itself (data text is
    /// already ASCII when sanitised for an ASCII terminal).
    static func ascii(_ s: String) -> String {
        guard !s.unicodeScalars.allSatisfy(\.isASCII) else { return s }
        let map: [Character: String] = ["·": "|", "…": "...", "→": "->", "←": "<-", "↑": "^", "↓": "v", "⏎": "enter", "±": "+-", "–": "-"]
        var out = ""
        for c in s { if c.unicodeScalars.allSatisfy(\.isASCII) { out.append(c) } else { out += map[c] ?? "?" } }
        return out
    }
}
