import Explorer
import Foundation
import Testing

@Suite("In-memory terminal back end")
struct MemoryBackendTests {
    @Test func sizeCapabilitiesAndFrames() {
        let caps = TerminalCapabilities(colorMode: .ansi16, unicode: false, mouse: false)
        let backend = MemoryBackend(width: 40, height: 12, capabilities: caps)
        #expect(backend.size.width == 40 && backend.size.height == 12)
        #expect(backend.capabilities == caps)
        #expect(backend.lastFrame == nil)

        var frame = Frame(width: 40, height: 12)
        frame.put("hello", x: 1, y: 1, style: CellStyle(.title))
        backend.draw(frame, theme: ThemeLibrary.builtinFallback)
        frame.put("world", x: 1, y: 2, style: CellStyle(.text))
        backend.draw(frame, theme: ThemeLibrary.builtinFallback)
        #expect(backend.frames.count == 2)
        #expect(backend.lastFrame?.textLines()[2].hasPrefix(" world") == true)
        #expect(backend.lastTheme == ThemeLibrary.builtinFallback)
        backend.clearFrames()
        #expect(backend.frames.isEmpty)

        backend.shutdown()
        backend.shutdown()
        #expect(backend.shutdownCount == 2)
    }

    @Test func scriptedBatchesComeOutInOrder() {
        let backend = MemoryBackend(width: 10, height: 5)
        backend.enqueue([.key(.char("a")), .key(.char("b"))])
        backend.type(.down, .enter)
        backend.resize(width: 20, height: 8)
        #expect(backend.pendingBatches == 4)
        #expect(backend.waitForEvents(timeoutMilliseconds: 0) == [.key(.char("a")), .key(.char("b"))])
        #expect(backend.waitForEvents(timeoutMilliseconds: 0) == [.key(.down)])
        #expect(backend.waitForEvents(timeoutMilliseconds: 0) == [.key(.enter)])
        #expect(backend.waitForEvents(timeoutMilliseconds: 0) == [.resize(width: 20, height: 8)])
        #expect(backend.size.width == 20 && backend.size.height == 8)
        #expect(backend.waitForEvents(timeoutMilliseconds: 0) == [])
        #expect(backend.waitCount == 5)

        backend.type(text: "hé")
        #expect(backend.waitForEvents(timeoutMilliseconds: 0) == [.key(.char("h"))])
        #expect(backend.waitForEvents(timeoutMilliseconds: 0) == [.key(.char("é"))])
    }

    @Test func emptyScriptWaitsForTheTimeout() {
        let backend = MemoryBackend(width: 10, height: 5, idleLimitMilliseconds: 50)
        let start = Date()
        #expect(backend.waitForEvents(timeoutMilliseconds: 30) == [])
        #expect(Date().timeIntervalSince(start) >= 0.025)
        // An endless wait is cut at the idle limit.
        #expect(backend.waitForEvents(timeoutMilliseconds: -1) == [])
        #expect(Date().timeIntervalSince(start) >= 0.07)
    }

    @Test func wakeFromAnotherThread() async {
        let backend = MemoryBackend(width: 10, height: 5, idleLimitMilliseconds: 5_000)
        let waker = Thread { usleep(20_000); backend.wake() }
        waker.start()
        let start = Date()
        #expect(backend.waitForEvents(timeoutMilliseconds: -1) == [.wake])
        #expect(Date().timeIntervalSince(start) < 4)
        // A wake joins the next scripted batch.
        backend.enqueue([.key(.tab)])
        backend.wake()
        #expect(backend.waitForEvents(timeoutMilliseconds: 0) == [.key(.tab), .wake])
    }
}
