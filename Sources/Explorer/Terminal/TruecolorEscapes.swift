import CNcurses

/// How 24-bit colours are written to the terminal.
///
/// The direct-colour terminfo entries of ncurses (`xterm-direct`, `tmux-direct`, `iterm2-direct`,
/// `kitty-direct`, ...) write them in the ITU T.416 colon form, `ESC[38:2::R:G:Bm`. Many
/// terminals read only the semicolon form `ESC[38;2;R;G;Bm`, which essentially every truecolor
/// terminal reads (and which `COLORTERM=truecolor` promises). So Vitrine rewrites the entry's
/// `setaf` and `setab` in memory after curses has loaded it (no file is written), unless
/// `VITRINE_TRUECOLOR_FORM=colon` asks to keep the entry's own form.
public enum TruecolorForm: String, Sendable, Equatable {
    /// `ESC[38;2;R;G;Bm` (the default).
    case semicolon
    /// Whatever the terminfo entry says (`ESC[38:2::R:G:Bm` for xterm-direct).
    case colon

    /// The environment variable that chooses the form.
    public static let environmentVariable = "VITRINE_TRUECOLOR_FORM"

    /// `colon` when `VITRINE_TRUECOLOR_FORM` says so (any case); the semicolon form otherwise,
    /// unknown values included: a typo must not keep the explorer from starting.
    public static func from(environment: [String: String]) -> TruecolorForm {
        environment[environmentVariable]?.lowercased() == "colon" ? .colon : .semicolon
    }
}

/// Rewrites terminfo colour strings (`setaf`, `setab`) from the colon form of the extended SGR
/// colours to the semicolon form, keeping everything else (the small colours' `3x`/`4x` branch,
/// the conditionals, the arithmetic that unpacks the colour value) as it is.
///
/// A direct-colour entry passes the colour as one number, R*65536 + G*256 + B, and unpacks it
/// with terminfo's stack language; xterm-direct's
///
///     \E[%?%p1%{8}%<%t3%p1%d%e38:2::%p1%{65536}%/%d:%p1%{256}%/%{255}%&%d:%p1%{255}%&%d%;m
///
/// becomes
///
///     \E[%?%p1%{8}%<%t3%p1%d%e38;2;%p1%{65536}%/%d;%p1%{256}%/%{255}%&%d;%p1%{255}%&%d%;m
///
/// (the empty colour-space field of `38:2::` has no place in the semicolon form). The rewritten
/// string is never longer than the original, so it can replace it in place.
public enum SGRColorTemplate {
    /// The semicolon form of `template`, or nil when there is nothing to rewrite (the entry
    /// already uses semicolons, or has no extended colours) or the string is not one this
    /// understands (then the entry is best left alone).
    ///
    /// Rewritten: `38:2::R:G:B`, `38:2:R:G:B` and `38:2:CS:R:G:B` (the colour space dropped) to
    /// `38;2;R;G;B`; `38:5:N` to `38;5;N`; the same with 48 (background). Each of R, G, B, N is
    /// a run of digits and `%` expressions (`%p1%{256}%/%{255}%&%d`).
    public static func semicolonForm(of template: String) -> String? {
        guard let tokens = tokenize(Array(template.utf8)) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(template.utf8.count)
        var changed = false
        var i = 0
        while i < tokens.count {
            if let (kind, end) = colonColour(in: tokens, at: i) {
                // tokens[i..<i+5] is "38:2:" (or 48, or :5:); the fields run to `end`.
                let fields = split(tokens[(i + 5)..<end])
                let kept: [ArraySlice<Token>]
                switch (kind, fields.count) {
                case (UInt8(ascii: "2"), 4): kept = Array(fields.dropFirst())   // colour space
                case (UInt8(ascii: "2"), 3), (UInt8(ascii: "5"), 1): kept = fields
                default: return nil
                }
                guard kept.allSatisfy({ !$0.isEmpty }) else { return nil }
                out += [tokens[i].bytes[0], UInt8(ascii: "8"), UInt8(ascii: ";"), kind, UInt8(ascii: ";")]
                for (n, field) in kept.enumerated() {
                    if n > 0 { out.append(UInt8(ascii: ";")) }
                    for token in field { out += token.bytes }
                }
                changed = true
                i = end
                continue
            }
            out += tokens[i].bytes
            i += 1
        }
        return changed ? String(decoding: out, as: UTF8.self) : nil
    }

    /// What ncurses' `tiparm` makes of `template` with `value` as its one parameter: the bytes
    /// curses would send for that colour (tests and diagnostics; nil if ncurses refuses).
    public static func expand(_ template: String, value: Int) -> String? {
        guard let result = vt_tiparm1(template, Int32(clamping: value)) else { return nil }
        return String(cString: result)
    }

