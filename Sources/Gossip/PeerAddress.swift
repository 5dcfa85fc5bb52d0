import Foundation
import Crypto

/// A node's identity on the network: the public half of its Ed25519 node key (64 hex), kept
/// in `<home>/node.key` apart from the validator key.
public typealias NodeID = PublicKey

/// Where to reach a node and who it must prove to be: `<node id>@<host>:<port>`.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public let id: NodeID
    public let host: String
    public let port: UInt16

    public init(id: NodeID, host: String, port: UInt16) {
        self.id = id
        self.host = host
        self.port = port
    }

    /// Parses `<64 hex>@<host>:<port>`; the host may be a name, an IPv4 address or a
    /// bracketed IPv6 address.
    public init(parsing text: String) throws(PeerAddressError) {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let id = NodeID(hex: String(parts[0])) else {
            throw PeerAddressError("'\(text)' is not <64-hex node id>@<host>:<port>")
        }
        let (host, port) = try Self.splitHostPort(String(parts[1]), whole: text)
        self.init(id: id, host: host, port: port)
    }

    /// Splits `host:port` (`[v6]:port` for IPv6).
    public static func splitHostPort(_ text: String, whole: String? = nil) throws(PeerAddressError) -> (host: String, port: UInt16) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            throw PeerAddressError("'\(whole ?? text)' has no valid :port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw PeerAddressError("'\(whole ?? text)' has no host") }
        return (host, port)
    }

    /// Parses a comma-separated list (the `persistent_peers` setting); blanks are skipped.
    public static func list(_ text: String) throws(PeerAddressError) -> [PeerAddress] {
        var addresses: [PeerAddress] = []
        for entry in text.split(separator: ",") {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            if !trimmed.isEmpty { addresses.append(try PeerAddress(parsing: trimmed)) }
        }
        return addresses
    }

    public var hostPort: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    public var description: String { "\(id.hex)@\(hostPort)" }
}

/// Why a peer address does not parse.
public struct PeerAddressError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
