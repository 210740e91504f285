/// The header bar: the name, the dataset, one tab per split and, at the right end, the
/// current split's counts and warnings. On a narrow terminal it gives up detail a step at a
/// time rather than whole pieces: the active split's tab and the split's warnings (missing
/// images, malformed lines) are always shown, cut with "…" only as the last resort.
extension Canvas {
    mutating func drawHeader() {
        let r = layout.header
        frame.fill(x: 0, y: r.y, width: r.width, height: 1, style: CellStyle(.header))
        let (left, right) = headerPieces(width: r.width)
        var x = 0
        for p in left { x += frame.put(p.text, x: x, y: r.y, maxWidth: r.width - x, style: p.style) }
        var rx = r.width - HeaderPiece.width(right)
        for p in right { rx += frame.put(p.text, x: rx, y: r.y, maxWidth: r.width - rx, style: p.style) }
    }

    /// The header's pieces for a width: the left ones from column 0, the right ones ending at
    /// the right edge, with at least one column between them.
    func headerPieces(width: Int) -> (left: [HeaderPiece], right: [HeaderPiece]) {
        let brand = HeaderPiece(" Vitrine ", CellStyle(.header, bold: true))
        guard let loaded = state.loaded else { return ([brand], []) }
        /// The columns the pieces take, with the gap between left and right.
        func used(_ p: (left: [HeaderPiece], right: [HeaderPiece])) -> Int {
            HeaderPiece.width(p.left) + (p.right.isEmpty ? 0 : 1 + HeaderPiece.width(p.right))
        }
        func fits(_ p: (left: [HeaderPiece], right: [HeaderPiece])) -> Bool { used(p) <= width }
        var detail = HeaderDetail()
        for step in HeaderDetail.steps {
            if detail.dataset == .short {
                // A shortened name takes the columns the rest leaves, if that is enough to read.
                var without = detail
                without.dataset = .none
                // " name  " takes three columns more than the name.
                detail.nameWidth = width - used(headerPieces(loaded, without)) - 3
                if detail.nameWidth >= HeaderDetail.shortNameWidth { return headerPieces(loaded, detail) }
            } else {
                let pieces = headerPieces(loaded, detail)
                if fits(pieces) { return pieces }
            }
            step(&detail)
        }
        var (left, right) = headerPieces(loaded, detail)
        if fits((left, right)) { return (left, right) }
        // The least detailed header still does not fit: the warnings get up to half the width,
        // the active tab what is left, both cut with "…".
        let rightRoom = min(HeaderPiece.width(right), width / 2)
        right = HeaderPiece.truncate(right, to: rightRoom)
        left = HeaderPiece.truncate(left, to: width - (right.isEmpty ? 0 : rightRoom + 1))
        return (left, right)
    }

    private func headerPieces(_ loaded: LoadedDataset, _ detail: HeaderDetail) -> (left: [HeaderPiece], right: [HeaderPiece]) {
        let d = loaded.dataset
        var left: [HeaderPiece] = []
        if detail.brand { left.append(HeaderPiece(" Vitrine ", CellStyle(.header, bold: true))) }
        switch detail.dataset {
        case .full, .short:
            var name = clean(d.name)
            if detail.dataset == .short { name = DisplayWidth.truncate(name, to: detail.nameWidth) }
            left.append(HeaderPiece(" \(name)\(detail.format ? " · \(d.format.rawValue)" : "")  ", CellStyle(.headerDim)))
        case .none:
            break
        }
        var hidden = 0
        for (i, split) in d.splits.enumerated() {
            let active = i == state.splitIndex
            if !active && !detail.otherTabs { hidden += 1; continue }
            let count: String
            switch active ? max(.compact, detail.counts) : detail.counts {
            case .exact: count = " \(split.samples.count)"
            case .compact: count = " " + HeaderDetail.compact(split.samples.count)
            case .none: count = ""
            }
            let style = active ? CellStyle(.accent, bold: true, reverse: true) : CellStyle(.header)
            left.append(HeaderPiece(" \(clean(split.name))\(count) ", style))
            left.append(HeaderPiece(" ", CellStyle(.header)))
        }
        if hidden > 0 { left.append(HeaderPiece("+\(hidden) ", CellStyle(.headerDim))) }
        // A large split still being scanned: its tab comes when it is ready.
        for name in loaded.pendingSplits {
            left.append(HeaderPiece(" \(clean(name)) indexing… ", CellStyle(.headerDim)))
            left.append(HeaderPiece(" ", CellStyle(.header)))
        }

        var right: [HeaderPiece] = []
        // Which model ranks the results (none without search).
        if detail.model != .none, let text = modelText(short: detail.model == .short) {
            right.append(HeaderPiece(text + " ", CellStyle(.headerDim)))
        }
        if let split = state.split {
            var parts: [String] = []
            if detail.kindCounts {
                let counts = loaded.kindCounts[state.splitIndex]
                parts.append("\(counts.single) single · \(counts.multi) multi")
            }
            let warn = split.missingImages > 0 || !split.issues.isEmpty
            if !split.imagesCounted {
                parts.append(detail.shortWarnings ? "images…" : "counting images…")
            } else if split.missingImages > 0 {
                parts.append(detail.shortWarnings ? "\(split.missingImages) missing" : plural(split.missingImages, "missing image"))
            }
            if !split.issues.isEmpty {
                parts.append(detail.shortWarnings ? "\(split.issues.count) malformed" : plural(split.issues.count, "malformed line"))
            }
            if !parts.isEmpty {
                right.append(HeaderPiece(parts.joined(separator: " · ") + " ", CellStyle(warn ? .header : .headerDim, bold: warn)))
            }
        }
        return (left, right)
    }
}

