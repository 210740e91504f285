import Tensor

// Inference-only convolution layers for the frozen image backbone (EfficientNet-Lite0).
//
// Layout: every activation is channels-last ("NHWC"): image by image, row by row, pixel by
// pixel, the channels of one pixel contiguous. A 1 x 1 convolution over a whole batch is then
// one matrix product, `[pixels, in] x [in, out]`, and a depthwise convolution works on
// contiguous runs of channels, which it processes eight at a time with SIMD.
//
// Weights are given in PyTorch's layout (`[out, in / groups, kh, kw]`) with batch norm already
// folded in (`BatchNorm.fold`), and rearranged once at construction.

/// The non-linearity applied after a convolution (and its folded batch norm).
public enum Activation: Sendable, Equatable {
    /// None: the projection convolutions of MBConv blocks.
    case identity
    /// `min(max(x, 0), 6)`, EfficientNet-Lite's activation.
    case relu6
}

/// TensorFlow's "SAME" padding for one spatial axis, as the EfficientNet reference
/// (`Conv2dStaticSamePadding` in efficientnet-lite-pytorch) computes it:
/// `output = ceil(input / stride)`,
/// `total = max((output - 1) * stride + (kernel - 1) * dilation + 1 - input, 0)`,
/// `before = total / 2` (rounded down) and `after = total - before`. With an odd total the
/// extra row or column goes after (bottom, right): a 3 x 3, stride-2 convolution over 224
/// pixels pads 0 before and 1 after, unlike PyTorch's symmetric `padding=1`.
public struct SamePadding: Sendable, Equatable {
    public let input: Int
    public let output: Int
    public let before: Int
    public let after: Int

    public init(input: Int, kernel: Int, stride: Int, dilation: Int = 1) {
        precondition(input > 0 && kernel > 0 && stride > 0 && dilation > 0,
                     "SamePadding: input \(input), kernel \(kernel), stride \(stride), dilation \(dilation)")
        let output = (input + stride - 1) / stride
        let total = max((output - 1) * stride + (kernel - 1) * dilation + 1 - input, 0)
        self.input = input
        self.output = output
        self.before = total / 2
        self.after = total - total / 2
    }
}

/// Batch normalisation in inference mode: `y = gamma * (x - mean) / sqrt(variance + epsilon) + beta`.
public struct BatchNorm: Sendable, Equatable {
    public var gamma: [Float]
    public var beta: [Float]
    public var mean: [Float]
    public var variance: [Float]
    public var epsilon: Float

    public init(gamma: [Float], beta: [Float], mean: [Float], variance: [Float], epsilon: Float) {
        precondition(beta.count == gamma.count && mean.count == gamma.count && variance.count == gamma.count,
                     "BatchNorm: parameter lengths \(gamma.count), \(beta.count), \(mean.count), \(variance.count) differ")
        self.gamma = gamma
        self.beta = beta
        self.mean = mean
        self.variance = variance
        self.epsilon = epsilon
    }

    public var channels: Int { gamma.count }

    /// Folds this batch norm into the convolution before it, so that `conv'(x) = bn(conv(x))`:
    /// with `s = gamma / sqrt(variance + epsilon)` per output channel,
    /// `w' = w * s` and `b' = beta + (b - mean) * s` (`b` = 0 for a convolution without bias).
    ///
    /// - Parameters:
    ///   - weight: the convolution's weight, output channel first (`[out, ...]`, any trailing shape).
    ///   - bias: the convolution's bias, or nil.
    /// - Returns: the folded weight (same layout) and bias (`channels` values).
    public func fold(weight: [Float], bias: [Float]? = nil) -> (weight: [Float], bias: [Float]) {
        precondition(weight.count % channels == 0,
                     "BatchNorm.fold: \(weight.count) weights do not split into \(channels) output channels")
        precondition(bias == nil || bias!.count == channels, "BatchNorm.fold: bias length \(bias!.count) != \(channels)")
        let perChannel = weight.count / channels
        var folded = weight
        var foldedBias = [Float](repeating: 0, count: channels)
        for c in 0 ..< channels {
            // Computed in Double: the products are then rounded once, to float32.
            let scale = Double(gamma[c]) / (Double(variance[c]) + Double(epsilon)).squareRoot()
            for i in c * perChannel ..< (c + 1) * perChannel {
                folded[i] = Float(Double(weight[i]) * scale)
            }
            let b = Double(bias?[c] ?? 0)
            foldedBias[c] = Float(Double(beta[c]) + (b - Double(mean[c])) * scale)
        }
        return (folded, foldedBias)
    }
}

