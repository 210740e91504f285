import Annotations
import Catalog

// The review queue's screen: the query on the left, the match on the right, the queue's progress
// in the left box's title and each pair's verdict (this session's, or "reviewed before").

extension Canvas {
    mutating func drawReview() {
        guard let review = state.review else { return }
        let left = layout.browser, right = layout.preview
        switch review.status {
        case .building(let done, let total):
            box(left, title: "review", focused: true)
            box(right, title: "match", focused: false)
            drawCentered(["Building the review queue…", "searching the queries of the query split: \(done) of \(total)"],
                         in: inner(left), role: .placeholder)
            return
        case .failed(let message):
            box(left, title: "review", focused: true)
            box(right, title: "match", focused: false)
            drawCentered(["The review queue could not be built:"] + TextWrap.lines(clean(message), width: max(10, left.width - 6)),
                         in: inner(left), role: .error)
            return
        case .ready:
            break
        }
        let split = review.build.map { clean($0.split) } ?? ""
        guard let item = review.current else {
            box(left, title: "review · \(review.kind.title) · \(split)", focused: true)
            box(right, title: "match", focused: false)
            let other = state.keyName(.reviewKind).map { "\($0) shows other pairs." } ?? ""
            drawCentered(["Nothing to review here.", other], in: inner(left), role: .dim)
            return
        }
        let reviewed = review.reviewedCount
        box(left, title: "review · \(review.kind.title) · \(split)", focused: true)
        let leftInner = inner(left)
        var header: [(String, CellStyle)] = [
            ("pair \(review.position + 1)/\(review.items.count)", CellStyle(.text, bold: true)),
            (" · \(reviewed) of \(review.items.count) reviewed", CellStyle(.accent, bold: true)),
            (review.pending > 0 ? " · saving…" : "", CellStyle(.dim)),
            ("  query \(clean(item.queryID))", CellStyle(.dim)),
        ]
        if let ap = item.queryAP { header.append(("  AP@10 " + format(ap), CellStyle(.accent, bold: true))) }
        putLine(header, x: leftInner.x, y: leftInner.y, maxX: leftInner.maxX)
        let queryArea = Rect(x: leftInner.x, y: leftInner.y + 2, width: leftInner.width, height: max(0, leftInner.height - 2))
        if let query = state.sample(id: item.queryID), queryArea.height > 2 {
            drawSampleDetails(query, in: queryArea)
        }

        let row = item.row
        box(right, title: (row.rank > 0 ? "match #\(row.rank) · " : "match · ") + clean(row.sampleID), focused: false)
        let rightInner = inner(right)
        var status: [(String, CellStyle)] = []
        switch row.isRelevant {
        case true?: status.append(("\(unicode ? "✓" : "+") right by the labels", CellStyle(.accent, bold: true)))
        case false?: status.append(("\(unicode ? "✗" : "x") wrong by the labels", CellStyle(.error, bold: true)))
        case nil: status.append(("no labels to check against", CellStyle(.dim)))
        }
        if let score = row.score { status.append(("  score " + format(Double(score)), CellStyle(.dim))) }
        putLine(status, x: rightInner.x, y: rightInner.y, maxX: rightInner.maxX)
        if let dispute = item.dispute {
            let verdicts = dispute.verdicts.sorted { $0.key < $1.key }.map { clean($0.key) + ": " + ($0.value == .wrong ? "wrong" : "right") }
            putLine([(verdicts.joined(separator: " · "), CellStyle(.warning, bold: true))], x: rightInner.x, y: rightInner.y + 1, maxX: rightInner.maxX)
            let ruling: (String, CellStyle)
            switch review.marks[item.pair] {
            case .verdict(let flag)?: ruling = ("you adjudicated: " + (flag.verdict == .wrong ? "wrong" : "right"), CellStyle(.accent, bold: true))
            case .skipped?, nil:
                if let a = dispute.adjudication {
                    ruling = ("adjudicated: " + (a == .wrong ? "wrong" : "right"), CellStyle(.dim))
                } else {
                    ruling = ((state.keyHints([(.reviewRight, "right"), (.reviewWrong, "wrong")]) + ["as adjudicator"]).joined(separator: " · "), CellStyle(.text))
                }
            }
            putLine([ruling], x: rightInner.x, y: rightInner.y + 2, maxX: rightInner.maxX)
            let matchArea = Rect(x: rightInner.x, y: rightInner.y + 4, width: rightInner.width, height: max(0, rightInner.height - 4))
            if let match = state.sample(id: row.sampleID), matchArea.height > 2 { drawSampleDetails(match, in: matchArea) }
            return
        }
        let mark: (String, CellStyle)
        switch review.marks[item.pair] {
        case .verdict(let flag)?:
            mark = flag.verdict == .wrong ? ("\(unicode ? "⚑" : "!") you said wrong", CellStyle(.warning, bold: true))
                                          : ("\(unicode ? "★" : "*") you said right", CellStyle(.accent, bold: true))
        case .skipped?: mark = ("skipped", CellStyle(.dim, bold: true))
        case nil:
            mark = review.isReviewed(item) ? ("reviewed before", CellStyle(.dim))
                : (state.keyHints([(.reviewRight, "right"), (.reviewWrong, "wrong"), (.reviewSkip, "skip")]).joined(separator: " · "), CellStyle(.text))
        }
        putLine([mark], x: rightInner.x, y: rightInner.y + 1, maxX: rightInner.maxX)
        let matchArea = Rect(x: rightInner.x, y: rightInner.y + 3, width: rightInner.width, height: max(0, rightInner.height - 3))
        if let match = state.sample(id: row.sampleID), matchArea.height > 2 {
            drawSampleDetails(match, in: matchArea)
        }
    }

    /// A box's inside, with a column of margin on each side.
    func inner(_ r: Rect) -> Rect { Rect(x: r.x + 2, y: r.y + 1, width: max(0, r.width - 4), height: max(0, r.height - 2)) }
}
