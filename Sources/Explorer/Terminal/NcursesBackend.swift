import CNcurses
import Foundation
import Imaging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The terminal back end: ncursesw on the real terminal.
///
/// Drawing overwrites the cells that changed since the last frame and lets
/// curses send only the difference (`wnoutrefresh` + `doupdate`); the screen
/// is cleared only after a resize. Input is read with `poll(2)` on standard
/// input and a self-pipe that carries `wake()` calls and the signals SIGINT,
/// SIGTERM, SIGHUP (reported as `.signal`) and SIGWINCH (which makes curses
/// report `.resize`). A crash (SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT,
/// SIGFPE, SIGQUIT) restores the terminal before the process dies, and an
/// `atexit` hook ends curses if `shutdown()` was not called.
///
/// Before curses starts, a terminal without `COLORTERM` is asked whether it shows 24-bit colour
/// (`TerminalColorQuery`); with 24-bit colour, the entry's colour strings are rewritten to the
/// semicolon form `ESC[38;2;R;G;Bm` (`TruecolorForm`).
///
/// Threads: everything but `wake()` must be called from one thread (the UI
/// loop); `wake()` may be called from any thread.
public final class NcursesBackend: TerminalBackend, @unchecked Sendable {
    /// What the terminal can do; `cellPixels` follows the terminal's size reports (a resize).
    public private(set) var capabilities: TerminalCapabilities
    /// How the colour mode was decided (terminfo entry, reason).
    public let colorDecision: ColorModeDecision
    /// How images are drawn, and why (`--images`, the terminal's answer).
    public let graphicsDecision: GraphicsDetection

    private var screen: OpaquePointer?
    private let window: UnsafeMutablePointer<WINDOW>
    private let pipeFD: Int32
    private var isOpen = true

    // Drawing state.
    private var resolver: StyleResolver?
    private var lastFrame: Frame?
    private var needsClear = false
    private var cursorVisible = false
    private var pairs = PairPool(limit: 0)
    private var glyphs: [wchar_t] = []
    /// Why pictures of the last frame could not be drawn.
    public private(set) var pictureFailures: [String] = []
    /// Picture bytes to write with the next frame (the deletes of a reconfigured painter).
    private var pendingPictureBytes: [UInt8] = []
    /// The columns the last `paint` changed, by row (first to last changed cell).
    private var paintedSpans: [Int: ClosedRange<Int>] = [:]
    private let paletteSize: Int
    private let directColor: Bool
    /// Drops answers to the colour and graphics queries that come after they stopped waiting.
    private var lateReplies = LateReplyFilter()
    /// Draws the frames' pictures with real pixels (nil: the terminal shows none).
    private var painter: GraphicsPainter?

