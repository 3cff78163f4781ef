import Synchronization

/// Counts of calls served through the region ("shm") and handed to MPICH ("mpi").
/// Relaxed atomic counters: exact under MPI_THREAD_MULTIPLE, one uncontended add on the hot path.
enum Counter: Int, CaseIterable {
    case putShm, putMpi, getShm, getMpi, accShm, accMpi, syncShm, syncMpi, windowsShm, windowsMpi
    /// Collective calls (Collectives.swift).
    case collShm, collMpi
    /// Point-to-point sends and receives (PointToPoint.swift; a sendrecv counts one of each).
    case sendShm, sendMpi, recvShm, recvMpi

    var key: String {
        switch self {
        case .putShm: "put_shm"
        case .putMpi: "put_mpi"
        case .getShm: "get_shm"
        case .getMpi: "get_mpi"
        case .accShm: "acc_shm"
        case .accMpi: "acc_mpi"
        case .syncShm: "sync_shm"
        case .syncMpi: "sync_mpi"
        case .windowsShm: "windows_shm"
        case .windowsMpi: "windows_mpi"
        case .collShm: "coll_shm"
        case .collMpi: "coll_mpi"
        case .sendShm: "send_shm"
        case .sendMpi: "send_mpi"
        case .recvShm: "recv_shm"
        case .recvMpi: "recv_mpi"
        }
    }
}

enum Stats {
    /// One per Counter case. A literal, so the compiler initializes it statically: counting is a
    /// single locked add, with no initialization check (scripts/overhead counts it).
    private static let counts: [16 of Atomic<Int>] = [
        Atomic(0), Atomic(0), Atomic(0), Atomic(0), Atomic(0), Atomic(0), Atomic(0), Atomic(0), Atomic(0), Atomic(0),
        Atomic(0), Atomic(0), Atomic(0), Atomic(0), Atomic(0), Atomic(0),
    ]

    @inline(__always)
    static func count(_ counter: Counter) {
        counts[counter.rawValue].wrappingAdd(1, ordering: .relaxed)
    }

    static func value(_ counter: Counter) -> Int {
        counts[counter.rawValue].load(ordering: .relaxed)
    }

    /// `ivshmem-rma stats rank=3 region=/dev/shm/x put_shm=10 ...`: the line IVSHMEM_RMA_STATS=1 prints.
    static func line(worldRank: Int32, regionPath: String?) -> String {
        let pairs = Counter.allCases.map { "\($0.key)=\(value($0))" }.joined(separator: " ")
        return "ivshmem-rma stats rank=\(worldRank) region=\(regionPath ?? "none") \(pairs)"
    }
}

/// The library's own C API (include/ivshmem_rma.h), apart from MPI.
public enum LibraryInfo {
    public static let version = "0.1.0"
    nonisolated(unsafe) public static let versionCString: UnsafePointer<CChar> = {
        let bytes = Array(version.utf8CString)
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
        copy.initialize(from: bytes, count: bytes.count)
        return UnsafePointer(copy)
    }()

    /// Writes the counters in `ivshmem_rma_stats` field order (Counter's order). The struct ends at
    /// windows_mpi: programs built against it keep working; later counters are in the stats line.
    public static func copyStats(_ destination: UnsafeMutablePointer<UInt64>?) -> Int32 {
        guard let destination else { return -1 }
        for counter in Counter.allCases where counter.rawValue <= Counter.windowsMpi.rawValue {
            destination[counter.rawValue] = UInt64(Stats.value(counter))
        }
        return 0
    }

    public static var isActive: Bool {
        guard let runtime = Runtime.current else { return false }
        return Policy.mayServe(runtime)
    }
}
