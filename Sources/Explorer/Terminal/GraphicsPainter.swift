import Imaging

// Draws a frame's pictures (`Frame.pictures`) with real pixels: kitty graphics, sixel or iTerm2
// inline images (issue 16).
//
// The painter turns each frame's pictures into the bytes that draw them, and remembers what the
// terminal already shows, so that a picture that has not changed costs nothing. It never does
// I/O: `plan` returns the rows curses must repaint and the bytes to write after curses has
// updated the screen; the back end does both.
//
// The two families of protocols keep pixels differently:
// - kitty images live in a layer of their own above the text. An image is transmitted once
//   (stored under an id, `a=t`) and then placed (`a=p`); placing it again with the same placement
//   id moves it, and deleting the placement (`d=i`) keeps the data, so a picture that comes back
//   is placed again without re-sending pixels. At most `maxKittyImages` images are kept in the
//   terminal; beyond that the least recently shown is freed (`d=I`).
// - sixel and iTerm2 pixels are written into the cells: text written over a cell wipes its
//   pixels, and nothing but text removes them. So a picture that goes away (or moves) is removed
//   by having curses repaint its rows in full (`GraphicsPlan.repaintRows`), which also wipes every
//   other picture on those rows, and those are drawn again.
//
// Encoded pictures are cached by (key, size in cells, tint or not, protocol, compact) in an LRU
// bounded by bytes: fitting and encoding (sixel dithered: ~23 ms for 430x360 pixels) happen once
// per picture and size, not once per frame.
//
// Nothing derived from data reaches the bytes: picture keys are compared, never written; the
// output holds only cursor moves, numbers Vitrine chose (ids, sizes) and encoder output.

/// How a `GraphicsPainter` draws.
public struct GraphicsPainterOptions: Sendable, Equatable {
    /// `.kitty`, `.sixel` or `.iterm`; with any other value the painter draws nothing.
    public var protocolKind: GraphicsProtocol
    /// A cell's size in pixels: pictures are fitted to `rect.width * cellSize.width` by
    /// `rect.height * cellSize.height` pixels.
    public var cellSize: CellPixelSize
    /// Inside tmux: wrap kitty and iTerm2 sequences for tmux's passthrough (`GraphicsPassthrough`);
    /// sixel is never wrapped (tmux draws sixel itself).
    public var tmuxPassthrough: Bool
    /// The padding colour of `GraphicsFrame.fitting(.contain)`.
    public var background: RGB
    /// A slow link or an SSH guest: kitty and iTerm2 send PNG (kitty `f=100`) and sixel is not
    /// dithered (fewer, longer runs). Otherwise kitty sends raw RGB (`f=24`, the fastest to
    /// encode) and sixel is dithered.
    public var compact: Bool
    /// kitty image ids are allocated upward from here (0x5674_0001: "Vt" in the high half, so
    /// Vitrine's ids do not collide with another program's small ones).
    public var firstImageID: UInt32
    /// kitty: at most this many images are kept in the terminal (transmitted, placed or not).
    public var maxKittyImages: Int
    /// The encoded-picture cache's limit in bytes.
    public var cacheByteLimit: Int

    public static let defaultFirstImageID: UInt32 = 0x5674_0001

    public init(protocolKind: GraphicsProtocol, cellSize: CellPixelSize, tmuxPassthrough: Bool = false,
                background: RGB = RGB(0, 0, 0), compact: Bool = false,
                firstImageID: UInt32 = GraphicsPainterOptions.defaultFirstImageID,
                maxKittyImages: Int = 32, cacheByteLimit: Int = 48 << 20) {
        self.protocolKind = protocolKind
        self.cellSize = cellSize
        self.tmuxPassthrough = tmuxPassthrough
        self.background = background
        self.compact = compact
        self.firstImageID = firstImageID
        self.maxKittyImages = maxKittyImages
        self.cacheByteLimit = cacheByteLimit
    }
}