    /// Opens the terminal.
    /// - Parameters:
    ///   - colorOverride: the `--color` option (nil: detect; see `ColorModeDetection`).
    ///   - mouse: report clicks and the wheel.
    ///   - images: the `--images` option: `auto` asks the terminal (`GraphicsDetection`).
    ///   - compactPictures: pictures in their smallest encodings (PNG, sixel without dithering):
    ///     a guest session over SSH.
    /// - Throws: `TerminalError` when standard input or output is not a
    ///   terminal, `TERM` is unset or unknown, or curses cannot start.
    public init(colorOverride: ColorMode?, mouse: Bool, images: ImagesOption = .auto,
                compactPictures: Bool = false) throws(TerminalError) {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { throw .notATerminal }
        guard vt_guard_is_armed() == 0 else { throw .alreadyOpen }

        // The locale decides how curses reads and writes characters: set it first.
        let unicode = DisplayWidth.prepareLocale()
        var environment: [String: String] = [:]
        for key in ["TERM", "COLORTERM", "NO_COLOR", "TMUX", TruecolorForm.environmentVariable] {
            if let value = getenv(key) { environment[key] = String(cString: value) }
        }
        // Without COLORTERM (lost over SSH), the terminal is asked, before curses takes it.
        var answer: TerminalColorAnswer?
        var decision = try ColorModeDetection.decide(
            override: colorOverride, environment: environment, probe: ColorModeDetection.probeTerminfo,
            askTerminal: {
                let a = TerminalColorQuery.ask(input: STDIN_FILENO, output: STDOUT_FILENO)
                answer = a
                return a
            })
        if case .noAnswer? = answer { lateReplies = LateReplyFilter(armedAt: Self.monotonicMilliseconds()) }
        // Then what pixels it shows, unless told (or without colour, unless told).
        var graphics = GraphicsDetection(mode: decision.colorMode == .none ? .ascii : .blocks,
                                         reason: "without colour, images are ASCII (--images to choose)")
        if decision.colorMode != .none || images != .auto {
            graphics = Self.detectGraphics(images, lateReplies: &lateReplies)
        }

        let fd = vt_pipe_open()
        guard fd >= 0 else { throw .cannotStart("pipe: \(String(cString: strerror(errno)))") }
        var stale: Int32 = 0
        _ = vt_pipe_drain(nil, 0, &stale)   // wake-ups left from an earlier screen
        vt_guard_save_modes()
        guard let screen = vt_newterm(decision.terminalName), let window = vt_stdscr() else {
            vt_pipe_close()
            throw .cannotStart("newterm(\(decision.terminalName)) failed")
        }
        self.screen = screen
        self.window = window
        self.pipeFD = fd
        if TruecolorForm.from(environment: environment) == .semicolon, Self.useSemicolonColours() {
            decision.reason += "; colours sent in the semicolon form (ESC[38;2;R;G;Bm)"
        }

        cbreak()                 // Ctrl-C still raises SIGINT
        noecho()
        nonl()
        keypad(window, true)
        nodelay(window, true)
        intrflush(window, false)
        vt_disable_flow_control()
        curs_set(0)
        vt_set_escdelay(25)

        var mode = decision.colorMode
        var palette = 16
        var direct = false
        if mode != .none {
            if has_colors() && start_color() == OK {
                use_default_colors()
                let colors = Int(vt_colors())
                direct = colors >= 1 << 24
                if mode == .ansi16 && colors < 16 { palette = 8 }
                if mode == .ansi256 && colors < 256 && !direct { mode = colors >= 8 ? .ansi16 : .none }
                if mode == .ansi16 && colors < 8 { mode = .none }
                if mode == .truecolor && !direct { mode = colors >= 256 ? .ansi256 : (colors >= 8 ? .ansi16 : .none) }
            } else {
                mode = .none
            }
        }
        paletteSize = palette
        directColor = direct
        pairs = PairPool(limit: mode == .none ? 0 : Int(vt_color_pairs()))

        var mouseOn = false
        if mouse {
            mouseOn = vt_mouse_enable() != 0
            if mouseOn { Self.reportEveryButtonEvent() }
        }
        vt_guard_arm(mouseOn ? 1 : 0)

        var caps = TerminalCapabilities(colorMode: mode, unicode: unicode, mouse: mouseOn)
        caps.images = graphics.mode
        if graphics.mode.drawsPixels, let cell = graphics.cellPixels {
            caps.pixelProtocol = graphics.mode
            caps.cellPixels = CellPixelSize(width: cell.width, height: cell.height)
            painter = GraphicsPainter(options: GraphicsPainterOptions(
                protocolKind: graphics.mode, cellSize: CellPixelSize(width: cell.width, height: cell.height),
                tmuxPassthrough: graphics.tmuxPassthrough, background: RGB(0, 0, 0), compact: compactPictures))
            // Inserting or deleting characters would shift a sixel's pixels with the text.
            vt_idcok(window, 0)
        }
        capabilities = caps
        graphicsDecision = graphics
        colorDecision = mode == decision.colorMode ? decision
            : ColorModeDecision(terminalName: decision.terminalName, colorMode: mode,
                                reason: decision.reason + "; curses offers \(vt_colors()) colours, so \(mode.rawValue)")
    }

    deinit { shutdown() }

