import CIvshmemServer
import Dispatch
import Glibc

/// How to run an ivshmem server; the options of QEMU's contrib/ivshmem-server.
public struct ServerOptions: Sendable, Equatable {
    /// The UNIX socket QEMU's `-chardev socket,path=...` and host clients connect to.
    public var socketPath: String
    public var memory: SharedMemorySource
    /// Bytes of a memory that has to be created (rounded up to a power of two).
    public var size: Int
    /// Interrupt vectors per peer: one eventfd each (QEMU's `vectors=` must match).
    public var vectors: Int
    /// One line on stdout per connection, departure and decision.
    public var verbose: Bool

    public init(socketPath: String, memory: SharedMemorySource, size: Int, vectors: Int = 1, verbose: Bool = false) {
        self.socketPath = socketPath
        self.memory = memory
        self.size = size
        self.vectors = vectors
        self.verbose = verbose
    }

    /// Highest vector count QEMU's ivshmem device accepts (IVSHMEM_MAX_VECTORS... it uses MSI-X: 1024 is plenty).
    public static let maximumVectors = 1024
}

/// A QEMU-compatible ivshmem server: one poll(2) loop over the listening socket and the peers'
/// sockets. Peers get IDs 0, 1, 2, ... (the lowest not in use after the last one given, as
/// QEMU's server), the memory's fd, every other peer's eventfds and their own.
/// A peer leaves when its socket closes (or sends anything: peers never talk to the server).
public final class IvshmemServer: @unchecked Sendable {
    public let options: ServerOptions
    /// The shared memory's size in bytes (after rounding, or the size an existing file had).
    public let memorySize: Int

    private struct Peer {
        var id: Int64
        var socket: Int32
        var eventfds: [Int32]
    }

    private let memoryDescriptor: Int32
    private let listener: Int32
    /// Writing a byte to stopPipe[1] ends `run` (from another thread or a signal handler).
    private let stopPipe: (read: Int32, write: Int32)
    private var peers: [Peer] = []
    private var nextID: Int64 = 0
    static let idCount: Int64 = 1 << 16

    /// Opens (creating and sizing when empty) the memory and listens on the socket, replacing a
    /// stale socket file from an earlier run.
    public init(_ options: ServerOptions) throws(ServerError) {
        guard (1...ServerOptions.maximumVectors).contains(options.vectors) else {
            throw ServerError("vectors must be 1 to \(ServerOptions.maximumVectors), not \(options.vectors)")
        }
        self.options = options
        let verbose = options.verbose
        (memoryDescriptor, memorySize) = try SharedMemory.open(options.memory, size: options.size) { line in
            if verbose { Self.log(line) }
        }
        do {
            listener = try Self.listen(options.socketPath)
        } catch {
            close(memoryDescriptor)
            throw error
        }
        var ends: [Int32] = [0, 0]
        guard ivshmem_server_pipe(&ends) == 0 else {
            close(memoryDescriptor)
            close(listener)
            throw .system("cannot create a pipe")
        }
        stopPipe = (ends[0], ends[1])
    }

    deinit {
        for peer in peers { drop(peer) }
        unlink(options.socketPath)
        close(listener)
        close(memoryDescriptor)
        close(stopPipe.read)
        close(stopPipe.write)
    }

