import Foundation

// A guest session (`vitrine explore --guest`, what `vitrine serve` runs for every SSH guest): the
// explorer read-only. A guest browses, filters, searches and looks at attention; nothing a guest
// does writes a file (no flags, reviews, exports or training runs; the engine opens the host's
// prepared index and stores no features), searches with an image file stay inside the dataset, and
// a session ends after a time without keys (warned first) and after an absolute limit.

/// How long a guest session may last.
public struct GuestLimits: Sendable, Equatable {
    /// Seconds without a key before the session ends, and how long before that it warns (at most
    /// a third of it).
    public var idleSeconds: Int
    public var warningSeconds: Int
    /// Seconds after which the session ends whatever happens.
    public var sessionSeconds: Int

    public init(idleSeconds: Int = 600, warningSeconds: Int = 60, sessionSeconds: Int = 3600) {
        self.idleSeconds = idleSeconds; self.warningSeconds = min(warningSeconds, idleSeconds / 3); self.sessionSeconds = sessionSeconds
    }
}

/// What the explorer keeps of a guest session.
public struct GuestState: Sendable, Equatable {
    public var limits: GuestLimits
    /// Whether the idle warning is showing.
    public var warned = false
    /// Why the session ended, said once the terminal is restored.
    public var ended: String? = nil
    public init(limits: GuestLimits) { self.limits = limits }
}

public enum GuestMode {
    /// Actions a guest does not have: everything that writes (flags, reviews, exports, training,
    /// switching models, which builds an index) and the whole-split work of the dashboard and the
    /// compare mode (which would take the host's cores from the other guests).
    public static let forbidden: Set<ActionID> = [
        .flagWrong, .flagConfirm, .flagUndo, .reviewStart, .exportList,
        .trainingOpen, .trainingPause, .trainingCancel, .modelUseNew, .modelPick,
        .dashboardStart, .compareStart,
    ]

    /// Contexts a guest never reaches (their way in is one of the forbidden actions): the help
    /// leaves them out.
    public static let unreachable: Set<ActionContext> = [.review, .dashboard, .compare, .trainingDialog, .trainingConfirm, .modelPicker]

    /// Whether the action is there in a session (every action, unless it is a guest's).
    public static func allows(_ id: ActionID, guest: Bool) -> Bool { !guest || !forbidden.contains(id) }
}

extension ExplorerState {
    /// Whether this session is a guest's.
    public var isGuest: Bool { guest != nil }

    /// Whether the action is there in this session (a guest's has fewer).
    public func allows(_ id: ActionID) -> Bool { GuestMode.allows(id, guest: isGuest) }
}

/// The guest clock (`Msg.guestClock`): a warning before the idle limit, the end at it or at the
/// session limit.
func updateGuestClock(_ state: inout ExplorerState, idleSeconds: Double, sessionSeconds: Double) -> [Effect] {
    guard var guest = state.guest else { return [] }
    let limits = guest.limits
    if sessionSeconds >= Double(limits.sessionSeconds) {
        guest.ended = "the demo session reached its limit of \(minutes(limits.sessionSeconds)); connect again to go on"
    } else if idleSeconds >= Double(limits.idleSeconds) {
        guest.ended = "the demo session ended after \(minutes(limits.idleSeconds)) without a key"
    }
    if guest.ended != nil {
        state.guest = guest
        state.quitting = true
        return [.quit(exitCode: 0)]
    }
    let left = Double(limits.idleSeconds) - idleSeconds
    if left <= Double(limits.warningSeconds) {
        guest.warned = true
        state.status = StatusLine("no key for a while: this session ends in \(Int(left.rounded(.up))) s; press any key to stay",
                                  role: .warning)
    } else if guest.warned {
        guest.warned = false
        state.status = nil
    }
    state.guest = guest
    return []
}

private func minutes(_ seconds: Int) -> String {
    seconds % 60 == 0 ? "\(seconds / 60) minute\(seconds == 60 ? "" : "s")" : "\(seconds) s"
}
