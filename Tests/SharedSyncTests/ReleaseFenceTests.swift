import SharedSync
import Testing

/// The release flavor is process-wide and every test target shares one process (RegionTests maps a
/// write-combining file too), so only the transitions that hold whatever ran before are checked.
@Suite struct ReleaseFenceTests {
    @Test func writeCombiningMemorySelectsFencedReleasesForGood() {
        ReleaseFence.adopt(.writeCombining)
        #expect(ReleaseFence.flavor == .storeFence)
        ReleaseFence.adopt(.writeBack)
        #expect(ReleaseFence.flavor == .storeFence, "a later write-back mapping must not drop the fence the first one needs")

        // Fenced releases still publish: a lock handed back and forth keeps an exact count.
        let memory = SharedMemory(words: 16)
        let rounds = 20_000
        runThreads(2) { thread in
            let lock = SharedSpinLock(at: memory.address(8))
            for _ in 0..<rounds {
                #expect(lock.lock(token: UInt64(thread) + 1, WaitPolicy(timeoutSeconds: 30)))
                memory.plain(0).pointee += 1
                lock.unlock()
            }
        }
        #expect(memory.plain(0).pointee == UInt64(2 * rounds))
    }
}
