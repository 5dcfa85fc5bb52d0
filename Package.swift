// swift-tools-version:6.0
import PackageDescription

// Module layout and import direction are described in DEVELOPERS.md:
// Crypto ← Ledger ← Consensus ← Node; Crypto ← Gossip ← Consensus, Node;
// Inference ← Attribution ← Node; Ledger ← Payments ← Node.
// Release builds (`swift build -c release`, what the Makefile uses) compile with -O.

// The inference kernels and attribution's scoring loops are written with 8-lane SIMD types
// or loops meant to vectorise; on x86-64 they need AVX2, FMA and F16C (any x86-64 from 2013
// on) to compile to single instructions.
#if arch(x86_64)
let simdSwiftSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let simdSwiftSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "Tributary",
    products: [
        .executable(name: "tributary", targets: ["Node"]),
    ],
    targets: [
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .systemLibrary(name: "CRocksDB", pkgConfig: "rocksdb", providers: [.apt(["librocksdb-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJSON", pkgConfig: "libcjson", providers: [.apt(["libcjson-dev"])]),
        .systemLibrary(name: "CDivSufSort", pkgConfig: "libdivsufsort", providers: [.apt(["libdivsufsort-dev"])]),
        // Header-only: the compiler's prefetch builtin, which Swift cannot reach directly.
        .systemLibrary(name: "CPrefetch"),

        .target(name: "Crypto", dependencies: ["CSodium"]),
        .target(name: "Ledger", dependencies: ["Crypto", "CRocksDB"]),
        .target(name: "Gossip", dependencies: ["Crypto"]),
        // Consensus uses Gossip's router: the simulator runs the routing the nodes run.
        .target(name: "Consensus", dependencies: ["Crypto", "Ledger", "Gossip"]),
        .target(name: "Inference", dependencies: ["COpenBLAS", "CSodium", "CPrefetch", "CJSON"], swiftSettings: simdSwiftSettings),
        .target(name: "Attribution", dependencies: ["Crypto", "Inference", "CDivSufSort", "COpenBLAS"], swiftSettings: simdSwiftSettings),
        // x402: payment headers, offers, signing bytes and the verification rules.
        .target(name: "Payments", dependencies: ["Crypto", "Ledger"]),
        // TOML manifests (tributary e2e) read with Debian's toml++ through a C face.
        .target(
            name: "CTOML",
            cxxSettings: [.define("TOML_HEADER_ONLY", to: "0"), .define("TOML_SHARED_LIB", to: "1")],
            linkerSettings: [.linkedLibrary("tomlplusplus")]
        ),
        .executableTarget(
            name: "Node",
            dependencies: ["Crypto", "Ledger", "Consensus", "Gossip", "Inference", "Attribution", "Payments", "CMicroHTTPD", "CCurl", "CTOML"]
        ),

        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "Crypto", "Consensus"]),
        .testTarget(name: "ConsensusTests", dependencies: ["Consensus", "Ledger", "Crypto", "Gossip"]),
        .testTarget(name: "GossipTests", dependencies: ["Gossip", "Crypto"]),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "CSodium"], exclude: ["Fixtures"]),
        .testTarget(name: "AttributionTests", dependencies: ["Attribution", "Inference"]),
        .testTarget(name: "PaymentsTests", dependencies: ["Payments", "Ledger", "Crypto"]),
        .testTarget(name: "NodeTests", dependencies: ["Node", "Ledger", "Crypto", "Consensus", "Gossip", "Attribution", "Payments"],
                    exclude: ["Fixtures"]),
    ]
)
