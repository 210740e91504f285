/// Antialiased resampling with a triangle (bilinear) filter, the way PIL's
/// `Image.resize(size, Image.BILINEAR)` and torchvision's `resize(..., antialias=True)` do it:
///
/// - pixel centres are at `i + 0.5`; output pixel `o` maps to input position
///   `centre = (o + 0.5) * scale` with `scale = inSize / outSize`;
/// - the triangle `max(0, 1 - |t|)` is stretched by `max(scale, 1)`, so when downscaling every
///   input pixel under the output pixel's footprint contributes (no aliasing), and upscaling is
///   plain bilinear interpolation;
/// - with `support = max(scale, 1)`, the taps are the input pixels from
///   `trunc(centre - support + 0.5)` up to `trunc(centre + support + 0.5) - 1` (clipped to the
///   image), weighted `tri((i + 0.5 - centre) / max(scale, 1))` and normalised to sum to 1 —
///   the same taps and weights as PIL's reference implementation;
/// - the two axes are separable; accumulation is in `Float`, the result rounded to nearest and
///   clamped to 0...255. The intermediate image is kept in `Float` (PIL rounds it to 8 bits),
///   so values can differ from PIL's by 1.
extension RGBImage {
    /// This image resampled to `width` x `height` (aspect ratio not preserved), with the
    /// antialiased bilinear filter described above. Returns `self` when the size is unchanged.
    public func resized(width newWidth: Int, height newHeight: Int) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0, "resized: target \(newWidth)x\(newHeight) must be positive")
        precondition(width > 0 && height > 0, "resized: cannot resample an empty \(width)x\(height) image")
        if newWidth == width && newHeight == height { return self }
        var output = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        output.withUnsafeMutableBufferPointer { destination in
            Resampler.resample(self, width: newWidth, height: newHeight,
                               into: destination.baseAddress!, rowStride: newWidth * 3)
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: output)
    }

    /// This image shrunk to fit in `maxSide` x `maxSide`, keeping its aspect ratio: the longer
    /// side becomes `maxSide`, the other `max(1, round(side * maxSide / longer))` (round half to
    /// even). Never upscales: an image that already fits is returned unchanged.
    public func thumbnail(maxSide: Int) -> RGBImage {
        precondition(maxSide > 0, "thumbnail: maxSide must be positive, got \(maxSide)")
        let longer = Swift.max(width, height)
        if longer <= maxSide || width == 0 || height == 0 { return self }
        let size = fittedSize(width: width, height: height, side: maxSide)
        return resized(width: size.width, height: size.height)
    }
}

/// `max(1, round(w * scale)) x max(1, round(h * scale))` with `scale = side / max(w, h)`,
/// computed in `Double` and rounded half to even, exactly like Python's
/// `max(1, round(w * (side / max(w, h))))`.
func fittedSize(width: Int, height: Int, side: Int) -> (width: Int, height: Int) {
    let scale = Double(side) / Double(max(width, height))
    func fit(_ value: Int) -> Int { max(1, Int((Double(value) * scale).rounded(.toNearestOrEven))) }
    return (fit(width), fit(height))
}

/// Filter taps for one axis, precomputed once per resize.
struct ResampleKernel {
    let outputSize: Int
    /// Largest tap count of any output pixel; `weights` has this stride.
    let stride: Int
    /// First input pixel of each output pixel.
    let starts: [Int]
    /// Number of taps of each output pixel.
    let counts: [Int]
    /// `outputSize * stride` normalised weights, zero-padded.
    let weights: [Float]

    init(inputSize: Int, outputSize: Int) {
        precondition(inputSize > 0 && outputSize > 0)
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filterScale // the triangle's support is 1, stretched by filterScale
        let stride = Int(support.rounded(.up)) * 2 + 1
        var starts = [Int](repeating: 0, count: outputSize)
        var counts = [Int](repeating: 0, count: outputSize)
        var weights = [Float](repeating: 0, count: outputSize * stride)
        var taps = [Double](repeating: 0, count: stride)
        for o in 0..<outputSize {
            let centre = (Double(o) + 0.5) * scale
            // Int(_:) truncates toward zero, like C's (int) cast in PIL's reference code.
            let first = max(Int(centre - support + 0.5), 0)
            let count = min(Int(centre + support + 0.5), inputSize) - first
            var total = 0.0
            for k in 0..<count {
                let t = (Double(first + k) - centre + 0.5) / filterScale
                let w = max(0, 1 - abs(t))
                taps[k] = w
                total += w
            }
            starts[o] = first
            counts[o] = count
            for k in 0..<count {
                weights[o * stride + k] = Float(total > 0 ? taps[k] / total : 0)
            }
        }
        self.outputSize = outputSize
        self.stride = stride
        self.starts = starts
        self.counts = counts
        self.weights = weights
    }
}

