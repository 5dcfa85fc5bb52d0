/// Weight matrices decoded once into `Int8BroadcastKernels.decodeTile`'s bytes (40 per
/// 32-weight block: twice Q4's 20, a fifth more than Q8_0's 34), so that batched int8 decode
/// steps read ready tiles instead of decoding every weight again at every step.
///
/// An engine with int8 activations builds one set for its model's matrices (about 170 MB for
/// SmolLM2-135M besides the model's 95 MB); it is read-only afterwards.
final class Int8Tiles: @unchecked Sendable {
    private let decoded: [UnsafeRawPointer: WeightStorage]

    /// Decodes every matrix of `matrices` whose encoding has int8 kernels (none on other
    /// architectures than x86-64, which have no int8 kernels).
    init(_ matrices: [WeightMatrix]) {
        var decoded: [UnsafeRawPointer: WeightStorage] = [:]
        #if arch(x86_64)
        for weights in matrices where Int8Activations.applies(to: weights.type) && decoded[weights.base] == nil {
            let storage = WeightStorage(byteCount: weights.rows * weights.columns / 32 * Int8BroadcastKernels.decodedBlockBytes)
            Int8BroadcastKernels.decodeTile(weights, rows: 0..<weights.rows, into: storage.base)
            decoded[weights.base] = storage
        }
        #endif
        self.decoded = decoded
    }

    /// The decoded rows of `weights` (`columns / 32` blocks of 40 bytes per row), if this set
    /// holds them.
    func tiles(of weights: WeightMatrix) -> UnsafeRawPointer? {
        decoded[weights.base].map { UnsafeRawPointer($0.base) }
    }
}
