import CMPI
import Glibc
import Region
import SharedSync

/// What this process learned at MPI_Init: its region (if any), which world ranks share it, and
/// how to wait. Immutable after `Runtime.start`, so the hot path reads it without locks.
final class Runtime: @unchecked Sendable {
    let config: Config
    let worldRank: Int32
    let worldSize: Int32
    let region: Region?
    /// Random per job; tags this job's blocks and job slot in the region.
    let jobID: UInt64
    /// For each world rank, the world rank of its co-residence group's leader, or -1 when it
    /// uses no region. Two ranks are co-resident exactly when their leaders are equal and not -1.
    let leaders: [Int32]
    let jobSlot: Int?
    let waitPolicy: WaitPolicy
    /// A private duplicate of MPI_COMM_WORLD, used only to drive MPICH's progress while waiting.
    let progressComm: MPI_Comm

    /// Set once by `start`; nil means pure pass-through (MPI not initialized through us, or no region).
    nonisolated(unsafe) static var current: Runtime?

    init(config: Config, worldRank: Int32, worldSize: Int32, region: Region?, jobID: UInt64,
         leaders: [Int32], jobSlot: Int?, progressComm: MPI_Comm) {
        self.config = config
        self.worldRank = worldRank
        self.worldSize = worldSize
        self.region = region
        self.jobID = jobID
        self.leaders = leaders
        self.jobSlot = jobSlot
        self.progressComm = progressComm
        waitPolicy = WaitPolicy(timeoutSeconds: config.timeoutSeconds, progress: driveProgress)
        // A region from an ivshmem server (or an ivshmem-doorbell device): long waits sleep on
        // the doorbell, and releases ring the sleepers.
        if let region, let doorbell = region.mapping.doorbell {
            Doorbell.install(area: region.doorbellArea, port: doorbell)
            if config.verbose {
                warn("rank \(worldRank): doorbell peer \(doorbell.peerID); long waits "
                     + (doorbell.canSleep ? "sleep on its eventfd" : "back off with nanosleep (no interrupt driver in a guest)"))
            }
        }
    }

    deinit { Doorbell.uninstall() }

    /// Whether any two ranks of the job share a region: when none do, windows skip the exchange.
    var anyRanksCoResident: Bool {
        var seen = Set<Int32>()
        return leaders.contains { $0 >= 0 && !seen.insert($0).inserted }
    }

    func isCoResident(_ worldRankA: Int32, _ worldRankB: Int32) -> Bool {
        guard worldRankA >= 0, worldRankB >= 0, worldRankA < worldSize, worldRankB < worldSize else { return false }
        let leader = leaders[Int(worldRankA)]
        return leader >= 0 && leader == leaders[Int(worldRankB)]
    }

    func explain(_ message: @autoclosure () -> String) {
        if config.verbose { warn("rank \(worldRank): \(message())") }
    }

    /// A wait on a peer outlived IVSHMEM_RMA_TIMEOUT: say who and where in one line, then end the job
    /// rather than hang it.
    func abortOnTimeout(_ call: String, waitingFor peers: [Int32]) -> Never {
        let names = peers.map(String.init).joined(separator: ",")
        warn("rank \(worldRank): \(call) waited more than \(Int(config.timeoutSeconds)) s for world rank(s) \(names); "
             + "the peer is stuck or dead (raise IVSHMEM_RMA_TIMEOUT if it is just slow). Aborting the job.")
        awaitStderrForwarded(seconds: 1)
        PMPI_Abort(MPI_COMM_WORLD, 70)
        exit(70)
    }
}

/// MPICH's process manager reads our stderr through a pipe and may end the job on MPI_Abort before
/// it read the line just written (seen here: a time-out abort whose job printed nothing). Waits until
/// the pipe is drained, at most `seconds`.
private func awaitStderrForwarded(seconds: Double) {
    var status = stat()
    guard fstat(STDERR_FILENO, &status) == 0, status.st_mode & S_IFMT == S_IFIFO else { return }
    let deadline = monotonicSeconds() + seconds
    var unread: Int32 = 0
    while ioctl(STDERR_FILENO, UInt(FIONREAD), &unread) == 0, unread > 0, monotonicSeconds() < deadline {
        var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
        nanosleep(&pause, nil)
    }
}

/// What a long wait in the region does between sleeps: moves messages through the region (a peer
/// may wait for bytes this rank still has to write), then MPICH's traffic.
private func driveProgress() {
    if Messages.isActive { Messages.progress() }
    driveMPICHProgress()
}

/// Lets MPICH move its own traffic (a nonblocking send a peer is waiting on, say) while we wait in
/// the region: without it a rank spinning in our fence could starve a message MPICH owes a peer.
func driveMPICHProgress() {
    guard let runtime = Runtime.current else { return }
    var flag: Int32 = 0
    var status = MPI_Status()
    PMPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, runtime.progressComm, &flag, &status)
}