// MARK: - 1 x 1 convolution

/// A 1 x 1 convolution (with bias, then an activation) as one matrix product over every pixel
/// of a batch: `output[p, o] = act(bias[o] + residual[p, o] + sum_i input[p, i] * weight[o, i])`.
public struct PointwiseConvolution: Sendable {
    public let inputChannels: Int
    public let outputChannels: Int
    public let activation: Activation
    /// `[out, in]`, PyTorch's `[out, in, 1, 1]` without the unit axes.
    let weight: [Float]
    let bias: [Float]

    /// - Parameters:
    ///   - weight: `[out, in, 1, 1]` or `[out, in]`, row-major (`outputChannels * inputChannels` values).
    ///   - bias: `outputChannels` values.
    public init(weight: [Float], bias: [Float], inputChannels: Int, outputChannels: Int, activation: Activation) {
        precondition(weight.count == inputChannels * outputChannels,
                     "PointwiseConvolution: \(weight.count) weights for \(outputChannels) x \(inputChannels)")
        precondition(bias.count == outputChannels, "PointwiseConvolution: \(bias.count) biases for \(outputChannels) channels")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.activation = activation
        self.weight = weight
        self.bias = bias
    }

    /// Applies the convolution to `input`, `[pixels, inputChannels]` (channels-last), and adds
    /// `residual` (`[pixels, outputChannels]`) before the activation when given.
    public func callAsFunction(_ input: [Float], residual: [Float]? = nil) -> [Float] {
        precondition(input.count % inputChannels == 0, "PointwiseConvolution: input is not a whole number of pixels")
        let pixels = input.count / inputChannels
        precondition(residual == nil || residual!.count == pixels * outputChannels, "PointwiseConvolution: residual size")
        var output = [Float](repeating: 0, count: pixels * outputChannels)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                if let residual {
                    residual.withUnsafeBufferPointer { r in
                        run(input: x.baseAddress!, pixels: pixels, output: y.baseAddress!, residual: r.baseAddress!)
                    }
                } else {
                    run(input: x.baseAddress!, pixels: pixels, output: y.baseAddress!, residual: nil)
                }
            }
        }
        return output
    }

    /// The fast path. `output` is first filled with the bias (plus the residual), then the
    /// product is accumulated into it (`beta = 1`), then the activation applied in place.
    /// `output` must not overlap `input`; it may be `residual` itself.
    func run(input: UnsafePointer<Float>, pixels: Int, output: UnsafeMutablePointer<Float>,
             residual: UnsafePointer<Float>?, concurrent: Bool = true) {
        guard pixels > 0 else { return }
        let n = outputChannels
        bias.withUnsafeBufferPointer { b in
            let bias = b.baseAddress!
            forEachRange(pixels, workPerItem: n, concurrent: concurrent) { range in
                for p in range {
                    let row = output + p * n
                    if let residual {
                        addVectors(bias, residual + p * n, into: row, count: n)
                    } else {
                        copyVector(bias, into: row, count: n)
                    }
                }
            }
        }
        BLASThreading.ensureSingleThreaded()
        weight.withUnsafeBufferPointer { w in
            if concurrent {
                parallelSgemm(transA: false, transB: true, m: pixels, n: n, k: inputChannels,
                              a: input, b: w.baseAddress!, beta: 1, c: output)
            } else {
                sgemm(transA: false, transB: true, m: pixels, n: n, k: inputChannels,
                      a: input, b: w.baseAddress!, beta: 1, c: output)
            }
        }
        if activation == .relu6 {
            let total = pixels * n
            forEachRange((total + 4095) / 4096, workPerItem: 4096, concurrent: concurrent) { blocks in
                let start = blocks.lowerBound * 4096, end = min(total, blocks.upperBound * 4096)
                clampRelu6(output + start, count: end - start)
            }
        }
    }
}

