/// Finds verbatim spellings of special tokens in text, longest match first.
struct SpecialTokenMatcher: Sendable {
    enum Segment {
        case text(ArraySlice<Unicode.Scalar>)
        case special(Int32)
    }

    /// Candidates by first scalar, longest spelling first.
    private let candidates: [Unicode.Scalar: [(id: Int32, scalars: [Unicode.Scalar])]]

    init(_ tokens: [(Int32, String)]) {
        var candidates: [Unicode.Scalar: [(id: Int32, scalars: [Unicode.Scalar])]] = [:]
        for (id, spelling) in tokens {
            let scalars = Array(spelling.unicodeScalars)
            guard let first = scalars.first else { continue }
            candidates[first, default: []].append((id, scalars))
        }
        self.candidates = candidates.mapValues { list in
            list.sorted { $0.scalars.count != $1.scalars.count ? $0.scalars.count > $1.scalars.count : $0.id < $1.id }
        }
    }

    /// `text` cut into runs of ordinary text and special tokens.
    func segments(of text: [Unicode.Scalar]) -> [Segment] {
        var segments: [Segment] = []
        var textStart = 0
        var index = 0
        while index < text.count {
            if let options = candidates[text[index]],
               let match = options.first(where: { text[index...].starts(with: $0.scalars) }) {
                if textStart < index { segments.append(.text(text[textStart..<index])) }
                segments.append(.special(match.id))
                index += match.scalars.count
                textStart = index
            } else {
                index += 1
            }
        }
        if textStart < text.count { segments.append(.text(text[textStart...])) }
        return segments
    }
}
