import Inference

/// Which tokens begin a word, the span matcher's boundaries (infini-gram's "beginning of
/// word" ids). A byte-level BPE token carries the space before its word (` blood`), so a
/// token begins a word when its text begins with white space, punctuation or a symbol —
/// anything but a letter, a digit or a combining mark, which continue the word before them.
/// A token whose bytes do not begin with a whole UTF-8 character does not begin a word;
/// special tokens (`<|im_end|>`) do.
public enum WordStarts {
    /// Per token id of `tokenizer`'s vocabulary, whether the token begins a word.
    public static func table(for tokenizer: BPETokenizer) -> [Bool] {
        (0..<tokenizer.vocabularySize).map { beginsWord(tokenizer.decode([Int32($0)])) }
    }

    /// Whether text whose UTF-8 bytes are `bytes` begins a word (see the type).
    public static func beginsWord(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        guard case let .scalarValue(scalar) = decoder.decode(&iterator) else { return false }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber,
             .nonspacingMark, .spacingMark, .enclosingMark:
            return false
        default:
            return true
        }
    }
}