// MARK: - Depthwise convolution

/// A depthwise (one filter per channel) k x k convolution with TensorFlow "SAME" padding
/// (`SamePadding`), bias and activation, on channels-last images.
public struct DepthwiseConvolution: Sendable {
    public let channels: Int
    public let kernel: Int
    public let stride: Int
    public let activation: Activation
    /// `[kernel * kernel, channels]`: tap-major, so one tap's weights for a run of channels
    /// are contiguous like the input pixel's channels.
    let weight: [Float]
    let bias: [Float]

    /// - Parameter weight: PyTorch's `[channels, 1, kernel, kernel]`, row-major.
    public init(weight: [Float], bias: [Float], channels: Int, kernel: Int, stride: Int, activation: Activation) {
        precondition(weight.count == channels * kernel * kernel,
                     "DepthwiseConvolution: \(weight.count) weights for \(channels) channels of \(kernel) x \(kernel)")
        precondition(bias.count == channels, "DepthwiseConvolution: \(bias.count) biases for \(channels) channels")
        precondition(stride > 0, "DepthwiseConvolution: stride \(stride)")
        self.channels = channels
        self.kernel = kernel
        self.stride = stride
        self.activation = activation
        let taps = kernel * kernel
        var tapMajor = [Float](repeating: 0, count: weight.count)
        for c in 0 ..< channels {
            for t in 0 ..< taps { tapMajor[t * channels + c] = weight[c * taps + t] }
        }
        self.weight = tapMajor
        self.bias = bias
    }

    /// Output height and width for an input of `height` x `width`: `ceil(size / stride)`.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        (SamePadding(input: height, kernel: kernel, stride: stride).output,
         SamePadding(input: width, kernel: kernel, stride: stride).output)
    }

    /// Applies the convolution to `batch` channels-last images of `height` x `width`.
    public func callAsFunction(_ input: [Float], batch: Int, height: Int, width: Int) -> [Float] {
        precondition(input.count == batch * height * width * channels, "DepthwiseConvolution: input size")
        let size = outputSize(height: height, width: width)
        var output = [Float](repeating: 0, count: batch * size.height * size.width * channels)
        input.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                run(input: x.baseAddress!, batch: batch, height: height, width: width, output: y.baseAddress!)
            }
        }
        return output
    }

    /// The fast path: output rows of all images spread over the cores.
    func run(input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, output: UnsafeMutablePointer<Float>,
             concurrent: Bool = true) {
        let vertical = SamePadding(input: height, kernel: kernel, stride: stride)
        let horizontal = SamePadding(input: width, kernel: kernel, stride: stride)
        let outHeight = vertical.output, outWidth = horizontal.output
        let rows = batch * outHeight
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                let geometry = DepthwiseGeometry(
                    channels: channels, kernel: kernel, stride: stride, height: height, width: width,
                    outHeight: outHeight, outWidth: outWidth, padTop: vertical.before, padLeft: horizontal.before,
                    relu6: activation == .relu6)
                forEachRange(rows, workPerItem: outWidth * channels * kernel * kernel * 2, concurrent: concurrent) { range in
                    for row in range {
                        depthwiseRow(geometry, image: row / outHeight, outRow: row % outHeight,
                                     input: input, weight: w.baseAddress!, bias: b.baseAddress!, output: output)
                    }
                }
            }
        }
    }
}

/// Everything the depthwise row kernel needs about one layer and input size.
struct DepthwiseGeometry {
    let channels: Int
    let kernel: Int
    let stride: Int
    let height: Int
    let width: Int
    let outHeight: Int
    let outWidth: Int
    let padTop: Int
    let padLeft: Int
    let relu6: Bool
}

