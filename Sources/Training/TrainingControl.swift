import Foundation

/// Pause, resume, cancel and throttle a running `Trainer` from any thread (the explorer's UI
/// thread, a signal handler's dispatch source). The trainer looks at it between steps: a step
/// in progress always finishes.
public final class TrainingControl: @unchecked Sendable {
    private let condition = NSCondition()
    private var paused = false
    private var cancelled = false
    private var throttleFraction: Double

    /// - Parameter throttle: the initial fraction of wall time to idle between steps (0..<0.95).
    public init(throttle: Double = 0) { throttleFraction = min(max(throttle, 0), 0.95) }

    /// Stop before the next step until `resume()` (or `cancel()`).
    public func pause() { condition.lock(); paused = true; condition.unlock() }

    public func resume() {
        condition.lock(); paused = false; condition.broadcast(); condition.unlock()
    }

    /// End the run after the current step: the trainer writes a checkpoint and reports
    /// `finished` with outcome "cancelled".
    public func cancel() {
        condition.lock(); cancelled = true; condition.broadcast(); condition.unlock()
    }

    public var isPaused: Bool { condition.lock(); defer { condition.unlock() }; return paused }
    public var isCancelled: Bool { condition.lock(); defer { condition.unlock() }; return cancelled }

    /// The fraction of wall time the trainer idles between steps (0 = full speed, 0.5 = half).
    public var throttle: Double {
        get { condition.lock(); defer { condition.unlock() }; return throttleFraction }
        set { condition.lock(); throttleFraction = min(max(newValue, 0), 0.95); condition.unlock() }
    }

    /// Blocks while paused and not cancelled.
    func waitWhilePaused() {
        condition.lock()
        while paused && !cancelled { condition.wait() }
        condition.unlock()
    }

    /// Sleeps up to `seconds`, waking early on cancel.
    func idle(seconds: Double) {
        guard seconds > 0 else { return }
        condition.lock()
        if !cancelled { _ = condition.wait(until: Date(timeIntervalSinceNow: seconds)) }
        condition.unlock()
    }
}
