#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The images of a Product1M folder: `images/<item_id>.{jpg,jpeg,png}`, extensions in any case,
/// `.jpg` preferred over `.jpeg` over `.png` when an id has several (docs/data.md §1.3).
///
/// The folder is listed once, straight from `readdir`: a name is matched against the scanned splits'
/// id tables as bytes, so a folder of a million images costs no String per file, and no `stat` per
/// sample. What comes out is one byte per sample: 0 for no image, else 1 + the index of the
/// extension as spelt on disk (there are at most 32 spellings of the three).
enum ImageCensus {
    static let extensionsByPreference = ["jpg", "jpeg", "png"]

    static func run(folder: String, splits: [ScannedSplit]) -> (codes: [[UInt8]], extensions: [String]) {
        var codes = splits.map { [UInt8](repeating: 0, count: $0.count) }
        var extensions: [String] = []
        var ranks: [Int] = []
        guard let dir = opendir(folder) else { return (codes, extensions) }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                let length = bytes.firstIndex(of: 0) ?? bytes.count
                guard let base = bytes.baseAddress, length > 1,
                      let dot = bytes[..<length].lastIndex(of: 0x2E), dot > 0, dot < length - 1 else { return }
                for i in 0 ..< dot where base[i] < 0x30 || base[i] > 0x39 { return }
                let ext = UnsafeBufferPointer(rebasing: bytes[(dot + 1) ..< length])
                guard let rank = rank(of: ext) else { return }
                let key = IDKey.of(base, count: dot)
                let long = key.isLong ? String(decoding: UnsafeBufferPointer(start: base, count: dot), as: UTF8.self) : nil
                var code: UInt8 = 0
                for s in splits.indices {
                    guard let p = splits[s].find(key, long: long) else { continue }
                    if code == 0 {
                        let spelling = String(decoding: ext, as: UTF8.self)
                        if let known = extensions.firstIndex(of: spelling) {
                            code = UInt8(known + 1)
                        } else {
                            extensions.append(spelling); ranks.append(rank)
                            code = UInt8(extensions.count)
                        }
                    }
                    // Two files for one id: keep the preferred extension (the first listed on a tie).
                    let current = codes[s][p]
                    if current == 0 || ranks[Int(current) - 1] > rank { codes[s][p] = code }
                }
            }
        }
        return (codes, extensions)
    }

    /// The preference rank of an extension (any case), or nil for other files.
    private static func rank(of ext: UnsafeBufferPointer<UInt8>) -> Int? {
        let lower = ext.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        for (rank, name) in extensionsByPreference.enumerated() where lower.elementsEqual(name.utf8) { return rank }
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
