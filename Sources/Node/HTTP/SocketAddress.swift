import Foundation

/// An IPv4 `host:port` to listen on, e.g. `127.0.0.1:26657` or `0.0.0.0:26657`.
struct SocketAddress: Sendable, CustomStringConvertible {
    let host: String
    let port: UInt16

    init(parsing text: String) throws(UsageError) {
        guard let colon = text.lastIndex(of: ":"),
              let port = UInt16(text[text.index(after: colon)...]), port > 0
        else { throw UsageError("address '\(text)' must be host:port, e.g. 127.0.0.1:26657") }
        let host = String(text[..<colon])
        var probe = in_addr()
        guard inet_pton(AF_INET, host, &probe) == 1 else {
            throw UsageError("address '\(text)' must use an IPv4 host such as 127.0.0.1 or 0.0.0.0")
        }
        self.host = host
        self.port = port
    }

    var description: String { "\(host):\(port)" }

    var sockaddr: sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }
}
