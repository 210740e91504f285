import Catalog
import Imaging
import Retrieval

/// The zoom view (`z`): the highlighted image as large as the body allows, and beside it, for a
/// query with an image, the query image at the same scale; under each, what it is. With the
/// attention view on (`a`), the match carries its attention map.
extension Canvas {
    /// Rows under each picture for its labels: a title line and two lines of caption.
    static let zoomLabelRows = 3

    mutating func drawZoom(_ target: ZoomTarget) {
        let body = Rect(x: 0, y: layout.browser.y, width: frame.width, height: layout.browser.height)
        guard body.width >= 10, body.height >= 6 else { return }
        box(body, title: zoomTitle(target), focused: true)
        let inner = Rect(x: body.x + 2, y: body.y + 1, width: body.width - 4, height: body.height - 2)
        let imageHeight = max(1, inner.height - Self.zoomLabelRows - 1)
        let match = zoomMatchSide(target)
        guard target.sideBySide else {
            let area = Rect(x: inner.x, y: inner.y, width: inner.width, height: imageHeight)
            drawZoomPicture(match, in: area, scale: nil)
            drawZoomLabels(match, in: Rect(x: inner.x, y: area.maxY + 1, width: inner.width, height: Self.zoomLabelRows))
            return
        }
        // Two columns with a rule between them; the query on the left, as it is read.
        let gap = 3
        let half = (inner.width - gap) / 2
        let left = Rect(x: inner.x, y: inner.y, width: half, height: imageHeight)
        let right = Rect(x: inner.x + half + gap, y: inner.y, width: inner.width - half - gap, height: imageHeight)
        for y in inner.y..<inner.maxY {
            frame.put(unicode ? "│" : "|", x: inner.x + half + 1, y: y, style: CellStyle(.border))
        }
        let query = zoomQuerySide(target)
        // One scale for both: the largest at which each fits its column.
        let cell = PictureFit.cell(state.capabilities)
        var scale = Double.infinity
        for (side, area) in [(query, left), (match, right)] {
            if let image = side.image {
                scale = min(scale, PictureFit.scale(width: image.width, height: image.height,
                                                    columns: area.width, rows: area.height, cell: cell))
            }
        }
        drawZoomPicture(query, in: left, scale: scale.isFinite ? scale : nil)
        drawZoomPicture(match, in: right, scale: scale.isFinite ? scale : nil)
        drawZoomLabels(query, in: Rect(x: left.x, y: left.maxY + 1, width: left.width, height: Self.zoomLabelRows))
        drawZoomLabels(match, in: Rect(x: right.x, y: right.maxY + 1, width: right.width, height: Self.zoomLabelRows))
    }

    /// One side of the zoom view: the picture (or why there is none) and its labels.
    struct ZoomSide {
        var path: String?
        /// The image to draw, once decoded (letterboxed to a square when `tint` is set).
        var image: RGBImage?
        var tint: AttentionTint?
        /// Shown in place of the picture while there is none.
        var placeholder: (String, Role)
        var title: [(String, CellStyle)]
        var caption: String?
    }

    func zoomTitle(_ target: ZoomTarget) -> String {
        switch target {
        case .sample(let s): return "zoom · \(clean(s.id))"
        case .match(let row, _): return "zoom · match #\(row.rank) of \(state.retrieval.results.rows.count)"
        case .review(let item):
            let position = (state.review?.position ?? 0) + 1
            return "zoom · review pair \(position) of \(state.review?.items.count ?? 0)"
        }
    }

    /// The picture of `path` as the zoom view shows it, with its placeholder while there is none.
    func zoomImage(_ path: String?) -> (RGBImage?, (String, Role)) {
        guard let path else { return (nil, ("[no image]", .placeholder)) }
        switch state.images[path] {
        case .ready(let image)? where state.previewSettled: return (image, ("", .placeholder))
        case .ready?: return (nil, (unicode ? "…" : "...", .placeholder))
        case .failed(let reason)?: return (nil, ("[cannot show image] " + clean(reason), .warning))
        case .loading?, nil: return (nil, ("loading image…", .placeholder))
        }
    }

