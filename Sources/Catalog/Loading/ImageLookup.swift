#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

import Dispatch

/// The images of a Product1M folder: `images/<item_id>.{jpg,jpeg,png}`, extensions in any case,
/// `.jpg` preferred over `.jpeg` over `.png` when an id has several (docs/data.md §1.3).
///
/// The folder is listed once, straight from `readdir`, while the split files are scanned
/// (`list`): each name that can be an image of an id is kept as its id key and extension, 10 bytes,
/// no String. Then `match` looks the entries up in the scanned splits' id tables, on every core.
/// What comes out is one byte per sample: 0 for no image, else 1 + the index of the extension as
/// spelt on disk (there are at most 32 spellings of the three).
enum ImageCensus {
    struct Listing: Sendable {
        /// The entries' id keys, as two arrays (9 bytes an entry; `IDKey` itself takes 16).
        var keyValues: [UInt64] = []
        var keyLengths: [UInt8] = []
        /// Per entry: the index of its extension's spelling in `spellings`.
        var spellings: [UInt8] = []
        var names: [String] = []          // the spellings
        var ranks: [Int] = []             // their preference (0 jpg, 1 jpeg, 2 png)
        /// The ids over 19 digits, by entry.
        var longIDs: [Int: String] = [:]
    }

    static func list(folder: String) -> Listing {
        var out = Listing()
        guard let dir = opendir(folder) else { return out }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let length = strnlen(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
                // The stem: digits up to the last dot (a name with any other byte before it is no id).
                var dot = length - 1
                while dot > 0 && base[dot] != 0x2E { dot -= 1 }
                guard dot > 0, dot < length - 1 else { return }
                for i in 0 ..< dot where base[i] < 0x30 || base[i] > 0x39 { return }
                guard let rank = rank(of: base + dot + 1, count: length - dot - 1) else { return }
                let key = IDKey.of(base, count: dot)
                if key.isLong { out.longIDs[out.keyValues.count] = String(decoding: UnsafeBufferPointer(start: base, count: dot), as: UTF8.self) }
                let spelling = String(decoding: UnsafeBufferPointer(start: base + dot + 1, count: length - dot - 1), as: UTF8.self)
                var index = out.names.firstIndex(of: spelling)
                if index == nil { out.names.append(spelling); out.ranks.append(rank); index = out.names.count - 1 }
                out.keyValues.append(key.value)
                out.keyLengths.append(key.length)
                out.spellings.append(UInt8(index!))
            }
        }
        return out
    }

    /// The image codes of every split's samples from a listing, on every core. The entries are
    /// shared out by id, so two files of one id are weighed by one worker, in listing order (the
    /// first listed wins a tie, as it always has).
    static func match(_ listing: Listing, splits: [ScannedSplit], workers: Int) -> [[UInt8]] {
        let buffers = splits.map { UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, $0.count)) }
        for b in buffers { b.initialize(repeating: 0) }
        defer { for b in buffers { b.deallocate() } }
        let shared = UncheckedBox((listing, splits, buffers))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let (listing, splits, buffers) = shared.value
            for e in listing.keyValues.indices {
                let key = IDKey(value: listing.keyValues[e], length: listing.keyLengths[e])
                guard Int(truncatingIfNeeded: key.value ^ UInt64(key.length)) % workers == w else { continue }
                let long = key.isLong ? listing.longIDs[e] : nil
                let code = listing.spellings[e] + 1, rank = listing.ranks[Int(listing.spellings[e])]
                for s in splits.indices {
                    guard let p = splits[s].find(key, long: long) else { continue }
                    let current = buffers[s][p]
                    if current == 0 || listing.ranks[Int(current) - 1] > rank { buffers[s][p] = code }
                }
            }
        }
        return buffers.enumerated().map { s, b in Array(b.prefix(splits[s].count)) }
    }

    private struct UncheckedBox<Value>: @unchecked Sendable { let value: Value; init(_ v: Value) { value = v } }

    /// The preference rank of an extension (any case), or nil for other files.
    static func rank(of p: UnsafePointer<UInt8>, count: Int) -> Int? {
        guard count == 3 || count == 4 else { return nil }
        @inline(__always) func lower(_ i: Int) -> UInt8 { p[i] | 0x20 }   // only letters are compared
        if count == 3 && lower(0) == 0x6A && lower(1) == 0x70 && lower(2) == 0x67 { return 0 }              // jpg
        if count == 4 && lower(0) == 0x6A && lower(1) == 0x70 && lower(2) == 0x65 && lower(3) == 0x67 { return 1 } // jpeg
        if count == 3 && lower(0) == 0x70 && lower(1) == 0x6E && lower(2) == 0x67 { return 2 }             // png
        return nil
    }

    /// The image of an item found without listing the folder: `stat` of `<id>.jpg`, `.jpeg`, `.png`
    /// and their upper-case spellings, in that order (for a first look at a dataset, before the
    /// census; a mixed-case spelling is found only by the census).
    static func probe(folder: String, id: String) -> String? {
        for ext in ["jpg", "jpeg", "png", "JPG", "JPEG", "PNG"] {
            let path = folder + "/" + id + "." + ext
            var info = stat()
            if stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG { return path }
        }
        return nil
    }
}

/// Resolves the image references of the folder formats (`images/x.jpg`, relative to the dataset folder).
/// Each folder that images are referenced in is listed once; lookups after that touch no disk.
///
/// A reference names a file inside the dataset folder: an absolute path or one that climbs out with
/// `..` is refused (`escapes`), so a data file cannot make Vitrine read, show or even test the
/// existence of a file elsewhere on the machine. Symbolic links inside the folder are followed: they
/// are the folder owner's choice (an `images/` on another disk), not the data file's
/// (docs/data.md §3).
struct ImageResolver {
    /// Why `reference` would leave the dataset folder, or nil when it stays inside.
    static func escapes(_ reference: String) -> String? {
        if reference.hasPrefix("/") { return "is an absolute path" }
        if reference.hasPrefix("~") { return "starts with ~" }
        if reference.split(separator: "/", omittingEmptySubsequences: false).contains("..") { return "climbs out with .." }
        if reference.utf8.contains(0) { return "holds a NUL byte" }
        return nil
    }

    let root: String
    private var listings: [String: Set<String>] = [:]

    init(root: String) { self.root = root }

    /// Absolute path of an existing image for the reference, or nil. A bare file name that is not in the
    /// dataset folder itself is also looked for in `images/`.
    mutating func resolve(_ reference: String) -> String? {
        if reference.isEmpty || Self.escapes(reference) != nil { return nil }
        let full = root + "/" + reference
        if exists(full) { return full }
        if !reference.contains("/") {
            let inImages = root + "/images/" + reference
            if exists(inImages) { return inImages }
        }
        return nil
    }

    private mutating func exists(_ path: String) -> Bool {
        guard let slash = path.lastIndex(of: "/") else { return false }
        let folder = slash == path.startIndex ? "/" : String(path[..<slash])
        let name = String(path[path.index(after: slash)...])
        if name.isEmpty || name == "." || name == ".." { return false }
        if let names = listings[folder] { return names.contains(name) }
        let names = Set(folderEntries(folder))
        listings[folder] = names
        return names.contains(name)
    }
}
