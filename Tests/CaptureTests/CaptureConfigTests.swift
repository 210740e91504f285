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

    @Test func textTowerRoundTripsAndDefaultsToMiniLMInOldCheckpoints() throws {
        var c = TextTower.e5.configuration(vocabularyRows: 139_096)
        #expect(c.textTower == .e5 && c.textLayers == 12 && c.maxTextLength == 64 && c.problem == nil)
        let data = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(CaptureConfig.self, from: data) == c)
        // A configuration written before the choice existed (no "textTower") is MiniLM's.
        var object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(object["textTower"] as? String == "e5")
        object.removeValue(forKey: "textTower")
        let old = try JSONDecoder().decode(CaptureConfig.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(old.textTower == .miniLM)
        c.textTower = .miniLM
        #expect(old == c)
        // An unknown tower is refused, not guessed.
        object["textTower"] = "gpt"
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(CaptureConfig.self, from: try JSONSerialization.data(withJSONObject: object))
        }
        // A missing required field still fails.
        object.removeValue(forKey: "textTower"); object.removeValue(forKey: "hidden")
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(CaptureConfig.self, from: try JSONSerialization.data(withJSONObject: object))
        }
    }
}
