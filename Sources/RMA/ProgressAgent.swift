import CMPI
import Glibc
import SharedSync
import Synchronization

/// A thread in each process that has staged windows or messages through the region: it applies
/// requests that arrive while the program computes outside MPI (and moves messages: Messages), so an origin's MPI_Win_unlock or MPI_Win_flush completes without
/// the target calling MPI. It never calls MPI (a request that needs MPI_Reduce_local waits for the
/// target's next MPI call, unless the program asked for MPI_THREAD_MULTIPLE, where the agent may
/// call it too; with every predefined op and type native, none does). A guest cannot be woken by
/// another guest's write, so it polls, at a pace that follows the traffic: right after a request
/// it only yields the core (more are likely), then sleeps with doubling pauses, up to 50 us while
/// an origin holds a lock on one of its windows or requests came in the last `activeSpell`
/// (lock_all with MPI_MODE_NOCHECK takes no lock), up to 1 ms otherwise (a thousand cheap looks a second).
enum ProgressAgent {
    /// Guards `windows`: the agent drains them under it, so a window it lets go of is never touched again.
    private static let windowsLock = Mutex(())
    nonisolated(unsafe) private static var windows: [UnsafeMutablePointer<WindowState>] = []
    private static let running = Atomic<Bool>(false)
    nonisolated(unsafe) private static var thread = pthread_t()

    static let yieldingRounds = 256
    static let longestPauseWhileLocked = 50_000
    static let longestPause = 1_000_000
    static let activeSpell: UInt64 = 200_000_000
    /// Whether the agent may apply requests that need MPI_Reduce_local (MPI_THREAD_MULTIPLE).
    nonisolated(unsafe) private static var mayCallMPI = false

    static func register(_ state: UnsafeMutablePointer<WindowState>) {
        windowsLock.withLock { _ in windows.append(state) }
        stagedWindows.store(true, ordering: .releasing)
        ensureRunning()
    }

    /// Starts the agent unless it runs: for staged windows, and for messages through the region
    /// (Messages), which it moves while the program is outside the layer (in MPICH's own calls
    /// too): a sender's queued bytes, a receiver's full ring.
    static func ensureRunning() {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        var level: Int32 = 0
        mayCallMPI = PMPI_Query_thread(&level) == MPI_SUCCESS && level == MPI_THREAD_MULTIPLE
        if pthread_create(&thread, nil, { _ in ProgressAgent.run(); return nil }, nil) != 0 {
            running.store(false, ordering: .releasing)
            Runtime.current?.explain("no progress agent thread: staged windows and messages progress only inside MPI calls")
        }
    }

    private static let stagedWindows = Atomic<Bool>(false)

    /// Whether this process serves staged windows (and so has an agent): its blocking MPI calls
    /// then wait by testing and applying requests in between (BlockingCalls).
    static var servesStagedWindows: Bool { stagedWindows.load(ordering: .relaxed) }

    private static var isRunning: Bool { running.load(ordering: .relaxed) }

    /// Applies what waits in every staged window, from inside an MPI call (BlockingCalls); skips a
    /// round when the agent is at it.
    static func applyPending() {
        windowsLock.withLockIfAvailable { _ in
            for state in windows { StagedTransfer.drain(state, inMPI: true) }
        }
    }

    /// Once this returns the agent no longer touches the window.
    static func unregister(_ state: UnsafeMutablePointer<WindowState>) {
        windowsLock.withLock { _ in windows.removeAll { $0 == state } }
    }

    /// At MPI_Finalize, before windows and the region go away: windows the program did not free
    /// may still have origins working on them, which finish once every member is finalizing.
    static func stop() {
        guard isRunning else { return }
        let unfreed = windowsLock.withLock { _ in windows }
        StagedWindows.depart(unfreed, "MPI_Finalize")
        // MPICH 4.0.2 over UCX asserts in MPI_Finalize on a window still open (its memory stays
        // registered): free them for the program, in creation order, which every member shares.
        for state in unfreed {
            var handle = state.pointee.handle
            _ = Windows.free(&handle)
        }
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        pthread_join(thread, nil)
        windowsLock.withLock { _ in windows.removeAll() }
    }

    private static func run() {
        var idleRounds = 0
        var pause = 0
        var lastWork: UInt64 = 0
        let inMPI = mayCallMPI
        while running.load(ordering: .acquiring) {
            var (worked, locked) = windowsLock.withLock { _ in
                (windows.reduce(false) { StagedTransfer.drain($1, inMPI: inMPI) || $0 }, windows.contains(where: isLocked))
            }
            // Skipped while a thread of the program is at it.
            if Messages.isActive, Messages.lock.withLockIfAvailable({ _ in Messages.progressLocked() }) == true { worked = true }
            let now = monotonicNanoseconds()
            if worked {
                idleRounds = 0
                pause = 0
                lastWork = now
                continue
            }
            idleRounds += 1
            if idleRounds < yieldingRounds {
                sched_yield()
                continue
            }
            let active = locked || now &- lastWork < activeSpell
            pause = min(max(pause * 2, 1_000), active ? longestPauseWhileLocked : longestPause)
            var interval = timespec(tv_sec: 0, tv_nsec: pause)
            nanosleep(&interval, nil)
        }
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
    }

    /// Whether an origin holds a passive-target lock on this rank's part of the window.
    private static func isLocked(_ state: UnsafeMutablePointer<WindowState>) -> Bool {
        guard let control = state.pointee.control else { return false }
        return SharedRWLock(at: control + ControlBlock.passiveLock).state != 0
    }
}
