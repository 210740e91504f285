import Catalog
import Explorer
import Foundation
import Retrieval
import Testing

/// A retrieval service whose first search blocks until released, recording every search it
/// is asked for: shows that the UI never waits for a search and that stale ones are dropped.
final class GatedRetrieval: RetrievalService, @unchecked Sendable {
    private let condition = NSCondition()
    private var released = false
    private var _calls: [RetrievalQuery] = []
    let inner = FakeRetrieval(dataset: Fixture.dataset)

    var calls: [RetrievalQuery] { condition.lock(); defer { condition.unlock() }; return _calls }

    func release() { condition.lock(); released = true; condition.broadcast(); condition.unlock() }

    func search(_ query: RetrievalQuery, top: Int, filter: RetrievalFilter, isCancelled: () -> Bool) throws -> SearchResult {
        condition.lock()
        _calls.append(query)
        while !released { condition.wait() }
        condition.unlock()
        if isCancelled() { throw CancellationError() }
        return try inner.search(query, top: top, filter: filter, isCancelled: isCancelled)
    }

    func attention(for query: RetrievalQuery, match sampleID: String) throws -> AttentionSummary {
        try inner.attention(for: query, match: sampleID)
    }
}

/// Runs the app's loop on a thread of its own (the loop is the UI thread).
final class LoopThread: @unchecked Sendable {
    let app: ExplorerApp
    let backend: MemoryBackend
    private let done = DispatchSemaphore(value: 0)
    private(set) var exitCode: Int32?

    init(app: ExplorerApp, backend: MemoryBackend) { self.app = app; self.backend = backend }

    func start() {
        Thread.detachNewThread { [self] in
            exitCode = app.loop(backend: backend, theme: Fixture.theme, keyMap: KeyMap())
            done.signal()
        }
    }

    func join(seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }

    /// Waits until the last frame drawn satisfies `condition` (bounded).
    func waitForFrame(_ what: String, seconds: Double = 10, _ condition: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let f = backend.lastFrame, condition(f.textLines().joined(separator: "\n")) { return true }
            usleep(10_000)
        }
        Issue.record("timed out waiting for \(what); last frame:\n\(backend.lastFrame?.textLines().joined(separator: "\n") ?? "none")")
        return false
    }
}

@Suite struct ExplorerAppRetrievalTests {
    @Test func typingNeverWaitsForASearchAndStaleSearchesAreDropped() throws {
        let service = GatedRetrieval()
        let options = ExplorerOptions(dataPath: Fixture.folder, openRetrieval: { _, progress in
            progress(.started(items: 22))
            progress(.finished(items: 22, seconds: 0.01))
            return service
        })
        let backend = MemoryBackend(width: 100, height: 30, idleLimitMilliseconds: 200)
        let loop = LoopThread(app: ExplorerApp(options: options), backend: backend)
        loop.start()
        try #require(loop.waitForFrame("the browser") { $0.contains("gallery ·") })

        backend.type(.char("s"))
        backend.type(text: "first")
        backend.type(.enter)
        let deadline = Date().addingTimeInterval(10)
        while service.calls.isEmpty && Date() < deadline { usleep(5_000) }
        #expect(service.calls == [.caption("first")])

        // The first search is stuck; the UI keeps answering keys.
        for text in ["second", "third"] {
            backend.type(.char("s"), .ctrl("u"))
            backend.type(text: text)
            #expect(loop.waitForFrame("the bar to echo \(text)") { $0.contains("search › \(text)") })
            backend.type(.enter)
        }
        #expect(loop.waitForFrame("the newest query, pending") { $0.contains("caption “third”") && $0.contains("searching…") })

        service.release()
        #expect(loop.waitForFrame("the newest results") { $0.contains("caption “third”") && $0.contains("results · 22") })
        #expect(service.calls == [.caption("first"), .caption("third")], "the queued \"second\" was superseded before it started")

        backend.type(.char("q"))
        #expect(loop.join(seconds: 10))
        #expect(loop.exitCode == 0)
    }
}
