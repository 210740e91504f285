import Support
import Capture
import Foundation
import Imaging
import Tensor
import Testing

/// The backbone's layers against naive reference loops written here, on small odd-sized
/// inputs, without the pretrained weights.
///
/// The naive convolutions work in PyTorch's NCHW layout and pad exactly as the reference
/// implementation (`Conv2dStaticSamePadding` in efficientnet-lite-pytorch) does: they build the
/// zero-padded image with `pad_total = max((ceil(in / s) - 1) * s + (k - 1) + 1 - in, 0)`,
/// `pad_total // 2` rows/columns before and the rest after, then run a padding-free
/// convolution. The layers under test are channels-last and skip padded taps instead.
@Suite struct BackboneLayerTests {
    // MARK: Naive references (NCHW)

    /// Zero-pads one `[channels, height, width]` image the reference's way.
    static func padSame(_ x: [Float], channels: Int, height: Int, width: Int, kernel: Int, stride: Int)
        -> (values: [Float], height: Int, width: Int) {
        func total(_ size: Int) -> Int {
            let out = (size + stride - 1) / stride
            return max((out - 1) * stride + (kernel - 1) + 1 - size, 0)
        }
        let th = total(height), tw = total(width)
        let top = th / 2, left = tw / 2
        let ph = height + th, pw = width + tw
        var padded = [Float](repeating: 0, count: channels * ph * pw)
        for c in 0 ..< channels { for row in 0 ..< height { for column in 0 ..< width {
            padded[(c * ph + row + top) * pw + column + left] = x[(c * height + row) * width + column]
        } } }
        return (padded, ph, pw)
    }

    /// A "valid" (unpadded) grouped convolution, NCHW, weight `[out, in / groups, k, k]`.
    static func naiveConv(_ x: [Float], channels: Int, height: Int, width: Int, weight: [Float], bias: [Float],
                          outChannels: Int, kernel: Int, stride: Int, groups: Int) -> (values: [Float], height: Int, width: Int) {
        let oh = (height - kernel) / stride + 1, ow = (width - kernel) / stride + 1
        let inPerGroup = channels / groups, outPerGroup = outChannels / groups
        var out = [Float](repeating: 0, count: outChannels * oh * ow)
        for o in 0 ..< outChannels {
            let g = o / outPerGroup
            for oy in 0 ..< oh { for ox in 0 ..< ow {
                var sum = Double(bias[o])
                for i in 0 ..< inPerGroup { for ky in 0 ..< kernel { for kx in 0 ..< kernel {
                    let xv = x[((g * inPerGroup + i) * height + oy * stride + ky) * width + ox * stride + kx]
                    sum += Double(xv) * Double(weight[((o * inPerGroup + i) * kernel + ky) * kernel + kx])
                } } }
                out[(o * oh + oy) * ow + ox] = Float(sum)
            } }
        }
        return (out, oh, ow)
    }

    static func relu6(_ v: [Float]) -> [Float] { v.map { min(max($0, 0), 6) } }

    static func toNHWC(_ x: [Float], channels: Int, height: Int, width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for c in 0 ..< channels { for p in 0 ..< height * width { out[p * channels + c] = x[c * height * width + p] } }
        return out
    }

    static func random(_ count: Int, _ rng: inout SeededRNG, scale: Float = 1) -> [Float] {
        (0 ..< count).map { _ in rng.normal() * scale }
    }