/// What to do for one frame's pictures.
public struct GraphicsPlan: Sendable, Equatable {
    /// Screen rows (0-based) that curses must repaint in full before `output` is written, because
    /// a sixel or iTerm2 picture that was there went away or moved (text overwrites their pixels;
    /// kitty images live in their own layer and never need this). Sorted, without repeats.
    public var repaintRows: [Int]
    /// Bytes to write after curses has updated the screen. Every picture is wrapped in
    /// save-cursor / move / ... / restore-cursor (`GraphicsCursor.save`, `moveTo(row:column:)`,
    /// `restore`).
    public var output: [UInt8]
    /// Pictures that could not be drawn (where, and why), for a status line; their cells stay
    /// blank. Never contains a picture's key.
    public var failures: [String]

    public init(repaintRows: [Int] = [], output: [UInt8] = [], failures: [String] = []) {
        self.repaintRows = repaintRows; self.output = output; self.failures = failures
    }
}

/// Counters for tests and reports (since the painter was made).
public struct GraphicsPainterStats: Sendable, Equatable {
    /// `plan` calls.
    public var plans = 0
    /// Pictures fitted and encoded (cache misses), failures included.
    public var encoded = 0
    /// Encodings taken from the cache.
    public var cacheHits = 0
    /// Pictures written to an output (transmitted, placed or drawn).
    public var picturesDrawn = 0
    /// Bytes returned by `plan` and `clearAll`.
    public var bytesWritten = 0
    /// kitty images transmitted (`a=t`).
    public var kittyTransmits = 0
    /// kitty placements (`a=p`), after a transmit or not.
    public var kittyPlacements = 0
    /// kitty placements of an image the terminal already held (moved, or shown again): no pixels sent.
    public var kittyReplacements = 0
    /// kitty placements deleted with the image kept (`d=i`).
    public var kittyPlacementDeletes = 0
    /// kitty images freed (`d=I`).
    public var kittyImageFrees = 0

    public init() {}
}

/// Turns each frame's pictures into the bytes that draw them (see the top of this file).
/// Not thread-safe: the UI thread owns it.
public final class GraphicsPainter {
    public private(set) var options: GraphicsPainterOptions
    public private(set) var stats = GraphicsPainterStats()

    public init(options: GraphicsPainterOptions) {
        self.options = options
        nextImageID = Self.firstID(options)
    }

    // MARK: - Identities

    /// What a picture shows, at what size: one encoding, one kitty image.
    struct Content: Hashable {
        var key: String
        var columns: Int
        var rows: Int
        var tinted: Bool
    }

    /// A picture at a place on the screen.
    struct Shown: Hashable {
        var content: Content
        var x: Int
        var y: Int
        var rows: Range<Int> { y..<(y + content.rows) }
    }

    struct CacheKey: Hashable {
        var content: Content
        var protocolKind: GraphicsProtocol
        var compact: Bool
    }

    enum Encoded {
        /// kitty: the transmit commands (one per chunk) for image `id`, and the frame's size in cells.
        /// The view fits each rectangle to its picture's aspect, so the frame normally fills the
        /// rectangle; when it comes out smaller it is placed at the rectangle's origin at its own
        /// size (`c=`/`r=` are the frame's cells, never stretched).
        case kitty(commands: [[UInt8]], id: UInt32, columns: Int, rows: Int)
        /// sixel or iTerm2: the one sequence that draws the picture at the cursor.
        case inline([UInt8])
        case failed(String)

        var cost: Int {
            switch self {
            case .kitty(let commands, _, _, _): return commands.reduce(64) { $0 + $1.count + 16 }
            case .inline(let bytes): return bytes.count + 64
            case .failed(let message): return message.utf8.count + 64
            }
        }
    }

    // MARK: - State

    private struct CacheEntry {
        var value: Encoded
        var cost: Int
        var lastUse: UInt64
    }
    private var cache: [CacheKey: CacheEntry] = [:]
    private var cacheBytes = 0
    /// The kitty ids held by cache entries (an entry keeps its id, so a cached image is sent again
    /// under the id its commands carry).
    private var cacheIDs: Set<UInt32> = []
    private var clock: UInt64 = 0

    /// kitty: an image the terminal holds.
    private struct Held {
        var id: UInt32
        var columns: Int
        var rows: Int
        var lastShown: UInt64
    }
    private var held: [Content: Held] = [:]
    /// kitty: one placement of an image (placement id `placement`).
    private struct PlacementKey: Hashable {
        var content: Content
        var placement: UInt32
    }
    /// kitty: where each placement is (its top-left cell).
    private var placed: [PlacementKey: Shown] = [:]
    private var nextImageID: UInt32

