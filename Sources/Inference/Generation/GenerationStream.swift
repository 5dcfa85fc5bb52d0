/// The decoding state of one request: its sampler, the tokens and bytes generated, stop
/// strings, and how much text has been handed out.
struct GenerationStream {
    let request: GenerationRequest
    var sampler: Sampler
    var tokens: [Int32] = []
    var bytes: [UInt8] = []
    /// Length of `bytes` that is part of the answer (shorter once a stop string is found).
    var visibleCount = 0
    var emittedCount = 0
    var stopped = false

    init(request: GenerationRequest, sampler: Sampler) {
        self.request = request
        self.sampler = sampler
    }

    var visibleBytes: ArraySlice<UInt8> { bytes[0..<(stopped ? visibleCount : bytes.count)] }

    /// Takes `token`; returns why the stream ends, or nil to continue.
    mutating func accept(_ token: Int32, stopTokenIds: Set<Int32>, tokenizer: BPETokenizer, contextLeft: Int) -> Generation.FinishReason? {
        if stopTokenIds.contains(token) { return .endOfSequence }
        tokens.append(token)
        let searchFrom = max(0, bytes.count - (request.stopStrings.map(\.utf8.count).max() ?? 0))
        bytes += tokenizer.decode([token])
        for stop in request.stopStrings {
            if let found = Self.firstIndex(of: Array(stop.utf8), in: bytes, from: searchFrom), !stopped || found < visibleCount {
                visibleCount = found
                stopped = true
            }
        }
        if stopped { return .stopString }
        if tokens.count >= request.maxTokens || contextLeft <= 0 { return .length }
        return nil
    }

    /// Text not yet handed out that is safe to show: whole characters, and not a
    /// possible beginning of a stop string unless the stream has ended.
    mutating func newText(final: Bool) -> String? {
        var end = stopped ? visibleCount : bytes.count
        if !final {
            end = Self.completeCharactersEnd(bytes, end)
            for stop in request.stopStrings.map({ Array($0.utf8) }) {
                for length in stride(from: min(stop.count - 1, end), to: 0, by: -1) where bytes[(end - length)..<end].elementsEqual(stop[0..<length]) {
                    end = min(end, end - length)
                    break
                }
            }
        }
        guard end > emittedCount else { return nil }
        defer { emittedCount = end }
        return String(decoding: bytes[emittedCount..<end], as: UTF8.self)
    }

    static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        return (start...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }

    /// `end`, moved back so `bytes[..<end]` does not stop inside a UTF-8 sequence.
    static func completeCharactersEnd(_ bytes: [UInt8], _ end: Int) -> Int {
        var lead = end - 1
        while lead >= 0, lead > end - 4, bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
        guard lead >= 0 else { return end }
        let byte = bytes[lead]
        let length = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
        return lead + length <= end ? end : lead
    }
}