extension Canvas {
    /// "model: finetune-1/best (step 400)"; when `short`, without the step and with a long name
    /// cut at its start ("model: …0104-141300/best"); with "→ other…" while the gallery is
    /// re-indexed with another. Nil when there is no search.
    func modelText(short: Bool) -> String? {
        if case .unavailable = state.retrieval.engine { return nil }
        let model = state.training.model
        let ellipsis = unicode ? "…" : "~"
        func name(_ e: ModelEntry) -> String {
            short ? DisplayWidth.truncateLeading(clean(e.name), to: HeaderDetail.shortModelWidth, ellipsis: ellipsis) : clean(e.name)
        }
        var text = "model: " + (short ? name(model.current) : clean(model.current.label))
        if let next = model.switching { text += (unicode ? " → " : " -> ") + name(next) + ellipsis }
        return text
    }
}

/// A run of text in the header, with its style.
struct HeaderPiece: Equatable {
    var text: String
    var style: CellStyle
    init(_ text: String, _ style: CellStyle) { self.text = text; self.style = style }

    static func width(_ pieces: [HeaderPiece]) -> Int { pieces.reduce(0) { $0 + DisplayWidth.of($1.text) } }

    /// The pieces cut to `columns`, the last one kept ending in "…".
    static func truncate(_ pieces: [HeaderPiece], to columns: Int) -> [HeaderPiece] {
        var out: [HeaderPiece] = []
        var used = 0
        for p in pieces {
            let w = DisplayWidth.of(p.text)
            if used + w <= columns { out.append(p); used += w; continue }
            let cut = DisplayWidth.truncate(p.text, to: columns - used)
            if !cut.isEmpty { out.append(HeaderPiece(cut, p.style)) }
            break
        }
        return out
    }
}

/// How much the header says; `steps` lower it one notch at a time, least useful detail first.
struct HeaderDetail {
    enum DatasetName { case full, short, none }
    enum ModelName { case full, short, none }
    enum Counts: Int, Comparable {
        case none, compact, exact
        static func < (a: Counts, b: Counts) -> Bool { a.rawValue < b.rawValue }
    }

    /// The fewest columns a shortened dataset name is shown in (fewer: it is left out).
    static let shortNameWidth = 8

    /// Columns a model's name is cut to when `model` is `.short`.
    static let shortModelWidth = 18

    /// Columns the dataset's name is cut to when `dataset` is `.short`.
    var nameWidth = 0

    var brand = true
    var dataset = DatasetName.full
    /// The dataset's format after its name.
    var format = true
    /// Sample counts in the split tabs (the active tab keeps at least the compact form).
    var counts = Counts.exact
    /// The other splits' tabs; without them, "+N" says how many there are.
    var otherTabs = true
    /// "22 single · 0 multi" at the right end.
    var kindCounts = true
    /// "1 missing" rather than "1 missing image".
    var shortWarnings = false
    /// "model: finetune-1/best (step 400)", "model: finetune-1/best" or nothing, at the right end.
    var model = ModelName.full

    static let steps: [@Sendable (inout HeaderDetail) -> Void] = [
        { $0.format = false },
        { $0.kindCounts = false },
        { $0.counts = .compact },
        { $0.dataset = .short },
        { $0.model = .short },
        { $0.shortWarnings = true },
        { $0.dataset = .none },
        { $0.counts = .none },
        { $0.otherTabs = false },
        { $0.brand = false },
        { $0.model = .none },
    ]

    /// A count in at most four columns: 999, 1.2k, 12k, 123k, 1.2M, 12M.
    static func compact(_ n: Int) -> String {
        func scaled(_ unit: Int, _ suffix: String) -> String {
            let tenths = n * 10 / unit
            return tenths < 100 ? "\(tenths / 10).\(tenths % 10)\(suffix)" : "\(n / unit)\(suffix)"
        }
        if n < 1000 { return String(n) }
        if n < 1_000_000 { return scaled(1000, "k") }
        return scaled(1_000_000, "M")
    }
}
