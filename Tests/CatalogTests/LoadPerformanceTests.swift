import Catalog
import Foundation
import Testing

@Suite("Loading speed")
struct LoadPerformanceTests {
    /// A 100,000-line gallery with realistic lines loads completely. The time is printed, not asserted
    /// (machines differ); on a laptop core it is a fraction of a second.
    @Test func aHundredThousandLineGalleryLoads() throws {
        let folder = try CatalogTempFolder()
        let count = 100_000
        let brands = ["AHC", "雪花秀", "兰蔻", "欧莱雅", "资生堂", "SK-II", "娇韵诗", "悦诗风吟"]
        let products = ["黄金面霜", "精华液 小黑瓶", "爽肤水", "眼霜", "洗面奶", "防晒霜 SPF50", "口红 正红色", "气垫 BB霜"]
        let labels = (0..<458).map { k in "\(brands[k % brands.count]) \(products[(k / 8) % products.count]) \(k)" }
        var text = ""
        text.reserveCapacity(count * 160)
        for i in 0..<count {
            let brand = brands[i % brands.count]
            let product = products[(i / brands.count) % products.count]
            let label = labels[i % labels.count]
            let id = 1_000_000 + i
            text += "\(id)#####\(brand) \(product) 正品 包邮 官方旗舰店 礼盒 套装 \(i)#####"
            text += "http://img.example.com/\(id).jpg#####http://img.example.com/\(id).jpg#####\(label)\n"
        }
        try folder.write("product1m_gallery_ossurl_v2.txt", text)
        for i in stride(from: 0, to: count, by: 100) { try folder.touch("images/\(1_000_000 + i).jpg") }

        let clock = ContinuousClock()
        let start = clock.now
        let dataset = try Dataset.load(from: folder.path)
        let elapsed = clock.now - start
        print("loaded \(count) gallery lines in \(elapsed)")

        let gallery = try #require(dataset.gallery)
        #expect(gallery.samples.count == count)
        #expect(gallery.issues.isEmpty)
        #expect(gallery.missingImages == count - count / 100)
        #expect(gallery.sample(id: "1099999")?.labels == [labels[99_999 % 458]])
        #expect(DatasetInfo(dataset).splits[0].labels == 458)
    }
}