/// One output row of one image. Taps that fall in the padding are skipped (they would add
/// zero). Channels go 32, 16, 8, then 1 at a time.
@inline(__always)
func depthwiseRow(_ g: DepthwiseGeometry, image: Int, outRow: Int, input: UnsafePointer<Float>,
                  weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
    let c = g.channels, k = g.kernel
    let iy0 = outRow * g.stride - g.padTop
    let kyLow = max(0, -iy0), kyHigh = min(k, g.height - iy0)
    let imageBase = input + image * g.height * g.width * c
    var out = output + (image * g.outHeight + outRow) * g.outWidth * c
    for ox in 0 ..< g.outWidth {
        let ix0 = ox * g.stride - g.padLeft
        let kxLow = max(0, -ix0), kxHigh = min(k, g.width - ix0)
        var ch = 0
        // 32 channels: eight independent 4-wide accumulators hide the add latency.
        while ch + 32 <= c {
            var a0 = load8(bias + ch), a1 = load8(bias + ch + 8), a2 = load8(bias + ch + 16), a3 = load8(bias + ch + 24)
            for ky in kyLow ..< kyHigh {
                var x = imageBase + ((iy0 + ky) * g.width + ix0 + kxLow) * c + ch
                var w = weight + (ky * k + kxLow) * c + ch
                for _ in kxLow ..< kxHigh {
                    a0 += load8(x) * load8(w)
                    a1 += load8(x + 8) * load8(w + 8)
                    a2 += load8(x + 16) * load8(w + 16)
                    a3 += load8(x + 24) * load8(w + 24)
                    x += c
                    w += c
                }
            }
            store8(a0, out + ch)
            store8(a1, out + ch + 8)
            store8(a2, out + ch + 16)
            store8(a3, out + ch + 24)
            ch += 32
        }
        while ch + 16 <= c {
            var a0 = load8(bias + ch), a1 = load8(bias + ch + 8)
            for ky in kyLow ..< kyHigh {
                var x = imageBase + ((iy0 + ky) * g.width + ix0 + kxLow) * c + ch
                var w = weight + (ky * k + kxLow) * c + ch
                for _ in kxLow ..< kxHigh {
                    a0 += load8(x) * load8(w)
                    a1 += load8(x + 8) * load8(w + 8)
                    x += c
                    w += c
                }
            }
            store8(a0, out + ch)
            store8(a1, out + ch + 8)
            ch += 16
        }
        while ch + 8 <= c {
            var a0 = load8(bias + ch)
            for ky in kyLow ..< kyHigh {
                var x = imageBase + ((iy0 + ky) * g.width + ix0 + kxLow) * c + ch
                var w = weight + (ky * k + kxLow) * c + ch
                for _ in kxLow ..< kxHigh {
                    a0 += load8(x) * load8(w)
                    x += c
                    w += c
                }
            }
            store8(a0, out + ch)
            ch += 8
        }
        while ch < c {
            var a = bias[ch]
            for ky in kyLow ..< kyHigh {
                for kx in kxLow ..< kxHigh {
                    a += imageBase[((iy0 + ky) * g.width + ix0 + kx) * c + ch] * weight[(ky * k + kx) * c + ch]
                }
            }
            out[ch] = a
            ch += 1
        }
        if g.relu6 { clampRelu6(out, count: c) }
        out += c
    }
}

// MARK: - Dense convolution (the stem)

/// A dense k x k convolution with TensorFlow "SAME" padding, as im2col and one matrix product
/// over the batch; EfficientNet's stem (3 x 3, stride 2, 3 -> 32 channels).
public struct DenseConvolution: Sendable {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernel: Int
    public let stride: Int
    /// The product after im2col: `[out, kernel * kernel * in]`.
    let pointwise: PointwiseConvolution

    /// - Parameter weight: PyTorch's `[out, in, kernel, kernel]`, row-major.
    public init(weight: [Float], bias: [Float], inputChannels: Int, outputChannels: Int,
                kernel: Int, stride: Int, activation: Activation) {
        precondition(weight.count == outputChannels * inputChannels * kernel * kernel,
                     "DenseConvolution: \(weight.count) weights for \(outputChannels) x \(inputChannels) x \(kernel) x \(kernel)")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernel = kernel
        self.stride = stride
        // [out][in][ky][kx] -> [out][ky][kx][in], the order of an im2col row.
        let taps = kernel * kernel
        var reordered = [Float](repeating: 0, count: weight.count)
        for o in 0 ..< outputChannels {
            for i in 0 ..< inputChannels {
                for t in 0 ..< taps {
                    reordered[(o * taps + t) * inputChannels + i] = weight[(o * inputChannels + i) * taps + t]
                }
            }
        }
        pointwise = PointwiseConvolution(weight: reordered, bias: bias, inputChannels: taps * inputChannels,
                                         outputChannels: outputChannels, activation: activation)
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        (SamePadding(input: height, kernel: kernel, stride: stride).output,
         SamePadding(input: width, kernel: kernel, stride: stride).output)
    }

