/// Made-up names built from syllables ("Varnholm", "Quelspire"-like), so the base model
/// cannot know anything about what they name. Every name drawn is new: none repeats, and
/// none is one of the reserved words (the generator's own vocabulary).
struct InventedNames {
    private var draws: SeededDraws
    private var taken: Set<String>

    private static let onsets = ["b", "br", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p", "qu", "r", "s",
                                 "st", "t", "th", "tr", "v", "z"]
    private static let vowels = ["a", "e", "i", "o", "u", "a", "e", "o", "ae", "ei", "ou"]
    private static let codas = ["", "", "", "", "n", "r", "l", "s", "m", "nd", "rk", "lm"]

    /// Names from `stream` of `seed`, never equal (case aside) to a word of `reserved`.
    init(seed: UInt64, stream: UInt64, reserved: Set<String>) {
        draws = SeededDraws(seed: seed, stream: stream)
        taken = Set(reserved.map { $0.lowercased() })
    }

    /// A new capitalised name of two or three syllables (`syllables`), at most 9 letters.
    mutating func next(syllables: ClosedRange<Int> = 2...3) -> String {
        while true {
            var name = ""
            for _ in 0..<draws.integer(in: syllables) {
                name += draws.element(of: Self.onsets) + draws.element(of: Self.vowels) + draws.element(of: Self.codas)
            }
            guard name.count <= 9, !taken.contains(name) else { continue }
            taken.insert(name)
            return name.prefix(1).uppercased() + name.dropFirst()
        }
    }
}
