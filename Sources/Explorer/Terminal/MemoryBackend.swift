import Foundation

/// A terminal back end in memory, for tests: a fixed size and capabilities,
/// the frames drawn (with their themes), and a script of input.
///
/// Input is a queue of batches: each `waitForEvents` call returns the next
/// batch; `wake()` (from any thread) adds `.wake` to the batch being built.
/// When the script is empty, `waitForEvents` waits for a wake-up until its
/// timeout; an endless wait (-1) is cut at `idleLimitMilliseconds` so that a
/// test whose script runs out fails instead of hanging.
public final class MemoryBackend: TerminalBackend, @unchecked Sendable {
    public let capabilities: TerminalCapabilities
    public var size: (width: Int, height: Int) {
        condition.lock(); defer { condition.unlock() }
        return currentSize
    }
    /// The longest a `waitForEvents(timeoutMilliseconds: -1)` waits on an empty script.
    public var idleLimitMilliseconds: Int

    private let condition = NSCondition()
    private var currentSize: (width: Int, height: Int)
    private var batches: [[InputEvent]] = []
    private var pendingWake = false
    private var drawn: [(frame: Frame, theme: Theme)] = []
    private var shutdowns = 0
    private var clipboardWrites: [String] = []
    private var waits = 0

    public init(width: Int, height: Int,
                capabilities: TerminalCapabilities = TerminalCapabilities(colorMode: .truecolor, unicode: true, mouse: true),
                idleLimitMilliseconds: Int = 2_000) {
        self.currentSize = (width, height)
        self.capabilities = capabilities
        self.idleLimitMilliseconds = idleLimitMilliseconds
    }

    // MARK: Script

    /// Queues one batch of events (returned together by one `waitForEvents`).
    public func enqueue(_ events: [InputEvent]) {
        condition.lock(); defer { condition.unlock() }
        batches.append(events)
        condition.broadcast()
    }

    /// Queues each event as its own batch.
    public func enqueueEach(_ events: [InputEvent]) {
        for e in events { enqueue([e]) }
    }

    /// Queues key presses, one batch each.
    public func type(_ keys: Key...) { enqueueEach(keys.map { .key($0) }) }

    /// Queues the characters of `text` as key presses, one batch each.
    public func type(text: String) { enqueueEach(text.map { .key(.char($0)) }) }

    /// Changes the size and queues the `.resize` event a terminal would send.
    public func resize(width: Int, height: Int) {
        condition.lock()
        currentSize = (width, height)
        condition.unlock()
        enqueue([.resize(width: width, height: height)])
    }

    /// Batches not yet consumed.
    public var pendingBatches: Int {
        condition.lock(); defer { condition.unlock() }
        return batches.count
    }

    // MARK: What was drawn

    /// Every frame drawn, oldest first.
    public var frames: [Frame] {
        condition.lock(); defer { condition.unlock() }
        return drawn.map(\.frame)
    }

    /// The latest frame drawn.
    public var lastFrame: Frame? {
        condition.lock(); defer { condition.unlock() }
        return drawn.last?.frame
    }

    /// The theme the latest frame was drawn with.
    public var lastTheme: Theme? {
        condition.lock(); defer { condition.unlock() }
        return drawn.last?.theme
    }

    /// The texts sent to the clipboard, oldest first.
    public var clipboard: [String] {
        condition.lock(); defer { condition.unlock() }
        return clipboardWrites
    }

    public func setClipboard(_ text: String) {
        condition.lock(); defer { condition.unlock() }
        clipboardWrites.append(text)
    }

    /// How many times `shutdown()` was called.
    public var shutdownCount: Int {
        condition.lock(); defer { condition.unlock() }
        return shutdowns
    }

    /// How many times `waitForEvents` was called.
    public var waitCount: Int {
        condition.lock(); defer { condition.unlock() }
        return waits
    }

    /// Forgets the frames drawn so far (long tests keep memory small).
    public func clearFrames() {
        condition.lock(); defer { condition.unlock() }
        drawn.removeAll()
    }

    // MARK: TerminalBackend

    public func draw(_ frame: Frame, theme: Theme) {
        condition.lock(); defer { condition.unlock() }
        drawn.append((frame, theme))
    }

    public func waitForEvents(timeoutMilliseconds: Int) -> [InputEvent] {
        condition.lock(); defer { condition.unlock() }
        waits += 1
        let limit = timeoutMilliseconds < 0 ? idleLimitMilliseconds : timeoutMilliseconds
        let deadline = Date(timeIntervalSinceNow: Double(limit) / 1000)
        while batches.isEmpty && !pendingWake {
            if !condition.wait(until: deadline) { break }
        }
        var events = batches.isEmpty ? [] : batches.removeFirst()
        if pendingWake {
            pendingWake = false
            events.append(.wake)
        }
        return events
    }

    public func wake() {
        condition.lock(); defer { condition.unlock() }
        pendingWake = true
        condition.broadcast()
    }

    public func shutdown() {
        condition.lock(); defer { condition.unlock() }
        shutdowns += 1
    }
}