    /// Floats of im2col scratch needed for `batch` images of `height` x `width`.
    func columnCount(batch: Int, height: Int, width: Int) -> Int {
        let size = outputSize(height: height, width: width)
        return batch * size.height * size.width * kernel * kernel * inputChannels
    }

    /// Applies the convolution to `batch` channels-last images of `height` x `width`.
    public func callAsFunction(_ input: [Float], batch: Int, height: Int, width: Int) -> [Float] {
        precondition(input.count == batch * height * width * inputChannels, "DenseConvolution: input size")
        let size = outputSize(height: height, width: width)
        var output = [Float](repeating: 0, count: batch * size.height * size.width * outputChannels)
        var columns = [Float](repeating: 0, count: columnCount(batch: batch, height: height, width: width))
        input.withUnsafeBufferPointer { x in
            columns.withUnsafeMutableBufferPointer { col in
                output.withUnsafeMutableBufferPointer { y in
                    run(input: x.baseAddress!, batch: batch, height: height, width: width,
                        columns: col.baseAddress!, output: y.baseAddress!)
                }
            }
        }
        return output
    }

    /// im2col into `columns` (`columnCount` floats; padding taps are zeros), then the product.
    func run(input: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
             columns: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, concurrent: Bool = true) {
        let vertical = SamePadding(input: height, kernel: kernel, stride: stride)
        let horizontal = SamePadding(input: width, kernel: kernel, stride: stride)
        let outHeight = vertical.output, outWidth = horizontal.output
        let k = kernel, cin = inputChannels, rowLength = k * k * cin
        forEachRange(batch * outHeight, workPerItem: outWidth * rowLength, concurrent: concurrent) { range in
            for row in range {
                let image = row / outHeight, oy = row % outHeight
                let iy0 = oy * stride - vertical.before
                for ox in 0 ..< outWidth {
                    let ix0 = ox * stride - horizontal.before
                    let column = columns + (row * outWidth + ox) * rowLength
                    for ky in 0 ..< k {
                        let iy = iy0 + ky
                        for kx in 0 ..< k {
                            let ix = ix0 + kx
                            let tap = column + (ky * k + kx) * cin
                            if iy >= 0, iy < height, ix >= 0, ix < width {
                                tap.update(from: input + ((image * height + iy) * width + ix) * cin, count: cin)
                            } else {
                                tap.update(repeating: 0, count: cin)
                            }
                        }
                    }
                }
            }
        }
        pointwise.run(input: columns, pixels: batch * outHeight * outWidth, output: output, residual: nil,
                      concurrent: concurrent)
    }
}

// MARK: - Helpers

/// `Parallel.forEachRange`, or the whole range on this thread when `concurrent` is false.
@inline(__always)
func forEachRange(_ count: Int, workPerItem: Int, concurrent: Bool, _ body: (Range<Int>) -> Void) {
    if concurrent {
        Parallel.forEachRange(count, workPerItem: workPerItem, body)
    } else if count > 0 {
        body(0 ..< count)
    }
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// `out[i] = a[i] + b[i]`; `out` may be `b`.
@inline(__always)
func addVectors(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        store8(load8(a + i) + load8(b + i), out + i)
        i += 8
    }
    while i < count {
        out[i] = a[i] + b[i]
        i += 1
    }
}

/// `out[i] = a[i]`, inlined (rows are short: a call to memmove costs more than the copy).
@inline(__always)
func copyVector(_ a: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
        store8(load8(a + i), out + i)
        i += 8
    }
    while i < count {
        out[i] = a[i]
        i += 1
    }
}

/// ReLU6 in place. A plain loop: the compiler vectorises it (SIMD's `clamped` and
/// `pointwiseMin` are not inlined and cost more than the convolution itself).
@inline(__always)
func clampRelu6(_ p: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0 ..< count {
        let x = p[i]
        let low = x < 0 ? 0 : x
        p[i] = low > 6 ? 6 : low
    }
}
