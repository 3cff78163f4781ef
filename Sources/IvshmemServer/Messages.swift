import CIvshmemServer
import Glibc

/// A failure of the server or a client, in one line for an operator.
public struct ServerError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }

    static func system(_ what: String, _ code: Int32 = errno) -> ServerError {
        ServerError("\(what): \(String(cString: strerror(code))) (errno \(code))")
    }
}

/// QEMU's ivshmem server protocol (docs/specs/ivshmem-spec.rst): every message is one 8-byte
/// little-endian signed integer, some carrying one file descriptor (SCM_RIGHTS).
enum ProtocolMessage {
    static let version: Int64 = 0
    /// The value of the message that carries the shared memory fd.
    static let memory: Int64 = -1

    /// Sends `value`, with `descriptor` attached when it is not -1. Returns false when the peer is gone.
    @discardableResult
    static func send(_ socket: Int32, _ value: Int64, descriptor: Int32 = -1) -> Bool {
        while true {
            let sent = ivshmem_server_send(socket, value.littleEndian, descriptor)
            if sent == 8 { return true }
            if sent < 0 && errno == EINTR { continue }
            return false
        }
    }

    enum Received: Equatable {
        case message(Int64, descriptor: Int32)  // descriptor -1: none attached
        case wouldBlock
        case closed
    }

    /// Receives one message. A descriptor arrives close-on-exec and belongs to the caller.
    static func receive(_ socket: Int32, blocking: Bool) -> Received {
        var payload: Int64 = 0
        var filled = 0
        var descriptor: Int32 = -1
        while filled < 8 {
            // Once part of a message is in, wait for the rest even on a nonblocking read.
            let flags = blocking || filled > 0 ? 0 : Int32(MSG_DONTWAIT)
            let count = withUnsafeMutableBytes(of: &payload) {
                ivshmem_server_receive(socket, $0.baseAddress! + filled, UInt(8 - filled), flags, &descriptor)
            }
            if count > 0 { filled += count; continue }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && filled == 0 { return .wouldBlock }
            if descriptor >= 0 { close(descriptor) }
            return .closed
        }
        return .message(Int64(littleEndian: payload), descriptor: descriptor)
    }
}

/// Waits until `descriptor` is readable or `timeoutMilliseconds` pass (-1: forever).
/// Returns whether it is readable (or hung up).
func waitReadable(_ descriptor: Int32, timeoutMilliseconds: Int32) -> Bool {
    var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    while true {
        let ready = poll(&entry, 1, timeoutMilliseconds)
        if ready < 0 && errno == EINTR { continue }
        return ready > 0
    }
}
