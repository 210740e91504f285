import Testing
import Imaging

@Suite struct RGBImageTests {
    @Test func hexRoundTrip() {
        #expect(RGB(hex: "#1a2B3c")?.hex == "#1a2b3c")
        #expect(RGB(hex: "#12345") == nil)
        #expect(RGB(hex: "zzzzzz") == nil)
    }

    @Test func fillAndSubscript() {
        var img = RGBImage(width: 3, height: 2, fill: RGB(10, 20, 30))
        #expect(img[2, 1] == RGB(10, 20, 30))
        img[0, 0] = RGB(1, 2, 3)
        #expect(Array(img.pixels.prefix(3)) == [1, 2, 3])
    }
}