    /// sixel / iTerm2: the pictures of the last plan that were valid (drawn or failed to encode).
    private var attempted: Set<Shown> = []
    /// sixel / iTerm2: the pictures on the screen.
    private var drawn: Set<Shown> = []
    /// sixel / iTerm2: the encoding failures of the last plan, reported again while nothing changes.
    private var lastEncodeFailures: [String] = []

    // MARK: - Planning

    /// The repaint rows and bytes that bring the screen from what the last plan left to `pictures`.
    ///
    /// - Parameters:
    ///   - screenCleared: the terminal may have dropped everything (first frame, resize, theme
    ///     change, after a suspend): held kitty images are freed and every picture is drawn anew.
    ///   - frameWidth: the screen's width in columns, when known: a picture past it is refused.
    ///   - frameHeight: the screen's height in rows: a picture below it is refused, and a sixel or
    ///     iTerm2 picture on its last row too (drawing there could scroll the screen).
    ///   - touched: the columns curses updated in this frame, by row (from the first changed cell
    ///     to the last): a sixel or iTerm2 picture that overlaps them is drawn again (curses may
    ///     have rewritten its blank cells rather than moved past them).
    public func plan(_ pictures: [Picture], screenCleared: Bool, frameWidth: Int? = nil, frameHeight: Int,
                     touched: [Int: ClosedRange<Int>] = [:]) -> GraphicsPlan {
        stats.plans += 1
        clock &+= 1
        var plan: GraphicsPlan
        switch options.protocolKind {
        case .kitty:
            plan = planKitty(pictures, screenCleared: screenCleared, frameWidth: frameWidth, frameHeight: frameHeight)
        case .sixel, .iterm:
            plan = planInline(pictures, screenCleared: screenCleared, frameWidth: frameWidth, frameHeight: frameHeight,
                              touched: touched)
        case .blocks, .ascii:
            plan = GraphicsPlan()
        }
        stats.bytesWritten += plan.output.count
        return plan
    }

    /// Bytes that remove every picture Vitrine put on the screen and free the terminal's copies:
    /// for kitty, a delete with `d=I` for each image id still held; for sixel and iTerm2, nothing
    /// (the caller repaints the screen or leaves the alternate screen). After it the painter
    /// knows nothing of the screen, as if new (the next plan draws every picture); encodings stay
    /// cached, since they depend only on the pictures.
    public func clearAll() -> [UInt8] {
        let bytes = crashCleanup
        stats.kittyImageFrees += held.count
        stats.bytesWritten += bytes.count
        held = [:]
        placed = [:]
        attempted = []
        drawn = []
        lastEncodeFailures = []
        return bytes
    }

    /// What `clearAll` would write now, without changing anything: for the crash path
    /// (`vt_guard_set_cleanup`), refreshed after each plan.
    public var crashCleanup: [UInt8] {
        guard options.protocolKind == .kitty else { return [] }
        var out: [UInt8] = []
        for id in held.values.map(\.id).sorted() { out += kitty(deleteImage(id)) }
        return out
    }

    /// The kitty image ids the terminal holds now, ascending.
    public var heldImageIDs: [UInt32] { held.values.map(\.id).sorted() }

    /// Changes the options. Returns `clearAll()`'s bytes: the caller writes them, repaints the
    /// screen and passes `screenCleared: true` to the next plan. Encodings made with another cell
    /// size or background are dropped.
    public func reconfigure(_ newOptions: GraphicsPainterOptions) -> [UInt8] {
        let bytes = clearAll()
        if newOptions.cellSize != options.cellSize || newOptions.background != options.background {
            cache = [:]
            cacheBytes = 0
            cacheIDs = []
        }
        if newOptions.firstImageID != options.firstImageID { nextImageID = Self.firstID(newOptions) }
        options = newOptions
        trimCache()
        return bytes
    }

    // MARK: - Validation

