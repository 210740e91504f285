import Capture
import Foundation
import Testing

/// safetensors reading and writing: round trips, float16 rounding, and every malformed input.
@Suite struct SafetensorsTests {
    // MARK: Round trips

    /// Floats whose bit patterns a careless writer could alter: signed zeros, infinities,
    /// subnormals, NaNs with payloads, extremes.
    static let awkwardFloats: [Float] = [
        0, -0.0, 1, -1, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNormalMagnitude,
        .greatestFiniteMagnitude, Float(bitPattern: 0x7FC0_1234), Float(bitPattern: 0xFFA0_0001), .pi, 1e-30, 3.4e38,
    ]

    @Test func f32RoundTripsBitForBit() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        var rng = SafetensorsTestRandom(seed: 7)
        let big = (0 ..< 3 * 1000 * 7).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        let tensors = [
            SafetensorsTensor(name: "z.weight", shape: [3, 1000, 7], values: big),
            SafetensorsTensor(name: "a.special", shape: [2, 7], values: Self.awkwardFloats),
            SafetensorsTensor(name: "m.scalar", shape: [], values: [42.5]),
            SafetensorsTensor(name: "m.empty", shape: [0, 3], values: []),
        ]
        let metadata = ["config": "{\"hidden\": 384}", "step": "12", "quote\"and\\back": "line\nbreak\ttab\u{1}é"]
        let path = folder.file("model.safetensors")
        try SafetensorsFile.write(path: path, tensors: tensors, dtype: .f32, metadata: metadata)

        let file = try SafetensorsFile.read(path: path)
        #expect(file.metadata == metadata)
        #expect(file.names == ["a.special", "m.empty", "m.scalar", "z.weight"])
        for tensor in tensors {
            let entry = try #require(file.entry(tensor.name))
            #expect(entry.dtype == .f32 && entry.shape == tensor.shape)
            let values = try file.tensor(tensor.name, shape: tensor.shape)
            #expect(values.map(\.bitPattern) == tensor.values.map(\.bitPattern), "\(tensor.name) changed")
        }
        let (shape, values) = try file.tensor("m.scalar")
        #expect(shape == [] && values == [42.5])

        // copyTensor fills a caller's buffer with the same values.
        var copy = [Float](repeating: 0, count: big.count)
        try copy.withUnsafeMutableBufferPointer { try file.copyTensor("z.weight", shape: [3, 1000, 7], into: $0) }
        #expect(copy.map(\.bitPattern) == big.map(\.bitPattern))

