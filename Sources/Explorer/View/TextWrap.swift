/// Word wrapping by display width: breaks at spaces where it can, anywhere in
/// CJK text (which has no spaces), and inside words longer than a line.
public enum TextWrap {
    public static func lines(_ text: String, width: Int) -> [String] {
        guard width > 0 else { return [] }
        var lines: [String] = []
        var line = ""
        var lineWidth = 0
        // Tokens: runs of non-space characters, or a single space.
        var word = ""
        var wordWidth = 0

        func flushWord() {
            guard !word.isEmpty else { return }
            if lineWidth + wordWidth <= width {
                line += word; lineWidth += wordWidth
            } else if wordWidth <= width && !isBreakable(word) {
                lines.append(trimTrailing(line)); line = word; lineWidth = wordWidth
            } else {
                // Long word or CJK run: fill the line character by character.
                for ch in word {
                    let w = DisplayWidth.of(ch)
                    if lineWidth + w > width { lines.append(trimTrailing(line)); line = ""; lineWidth = 0 }
                    line.append(ch); lineWidth += w
                }
            }
            word = ""; wordWidth = 0
        }

        for ch in text {
            if ch == " " {
                flushWord()
                if lineWidth > 0 && lineWidth < width { line.append(" "); lineWidth += 1 }
                else if lineWidth >= width { lines.append(trimTrailing(line)); line = ""; lineWidth = 0 }
            } else {
                word.append(ch); wordWidth += DisplayWidth.of(ch)
            }
        }
        flushWord()
        if !line.isEmpty { lines.append(trimTrailing(line)) }
        return lines
    }

    /// CJK runs may break between any two characters.
    private static func isBreakable(_ word: String) -> Bool {
        word.unicodeScalars.contains { DisplayWidth.of(Character($0)) == 2 }
    }

    private static func trimTrailing(_ s: String) -> String {
        var t = s
        while t.last == " " { t.removeLast() }
        return t
    }
}
