#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Explorer
import Foundation
import Retrieval
import Testing

/// A guest session (`vitrine explore --guest`): what a guest can and cannot do, the help and footer
/// that show only that, the idle and session limits, and the guest's retrieval service.
@Suite struct GuestModeTests {
    static func state(width: Int = 120, height: Int = 36, limits: GuestLimits = GuestLimits()) -> ExplorerState {
        var s = Driver.state(width: width, height: height)
        _ = update(&s, .start(ExplorerStart(dataPath: Fixture.folder, searchUnavailable: nil, rankingsPath: nil, annotator: "guest",
                                            flags: .notConfigured, flagsPath: nil, defaultFlagsPath: "/nowhere", runsDirectory: "/nowhere",
                                            trainingArguments: [], guest: limits)))
        let effects = update(&s, .datasetLoaded(.success(LoadedDataset(dataset: Fixture.dataset, loadSeconds: 0))))
        Driver().run(&s, effects)
        s.retrieval.engine = .ready(items: Fixture.dataset.gallery!.samples.count)
        s.status = nil
        return s
    }

    @Test func everyActionThatWritesOrTakesTheCoresIsRefusedWithAReason() {
        var s = Self.state()
        #expect(s.isGuest && s.retrieval.flags.available == false)
        for key in ["t", "R", "E", "D", "C", "M", "U"] {
            let effects = Fixture.key(&s, .char(Character(key)))
            #expect(effects.isEmpty, "\(key): \(effects)")
            #expect(s.status?.text.contains("not for guests") == true, "\(key)")
            #expect(s.training.dialog == nil && s.review == nil && s.dashboard == nil && s.compare == nil && s.training.picker == nil)
        }
        // Search works; in the results, the flag keys are refused too.
        let search = Fixture.key(&s, .enter)
        #expect(search.contains { if case .retrieval(.search) = $0 { return true }; return false })
        Driver().run(&s, search)
        for key in ["f", "c", "u"] {
            #expect(Fixture.key(&s, .char(Character(key))).isEmpty, "\(key)")
            #expect(s.status?.text.contains("not for guests") == true)
        }
        #expect(s.retrieval.flags.undoStack.isEmpty && s.retrieval.flags.pending == 0)
    }

    @Test func theHelpAndTheFooterShowOnlyWhatAGuestCanDo() {
        var s = Self.state(width: 160, height: 48)
        var footer = view(s).textLines().last ?? ""
        #expect(footer.contains("search") && !footer.contains("review") && !footer.contains("dashboard") && !footer.contains("train"), "\(footer)")
        _ = Fixture.key(&s, .char("?"))
        var help = ""
        for _ in 0 ..< 40 {
            help += view(s).textLines().joined(separator: "\n")
            _ = Fixture.key(&s, .char("j"))
        }
        #expect(help.contains("Search the gallery") && help.contains("Filter by caption"))
        for absent in ["Flag the highlighted match", "Review queue", "Evaluation dashboard", "Compare mode", "Training dialog",
                       "Write the samples the filter shows", "Choose the model that searches"] {
            #expect(!help.contains(absent), "\(absent) is not for guests")
        }
        // The host's own session has them all.
        var host = Driver.state(width: 160, height: 48)
        footer = view(host).textLines().last ?? ""
        #expect(footer.contains("review"))
        _ = Fixture.key(&host, .char("?"))
        #expect(view(host).textLines().joined().contains("Review queue"))
    }

