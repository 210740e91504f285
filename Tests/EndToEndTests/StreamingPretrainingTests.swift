import Foundation
import Testing

/// Pretraining streams its training split: a 200,000-pair split trains within a memory bound that
/// holding each pair's backbone cells (62,720 bytes, 12.5 GB in all) could not meet, the run says
/// how long an epoch takes before it starts, and a training image that cannot be read when a batch
/// draws it is reported and skipped, not fatal.
@Suite(.serialized) struct StreamingPretrainingTests {
    /// A 200,000-pair Product1M set whose images are hard links to 64 SampleData pictures (so the
    /// feature cache holds 64 entries), and a feature cache of its own.
    static let large: (data: String, cache: String) = {
        let dir = GeneratedData.make("stream", ["--no-images", "--train", "200000", "--dev", "20", "--test", "20",
                                                "--gallery-views", "2"])
        let pictures = (try? FileManager.default.contentsOfDirectory(atPath: ExplorerEndToEndTests.sampleData + "/images"))?
            .filter { $0.hasSuffix(".jpg") }.sorted().prefix(64).map { ExplorerEndToEndTests.sampleData + "/images/" + $0 } ?? []
        precondition(pictures.count == 64, "SampleData has fewer than 64 pictures")
        try? FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        var n = 0
        for split in ["train", "dev", "test", "gallery"] {
            let text = (try? String(contentsOfFile: dir + "/product1m_\(split)_ossurl_v2.txt", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                guard let id = line.components(separatedBy: "#####").first, !id.isEmpty else { continue }
                precondition(link(pictures[n % 64], dir + "/images/\(id).jpg") == 0 || errno == EEXIST, "link failed")
                n += 1
            }
        }
        return (dir, dir + "-cache")
    }()

    static func events(_ path: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func pretrainingOnA200kSplitStaysWithinAMemoryBound() throws {
        let out = NSTemporaryDirectory() + "vitrine-stream-run-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: out + ".json") }
        let (status, kib) = try PeakMemory.kib(["/usr/bin/env", "VITRINE_CACHE=" + Self.large.cache, ExplorerEndToEndTests.binary,
                                                "train", "--data", Self.large.data, "--mode", "pretrain", "--preset", "tiny",
                                                "--steps", "3", "--batch", "8", "--out", out, "--json"], stdout: out + ".json")
        #expect(status == 0)
        let events = Self.events(out + ".json")
        let estimate = try #require(events.first { $0["event"] as? String == "estimate" })
        #expect(estimate["pairs"] as? Int == 200_000)
        #expect(estimate["stepsPerEpoch"] as? Int == 25_000)
        #expect((estimate["laterEpochSeconds"] as? Double ?? 0) > 0)
        #expect(events.contains { $0["event"] as? String == "finished" && $0["outcome"] as? String == "completed" })
        print("vitrine train --mode pretrain on 200,000 pairs: peak RSS \(kib / 1024) MiB")
        #expect(kib < 400 * 1024, "peak RSS \(kib / 1024) MiB")
    }

    @Test func aTrainingImageThatCannotBeReadIsSkipped() throws {
        let dir = GeneratedData.make("stream-small", ["--train", "16", "--dev", "6", "--test", "6", "--gallery-views", "2",
                                                      "--min-side", "64", "--max-side", "80"])
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: dir + "-run") }
        let train = try String(contentsOfFile: dir + "/product1m_train_ossurl_v2.txt", encoding: .utf8)
        let id = try #require(train.split(separator: "\n").first?.components(separatedBy: "#####").first)
        // Not a picture: the split opens (the file is there); the batch that draws it cannot read it.
        try Data("not a jpeg".utf8).write(to: URL(fileURLWithPath: dir + "/images/\(id).jpg"))
        let status = try Tmux.spawnAndWait(["/usr/bin/env", "VITRINE_CACHE=" + dir + "/cache", ExplorerEndToEndTests.binary,
                                            "train", "--data", dir, "--mode", "pretrain", "--preset", "tiny", "--steps", "4",
                                            "--batch", "8", "--out", dir + "-run", "--json"],
                                           stdout: dir + "/events", stderr: dir + "/err")
        #expect(status == 0)
        let events = Self.events(dir + "/events")
        let skipped = events.filter { $0["event"] as? String == "skipped" }
        #expect(skipped.contains { $0["id"] as? String == id && ($0["reason"] as? String ?? "").contains("train line 1") },
                "\(skipped)")
        #expect(events.contains { $0["event"] as? String == "finished" && $0["outcome"] as? String == "completed" })
        #expect(events.filter { $0["event"] as? String == "step" }.count == 4)
    }
}