    /// Decides how images are drawn (before curses starts): asks the terminal when `images` is
    /// `auto`, and finds a cell's size in pixels (the terminal's `CSI 16 t` answer, else
    /// `TIOCGWINSZ`, else, for a mode given with `--images`, the size queries alone). A pixel mode
    /// without a cell size assumes 10x20. A query that gave up arms `lateReplies`.
    private static func detectGraphics(_ images: ImagesOption, lateReplies: inout LateReplyFilter) -> GraphicsDetection {
        let environment = ProcessInfo.processInfo.environment
        var gaveUp = 0
        func ask(_ route: GraphicsQuery.Route) -> GraphicsAnswer {
            let answer = GraphicsQuery.ask(input: STDIN_FILENO, output: STDOUT_FILENO, route: route)
            if case .timedOut(let reply, _) = answer, !reply.sentinel { gaveUp += 1 }
            return answer
        }
        var graphics = GraphicsDetection.decide(choice: images, environment: environment,
                                                tmuxCheck: TmuxPassthrough.check, ask: ask)
        if graphics.mode.drawsPixels {
            var w: Int32 = 0, h: Int32 = 0
            if graphics.cellPixels == nil, vt_cell_pixels(STDOUT_FILENO, &w, &h) != 0 {
                graphics.cellPixels = PixelSize(width: Int(w), height: Int(h))
                graphics.reason += "; cell \(w)x\(h) pixels from the tty"
            }
            if graphics.cellPixels == nil, case .fixed = images {
                graphics.cellPixels = ask(.withoutKittyQuery).reply?.cellPixels
            }
            if let cell = graphics.cellPixels, !(1...GraphicsLimits.maxCellPixels).contains(cell.width)
                || !(1...GraphicsLimits.maxCellPixels).contains(cell.height) {
                graphics.reason += "; the reported cell of \(cell) pixels is not believable"
                graphics.cellPixels = nil
            }
            if graphics.cellPixels == nil {
                graphics.cellPixels = PixelSize(width: 10, height: 20)
                graphics.reason += "; the terminal did not tell a cell's size, 10x20 pixels assumed"
            }
        }
        for _ in 0..<gaveUp { lateReplies = lateReplies.adding(queryAt: monotonicMilliseconds()) }
        return graphics
    }

    /// Rewrites the open entry's `setaf` and `setab` from the colon form of 24-bit colours
    /// (`ESC[38:2::R:G:Bm`, what ncurses' direct-colour entries say) to the semicolon form
    /// (`ESC[38;2;R;G;Bm`), in memory: see `TruecolorForm`. Entries that already use semicolons,
    /// and entries without extended colours, are left as they are. Curses expands these strings
    /// with tparm at every colour change (lib_color.c, `set_foreground_color`), so what it sends
    /// from now on follows. True if a string was rewritten.
    private static func useSemicolonColours() -> Bool {
        var rewritten = false
        for background: Int32 in [0, 1] {
            guard let current = vt_color_string(background),
                  let semicolons = SGRColorTemplate.semicolonForm(of: String(cString: current)) else { continue }
            if vt_replace_color_string(background, semicolons) != 0 { rewritten = true }
        }
        return rewritten
    }

    public var size: (width: Int, height: Int) {
        guard isOpen else { return (0, 0) }
        var rows: Int32 = 0, cols: Int32 = 0
        vt_getmaxyx(window, &rows, &cols)
        return (Int(cols), Int(rows))
    }

    /// Widens the mouse mask to every press, release and click of buttons 1 to 5.
    ///
    /// ncurses' `wget_wch`, having read a mouse event that the mask leaves out (a button's
    /// release when only presses are asked for), does not return: it reads on, with a
    /// *blocking* read on the terminal, until an event the mask lets through arrives, whatever
    /// `nodelay` says. A click is a press and, a moment later, a release, so after every click
    /// the UI thread sat in that read until the next key or click: a thumbnail decoded in the
    /// meantime (or search results, training progress, a signal) reached the screen only then.
    /// With releases in the mask they come back as events of their own (which `keyCodeEvent`
    /// ignores), and with clicks in it a press and release read together still come back as one
    /// click (a mask of presses and releases alone would report only the release).
    /// The masks of buttons 2 to 5 are those of button 1 moved to the button's place, as
    /// ncurses' `NCURSES_MOUSE_MASK` lays them out.
    private static func reportEveryButtonEvent() {
        let unit = mmask_t(VT_BUTTON1_PRESSED)
        let released = mmask_t(VT_BUTTON1_RELEASED), clicked = mmask_t(VT_BUTTON1_CLICKED)
        var mask: mmask_t = 0
        for (pressed, clicks) in [(VT_BUTTON1_PRESSED, true), (VT_BUTTON2_PRESSED, true), (VT_BUTTON3_PRESSED, true),
                                  (VT_BUTTON4_PRESSED, false), (VT_BUTTON5_PRESSED, false)] {
            let place = mmask_t(pressed) / unit
            mask |= mmask_t(pressed) | released * place | (clicks ? clicked * place : 0)
        }
        _ = mousemask(mask, nil)
    }

