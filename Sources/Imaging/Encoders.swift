import CImageCodecs

/// Writes RGB images as baseline JPEG: 4:2:0 chroma subsampling, JFIF header, standard Huffman
/// tables, accurate integer DCT, no timestamps or metadata, so the bytes depend only on the
/// pixels and the quality (the SampleData generator relies on that).
public enum JPEGEncoder {
    /// - Parameter quality: libjpeg quality, 1...100.
    /// - Throws: `.unsupported` for an empty image, a side above 65,500 pixels or a quality
    ///   outside 1...100.
    public static func encode(_ image: RGBImage, quality: Int = 85) throws(ImagingError) -> [UInt8] {
        guard (1...100).contains(quality) else {
            throw ImagingError(file: "(JPEG encoder)", kind: .unsupported("quality \(quality) is outside 1...100"),
                               format: .jpeg)
        }
        return try encodeWithCodec(image, format: .jpeg) { pixels, output, length, message in
            vic_jpeg_encode(pixels, Int32(clamping: image.width), Int32(clamping: image.height), Int32(quality),
                            output, length, message, Int(VIC_MESSAGE_CAPACITY))
        }
    }
}

/// Writes RGB images as 8-bit RGB PNG (non-interlaced, zlib level 6, no metadata).
public enum PNGEncoder {
    /// - Throws: `.unsupported` for an empty image.
    public static func encode(_ image: RGBImage) throws(ImagingError) -> [UInt8] {
        try encodeWithCodec(image, format: .png) { pixels, output, length, message in
            vic_png_encode(pixels, Int32(clamping: image.width), Int32(clamping: image.height),
                           output, length, message, Int(VIC_MESSAGE_CAPACITY))
        }
    }
}

/// Runs a C encoder and copies its malloc'ed output into an array.
private func encodeWithCodec(
    _ image: RGBImage, format: ImageFormat,
    _ encode: (UnsafePointer<UInt8>, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
               UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>) -> vic_status
) throws(ImagingError) -> [UInt8] {
    let name = "(\(format.displayName) encoder)"
    guard image.width > 0, image.height > 0, image.width <= Int(Int32.max), image.height <= Int(Int32.max) else {
        throw ImagingError(file: name, kind: .unsupported("cannot encode a \(image.width)x\(image.height) image"),
                           format: format)
    }
    var message = [CChar](repeating: 0, count: Int(VIC_MESSAGE_CAPACITY))
    var output: UnsafeMutablePointer<UInt8>?
    var length = 0
    let status = image.pixels.withUnsafeBufferPointer { pixels in
        message.withUnsafeMutableBufferPointer { text in
            encode(pixels.baseAddress!, &output, &length, text.baseAddress!)
        }
    }
    defer { vic_free(output) }
    guard status == VIC_OK, let output else {
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let kind: ImagingError.Kind = status == VIC_E_NO_MEMORY
            ? .unreadable("not enough memory to encode: \(text)")
            : .unsupported(text.isEmpty ? "the encoder failed" : text)
        throw ImagingError(file: name, kind: kind, format: format)
    }
    return Array(UnsafeBufferPointer(start: output, count: length))
}
