import Foundation

/// A kind of one-sided call, as the library counts them in its stats line
/// (`put_shm`/`put_mpi`, `get_shm`/`get_mpi`, `acc_shm`/`acc_mpi`).
enum OneSidedCall: String, CaseIterable, Sendable {
    case put, get, acc
}

/// One of the self-checking C programs in `Programs/`, and what the harness may expect
/// of it when the library serves it.
struct MPIProgram: Sendable, Hashable, CustomStringConvertible {
    /// File name in `Programs/` without `.c`; it prints `PASS <name>` on success.
    let name: String
    /// Calls every rank makes to every kind of target (itself, co-resident and, in a
    /// two-region job, remote ranks) on MPI_Win_allocate windows.
    let calls: Set<OneSidedCall>
    /// Also uses windows the library hands to MPICH unchanged (MPI_Win_create, ...), so
    /// `*_mpi` counts may be nonzero even when every rank shares one region.
    var usesPassThroughWindows = false
    /// Arguments that turn on checks only the library makes (see range_errors.c); passed
    /// when every target shares the caller's region.
    var argumentsWhenServedByRegion: [String] = []

    var passLine: String { "PASS \(name)" }
    var description: String { name }
}

extension MPIProgram {
    static let putGet = MPIProgram(name: "put_get", calls: [.put, .get])
    static let syncModes = MPIProgram(name: "sync_modes", calls: [.put, .get])
    static let datatypes = MPIProgram(name: "datatypes", calls: [.put, .get, .acc])
    static let accumulateOps = MPIProgram(name: "accumulate_ops", calls: [.acc])
    static let atomicity = MPIProgram(name: "atomicity", calls: [.put, .get, .acc])
    static let rangeErrors = MPIProgram(
        name: "range_errors", calls: [.put, .get, .acc], argumentsWhenServedByRegion: ["--expect-range-errors"])
    static let windowShapes = MPIProgram(name: "window_shapes", calls: [.put, .get])
    static let windowLifecycle = MPIProgram(name: "window_lifecycle", calls: [.put])
    static let passThroughWindows = MPIProgram(name: "passthrough_windows", calls: [.put], usesPassThroughWindows: true)
    /// Attachments from MPI_Alloc_mem (region copies) and malloc (MPICH), accumulates by MPICH.
    static let dynamicWindows = MPIProgram(
        name: "dynamic_windows", calls: [.put, .get], usesPassThroughWindows: true,
        argumentsWhenServedByRegion: ["--expect-range-errors"])
    static let allocMem = MPIProgram(name: "alloc_mem", calls: [], usesPassThroughWindows: true)
    /// MPI_NO_OP with ignored origins, zero-byte calls, MPI_BOTTOM, pair types, every op on every type.
    static let rmaCorners = MPIProgram(name: "rma_corners", calls: [.put, .get, .acc])
    /// The MPI-4 `_c` twins of every served call, on MPI_Win_allocate_c and MPI_Win_create_c windows.
    static let largeCount = MPIProgram(name: "large_count", calls: [.put, .get, .acc])
    /// Four threads per rank at once under MPI_THREAD_MULTIPLE: one lock_all epoch, locks on
    /// different targets, windows of each thread's own.
    static let threads = MPIProgram(name: "threads", calls: [.put, .get, .acc])
    /// Its node size depends on IVSHMEM_RMA_SHARED_NODES: only RegionMemoryTests runs it.
    static let sharedWindows = MPIProgram(name: "shared_windows", calls: [.put, .get, .acc])

    /// Rank 0 computes outside MPI while the others lock, put, fetch and unlock its MPI_Win_create
    /// window (rank 0 itself makes no one-sided calls). Plain MPICH without asynchronous progress
    /// never finishes it (measured: no put arrived within 60 s), so only the library runs it.
    static let busyTarget = MPIProgram(name: "busy_target", calls: [])

    /// 2+2 ranks on two regions: a co-resident origin's put must wait for a lock or post the MPI
    /// library grants late (a target holding its own exclusive lock, a late post).
    static let lateGrant = MPIProgram(name: "late_grant", calls: [.put])

    /// One member of an MPI_Win_allocate gets no memory: every member returns MPI_ERR_NO_MEM.
    /// Plain MPICH 4.0.2 hangs in it, so only the library runs it.
    static let allocFailure = MPIProgram(name: "alloc_failure", calls: [.put])

    /// Deadlocks on purpose (never prints PASS); only the wait-timeout test runs it.
    static let lockWaitTimeout = MPIProgram(name: "lock_wait_timeout", calls: [])

    /// Every program that checks its own results.
    static let selfChecking: [MPIProgram] = [
        putGet, syncModes, datatypes, accumulateOps, atomicity, rangeErrors, windowShapes, windowLifecycle,
        passThroughWindows, dynamicWindows, allocMem, rmaCorners, largeCount, threads,
    ]
    /// The main data-movement and synchronization programs, also run at 8 ranks.
    static let core: [MPIProgram] = [putGet, syncModes, datatypes, accumulateOps, atomicity]
    /// Programs run with ranks split over two regions (two "servers").
    static let acrossRegions: [MPIProgram] = [putGet, syncModes, accumulateOps, atomicity, lateGrant]
}
