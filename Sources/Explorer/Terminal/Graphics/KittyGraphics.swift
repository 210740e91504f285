import Imaging

// The kitty graphics protocol.
//
// Every command is an APC escape: `ESC _ G <control> ; <payload> ESC \`, where <control> is a
// comma-separated list of `key=value` pairs and <payload> is base64 (RFC 4648 with padding).
// The keys used here:
//   a  action: t transmit (store only), T transmit and display, p display (place) a stored
//      image, d delete
//   f  pixel format: 24 RGB, 32 RGBA, 100 PNG;  s, v  width and height in pixels (RGB/RGBA)
//   i  image id (1 ... 2^32-1), chosen by the client;  p  placement id (1 ... 2^32-1)
//   c, r  columns and rows of cells the image is scaled to;  C=1  the cursor does not move
//   q=2  no reply (OK or error) from the terminal, which would otherwise arrive on stdin
//   m  chunking: a payload whose base64 is over 4096 bytes is sent in chunks of at most 4096
//      bytes, every chunk but the last a multiple of 4 bytes; `m=1` on each chunk but the last,
//      `m=0` on the last; only the first chunk carries the other keys (later ones carry m and q)
//   d  what to delete: `i` the placements of image i (the data stays, so it can be placed again;
//      with p= only that placement), `I` the same and the image data, `A` all placements and
//      all image data that is not referenced (used on quit).
// Images are drawn at the cursor; the caller moves it first (`GraphicsCursor.moveTo`).
//
// Learnt from: "Terminal graphics protocol", kitty documentation,
// https://sw.kovidgoyal.net/kitty/graphics-protocol/ (control data, chunking, "Displaying
// images", "Deleting images", "Suppressing responses").

/// Encodes kitty graphics protocol commands. Pure: bytes out.
public enum KittyGraphics {
    /// How the pixels travel.
    public enum Format: Sendable, Equatable {
        /// `f=24`: 3 bytes per pixel.
        case rgb
        /// `f=32`: 4 bytes per pixel; opaque unless an alpha plane is given.
        case rgba
        /// `f=100`: a PNG file (the terminal decodes it); smallest for photos over a slow link.
        case png

        var code: Int {
            switch self {
            case .rgb: return 24
            case .rgba: return 32
            case .png: return 100
            }
        }
    }

    /// Where a transmitted or stored image is shown: scaled into `columns` x `rows` cells at
    /// the cursor, the cursor left where it is.
    public struct Placement: Sendable, Equatable {
        public var columns: Int
        public var rows: Int
        /// Names the placement so it can be moved (placing it again with the same id replaces it)
        /// or deleted alone. Without one, each `place` adds a placement.
        public var placementID: UInt32?
        public init(columns: Int, rows: Int, placementID: UInt32? = nil) {
            self.columns = columns; self.rows = rows; self.placementID = placementID
        }
    }

    /// Largest base64 payload per chunk, as the protocol requires.
    public static let chunkSize = 4096

    /// Transmits `image` under `id` (`a=t`), or transmits and displays it at the cursor when
    /// `placement` is given (`a=T`), silently (`q=2`). Returns the commands, one per chunk.
    ///
    /// - Parameter alpha: for `.rgba` only, `width * height` alpha values (255 when nil).
    public static func transmitCommands(_ image: RGBImage, id: UInt32, format: Format = .rgb,
                                        alpha: [UInt8]? = nil,
                                        placement: Placement? = nil) throws(GraphicsError) -> [[UInt8]] {
        try checkID(id, what: "image id")
        try GraphicsLimits.check(width: image.width, height: image.height, what: "kitty")
        if let alpha {
            guard format == .rgba else {
                throw GraphicsError.invalidSize("kitty: an alpha plane needs the RGBA format (f=32)")
            }
            guard alpha.count == image.width * image.height else {
                throw GraphicsError.invalidSize(
                    "kitty: \(alpha.count) alpha values for a \(image.width)x\(image.height) image")
            }
        }
        var keys: [(String, UInt64)] = [("f", UInt64(format.code))]
        let data: [UInt8]
        switch format {
        case .rgb:
            data = image.pixels
        case .rgba:
            var out = [UInt8](repeating: 255, count: image.width * image.height * 4)
            for p in 0..<(image.width * image.height) {
                out[p * 4] = image.pixels[p * 3]
                out[p * 4 + 1] = image.pixels[p * 3 + 1]
                out[p * 4 + 2] = image.pixels[p * 3 + 2]
                if let alpha { out[p * 4 + 3] = alpha[p] }
            }
            data = out
        case .png:
            do { data = try PNGEncoder.encode(image) } catch {
                throw GraphicsError.encodingFailed("kitty: the PNG encoder failed: \(error.shortReason)")
            }
        }
        if format != .png {
            keys += [("s", UInt64(image.width)), ("v", UInt64(image.height))]
        }
        keys.append(("i", UInt64(id)))
        var action = "t"
        if let placement {
            action = "T"
            keys += try placementKeys(placement)
        }
        keys.append(("q", 2))
        let control = "a=\(action)," + keys.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        return chunked(control: control, payload: GraphicsBase64.encode(data))
    }