    // MARK: - Drawing

    public func setClipboard(_ text: String) {
        guard isOpen else { return }
        writeAll(Clipboard.sequence(for: text))
    }

    public func draw(_ frame: Frame, theme: Theme) {
        guard isOpen else { return }
        var force = lastFrame == nil
        if resolver?.theme != theme {
            resolver = StyleResolver(theme: theme, mode: capabilities.colorMode, paletteSize: paletteSize,
                                     directColor: directColor)
            force = true
        }
        if needsClear {
            clearok(vt_curscr(), true)
            needsClear = false
            force = true
        }
        if let last = lastFrame, last.width != frame.width || last.height != frame.height { force = true }

        let (cols, rows) = size
        // Out of colour pairs: start over with an empty pool and paint everything
        // (the second time round, pairs are recycled: a screen with more distinct
        // colour pairs than the terminal has shows some cells in wrong colours).
        var repaintedAll = force
        paintedSpans.removeAll(keepingCapacity: true)
        if !paint(frame, rows: rows, cols: cols, force: force) {
            resetPairs(recycling: false)
            repaintedAll = true
            if !paint(frame, rows: rows, cols: cols, force: true) {
                resetPairs(recycling: true)
                _ = paint(frame, rows: rows, cols: cols, force: true)
            }
        }
        // Pictures: rows where a sixel or iTerm2 picture went away are repainted in full by this
        // update; the pictures themselves are written after it.
        var pictureBytes: [UInt8] = pendingPictureBytes
        pendingPictureBytes = []
        if let painter {
            // A picture's padding (a fraction of a cell) takes the theme's background.
            if painter.options.background != theme.background {
                var options = painter.options
                options.background = theme.background
                pictureBytes += painter.reconfigure(options)
                repaintedAll = true
            }
            let plan = painter.plan(frame.pictures, screenCleared: repaintedAll, frameWidth: min(frame.width, cols),
                                    frameHeight: min(frame.height, rows), touched: paintedSpans)
            for row in plan.repaintRows where row >= 0 && row < rows { _ = vt_redraw_lines(window, Int32(row), 1) }
            pictureBytes += plan.output
            pictureFailures = plan.failures
            let cleanup = painter.crashCleanup
            cleanup.withUnsafeBufferPointer { vt_guard_set_cleanup($0.baseAddress, Int32($0.count)) }
        }

        if let cursor = frame.cursor, cursor.x >= 0, cursor.y >= 0, cursor.x < cols, cursor.y < rows {
            if !cursorVisible { curs_set(1); cursorVisible = true }
            wmove(window, Int32(cursor.y), Int32(cursor.x))
        } else if cursorVisible {
            curs_set(0)
            cursorVisible = false
        }
        wnoutrefresh(window)
        doupdate()
        if !pictureBytes.isEmpty { writeAll(pictureBytes) }
        lastFrame = frame
    }

    /// After a resize: a new cell size from `TIOCGWINSZ` (the font was zoomed), when the terminal
    /// reports one; the painter starts over with it (the next frame is a full repaint).
    private func refreshCellPixels() {
        guard let painter, capabilities.cellPixels != nil else { return }
        var w: Int32 = 0, h: Int32 = 0
        guard vt_cell_pixels(STDOUT_FILENO, &w, &h) != 0, (1...GraphicsLimits.maxCellPixels).contains(Int(w)),
              (1...GraphicsLimits.maxCellPixels).contains(Int(h)) else { return }
        let cell = CellPixelSize(width: Int(w), height: Int(h))
        guard cell != capabilities.cellPixels else { return }
        capabilities.cellPixels = cell
        var options = painter.options
        options.cellSize = cell
        pendingPictureBytes += painter.reconfigure(options)
    }

