import CDivSufSort

/// Sorts a token stream's suffixes with libdivsufsort (Debian's `libdivsufsort`), which sorts
/// the suffixes of a byte string.
///
/// The trick that keeps token order: each token, and the separator, becomes a fixed-width
/// big-endian code of `codeWidth` bytes — the fewest that hold every token id of the stream
/// below the all-ones code, which stands for the separator (1 byte up to id 254, 2 up to
/// 65,534, 3 up to 16,777,214, else 4). Two byte suffixes that start at code boundaries
/// compare code by code, and same-width big-endian codes compare as the numbers they encode,
/// so the byte sort lists the code-aligned suffixes in exactly the token suffixes' order.
/// Keeping those that start at a token (aligned, and not a separator) gives the token suffix
/// array. The width adapts to the datanet rather than being fixed at 3 or 4 bytes because the
/// sort's time and its temporary memory grow with the bytes sorted: SmolLM2's 49,152-token
/// vocabulary needs 2 bytes, so the sort costs 2 + 8 temporary bytes per token.
///
/// libdivsufsort's 32-bit entry point bounds the byte string to `Int32.max` bytes: 1.07
/// billion tokens at width 2, far beyond a datanet trained on one machine.
enum SuffixSorting {
    /// The code width in bytes for a stream whose largest token id is `largestToken`.
    static func codeWidth(largestToken: UInt32) -> Int {
        var width = 1
        while width < 4, UInt64(largestToken) >= (UInt64(1) << (8 * width)) - 1 { width += 1 }
        return width
    }

    /// The longest stream (tokens and separators) the sort takes at `codeWidth`.
    static func streamCountMax(codeWidth: Int) -> Int { Int(Int32.max) / codeWidth }

    /// Writes the stream positions of `stream`'s tokens into `suffixes` (little-endian), in
    /// the order of the suffixes starting there. `stream` holds little-endian token ids and
    /// `SpanIndexLayout.separator`s; `suffixes` has one slot per token.
    static func sort(stream: UnsafeBufferPointer<UInt32>, into suffixes: UnsafeMutableBufferPointer<UInt32>, codeWidth: Int) throws(SpanIndexError) {
        precondition((1...4).contains(codeWidth) && stream.count <= streamCountMax(codeWidth: codeWidth))
        guard !stream.isEmpty else { return }
        let byteCount = stream.count * codeWidth
        var text = [UInt8](repeating: 0, count: byteCount)
        for (position, stored) in stream.enumerated() {
            let value = UInt32(littleEndian: stored)
            let code = value == SpanIndexLayout.separator ? (UInt32.max >> (32 - 8 * codeWidth)) : value
            for byte in 0..<codeWidth {
                text[position * codeWidth + byte] = UInt8(truncatingIfNeeded: code >> (8 * (codeWidth - 1 - byte)))
            }
        }
        var byteSuffixes = [Int32](repeating: 0, count: byteCount)
        let code = divsufsort(text, &byteSuffixes, Int32(byteCount))
        guard code == 0 else { throw .sortFailed(code: code) }

        var rank = 0
        for byteOffset in byteSuffixes where Int(byteOffset) % codeWidth == 0 {
            let position = Int(byteOffset) / codeWidth
            guard UInt32(littleEndian: stream[position]) != SpanIndexLayout.separator else { continue }
            suffixes[rank] = UInt32(position).littleEndian
            rank += 1
        }
        precondition(rank == suffixes.count, "\(rank) token suffixes sorted for \(suffixes.count) tokens")
    }
}
