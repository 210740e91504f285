import Foundation
import Glibc
import Support
import Testing

private func temporaryFolder() throws -> String {
    var template = Array("/tmp/vitrine-support-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    let path = try #require(made.map { String(cString: $0) })
    return path
}

@Suite struct AtomicFileTests {
    @Test func writesReplacesAndLeavesNoTemporaryFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/a.bin"
        try AtomicFile.write([1, 2, 3], to: path)
        try AtomicFile.write(text: "new", to: path)
        #expect(try RegularFile.read(path, limit: 100) == Array("new".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["a.bin"])
    }

    @Test func aFailedProducerKeepsTheOldFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/keep.txt"
        try AtomicFile.write(text: "old", to: path)
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try AtomicFile.write(to: path) { append in
                try [UInt8](repeating: 7, count: 100).withUnsafeBytes { try append($0) }
                throw Stop()
            }
        }
        #expect(try RegularFile.read(path, limit: 100) == Array("old".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["keep.txt"])
    }

    @Test func aMissingFolderIsAClearError() {
        #expect(throws: SupportFileError.self) { try AtomicFile.write(text: "x", to: "/nonexistent-vitrine/x") }
    }
}

@Suite struct RegularFileTests {
    @Test func refusesFIFOsDevicesAndFoldersAtOnce() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fifo = folder + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        for (path, word) in [(fifo, "FIFO"), ("/dev/zero", "device"), (folder, "folder")] {
            do {
                _ = try RegularFile.read(path, kind: "ranking file", limit: 1 << 20)
                Issue.record("\(path) was read")
            } catch {
                #expect(error.message.contains(word), "\(error)")
                #expect(error.message.contains("ranking file"))
            }
        }
    }

    @Test func capsWhatIsRead() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AtomicFile.write([UInt8](repeating: 65, count: 1000), to: folder + "/big")
        #expect(throws: SupportFileError.self) { _ = try RegularFile.read(folder + "/big", limit: 999) }
        #expect(try RegularFile.read(folder + "/big", limit: 1000)?.count == 1000)
        #expect(try RegularFile.read(folder + "/missing", limit: 10, missingIsNil: true) == nil)
    }
}

@Suite struct MappedFileTests {
    /// A file truncated while it is mapped reads as zeros past its new end, and says so, instead
    /// of killing the process with SIGBUS.
    @Test func truncationWhileMappedIsSurvivedAndReported() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/mapped"
        let size = 1 << 20
        try AtomicFile.write([UInt8](repeating: 0xAB, count: size), to: path)
        let file = try MappedFile(path: path, kind: "test file")
        #expect(file.bytes[size - 1] == 0xAB)
        #expect(!file.truncatedWhileMapped)
        #expect(truncate(path, 4096) == 0)
        var sum = 0
        for offset in stride(from: 0, to: size, by: 4096) { sum += Int(file.bytes[offset]) }
        #expect(sum == 0xAB)  // the first page is still the file's; the rest reads as zeros
        #expect(file.truncatedWhileMapped)
    }

    @Test func preambleRefusesHugeHeaders() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/v"
        var bytes = Array("VITRTEST".utf8)
        withUnsafeBytes(of: UInt32(1).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt32.max.littleEndian) { bytes += $0 }
        bytes += Array("{}".utf8)
        try AtomicFile.write(bytes, to: path)
        struct Header: Decodable {}
        #expect(throws: (any Error).self) {
            _ = try MappedFilePreamble<Header>(path: path, kind: "test", magic: Array("VITRTEST".utf8), version: 1)
        }
    }
}

@Suite struct FoldersTests {
    @Test func xdgRules() {
        let folders = UserFolders(environment: ["HOME": "/home/a", "XDG_CONFIG_HOME": "relative", "XDG_DATA_HOME": "/d"])
        #expect(folders.config == "/home/a/.config/vitrine")  // a relative XDG path is ignored
        #expect(folders.data == "/d/vitrine")
        #expect(folders.cache == "/home/a/.cache/vitrine")
        #expect(UserFolders(environment: ["HOME": "/h", "VITRINE_CACHE": "/c"]).cache == "/c")
    }

    @Test func installationIsFoundFromTheExecutableOnly() {
        #expect(Installation.roots(environment: [:], executable: "/src/vitrine/.build/x86_64-unknown-linux-gnu/release/vitrine")
                == ["/src/vitrine"])
        #expect(Installation.roots(environment: [:], executable: "/opt/v/.build-bench/release/vitrine") == ["/opt/v"])
        #expect(Installation.roots(environment: [:], executable: "/usr/local/bin/vitrine") == ["/usr/local/share/vitrine"])
        #expect(Installation.roots(environment: ["VITRINE_HOME": "/x"], executable: "/tmp/vitrine") == ["/x"])
        #expect(Installation.roots(environment: [:], executable: "/tmp/somewhere/vitrine").isEmpty)
    }
}

@Suite struct HashingTests {
    @Test func fnv1aKnownValues() {
        #expect(FNV1a.hash("") == 0xcbf2_9ce4_8422_2325)
        #expect(FNV1a.hash("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(FNV1a.hash("foobar") == 0x8594_4171_f739_67e8)
    }

    @Test func sha256KnownValue() {
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func slotsKeepOneValueEach() {
        let slots = Slots<Int>(count: 3)
        slots[1] = 5
        #expect(slots.values == [nil, 5, nil])
    }
}
