import Glibc
import SharedSync
import Synchronization

/// A host process connected to an ivshmem server, as QEMU's ivshmem-doorbell device is: it holds
/// the shared memory's fd, its own eventfds (rung by peers) and every other peer's (to ring
/// them), and follows peers joining and leaving. Thread-safe.
public final class IvshmemClient: DoorbellPort {
    public let peerID: Int
    /// The shared memory; the client owns it (closed with the client).
    public let memoryDescriptor: Int32
    public var canSleep: Bool { true }

    public enum PeerEvent: Equatable, Sendable {
        case joined(Int)
        case left(Int)
    }

    private struct State {
        /// Own eventfds, one per vector, in vector order.
        var ownVectors: [Int32] = []
        /// Other peers' eventfds, one per vector.
        var peers: [Int: [Int32]] = [:]
        var events: [PeerEvent] = []
        var serverGone = false
    }

    private let socket: Int32
    private let state = Mutex(State())

    /// Connects and reads the handshake up to this client's first own vector: by then the server
    /// has sent every existing peer (QEMU's server sends them first).
    public init(socketPath: String, timeoutSeconds: Double = 10) throws(ServerError) {
        let socket = try connectUnix(socketPath)
        self.socket = socket
        let deadline = monotonicSeconds() + timeoutSeconds
        func next(_ what: String) throws(ServerError) -> (Int64, Int32) {
            let remaining = deadline - monotonicSeconds()
            guard remaining > 0, waitReadable(socket, timeoutMilliseconds: Int32(remaining * 1000)),
                  case .message(let value, let descriptor) = ProtocolMessage.receive(socket, blocking: true) else {
                throw ServerError("the ivshmem server at \(socketPath) did not send \(what) within \(timeoutSeconds) s")
            }
            return (value, descriptor)
        }
        do throws(ServerError) {
            let (version, _) = try next("its protocol version")
            guard version == ProtocolMessage.version else {
                throw ServerError("the ivshmem server at \(socketPath) speaks protocol version \(version), not \(ProtocolMessage.version)")
            }
            let (id, _) = try next("this client's peer ID")
            guard (0..<65536).contains(id) else { throw ServerError("the ivshmem server at \(socketPath) sent peer ID \(id)") }
            peerID = Int(id)
            let (marker, memory) = try next("the shared memory")
            guard marker == ProtocolMessage.memory, memory >= 0 else {
                if memory >= 0 { close(memory) }
                throw ServerError("the ivshmem server at \(socketPath) sent \(marker) without a descriptor where the shared memory belongs")
            }
            memoryDescriptor = memory
        } catch {
            close(socket)
            throw error
        }
        while state.withLock({ $0.ownVectors.isEmpty }) {
            let (value, descriptor) = try next("this client's eventfd")
            state.withLock { apply(value, descriptor, &$0) }
        }
    }

    deinit {
        close(socket)
        close(memoryDescriptor)
        state.withLock { state in
            state.ownVectors.forEach { close($0) }
            state.peers.values.joined().forEach { close($0) }
        }
    }

    /// The connected peers other than this one, with their vector counts.
    public var peers: [Int: Int] {
        receiveAvailable()
        return state.withLock { $0.peers.mapValues(\.count) }
    }

    /// This client's own vector count so far.
    public var ownVectorCount: Int {
        receiveAvailable()
        return state.withLock { $0.ownVectors.count }
    }

    /// Joins and departures seen since the last call, oldest first (waits up to `seconds` for one).
    /// The peers the handshake listed count as joins.
    public func takeEvents(waitingUpTo seconds: Double = 0) -> [PeerEvent] {
        let deadline = monotonicSeconds() + seconds
        while true {
            receiveAvailable()
            let events = state.withLock { state in
                defer { state.events = [] }
                return state.events
            }
            let remaining = deadline - monotonicSeconds()
            if !events.isEmpty || remaining <= 0 { return events }
            _ = waitReadable(socket, timeoutMilliseconds: Int32(remaining * 1000) + 1)
        }
    }

    /// Whether the server closed the connection.
    public var serverGone: Bool {
        receiveAvailable()
        return state.withLock { $0.serverGone }
    }

    /// Rings `peer`'s `vector` (its own eventfd when `peer` is this client). False when that
    /// peer or vector is unknown.
    @discardableResult
    public func ring(peer: Int, vector: Int) -> Bool {
        var descriptor = state.withLock { Self.descriptor(peer, vector, in: $0, own: peerID) }
        if descriptor == nil {
            // A peer that just joined: its announcement is in our socket (the server sends it
            // before the peer gets its own eventfds, so before it can sleep).
            receiveAvailable()
            descriptor = state.withLock { Self.descriptor(peer, vector, in: $0, own: peerID) }
        }
        guard let descriptor else { return false }
        var one: UInt64 = 1
        return write(descriptor, &one, 8) == 8 || errno == EAGAIN  // EAGAIN: the counter is full, so it is rung
    }

    @discardableResult
    public func ring(peer: Int) -> Bool { ring(peer: peer, vector: 0) }

    /// Reads and clears this client's vector `vector` counter: how many rings arrived (0 if none).
    public func consumeRings(vector: Int = 0) -> UInt64 {
        guard let descriptor = state.withLock({ vector < $0.ownVectors.count ? $0.ownVectors[vector] : nil }) else { return 0 }
        var count: UInt64 = 0
        return read(descriptor, &count, 8) == 8 ? count : 0
    }

    /// Blocks until vector 0 is rung or `seconds` pass, following joins and departures meanwhile;
    /// returns whether it was rung.
    @discardableResult
    public func sleep(seconds: Double) -> Bool {
        guard let own = state.withLock({ $0.ownVectors.first }) else { return false }
        let deadline = monotonicSeconds() + seconds
        while true {
            let remaining = deadline - monotonicSeconds()
            // A negative fd is ignored by poll: a closed socket would report a hang-up forever.
            var entries = [pollfd(fd: own, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: state.withLock { $0.serverGone } ? -1 : socket, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&entries, 2, max(0, Int32((remaining * 1000).rounded(.up))))
            if ready <= 0 { return false }
            if entries[1].revents != 0 { receiveAvailable() }
            if entries[0].revents != 0 { return consumeRings() > 0 }
        }
    }

    private static func descriptor(_ peer: Int, _ vector: Int, in state: State, own: Int) -> Int32? {
        let vectors = peer == own ? state.ownVectors : state.peers[peer] ?? []
        return vector >= 0 && vector < vectors.count ? vectors[vector] : nil
    }

    /// Applies every message already in the socket.
    private func receiveAvailable() {
        state.withLock { state in
            while !state.serverGone {
                switch ProtocolMessage.receive(socket, blocking: false) {
                case .wouldBlock: return
                case .closed: state.serverGone = true
                case .message(let value, let descriptor): apply(value, descriptor, &state)
                }
            }
        }
    }

    /// A peer ID with a descriptor adds a vector to that peer (or to us); without one, the peer left.
    private func apply(_ value: Int64, _ descriptor: Int32, _ state: inout State) {
        guard (0..<65536).contains(value) else {
            if descriptor >= 0 { close(descriptor) }  // not a message of this protocol after the handshake
            return
        }
        let id = Int(value)
        if descriptor < 0 {
            if let gone = state.peers.removeValue(forKey: id) {
                gone.forEach { close($0) }
                state.events.append(.left(id))
            }
        } else if id == peerID {
            state.ownVectors.append(descriptor)
        } else {
            if state.peers[id] == nil { state.events.append(.joined(id)) }
            state.peers[id, default: []].append(descriptor)
        }
    }
}
