import Foundation
import SharedSync
import Testing

/// Zeroed, 64-byte aligned words shared by the threads of one test.
final class SharedMemory: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    private let arrivals: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>

    /// `words` words; the first `participants` are barrier arrivals.
    init(words: Int, participants: Int = 0) {
        base = .allocate(byteCount: words * 8, alignment: 64)
        base.initializeMemory(as: UInt64.self, repeating: 0, count: words)
        arrivals = .allocate(capacity: participants)
        for index in 0..<participants { arrivals.initializeElement(at: index, to: base + 8 * index) }
    }

    deinit {
        base.deallocate()
        arrivals.deallocate()
    }

    func address(_ word: Int) -> UnsafeMutableRawPointer { base + 8 * word }
    func shared(_ word: Int) -> SharedWord { SharedWord(at: address(word)) }
    func plain(_ word: Int) -> UnsafeMutablePointer<UInt64> { address(word).assumingMemoryBound(to: UInt64.self) }
    var barrier: SharedBarrier { SharedBarrier(arrivals: UnsafeBufferPointer(arrivals)) }
}

/// Runs `body(index)` on `count` threads of their own (so every one runs even on two cores) and joins them.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        Thread {
            body(index)
            group.leave()
        }.start()
    }
    group.wait()
}

let patient = WaitPolicy(timeoutSeconds: 20)
let minusOne = UInt64.max  // wrapping add of -1

@Suite struct InProcessTests {
    @Test func sharedWordOperations() {
        let memory = SharedMemory(words: 1)
        let word = memory.shared(0)
        #expect(word.add(5) == 5)
        #expect(word.compareExchange(expected: 4, desired: 9) == (false, 5))
        #expect(word.compareExchange(expected: 5, desired: 9) == (true, 5))
        word.store(42)
        #expect(word.load() == 42 && word.loadRelaxed() == 42)
        #expect(word.wait(atLeast: 42, WaitPolicy(timeoutSeconds: 0)))
    }

    @Test func spinLockExcludesThreads() {
        let memory = SharedMemory(words: 2)
        let threads = 4, rounds = 20_000
        runThreads(threads) { thread in
            let lock = SharedSpinLock(at: memory.address(0))
            for round in 0..<rounds {
                guard lock.lock(token: UInt64(thread + 1), patient) else { return }
                let seen = memory.plain(1).pointee
                if round % 64 == 0 { sched_yield() }  // widen the window a broken lock would let others into
                memory.plain(1).pointee = seen + 1
                lock.unlock()
            }
        }
        #expect(memory.plain(1).pointee == UInt64(threads * rounds))
        #expect(SharedSpinLock(at: memory.address(0)).holder == 0)
    }

    @Test func spinLockNamesItsHolderAndTimesOut() {
        let memory = SharedMemory(words: 1)
        let lock = SharedSpinLock(at: memory.address(0))
        #expect(lock.tryLock(token: 7))
        #expect(lock.holder == 7)
        #expect(!lock.tryLock(token: 8))
        #expect(!lock.lock(token: 8, WaitPolicy(spinProbes: 10, timeoutSeconds: 0.05)))
        lock.unlock()
        #expect(lock.holder == 0)
        #expect(lock.tryLock(token: 8))
    }

    @Test func rwLockStates() {
        let memory = SharedMemory(words: 1)
        let lock = SharedRWLock(at: memory.address(0))
        #expect(lock.tryLockExclusive())
        #expect(!lock.tryLockExclusive(), "exclusive excludes exclusive")
        #expect(!lock.tryLockShared(), "exclusive excludes shared")
        lock.unlockExclusive()
        #expect(lock.tryLockShared() && lock.tryLockShared(), "shared holders coexist")
        #expect(lock.state == 2)
        #expect(!lock.tryLockExclusive(), "shared excludes exclusive")
        lock.unlockShared()
        lock.unlockShared()
        #expect(lock.state == 0)
        #expect(lock.tryLockExclusive())
    }

