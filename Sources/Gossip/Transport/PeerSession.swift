import Crypto
import Synchronization

/// One connection's protocol, without its socket: the handshake, the frame cipher, cutting
/// messages into packets by channel priority and reassembling them. Bytes go in through
/// `receive`, and out through `output`, which `fillOutput` tops up from the send queue.
///
/// Only the transport's I/O thread touches a session, except `queue`, which any thread fills
/// (`TCPTransport.send`), and the byte totals, which anyone may read.
final class PeerSession: @unchecked Sendable {
    enum Phase {
        case awaitingHello
        case awaitingAuth(transcript: Digest)
        case established
    }

    /// What incoming bytes produced.
    enum Event {
        case established(NodeID)
        case message(Channel, WireMessage, bytes: Int)
    }

    let handshake: Handshake
    private let frameBytesMax: Int
    private let packetDataMax: Int
    private let metrics: TransportMetrics
    private(set) var phase = Phase.awaitingHello
    private(set) var peerID: NodeID?
    private var cipher: FrameCipher?
    private var input: [UInt8] = []
    private var inputStart = 0
    private var assembler: PacketAssembler
    /// Bytes ready for the socket, from `outputStart` on.
    private(set) var output: [UInt8]
    private(set) var outputStart = 0
    /// Messages waiting to be cut into frames, filled from any thread.
    let queue: Mutex<SendQueue>
    let bytesSent = Atomic<UInt64>(0)
    let bytesReceived = Atomic<UInt64>(0)

    init(handshake: Handshake, config: TransportConfig, metrics: TransportMetrics) {
        self.handshake = handshake
        frameBytesMax = config.frameBytesMax
        packetDataMax = config.packetDataMax
        self.metrics = metrics
        assembler = PacketAssembler(messageBytesMax: config.messageBytesMax)
        queue = Mutex(SendQueue(bytesMax: config.sendQueueBytesMax))
        output = handshake.hello.bytes
        metrics.handshake(sent: output.count)
    }

    var isEstablished: Bool {
        if case .established = phase { return true }
        return false
    }

    var hasOutput: Bool { outputStart < output.count }

    /// Marks `count` bytes of `output` written to the socket.
    func consumeOutput(_ count: Int) {
        precondition(count <= output.count - outputStart, "wrote more than the output held")
        outputStart += count
        bytesSent.wrappingAdd(UInt64(count), ordering: .relaxed)
        if outputStart == output.count {
            output.removeAll(keepingCapacity: true)
            outputStart = 0
        }
    }

    // MARK: Incoming

    /// Takes bytes read from the socket; returns what they completed. Throws why the
    /// connection must be dropped.
    func receive(_ bytes: UnsafeRawBufferPointer) throws(DropReason) -> [Event] {
        bytesReceived.wrappingAdd(UInt64(bytes.count), ordering: .relaxed)
        input.append(contentsOf: bytes)
        var events: [Event] = []
        defer {
            if inputStart > 65_536 && inputStart * 2 > input.count {
                input.removeFirst(inputStart)
                inputStart = 0
            }
        }
        while true {
            if case .awaitingHello = phase {
                guard try receiveHello() else { return events }
                continue
            }
            guard let plaintext = try nextFrame() else { return events }
            switch phase {
            case .awaitingHello:
                preconditionFailure("the hello is read before any frame")
            case let .awaitingAuth(transcript):
                let peer: NodeID
                do { peer = try handshake.verifyPeer(auth: plaintext, transcript: transcript) } catch { throw .handshake(error) }
                peerID = peer
                phase = .established
                events.append(.established(peer))
            case .established:
                guard let (channel, message) = try reassemble(plaintext) else { continue }
                let decoded: WireMessage
                do { decoded = try WireMessage(canonicalBytes: message, maxBytes: message.count) } catch {
                    throw .malformed("\(channel) message: \(error)")
                }
                switch decoded {
                // A pong goes within the send queue's limit (else it is left out): a peer that
                // pings and never reads cannot grow its queue without bound; the write-stall
                // timeout drops it.
                case let .ping(nonce): _ = queue.withLock { $0.append(WireMessage.pong(nonce).canonicalBytes, channel: .control) }
                case .pong: break
                default:
                    guard channel != .control else { throw .malformed("\(decoded) on the control channel") }
                    events.append(.message(channel, decoded, bytes: message.count))
                }
            }
        }
    }

