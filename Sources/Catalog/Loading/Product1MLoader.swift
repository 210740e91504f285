import Dispatch
import Foundation
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One of the four Product1M split files.
struct Product1MSplitSpec: Sendable {
    let name: String
    let role: SplitRole
    /// Training lines may leave out the labels field.
    let allowsFourFields: Bool

    var fileName: String { "product1m_\(name)_ossurl_v2.txt" }

    /// The splits in the order a `Dataset` lists them.
    static let all: [Product1MSplitSpec] = [
        Product1MSplitSpec(name: "train", role: .train, allowsFourFields: true),
        Product1MSplitSpec(name: "dev", role: .query, allowsFourFields: false),
        Product1MSplitSpec(name: "test", role: .query, allowsFourFields: false),
        Product1MSplitSpec(name: "gallery", role: .gallery, allowsFourFields: false),
    ]
}

/// Opens the Product1M split files of a folder: each is scanned in chunks, in parallel regions
/// (`Product1MScan`), then the images folder is listed once (`ImageCensus`). The splits keep the
/// open files and read a sample back when it is asked for (`Product1MLines`).
enum Product1MLoader {
    static func load(root: String, options: LoadOptions) throws -> [Split] {
        let specs = Product1MSplitSpec.all.filter {
            !options.skippedSplits.contains($0.name) && entryKind(root + "/" + $0.fileName) != .missing
        }
        var opened: [(spec: Product1MSplitSpec, path: String, descriptor: Int32, size: Int)] = []
        var handedOver = false
        defer { if !handedOver { for o in opened { close(o.descriptor) } } }
        for spec in specs {
            let path = root + "/" + spec.fileName
            do {
                let (fd, size) = try RegularFile.open(path, kind: "dataset file", limit: maxDatasetFileBytes)
                opened.append((spec, path, fd, size))
            } catch {
                throw unreadableFile(path, error)
            }
        }
        // The largest file gets both cores; the small ones are scanned one after another meanwhile.
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let slots = Slots<ScannedSplit>(count: opened.count)
        let listing = Slots<ImageCensus.Listing>(count: 1)
        let files = opened
        // The images folder is listed while the files are scanned (the listing is mostly the
        // kernel's work).
        DispatchQueue.concurrentPerform(iterations: files.count + (options.imageCensus ? 1 : 0)) { i in
            guard i < files.count else { listing[0] = ImageCensus.list(folder: root + "/images"); return }
            let o = files[i]
            slots[i] = Product1MScan.scan(descriptor: o.descriptor, size: o.size, fileName: o.spec.fileName,
                                          allowsFourFields: o.spec.allowsFourFields, options: options,
                                          workers: o.size > 16 << 20 ? workers : 1)
        }
        let scans = opened.indices.map { slots[$0]! }
        if options.strict {
            for (o, scan) in zip(opened, scans) {
                if let first = scan.issues.first { throw CatalogError.malformed(first, path: o.path) }
            }
        }
        let images = options.imageCensus
            ? (codes: ImageCensus.match(listing[0]!, splits: scans, workers: workers), extensions: listing[0]!.names)
            : (codes: scans.map { _ in [UInt8]() }, extensions: [String]())
        handedOver = true
        return opened.indices.map { i in
            let o = opened[i]
            let lines = Product1MLines(path: o.path, fileName: o.spec.fileName, imagesFolder: root + "/images",
                                       descriptor: o.descriptor, allowsFourFields: o.spec.allowsFourFields,
                                       options: options, scan: scans[i], imageCodes: images.codes[i],
                                       extensions: images.extensions)
            return Split(name: o.spec.name, role: o.spec.role, lines: lines)
        }
    }
}
