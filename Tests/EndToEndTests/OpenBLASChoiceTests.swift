import Foundation
import Testing

/// Vitrine runs OpenBLAS's kernels for the CPU it has: Debian's OpenBLAS 0.3.21 gives a CPU newer
/// than its tables the generic Prescott kernels (5x slower GEMMs), so Vitrine picks the family
/// from the CPU's flags and runs itself again with OPENBLAS_CORETYPE set, unless the user set it
/// or said VITRINE_OPENBLAS=keep.
@Suite struct OpenBLASChoiceTests {
    static func doctorLine(_ environment: [String]) throws -> String {
        let dir = NSTemporaryDirectory() + "vitrine-openblas-\(getpid())-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let argv = ["/usr/bin/env", "-u", "OPENBLAS_CORETYPE", "-u", "VITRINE_OPENBLAS_CHOSEN"] + environment
            + [ExplorerEndToEndTests.binary, "doctor"]
        #expect(try Tmux.spawnAndWait(argv, stdout: dir + "/out", stderr: dir + "/err") == 0)
        let out = try String(contentsOfFile: dir + "/out", encoding: .utf8)
        return try #require(out.split(separator: "\n").first { $0.hasPrefix("openblas") }.map(String.init))
    }

    static var cpuFlags: Set<String> {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let line = info.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        return Set(line.split(separator: " ").map(String.init))
    }

    @Test func theKernelsMatchTheCPU() throws {
        let flags = Self.cpuFlags
        let line = try Self.doctorLine([])
        if ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy(flags.contains) {
            #expect(["SkylakeX", "Cooperlake", "SapphireRapids"].contains { line.contains(" \($0) ") }, "\(line)")
        } else if flags.contains("avx2") && flags.contains("fma") {
            #expect(["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"].contains { line.contains(" \($0) ") }, "\(line)")
        }
        #expect(!line.contains("Prescott") || !flags.contains("avx2"), "\(line)")
    }

    @Test func theUsersChoiceIsKept() throws {
        let set = try Self.doctorLine(["OPENBLAS_CORETYPE=Haswell"])
        #expect(set.contains(" Haswell ") && set.contains("set by you"), "\(set)")
        let keep = try Self.doctorLine(["VITRINE_OPENBLAS=keep"])
        #expect(!keep.contains("chosen by Vitrine"), "\(keep)")
    }
}