    /// Serves until `stop()` is called (or the stop pipe is written to), then disconnects every peer.
    public func run() {
        if options.verbose {
            Self.log("listening on \(options.socketPath): \(memorySize) bytes, \(options.vectors) vector(s) per peer")
        }
        while true {
            var entries = [pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            entries += peers.map { pollfd(fd: $0.socket, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&entries, nfds_t(entries.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                Self.log("poll failed: \(String(cString: strerror(errno))); stopping")
                return
            }
            if entries[0].revents != 0 {
                // Stopping disconnects everyone, as QEMU's server does on exit.
                peers.forEach(drop)
                peers = []
                return
            }
            // Any event on a peer's socket (data or hang-up) means it is gone: peers only listen.
            let gone = Set(entries.dropFirst(2).filter { $0.revents != 0 }.map(\.fd))
            for peer in peers where gone.contains(peer.socket) { remove(peer) }
            if entries[1].revents != 0 { accept() }
        }
    }

    /// Runs the server on a thread of its own (tests, programs embedding it); the returned function
    /// stops it and returns once `run` has.
    public func runInBackground() -> @Sendable () -> Void {
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue(label: "ivshmem-server").async {
            self.run()
            finished.signal()
        }
        return {
            self.stop()
            finished.wait()
        }
    }

    /// Makes `run` return soon; safe from any thread.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
    }

    /// The descriptor whose write end `stop()` uses, for a signal handler (write one byte to it).
    public var stopDescriptor: Int32 { stopPipe.write }

    /// The IDs of the connected peers, in connection order (for tests and logs).
    public var peerIDs: [Int64] { peers.map(\.id) }

    private func accept() {
        let socket = ivshmem_server_accept(listener)
        guard socket >= 0 else { return }
        guard let id = freeID() else {
            Self.log("no free peer ID (65536 peers connected): refusing a connection")
            close(socket)
            return
        }
        var eventfds: [Int32] = []
        for _ in 0..<options.vectors {
            let descriptor = ivshmem_server_eventfd()
            guard descriptor >= 0 else {
                Self.log("cannot create an eventfd: \(String(cString: strerror(errno))); refusing a connection")
                eventfds.forEach { close($0) }
                close(socket)
                return
            }
            eventfds.append(descriptor)
        }
        let peer = Peer(id: id, socket: socket, eventfds: eventfds)
        nextID = (id + 1) % Self.idCount
        // The order of QEMU's server: version, ID, memory; the new peer to the others; the others
        // to the new peer; the new peer's own vectors. So once a peer has its own vectors, every
        // other peer already has the announcement of it in its socket.
        guard ProtocolMessage.send(socket, ProtocolMessage.version),
              ProtocolMessage.send(socket, id),
              ProtocolMessage.send(socket, ProtocolMessage.memory, descriptor: memoryDescriptor) else {
            if options.verbose { Self.log("a client left during the handshake") }
            drop(peer)
            return
        }
        for other in peers {
            for descriptor in eventfds { ProtocolMessage.send(other.socket, id, descriptor: descriptor) }
        }
        for other in peers {
            for descriptor in other.eventfds { ProtocolMessage.send(socket, other.id, descriptor: descriptor) }
        }
        for descriptor in eventfds { ProtocolMessage.send(socket, id, descriptor: descriptor) }
        peers.append(peer)
        if options.verbose { Self.log("peer \(id) connected (\(peers.count) connected)") }
    }

    /// The first ID from `nextID` on (wrapping) that no connected peer uses.
    private func freeID() -> Int64? {
        let used = Set(peers.map(\.id))
        for step in 0..<Self.idCount {
            let id = (nextID + step) % Self.idCount
            if !used.contains(id) { return id }
        }
        return nil
    }

    private func remove(_ peer: Peer) {
        peers.removeAll { $0.id == peer.id }
        drop(peer)
        for other in peers { ProtocolMessage.send(other.socket, peer.id) }
        if options.verbose { Self.log("peer \(peer.id) left (\(peers.count) connected)") }
    }

    private func drop(_ peer: Peer) {
        close(peer.socket)
        peer.eventfds.forEach { close($0) }
    }

    private static func listen(_ path: String) throws(ServerError) -> Int32 {
        // A socket file nobody listens on is left over from a server that died: replace it.
        if isStale(path) { unlink(path) }
        return try listenUnix(path)
    }

    /// Whether `path` is a socket file that refuses connections.
    private static func isStale(_ path: String) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return false }
        guard let probe = try? connectUnix(path) else { return true }
        close(probe)
        return false
    }

    static func log(_ line: String) {
        var text = "ivshmem-rma server: " + line + "\n"
        text.withUTF8 { _ = write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }
}

/// A stream socket listening at `path`.
func listenUnix(_ path: String) throws(ServerError) -> Int32 {
    try unixSocket(path) { socket, address, length in
        bind(socket, address, length) == 0 && Glibc.listen(socket, 16) == 0
    } failure: { code in
        .system("cannot listen on \(path)" + (code == EADDRINUSE ? " (another server is running there)" : ""), code)
    }
}

/// Connects a stream socket to the UNIX socket at `path`.
func connectUnix(_ path: String) throws(ServerError) -> Int32 {
    try unixSocket(path) { socket, address, length in connect(socket, address, length) == 0 } failure: { code in
        .system("cannot connect to the ivshmem server at \(path)", code)
    }
}

/// A new stream socket on which `use` (bind or connect) succeeded with the address of `path`.
private func unixSocket(_ path: String, _ use: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool,
                        failure: (Int32) -> ServerError) throws(ServerError) -> Int32 {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard path.utf8.count < capacity else { throw ServerError("socket path \(path) is longer than \(capacity - 1) bytes") }
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
    let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard socket >= 0 else { throw .system("cannot create a socket") }
    let succeeded = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { use(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard succeeded else {
        let code = errno
        close(socket)
        throw failure(code)
    }
    return socket
}
