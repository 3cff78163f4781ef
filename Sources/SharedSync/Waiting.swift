import CShims
import Glibc

/// How a cross-process wait behaves: spin briefly (the fast path when the peer is running on
/// another core), then yield and sleep with growing pauses (so 8 ranks on 2 cores still finish),
/// and give up at a deadline instead of hanging.
public struct WaitPolicy: Sendable {
    /// Busy-wait probes before the first yield.
    public var spinProbes: Int
    /// Longest single sleep once backing off, in nanoseconds.
    public var maxSleepNanoseconds: Int
    /// How long a wait may last before it reports a time-out, in seconds.
    public var timeoutSeconds: Double
    /// Called between sleeps once a wait has outlasted the spinning and yielding phases (never
    /// on a short wait: MPICH's progress over TCP costs system calls): lets the caller drive other
    /// progress, such as MPICH's, so a peer blocked on us elsewhere can move on.
    public var progress: (@convention(c) () -> Void)?

    public init(spinProbes: Int = 2_000, maxSleepNanoseconds: Int = 50_000,
                timeoutSeconds: Double = 120, progress: (@convention(c) () -> Void)? = nil) {
        self.spinProbes = spinProbes
        self.maxSleepNanoseconds = maxSleepNanoseconds
        self.timeoutSeconds = timeoutSeconds
        self.progress = progress
    }
}

/// Monotonic seconds, for deadlines.
@inlinable
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}

/// Waits until `condition` holds. Returns false if the policy's deadline passed first.
/// The condition must read shared memory with acquire ordering itself.
@inlinable
public func waitUntil(_ policy: WaitPolicy, _ condition: () -> Bool) -> Bool {
    if condition() { return true }
    for _ in 0..<policy.spinProbes {
        ivshmem_cpu_relax()
        if condition() { return true }
    }
    return backOffUntil(policy, condition)
}

@usableFromInline
func backOffUntil(_ policy: WaitPolicy, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicSeconds() + policy.timeoutSeconds
    var sleepNanoseconds = 1_000
    var yields = 0
    while true {
        if yields < 64 {
            // On an oversubscribed machine the peer we wait for may need our core.
            sched_yield()
            yields += 1
        } else {
            if let progress = policy.progress {
                progress()
                if condition() { return true }
            }
            var pause = timespec(tv_sec: 0, tv_nsec: sleepNanoseconds)
            nanosleep(&pause, nil)
            sleepNanoseconds = min(sleepNanoseconds * 2, policy.maxSleepNanoseconds)
        }
        if condition() { return true }
        if monotonicSeconds() >= deadline { return false }
    }
}
