// tmux passthrough.
//
// tmux interprets escape sequences itself, so an image escape meant for the outer terminal is
// wrapped in a DCS string addressed to tmux: `ESC P tmux ; <sequence, every ESC doubled> ESC \`.
// tmux (3.3+ with `set -g allow-passthrough on`) strips the wrapper, undoubles the ESCs and
// writes the sequence to the outer terminal unchanged. tmux does not know the image is there:
// the caller must delete it itself (kitty `a=d`) and redraw after tmux repaints. Each escape is
// wrapped on its own (kitty chunks one by one), which keeps every wrapper well under tmux's
// input buffer limit.
//
// Learnt from: tmux(1), "allow-passthrough" and the "\ePtmux;" passthrough description; the
// tmux FAQ/wiki on passthrough escape sequences.

/// Wraps escape sequences for tmux passthrough. Pure: bytes out.
public enum GraphicsPassthrough {
    /// `sequence` wrapped for tmux, every ESC (0x1B) in it doubled.
    public static func tmux(_ sequence: [UInt8]) -> [UInt8] {
        var out: [UInt8] = Array("\u{1B}Ptmux;".utf8)
        out.reserveCapacity(sequence.count + sequence.count / 64 + 12)
        for byte in sequence {
            if byte == 0x1B { out.append(0x1B) }
            out.append(byte)
        }
        out += [0x1B, 0x5C]
        return out
    }

    /// Each sequence wrapped on its own, joined.
    public static func tmux(sequences: [[UInt8]]) -> [UInt8] {
        sequences.flatMap { tmux($0) }
    }
}