    // MARK: - Tokens

    /// One piece of a terminfo string: a literal byte, or a whole `%` escape.
    struct Token {
        var bytes: [UInt8]
        /// The escape's letter (`d` for a `%2d` format, `p` for `%p1`, `{` for `%{256}`); nil for a literal.
        var escape: UInt8?

        var isLiteral: Bool { escape == nil }
        func isLiteral(_ c: Character) -> Bool { escape == nil && bytes == [c.asciiValue!] }
        var isDigit: Bool { escape == nil && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[0]) }
        /// `%?`, `%t`, `%e`, `%;`: the branches of a conditional, which end a field.
        var isControl: Bool { escape.map { "?te;".utf8.contains($0) } ?? false }
    }

    /// Splits a terminfo string into tokens, following terminfo(5)'s `%` codes; nil for an
    /// escape it does not know (then nothing is rewritten).
    static func tokenize(_ s: [UInt8]) -> [Token]? {
        var tokens: [Token] = []
        var i = 0
        func byte(_ k: Int) -> UInt8? { k < s.count ? s[k] : nil }
        while i < s.count {
            guard s[i] == UInt8(ascii: "%") else {
                tokens.append(Token(bytes: [s[i]], escape: nil))
                i += 1
                continue
            }
            guard let c = byte(i + 1) else { return nil }
            var end: Int
            switch c {
            case UInt8(ascii: "p"), UInt8(ascii: "P"), UInt8(ascii: "g"):
                guard byte(i + 2) != nil else { return nil }
                end = i + 3
            case UInt8(ascii: "'"):
                guard byte(i + 3) == UInt8(ascii: "'") else { return nil }
                end = i + 4
            case UInt8(ascii: "{"):
                end = i + 2
                while let d = byte(end), d != UInt8(ascii: "}") { end += 1 }
                guard byte(end) != nil else { return nil }
                end += 1
            case _ where "%l+-*/m&|^=><AO!~i?te;".utf8.contains(c):
                end = i + 2
            default:
                // %[[:]flags][width[.precision]][doxXsc]
                var k = i + 1
                if byte(k) == UInt8(ascii: ":") {
                    k += 1
                    while let f = byte(k), "-+# ".utf8.contains(f) { k += 1 }
                } else {
                    while let f = byte(k), "# ".utf8.contains(f) { k += 1 }
                }
                while let d = byte(k), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(d) || d == UInt8(ascii: ".") { k += 1 }
                guard let conversion = byte(k), "doxXsc".utf8.contains(conversion) else { return nil }
                tokens.append(Token(bytes: Array(s[i...k]), escape: conversion))
                i = k + 1
                continue
            }
            tokens.append(Token(bytes: Array(s[i..<end]), escape: c))
            i = end
        }
        return tokens
    }

    /// At `i`, the literal text `38:2:`, `48:2:`, `38:5:` or `48:5:` starting an SGR parameter:
    /// its kind (`2` or `5`) and where its fields end (at a literal other than a digit or a
    /// colon, such as `;` or `m`, or at a conditional's branch).
    static func colonColour(in tokens: [Token], at i: Int) -> (kind: UInt8, end: Int)? {
        guard i + 5 <= tokens.count,
              tokens[i].isLiteral("3") || tokens[i].isLiteral("4"), tokens[i + 1].isLiteral("8"),
              tokens[i + 2].isLiteral(":"), tokens[i + 4].isLiteral(":"),
              tokens[i + 3].isLiteral("2") || tokens[i + 3].isLiteral("5") else { return nil }
        // Not the tail of a longer number (138:2:) or of another colon field.
        if i > 0 {
            let before = tokens[i - 1]
            if before.isDigit || before.isLiteral(":") || (!before.isLiteral && !before.isControl) { return nil }
        }
        var end = i + 5
        while end < tokens.count {
            let t = tokens[end]
            let inField = t.isLiteral ? (t.isDigit || t.isLiteral(":")) : (!t.isControl && t.escape != UInt8(ascii: "%"))
            if !inField { break }
            end += 1
        }
        return (tokens[i + 3].bytes[0], end)
    }

    /// The fields of a colon-separated run of tokens.
    static func split(_ run: ArraySlice<Token>) -> [ArraySlice<Token>] {
        var fields: [ArraySlice<Token>] = []
        var start = run.startIndex
        for k in run.indices where run[k].isLiteral(":") {
            fields.append(run[start..<k])
            start = k + 1
        }
        fields.append(run[start..<run.endIndex])
        return fields
    }
}
