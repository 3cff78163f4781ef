import Atomics
import CShims
import Glibc
import Synchronization

/// How a cross-process wait behaves: spin briefly (the fast path when the peer is running on
/// another core), then yield, then sleep: on the doorbell when one is installed (Doorbell below),
/// else with growing pauses (so 8 ranks on 2 cores still finish); give up at a deadline instead
/// of hanging.
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
    /// Longest single sleep on the doorbell, in seconds: bounds the cost of a ring lost to a
    /// store-load race (the waker checks the sleepers count with a relaxed load and no fence),
    /// and how long `progress` waits to run.
    public var doorbellSliceSeconds: Double

    public init(spinProbes: Int = 2_000, maxSleepNanoseconds: Int = 50_000,
                timeoutSeconds: Double = 120, progress: (@convention(c) () -> Void)? = nil,
                doorbellSliceSeconds: Double = 0.01) {
        self.spinProbes = spinProbes
        self.maxSleepNanoseconds = maxSleepNanoseconds
        self.timeoutSeconds = timeoutSeconds
        self.progress = progress
        self.doorbellSliceSeconds = doorbellSliceSeconds
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
            if !Doorbell.sleep(seconds: min(policy.doorbellSliceSeconds, deadline - monotonicSeconds()), until: condition) {
                var pause = timespec(tv_sec: 0, tv_nsec: sleepNanoseconds)
                nanosleep(&pause, nil)
                sleepNanoseconds = min(sleepNanoseconds * 2, policy.maxSleepNanoseconds)
            }
        }
        if condition() { return true }
        if monotonicSeconds() >= deadline { return false }
    }
}

/// This process's doorbell on an ivshmem server: how it blocks until rung and rings peers.
public protocol DoorbellPort: AnyObject, Sendable {
    /// This process's peer ID on the server (0...65535).
    var peerID: Int { get }
    /// Whether this process can block until rung (false in a guest without an interrupt driver).
    var canSleep: Bool { get }
    /// Blocks until rung or `seconds` pass, and consumes the ring; returns whether it was rung.
    @discardableResult func sleep(seconds: Double) -> Bool
    /// Rings peer `peer` (vector 0); false when no such peer is connected.
    @discardableResult func ring(peer: Int) -> Bool
}

/// Doorbell-driven waits. Waiters that outlast spinning and yielding announce themselves in the
/// sleepers area (1024 bytes of the region, shared by everyone on the server) and block on their
/// doorbell; every store and add to a SharedWord (lock releases, barrier arrivals, counters)
/// then rings them. With nobody asleep, that costs one relaxed load of the sleepers count.
///
/// Area layout (little-endian words): +0 the number of peers asleep; +64 a bitmap of the
/// sleeping peer IDs, bit i of word (64 + 8 k) for peer 64 k + i, up to peer 7679 (higher IDs
/// back off with nanosleep instead). A waker clears a sleeper's bit before ringing it, so each
/// sleep costs at most one ring. The area is untrusted like all region bytes: garbage in it
/// costs spurious rings or sleeps that end at their time slice, never a wrong result.
public enum Doorbell {
    public static let areaSize = 1024
    static let bitmapOffset = 64
    static let bitmapWords = (areaSize - bitmapOffset) / 8
    static let maximumPeer = bitmapWords * 64 - 1

    /// The installed sleepers area; nil when this process has no doorbell. An atomic `let`, so
    /// the fast path reads it with one plain load (a `static var` would add an exclusivity check).
    @usableFromInline nonisolated(unsafe) static let installedArea = Synchronization.Atomic<UnsafeMutableRawPointer?>(nil)
    nonisolated(unsafe) static var port: (any DoorbellPort)?

    /// Installs this process's doorbell; `area` is the region's sleepers area and must stay
    /// mapped until `uninstall`. Call before any wait or wake, from one thread.
    public static func install(area: UnsafeMutableRawPointer, port: any DoorbellPort) {
        self.port = port
        installedArea.store(area, ordering: .releasing)
    }

    public static func uninstall() {
        installedArea.store(nil, ordering: .releasing)
        port = nil
    }

    static var area: UnsafeMutableRawPointer? { installedArea.load(ordering: .acquiring) }

    /// Rings every peer asleep in the area. Call after a store that may release a waiter.
    @inlinable @inline(__always)
    public static func wakeSleepers() {
        guard let area = installedArea.load(ordering: .relaxed),
              UnsafeAtomic<UInt64>(at: area.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
                  .load(ordering: .relaxed) != 0 else { return }
        ringSleepers()
    }

    @usableFromInline @inline(never)
    static func ringSleepers() {
        guard let area, let port else { return }
        for index in 0..<bitmapWords {
            let word = atomic(area, bitmapOffset + 8 * index)
            var bits = word.load(ordering: .acquiring)
            while bits != 0 {
                let bit = UInt64(1) << UInt64(bits.trailingZeroBitCount)
                bits &= bits - 1
                // Whoever clears the bit rings: one ring per sleep, however many wakers race.
                if word.loadThenBitwiseAnd(with: ~bit, ordering: .acquiringAndReleasing) & bit != 0 {
                    atomic(area, 0).wrappingDecrement(ordering: .relaxed)
                    port.ring(peer: index * 64 + bit.trailingZeroBitCount)
                }
            }
        }
    }

    /// Sleeps on the doorbell for up to `seconds` unless `condition` holds once announced asleep.
    /// Returns false, doing nothing, when this process cannot sleep on a doorbell.
    @usableFromInline
    static func sleep(seconds: Double, until condition: () -> Bool) -> Bool {
        guard let area, let port, port.canSleep, (0...maximumPeer).contains(port.peerID) else { return false }
        let word = atomic(area, bitmapOffset + 8 * (port.peerID / 64))
        let bit = UInt64(1) << UInt64(port.peerID % 64)
        // Announce, then check (both read-modify-writes are full barriers): a store that released
        // us either happened before the check, or its waker sees the count and rings.
        if word.loadThenBitwiseOr(with: bit, ordering: .acquiringAndReleasing) & bit == 0 {
            atomic(area, 0).wrappingIncrement(ordering: .acquiringAndReleasing)
        }
        if !condition() { port.sleep(seconds: max(seconds, 0)) }
        if word.loadThenBitwiseAnd(with: ~bit, ordering: .acquiringAndReleasing) & bit != 0 {
            atomic(area, 0).wrappingDecrement(ordering: .relaxed)
        }
        return true
    }

    private static func atomic(_ area: UnsafeMutableRawPointer, _ offset: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: (area + offset).assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }
}
