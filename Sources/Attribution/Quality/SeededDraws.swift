import Inference

/// Random draws for the benchmark generators, spelled out on top of `SplitMix64` so that a
/// seed gives the same data on every platform and Swift version: the standard library's
/// bounded draws and `shuffle` are not specified bit for bit, so none of them is used.
struct SeededDraws {
    private var generator: SplitMix64

    /// Draws for `stream` of `seed`: each part of a generator (names, facts, distractors, the
    /// final order) draws from its own stream, so changing one part's size leaves the others
    /// as they were.
    init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        generator = SplitMix64(seed: mixer.next())
    }

    /// A uniform integer in `0..<count`, without modulo bias: draws below 2⁶⁴ mod `count` are
    /// rejected, so every residue is equally likely.
    mutating func index(below count: Int) -> Int {
        precondition(count > 0, "nothing to draw from")
        let bound = UInt64(count)
        let rejectedBelow = (0 &- bound) % bound
        while true {
            let value = generator.next()
            if value >= rejectedBelow { return Int(value % bound) }
        }
    }

    /// A uniform integer in `range`.
    mutating func integer(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + index(below: range.count)
    }

    /// A uniformly chosen element of `elements` (not empty).
    mutating func element<Element>(of elements: [Element]) -> Element {
        elements[index(below: elements.count)]
    }

    /// `count` distinct positions of `0..<total`, in the order drawn.
    mutating func distinctIndices(_ count: Int, below total: Int) -> [Int] {
        precondition(count <= total, "cannot draw \(count) distinct of \(total)")
        var pool = Array(0..<total)
        shuffle(&pool)
        return Array(pool.prefix(count))
    }

    /// Shuffles `elements` in place: Fisher–Yates from the last position down.
    mutating func shuffle<Element>(_ elements: inout [Element]) {
        guard elements.count > 1 else { return }
        for position in stride(from: elements.count - 1, to: 0, by: -1) {
            elements.swapAt(position, index(below: position + 1))
        }
    }

    /// A 64-hex address (lowercase), as a contributor's Ed25519 public key is written.
    mutating func address() -> String {
        let digits = Array("0123456789abcdef")
        var text = ""
        for _ in 0..<4 {
            let word = generator.next()
            for shift in stride(from: 60, through: 0, by: -4) { text.append(digits[Int((word >> UInt64(shift)) & 15)]) }
        }
        return text
    }
}