    @Test func idleSessionsAreWarnedThenEndedAndEverySessionHasALimit() {
        var s = Self.state(limits: GuestLimits(idleSeconds: 600, warningSeconds: 60, sessionSeconds: 3600))
        #expect(update(&s, .guestClock(idleSeconds: 100, sessionSeconds: 100)).isEmpty && s.status == nil)
        #expect(update(&s, .guestClock(idleSeconds: 545, sessionSeconds: 545)).isEmpty)
        #expect(s.status?.text == "no key for a while: this session ends in 55 s; press any key to stay")
        // A key: the warning goes; the app's clock starts again from 0.
        _ = Fixture.key(&s, .char("j"))
        #expect(s.status == nil && s.guest?.warned == false)
        #expect(update(&s, .guestClock(idleSeconds: 1, sessionSeconds: 600)).isEmpty && s.status == nil)
        #expect(update(&s, .guestClock(idleSeconds: 600, sessionSeconds: 1200)) == [.quit(exitCode: 0)])
        #expect(s.quitting && s.guest?.ended == "the demo session ended after 10 minutes without a key")
        var busy = Self.state(limits: GuestLimits(idleSeconds: 600, warningSeconds: 60, sessionSeconds: 3600))
        #expect(update(&busy, .guestClock(idleSeconds: 2, sessionSeconds: 3600)) == [.quit(exitCode: 0)])
        #expect(busy.guest?.ended?.contains("reached its limit of 60 minutes") == true)
        // The warning is at most a third of the idle limit.
        #expect(GuestLimits(idleSeconds: 30, warningSeconds: 60, sessionSeconds: 60).warningSeconds == 10)
    }

    @Test func aGuestSearchesWithTheDatasetsImagesOnly() throws {
        let inner = FakeRetrieval(dataset: Fixture.dataset)
        let service = GuestRetrievalService(wrapping: inner, datasetRoot: Fixture.folder, lockPath: nil)
        let inside = Fixture.folder + "/images/100001.jpg"
        _ = try service.search(.sample(id: "200001", mode: .pair), top: 3, filter: .none, isCancelled: { false })
        _ = try service.search(.imageFile(path: inside), top: 3, filter: .none, isCancelled: { false })
        _ = try service.search(.imageFile(path: Fixture.folder + "/images/../images/100001.jpg"), top: 3, filter: .none, isCancelled: { false })
        for outside in ["/etc/hostname", Fixture.folder + "/../outside.jpg", Fixture.folder + "/images/none.jpg"] {
            #expect(throws: LoadFailure.self, "\(outside)") { try service.search(.imageFile(path: outside), top: 3, filter: .none, isCancelled: { false }) }
        }
        // A link inside the dataset to a file outside it is outside.
        let link = Fixture.folder + "/images/escape.jpg"
        try? FileManager.default.removeItem(atPath: link)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/etc/hostname")
        defer { try? FileManager.default.removeItem(atPath: link) }
        #expect(throws: LoadFailure.self) { try service.search(.imageFile(path: link), top: 3, filter: .none, isCancelled: { false }) }
        #expect(throws: LoadFailure.self) { try service.attention(for: .imageFile(path: link), match: "100001") }
    }

    @Test func guestsSearchesTakeTurnsOnTheHostsLock() throws {
        let lock = NSTemporaryDirectory() + "vitrine-guest-lock-\(getpid())"
        FileManager.default.createFile(atPath: lock, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: lock) }
        let service = GuestRetrievalService(wrapping: FakeRetrieval(dataset: Fixture.dataset), datasetRoot: Fixture.folder, lockPath: lock)
        // Another guest holds the lock: this search waits for it.
        let fd = open(lock, O_RDONLY)
        #expect(fd >= 0 && flock(fd, LOCK_EX) == 0)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = try? service.search(.caption("aurelle"), top: 3, filter: .none, isCancelled: { false })
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 0.3) == .timedOut, "the search waited for the other guest")
        flock(fd, LOCK_UN)
        close(fd)
        #expect(done.wait(timeout: .now() + 5) == .success)
        // Without the host's lock file, searches just run.
        let alone = GuestRetrievalService(wrapping: FakeRetrieval(dataset: Fixture.dataset), datasetRoot: Fixture.folder, lockPath: lock + "-none")
        #expect(try alone.search(.caption("aurelle"), top: 3, filter: .none, isCancelled: { false }).matches.count == 3)
    }
}
