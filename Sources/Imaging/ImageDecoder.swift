import CImageCodecs

/// Decodes JPEG and PNG files to 8-bit RGB.
///
/// - The format is detected from the magic bytes, never the file name.
/// - JPEG: baseline, progressive, arithmetic-coded, grayscale, RGB, CMYK and YCCK (Adobe's
///   inverted CMYK when an Adobe APP14 marker is present); the EXIF orientation (1...8) is
///   applied, so the image comes out upright.
/// - PNG: every colour type and bit depth (16-bit samples are scaled to 8 bits), palettes with
///   transparency, Adam7 interlacing. Transparent pixels are composited over **white**:
///   `out = (a * c + (255 - a) * 255) / 255`, rounded. No gamma or ICC conversion is applied
///   (like PIL's `convert("RGB")` for opaque images).
/// - Damaged input is an `ImagingError`, never a crash, a hang or a grey-filled image: a
///   truncated file is `.truncated` (libjpeg's "premature end of file" warning is an error
///   here), malformed data `.corrupt`, an oversized header `.tooLarge` (refused after reading
///   the header, before allocating the pixels).
///
/// The libjpeg/libpng error handling (setjmp/longjmp) stays inside the C target
/// `CImageCodecs`; this type only sees status codes and messages.
public enum ImageDecoder {
    /// Prefix read by `probe(path:)`; enough for the headers of almost every file (EXIF
    /// blocks are at most 64 KB each). Files whose header is longer are read whole.
    static let probePrefixBytes = 256 * 1024

    /// Decodes the image file at `path`.
    public static func decode(path: String, limits: DecodeLimits = .default) throws(ImagingError) -> RGBImage {
        let contents = try FileReader.read(path: path, maxBytes: limits.maxFileBytes)
        return try decodeBytes(contents.bytes, name: path, limits: limits, minSide: 0)
    }

    /// Decodes an image held in memory; `name` is used in errors.
    public static func decode(bytes: [UInt8], name: String,
                              limits: DecodeLimits = .default) throws(ImagingError) -> RGBImage {
        try checkSize(bytes, name: name, limits: limits)
        return try decodeBytes(bytes, name: name, limits: limits, minSide: 0)
    }

    /// Decodes at least as large as needed for `maxSide` (JPEG DCT scaling by 1/8 ... 8/8,
    /// which skips most of the decoding work for large photos), then shrinks to fit in
    /// `maxSide` x `maxSide` with `RGBImage.thumbnail(maxSide:)`. Never upscales.
    public static func thumbnail(path: String, maxSide: Int,
                                 limits: DecodeLimits = .default) throws(ImagingError) -> RGBImage {
        precondition(maxSide > 0, "thumbnail: maxSide must be positive, got \(maxSide)")
        let contents = try FileReader.read(path: path, maxBytes: limits.maxFileBytes)
        return try decodeBytes(contents.bytes, name: path, limits: limits, minSide: maxSide)
            .thumbnail(maxSide: maxSide)
    }

    /// Same as `thumbnail(path:maxSide:limits:)` for an image held in memory.
    public static func thumbnail(bytes: [UInt8], name: String, maxSide: Int,
                                 limits: DecodeLimits = .default) throws(ImagingError) -> RGBImage {
        precondition(maxSide > 0, "thumbnail: maxSide must be positive, got \(maxSide)")
        try checkSize(bytes, name: name, limits: limits)
        return try decodeBytes(bytes, name: name, limits: limits, minSide: maxSide).thumbnail(maxSide: maxSide)
    }

    /// Format and size from the header only (the pixels are not decoded). The size is that of
    /// the image `decode` returns, i.e. after the EXIF orientation is applied. No pixel limit
    /// applies here.
    public static func probe(path: String) throws(ImagingError) -> (format: ImageFormat, width: Int, height: Int) {
        let head = try FileReader.read(path: path, maxBytes: .max, prefix: probePrefixBytes)
        do {
            return try probeBytes(head.bytes, name: path)
        } catch {
            // A header longer than the prefix looks truncated: read the whole file and retry.
            guard error.kind == .truncated, head.fileSize > head.bytes.count else { throw error }
        }
        let whole = try FileReader.read(path: path, maxBytes: DecodeLimits.default.maxFileBytes)
        return try probeBytes(whole.bytes, name: path)
    }

    /// Same as `probe(path:)` for an image held in memory.
    public static func probe(bytes: [UInt8], name: String) throws(ImagingError) -> (format: ImageFormat, width: Int, height: Int) {
        try probeBytes(bytes, name: name)
    }

    // MARK: - Implementation

    private static func checkSize(_ bytes: [UInt8], name: String, limits: DecodeLimits) throws(ImagingError) {
        if bytes.isEmpty { throw ImagingError(file: name, kind: .empty) }
        if bytes.count > limits.maxFileBytes {
            throw ImagingError(file: name, kind: .unreadable(
                "\(bytes.count) bytes, above the \(limits.maxFileBytes)-byte file size limit"))
        }
    }