    /// Words: 0 lock, 1 exclusive holders, 2 shared holders, 3 a counter written under the exclusive lock.
    @Test func rwLockExcludesThreads() {
        let memory = SharedMemory(words: 4)
        let violations = SharedMemory(words: 1)
        let threads = 4, rounds = 2_000
        runThreads(threads) { _ in
            let lock = SharedRWLock(at: memory.address(0)), writers = memory.shared(1), readers = memory.shared(2)
            for _ in 0..<rounds {
                guard lock.lockExclusive(patient) else { return }
                if writers.add(1) != 1 || readers.load() != 0 { violations.shared(0).add(1) }
                memory.plain(3).pointee += 1
                writers.add(minusOne)
                lock.unlockExclusive()

                guard lock.lockShared(patient) else { return }
                readers.add(1)
                if writers.load() != 0 { violations.shared(0).add(1) }
                readers.add(minusOne)
                lock.unlockShared()
            }
        }
        #expect(memory.plain(3).pointee == UInt64(threads * rounds))
        #expect(violations.shared(0).load() == 0)
        #expect(SharedRWLock(at: memory.address(0)).state == 0)
    }

    /// Every thread holds the lock shared until all of them do: shared holders must coexist.
    @Test func rwLockSharedHoldersMeet() {
        let memory = SharedMemory(words: 2)
        let met = SharedMemory(words: 1)
        let threads = 4
        runThreads(threads) { _ in
            let lock = SharedRWLock(at: memory.address(0)), inside = memory.shared(1)
            guard lock.lockShared(patient) else { return }
            inside.add(1)
            if inside.wait(atLeast: UInt64(threads), patient) { met.shared(0).add(1) }
            lock.unlockShared()
        }
        #expect(met.shared(0).load() == UInt64(threads))
        #expect(SharedRWLock(at: memory.address(0)).state == 0)
    }

    /// Each generation, every thread writes its value, passes the barrier, and reads everyone's.
    @Test func barrierPublishesStoresMadeBeforeIt() {
        let threads = 4, generations = 200
        let valuesStart = threads
        let memory = SharedMemory(words: valuesStart + threads * generations, participants: threads)
        let failures = SharedMemory(words: 1)
        runThreads(threads) { thread in
            let barrier = memory.barrier
            for generation in 1...generations {
                let row = valuesStart + (generation - 1) * threads
                memory.plain(row + thread).pointee = UInt64(generation * 100 + thread)
                guard barrier.arrive(participant: thread, generation: UInt64(generation), patient) == .passed else {
                    failures.shared(0).add(1)
                    return
                }
                for peer in 0..<threads where memory.plain(row + peer).pointee != UInt64(generation * 100 + peer) {
                    failures.shared(0).add(1)
                }
            }
        }
        #expect(failures.shared(0).load() == 0)
    }

    @Test func barrierTimeOutNamesTheMissingParticipant() {
        let memory = SharedMemory(words: 4, participants: 4)
        let outcomes = SharedMemory(words: 4)  // per thread: 1 when it reported exactly [2] missing
        let short = WaitPolicy(spinProbes: 10, timeoutSeconds: 0.3)
        runThreads(4) { participant in
            guard participant != 2 else { return }  // participant 2 never arrives
            let outcome = memory.barrier.arrive(participant: participant, generation: 1, short)
            if outcome == .timedOut(missing: [2]) { outcomes.shared(participant).store(1) }
        }
        #expect([0, 1, 3].allSatisfy { outcomes.shared($0).load() == 1 })
    }

    /// Threads take turns: thread i adds to the counter when it reaches round * threads + i.
    @Test func counterWaitTakesTurns() {
        let memory = SharedMemory(words: 2)
        let threads = 4, rounds = 500
        let outOfTurn = SharedMemory(words: 1)
        runThreads(threads) { thread in
            let counter = memory.shared(0)
            for round in 0..<rounds {
                let turn = round * threads + thread
                guard counter.wait(atLeast: UInt64(turn), patient) else { return }
                if turn > 0 && memory.plain(1).pointee != UInt64(turn - 1) { outOfTurn.shared(0).add(1) }
                memory.plain(1).pointee = UInt64(turn)
                counter.add(1)
            }
        }
        #expect(memory.shared(0).load() == UInt64(threads * rounds))
        #expect(outOfTurn.shared(0).load() == 0)
    }

    @Test func waitUntilTimesOutNearItsDeadline() {
        let started = monotonicSeconds()
        #expect(!waitUntil(WaitPolicy(timeoutSeconds: 0.3)) { false })
        let elapsed = monotonicSeconds() - started
        #expect(elapsed >= 0.3 && elapsed < 2, "timed out after \(elapsed) s")
        #expect(waitUntil(WaitPolicy(timeoutSeconds: 0)) { true })
    }
}
