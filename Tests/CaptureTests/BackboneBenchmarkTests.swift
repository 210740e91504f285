import Support
import Capture
import Foundation
import Imaging
import Testing

/// Throughput of the backbone to the block-15 output, 224 x 224, batch 32: a benchmark, not a
/// test. Runs only with `VITRINE_BENCH=1` (`make bench`); prints images per second.
@Suite struct BackboneBenchmarkTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VITRINE_BENCH"] == "1"))
    func block15ImagesPerSecond() throws {
        let environment = ProcessInfo.processInfo.environment
        let weights = try BackboneFixtures.ensureWeights()
        let loadStart = DispatchTime.now().uptimeNanoseconds
        _ = try EfficientNetLite0(weightsPath: weights)
        let hashStart = DispatchTime.now().uptimeNanoseconds
        _ = try ContentHash.sha256(fileAt: weights)
        let hashEnd = DispatchTime.now().uptimeNanoseconds
        print("backbone: loading takes \(String(format: "%.0f", Double(hashStart - loadStart) / 1e6)) ms, "
              + "of which hashing the weights \(String(format: "%.0f", Double(hashEnd - hashStart) / 1e6)) ms")
        let network = try environment["VITRINE_BENCH_CHUNK"].flatMap(Int.init).map {
            try EfficientNetLite0(weightsPath: try BackboneFixtures.ensureWeights(), chunkSize: $0)
        } ?? BackboneFixtures.network()
        let batch = 32
        let images = (0 ..< batch).map { k in
            var image = RGBImage(width: 224, height: 224)
            for y in 0 ..< 224 { for x in 0 ..< 224 { image[x, y] = RGB(UInt8((x + k) & 255), UInt8((y * 3) & 255), UInt8((x ^ y) & 255)) } }
            return image
        }
        _ = network.features(Array(images[0 ..< 4]))  // warm-up
        var best = Double.infinity
        let cpuBefore = cpuSeconds()
        let repeats = 3
        for _ in 0 ..< repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let features = network.features(images)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            #expect(features.count == batch)
            best = min(best, seconds)
        }
        let cpuPerImage = (cpuSeconds() - cpuBefore) / Double(repeats * batch)
        var single = Double.infinity
        for k in 0 ..< 5 {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = network.features(images[k])
            single = min(single, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        print("backbone: batch \(batch), 224x224 to block 15, chunk \(network.chunkSize): "
              + "\(String(format: "%.1f", best * 1000)) ms per batch, \(String(format: "%.1f", Double(batch) / best)) images/s, "
              + "\(String(format: "%.1f", cpuPerImage * 1000)) CPU ms per image; one image alone: "
              + "\(String(format: "%.1f", single * 1000)) ms")
    }
}

/// CPU time of this process (all threads) so far, in seconds.
private func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
