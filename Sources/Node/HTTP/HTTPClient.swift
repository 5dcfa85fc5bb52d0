import CCurl
import Foundation

/// Blocking HTTP requests through libcurl, for the CLI talking to a node.
enum HTTPClient {
    struct Response {
        let status: Int
        let body: [UInt8]
        /// The response's headers, names lowercased (the last of a repeated name).
        var headers: [String: String] = [:]

        /// The body as a JSON object, or nil.
        var json: [String: Any]? {
            try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        }
    }

    /// Answers larger than this are refused.
    static let responseMaxBytes = 64 << 20

    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// A libcurl handle kept across requests, so they reuse one kept-alive connection. Used from
    /// one thread at a time.
    final class Session {
        fileprivate let curl: UnsafeMutableRawPointer
        /// libcurl's `CURLOPT_INTERFACE` value for the local address the session's connections
        /// come from ("host!" and the address), or nil for the system's choice.
        fileprivate let interface: String?

        /// A session whose connections come from `sourceAddress` (e.g. "127.0.0.2") when given:
        /// a load generator spreads its clients over loopback addresses so that a server's
        /// per-address connection limit does not cap them.
        init(sourceAddress: String? = nil) throws {
            precondition(globalInit, "curl_global_init failed")
            guard let curl = curl_easy_init() else { throw CommandError("libcurl could not start a session") }
            self.curl = curl
            self.interface = sourceAddress.map { "host!" + $0 }  // "host!": an address, never an interface name
        }

        deinit { curl_easy_cleanup(curl) }
    }

    /// Sends one request, on `session`'s connection when given. Network failures (refused,
    /// timeout, bad URL) throw `CommandError`.
    static func send(_ method: String, _ url: String, body: [UInt8]? = nil, headers: [String] = [],
                     timeoutSeconds: Int = 30, session: Session? = nil) throws -> Response {
        precondition(globalInit, "curl_global_init failed")
        let owned = session == nil ? curl_easy_init() : nil
        guard let curl = session?.curl ?? owned else { throw CommandError("libcurl could not start a request") }
        defer { if let owned { curl_easy_cleanup(owned) } }
        if session != nil { curl_easy_reset(curl) }  // options go; the open connection stays
        let sink = ResponseSink()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for header in headers { headerList = curl_slist_append(headerList, header) }

        let status: CURLcode = url.withCString { urlPointer in
            method.withCString { methodPointer in
                (body ?? []).withUnsafeBytes { bodyBytes in
                    if let interface = session?.interface {
                        _ = interface.withCString { tributary_curl_setopt_pointer(curl, CURLOPT_INTERFACE, $0) }  // libcurl copies option strings
                    }
                    tributary_curl_setopt_pointer(curl, CURLOPT_URL, urlPointer)
                    tributary_curl_setopt_pointer(curl, CURLOPT_CUSTOMREQUEST, methodPointer)
                    tributary_curl_setopt_long(curl, CURLOPT_TIMEOUT, timeoutSeconds)
                    tributary_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
                    tributary_curl_setopt_long(curl, CURLOPT_MAXFILESIZE, responseMaxBytes)
                    if body != nil {
                        tributary_curl_setopt_pointer(curl, CURLOPT_POSTFIELDS, bodyBytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1))
                        tributary_curl_setopt_long(curl, CURLOPT_POSTFIELDSIZE, bodyBytes.count)
                    }
                    if let headerList { tributary_curl_setopt_pointer(curl, CURLOPT_HTTPHEADER, headerList) }
                    tributary_curl_setopt_write_function(curl) { data, size, count, context in
                        let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                        let length = size * count
                        guard sink.bytes.count + length <= HTTPClient.responseMaxBytes else { return 0 }  // aborts the transfer
                        if let data {
                            data.withMemoryRebound(to: UInt8.self, capacity: length) {
                                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                            }
                        }
                        return length
                    }
                    tributary_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque())
                    tributary_curl_setopt_header_function(curl) { data, size, count, context in
                        let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
                        let length = size * count
                        if let data {
                            let line = data.withMemoryRebound(to: UInt8.self, capacity: length) { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) }
                            sink.header(line)
                        }
                        return length
                    }
                    tributary_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, Unmanaged.passUnretained(sink).toOpaque())
                    return curl_easy_perform(curl)
                }
            }
        }
        guard status == CURLE_OK else {
            throw CommandError("\(method) \(url) failed: \(String(cString: curl_easy_strerror(status)))")
        }
        var code = 0
        tributary_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &code)
        return withExtendedLifetime(sink) { Response(status: code, body: sink.bytes, headers: sink.headers) }
    }

    private final class ResponseSink {
        var bytes: [UInt8] = []
        var headers: [String: String] = [:]

        /// One header line; a status line (a new response, after a redirect or 100) starts over.
        func header(_ line: String) {
            if line.hasPrefix("HTTP/") { headers = [:]; return }
            guard let colon = line.firstIndex(of: ":") else { return }
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
