/// The images of a Product1M folder, listed once: `images/<item_id>.{jpg,jpeg,png}` by item id.
///
/// One `readdir` pass instead of up to three `stat` calls per sample; extensions match in any case and
/// `.jpg` wins over `.jpeg`, which wins over `.png`, when an id has several.
struct ImageFolder: Sendable {
    /// Absolute path of the `images` folder.
    let path: String
    /// File name by stem (the item id).
    private let fileByStem: [String: String]

    static let extensionsByPreference = ["jpg", "jpeg", "png"]

    init(path: String) {
        self.path = path
        let names = folderEntries(path)
        var files: [String: String] = [:]
        files.reserveCapacity(names.count)
        for name in names {
            guard let (stem, rank) = Self.stemAndRank(name) else { continue }
            // Two files for one id (rare): keep the preferred extension.
            if let current = files[stem], let currentRank = Self.stemAndRank(current)?.rank, currentRank <= rank {
                continue
            }
            files[stem] = name
        }
        fileByStem = files
    }

    /// The stem of an image file name and the rank of its extension, or nil for other files.
    private static func stemAndRank(_ name: String) -> (stem: String, rank: Int)? {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return nil }
        let ext = name[name.index(after: dot)...].lowercased()
        guard let rank = extensionsByPreference.firstIndex(of: ext) else { return nil }
        return (String(name[..<dot]), rank)
    }

    /// Number of image files found.
    var count: Int { fileByStem.count }

    /// Absolute path of the image for `id`, or nil when there is none.
    func imagePath(for id: String) -> String? {
        fileByStem[id].map { path + "/" + $0 }
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
