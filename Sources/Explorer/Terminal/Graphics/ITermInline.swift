import Imaging

// iTerm2 inline images.
//
// One OSC escape carries a whole file: `ESC ] 1337 ; File=<args> : <base64 of the file> BEL`
// (or terminated by ST, `ESC \`). The arguments, `key=value` separated by `;`:
//   inline=1                   show the file rather than download it
//   size=N                     the file's length in bytes (before base64)
//   width=Nc, height=Mc        the size in cells (`N` alone would also be cells, `Npx` pixels)
//   preserveAspectRatio=0      fill exactly that rectangle (Vitrine fits the pixels itself)
// The file is a PNG here (iTerm2 and WezTerm read any format the OS decodes). The image is
// drawn at the cursor; the cursor moves to after it, so callers restore it
// (`GraphicsCursor.save`/`restore`). No name is sent: nothing data-derived goes into the escape.
//
// Learnt from: iTerm2 documentation, "Images" (https://iterm2.com/documentation-images.html)
// and "Proprietary Escape Codes" (https://iterm2.com/documentation-escape-codes.html).

/// Encodes iTerm2 inline images. Pure: bytes out.
public enum ITermInline {
    /// How the OSC string ends.
    public enum Terminator: Sendable, Equatable {
        /// BEL (0x07), what iTerm2's own tools write.
        case bel
        /// ST, `ESC \`.
        case st
    }

    /// `image` as a PNG shown over `columns` x `rows` cells at the cursor.
    public static func encode(_ image: RGBImage, columns: Int, rows: Int,
                              terminator: Terminator = .bel) throws(GraphicsError) -> [UInt8] {
        try GraphicsLimits.check(width: image.width, height: image.height, what: "iterm")
        try GraphicsLimits.check(columns: columns, rows: rows, what: "iterm")
        let png: [UInt8]
        do { png = try PNGEncoder.encode(image) } catch {
            throw GraphicsError.encodingFailed("iterm: the PNG encoder failed: \(error.shortReason)")
        }
        var out = Array("\u{1B}]1337;File=inline=1;size=\(png.count);width=\(columns)c;height=\(rows)c;preserveAspectRatio=0:".utf8)
        out += GraphicsBase64.encode(png)
        switch terminator {
        case .bel: out.append(0x07)
        case .st: out += [0x1B, 0x5C]
        }
        return out
    }

    /// A frame shown over its cells.
    public static func encode(_ frame: GraphicsFrame, terminator: Terminator = .bel) throws(GraphicsError) -> [UInt8] {
        try encode(frame.image, columns: frame.columns, rows: frame.rows, terminator: terminator)
    }
}
