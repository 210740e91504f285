import Foundation
import Testing

/// `vitrine embed` as a script would use it: its JSON against the golden values of both text
/// towers: MiniLM's in Tests/CaptureTests/Fixtures/minilm_reference.json (sentence-transformers)
/// and e5's in e5_reference.json (e5.c's ids, a numpy float32 forward); see those files.
@Suite struct EmbedCommandTests {
    static let repository = ExplorerEndToEndTests.repository

    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let dir = NSTemporaryDirectory() + "vitrine-embed-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let status = try Tmux.spawnAndWait([ExplorerEndToEndTests.binary] + arguments, stdout: dir + "/out", stderr: dir + "/err")
        return (status, (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? "")
    }

    @Test func captionMatchesTheGoldenSentenceEmbedding() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.repository + "/Tests/CaptureTests/Fixtures/minilm_reference.json"))
        let ref = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let sentences = try #require(ref["sentences"] as? [String])
        let ids = try #require(ref["token_ids"] as? [[Int]])
        let golden = try #require(ref["text_sentence"] as? [[Double]])
        for i in [0, 2] {
            let r = try run(["embed", "--caption", sentences[i], "--text-tower", "minilm", "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            #expect(out["tokens"] as? [Int] == ids[i].filter { $0 != 0 })
            let v = try #require(out["text_sentence"] as? [Double])
            #expect(v.count == 384)
            let err = zip(v, golden[i]).map { abs($0 - $1) }.max() ?? 1
            #expect(err < 1e-4, "max difference \(err) from sentence-transformers")
        }
    }

    /// Without --text-tower, e5: `piece_ids` are e5.c's ids of "query: " + the caption, `tokens`
    /// the rows of the pruned word table, and `text_sentence` the numpy reference's embedding.
    @Test func captionUsesE5ByDefault() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.repository + "/Tests/CaptureTests/Fixtures/e5_reference.json"))
        let ref = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let entries = try #require(ref["embeddings"] as? [[String: Any]])
        for entry in [entries[0], entries[10], entries[entries.count - 1]] {
            let text = try #require(entry["text"] as? String), ids = try #require(entry["ids"] as? [Int])
            let golden = try #require(entry["numpy"] as? [Double])
            let r = try run(["embed", "--caption", text, "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let tokens = try #require(out["tokens"] as? [Int])
            let pieces = try #require(out["piece_ids"] as? [Int])
            // Within the model's 64 tokens the ids are e5.c's; a longer caption ends in </s> there.
            #expect(pieces == (ids.count <= 64 ? ids : Array(ids.prefix(63)) + [2]))
            #expect(tokens.count == pieces.count && tokens.first == 0)
            if ids.count <= 64 {
                let v = try #require(out["text_sentence"] as? [Double])
                let err = zip(v, golden).map { abs($0 - $1) }.max() ?? 1
                #expect(v.count == 384 && err < 1e-4, "max difference \(err) from the numpy forward")
            }
        }
        let wrong = try run(["embed", "--caption", "x", "--text-tower", "bert"])
        #expect(wrong.status != 0 && wrong.stderr.contains("e5") && wrong.stderr.contains("minilm"))
    }

    @Test func imageGivesThePooledBackboneFeature() throws {
        let image = Self.repository + "/Tests/CaptureTests/Fixtures/efficientnet_input.png"
        let r = try run(["embed", "--image", image, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let out = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect((out["image_pooled"] as? [Double])?.count == 320)
    }

    @Test func badInputSaysWhatIsWrong() throws {
        let none = try run(["embed"])
        #expect(none.status != 0 && none.stderr.contains("--caption"))
        let missing = try run(["embed", "--image", "/nonexistent/x.jpg"])
        #expect(missing.status != 0 && missing.stderr.contains("/nonexistent/x.jpg"))
        let notImage = try run(["embed", "--image", Self.repository + "/README.md"])
        #expect(notImage.status != 0 && notImage.stderr.contains("README.md"))
    }
}