    /// A picture that can be drawn: nil and a reason in `failures` otherwise.
    private func validate(_ p: Picture, frameWidth: Int?, frameHeight: Int, inline: Bool,
                          failures: inout [String]) -> Shown? {
        let r = p.rect
        let place = "picture at column \(r.x), row \(r.y) (\(r.width)x\(r.height) cells)"
        if r.width <= 0 || r.height <= 0 {
            failures.append("\(place): the rectangle is empty")
            return nil
        }
        if r.x < 0 || r.y < 0 || r.maxY > frameHeight || (frameWidth.map { r.maxX > $0 } ?? false) {
            failures.append("\(place): outside the screen (\(frameWidth.map { "\($0) columns, " } ?? "")\(frameHeight) rows)")
            return nil
        }
        if inline && r.maxY >= frameHeight {
            let name = options.protocolKind == .sixel ? "a sixel image" : "an iTerm2 image"
            failures.append("\(place): reaches the last row, where \(name) could scroll the screen")
            return nil
        }
        return Shown(content: Content(key: p.key, columns: r.width, rows: r.height, tinted: p.tint != nil), x: r.x, y: r.y)
    }

    // MARK: - kitty

    private func planKitty(_ pictures: [Picture], screenCleared: Bool, frameWidth: Int?, frameHeight: Int) -> GraphicsPlan {
        var out: [UInt8] = []
        var failures: [String] = []
        if screenCleared {
            for id in heldImageIDs { out += kitty(deleteImage(id)) }
            stats.kittyImageFrees += held.count
            held = [:]
            placed = [:]
        }
        // The placements of this frame: the n-th picture with one content gets placement id n.
        var current: [(key: PlacementKey, shown: Shown, picture: Picture)] = []
        var occurrences: [Content: UInt32] = [:]
        for p in pictures {
            guard let shown = validate(p, frameWidth: frameWidth, frameHeight: frameHeight, inline: false, failures: &failures) else { continue }
            let n = (occurrences[shown.content] ?? 0) + 1
            occurrences[shown.content] = n
            current.append((PlacementKey(content: shown.content, placement: n), shown, p))
        }
        let currentKeys = Set(current.map(\.key))
        // Placements that went away: deleted, the image kept.
        let gone = placed.keys.filter { !currentKeys.contains($0) }
            .sorted { ($0.content.key, $0.content.columns, $0.content.rows, $0.placement) < ($1.content.key, $1.content.columns, $1.content.rows, $1.placement) }
        for key in gone {
            placed[key] = nil
            guard let image = held[key.content] else { continue }
            out += kitty(deletePlacement(image.id, key.placement))
            stats.kittyPlacementDeletes += 1
        }
        // Every image of this frame counts as shown now (before any eviction below).
        for entry in current { held[entry.key.content]?.lastShown = clock }
        for entry in current {
            let shown = entry.shown
            if let image = held[shown.content] {
                if placed[entry.key] == shown { continue }
                // Moved, or shown again: placed only (the same placement id replaces the old one).
                out += GraphicsCursor.save + GraphicsCursor.moveTo(row: shown.y, column: shown.x)
                out += kitty(place(image.id, columns: image.columns, rows: image.rows, placement: entry.key.placement))
                out += GraphicsCursor.restore
                placed[entry.key] = shown
                stats.kittyPlacements += 1
                stats.kittyReplacements += 1
                stats.picturesDrawn += 1
                continue
            }
            let encoded = encoding(entry.picture, content: shown.content)
            guard case .kitty(let commands, let id, let columns, let rows) = encoded else {
                if case .failed(let message) = encoded { failures.append(failureText(shown, message)) }
                continue
            }
            out += evictForTransmit()
            out += GraphicsCursor.save + GraphicsCursor.moveTo(row: shown.y, column: shown.x)
            out += options.tmuxPassthrough ? GraphicsPassthrough.tmux(sequences: commands) : commands.flatMap { $0 }
            out += kitty(place(id, columns: columns, rows: rows, placement: entry.key.placement))
            out += GraphicsCursor.restore
            held[shown.content] = Held(id: id, columns: columns, rows: rows, lastShown: clock)
            placed[entry.key] = shown
            stats.kittyTransmits += 1
            stats.kittyPlacements += 1
            stats.picturesDrawn += 1
        }
        return GraphicsPlan(repaintRows: [], output: out, failures: failures)
    }

