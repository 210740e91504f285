/// A small 5 x 7 bitmap font (A-Z, 0-9 and a few signs) for the logos and
/// label texts painted on SampleData products. Lower-case letters are drawn
/// as capitals; characters it does not know are drawn as spaces.
enum SynthFont {
    static let glyphWidth = 5
    static let glyphHeight = 7

    /// The rows of one glyph, top first; bit 4 is the leftmost column.
    static func rows(_ character: Character) -> [UInt8] {
        let upper = Character(character.uppercased())
        return table[upper] ?? blank
    }

    /// Glyph rows for every character of `text`.
    static func glyphs(_ text: String) -> [[UInt8]] {
        text.map { rows($0) }
    }

    private static let blank: [UInt8] = [0, 0, 0, 0, 0, 0, 0]

    private static func parse(_ art: String) -> [UInt8] {
        let lines = art.split(separator: "\n")
        precondition(lines.count == 7, "SynthFont: a glyph has 7 rows")
        return lines.map { line in
            precondition(line.count == 5, "SynthFont: a glyph row has 5 columns")
            var bits: UInt8 = 0
            for ch in line { bits = bits << 1 | (ch == "#" ? 1 : 0) }
            return bits
        }
    }

    private static let table: [Character: [UInt8]] = {
        var t: [Character: [UInt8]] = [:]
        for (ch, art) in art { t[ch] = parse(art) }
        return t
    }()

    private static let art: [(Character, String)] = [
        ("A", ".###.\n#...#\n#...#\n#####\n#...#\n#...#\n#...#"),
        ("B", "####.\n#...#\n#...#\n####.\n#...#\n#...#\n####."),
        ("C", ".###.\n#...#\n#....\n#....\n#....\n#...#\n.###."),
        ("D", "###..\n#..#.\n#...#\n#...#\n#...#\n#..#.\n###.."),
        ("E", "#####\n#....\n#....\n####.\n#....\n#....\n#####"),
        ("F", "#####\n#....\n#....\n####.\n#....\n#....\n#...."),
        ("G", ".###.\n#...#\n#....\n#.###\n#...#\n#...#\n.####"),
        ("H", "#...#\n#...#\n#...#\n#####\n#...#\n#...#\n#...#"),
        ("I", ".###.\n..#..\n..#..\n..#..\n..#..\n..#..\n.###."),
        ("J", "..###\n...#.\n...#.\n...#.\n...#.\n#..#.\n.##.."),
        ("K", "#...#\n#..#.\n#.#..\n##...\n#.#..\n#..#.\n#...#"),
        ("L", "#....\n#....\n#....\n#....\n#....\n#....\n#####"),
        ("M", "#...#\n##.##\n#.#.#\n#.#.#\n#...#\n#...#\n#...#"),
        ("N", "#...#\n#...#\n##..#\n#.#.#\n#..##\n#...#\n#...#"),
        ("O", ".###.\n#...#\n#...#\n#...#\n#...#\n#...#\n.###."),
        ("P", "####.\n#...#\n#...#\n####.\n#....\n#....\n#...."),
        ("Q", ".###.\n#...#\n#...#\n#...#\n#.#.#\n#..#.\n.##.#"),
        ("R", "####.\n#...#\n#...#\n####.\n#.#..\n#..#.\n#...#"),
        ("S", ".####\n#....\n#....\n.###.\n....#\n....#\n####."),
        ("T", "#####\n..#..\n..#..\n..#..\n..#..\n..#..\n..#.."),
        ("U", "#...#\n#...#\n#...#\n#...#\n#...#\n#...#\n.###."),
        ("V", "#...#\n#...#\n#...#\n#...#\n#...#\n.#.#.\n..#.."),
        ("W", "#...#\n#...#\n#...#\n#.#.#\n#.#.#\n#.#.#\n.#.#."),
        ("X", "#...#\n#...#\n.#.#.\n..#..\n.#.#.\n#...#\n#...#"),
        ("Y", "#...#\n#...#\n.#.#.\n..#..\n..#..\n..#..\n..#.."),
        ("Z", "#####\n....#\n...#.\n..#..\n.#...\n#....\n#####"),
        ("0", ".###.\n#...#\n#..##\n#.#.#\n##..#\n#...#\n.###."),
        ("1", "..#..\n.##..\n..#..\n..#..\n..#..\n..#..\n.###."),
        ("2", ".###.\n#...#\n....#\n...#.\n..#..\n.#...\n#####"),
        ("3", "#####\n...#.\n..#..\n...#.\n....#\n#...#\n.###."),
        ("4", "...#.\n..##.\n.#.#.\n#..#.\n#####\n...#.\n...#."),
        ("5", "#####\n#....\n####.\n....#\n....#\n#...#\n.###."),
        ("6", "..##.\n.#...\n#....\n####.\n#...#\n#...#\n.###."),
        ("7", "#####\n....#\n...#.\n..#..\n.#...\n.#...\n.#..."),
        ("8", ".###.\n#...#\n#...#\n.###.\n#...#\n#...#\n.###."),
        ("9", ".###.\n#...#\n#...#\n.####\n....#\n...#.\n.##.."),
        ("-", ".....\n.....\n.....\n.###.\n.....\n.....\n....."),
        (".", ".....\n.....\n.....\n.....\n.....\n.##..\n.##.."),
        ("+", ".....\n..#..\n..#..\n#####\n..#..\n..#..\n....."),
        ("%", "##...\n##..#\n...#.\n..#..\n.#...\n#..##\n...##"),
        ("/", ".....\n....#\n...#.\n..#..\n.#...\n#....\n....."),
        ("&", ".##..\n#..#.\n#.#..\n.#...\n#.#.#\n#..#.\n.##.#"),
    ]
}