    func zoomMatchSide(_ target: ZoomTarget) -> ZoomSide {
        let path = target.matchPath(state)
        var (image, placeholder) = zoomImage(path)
        var tint: AttentionTint?
        var title: [(String, CellStyle)] = []
        var caption: String?
        if case .sample(let s) = target {
            title.append(("\(clean(s.id)) · \(s.kind.rawValue)", CellStyle(.title, bold: true)))
            if !s.labels.isEmpty { title.append((" · " + s.labels.prefix(3).map(clean).joined(separator: ", "), CellStyle(.label))) }
            caption = s.caption
        }
        if let row = target.row {
            title = matchTitle(row)
            caption = state.sample(id: row.sampleID)?.caption
            let res = state.retrieval.results
            if case .match = target, res.showAttention {
                if case .ready(let match, let summary)? = res.attention, match == row.sampleID, let decoded = image,
                   summary.side > 0, summary.map.count == summary.side * summary.side {
                    let token = res.attentionToken.flatMap { $0 < summary.tokenMaps.count ? $0 : nil }
                    let map = token.map { summary.tokenMaps[$0] } ?? summary.map
                    image = decoded.letterboxed(side: max(decoded.width, decoded.height)).image
                    tint = AttentionTint(map: map, side: summary.side)
                    let which = token.map { "attention of “\(clean(summary.tokens[$0].token))”" } ?? "attention"
                    title.append((" · " + which, CellStyle(.accent)))
                } else if image != nil {
                    title.append((" · computing attention…", CellStyle(.dim)))
                }
            }
        }
        return ZoomSide(path: path, image: image, tint: tint, placeholder: placeholder, title: title, caption: caption)
    }

    func zoomQuerySide(_ target: ZoomTarget) -> ZoomSide {
        let path = target.queryPath(state)
        let (image, placeholder) = zoomImage(path)
        var title: [(String, CellStyle)] = [("query", CellStyle(.title, bold: true))]
        var caption: String?
        switch target {
        case .match(_, .sample(let id, let mode)):
            title.append((" · \(clean(id)) · \(mode == .pair ? "image + caption" : "image")", CellStyle(.dim)))
            caption = mode == .pair ? state.sample(id: id)?.caption : nil
        case .match(_, .imageFile(let file)):
            title.append((" · image file " + clean(lastComponent(file)), CellStyle(.dim)))
        case .review(let item):
            title.append((" · \(clean(item.queryID))", CellStyle(.dim)))
            if let ap = item.queryAP { title.append((" · AP@10 \(format(ap))", CellStyle(.dim))) }
            caption = state.sample(id: item.queryID)?.caption
        default:
            break
        }
        return ZoomSide(path: path, image: image, tint: nil, placeholder: placeholder, title: title, caption: caption)
    }

    /// "#3 · id · score 0.812 · ✓ right" for a match.
    func matchTitle(_ row: ResultRow) -> [(String, CellStyle)] {
        var parts: [(String, CellStyle)] = [("#\(row.rank) · \(clean(row.sampleID))", CellStyle(.title, bold: true))]
        if let s = row.score { parts.append((" · score \(format(Double(s)))", CellStyle(.text))) }
        switch row.isRelevant {
        case true?: parts.append((" · \(rightMark) right", CellStyle(.accent, bold: true)))
        case false?: parts.append((" · \(wrongMark) wrong", CellStyle(.error, bold: true)))
        case nil: break
        }
        switch state.retrieval.flags.verdicts[row.sampleID] {
        case .wrong?: parts.append((" · \(flaggedMark) flagged", CellStyle(.warning, bold: true)))
        case .confirmed?: parts.append((" · \(confirmedMark) confirmed", CellStyle(.accent, bold: true)))
        case nil: break
        }
        return parts
    }

    /// Draws a side's picture centred in `area`: at `scale` (cell units, `PictureFit.scale`) when
    /// two pictures share one, else as large as the area allows.
    mutating func drawZoomPicture(_ side: ZoomSide, in area: Rect, scale: Double?) {
        guard let image = side.image, let path = side.path else {
            drawCentered([side.placeholder.0], in: area, role: side.placeholder.1)
            return
        }
        var rect = area
        if let scale {
            rect = PictureFit.rect(width: image.width, height: image.height, scale: scale,
                                   cell: PictureFit.cell(state.capabilities), in: area)
        }
        if let tint = side.tint {
            drawPicture(image, key: "\(path)|attention:\(tint.side):\(Self.fingerprint(tint.map))", in: rect, tint: tint)
        } else {
            drawPicture(image, key: path, in: rect)
        }
    }

    mutating func drawZoomLabels(_ side: ZoomSide, in rect: Rect) {
        guard rect.height > 0, rect.y < frame.height else { return }
        putLine(side.title, x: rect.x, y: rect.y, maxX: rect.maxX)
        guard let caption = side.caption, rect.height > 1 else { return }
        let lines = TextWrap.lines(clean(caption), width: rect.width)
        drawLines(lines.prefix(rect.height - 1).enumerated().map { i, line in
            (i == rect.height - 2 && lines.count > rect.height - 1 ? DisplayWidth.truncate(line + " …", to: rect.width) : line, CellStyle(.text))
        }, from: rect.y + 1, in: Rect(x: rect.x, y: rect.y + 1, width: rect.width, height: rect.height - 1))
    }
}
