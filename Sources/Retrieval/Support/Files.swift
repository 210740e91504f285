import Foundation
import Support

/// An error reading or writing one of Retrieval's files (ranking files, metric results, vector
/// files, gallery indexes): which file, and what went wrong. Support's file error itself.
public typealias RetrievalFileError = SupportFileError

/// The largest ranking, ground-truth or metrics file read (Product1M's are a few MB).
let textFileLimit = 1 << 30

/// The whole regular file at `path` (at most `limit` bytes), or nil when it does not exist and
/// `missingIsNil`. A FIFO, a device or a folder is refused, never read.
func readWholeFile(_ path: String, kind: String = "file", limit: Int = textFileLimit, missingIsNil: Bool = false) throws -> [UInt8]? {
    try RegularFile.read(path, kind: kind, limit: limit, missingIsNil: missingIsNil)
}

/// A pointer handed to concurrent workers that only read (or write disjoint parts of) the memory
/// behind it while the owner keeps it alive.
struct SharedPointer<Pointee>: @unchecked Sendable {
    let base: UnsafePointer<Pointee>
    init(_ base: UnsafePointer<Pointee>) { self.base = base }
}

/// A mutable pointer handed to concurrent workers that write disjoint parts of the memory.
struct SharedMutablePointer<Pointee>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Pointee>
    init(_ base: UnsafeMutablePointer<Pointee>) { self.base = base }
}

/// Maps the file at `path` and reads the preamble that Vitrine's mapped files share (magic,
/// version, JSON header: `MappedFilePreamble`); `kind` names the file in messages ("gallery
/// index"), `bad` words what is wrong with it. The caller checks the rest of the layout.
func mapFile<Header: Decodable>(at path: String, magic: [UInt8], version: UInt32, kind: String,
                                bad: (String) -> RetrievalFileError,
                                header: Header.Type) throws -> (mapping: MappedFile, header: Header, headerLength: Int) {
    do {
        let preamble = try MappedFilePreamble<Header>(path: path, kind: kind, magic: magic, version: version)
        return (preamble.file, preamble.header, preamble.bodyOffset - 16)
    } catch MappedFilePreamble<Header>.Problem.bad(let reason) {
        throw bad(reason)
    } catch MappedFilePreamble<Header>.Problem.version(let found) {
        throw RetrievalFileError(path: path, message: found > version
            ? "\(kind) format version \(found) is newer than this Vitrine reads (\(version)); update Vitrine or rebuild it (`vitrine index`)"
            : "\(kind) format version \(found) is no longer read; rebuild it (`vitrine index`)")
    }
}

/// The ids block of a mapped file: `count` ids, each ended by a line feed.
func readIDLines(_ block: Slice<UnsafeRawBufferPointer>, count: Int, bad: (String) -> RetrievalFileError) throws -> [String] {
    var ids: [String] = []
    ids.reserveCapacity(count)
    var start = block.startIndex
    for i in block.indices where block[i] == 0x0A {
        ids.append(String(decoding: UnsafeRawBufferPointer(rebasing: block[start..<i]), as: UTF8.self))
        start = i + 1
    }
    guard start == block.endIndex, ids.count == count else { throw bad("it holds \(ids.count) ids for \(count) rows") }
    return ids
}
