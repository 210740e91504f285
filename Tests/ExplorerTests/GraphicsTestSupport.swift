import Foundation
import Imaging

// Shared by the graphics test files (GraphicsEncoderTests, GraphicsPainterTests): decoders for
// what the terminal image encoders emit, written from the protocol descriptions (kitty APC
// chunks, sixel DCS, iTerm2 OSC 1337, tmux passthrough), and a pixel error measure.

// MARK: - Independent decoders

enum Decoders {
    struct KittyCommand {
        var keys: [String: String]
        var payload: String
    }

    /// Splits a byte stream into kitty APC commands (`ESC _ G control ; payload ESC \`); nil if
    /// anything else is in the stream.
    static func kittyCommands(_ bytes: [UInt8]) -> [KittyCommand]? {
        var commands: [KittyCommand] = []
        var i = 0
        while i < bytes.count {
            guard i + 2 < bytes.count, bytes[i] == 0x1B, bytes[i + 1] == 0x5F, bytes[i + 2] == 0x47 else { return nil }
            var j = i + 3
            while j + 1 < bytes.count && !(bytes[j] == 0x1B && bytes[j + 1] == 0x5C) { j += 1 }
            guard j + 1 < bytes.count else { return nil }
            let body = String(decoding: bytes[(i + 3)..<j], as: UTF8.self)
            let parts = body.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
            var keys: [String: String] = [:]
            for pair in parts[0].split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, keys[String(kv[0])] == nil else { return nil }
                keys[String(kv[0])] = String(kv[1])
            }
            commands.append(KittyCommand(keys: keys, payload: parts.count > 1 ? String(parts[1]) : ""))
            i = j + 2
        }
        return commands
    }

    struct KittyImage {
        var keys: [String: String]
        var data: [UInt8]
        var chunks: Int
    }

    /// Reassembles chunked transmissions (m=1 ... m=0) and base64-decodes their payloads.
    static func kittyImages(_ commands: [KittyCommand]) -> [KittyImage]? {
        var images: [KittyImage] = []
        var pending: (keys: [String: String], base64: String, chunks: Int)?
        for c in commands {
            if var p = pending {
                // A continuation carries only m and q.
                guard Set(c.keys.keys).isSubset(of: ["m", "q"]) else { return nil }
                p.base64 += c.payload
                p.chunks += 1
                pending = p
            } else {
                pending = (c.keys, c.payload, 1)
            }
            if c.keys["m"] != "1", let p = pending {
                guard let data = Data(base64Encoded: p.base64) else { return nil }
                images.append(KittyImage(keys: p.keys, data: Array(data), chunks: p.chunks))
                pending = nil
            }
        }
        return pending == nil ? images : nil
    }

    /// The pixels of a kitty transmission (f=24, f=32 dropping alpha, f=100 through the PNG decoder).
    static func kittyPixels(_ image: KittyImage) throws -> RGBImage {
        switch image.keys["f"] {
        case "24":
            let w = Int(image.keys["s"]!)!, h = Int(image.keys["v"]!)!
            return RGBImage(width: w, height: h, pixels: image.data)
        case "32":
            let w = Int(image.keys["s"]!)!, h = Int(image.keys["v"]!)!
            var rgb: [UInt8] = []
            for p in 0..<(w * h) { rgb += image.data[(p * 4)..<(p * 4 + 3)] }
            return RGBImage(width: w, height: h, pixels: rgb)
        case "100":
            return try ImageDecoder.decode(bytes: image.data, name: "kitty.png")
        default:
            throw DecodeFailure("unknown format \(image.keys["f"] ?? "-")")
        }
    }

    struct DecodeFailure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    struct SixelResult {
        var image: RGBImage
        var registers: Int
        var colourLines: Int
        var repeats: Int
    }

    /// Decodes a sixel DCS string: raster attributes, colour registers (RGB, 0...100), colour
    /// selection, sixel characters, `!` repeats, `$` and `-`. Every pixel must be painted
    /// exactly once.
    static func sixel(_ bytes: [UInt8]) throws -> SixelResult {
        guard bytes.count > 4, bytes[0] == 0x1B, bytes[1] == 0x50, bytes.suffix(2) == [0x1B, 0x5C] else {
            throw DecodeFailure("not a DCS string")
        }
        var i = 2
        while i < bytes.count && bytes[i] != UInt8(ascii: "q") {
            guard (bytes[i] >= 0x30 && bytes[i] <= 0x39) || bytes[i] == 0x3B else { throw DecodeFailure("bad DCS parameter") }
            i += 1
        }
        i += 1
        let end = bytes.count - 2
        func number() throws -> Int {
            var v = 0, digits = 0
            while i < end, bytes[i] >= 0x30, bytes[i] <= 0x39 { v = v * 10 + Int(bytes[i] - 0x30); i += 1; digits += 1 }
            guard digits > 0 else { throw DecodeFailure("number expected at \(i)") }
            return v
        }
        func numbers() throws -> [Int] {
            var list = [try number()]
            while i < end && bytes[i] == 0x3B { i += 1; list.append(try number()) }
            return list
        }
        guard bytes[i] == UInt8(ascii: "\"") else { throw DecodeFailure("raster attributes expected") }
        i += 1
        let raster = try numbers()
        guard raster.count == 4, raster[0] == 1, raster[1] == 1 else { throw DecodeFailure("raster \(raster)") }
        let w = raster[2], h = raster[3]
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        var painted = [UInt8](repeating: 0, count: w * h)
        var palette: [Int: (UInt8, UInt8, UInt8)] = [:]
        var colour: (UInt8, UInt8, UInt8)?
        var x = 0, band = 0, lines = 0, repeats = 0
        func paint(_ char: UInt8, _ count: Int) throws {
            guard let c = colour else { throw DecodeFailure("sixel before a colour") }
            let bits = Int(char) - 0x3F
            for _ in 0..<count {
                for r in 0..<6 where bits & (1 << r) != 0 {
                    let y = band + r
                    guard x < w, y < h else { throw DecodeFailure("pixel \(x),\(y) outside \(w)x\(h)") }
                    painted[y * w + x] += 1
                    pixels[(y * w + x) * 3] = c.0; pixels[(y * w + x) * 3 + 1] = c.1; pixels[(y * w + x) * 3 + 2] = c.2
                }
                x += 1
            }
        }
        func scale(_ p: Int) throws -> UInt8 {
            guard (0...100).contains(p) else { throw DecodeFailure("colour value \(p) outside 0...100") }
            return UInt8((Double(p) * 255 / 100).rounded())
        }
        while i < end {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "#"):
                i += 1
                let params = try numbers()
                if params.count == 5 {
                    guard params[1] == 2 else { throw DecodeFailure("colour space \(params[1])") }
                    palette[params[0]] = (try scale(params[2]), try scale(params[3]), try scale(params[4]))
                } else if params.count == 1 {
                    guard let c = palette[params[0]] else { throw DecodeFailure("undefined register \(params[0])") }
                    colour = c
                    lines += 1
                } else {
                    throw DecodeFailure("colour introducer \(params)")
                }
            case UInt8(ascii: "!"):
                i += 1
                let n = try number()
                guard i < end, bytes[i] >= 0x3F, bytes[i] <= 0x7E else { throw DecodeFailure("repeat without a sixel") }
                try paint(bytes[i], n)
                repeats += 1
                i += 1
            case UInt8(ascii: "$"):
                x = 0; i += 1
            case UInt8(ascii: "-"):
                x = 0; band += 6; i += 1
            case 0x3F...0x7E:
                try paint(b, 1); i += 1
            default:
                throw DecodeFailure("unexpected byte \(b) at \(i)")
            }
        }
        guard painted.allSatisfy({ $0 == 1 }) else {
            throw DecodeFailure("\(painted.filter { $0 != 1 }.count) pixels not painted exactly once")
        }
        return SixelResult(image: RGBImage(width: w, height: h, pixels: pixels), registers: palette.count,
                           colourLines: lines, repeats: repeats)
    }

    /// Decodes `ESC ] 1337 ; File=args : base64 (BEL | ESC \)`: the arguments and the file.
    static func iterm(_ bytes: [UInt8]) -> (arguments: [String: String], file: [UInt8])? {
        let prefix = Array("\u{1B}]1337;File=".utf8)
        guard bytes.starts(with: prefix) else { return nil }
        var body = bytes[prefix.count...]
        if body.last == 0x07 { body = body.dropLast() } else if body.suffix(2) == [0x1B, 0x5C] { body = body.dropLast(2) } else { return nil }
        guard let colon = body.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        var arguments: [String: String] = [:]
        for pair in String(decoding: body[..<colon], as: UTF8.self).split(separator: ";") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { return nil }
            arguments[String(kv[0])] = String(kv[1])
        }
        guard let data = Data(base64Encoded: String(decoding: body[(colon + 1)...], as: UTF8.self)) else { return nil }
        return (arguments, Array(data))
    }

    /// Unwraps tmux passthrough strings (`ESC P tmux ; ... ESC \`, ESCs doubled) back to what they carry.
    static func tmuxUnwrap(_ bytes: [UInt8]) -> [UInt8]? {
        let prefix = Array("\u{1B}Ptmux;".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            guard bytes[i...].starts(with: prefix) else { return nil }
            i += prefix.count
            var closed = false
            while i < bytes.count {
                if bytes[i] == 0x1B {
                    guard i + 1 < bytes.count else { return nil }
                    if bytes[i + 1] == 0x1B { out.append(0x1B); i += 2; continue }
                    if bytes[i + 1] == 0x5C { i += 2; closed = true; break }
                    return nil  // a lone ESC inside
                }
                out.append(bytes[i]); i += 1
            }
            guard closed else { return nil }
        }
        return out
    }
}

