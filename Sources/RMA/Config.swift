import Glibc
import SharedSync

/// Settings read once from the environment at MPI_Init. Every variable is documented in the README.
struct Config {
    /// IVSHMEM_RMA_REGION: a region file or a PCI resource2 path; unset means "find the ivshmem PCI device".
    /// IVSHMEM_RMA_SERVER: an ivshmem server's socket; takes precedence (RegionLocator reads both).
    var environment: [String: String]
    /// IVSHMEM_RMA_SIZE: bytes for a region file that has to be created (default 256 MiB).
    var createSize: Int
    /// IVSHMEM_RMA_TIMEOUT: seconds a wait on a peer may last before the job is aborted.
    var timeoutSeconds: Double
    /// IVSHMEM_RMA_STATS=1: one stats line per rank at MPI_Finalize.
    var printStats: Bool
    /// IVSHMEM_RMA_VERBOSE=1: explain each decision.
    var verbose: Bool
    /// IVSHMEM_RMA_STREAMING_THRESHOLD: contiguous copies of at least this many bytes use
    /// non-temporal stores. Default: the size of a core's own cache (L2), at least 1 MiB. A copy
    /// that large leaves that cache anyway, and streaming stores skip the read of each destination
    /// line. Measured with a 2 MiB L2 and a 300 MiB L3 (2 ranks, two runs each, against plain
    /// memcpy): 4 MiB puts 1.2-1.3x the bandwidth (put_bw: 9.2 against 7.1 GB/s) and 0.8x the
    /// latency (305 against 379 us); at 1 MiB streaming was slower for a buffer rewritten in
    /// place (90 against 60 us), hence not below the L2 size.
    var streamingThreshold: Int
    /// IVSHMEM_RMA_SHARED_NODES=1: MPI_COMM_TYPE_SHARED groups the ranks that share a region, and
    /// MPI_Win_allocate_shared on them places the memory in it. Off by default: programs that
    /// take "shared" to mean "same kernel" see what MPICH says.
    var sharedNodes: Bool
    /// IVSHMEM_RMA_STAGING_SIZE: the ring each member of an MPI_Win_create window receives requests
    /// in, and the reply area its fetches come back through (each; default 1 MiB). Larger transfers
    /// go in chunks, which the target applies while the origin writes the next.
    var stagingSize: Int
    /// IVSHMEM_RMA_COLLECTIVES=0: every collective goes to MPICH (default: served on communicators
    /// whose members all share the region).
    var collectives: Bool
    /// IVSHMEM_RMA_COLLECTIVE_SLOT: bytes each member of a served communicator contributes per step
    /// of a broadcast or reduction (two such slots a member; larger messages go in steps; default 32 KiB).
    var collectiveSlot: Int
    /// IVSHMEM_RMA_PT2PT=0: every point-to-point call goes to MPICH (default: served on
    /// communicators whose members all share the region, PointToPoint.swift).
    var pointToPoint: Bool
    /// IVSHMEM_RMA_CHANNEL_SIZE: the ring each rank receives messages from one co-resident rank in
    /// (default 256 KiB); messages longer than a quarter of it go in several records.
    var channelSize: Int

    static func fromEnvironment() -> Config {
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "="), pair.hasPrefix("IVSHMEM_RMA_") {
                environment[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        return Config(environment: environment,
                      createSize: environment["IVSHMEM_RMA_SIZE"].flatMap(parseByteSize) ?? 256 << 20,
                      timeoutSeconds: environment["IVSHMEM_RMA_TIMEOUT"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil } ?? 120,
                      printStats: environment["IVSHMEM_RMA_STATS"] == "1",
                      verbose: environment["IVSHMEM_RMA_VERBOSE"] == "1",
                      streamingThreshold: environment["IVSHMEM_RMA_STREAMING_THRESHOLD"].flatMap(parseByteSize) ?? max(coreCacheSize(), 1 << 20),
                      sharedNodes: environment["IVSHMEM_RMA_SHARED_NODES"] == "1",
                      stagingSize: environment["IVSHMEM_RMA_STAGING_SIZE"].flatMap(parseByteSize)
                          .map { max(roundUp($0, to: 4096), 16 << 10) } ?? 1 << 20,
                      collectives: environment["IVSHMEM_RMA_COLLECTIVES"] != "0",
                      collectiveSlot: environment["IVSHMEM_RMA_COLLECTIVE_SLOT"].flatMap(parseByteSize)
                          .map { max(roundUp($0, to: 64), 64) } ?? 32 << 10,
                      pointToPoint: environment["IVSHMEM_RMA_PT2PT"] != "0",
                      channelSize: environment["IVSHMEM_RMA_CHANNEL_SIZE"].flatMap(parseByteSize)
                          .map { max(roundUp($0, to: 4096), 4096) } ?? 256 << 10)
    }
}

/// Bytes in one core's L2 cache as the C library reports it; 0 when it reports none.
func coreCacheSize() -> Int {
    max(sysconf(Int32(_SC_LEVEL2_CACHE_SIZE)), 0)
}

/// "268435456", "256M", "1G", "64K" (binary units).
func parseByteSize(_ text: String) -> Int? {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    guard let last = text.uppercased().last else { return nil }
    if let unit = units[last] {
        return Int(text.dropLast()).flatMap { $0 > 0 ? $0 * unit : nil }
    }
    return Int(text).flatMap { $0 > 0 ? $0 : nil }
}

/// One line to stderr, always prefixed so users can grep for the library's words.
func warn(_ message: String) {
    writeLine("ivshmem-rma: \(message)")
}

/// One whole line in one write(2), so lines from many ranks sharing a terminal do not interleave.
func writeLine(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
}
