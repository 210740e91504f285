/// Limits applied while decoding, so a hostile or broken file cannot exhaust memory.
///
/// Both are checked before anything image-sized is allocated: the file size before reading
/// it, the pixel count after reading only the header.
public struct DecodeLimits: Sendable, Equatable {
    /// Largest `width * height` (as declared in the header) that will be decoded.
    public var maxPixels: Int
    /// Largest file, in bytes, that will be read.
    public var maxFileBytes: Int

    public init(maxPixels: Int = 50_000_000, maxFileBytes: Int = 200_000_000) {
        self.maxPixels = maxPixels
        self.maxFileBytes = maxFileBytes
    }

    /// 50 megapixels, 200 MB.
    public static let `default` = DecodeLimits()
}

/// The image formats Vitrine reads. Detected from the file's first bytes, never its extension.
public enum ImageFormat: String, Sendable {
    case jpeg, png

    /// Recognises JPEG (`FF D8 FF`) and PNG (the 8-byte PNG signature); nil for anything else.
    public init?<Bytes: Collection>(magicBytes bytes: Bytes) where Bytes.Element == UInt8 {
        let head = Array(bytes.prefix(8))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF {
            self = .jpeg
        } else if head == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] {
            self = .png
        } else {
            return nil
        }
    }

    /// "JPEG" or "PNG", for messages.
    public var displayName: String {
        switch self {
        case .jpeg: "JPEG"
        case .png: "PNG"
        }
    }
}

/// Why an image could not be read, decoded or encoded, and which file it was.
///
/// `description` is a full sentence for logs and the command line ("what went wrong, where,
/// what to do"); `shortReason` is a few words for placeholders in the explorer.
public struct ImagingError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The path does not exist.
        case notFound
        /// The file exists but could not be read (permissions, a directory, over the size
        /// limit, an I/O error, or not enough memory); the string says which.
        case unreadable(String)
        /// The file has no bytes at all.
        case empty
        /// The content is neither JPEG nor PNG (nor another image format we recognise).
        case notAnImage
        /// The data ends before the image is complete (an interrupted download or copy).
        case truncated
        /// The data is malformed; the string is the decoder's explanation.
        case corrupt(String)
        /// The header declares more pixels than `DecodeLimits.maxPixels`.
        case tooLarge(width: Int, height: Int, limit: Int)
        /// A valid image we do not handle (e.g. GIF, WebP, 12-bit or lossless JPEG), or an
        /// image the encoders cannot write; the string says which.
        case unsupported(String)
    }

    /// The file's path, or the name given to `ImageDecoder.decode(bytes:name:)`.
    public let file: String
    public let kind: Kind
    /// The detected format, when the failure happened inside a decoder or encoder.
    public let format: ImageFormat?

    public init(file: String, kind: Kind, format: ImageFormat? = nil) {
        self.file = file
        self.kind = kind
        self.format = format
    }

    private var formatName: String { format?.displayName ?? "image" }

    /// E.g. `images/123.jpg: truncated JPEG (the file ends early); re-download or replace it`.
    public var description: String {
        switch kind {
        case .notFound:
            return "\(file): file not found; check the path and the data set's location"
        case .unreadable(let reason):
            return "\(file): cannot be read (\(reason)); check the file's permissions and size"
        case .empty:
            return "\(file): empty file (0 bytes); re-download or replace it"
        case .notAnImage:
            return "\(file): not a JPEG or PNG image (unrecognised content); replace it or remove it from the data set"
        case .truncated:
            return "\(file): truncated \(formatName) (the file ends early); re-download or replace it"
        case .corrupt(let detail):
            return "\(file): corrupt \(formatName) (\(detail)); re-download or replace it"
        case .tooLarge(let width, let height, let limit):
            return "\(file): image too large (\(width)x\(height) = \(width * height) pixels, the limit is \(limit)); "
                + "downscale it or raise the pixel limit"
        case .unsupported(let detail):
            return "\(file): unsupported \(formatName) (\(detail)); convert it to a baseline JPEG or an 8-bit PNG"
        }
    }

    /// A few words for UI placeholders, e.g. "truncated JPEG".
    public var shortReason: String {
        switch kind {
        case .notFound: "file not found"
        case .unreadable: "unreadable file"
        case .empty: "empty file"
        case .notAnImage: "not an image"
        case .truncated: "truncated \(formatName)"
        case .corrupt: "corrupt \(formatName)"
        case .tooLarge: "image too large"
        case .unsupported: "unsupported \(formatName)"
        }
    }
}