    /// Writes bytes to the terminal after what curses has buffered.
    private func writeAll(_ bytes: [UInt8]) {
        // After curses has written its output, so the sequence does not land inside another.
        fflush(nil)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if n <= 0 { if errno == EINTR { continue }; return }
            written += n
        }
    }

    /// Forgets every colour pair. Redefining a pair that is on screen makes curses
    /// scan the whole screen for it, so the pool is emptied at once instead
    /// (`reset_color_pairs` also has the next update repaint the screen).
    private func resetPairs(recycling: Bool) {
        reset_color_pairs()
        pairs.reset(recycling: recycling)
    }

    /// Paints the rows that changed (all with `force`). False if the colour pairs ran out.
    private func paint(_ frame: Frame, rows: Int, cols: Int, force: Bool) -> Bool {
        guard let resolver else { return true }
        let last = force ? nil : lastFrame
        return frame.cells.withUnsafeBufferPointer { cells in
            for y in 0..<rows {
                if let last, y < frame.height, y < last.height,
                   frame.cells[y * frame.width..<(y + 1) * frame.width] == last.cells[y * last.width..<(y + 1) * last.width] {
                    continue
                }
                if painter != nil { paintedSpans[y] = Self.changedColumns(frame, last, row: y, cols: cols) }
                if !paintRow(y, cells: cells, frame: frame, cols: cols, resolver: resolver) { return false }
            }
            return true
        }
    }

    /// The columns of row `y` that differ from the last frame (all of them without one).
    private static func changedColumns(_ frame: Frame, _ last: Frame?, row y: Int, cols: Int) -> ClosedRange<Int> {
        guard let last, y < last.height, y < frame.height, last.width == frame.width, cols > 0 else { return 0...max(0, cols - 1) }
        let width = min(frame.width, cols)
        var first = -1, lastChanged = -1
        for x in 0..<width where frame[x, y] != last[x, y] {
            if first < 0 { first = x }
            lastChanged = x
        }
        return first < 0 ? 0...0 : first...lastChanged
    }

    private func paintRow(_ y: Int, cells: UnsafeBufferPointer<Cell>, frame: Frame, cols: Int, resolver: StyleResolver) -> Bool {
        let blank = Cell(text: " ", width: 1, style: CellStyle(.text))
        let rowInFrame = y < frame.height
        var runStyle: TerminalStyle?
        var runPair: Int32 = 0
        var runStart = 0
        var x = 0
        glyphs.removeAll(keepingCapacity: true)

        func flush() {
            guard let style = runStyle, !glyphs.isEmpty else { return }
            glyphs.withUnsafeBufferPointer { g in
                _ = vt_draw_run(window, Int32(y), Int32(runStart), g.baseAddress, Int32(g.count),
                                style.attributes.rawValue, runPair)
            }
            glyphs.removeAll(keepingCapacity: true)
        }

        while x < cols {
            let cell = rowInFrame && x < frame.width ? cells[y * frame.width + x] : blank
            let style = resolver.resolve(cell.style)
            if style != runStyle {
                flush()
                guard let pair = pairs.pair(fg: style.fg, bg: style.bg) else { return false }
                if pair.isNew { vt_init_pair(pair.number, style.fg, style.bg) }
                runStyle = style
                runPair = pair.number
                runStart = x
            }
            x += appendGlyph(cell, columnsLeft: cols - x)
        }
        flush()
        return true
    }

    /// Appends the characters for one cell; returns the columns they take.
    private func appendGlyph(_ cell: Cell, columnsLeft: Int) -> Int {
        let space = wchar_t(0x20)
        let unknown = wchar_t(capabilities.unicode ? 0xFFFD : 0x3F)
        // A continuation whose wide character is missing, or a wide character cut by the edge.
        if cell.width == 0 || (cell.width == 2 && columnsLeft < 2) {
            glyphs.append(space)
            return 1
        }
        var scalars = cell.text.unicodeScalars.makeIterator()
        guard let base = scalars.next() else {
            glyphs.append(space)
            if cell.width == 2 { glyphs.append(space) }
            return Int(cell.width)
        }
        var glyph = wchar_t(bitPattern: base.value)
        var width = Int(vt_wcwidth(base.value))
        if base.value < 0x20 || base.value == 0x7f || width < 1 || (!capabilities.unicode && base.value >= 0x80) {
            glyph = unknown
            width = 1
        }
        if width > Int(cell.width) {
            // Curses would take more columns than the frame gave: draw a stand-in.
            glyph = unknown
            width = 1
        }
        glyphs.append(glyph)
        if glyph != unknown, capabilities.unicode {
            // Combining marks ride on their base (curses keeps up to 4 in a cell);
            // anything that would start a new cell (e.g. inside emoji ZWJ sequences) is dropped.
            var marks = 0
            while let s = scalars.next(), marks < 4 {
                if vt_wcwidth(s.value) == 0 && s.value >= 0x300 {
                    glyphs.append(wchar_t(bitPattern: s.value))
                    marks += 1
                }
            }
        }
        // The frame gave this cell more columns than curses will use: pad.
        for _ in width..<Int(cell.width) { glyphs.append(space) }
        return Int(cell.width)
    }

    // MARK: - Input

    public func waitForEvents(timeoutMilliseconds: Int) -> [InputEvent] {
        guard isOpen else { return [] }
        let start = Self.monotonicMilliseconds()
        while true {
            var remaining = -1
            if timeoutMilliseconds >= 0 {
                remaining = max(0, timeoutMilliseconds - Int(Self.monotonicMilliseconds() - start))
            }
            var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: pipeFD, events: Int16(POLLIN), revents: 0)]
            let rc = poll(&fds, 2, Int32(clamping: remaining))
            let interrupted = rc < 0 && errno == EINTR

            var events: [InputEvent] = []
            var readKeys = interrupted || fds[0].revents & Int16(POLLIN) != 0
            if interrupted || fds[1].revents != 0 {
                let (woken, signals, resized) = drainPipe()
                if woken { events.append(.wake) }
                events += signals.map { InputEvent.signal($0) }
                if resized { readKeys = true }
            }
            if readKeys { events += readInput() }
            if events.isEmpty, fds[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                // The terminal is gone (the SSH link dropped without a SIGHUP reaching us).
                events.append(.signal(SIGHUP))
            }
            if !events.isEmpty { return events }
            if rc < 0 && !interrupted { return [] }   // poll itself failed: let the caller carry on
            if timeoutMilliseconds >= 0, Int(Self.monotonicMilliseconds() - start) >= timeoutMilliseconds { return [] }
        }
    }

    public func wake() { vt_wake() }

    private func drainPipe() -> (woken: Bool, signals: [Int32], resized: Bool) {
        var bytes = [UInt8](repeating: 0, count: 256)
        var dropped: Int32 = 0
        let n = Int(vt_pipe_drain(&bytes, Int32(bytes.count), &dropped))
        var woken = dropped > 0
        var signals: [Int32] = []
        var resized = false
        for b in bytes[0..<n] {
            switch Int32(b) {
            case 0: woken = true
            case SIGWINCH: resized = true
            case let sig where !signals.contains(sig): signals.append(sig)
            default: break
            }
        }
        return (woken, signals, resized)
    }

    /// Reads every key that is waiting (curses is in no-delay mode).
    private func readInput() -> [InputEvent] {
        var raw: [(code: Bool, value: UInt32)] = []
        var ch: UInt32 = 0
        while true {
            let rc = vt_get_wch(window, &ch)
            if rc == ERR { break }
            raw.append((rc == KEY_CODE_YES, ch))
        }
        if lateReplies.isArmed(at: Self.monotonicMilliseconds()) {
            raw = lateReplies.strip(raw, now: Self.monotonicMilliseconds())
        }
        var events: [InputEvent] = []
        var i = 0
        while i < raw.count {
            let (isCode, value) = raw[i]
            i += 1
            if isCode {
                if let event = keyCodeEvent(Int32(bitPattern: value)) {
                    // Keep only the latest size when several resizes queue up.
                    if case .resize = event, case .resize? = events.last { events.removeLast() }
                    events.append(event)
                }
                continue
            }
            if value == 27 {
                // ESC then a printable character at once: Alt+character.
                if i < raw.count, !raw[i].code, raw[i].value >= 0x20, raw[i].value != 0x7f,
                   let scalar = Unicode.Scalar(raw[i].value) {
                    events.append(.key(.alt(Character(scalar))))
                    i += 1
                } else {
                    events.append(.key(.escape))
                }
                continue
            }
            if let key = Self.characterKey(value) { events.append(.key(key)) }
        }
        return events
    }

    /// A character from get_wch as a key (nil: ignored).
    static func characterKey(_ value: UInt32) -> Key? {
        switch value {
        case 9: return .tab
        case 10, 13: return .enter
        case 8, 127: return .backspace
        case 27: return .escape
        case 1...26: return .ctrl(Character(Unicode.Scalar(UInt8(value) + 0x60)))
        case 0..<0x20, 0x80..<0xA0: return nil
        default:
            guard let scalar = Unicode.Scalar(value) else { return nil }
            return .char(Character(scalar))
        }
    }

    private func keyCodeEvent(_ code: Int32) -> InputEvent? {
        switch code {
        case KEY_UP: return .key(.up)
        case KEY_DOWN: return .key(.down)
        case KEY_LEFT: return .key(.left)
        case KEY_RIGHT: return .key(.right)
        case KEY_PPAGE, KEY_A3: return .key(.pageUp)
        case KEY_NPAGE, KEY_C3: return .key(.pageDown)
        case KEY_HOME, KEY_A1: return .key(.home)
        case KEY_END, KEY_C1, KEY_LL: return .key(.end)
        case KEY_ENTER: return .key(.enter)
        case KEY_BACKSPACE: return .key(.backspace)
        case KEY_DC: return .key(.delete)
        case KEY_IC: return .key(.insert)
        case KEY_BTAB: return .key(.backTab)
        case KEY_RESIZE:
            needsClear = true
            refreshCellPixels()
            let (w, h) = size
            return .resize(width: w, height: h)
        case KEY_MOUSE:
            var x: Int32 = 0, y: Int32 = 0
            let button: MouseButton
            switch Int(vt_mouse_read(&x, &y)) {
            case Int(VT_MOUSE_LEFT): button = .left
            case Int(VT_MOUSE_MIDDLE): button = .middle
            case Int(VT_MOUSE_RIGHT): button = .right
            case Int(VT_MOUSE_WHEEL_UP): button = .wheelUp
            case Int(VT_MOUSE_WHEEL_DOWN): button = .wheelDown
            default: return nil
            }
            return .mouse(MouseEvent(x: Int(x), y: Int(y), button: button))
        default:
            for n in 1...12 where code == vt_key_f(Int32(n)) { return .key(.function(n)) }
            return nil
        }
    }

    // MARK: - Shutdown

    public func shutdown() {
        guard isOpen else { return }
        isOpen = false
        if let painter {
            // No picture outlives the explorer: kitty's are deleted with their data; sixel and
            // iTerm2 pixels sit in the cells, which a clear wipes before the screen is left.
            let bytes = painter.clearAll()
            if !bytes.isEmpty { writeAll(bytes) }
            if painter.options.protocolKind != .kitty, lastFrame?.pictures.isEmpty == false {
                wclear(window)
                wrefresh(window)
            }
            vt_guard_set_cleanup(nil, 0)
        }
        if cursorVisible { curs_set(1) }
        endwin()
        vt_guard_disarm()
        if let screen { delscreen(screen) }
        screen = nil
        // The self-pipe stays open: another thread may still call wake(), and a
        // closed descriptor number could be reused by an unrelated file.
    }

    static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

