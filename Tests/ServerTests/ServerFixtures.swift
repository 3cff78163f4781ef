import Foundation
import Glibc
import IvshmemServer
import Testing

/// A server on its own thread, with its socket and memory file in a fresh directory under /tmp
/// (a UNIX socket path must stay short).
final class RunningServer: @unchecked Sendable {
    let directory: String
    let server: IvshmemServer
    private let stopServer: @Sendable () -> Void

    var socketPath: String { directory + "/socket" }
    var memoryPath: String { directory + "/memory" }

    init(vectors: Int = 1, size: Int = 1 << 20) throws {
        var template = Array("/tmp/ivs-XXXXXX".utf8CString)
        directory = try #require(mkdtemp(&template).map { String(cString: $0) })
        server = try IvshmemServer(ServerOptions(socketPath: directory + "/socket", memory: .path(directory + "/memory"),
                                                 size: size, vectors: vectors))
        stopServer = server.runInBackground()
    }

    /// Stops the server thread and removes the directory.
    func stop() {
        stopServer()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The whole memory a client was handed, mapped shared.
struct MappedMemory {
    let base: UnsafeMutableRawPointer
    let size: Int

    init(_ client: IvshmemClient) throws {
        var status = stat()
        #expect(fstat(client.memoryDescriptor, &status) == 0)
        size = Int(status.st_size)
        let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, client.memoryDescriptor, 0)
        base = try #require(address == MAP_FAILED ? nil : address)
    }

    func unmap() { munmap(base, size) }
}

/// Polls `condition` every 10 ms for up to `seconds`.
func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// CPU time of the calling thread.
func threadCPUSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}
