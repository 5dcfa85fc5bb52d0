// swift-tools-version:6.0
import PackageDescription

// Module layout and import direction are described in DEVELOPERS.md:
// Crypto ← Ledger ← Consensus ← Node; Crypto ← Gossip ← Node;
// Inference ← Attribution ← Node; Ledger ← Payments ← Node.
// Release builds (`swift build -c release`, what the Makefile uses) compile with -O.

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

        .target(name: "Crypto", dependencies: ["CSodium"]),
        .target(name: "Ledger", dependencies: ["Crypto", "CRocksDB"]),
        .executableTarget(
            name: "Node",
            dependencies: ["Crypto", "Ledger", "CMicroHTTPD", "CCurl"]
        ),

        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "Crypto"]),
        .testTarget(name: "NodeTests", dependencies: ["Node", "Ledger", "Crypto"]),
    ]
)
