import Benchmark
import MicroFixtures
import SharedSync

/// The engine's wait policy (spin, then back off; a long time-out).
let policy = WaitPolicy()

/// Shared words of one region for the main thread, and optionally a peer thread that works on the
/// same words through the region's far mapping.
final class Duo {
    let region: SharedRegion
    let words: UnsafeBufferPointer<UnsafeMutableRawPointer>
    /// The main thread's count of completed rounds (barrier generations).
    var rounds: UInt64 = 0
    private var peer: Peer?

    /// `peerStep` gets the far addresses of the words and returns the step the peer repeats.
    init(words count: Int, peerStep: ((UnsafeBufferPointer<UnsafeMutableRawPointer>) -> () -> Void)? = nil) throws {
        region = try SharedRegion()
        let words = try region.words(count)
        self.words = words.near
        if let peerStep { peer = Peer(region, step: peerStep(words.far)) }
    }
}

/// The locks of the engine: a window's passive-target lock (SharedRWLock, exclusive or shared) and
/// a target's accumulate lock (SharedSpinLock).
enum LockKind: String, CaseIterable {
    case rwlockExclusive = "rwlock-exclusive"
    case rwlockShared = "rwlock-shared"
    case spinlock

    /// Acquires and releases the lock whose word is at `word`; false when the wait timed out.
    @inline(__always)
    func cycle(_ word: UnsafeMutableRawPointer, token: UInt64, _ policy: WaitPolicy) -> Bool {
        switch self {
        case .rwlockExclusive:
            let lock = SharedRWLock(at: word)
            guard lock.lockExclusive(policy) else { return false }
            lock.unlockExclusive()
        case .rwlockShared:
            let lock = SharedRWLock(at: word)
            guard lock.lockShared(policy) else { return false }
            lock.unlockShared()
        case .spinlock:
            let lock = SharedSpinLock(at: word)
            guard lock.lock(token: token, policy) else { return false }
            lock.unlock()
        }
        return true
    }
}

let benchmarks: @Sendable () -> Void = {
    // Fence: one SharedBarrier.arrive of the main thread (participant 0) while the peer
    // (participant 1) arrives at the same generation.
    benchmark("barrier-round-trip", .perOperation(.kilo), fixture: {
        try Duo(words: 2) { far in
            let barrier = SharedBarrier(arrivals: far)
            var generation: UInt64 = 1
            return {
                // A timed-out arrival is repeated: it publishes the same generation again.
                if case .passed = barrier.arrive(participant: 1, generation: generation, Peer.policy) { generation += 1 }
            }
        }
    }) { benchmark, duo in
        let barrier = SharedBarrier(arrivals: duo.words)
        for _ in benchmark.scaledIterations {
            duo.rounds += 1
            guard case .passed = barrier.arrive(participant: 0, generation: duo.rounds, policy) else {
                fatalError("the peer missed barrier \(duo.rounds)")
            }
        }
    }

    // Lock acquire/release, alone and with the peer cycling the same lock through its mapping.
    for kind in LockKind.allCases {
        for contended in [false, true] {
            let contender = { (far: UnsafeBufferPointer<UnsafeMutableRawPointer>) in
                { _ = kind.cycle(far[0], token: 2, Peer.policy) }
            }
            // Alone a cycle takes nanoseconds. Two threads stay at a thousand operations per sample,
            // which is bounded even when the machine is loaded and a round waits for the scheduler.
            benchmark(kind.rawValue + (contended ? "-contended" : ""), .perOperation(contended ? .kilo : .mega),
                      fixture: { try Duo(words: 1, peerStep: contended ? contender : nil) }) { benchmark, duo in
                let word = duo.words[0]
                for _ in benchmark.scaledIterations {
                    guard kind.cycle(word, token: 1, policy) else { fatalError("\(kind) lock timed out") }
                }
            }
        }
    }

    // PSCW handshake: the main thread posts (adds 1 to the post counter) and waits for the peer's
    // completion; the peer waits for the post (wait(atLeast:)) and completes. Per round trip.
    benchmark("pscw-ping-pong", .perOperation(.kilo), fixture: {
        try Duo(words: 2) { far in
            let posts = SharedWord(at: far[0]), completions = SharedWord(at: far[1])
            return {
                // Only the peer adds to completions, so its next round is the count plus one.
                if posts.wait(atLeast: completions.loadRelaxed() + 1, Peer.policy) { completions.add(1) }
            }
        }
    }) { benchmark, duo in
        let posts = SharedWord(at: duo.words[0]), completions = SharedWord(at: duo.words[1])
        for _ in benchmark.scaledIterations {
            let round = posts.add(1)
            guard completions.wait(atLeast: round, policy) else { fatalError("the peer missed round \(round)") }
        }
    }
}
