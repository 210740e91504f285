import Catalog
import Explorer
import Foundation
import Imaging

/// A small Product1M dataset written to a temporary folder, with Chinese,
/// emoji, hostile control bytes, a missing image and a corrupt one, so that
/// the explorer's tests do not depend on SampleData.
enum Fixture {
    static let folder: String = {
        // A fixed folder name (it shows in the header of every snapshot) in a private parent.
        let dir = NSTemporaryDirectory() + "vitrine-explorer-\(getpid())/fixture"
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir + "/images", withIntermediateDirectories: true)
        var gallery = ""
        let brands = ["Aurelle", "Brisane", "Celoria", "Dovena"]
        let products = ["水光面霜", "玻尿酸精华", "柔肤水", "防晒乳", "睫毛膏"]
        var n = 0
        for b in brands {
            for p in products {
                n += 1
                let id = String(100000 + n)
                let caption = "\(b) \(p) 正品 包邮 gift box \(n % 3 == 0 ? "🎁" : "") authentic"
                gallery += "\(id)#####\(caption)#####http://x/\(id).jpg#####http://x/\(id).jpg#####\(b) \(p)\n"
                if n != 7 { try! writeImage(id: id, seed: n, into: dir) }   // 100007 has no image
            }
        }
        gallery += "100099#####Evil \u{1B}[31mred\u{1B}]0;title\u{07} caption#####u#####u#####Evil 面霜\n"
        try! writeImage(id: "100099", seed: 99, into: dir)
        gallery += "this line is malformed\n"
        // A corrupt image file.
        gallery += "100098#####Broken image 面霜#####u#####u#####Aurelle 水光面霜\n"
        try! Data([0xFF, 0xD8, 0xFF, 0x00, 0x01]).write(to: URL(fileURLWithPath: dir + "/images/100098.jpg"))
        try! gallery.write(toFile: dir + "/product1m_gallery_ossurl_v2.txt", atomically: true, encoding: .utf8)
        let dev = "200001#####Aurelle 水光面霜 + Brisane 柔肤水 套装#####u#####u#####Aurelle 水光面霜#;#Brisane 柔肤水#;#Brisane 柔肤水\n"
            + "200002#####Celoria 防晒乳 Dovena 睫毛膏 双11#####u#####u#####Celoria 防晒乳#;#Dovena 睫毛膏\n"
        try! dev.write(toFile: dir + "/product1m_dev_ossurl_v2.txt", atomically: true, encoding: .utf8)
        return dir
    }()

    static func writeImage(id: String, seed: Int, into dir: String) throws {
        var img = RGBImage(width: 48, height: 32)
        for y in 0..<32 { for x in 0..<48 {
            img[x, y] = RGB(UInt8((x * 5 + seed * 37) % 256), UInt8((y * 7 + seed * 11) % 256), UInt8((seed * 53) % 256))
        } }
        let bytes = try JPEGEncoder.encode(img, quality: 90)
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/images/\(id).jpg"))
    }

    static let dataset: Dataset = try! Dataset.load(from: folder)

    static let theme: Theme = (try? ThemeLibrary.load("dark")) ?? ThemeLibrary.builtinFallback

    /// A state with the fixture loaded, as after the load message.
    static func state(width: Int = 80, height: Int = 24, colorMode: ColorMode = .truecolor, unicode: Bool = true) -> ExplorerState {
        var s = ExplorerState(size: Size(width: width, height: height),
                              capabilities: TerminalCapabilities(colorMode: colorMode, unicode: unicode, mouse: true),
                              theme: theme, dataPath: folder)
        let effects = update(&s, .datasetLoaded(.success(LoadedDataset(dataset: dataset, loadSeconds: 0))))
        settle(&s, effects)
        return s
    }

    /// Decodes every image the state asked for, synchronously, as the app would in the background.
    static func settle(_ state: inout ExplorerState, _ effects: [Effect]) {
        var queue = effects
        while !queue.isEmpty {
            let e = queue.removeFirst()
            if case .restPreview(let serial, _) = e { queue += update(&state, .previewRested(serial: serial)) }
            if case .loadImage(let path, let side) = e {
                let r: Result<RGBImage, ImagingError>
                do { r = .success(try ImageDecoder.thumbnail(path: path, maxSide: side)) }
                catch { r = .failure(error) }
                queue += update(&state, .imageLoaded(path: path, result: r))
            }
        }
    }

    static func key(_ state: inout ExplorerState, _ k: Key) -> [Effect] { update(&state, .input(.key(k))) }

    /// Types text as keys, decoding the images it asks for on the way.
    static func type(_ state: inout ExplorerState, _ text: String) {
        for c in text { settle(&state, key(&state, .char(c))) }
    }
}