    /// The format, or the error for content that is not JPEG/PNG (naming other image formats
    /// we recognise, so the user knows what to convert).
    private static func detectFormat(_ bytes: [UInt8], name: String) throws(ImagingError) -> ImageFormat {
        if bytes.isEmpty { throw ImagingError(file: name, kind: .empty) }
        if let format = ImageFormat(magicBytes: bytes) { return format }
        if let other = otherImageFormat(bytes) {
            throw ImagingError(file: name, kind: .unsupported("a \(other) file; only JPEG and PNG are read"))
        }
        throw ImagingError(file: name, kind: .notAnImage)
    }

    private static func otherImageFormat(_ bytes: [UInt8]) -> String? {
        func starts(with ascii: String, at offset: Int = 0) -> Bool {
            let pattern = Array(ascii.utf8)
            return bytes.count >= offset + pattern.count && Array(bytes[offset..<offset + pattern.count]) == pattern
        }
        if starts(with: "GIF87a") || starts(with: "GIF89a") { return "GIF" }
        if starts(with: "RIFF") && starts(with: "WEBP", at: 8) { return "WebP" }
        if starts(with: "II*\u{0}") || starts(with: "MM\u{0}*") { return "TIFF" }
        if starts(with: "BM") && bytes.count >= 26 { return "BMP" }
        if starts(with: "ftyp", at: 4) {
            for brand in ["heic", "heix", "hevc", "mif1", "msf1"] where starts(with: brand, at: 8) { return "HEIF" }
            if starts(with: "avif", at: 8) || starts(with: "avis", at: 8) { return "AVIF" }
        }
        if starts(with: "\u{0}\u{0}\u{0}\u{C}jP  ") { return "JPEG 2000" }
        return nil
    }

    private static func decodeBytes(_ bytes: [UInt8], name: String, limits: DecodeLimits,
                                    minSide: Int) throws(ImagingError) -> RGBImage {
        let format = try detectFormat(bytes, name: name)
        let result: Result<RGBImage, ImagingError> = bytes.withUnsafeBufferPointer { input in
            var message = [CChar](repeating: 0, count: Int(VIC_MESSAGE_CAPACITY))
            var info = vic_image_info()
            var decoder: OpaquePointer?
            let opened = vic_decoder_open(input.baseAddress, input.count, Int64(max(0, limits.maxPixels)),
                                          Int32(clamping: minSide), &decoder, &info, &message, message.count)
            guard opened == VIC_OK, let decoder else {
                return .failure(error(opened, message, info, format, name, limits))
            }
            defer { vic_decoder_close(decoder) }
            let width = Int(info.width), height = Int(info.height)
            var status = VIC_OK
            let pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { output, count in
                status = vic_decoder_read(decoder, output.baseAddress, output.count, &message, message.count)
                count = status == VIC_OK ? output.count : 0
            }
            guard status == VIC_OK else {
                return .failure(error(status, message, info, format, name, limits))
            }
            return .success(RGBImage(width: width, height: height, pixels: pixels))
        }
        return try result.get()
    }

    private static func probeBytes(_ bytes: [UInt8], name: String) throws(ImagingError) -> (format: ImageFormat, width: Int, height: Int) {
        let format = try detectFormat(bytes, name: name)
        let result: Result<(format: ImageFormat, width: Int, height: Int), ImagingError> = bytes.withUnsafeBufferPointer { input in
            var message = [CChar](repeating: 0, count: Int(VIC_MESSAGE_CAPACITY))
            var info = vic_image_info()
            var decoder: OpaquePointer?
            let opened = vic_decoder_open(input.baseAddress, input.count, 0, 0, &decoder, &info, &message, message.count)
            guard opened == VIC_OK, let decoder else {
                return .failure(error(opened, message, info, format, name, .default))
            }
            vic_decoder_close(decoder)
            return .success((format, Int(info.width), Int(info.height)))
        }
        return try result.get()
    }

    /// Maps a C status to the typed error.
    private static func error(_ status: vic_status, _ message: [CChar], _ info: vic_image_info,
                              _ format: ImageFormat, _ name: String, _ limits: DecodeLimits) -> ImagingError {
        let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let detail = text.isEmpty ? "no details from the decoder" : text
        let kind: ImagingError.Kind
        switch status {
        case VIC_E_NOT_IMAGE: kind = .notAnImage
        case VIC_E_TRUNCATED: kind = .truncated
        case VIC_E_TOO_LARGE:
            kind = .tooLarge(width: Int(info.stored_width), height: Int(info.stored_height), limit: limits.maxPixels)
        case VIC_E_UNSUPPORTED: kind = .unsupported(detail)
        case VIC_E_NO_MEMORY: kind = .unreadable("not enough memory to decode it: \(detail)")
        default: kind = .corrupt(detail)
        }
        return ImagingError(file: name, kind: kind, format: format)
    }
}