    /// `transmitCommands` joined into one byte string.
    public static func transmit(_ image: RGBImage, id: UInt32, format: Format = .rgb, alpha: [UInt8]? = nil,
                                placement: Placement? = nil) throws(GraphicsError) -> [UInt8] {
        try transmitCommands(image, id: id, format: format, alpha: alpha, placement: placement).flatMap { $0 }
    }

    /// Transmits a frame and, when `display` is true, shows it over the frame's cells at the cursor.
    public static func transmit(_ frame: GraphicsFrame, id: UInt32, format: Format = .rgb,
                                display: Bool, placementID: UInt32? = nil) throws(GraphicsError) -> [UInt8] {
        try transmit(frame.image, id: id, format: format,
                     placement: display ? Placement(columns: frame.columns, rows: frame.rows, placementID: placementID) : nil)
    }

    /// Displays the stored image `id` at the cursor (`a=p`), scaled into the placement's cells,
    /// without moving the cursor; nothing is re-sent.
    public static func place(id: UInt32, _ placement: Placement) throws(GraphicsError) -> [UInt8] {
        try checkID(id, what: "image id")
        let keys = [("i", UInt64(id))] + (try placementKeys(placement)) + [("q", 2)]
        return command("a=p," + keys.map { "\($0.0)=\($0.1)" }.joined(separator: ","))
    }

    /// Removes the placements of image `id` (only placement `placementID` when given) and keeps
    /// its data, so it can be placed again (`a=d,d=i`).
    public static func deletePlacements(id: UInt32, placementID: UInt32? = nil) throws(GraphicsError) -> [UInt8] {
        try checkID(id, what: "image id")
        var control = "a=d,d=i,i=\(id)"
        if let placementID {
            try checkID(placementID, what: "placement id")
            control += ",p=\(placementID)"
        }
        return command(control + ",q=2")
    }

    /// Removes every placement of image `id` and frees its data (`a=d,d=I`).
    public static func deleteImage(id: UInt32) throws(GraphicsError) -> [UInt8] {
        try checkID(id, what: "image id")
        return command("a=d,d=I,i=\(id),q=2")
    }

    /// Removes every placement on the screen and frees the data of every image (`a=d,d=A`);
    /// sent on quit, on resize and from the crash handler.
    public static let deleteAll: [UInt8] = command("a=d,d=A,q=2")

    // MARK: - Implementation

    static func command(_ control: String, payload: ArraySlice<UInt8> = []) -> [UInt8] {
        var out: [UInt8] = [0x1B, 0x5F, 0x47]  // ESC _ G
        out.reserveCapacity(control.utf8.count + payload.count + 6)
        out += control.utf8
        if !payload.isEmpty {
            out.append(0x3B)  // ;
            out += payload
        }
        out += [0x1B, 0x5C]  // ESC \
        return out
    }

    /// The payload cut into chunks of `chunkSize` bytes (a multiple of 4), `m=1` on each but the
    /// last; a payload that fits one chunk is sent without `m`.
    static func chunked(control: String, payload: [UInt8]) -> [[UInt8]] {
        if payload.count <= chunkSize { return [command(control, payload: payload[...])] }
        var commands: [[UInt8]] = []
        var start = 0
        while start < payload.count {
            let end = min(start + chunkSize, payload.count)
            let more = end < payload.count ? 1 : 0
            let keys = start == 0 ? "\(control),m=\(more)" : "q=2,m=\(more)"
            commands.append(command(keys, payload: payload[start..<end]))
            start = end
        }
        return commands
    }

    private static func placementKeys(_ placement: Placement) throws(GraphicsError) -> [(String, UInt64)] {
        try GraphicsLimits.check(columns: placement.columns, rows: placement.rows, what: "kitty placement")
        var keys: [(String, UInt64)] = [("c", UInt64(placement.columns)), ("r", UInt64(placement.rows)), ("C", 1)]
        if let id = placement.placementID {
            try checkID(id, what: "placement id")
            keys.append(("p", UInt64(id)))
        }
        return keys
    }

    private static func checkID(_ id: UInt32, what: String) throws(GraphicsError) {
        guard id != 0 else { throw GraphicsError.invalidIdentifier("kitty: \(what) 0 is not allowed (1...4294967295)") }
    }
}
