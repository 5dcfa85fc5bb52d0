/// Splits text into the pieces that BPE merges never cross. Each case is one of the regular
/// expressions used by byte-level BPE models, written out as a hand-coded matcher over
/// Unicode scalars (letters `\p{L}`, numbers `\p{N}`, white space `\s`).
public enum PreTokenizer: Sendable, Equatable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
    /// optionally after isolating every number character (SmolLM's `Digits` step).
    case gpt2(isolateDigits: Bool)
    /// Llama 3 (`numberRunMax` 3) and Qwen2 (`numberRunMax` 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,n}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3(numberRunMax: Int)

    /// The pieces of `text`, in order; concatenated they give `text` back.
    public func pieces(of text: String) -> [String] {
        split(Array(text.unicodeScalars)[...]).map { String(String.UnicodeScalarView($0)) }
    }

    /// The pieces of `text`, in order; concatenated they give `text` back.
    func split(_ text: ArraySlice<Unicode.Scalar>) -> [ArraySlice<Unicode.Scalar>] {
        var pieces: [ArraySlice<Unicode.Scalar>] = []
        switch self {
        case .gpt2(isolateDigits: false):
            Self.splitGPT2(text, into: &pieces)
        case .gpt2(isolateDigits: true):
            var start = text.startIndex
            for index in text.indices where text[index].isNumber {
                if start < index { Self.splitGPT2(text[start..<index], into: &pieces) }
                pieces.append(text[index...index])
                start = index + 1
            }
            if start < text.endIndex { Self.splitGPT2(text[start...], into: &pieces) }
        case let .llama3(numberRunMax):
            var index = text.startIndex
            while index < text.endIndex {
                let end = Self.matchLlama3(text, at: index, numberRunMax: numberRunMax)
                pieces.append(text[index..<end])
                index = end
            }
        }
        return pieces
    }

    private static func splitGPT2(_ text: ArraySlice<Unicode.Scalar>, into pieces: inout [ArraySlice<Unicode.Scalar>]) {
        var index = text.startIndex
        while index < text.endIndex {
            let end = matchGPT2(text, at: index)
            pieces.append(text[index..<end])
            index = end
        }
    }

    private static func matchGPT2(_ s: ArraySlice<Unicode.Scalar>, at i: Int) -> Int {
        if let end = contraction(s, at: i, ignoringCase: false) { return end }
        let hasSpace = s[i] == " " && i + 1 < s.endIndex
        let start = hasSpace ? i + 1 : i
        let first = s[start]
        if first.isLetter { return run(s, from: start) { $0.isLetter } }
        if first.isNumber { return run(s, from: start) { $0.isNumber } }
        if first.isOther { return run(s, from: start) { $0.isOther } }
        return whitespace(s, at: i)
    }

    private static func matchLlama3(_ s: ArraySlice<Unicode.Scalar>, at i: Int, numberRunMax: Int) -> Int {
        if let end = contraction(s, at: i, ignoringCase: true) { return end }
        let c = s[i]
        if c.isLetter { return run(s, from: i) { $0.isLetter } }
        if !c.isNewline, !c.isNumber, i + 1 < s.endIndex, s[i + 1].isLetter {
            return run(s, from: i + 1) { $0.isLetter }
        }
        if c.isNumber { return min(run(s, from: i) { $0.isNumber }, i + numberRunMax) }
        let start = c == " " && i + 1 < s.endIndex && s[i + 1].isOther ? i + 1 : i
        if s[start].isOther {
            let end = run(s, from: start) { $0.isOther }
            return run(s, from: end) { $0.isNewline }
        }
        // `\s*[\r\n]+`: the longest run of white space that ends in a line break.
        let end = run(s, from: i) { $0.isWhitespace }
        if let lastBreak = s[i..<end].lastIndex(where: { $0.isNewline }) { return lastBreak + 1 }
        return whitespace(s, at: i)
    }

    /// `\s+(?!\S)|\s+` at `i`, which holds white space.
    private static func whitespace(_ s: ArraySlice<Unicode.Scalar>, at i: Int) -> Int {
        let end = run(s, from: i) { $0.isWhitespace }
        if end == s.endIndex || end - i < 2 { return end }
        return end - 1
    }

    private static func contraction(_ s: ArraySlice<Unicode.Scalar>, at i: Int, ignoringCase: Bool) -> Int? {
        guard s[i] == "'", i + 1 < s.endIndex else { return nil }
        func letter(_ offset: Int) -> Unicode.Scalar? {
            guard i + offset < s.endIndex else { return nil }
            let scalar = s[i + offset]
            guard ignoringCase, ("A"..."Z").contains(scalar) else { return scalar }
            return Unicode.Scalar(scalar.value + 32)
        }
        switch letter(1) {
        case "s", "t", "m", "d": return i + 2
        case "r", "v": return letter(2) == "e" ? i + 3 : nil
        case "l": return letter(2) == "l" ? i + 3 : nil
        default: return nil
        }
    }

    private static func run(_ s: ArraySlice<Unicode.Scalar>, from start: Int, while predicate: (Unicode.Scalar) -> Bool) -> Int {
        var end = start
        while end < s.endIndex, predicate(s[end]) { end += 1 }
        return end
    }
}

extension Unicode.Scalar {
    /// `\p{L}`: any letter category.
    var isLetter: Bool {
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    /// `\p{N}`: decimal digits, letter numbers and other numbers.
    var isNumber: Bool {
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: true
        default: false
        }
    }

    /// `\s`: Unicode white space.
    var isWhitespace: Bool { properties.isWhitespace }

    /// `[\r\n]`.
    var isNewline: Bool { self == "\n" || self == "\r" }

    /// `[^\s\p{L}\p{N}]`.
    var isOther: Bool { !isWhitespace && !isLetter && !isNumber }
}