    static func expectClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-5,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, sourceLocation: sourceLocation)
        var worst: Float = 0
        for (a, e) in zip(actual, expected) { worst = max(worst, abs(a - e) / max(1, abs(e))) }
        #expect(worst <= tolerance, "largest difference \(worst)", sourceLocation: sourceLocation)
    }

    // MARK: Padding

    /// The extra row and column go after (bottom, right), as in TensorFlow and the reference.
    @Test(arguments: [
        // input, kernel, stride -> output, before, after
        (224, 3, 2, 112, 0, 1), (112, 3, 2, 56, 0, 1), (56, 5, 2, 28, 1, 2), (28, 3, 2, 14, 0, 1),
        (14, 5, 2, 7, 1, 2), (56, 3, 1, 56, 1, 1), (14, 5, 1, 14, 2, 2), (7, 3, 2, 4, 1, 1),
        (9, 5, 2, 5, 2, 2), (10, 5, 2, 5, 1, 2), (1, 5, 2, 1, 2, 2), (2, 3, 2, 1, 0, 1),
    ])
    func samePaddingIsTensorFlows(_ c: (Int, Int, Int, Int, Int, Int)) {
        let padding = SamePadding(input: c.0, kernel: c.1, stride: c.2)
        #expect(padding.output == c.3 && padding.before == c.4 && padding.after == c.5)
    }

    // MARK: Depthwise

    @Test(arguments: [
        // height, width, channels, kernel, stride
        (7, 9, 19, 3, 2), (8, 8, 32, 3, 2), (9, 5, 24, 5, 2), (10, 11, 3, 5, 2), (7, 7, 40, 5, 1),
        (5, 6, 17, 3, 1), (1, 1, 8, 5, 1), (2, 3, 16, 3, 2), (1, 4, 9, 5, 2),
    ])
    func depthwiseMatchesNaiveWithSamePadding(_ c: (Int, Int, Int, Int, Int)) {
        let (height, width, channels, kernel, stride) = c
        var rng = SeededRNG(seed: UInt64(height * 1000 + width * 100 + channels))
        let batch = 2
        let weight = Self.random(channels * kernel * kernel, &rng, scale: 0.5)
        let bias = Self.random(channels, &rng, scale: 0.5)
        let images = (0 ..< batch).map { _ in Self.random(channels * height * width, &rng, scale: 2) }

        for activation in [Activation.identity, .relu6] {
            let layer = DepthwiseConvolution(weight: weight, bias: bias, channels: channels, kernel: kernel,
                                             stride: stride, activation: activation)
            let input = images.flatMap { Self.toNHWC($0, channels: channels, height: height, width: width) }
            let output = layer(input, batch: batch, height: height, width: width)
            let size = layer.outputSize(height: height, width: width)
            #expect(size.height == (height + stride - 1) / stride && size.width == (width + stride - 1) / stride)

            var expected: [Float] = []
            for image in images {
                let padded = Self.padSame(image, channels: channels, height: height, width: width, kernel: kernel, stride: stride)
                let conv = Self.naiveConv(padded.values, channels: channels, height: padded.height, width: padded.width,
                                          weight: weight, bias: bias, outChannels: channels, kernel: kernel,
                                          stride: stride, groups: channels)
                #expect(conv.height == size.height && conv.width == size.width)
                let activated = activation == .relu6 ? Self.relu6(conv.values) : conv.values
                expected += Self.toNHWC(activated, channels: channels, height: conv.height, width: conv.width)
            }
            Self.expectClose(output, expected)
        }
    }

    // MARK: Dense (stem) and pointwise

    @Test(arguments: [(7, 9, 2), (8, 8, 2), (9, 6, 1), (13, 11, 2)])
    func denseConvolutionMatchesNaiveWithSamePadding(_ c: (Int, Int, Int)) {
        let (height, width, stride) = c
        let cin = 3, cout = 5, kernel = 3, batch = 2
        var rng = SeededRNG(seed: UInt64(height * 31 + width))
        let weight = Self.random(cout * cin * kernel * kernel, &rng, scale: 0.5)
        let bias = Self.random(cout, &rng)
        let images = (0 ..< batch).map { _ in Self.random(cin * height * width, &rng, scale: 2) }
        let layer = DenseConvolution(weight: weight, bias: bias, inputChannels: cin, outputChannels: cout,
                                     kernel: kernel, stride: stride, activation: .relu6)
        let output = layer(images.flatMap { Self.toNHWC($0, channels: cin, height: height, width: width) },
                           batch: batch, height: height, width: width)
        var expected: [Float] = []
        for image in images {
            let padded = Self.padSame(image, channels: cin, height: height, width: width, kernel: kernel, stride: stride)
            let conv = Self.naiveConv(padded.values, channels: cin, height: padded.height, width: padded.width,
                                      weight: weight, bias: bias, outChannels: cout, kernel: kernel, stride: stride, groups: 1)
            expected += Self.toNHWC(Self.relu6(conv.values), channels: cout, height: conv.height, width: conv.width)
        }
        Self.expectClose(output, expected)
    }

    @Test func pointwiseAddsBiasAndResidualBeforeTheActivation() {
        var rng = SeededRNG(seed: 5)
        let pixels = 13, cin = 7, cout = 11
        let weight = Self.random(cout * cin, &rng), bias = Self.random(cout, &rng)
        let input = Self.random(pixels * cin, &rng, scale: 2), residual = Self.random(pixels * cout, &rng, scale: 3)
        for activation in [Activation.identity, .relu6] {
            let layer = PointwiseConvolution(weight: weight, bias: bias, inputChannels: cin, outputChannels: cout,
                                             activation: activation)
            let output = layer(input, residual: residual)
            var expected = [Float](repeating: 0, count: pixels * cout)
            for p in 0 ..< pixels { for o in 0 ..< cout {
                var sum = bias[o] + residual[p * cout + o]
                for i in 0 ..< cin { sum += input[p * cin + i] * weight[o * cin + i] }
                expected[p * cout + o] = activation == .relu6 ? min(max(sum, 0), 6) : sum
            } }
            Self.expectClose(output, expected)
        }
    }

    // MARK: Batch norm folding

    /// conv then batch norm equals the folded conv, with and without a conv bias.
    @Test(arguments: [false, true])
    func batchNormFoldsIntoTheConvolution(withBias: Bool) {
        var rng = SeededRNG(seed: withBias ? 2 : 1)
        let cin = 4, cout = 6, kernel = 3, height = 5, width = 5
        let weight = Self.random(cout * cin * kernel * kernel, &rng)
        let bias: [Float]? = withBias ? Self.random(cout, &rng) : nil
        let norm = BatchNorm(gamma: Self.random(cout, &rng), beta: Self.random(cout, &rng),
                             mean: Self.random(cout, &rng), variance: (0 ..< cout).map { _ in abs(rng.normal()) + 0.01 },
                             epsilon: 1e-3)
        let x = Self.random(cin * height * width, &rng)

        let conv = Self.naiveConv(x, channels: cin, height: height, width: width, weight: weight,
                                  bias: bias ?? Array(repeating: 0, count: cout), outChannels: cout,
                                  kernel: kernel, stride: 1, groups: 1)
        let cells = conv.height * conv.width
        var normalised = conv.values
        for c in 0 ..< cout { for p in 0 ..< cells {
            let v = Double(normalised[c * cells + p])
            normalised[c * cells + p] = Float(Double(norm.gamma[c]) * (v - Double(norm.mean[c]))
                / (Double(norm.variance[c]) + Double(norm.epsilon)).squareRoot() + Double(norm.beta[c]))
        } }

        let folded = norm.fold(weight: weight, bias: bias)
        #expect(folded.weight.count == weight.count && folded.bias.count == cout)
        let foldedConv = Self.naiveConv(x, channels: cin, height: height, width: width, weight: folded.weight,
                                        bias: folded.bias, outChannels: cout, kernel: kernel, stride: 1, groups: 1)
        Self.expectClose(foldedConv.values, normalised, tolerance: 2e-5)
        // w' = w * gamma / sqrt(var + eps) and b' = beta + (b - mean) * gamma / sqrt(var + eps), channel 0.
        let scale = norm.gamma[0] / (norm.variance[0] + norm.epsilon).squareRoot()
        #expect(abs(folded.weight[0] - weight[0] * scale) <= 1e-5 * max(1, abs(folded.weight[0])))
        #expect(abs(folded.bias[0] - (norm.beta[0] + ((bias?[0] ?? 0) - norm.mean[0]) * scale)) <= 1e-5 * max(1, abs(folded.bias[0])))
    }

    // MARK: Architecture

    @Test func blocksAreEfficientNetLite0s() {
        let blocks = EfficientNetLite0.blocks
        #expect(blocks.count == 16)
        #expect(blocks.map(\.kernel) == [3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3])
        #expect(blocks.map(\.stride) == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1])
        #expect(blocks.map(\.outputChannels) == [16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320])
        #expect(blocks.map(\.expandRatio) == [1] + Array(repeating: 6, count: 15))
        #expect(blocks.filter(\.hasResidual).count == 9)
        for (previous, next) in zip(blocks, blocks.dropFirst()) { #expect(previous.outputChannels == next.inputChannels) }
        // 224 -> stem /2 -> four stride-2 blocks -> 7.
        var side = SamePadding(input: 224, kernel: 3, stride: 2).output
        for block in blocks { side = SamePadding(input: side, kernel: block.kernel, stride: block.stride).output }
        #expect(side == EfficientNetLite0.featureSide)
    }
}