        // Writing the same thing again gives the same bytes, with the data 8-byte aligned.
        let again = folder.file("again.safetensors")
        try SafetensorsFile.write(path: again, tensors: tensors.reversed(), dtype: .f32, metadata: metadata)
        let first = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(first == (try Data(contentsOf: URL(fileURLWithPath: again))))
        let headerLength = first.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        #expect(first.count == 8 + headerLength + 4 * (big.count + Self.awkwardFloats.count + 1))
    }

    @Test func f16RoundsToNearestEven() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let ulp: Float = 1.0 / 1024  // float16's spacing in [1, 2)
        let values: [Float] = [
            1 + ulp / 2,        // a tie between 1 (even) and 1 + ulp (odd): 1
            1 + 3 * ulp / 2,    // a tie between 1 + ulp (odd) and 1 + 2 ulp (even): 1 + 2 ulp
            1 + ulp / 2 + 1e-7, // just above the tie: 1 + ulp
            65504, 65520, 1e6, -1e6,      // largest finite; first value rounding to infinity; overflow
            5.960_464_5e-8, 2e-8, 3e-8,   // smallest subnormal 2^-24; below half of it: 0; above: 2^-24
            0, -0.0, .infinity, .nan,
        ]
        let expected: [Float] = [1, 1 + 2 * ulp, 1 + ulp, 65504, .infinity, .infinity, -.infinity,
                                 5.960_464_5e-8, 0, 5.960_464_5e-8, 0, -0.0, .infinity, .nan]
        var rng = SafetensorsTestRandom(seed: 11)
        let random = (0 ..< 5000).map { _ in Float(Double(rng.next() % 2_000_001) / 1000 - 1000) }
        let path = folder.file("half.safetensors")
        try SafetensorsFile.write(path: path, tensors: [
            SafetensorsTensor(name: "edges", shape: [values.count], values: values),
            SafetensorsTensor(name: "random", shape: [50, 100], values: random),
        ], dtype: .f16)
        let file = try SafetensorsFile.read(path: path)
        #expect(file.entry("edges")?.dtype == .f16)
        let edges = try file.tensor("edges", shape: [values.count])
        for (got, want) in zip(edges, expected) {
            if want.isNaN { #expect(got.isNaN) } else { #expect(got.bitPattern == want.bitPattern, "\(got) != \(want)") }
        }
        let back = try file.tensor("random", shape: [50, 100])
        for (original, read) in zip(random, back) {
            // Within half a float16 ulp: |error| <= 2^-11 * 2^exponent.
            #expect(abs(original - read) <= max(abs(original), 6.1e-5) * 0x1p-11)
        }
    }

    @Test func bf16AndPerTensorDTypes() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("mixed.safetensors")
        let values: [Float] = [1, 1.00390625, 1.005859375, 3.14159, -2.5e-3, 1e38]
        try SafetensorsFile.write(path: path, tensors: [
            SafetensorsTensor(name: "brain", shape: [6], values: values, dtype: .bf16),
            SafetensorsTensor(name: "exact", shape: [6], values: values),
        ], dtype: .f32)
        let file = try SafetensorsFile.read(path: path)
        #expect(file.entry("brain")?.dtype == .bf16 && file.entry("exact")?.dtype == .f32)
        let brain = try file.tensor("brain", shape: [6])
        // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even, so 1; 1 + 1.5 * 2^-8 rounds up.
        #expect(brain[0] == 1 && brain[1] == 1 && brain[2] == 1.0078125)
        for (original, read) in zip(values, brain) { #expect(abs(original - read) <= abs(original) * 0x1p-8) }
        #expect(try file.tensor("exact", shape: [6]) == values)
    }

    @Test func atomicWriteReplacesAndFailedWriteKeepsTheOldFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("ckpt.safetensors")
        try SafetensorsFile.write(path: path, tensors: [SafetensorsTensor(name: "w", shape: [2], values: [1, 2])])
        try SafetensorsFile.write(path: path, tensors: [SafetensorsTensor(name: "w", shape: [3], values: [3, 4, 5])])
        #expect(try SafetensorsFile.read(path: path).tensor("w", shape: [3]) == [3, 4, 5])

        #expect(throws: SafetensorsError.self) {
            try SafetensorsFile.write(path: path, tensors: [SafetensorsTensor(name: "w", shape: [4], values: [1])])
        }
        #expect(try SafetensorsFile.read(path: path).tensor("w", shape: [3]) == [3, 4, 5])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["ckpt.safetensors"],
                "no temporary file may be left behind")
    }

    // MARK: Bad input: every case a clear error, no crash

    /// Builds a file from a header string and data bytes (header length from the header unless given).
    static func raw(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        let n = declaredLength ?? UInt64(h.count)
        return (0 ..< 8).map { UInt8(truncatingIfNeeded: n >> (8 * UInt64($0))) } + h + data
    }

    static func kind(of bytes: [UInt8], in folder: TemporaryFolder) throws -> (SafetensorsError.Kind, String) {
        let path = try folder.write(bytes, to: "bad.safetensors")
        do {
            _ = try SafetensorsFile.read(path: path)
        } catch {
            #expect(error.path == path)
            return (error.kind, error.description)
        }
        Issue.record("a malformed file was accepted")
        return (.unreadable("accepted"), "")
    }

    @Test func filesThatAreNotSafetensors() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("five bytes", [1, 2, 3, 4, 5]),
            ("a PNG", png),
            ("text", Array("hello, this is a text file, not a checkpoint\n".utf8)),
            ("header not an object", Self.raw("[1, 2, 3]")),
            ("header length 1", Self.raw("{", declaredLength: 1)),
        ]
        for (label, bytes) in cases {
            let (kind, message) = try Self.kind(of: bytes, in: folder)
            guard case .notSafetensors = kind else { Issue.record("\(label): \(kind)"); continue }
            #expect(message.contains("is not a safetensors file"), "\(label): \(message)")
        }
    }

    @Test func truncatedFiles() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let good = folder.file("good.safetensors")
        try SafetensorsFile.write(path: good, tensors: [SafetensorsTensor(name: "w", shape: [64], values: Array(repeating: 1, count: 64))])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        for cut in [1, 4, 255, bytes.count - 20, bytes.count - 8] {
            let (kind, message) = try Self.kind(of: Array(bytes.prefix(bytes.count - cut)), in: folder)
            if bytes.count - cut < 8 {
                guard case .notSafetensors = kind else { Issue.record("cut \(cut): \(kind)"); continue }
            } else {
                guard case .truncated(let expected, let actual) = kind else { Issue.record("cut \(cut): \(kind)"); continue }
                #expect(actual == bytes.count - cut && expected > actual)
                #expect(message.contains("truncated"))
            }
        }
    }

    @Test func corruptOrInconsistentHeaders() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [(String, [UInt8], String)] = [
            ("broken JSON", Self.raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", data: eight), "corrupt"),
            ("not UTF-8", Self.raw("{\"w\u{0}\": 1}").enumerated().map { $0.offset >= 8 && $0.element == 0 ? 0xFF : $0.element }, "corrupt"),
            ("metadata not strings", Self.raw("{\"__metadata__\": {\"step\": 3}}"), "__metadata__"),
            ("entry not an object", Self.raw("{\"w\": 5}"), "\"w\""),
            ("missing shape", Self.raw("{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 8]}}", data: eight), "\"w\""),
            ("unknown dtype", Self.raw("{\"w\": {\"dtype\": \"F31\", \"shape\": [2], \"data_offsets\": [0, 8]}}", data: eight), "F31"),
            ("shape vs bytes", Self.raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", data: eight), "needs 12 bytes"),
            ("fractional dimension", Self.raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 8]}}", data: eight), "\"w\""),
            ("negative dimension", Self.raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}", data: eight), "negative"),
            ("overflowing shape", Self.raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 8]}}", data: eight), "overflows"),
            ("reversed offsets", Self.raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 0]}}", data: eight), "increasing"),
            ("three offsets", Self.raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8, 9]}}", data: eight), "[begin, end]"),
            ("overlap", Self.raw("{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}, "
                + "\"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", data: eight), "overlap"),
            ("gap", Self.raw("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", data: eight), "unused"),
            ("trailing bytes", Self.raw("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", data: eight), "belong to no tensor"),
            ("huge header length", Self.raw("{}", declaredLength: 1 << 40), "header length"),
        ]
        for (label, bytes, fragment) in cases {
            let (_, message) = try Self.kind(of: bytes, in: folder)
            #expect(message.contains(fragment), "\(label): \(message)")
        }
        // Out-of-range offsets: the data the header promises is not there.
        let (kind, _) = try Self.kind(of: Self.raw("{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", data: eight), in: folder)
        #expect(kind == .truncated(expectedBytes: 8 + 62 + 16, actualBytes: 8 + 62 + 8))
    }

    @Test func lookupsNameTheTensorAndWhatWasExpected() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        // An I64 tensor written by hand next to an F32 one.
        let header = "{\"ids\": {\"dtype\": \"I64\", \"shape\": [2], \"data_offsets\": [0, 16]}, "
            + "\"w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [16, 32]}}"
        let path = try folder.write(Self.raw(header, data: [UInt8](repeating: 0, count: 32)), to: "m.safetensors")
        let file = try SafetensorsFile.read(path: path)
        #expect(file.names == ["ids", "w"] && file.contains("w") && !file.contains("v"))
        #expect(file.entry("ids")?.dtype == .i64 && file.entry("ids")?.elementCount == 2)
        #expect(try file.tensor("w", shape: [2, 2]) == [0, 0, 0, 0])

        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        let missing = message { _ = try file.tensor("encoder.layer.9.output.dense.weight", shape: [384, 1536]) }
        #expect(missing.contains("no tensor \"encoder.layer.9.output.dense.weight\"") && missing.contains("[384, 1536]"), "\(missing)")
        let shape = message { _ = try file.tensor("w", shape: [4]) }
        #expect(shape.contains("\"w\" has shape [2, 2], expected [4]"), "\(shape)")
        let dtype = message { _ = try file.tensor("ids", shape: [2]) }
        #expect(dtype.contains("\"ids\" has dtype I64"), "\(dtype)")
        #expect(throws: SafetensorsError(path: path, kind: .missingTensor(tensor: "v", expectedShape: nil))) {
            _ = try file.tensor("v")
        }
    }

    @Test func unreadableAndUnwritablePaths() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for path in [folder.file("absent.safetensors"), folder.path] {
            do {
                _ = try SafetensorsFile.read(path: path)
                Issue.record("read \(path)")
            } catch {
                guard case .unreadable = error.kind else { Issue.record("\(error)"); continue }
                #expect(error.description.hasPrefix("cannot read \(path)"))
            }
        }
        let inMissingFolder = folder.file("no/such/folder/x.safetensors")
        #expect(throws: SafetensorsError.self) {
            try SafetensorsFile.write(path: inMissingFolder, tensors: [SafetensorsTensor(name: "w", shape: [1], values: [1])])
        }
    }

    @Test func writeRejectsInconsistentTensors() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let path = folder.file("w.safetensors")
        let cases: [([SafetensorsTensor], SafetensorsDType, String)] = [
            ([SafetensorsTensor(name: "w", shape: [2, 3], values: [1, 2])], .f32, "has 2 values but shape [2, 3] needs 6"),
            ([SafetensorsTensor(name: "w", shape: [1], values: [1]), SafetensorsTensor(name: "w", shape: [1], values: [2])], .f32, "appears twice"),
            ([SafetensorsTensor(name: "__metadata__", shape: [1], values: [1])], .f32, "reserved"),
            ([SafetensorsTensor(name: "", shape: [1], values: [1])], .f32, "empty name"),
            ([SafetensorsTensor(name: "w", shape: [-1], values: [])], .f32, "invalid shape"),
            ([SafetensorsTensor(name: "w", shape: [1], values: [1])], .i64, "cannot be written as I64"),
        ]
        for (tensors, dtype, fragment) in cases {
            do {
                try SafetensorsFile.write(path: path, tensors: tensors, dtype: dtype)
                Issue.record("wrote \(tensors.map(\.name))")
            } catch {
                #expect(error.description.contains(fragment), "\(error)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}

/// A tiny deterministic generator for test data.
struct SafetensorsTestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