/// A sample type the resampling passes read and write: bytes at the ends, `Float` in between.
protocol ResampleSample {
    var floatValue: Float { get }
    init(accumulator: Float)
}

extension UInt8: ResampleSample {
    @inline(__always) var floatValue: Float { Float(self) }
    /// Rounds to nearest and clamps to 0...255.
    @inline(__always) init(accumulator value: Float) {
        self = UInt8(Swift.min(Swift.max(value, 0), 255) + 0.5)
    }
}

extension Float: ResampleSample {
    @inline(__always) var floatValue: Float { self }
    @inline(__always) init(accumulator value: Float) { self = value }
}

enum Resampler {
    /// Cost of one horizontal pixel tap (a 4-lane gather) relative to one vertical pixel tap
    /// (three samples, vectorised along the row); measured on x86-64, used to pick the order.
    static let horizontalTapCost = 1.5

    /// Resamples `image` to `width` x `height` and writes the result to `destination`, whose
    /// rows are `rowStride` bytes apart (so a letterbox can be filled in place).
    static func resample(_ image: RGBImage, width: Int, height: Int,
                         into destination: UnsafeMutablePointer<UInt8>, rowStride: Int) {
        let inWidth = image.width, inHeight = image.height
        let horizontal = width != inWidth ? ResampleKernel(inputSize: inWidth, outputSize: width) : nil
        let vertical = height != inHeight ? ResampleKernel(inputSize: inHeight, outputSize: height) : nil
        image.pixels.withUnsafeBufferPointer { source in
            let src = source.baseAddress!
            switch (horizontal, vertical) {
            case (nil, nil):
                for y in 0..<height {
                    (destination + y * rowStride).update(from: src + y * inWidth * 3, count: inWidth * 3)
                }
            case (let h?, nil):
                horizontalPass(bytes: src, inWidth: inWidth, rows: inHeight, kernel: h,
                               into: destination, outRowStride: rowStride)
            case (nil, let v?):
                verticalPass(src, rowLength: inWidth * 3, kernel: v, into: destination, outRowStride: rowStride)
            case (let h?, let v?):
                // Both orders give the same result up to Float rounding (the weights are
                // non-negative and the intermediate is neither rounded nor clamped); take the
                // cheaper one.
                let horizontalFirst = Double(inHeight * width * h.stride) * horizontalTapCost + Double(height * width * v.stride)
                let verticalFirst = Double(height * inWidth * v.stride) + Double(height * width * h.stride) * horizontalTapCost
                if horizontalFirst < verticalFirst {
                    let temporary = UnsafeMutablePointer<Float>.allocate(capacity: inHeight * width * 3)
                    defer { temporary.deallocate() }
                    horizontalPass(bytes: src, inWidth: inWidth, rows: inHeight, kernel: h,
                                   into: temporary, outRowStride: width * 3)
                    verticalPass(UnsafePointer(temporary), rowLength: width * 3, kernel: v,
                                 into: destination, outRowStride: rowStride)
                } else {
                    // One spare pixel at the end: the horizontal kernel loads 4 floats per pixel.
                    let count = height * inWidth * 3
                    let temporary = UnsafeMutablePointer<Float>.allocate(capacity: count + 4)
                    defer { temporary.deallocate() }
                    (temporary + count).initialize(repeating: 0, count: 4)
                    verticalPass(src, rowLength: inWidth * 3, kernel: v, into: temporary, outRowStride: inWidth * 3)
                    horizontalPass(floats: UnsafePointer(temporary), inWidth: inWidth, rows: height, kernel: h,
                                   into: destination, outRowStride: rowStride)
                }
            }
        }
    }

