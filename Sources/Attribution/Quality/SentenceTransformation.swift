/// The ten classes of DataInf's "sentence transformations" task (Kwon et al., ICLR 2024,
/// §4.3): ways of rewriting a sentence, each taught by its own examples. ASCII letters only
/// are treated as vowels (`aeiou`, either case) or consonants (the other letters, `y`
/// included); spaces separate words.
public enum SentenceTransformation: String, CaseIterable, Sendable {
    case reverseWords = "reverse-words"
    case alternateCase = "alternate-case"
    case insertOne = "insert-one"
    case starVowels = "star-vowels"
    case doubleConsonants = "double-consonants"
    case capitalizeWords = "capitalize-words"
    case removeVowels = "remove-vowels"
    case appendLy = "append-ly"
    case removeConsonants = "remove-consonants"
    case repeatWords = "repeat-words"

    /// What the transformation does, as the prompt states it.
    public var instruction: String {
        switch self {
        case .reverseWords: "it puts the words in the opposite order"
        case .alternateCase: "it alternates lower and upper case, character by character"
        case .insertOne: "it puts the number 1 between each pair of words"
        case .starVowels: "it turns every vowel into an asterisk"
        case .doubleConsonants: "it writes every consonant twice"
        case .capitalizeWords: "it starts each word with a capital letter"
        case .removeVowels: "it deletes every vowel"
        case .appendLy: "it adds ly to the end of each word"
        case .removeConsonants: "it deletes every consonant"
        case .repeatWords: "it says each word two times"
        }
    }

    /// `sentence` transformed.
    public func apply(_ sentence: String) -> String {
        let words = sentence.split(separator: " ").map(String.init)
        switch self {
        case .reverseWords:
            return words.reversed().joined(separator: " ")
        case .alternateCase:
            return String(sentence.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.lowercased()) : Character($0.element.uppercased()) })
        case .insertOne:
            return words.joined(separator: " 1 ")
        case .starVowels:
            return String(sentence.map { Self.isVowel($0) ? "*" : $0 })
        case .doubleConsonants:
            return sentence.map { Self.isConsonant($0) ? "\($0)\($0)" : "\($0)" }.joined()
        case .capitalizeWords:
            return words.map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined(separator: " ")
        case .removeVowels:
            return String(sentence.filter { !Self.isVowel($0) })
        case .appendLy:
            return words.map { $0 + "ly" }.joined(separator: " ")
        case .removeConsonants:
            return String(sentence.filter { !Self.isConsonant($0) })
        case .repeatWords:
            return words.map { "\($0) \($0)" }.joined(separator: " ")
        }
    }

    private static func isVowel(_ character: Character) -> Bool { "aeiouAEIOU".contains(character) }

    private static func isConsonant(_ character: Character) -> Bool {
        character.isASCII && character.isLetter && !isVowel(character)
    }
}