    private func receiveHello() throws(DropReason) -> Bool {
        let parsed: (hello: Hello, consumed: Int)?
        do { parsed = try Hello.parse(input[inputStart...]) } catch { throw .handshake(error) }
        guard let (hello, consumed) = parsed else { return false }
        inputStart += consumed
        metrics.handshake(received: consumed)
        let accepted: (cipher: FrameCipher, auth: [UInt8], transcript: Digest)
        do { accepted = try handshake.accept(hello) } catch { throw .handshake(error) }
        var frameCipher = accepted.cipher
        let before = output.count
        frameCipher.seal(accepted.auth, appendingTo: &output)
        metrics.handshake(sent: output.count - before)
        cipher = frameCipher
        phase = .awaitingAuth(transcript: accepted.transcript)
        return true
    }

    /// The plaintext of the next whole frame in the input, or nil if it has not all arrived.
    private func nextFrame() throws(DropReason) -> [UInt8]? {
        let available = input.count - inputStart
        guard available >= FrameCipher.lengthBytes else { return nil }
        let length = FrameCipher.length(input[inputStart..<inputStart + FrameCipher.lengthBytes])
        guard Int(length) <= frameBytesMax else { throw .oversizeFrame(Int(length)) }
        guard Int(length) >= FrameCipher.tagBytes else { throw .malformed("frame of \(length) bytes") }
        let frameBytes = FrameCipher.lengthBytes + Int(length)
        guard available >= frameBytes else { return nil }
        let bodyStart = inputStart + FrameCipher.lengthBytes
        let plaintext = input.withUnsafeBytes { raw in
            cipher!.open(UnsafeRawBufferPointer(rebasing: raw[bodyStart..<bodyStart + Int(length)]), length: length)
        }
        guard let plaintext else { throw .frameAuthentication }
        inputStart += frameBytes
        if isEstablished, let channel = plaintext.first.flatMap(Channel.init(rawValue:)) {
            metrics.received(channel, bytes: frameBytes)
        } else if !isEstablished {
            metrics.handshake(received: frameBytes)
        }
        return plaintext
    }

    private func reassemble(_ packet: [UInt8]) throws(DropReason) -> (Channel, [UInt8])? {
        do { return try assembler.add(packet) } catch {
            switch error {
            case let .malformed(what): throw .malformed(what)
            case let .messageTooLarge(channel): throw .messageTooLarge(channel)
            }
        }
    }

    // MARK: Outgoing

    func enqueueControl(_ message: WireMessage) {
        _ = queue.withLock { $0.append(message.canonicalBytes, channel: .control, force: true) }
    }

    /// Seals the next packet of the most urgent channel into `output`; false when nothing waits
    /// (or the handshake is not done: nothing but the handshake goes out before it).
    func fillOutput() -> Bool {
        guard isEstablished else { return false }
        guard let (channel, packet) = queue.withLock({ $0.nextPacket(dataMax: packetDataMax) }) else { return false }
        let before = output.count
        cipher!.seal(packet, appendingTo: &output)
        metrics.sent(channel, bytes: output.count - before)
        return true
    }
}

/// A peer's outgoing messages, one FIFO per channel, bounded in bytes.
struct SendQueue {
    let bytesMax: Int
    private(set) var bytes = 0
    private var messages: [[[UInt8]]] = Array(repeating: [], count: Channel.allCases.count)
    private var heads = [Int](repeating: 0, count: Channel.allCases.count)
    /// How much of each channel's head message is already cut into packets.
    private var offsets = [Int](repeating: 0, count: Channel.allCases.count)

    init(bytesMax: Int) { self.bytesMax = bytesMax }

    var isEmpty: Bool { bytes == 0 }

    /// Queues an encoded message; false when it does not fit (unless `force`).
    mutating func append(_ message: [UInt8], channel: Channel, force: Bool = false) -> Bool {
        guard force || bytes + message.count <= bytesMax else { return false }
        messages[Int(channel.rawValue)].append(message)
        bytes += message.count
        return true
    }

    /// The next packet (header and data) of the highest-priority channel with something queued.
    mutating func nextPacket(dataMax: Int) -> (Channel, [UInt8])? {
        for channel in Channel.allCases {
            let index = Int(channel.rawValue)
            guard heads[index] < messages[index].count else { continue }
            let message = messages[index][heads[index]]
            let start = offsets[index]
            let end = min(message.count, start + dataMax)
            let isLast = end == message.count
            var packet = [channel.rawValue, isLast ? Packet.lastFlag : 0]
            packet.reserveCapacity(Packet.headerBytes + end - start)
            packet.append(contentsOf: message[start..<end])
            if isLast {
                bytes -= message.count
                heads[index] += 1
                offsets[index] = 0
                if heads[index] > 64 && heads[index] * 2 > messages[index].count {
                    messages[index].removeFirst(heads[index])
                    heads[index] = 0
                }
            } else {
                offsets[index] = end
            }
            return (channel, packet)
        }
        return nil
    }
}
