import Crypto

/// Re-executes a chain from genesis and compares the result with the stored state: the check
/// that a store holds exactly what its blocks imply.
public enum ChainReplay {
    /// Why a replay disagrees with the store.
    public struct Mismatch: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Replays every block of `source` into `target` (an empty store), verifying each block
    /// in full (links, signatures, execution, app hash, certificate), then checks that both
    /// stores hold the same app hash and the same records. Returns the replayed height.
    @discardableResult
    public static func replay(_ source: ChainStore, into target: ChainStore) throws -> UInt64 {
        guard let genesis = try source.genesis(), let status = source.status else {
            throw Mismatch(description: "the source store has no genesis")
        }
        try target.initialize(genesis: genesis)
        let execution = BlockExecution(store: target)
        for height in stride(from: UInt64(1), through: status.height, by: 1) {
            guard let block = try source.block(at: height) else {
                throw Mismatch(description: "block \(height) is missing from the store")
            }
            do {
                try execution.apply(block)
            } catch {
                throw Mismatch(description: "block \(height) does not replay: \(error)")
            }
        }
        guard let replayed = target.status, replayed.appHash == status.appHash else {
            throw Mismatch(description: "replayed app hash \(target.status?.appHash.hex ?? "-") differs from the stored \(status.appHash.hex)")
        }
        for kind in StateKey.Kind.allCases {
            let stored = source.records(of: kind)
            let recomputed = target.records(of: kind)
            guard stored.map(\.key) == recomputed.map(\.key), stored.map(\.value) == recomputed.map(\.value) else {
                throw Mismatch(description: "stored \(kind) records differ from the replayed ones")
            }
        }
        return status.height
    }
}