/// Colour pairs for (fg, bg) combinations, allocated as they are first needed.
struct PairPool {
    struct Allocation { var number: Int32; var isNew: Bool }

    private var numbers: [UInt64: Int32] = [:]
    private var keys: [UInt64] = []
    private var next: Int32 = 1
    private var recycling = false
    let limit: Int32

    init(limit: Int) {
        self.limit = Int32(clamping: limit)
        keys = [UInt64](repeating: UInt64.max, count: max(1, limit))
    }

    /// The pair for (fg, bg); nil when the pool is full and not recycling.
    /// (-1, -1), the terminal's own colours, is pair 0.
    mutating func pair(fg: Int32, bg: Int32) -> Allocation? {
        if fg == -1 && bg == -1 { return Allocation(number: 0, isNew: false) }
        let key = UInt64(UInt32(bitPattern: fg)) << 32 | UInt64(UInt32(bitPattern: bg))
        if let n = numbers[key] { return Allocation(number: n, isNew: false) }
        if next >= limit {
            guard recycling, limit > 1 else { return nil }
            next = 1
        }
        let n = next
        next += 1
        let old = keys[Int(n)]
        if old != UInt64.max { numbers[old] = nil }
        keys[Int(n)] = key
        numbers[key] = n
        return Allocation(number: n, isNew: true)
    }

    mutating func reset(recycling: Bool) {
        numbers.removeAll(keepingCapacity: true)
        for i in keys.indices { keys[i] = UInt64.max }
        next = 1
        self.recycling = recycling
    }
}
