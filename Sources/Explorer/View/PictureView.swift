import Imaging

/// How a picture fits a rectangle of cells when the terminal draws real pixels: the arithmetic of
/// `GraphicsFrame.fitting(.contain)`, so that the cells the view leaves blank are exactly the cells
/// the encoded picture covers.
public enum PictureFit {
    /// The cells an image of `width` x `height` pixels covers when scaled to fit (aspect kept) into
    /// `columns` x `rows` cells of `cell` pixels; (0, 0) when nothing fits.
    public static func cells(width: Int, height: Int, columns: Int, rows: Int, cell: CellPixelSize) -> (columns: Int, rows: Int) {
        guard width > 0, height > 0, columns > 0, rows > 0, cell.width > 0, cell.height > 0 else { return (0, 0) }
        let boxWidth = columns * cell.width, boxHeight = rows * cell.height
        let scale = min(Double(boxWidth) / Double(width), Double(boxHeight) / Double(height))
        let w = min(boxWidth, max(1, Int((Double(width) * scale).rounded())))
        let h = min(boxHeight, max(1, Int((Double(height) * scale).rounded())))
        return ((w + cell.width - 1) / cell.width, (h + cell.height - 1) / cell.height)
    }

    /// The pixel size of one cell as the view counts it: the terminal's cell, or for half blocks a
    /// cell one pixel wide and two high.
    static func cell(_ capabilities: TerminalCapabilities) -> CellPixelSize {
        if capabilities.imageMode.drawsPixels, let cell = capabilities.cellPixels { return cell }
        return CellPixelSize(width: 1, height: 2)
    }

    /// The largest scale (screen pixels per image pixel, in `cell` units) at which `width` x
    /// `height` fits `columns` x `rows` cells.
    static func scale(width: Int, height: Int, columns: Int, rows: Int, cell: CellPixelSize) -> Double {
        guard width > 0, height > 0, columns > 0, rows > 0 else { return 0 }
        return min(Double(columns * cell.width) / Double(width), Double(rows * cell.height) / Double(height))
    }

    /// The rectangle, centred in `area`, that an image of `width` x `height` pixels takes at `scale`.
    static func rect(width: Int, height: Int, scale: Double, cell: CellPixelSize, in area: Rect) -> Rect {
        let cols = min(area.width, max(1, Int((Double(width) * scale / Double(cell.width)).rounded(.up))))
        let rows = min(area.height, max(1, Int((Double(height) * scale / Double(cell.height)).rounded(.up))))
        return Rect(x: area.x + (area.width - cols) / 2, y: area.y + (area.height - rows) / 2, width: cols, height: rows)
    }
}

extension Canvas {
    /// Draws an image centred in `rect`: a picture of real pixels when the terminal shows them
    /// (`TerminalCapabilities.imageMode`), else half blocks or ASCII (`ImageCells`). `key` names
    /// the pixels (the image's path, and what was drawn over it); `thumbnail`: a result row's
    /// small picture, which a guest session draws in blocks (SSH frame budget). Returns the
    /// rectangle covered.
    @discardableResult
    mutating func drawPicture(_ image: RGBImage, key: String, in rect: Rect, thumbnail: Bool = false,
                              tint: AttentionTint? = nil) -> Rect {
        let caps = state.capabilities
        if caps.imageMode.drawsPixels, let cell = caps.cellPixels, !(thumbnail && state.isGuest) {
            let (cols, rows) = PictureFit.cells(width: image.width, height: image.height,
                                                columns: rect.width, rows: rect.height, cell: cell)
            guard cols > 0, rows > 0 else { return Rect(x: rect.x, y: rect.y, width: 0, height: 0) }
            let placed = Rect(x: rect.x + (rect.width - cols) / 2, y: rect.y + (rect.height - rows) / 2, width: cols, height: rows)
            frame.fill(x: placed.x, y: placed.y, width: placed.width, height: placed.height, style: CellStyle(.image))
            frame.pictures.append(Picture(rect: placed, key: key, source: image, tint: tint))
            return placed
        }
        var blocks = caps
        if blocks.imageMode.drawsPixels { blocks.images = .blocks }
        if let tint {
            return AttentionCells.draw(image, map: tint.map, side: tint.side, into: &frame, rect: rect, capabilities: blocks)
        }
        return ImageCells.draw(image, into: &frame, rect: rect, capabilities: blocks)
    }

    /// An image with its attention map over it, letterboxed to the square the model saw.
    @discardableResult
    mutating func drawAttentionPicture(_ image: RGBImage, map: [Float], side: Int, key: String, in rect: Rect) -> Rect {
        guard side > 0, map.count == side * side, image.width > 0, image.height > 0 else {
            return drawPicture(image, key: key, in: rect)
        }
        let square = image.letterboxed(side: max(image.width, image.height)).image
        return drawPicture(square, key: "\(key)|attention:\(side):\(Self.fingerprint(map))", in: rect,
                           tint: AttentionTint(map: map, side: side))
    }

    /// A short fingerprint of a map's values (FNV-1a over their bits), so that a new map of the same
    /// match (another token, another model) is another picture.
    static func fingerprint(_ map: [Float]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in map { h = (h ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01B3 }
        return String(h, radix: 16)
    }

    /// Pictures cannot sit under an overlay (kitty draws them over text; sixel pixels would be cut
    /// by it): before the help, a dialog or the model picker is drawn, every picture becomes half
    /// blocks in its own cells.
    mutating func picturesToBlocks() {
        guard !frame.pictures.isEmpty else { return }
        var blocks = state.capabilities
        blocks.images = .blocks
        for picture in frame.pictures {
            if let tint = picture.tint {
                AttentionCells.draw(picture.source, map: tint.map, side: tint.side, into: &frame, rect: picture.rect, capabilities: blocks)
            } else {
                ImageCells.draw(picture.source, into: &frame, rect: picture.rect, capabilities: blocks)
            }
        }
        frame.pictures.removeAll()
    }
}