/// Loading errors and unreadable images: clear errors, no crash, no weights needed.
@Suite struct BackboneErrorTests {
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "vitrine-backbone-\(UInt64.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func missingWeightsSayHowToFetchThem() throws {
        let path = try Self.temporaryDirectory() + "/nothing.safetensors"
        #expect(throws: BackboneError.weightsNotFound(path: path)) { try EfficientNetLite0(weightsPath: path) }
        let message = BackboneError.weightsNotFound(path: path).description
        #expect(message.contains(path) && message.contains("make weights"))
    }

    @Test func brokenWeightsFileIsAClearError() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let garbage = directory + "/garbage.safetensors"
        try Data("this is not a safetensors file".utf8).write(to: URL(fileURLWithPath: garbage))
        do {
            _ = try EfficientNetLite0(weightsPath: garbage)
            Issue.record("a garbage file loaded")
        } catch {
            guard case .weights = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.contains(garbage))
        }

        // A valid safetensors file that is not EfficientNet-Lite0: the first missing tensor is named.
        let other = directory + "/other.safetensors"
        try SafetensorsFile.write(path: other, tensors: [SafetensorsTensor(name: "something.else", shape: [2], values: [1, 2])])
        do {
            _ = try EfficientNetLite0(weightsPath: other)
            Issue.record("a file without the backbone's tensors loaded")
        } catch {
            #expect(error.description.contains("_conv_stem.weight"), "\(error)")
        }

        // The right name with the wrong shape.
        let wrongShape = directory + "/shape.safetensors"
        try SafetensorsFile.write(path: wrongShape, tensors: [
            SafetensorsTensor(name: "_conv_stem.weight", shape: [16, 3, 3, 3], values: Array(repeating: 0, count: 432)),
        ])
        do {
            _ = try EfficientNetLite0(weightsPath: wrongShape)
            Issue.record("a stem of the wrong shape loaded")
        } catch {
            #expect(error.description.contains("_conv_stem.weight") && error.description.contains("32, 3, 3, 3"), "\(error)")
        }
    }

    @Test func unreadableImagesAreClearErrors() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = directory + "/missing.jpg"
        #expect(throws: BackboneError.image(ImagingError(file: missing, kind: .notFound))) {
            try EfficientNetLite0.modelInput(path: missing)
        }
        let text = directory + "/notes.png"
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: text))
        do {
            _ = try EfficientNetLite0.modelInput(path: text)
            Issue.record("a text file decoded")
        } catch {
            #expect(error == .image(ImagingError(file: text, kind: .notAnImage)))
            #expect(error.description.contains(text))
        }
    }

    @Test func modelInputLetterboxesAnythingNot224() throws {
        let square = RGBImage(width: 224, height: 224, fill: RGB(1, 2, 3))
        #expect(EfficientNetLite0.modelInput(square) == square)
        let wide = RGBImage(width: 448, height: 224, fill: RGB(200, 10, 10))
        let framed = EfficientNetLite0.modelInput(wide)
        #expect(framed.width == 224 && framed.height == 224)
        #expect(framed[0, 0] == RGB(127, 127, 127) && framed[112, 112] == RGB(200, 10, 10))
        #expect(framed == wide.letterboxed(side: 224, fill: 127).image)
    }

    @Test func contentHashIsSHA256() throws {
        #expect(ContentHash.sha256([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(ContentHash.sha256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(ContentHash.sha256(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A file larger than one read, hashed in pieces, equals the hash of its bytes.
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bytes = (0 ..< 3_000_001).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        let path = directory + "/big.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(try ContentHash.sha256(fileAt: path) == ContentHash.sha256(bytes))
        #expect(throws: ContentHashError.self) { try ContentHash.sha256(fileAt: directory + "/absent") }
    }
}
