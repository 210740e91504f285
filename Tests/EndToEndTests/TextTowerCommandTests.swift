import Foundation
import Testing

/// `--text-tower` from the command line: new models take e5 unless told otherwise, a checkpoint
/// records its tower and keeps it (`--init-from`, `--resume`, `embed --model`), and a
/// contradicting `--text-tower` is an error, never ignored.
@Suite(.serialized) struct TextTowerCommandTests {
    static let fixture = TrainCheckpointKillTests.fixture
    static let environment = ["VITRINE_CACHE": fixture.cache]

    static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        try TrainCheckpointKillTests.run(arguments, environment: environment)
    }

    /// The `config` object of a checkpoint's metadata (the safetensors header, read directly).
    static func config(ofCheckpoint path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< 8 + length)) as? [String: Any])
        let metadata = try #require(header["__metadata__"] as? [String: String])
        let config = try #require(metadata["config"])
        return try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
    }

    static func train(_ extra: [String], out: String) throws -> (status: Int32, out: String, err: String) {
        try run(["train", "--preset", "tiny", "--mode", "finetune", "--data", fixture.data, "--out", out, "--steps", "2",
                 "--checkpoint-every", "1", "--eval-every", "0", "--no-flags", "--json"] + extra)
    }

    @Test func newModelsTakeE5AndCheckpointsKeepTheirTower() throws {
        let root = NSTemporaryDirectory() + "vitrine-tower-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Default: e5, its pruned word table, its length.
        let e5 = try Self.train([], out: root + "/e5")
        #expect(e5.status == 0, "\(e5.err)")
        let e5Config = try Self.config(ofCheckpoint: root + "/e5/best.safetensors")
        #expect(e5Config["textTower"] as? String == "e5")
        #expect(e5Config["vocabSize"] as? Int == 139_096)
        // MiniLM when asked.
        let mini = try Self.train(["--text-tower", "minilm"], out: root + "/minilm")
        #expect(mini.status == 0, "\(mini.err)")
        let miniConfig = try Self.config(ofCheckpoint: root + "/minilm/best.safetensors")
        #expect(miniConfig["textTower"] as? String == "minilm" && miniConfig["vocabSize"] as? Int == 30_522)

        // A checkpoint's tower wins; contradicting it is an error naming both.
        let contradiction = try Self.run(["train", "--preset", "small", "--data", Self.fixture.data, "--out", root + "/x",
                                          "--init-from", root + "/e5/best.safetensors", "--text-tower", "minilm", "--steps", "1"])
        #expect(contradiction.status != 0)
        #expect(contradiction.err.contains("--text-tower minilm") && contradiction.err.contains("e5"), "\(contradiction.err)")
        // Resuming keeps the run's tower without being told.
        let resumed = try Self.run(["train", "--preset", "tiny", "--mode", "finetune", "--data", Self.fixture.data,
                                    "--resume", root + "/minilm", "--steps", "3", "--eval-every", "0", "--no-flags", "--json"])
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect(resumed.out.contains("\"startStep\":2"), "\(resumed.out)")

        // embed --model reads with the checkpoint's tokenizer: WordPiece ids for MiniLM, pieces for e5.
        let miniEmbed = try Self.run(["embed", "--model", root + "/minilm/best.safetensors", "--caption", "face cream", "--json"])
        #expect(miniEmbed.status == 0, "\(miniEmbed.err)")
        let miniOut = try #require(try JSONSerialization.jsonObject(with: Data(miniEmbed.out.utf8)) as? [String: Any])
        #expect(miniOut["tokens"] as? [Int] == [101, 2227, 6949, 102] && miniOut["piece_ids"] == nil)
        #expect((miniOut["z_t"] as? [Double])?.count == 16)
        let e5Embed = try Self.run(["embed", "--model", root + "/e5/best.safetensors", "--caption", "face cream", "--json"])
        #expect(e5Embed.status == 0, "\(e5Embed.err)")
        let e5Out = try #require(try JSONSerialization.jsonObject(with: Data(e5Embed.out.utf8)) as? [String: Any])
        #expect(e5Out["piece_ids"] as? [Int] == [0, 41, 1294, 12, 2577, 24709, 2])
        let wrongTower = try Self.run(["embed", "--model", root + "/e5/best.safetensors", "--caption", "x", "--text-tower", "minilm"])
        #expect(wrongTower.status != 0 && wrongTower.err.contains("--text-tower"))

        // query: --text-tower chooses the zero-shot system's tower only.
        let query = try Self.run(["query", "face cream", "--data", Self.fixture.data, "--model", root + "/e5/best.safetensors",
                                  "--text-tower", "e5"])
        #expect(query.status != 0 && query.err.contains("--text-tower"))
    }
}
