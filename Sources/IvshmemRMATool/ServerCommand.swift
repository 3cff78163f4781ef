import ArgumentParser
import IvshmemServer

/// `ivshmem-rma server`: QEMU's ivshmem server protocol, for `-device ivshmem-doorbell` guests
/// and for host processes (IVSHMEM_RMA_SERVER). The logic lives in IvshmemServer.
struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Serve an ivshmem region and doorbell eventfds over QEMU's ivshmem server protocol.",
        discussion: """
            QEMU: -chardev socket,path=SOCKET,id=ivsh -device ivshmem-doorbell,chardev=ivsh,vectors=N
            Host processes: IVSHMEM_RMA_SERVER=SOCKET (the library maps the region from the server and \
            sleeps on its doorbell during long waits).
            """)

    @Option(name: [.customShort("S"), .customLong("socket-path")], help: "UNIX socket to listen on.")
    var socketPath = "/tmp/ivshmem_socket"

    @Option(name: [.customShort("M"), .customLong("shm-name")],
            help: "POSIX shared memory name (/dev/shm/NAME). Default when --shm-path is not given: ivshmem.")
    var shmName: String?

    @Option(name: [.customShort("m"), .customLong("shm-path")],
            help: "A file to share (e.g. /dev/shm/server1), or a directory such as a hugetlbfs mount in which an unnamed file is created.")
    var shmPath: String?

    @Option(name: [.customShort("l"), .customLong("size")],
            help: "Size of memory that has to be created: bytes or K/M/G, rounded up to a power of two. An existing non-empty file keeps its size.")
    var size = "4M"

    @Option(name: [.customShort("n"), .customLong("vectors")], help: "Interrupt vectors (eventfds) per peer; QEMU's vectors= must match.")
    var vectors = 1

    @Flag(name: [.customShort("F"), .customLong("foreground")], help: "Stay in the foreground (default: daemonize).")
    var foreground = false

    @Option(name: [.customShort("p"), .customLong("pid-file")], help: "Write the server's pid here.")
    var pidFile: String?

    @Flag(name: [.customShort("v"), .customLong("verbose")], help: "One line per connection and departure.")
    var verbose = false

    func validate() throws {
        if shmName != nil && shmPath != nil { throw ValidationError("give --shm-name or --shm-path, not both") }
        if ServerCommand.byteCount(size) == nil { throw ValidationError("--size \(size): give bytes, or a number with K, M or G") }
    }

    func run() throws {
        let memory: SharedMemorySource = shmPath.map { .path($0) } ?? .posixName(shmName ?? "ivshmem")
        let options = ServerOptions(socketPath: socketPath, memory: memory, size: ServerCommand.byteCount(size)!,
                                    vectors: vectors, verbose: verbose)
        let status = ServerProcess.run(options, foreground: foreground, pidFile: pidFile)
        if status != 0 { throw ExitCode(status) }
    }

    /// "4194304", "4M", "1G", "64K" (binary units).
    static func byteCount(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        guard let last = text.uppercased().last else { return nil }
        let (digits, unit) = units[last].map { (text.dropLast(), $0) } ?? (Substring(text), 1)
        return Int(digits).flatMap { $0 > 0 ? $0 * unit : nil }
    }
}
