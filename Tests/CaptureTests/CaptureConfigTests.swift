import Capture
import Foundation
import Testing

@Suite struct CaptureConfigTests {
    @Test func defaultsAreMODELmd() {
        let c = CaptureConfig.default
        #expect(c.hidden == 384 && c.heads == 12 && c.intermediate == 1536 && c.headDim == 32)
        #expect(c.textLayers == 6 && c.imageLayers == 2 && c.coLayers == 2 && c.crossLayers == 2)
        #expect(c.clrDim == 256 && c.fusedDim == 256 && c.regionFeatureDim == 320 && c.maxTextLength == 36)
    }

    @Test func roundTripsThroughJSON() throws {
        var c = CaptureConfig()
        c.textLayers = 1; c.hidden = 32; c.heads = 4
        let data = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(CaptureConfig.self, from: data) == c)
    }
}
