import ArgumentParser
import Explorer
import Foundation
import Imaging
import SafeText

/// `vitrine show IMAGE`: draws an image file in the terminal the way the explorer draws its
/// pictures (README, "Pictures"): real pixels where the terminal shows them, else half blocks.
/// The bytes written are the encoders' output (numbers and pixels); nothing from the file name
/// reaches the terminal except through `Console`'s escaping.
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Draw an image file in the terminal as the explorer draws pictures (kitty, sixel, iTerm2, half blocks or ASCII).")

    @Argument(help: ArgumentHelp("A JPEG or PNG file.", valueName: "IMAGE"))
    var image: String

    @Option(name: .long, help: ArgumentHelp("auto (asks the terminal), kitty, sixel, iterm, blocks or ascii.", valueName: "MODE"))
    var images: String = "auto"

    @Option(name: .long, help: ArgumentHelp("The cells the picture may take, COLSxROWS. Default: the terminal's width and two thirds of its height (80x24 without a terminal).", valueName: "COLSxROWS"))
    var size: String?

    @Option(name: .long, help: ArgumentHelp("A cell's size in pixels, WxH. Default: what the terminal reports, else 10x20.", valueName: "WxH"))
    var cellPixels: String?

    @Flag(name: .long, help: "The smallest encodings: PNG for kitty, no dithering for sixel (what a guest session sends).")
    var compact = false

    @Flag(name: .long, help: "Print the mode, the size, the bytes and the encoding time on standard error.")
    var stats = false

    static func pair(_ text: String, _ option: String, limit: Int) throws -> (Int, Int) {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), (1...limit).contains(a), (1...limit).contains(b) else {
            throw ValidationError("\(option) must be two numbers from 1 to \(limit) joined by x (got \(SafeText.terminal(text)))")
        }
        return (a, b)
    }

    func validate() throws {
        do { _ = try ImagesOption.parse(images) } catch { throw ValidationError(error.description) }
        if let size { _ = try Self.pair(size, "--size", limit: GraphicsLimits.maxCells) }
        if let cellPixels { _ = try Self.pair(cellPixels, "--cell-pixels", limit: GraphicsLimits.maxCellPixels) }
    }

    func run() throws {
        let path = absolute(image)
        let decoded: RGBImage
        do { decoded = try ImageDecoder.decode(path: path) } catch {
            throw ValidationError("\(image): \(error.shortReason)")
        }
        let terminal = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        let env = ProcessInfo.processInfo.environment
        let choice = (try? ImagesOption.parse(images)) ?? .auto
        var detection = GraphicsDetection(mode: .blocks, reason: "standard output is not a terminal")
        if case .fixed(let mode) = choice {
            detection = GraphicsDetection(mode: mode, reason: "--images", tmuxPassthrough: !(env["TMUX"] ?? "").isEmpty && mode.passesThroughTmux)
        } else if terminal {
            detection = GraphicsDetection.detect(choice: .auto, environment: env)
        }
        let window = PictureOutput.windowSize()
        var cell = CellPixelSize(width: 10, height: 20)
        if let cellPixels {
            let (w, h) = try Self.pair(cellPixels, "--cell-pixels", limit: GraphicsLimits.maxCellPixels)
            cell = CellPixelSize(width: w, height: h)
        } else if let c = detection.cellPixels, (1...GraphicsLimits.maxCellPixels).contains(c.width), (1...GraphicsLimits.maxCellPixels).contains(c.height) {
            cell = CellPixelSize(width: c.width, height: c.height)
        } else if let c = window?.cell, c.width <= GraphicsLimits.maxCellPixels, c.height <= GraphicsLimits.maxCellPixels {
            cell = c
        }
        var (columns, rows) = (80, 24)
        if let size { (columns, rows) = try Self.pair(size, "--size", limit: GraphicsLimits.maxCells) } else if let window {
            (columns, rows) = (window.columns, max(1, window.rows * 2 / 3))
        }
        let truecolor = ["truecolor", "24bit"].contains((env["COLORTERM"] ?? "").lowercased())
        let started = DispatchTime.now().uptimeNanoseconds
        let result: (bytes: [UInt8], columns: Int, rows: Int)
        do {
            result = try PictureOutput.encode(decoded, mode: detection.mode, columns: columns, rows: rows, cell: cell,
                                              compact: compact, truecolor: truecolor, tmuxPassthrough: detection.tmuxPassthrough)
        } catch {
            throw ValidationError("\(image): \(error.description)")
        }
        let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        result.bytes.withUnsafeBufferPointer { buffer in
            var done = 0
            while done < buffer.count {
                let n = write(STDOUT_FILENO, buffer.baseAddress! + done, buffer.count - done)
                if n <= 0 { if errno == EINTR { continue }; break }
                done += n
            }
        }
        if stats {
            Console.error("\(detection.mode.rawValue): \(decoded.width)x\(decoded.height) pixels in \(result.columns)x\(result.rows) cells of "
                          + "\(cell.width)x\(cell.height) px, \(result.bytes.count) bytes, encoded in \(String(format: "%.1f", milliseconds)) ms")
        }
    }
}
