import Glibc
import SharedSync
import Synchronization

/// A thread in each process that has staged windows: it applies requests that arrive while the
/// program computes outside MPI, so an origin's MPI_Win_unlock or MPI_Win_flush completes without
/// the target calling MPI. It never calls MPI (a request that needs MPI_Reduce_local waits for the
/// target's next MPI call). A guest cannot be woken by another guest's write, so it polls, at a
/// pace that follows the traffic: right after a request it only yields the core (more are likely),
/// then sleeps with doubling pauses, up to 50 us while an origin holds a lock on one of its windows
/// (requests are on their way) and up to 1 ms otherwise (a thousand cheap looks a second).
enum ProgressAgent {
    /// Guards `windows`: the agent drains them under it, so a window it lets go of is never touched again.
    private static let windowsLock = Mutex(())
    nonisolated(unsafe) private static var windows: [UnsafeMutablePointer<WindowState>] = []
    private static let running = Atomic<Bool>(false)
    nonisolated(unsafe) private static var thread = pthread_t()

    static let yieldingRounds = 256
    static let longestPauseWhileLocked = 50_000
    static let longestPause = 1_000_000

    static func register(_ state: UnsafeMutablePointer<WindowState>) {
        windowsLock.withLock { _ in windows.append(state) }
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        if pthread_create(&thread, nil, { _ in ProgressAgent.run(); return nil }, nil) != 0 {
            running.store(false, ordering: .releasing)
            Runtime.current?.explain("no progress agent thread: staged windows progress only inside MPI calls")
        }
    }

    /// Whether this process serves staged windows (and so has an agent).
    static var isRunning: Bool { running.load(ordering: .relaxed) }

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

    /// At MPI_Finalize, before windows and the region go away.
    static func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        pthread_join(thread, nil)
        windowsLock.withLock { _ in windows.removeAll() }
    }

    private static func run() {
        var idleRounds = 0
        var pause = 0
        while running.load(ordering: .acquiring) {
            let (worked, locked) = windowsLock.withLock { _ in
                (windows.reduce(false) { StagedTransfer.drain($1, inMPI: false) || $0 }, windows.contains(where: isLocked))
            }
            if worked {
                idleRounds = 0
                pause = 0
                continue
            }
            idleRounds += 1
            if idleRounds < yieldingRounds {
                sched_yield()
                continue
            }
            pause = min(max(pause * 2, 1_000), locked ? longestPauseWhileLocked : longestPause)
            var interval = timespec(tv_sec: 0, tv_nsec: pause)
            nanosleep(&interval, nil)
        }
    }

    /// Whether an origin holds a passive-target lock on this rank's part of the window.
    private static func isLocked(_ state: UnsafeMutablePointer<WindowState>) -> Bool {
        guard let control = state.pointee.control else { return false }
        return SharedRWLock(at: control + ControlBlock.passiveLock).state != 0
    }
}
