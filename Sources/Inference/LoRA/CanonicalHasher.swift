import CSodium

/// BLAKE2b-256 (libsodium `crypto_generichash`, 32-byte output, no key) of an adapter's
/// canonical content, fed target by target (docs/lora.md, "Identity"):
///
///     "TRIBUTARY-LORA-1"                       16 ASCII bytes
///     u32 target count
///     per target, by layer, then q, k, v, o, gate, up, down:
///       u32 layer, u32 module index (0…6), u32 rank, u32 inputs, u32 outputs, u32 scale (f32 bits)
///       A: rank × inputs f32, row-major
///       B: outputs × rank f32, row-major, rows in Hugging Face order
///
/// All integers and floats little-endian.
final class CanonicalHasher {
    static let tag = Array("TRIBUTARY-LORA-1".utf8)
    private static let sodiumReady = sodium_init() >= 0
    private let state: UnsafeMutableRawPointer

    init(targetCount: Int) {
        precondition(Self.sodiumReady, "libsodium failed to initialise")
        state = .allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        _ = crypto_generichash_init(statePointer, nil, 0, 32)
        Self.tag.withUnsafeBytes { add($0) }
        add(UInt32(targetCount))
    }

    deinit { state.deallocate() }

    /// libsodium's state type is 64-byte aligned, which Swift imports as an opaque pointer.
    private var statePointer: OpaquePointer { OpaquePointer(state) }

    func add(_ bytes: UnsafeRawBufferPointer) {
        _ = crypto_generichash_update(statePointer, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    func add(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { add($0) }
    }

    /// The header of one target.
    func add(target: LoRATarget) {
        for value in [target.layer, target.projection.index, target.rank, target.inputs, target.outputs] { add(UInt32(value)) }
        add(target.scale.bitPattern)
    }

    func add(floats: UnsafePointer<Float>, count: Int) {
        #if _endian(little)
        add(UnsafeRawBufferPointer(start: floats, count: count * MemoryLayout<Float>.size))
        #else
        for i in 0..<count { add(floats[i].bitPattern) }
        #endif
    }

    /// The digest as 64 lowercase hex digits.
    func finish() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash_final(statePointer, &digest, 32)
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: digest.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }, as: UTF8.self)
    }
}
