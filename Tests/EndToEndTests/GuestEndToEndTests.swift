import Foundation
import Testing

/// `vitrine explore --guest` in a real terminal, with the release binary on SampleData: a guest
/// searches, cannot flag, train, review or read a file outside the dataset, writes no file anywhere
/// (its home and the host's caches are unchanged), is told when search is not prepared, and is
/// warned and then let go when idle.
@Suite(.serialized) struct GuestEndToEndTests {
    /// Every file under `folder`, with its size, sorted.
    static func listing(_ folder: String) -> [String] {
        let fm = FileManager.default
        return ((fm.enumerator(atPath: folder)?.allObjects as? [String]) ?? []).compactMap { path -> String? in
            let attributes = try? fm.attributesOfItem(atPath: folder + "/" + path)
            guard attributes?[.type] as? FileAttributeType == .typeRegular else { return nil }
            return path + " " + String(describing: attributes?[.size] ?? "?")
        }.sorted()
    }

    @Test func aGuestSearchesAndChangesNothing() throws {
        let weights = RetrievalEndToEndTests.weights
        try #require(FileManager.default.fileExists(atPath: weights), "the towers are missing: run `make weights` (looked in \(weights))")
        let shared = RetrievalEndToEndTests.cache
        // The host prepares the index (quick when it is there), and the guest reads a copy of it:
        // other suites write features into the shared cache while this one runs.
        #expect(try Tmux.spawnAndWait(["/usr/bin/env", "VITRINE_CACHE=" + shared, "VITRINE_WEIGHTS=" + weights, ExplorerEndToEndTests.binary,
                                       "index", "--data", ExplorerEndToEndTests.sampleData], stdout: "/dev/null", stderr: "/dev/null") == 0)
        let cache = NSTemporaryDirectory() + "vitrine-guest-cache-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: cache) }
        try FileManager.default.copyItem(atPath: shared + "/index", toPath: cache + "/index")
        let t = try Tmux(width: 120, height: 36, environment: ["VITRINE_CACHE": cache, "VITRINE_WEIGHTS": weights])
        let cacheBefore = Self.listing(cache)
        try t.type("\(Tmux.quote(ExplorerEndToEndTests.binary)) explore --guest --data \(Tmux.quote(ExplorerEndToEndTests.sampleData)); echo \"EXIT:$?\"")
        try t.keys("Enter")
        _ = try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") }
        // The footer offers what a guest can do, and nothing else.
        var screen = try t.waitFor("search open", timeout: 120) { !$0.contains("opening search") && !$0.contains("indexing") }
        let footer = screen.split(separator: "\n").last.map(String.init) ?? ""
        #expect(footer.contains("search") && !footer.contains("review") && !footer.contains("train"), "\(footer)")
        for key in ["t", "R", "E", "D", "C", "M"] {
            try t.keys(key)
            screen = try t.waitFor("\(key) refused", timeout: 10) { $0.contains("not for guests") }
            #expect(!screen.contains("Train a model") && !screen.contains("review ·") && !screen.contains("official metrics"))
        }
        // A search with a sample; the flag keys do nothing but say why.
        try t.keys("Enter")
        screen = try t.waitFor("results", timeout: 60) { $0.contains("results ·") && $0.contains("model zero-shot") }
        try t.keys("f")
        _ = try t.waitFor("f refused", timeout: 10) { $0.contains("not for guests") }
        // An image file outside the dataset is refused.
        try t.keys("s")
        try t.type("image:/etc/hostname")
        try t.keys("Enter")
        _ = try t.waitFor("the image refused", timeout: 20) { $0.contains("dataset's own images only") }
        try t.keys("Escape")
        Thread.sleep(forTimeInterval: 0.2)
        try t.keys("q")
        _ = try t.waitFor(text: "EXIT:0", timeout: 10)
        // Nothing written: the guest's home (the work folder, HOME) holds nothing, the caches are as they were.
        #expect(Self.listing(t.workDir).isEmpty, "\(Self.listing(t.workDir))")
        #expect(Self.listing(cache) == cacheBefore)

        // A client that sends no locale (ssh without SendEnv): the guest still sees Chinese titles.
        try t.type("clear; env -u LC_ALL -u LANG -u LC_CTYPE \(Tmux.quote(ExplorerEndToEndTests.binary)) explore --guest --no-search --data \(Tmux.quote(ExplorerEndToEndTests.sampleData)); echo \"EXIT:$?\"")
        try t.keys("Enter")
        screen = try t.waitFor("the gallery list without a locale", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") && !$0.contains("EXIT:0") }
        #expect(screen.unicodeScalars.contains { (0x4E00 ... 0x9FFF).contains($0.value) }, "\(screen)")
        try t.keys("q")
        _ = try t.waitFor(text: "EXIT:0", timeout: 10)

        // An empty cache: search is not prepared, and the guest is told so (and nothing is built).
        let empty = t.workDir + "/empty-cache"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try t.type("clear; VITRINE_CACHE=\(Tmux.quote(empty)) \(Tmux.quote(ExplorerEndToEndTests.binary)) explore --guest --idle-limit 12 --data \(Tmux.quote(ExplorerEndToEndTests.sampleData)); echo \"EXIT:$?\"")
        try t.keys("Enter")
        _ = try t.waitFor("the gallery list", timeout: 20) { $0.contains("gallery ·") && $0.contains("1/") && !$0.contains("EXIT:0") }
        try t.keys("Enter")
        _ = try t.waitFor("not prepared", timeout: 60) { $0.contains("not prepared") }
        #expect(Self.listing(empty).isEmpty)
        // Idle: warned, then let go with a line that says why.
        _ = try t.waitFor("the idle warning", timeout: 20) { $0.contains("this session ends in") }
        screen = try t.waitFor(text: "EXIT:0", timeout: 20)
        #expect(screen.contains("ended after 12 s without a key"), "\(screen)")
    }
}