    /// Frees the least recently shown image not shown in this frame while the terminal holds
    /// `maxKittyImages` or more (a frame with more pictures than that keeps them all).
    private func evictForTransmit() -> [UInt8] {
        var out: [UInt8] = []
        while held.count >= max(1, options.maxKittyImages) {
            let candidates = held.filter { $0.value.lastShown != clock }
            guard let victim = candidates.min(by: { ($0.value.lastShown, $0.value.id) < ($1.value.lastShown, $1.value.id) }) else { break }
            out += kitty(deleteImage(victim.value.id))
            stats.kittyImageFrees += 1
            held[victim.key] = nil
            for key in placed.keys where key.content == victim.key { placed[key] = nil }
        }
        return out
    }

    /// A kitty sequence, wrapped for tmux when asked. Only the APC strings are wrapped: the
    /// cursor moves and save/restore around them are written to tmux itself, which moves its own
    /// cursor (in the pane) and, in turn, the outer terminal's before it forwards the passthrough;
    /// a move wrapped in the passthrough would address the outer terminal's whole screen, not the
    /// pane. The same holds for iTerm2.
    private func kitty(_ sequence: [UInt8]) -> [UInt8] {
        options.tmuxPassthrough ? GraphicsPassthrough.tmux(sequence) : sequence
    }

    // The encoders only throw for ids of 0 and out-of-range sizes, which the painter never makes
    // (ids are allocated from 1 up, sizes come from a successful encoding); an empty result would
    // then only lose that one command.
    private func deleteImage(_ id: UInt32) -> [UInt8] { (try? KittyGraphics.deleteImage(id: id)) ?? [] }
    private func deletePlacement(_ id: UInt32, _ placement: UInt32) -> [UInt8] {
        (try? KittyGraphics.deletePlacements(id: id, placementID: placement)) ?? []
    }
    private func place(_ id: UInt32, columns: Int, rows: Int, placement: UInt32) -> [UInt8] {
        (try? KittyGraphics.place(id: id, .init(columns: columns, rows: rows, placementID: placement))) ?? []
    }

    private static func firstID(_ options: GraphicsPainterOptions) -> UInt32 { max(1, options.firstImageID) }

    /// A kitty image id no held image and no cached encoding uses; nil only if every id is taken.
    private func allocateImageID() -> UInt32? {
        let taken = Set(held.values.map(\.id)).union(cacheIDs)
        for _ in 0...(taken.count + 1) {
            let candidate = nextImageID
            // Wraps to the first id (in practice ids never run out: 2^32 - 0x5674_0001 of them).
            nextImageID = nextImageID == UInt32.max ? Self.firstID(options) : nextImageID + 1
            if candidate != 0 && !taken.contains(candidate) { return candidate }
        }
        return nil
    }

    // MARK: - sixel and iTerm2

    private func planInline(_ pictures: [Picture], screenCleared: Bool, frameWidth: Int?, frameHeight: Int,
                            touched: [Int: ClosedRange<Int>]) -> GraphicsPlan {
        var failures: [String] = []
        var current: [(shown: Shown, picture: Picture)] = []
        var seen: Set<Shown> = []
        for p in pictures {
            guard let shown = validate(p, frameWidth: frameWidth, frameHeight: frameHeight, inline: true, failures: &failures) else { continue }
            // The same picture twice at one place is drawn once.
            if seen.insert(shown).inserted { current.append((shown, p)) }
        }
        // Curses may rewrite blank cells between changed ones on a row it updates (when that is
        // cheaper than moving the cursor), wiping a picture there: those pictures are drawn again.
        let overlapsTouched = { (s: Shown) in
            s.rows.contains { row in touched[row].map { $0.overlaps(s.x...(s.x + s.content.columns - 1)) } ?? false }
        }
        if !screenCleared && seen == attempted && !drawn.contains(where: overlapsTouched) {
            return GraphicsPlan(repaintRows: [], output: [], failures: failures + lastEncodeFailures)
        }
        var repaint = Set<Int>()
        if !screenCleared {
            for old in drawn where !seen.contains(old) {
                for row in old.rows where row < frameHeight { repaint.insert(row) }
            }
        }
        var out: [UInt8] = []
        var nowDrawn: Set<Shown> = []
        var encodeFailures: [String] = []
        for (shown, picture) in current {
            let needed = screenCleared || !drawn.contains(shown) || shown.rows.contains(where: repaint.contains) || overlapsTouched(shown)
            if !needed {
                nowDrawn.insert(shown)
                continue
            }
            switch encoding(picture, content: shown.content) {
            case .inline(let bytes):
                out += GraphicsCursor.save + GraphicsCursor.moveTo(row: shown.y, column: shown.x)
                out += options.protocolKind == .iterm && options.tmuxPassthrough ? GraphicsPassthrough.tmux(bytes) : bytes
                out += GraphicsCursor.restore
                nowDrawn.insert(shown)
                stats.picturesDrawn += 1
            case .failed(let message):
                encodeFailures.append(failureText(shown, message))
            case .kitty:
                break
            }
        }
        attempted = seen
        drawn = nowDrawn
        lastEncodeFailures = encodeFailures
        return GraphicsPlan(repaintRows: repaint.sorted(), output: out, failures: failures + encodeFailures)
    }