    /// Resamples every row of 8-bit interleaved RGB along x (each row is widened to Float first).
    static func horizontalPass<Out: ResampleSample>(
        bytes source: UnsafePointer<UInt8>, inWidth: Int, rows: Int,
        kernel: ResampleKernel, into destination: UnsafeMutablePointer<Out>, outRowStride: Int
    ) {
        let rowLength = inWidth * 3
        let row = UnsafeMutablePointer<Float>.allocate(capacity: rowLength + 4)
        defer { row.deallocate() }
        (row + rowLength).initialize(repeating: 0, count: 4)
        withKernel(kernel) { weights, starts, counts in
            for y in 0..<rows {
                let input = source + y * rowLength
                for i in 0..<rowLength { row[i] = Float(input[i]) }
                horizontalRow(UnsafePointer(row), outputSize: kernel.outputSize, weights: weights, stride: kernel.stride, starts: starts,
                              counts: counts, into: destination + y * outRowStride)
            }
        }
    }

    /// Resamples every row of Float interleaved RGB along x. The buffer must have at least one
    /// readable Float after the last sample.
    static func horizontalPass<Out: ResampleSample>(
        floats source: UnsafePointer<Float>, inWidth: Int, rows: Int,
        kernel: ResampleKernel, into destination: UnsafeMutablePointer<Out>, outRowStride: Int
    ) {
        withKernel(kernel) { weights, starts, counts in
            for y in 0..<rows {
                horizontalRow(source + y * inWidth * 3, outputSize: kernel.outputSize, weights: weights, stride: kernel.stride, starts: starts,
                              counts: counts, into: destination + y * outRowStride)
            }
        }
    }

    @inline(__always)
    private static func withKernel(
        _ kernel: ResampleKernel,
        _ body: (UnsafePointer<Float>, UnsafePointer<Int>, UnsafePointer<Int>) -> Void
    ) {
        kernel.weights.withUnsafeBufferPointer { weights in
            kernel.starts.withUnsafeBufferPointer { starts in
                kernel.counts.withUnsafeBufferPointer { counts in
                    body(weights.baseAddress!, starts.baseAddress!, counts.baseAddress!)
                }
            }
        }
    }

    /// One row: each input pixel's (r, g, b) is loaded as a 4-lane vector; the fourth lane
    /// (the next pixel's red, or padding) is multiplied along and ignored.
    @inline(__always)
    private static func horizontalRow<Out: ResampleSample>(
        _ row: UnsafePointer<Float>, outputSize: Int, weights: UnsafePointer<Float>, stride: Int,
        starts: UnsafePointer<Int>, counts: UnsafePointer<Int>, into output: UnsafeMutablePointer<Out>
    ) {
        for o in 0..<outputSize {
            let taps = weights + o * stride
            var pixel = UnsafeRawPointer(row + starts[o] * 3)
            var sum = SIMD4<Float>()
            for k in 0..<counts[o] {
                sum += pixel.loadUnaligned(as: SIMD4<Float>.self) * taps[k]
                pixel += 3 * MemoryLayout<Float>.stride
            }
            output[o * 3] = Out(accumulator: sum[0])
            output[o * 3 + 1] = Out(accumulator: sum[1])
            output[o * 3 + 2] = Out(accumulator: sum[2])
        }
    }

    /// Resamples along y; rows are `rowLength` samples long (width * 3) and contiguous.
    static func verticalPass<In: ResampleSample, Out: ResampleSample>(
        _ source: UnsafePointer<In>, rowLength: Int,
        kernel: ResampleKernel, into destination: UnsafeMutablePointer<Out>, outRowStride: Int
    ) {
        let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: rowLength)
        defer { accumulator.deallocate() }
        let stride = kernel.stride
        withKernel(kernel) { weights, starts, counts in
            for o in 0..<kernel.outputSize {
                let taps = weights + o * stride
                let first = starts[o]
                accumulator.update(repeating: 0, count: rowLength)
                for k in 0..<counts[o] {
                    let w = taps[k]
                    let inRow = source + (first + k) * rowLength
                    for i in 0..<rowLength {
                        accumulator[i] += w * inRow[i].floatValue
                    }
                }
                let outRow = destination + o * outRowStride
                for i in 0..<rowLength {
                    outRow[i] = Out(accumulator: accumulator[i])
                }
            }
        }
    }
}