// MARK: - Pixel error

struct ErrorStats: CustomStringConvertible {
    var mean: Double
    var max: Int
    var description: String { String(format: "mean %.2f, max %d", mean, max) }

    /// Mean and max absolute difference per channel.
    init(_ a: RGBImage, _ b: RGBImage) {
        precondition(a.width == b.width && a.height == b.height)
        var total = 0, worst = 0
        for i in a.pixels.indices {
            let d = abs(Int(a.pixels[i]) - Int(b.pixels[i]))
            total += d; worst = Swift.max(worst, d)
        }
        mean = Double(total) / Double(a.pixels.count)
        max = worst
    }

    /// The same over `block` x `block` averages (what the eye sees of a dithered image).
    static func blockMean(_ a: RGBImage, _ b: RGBImage, block: Int) -> Double {
        var total = 0.0, n = 0
        for by in stride(from: 0, to: a.height - block + 1, by: block) {
            for bx in stride(from: 0, to: a.width - block + 1, by: block) {
                for c in 0..<3 {
                    var sa = 0, sb = 0
                    for y in by..<(by + block) { for x in bx..<(bx + block) {
                        sa += Int(a.pixels[(y * a.width + x) * 3 + c]); sb += Int(b.pixels[(y * a.width + x) * 3 + c])
                    } }
                    total += abs(Double(sa - sb)) / Double(block * block); n += 1
                }
            }
        }
        return total / Double(n)
    }
}