    // MARK: - Encoding and the cache

    private func failureText(_ shown: Shown, _ message: String) -> String {
        "picture at column \(shown.x), row \(shown.y) (\(shown.content.columns)x\(shown.content.rows) cells): \(message)"
    }

    /// The picture's encoding for the current protocol, from the cache or made now.
    private func encoding(_ picture: Picture, content: Content) -> Encoded {
        let key = CacheKey(content: content, protocolKind: options.protocolKind, compact: options.compact)
        if var entry = cache[key] {
            entry.lastUse = clock
            cache[key] = entry
            stats.cacheHits += 1
            return entry.value
        }
        stats.encoded += 1
        let value = encode(picture)
        let entry = CacheEntry(value: value, cost: value.cost, lastUse: clock)
        if entry.cost <= options.cacheByteLimit {
            cache[key] = entry
            cacheBytes += entry.cost
            if case .kitty(_, let id, _, _) = value { cacheIDs.insert(id) }
            trimCache(keeping: key)
        }
        return value
    }

    private func encode(_ picture: Picture) -> Encoded {
        var source = picture.source
        if let tint = picture.tint { source = Self.tinted(source, tint) }
        do throws(GraphicsError) {
            let frame = try GraphicsFrame.fitting(source, columns: picture.rect.width, rows: picture.rect.height,
                                                  cellSize: options.cellSize, fit: .contain(background: options.background))
            switch options.protocolKind {
            case .kitty:
                guard let id = allocateImageID() else { return .failed("kitty: no free image id") }
                let commands = try KittyGraphics.transmitCommands(frame.image, id: id, format: options.compact ? .png : .rgb)
                return .kitty(commands: commands, id: id, columns: frame.columns, rows: frame.rows)
            case .sixel:
                return .inline(try Sixel.encode(frame, options: SixelOptions(maxColors: 256, dither: !options.compact)))
            case .iterm:
                return .inline(try ITermInline.encode(frame))
            case .blocks, .ascii:
                return .failed("\(options.protocolKind.rawValue) does not draw pixels")
            }
        } catch {
            return .failed(error.description)
        }
    }

    /// Drops least recently used entries until the cache fits its limit (never `keeping`).
    private func trimCache(keeping: CacheKey? = nil) {
        guard cacheBytes > options.cacheByteLimit else { return }
        let order = cache.filter { $0.key != keeping }.sorted { $0.value.lastUse < $1.value.lastUse }
        for (key, entry) in order {
            if cacheBytes <= options.cacheByteLimit { break }
            cache[key] = nil
            cacheBytes -= entry.cost
            if case .kitty(_, let id, _, _) = entry.value { cacheIDs.remove(id) }
        }
    }

    /// `image` with the attention map drawn over every pixel, as `AttentionCells` draws it over
    /// half-block cells: dimmed where the map is weak, warm where it is strong. The map covers the
    /// whole image (the letterboxed square the model saw). An unusable map leaves the image as is.
    static func tinted(_ image: RGBImage, _ tint: AttentionTint) -> RGBImage {
        let side = tint.side
        guard side > 0, tint.map.count == side * side, image.width > 0, image.height > 0 else { return image }
        let scale = AttentionCells.peakScale(tint.map)
        let w = image.width, h = image.height
        var out = image
        for y in 0..<h {
            for x in 0..<w {
                let weight = AttentionCells.weight(tint.map, side: side, scale: scale, x: x, y: y, width: w, height: h)
                out[x, y] = AttentionCells.tint(image[x, y], weight)
            }
        }
        return out
    }
}
