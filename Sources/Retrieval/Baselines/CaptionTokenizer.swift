import Foundation

/// Splits e-commerce titles into the terms the BM25 baseline matches.
///
/// The text is NFKC-normalised (full-width `ＡＨＣ２４Ｋ` becomes `AHC24K`) and lower-cased. Runs of
/// letters, digits and combining marks outside the CJK blocks are words (`ahc`, `24k`, `spf50`);
/// runs of CJK ideographs and kana, which are written without spaces, give every character
/// (unigram) and every pair of neighbours (bigram): `黄金水` gives `黄`, `金`, `水`, `黄金`, `金水`.
/// Everything else (spaces, punctuation, symbols such as `【` or `+`) separates terms.
public enum CaptionTokenizer {
    /// The terms of `text`, in order (repeats kept): for each CJK run its unigrams, then its bigrams.
    public static func terms(_ text: String) -> [String] {
        let normalised = text.precomposedStringWithCompatibilityMapping.lowercased()
        var terms: [String] = []
        var word = String.UnicodeScalarView()
        var run: [Unicode.Scalar] = []

        func flushWord() {
            if !word.isEmpty { terms.append(String(word)) }
            word = String.UnicodeScalarView()
        }
        func flushRun() {
            guard !run.isEmpty else { return }
            for scalar in run { terms.append(String(scalar)) }
            if run.count > 1 {
                for i in 0..<(run.count - 1) {
                    var pair = String.UnicodeScalarView()
                    pair.append(run[i])
                    pair.append(run[i + 1])
                    terms.append(String(pair))
                }
            }
            run.removeAll(keepingCapacity: true)
        }

        for scalar in normalised.unicodeScalars {
            if isCJK(scalar) {
                flushWord()
                run.append(scalar)
            } else if isWordScalar(scalar) {
                flushRun()
                word.append(scalar)
            } else {
                flushWord()
                flushRun()
            }
        }
        flushWord()
        flushRun()
        return terms
    }

    /// CJK ideographs (unified, extensions, compatibility) and Japanese kana.
    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x3040...0x30FF,     // Hiragana, Katakana
             0x3400...0x4DBF,     // Extension A
             0x4E00...0x9FFF,     // Unified Ideographs
             0xF900...0xFAFF,     // Compatibility Ideographs
             0x20000...0x2FA1F:   // Extensions B and later, Compatibility Supplement
            return true
        default:
            return false
        }
    }

    static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        if properties.isAlphabetic || properties.numericType != nil { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }
}
