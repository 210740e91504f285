import Catalog
import Retrieval

/// What the zoom view (`z`) shows: one image as large as the terminal allows, and for a search
/// whose query has an image (an image or image-and-caption query, an image file, a review pair)
/// the query image beside it at the same scale.
public enum ZoomTarget: Sendable, Equatable {
    /// The browser's selected sample.
    case sample(Sample)
    /// The highlighted match of the results, with the query.
    case match(ResultRow, query: RetrievalQuery)
    /// The review queue's current pair.
    case review(ReviewItem)

    /// The match of a search or review pair; nil for a sample.
    var row: ResultRow? {
        switch self {
        case .sample: return nil
        case .match(let row, _): return row
        case .review(let item): return item.row
        }
    }

    /// The image path of the highlighted picture, the match.
    func matchPath(_ state: ExplorerState) -> String? {
        switch self {
        case .sample(let s): return s.imagePath
        case .match(let row, _): return state.sample(id: row.sampleID)?.imagePath
        case .review(let item): return state.sample(id: item.row.sampleID)?.imagePath
        }
    }

    /// The query's image path, when the query has an image; nil for a caption query.
    func queryPath(_ state: ExplorerState) -> String? {
        switch self {
        case .sample: return nil
        case .match(_, let query):
            switch query {
            case .sample(let id, let mode): return mode == .caption ? nil : state.sample(id: id)?.imagePath
            case .imageFile(let path): return path
            case .caption: return nil
            }
        case .review(let item): return state.sample(id: item.queryID)?.imagePath
        }
    }

    /// Whether the query stands beside the match (the query has an image, or is a review pair).
    var sideBySide: Bool {
        switch self {
        case .sample: return false
        case .match(_, let query):
            if case .caption = query { return false }
            if case .sample(_, .caption) = query { return false }
            return true
        case .review: return true
        }
    }
}

extension ExplorerState {
    /// What `z` zooms on here; nil when nothing is selected.
    public var zoomTarget: ZoomTarget? {
        if let review {
            return review.current.map(ZoomTarget.review)
        }
        if screen == .results {
            let res = retrieval.results
            guard let row = res.selectedRow, let query = res.query else { return nil }
            return .match(row, query: query)
        }
        return selectedSample.map(ZoomTarget.sample)
    }
}

/// The actions that leave the zoom view open; any other closes it first (a dashboard, a split
/// switch or a search changes what it would show).
let zoomKeepsOpen: Set<ActionID> = [.quit, .help, .helpClose, .helpScrollUp, .helpScrollDown, .helpClick, .helpWheelUp,
                                    .helpWheelDown, .cycleTheme, .toggleLink, .cycleImages, .copyID, .zoomClose,
                                    .zoomNext, .zoomPrevious, .zoomAttention]

/// The zoom view's actions and the images key.
func performZoom(_ state: inout ExplorerState, _ id: ActionID) -> [Effect] {
    switch id {
    case .zoomOpen, .reviewZoom:
        guard state.zoomTarget != nil else {
            state.status = StatusLine("nothing to zoom: select a sample or a match first", role: .warning)
            return []
        }
        state.zoomed = true
        return requestZoomImages(&state)
    case .zoomClose:
        state.zoomed = false
        return []
    case .zoomNext, .zoomPrevious:
        let forward = id == .zoomNext
        let step: ActionID
        if state.review != nil {
            step = forward ? .reviewNext : .reviewPrevious
        } else if state.screen == .results {
            step = forward ? .resultsDown : .resultsUp
        } else {
            step = forward ? .moveDown : .moveUp
        }
        let effects = perform(&state, step)
        return effects + requestZoomImages(&state)
    case .zoomAttention:
        if state.review != nil {
            state.status = StatusLine("the review queue has no attention maps; search the pair's query to see them", role: .warning)
            return []
        }
        guard state.screen == .results else {
            state.status = StatusLine("attention is a match's: search first, then zoom on a match", role: .warning)
            return []
        }
        return perform(&state, .toggleAttention)
    case .cycleImages:
        let modes = state.capabilities.imageModes
        let current = state.capabilities.imageMode
        let next = modes[((modes.firstIndex(of: current) ?? -1) + 1) % modes.count]
        state.capabilities.images = next
        var text = "images: " + imagesDescription(next)
        if next.drawsPixels && state.capabilities.slowLink { text += "; the slow link keeps blocks (L for full detail)" }
        if modes.count == 1 { text += "; this terminal shows no other kind" }
        state.status = StatusLine(text)
        return []
    default:
        return []
    }
}

/// How a mode is named to the user.
public func imagesDescription(_ mode: GraphicsProtocol) -> String {
    switch mode {
    case .kitty: return "real pixels (kitty graphics)"
    case .sixel: return "real pixels (sixel)"
    case .iterm: return "real pixels (iTerm2 inline images)"
    case .blocks: return "half blocks"
    case .ascii: return "ASCII"
    }
}

/// Asks for the images the zoom view shows that are not decoded yet.
func requestZoomImages(_ state: inout ExplorerState) -> [Effect] {
    guard state.zoomed, let target = state.zoomTarget else { return [] }
    var effects: [Effect] = []
    for path in [target.matchPath(state), target.sideBySide ? target.queryPath(state) : nil].compactMap({ $0 })
    where state.images[path] == nil {
        state.images.set(.loading, for: path)
        effects.append(.loadImage(path: path, maxSide: state.thumbnailSide))
    }
    return effects
}
