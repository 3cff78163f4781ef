import SharedSync
import Testing

/// A mailbox in zeroed memory of its own: `capacity` ring bytes and a small reply area.
private func makeMailbox(capacity: Int) -> (SharedMemory, Mailbox) {
    let bytes = Mailbox.size(capacity: capacity, replyCapacity: 64)
    let memory = SharedMemory(words: bytes / 8)
    return (memory, Mailbox(start: memory.base, capacity: capacity, replyCapacity: 64))
}

private let quickPolicy = WaitPolicy(spinProbes: 10, maxSleepNanoseconds: 10_000, timeoutSeconds: 0.2)
private let patientPolicy = WaitPolicy(timeoutSeconds: 30)
private let recordKind: UInt64 = 7

/// Appends a record of `size` bytes whose word 2 holds `tag`.
private func append(_ mailbox: Mailbox, size: Int, tag: UInt64, _ policy: WaitPolicy = patientPolicy,
                    whileWaiting: () -> Void = {}) -> UInt64? {
    mailbox.append(recordSize: size, policy, token: tag + 1, whileWaiting: whileWaiting) { record in
        record.storeBytes(of: recordKind, toByteOffset: 0, as: UInt64.self)
        record.storeBytes(of: UInt64(size), toByteOffset: 8, as: UInt64.self)
        record.storeBytes(of: tag, toByteOffset: 16, as: UInt64.self)
    }
}

/// Takes the oldest record, skipping pads: its tag and size, or nil when the ring is empty.
private func take(_ mailbox: Mailbox) -> (tag: UInt64, size: Int)? {
    while true {
        switch mailbox.oldestRecord() {
        case .empty:
            return nil
        case .corrupt(let skipTo):
            Issue.record("a ring our own producer filled reads as corrupt")
            mailbox.tail.store(skipTo)
            return nil
        case .record(let record, let size, let position):
            // Read first: once the tail moves past it, producers may overwrite the record.
            let kind = record.load(fromByteOffset: 0, as: UInt64.self)
            let tag = record.load(fromByteOffset: 16, as: UInt64.self)
            mailbox.tail.store(position + UInt64(size))
            if kind == Mailbox.padKind { continue }
            #expect(kind == recordKind)
            return (tag, size)
        }
    }
}

@Suite("Mailbox: a ring of records in shared memory")
struct MailboxTests {
    @Test("records come out in order, whole, and the ring is empty afterwards")
    func inOrder() {
        let (memory, mailbox) = makeMailbox(capacity: 4096)
        _ = memory
        #expect(!mailbox.hasWork)
        let ends = (1...3).map { append(mailbox, size: 128 * $0, tag: UInt64($0)) }
        #expect(ends == [128, 384, 768])
        #expect(mailbox.hasWork)
        for tag in 1...3 {
            let record = take(mailbox)
            #expect(record?.tag == UInt64(tag))
            #expect(record?.size == 128 * tag)
        }
        #expect(take(mailbox) == nil)
        #expect(!mailbox.hasWork)
    }

    @Test("a fetch is answered when its reply arrives, dropped when the target's tail passes it unanswered")
    func fetchStates() {
        let (originMemory, origin) = makeMailbox(capacity: 4096)
        let (targetMemory, target) = makeMailbox(capacity: 4096)
        _ = (originMemory, targetMemory)
        let first = append(target, size: 128, tag: 1)!
        #expect(origin.fetchState(sequence: 1, appendedTo: target, recordEnd: first) == .pending)
        origin.replies.store(1)  // answered, the target's tail not yet past the record
        #expect(origin.fetchState(sequence: 1, appendedTo: target, recordEnd: first) == .answered)
        #expect(take(target)?.tag == 1)
        #expect(origin.fetchState(sequence: 1, appendedTo: target, recordEnd: first) == .answered)

        let second = append(target, size: 128, tag: 2)!
        #expect(origin.fetchState(sequence: 2, appendedTo: target, recordEnd: second) == .pending)
        #expect(take(target)?.tag == 2)  // consumed without an answer: dropped
        #expect(origin.fetchState(sequence: 2, appendedTo: target, recordEnd: second) == .dropped)
    }

    @Test("a record that does not fit before the end starts at the beginning, after a pad")
    func wrapsWithPad() {
        let (memory, mailbox) = makeMailbox(capacity: 4096)
        _ = memory
        // 1536-byte records: the third would cross the end (3 x 1536 > 4096), so it follows a 1024-byte pad.
        for tag in 0..<12 {
            #expect(append(mailbox, size: 1536, tag: UInt64(tag)) != nil)
            guard case .record(let record, _, let position) = mailbox.oldestRecord() else {
                Issue.record("no record after append \(tag)")
                return
            }
            let offset = Int(position % 4096)
            if record.load(fromByteOffset: 0, as: UInt64.self) == Mailbox.padKind {
                #expect(offset == 3072, "a pad fills only the end of the ring")
            } else {
                #expect(offset + 1536 <= 4096, "record \(tag) at \(offset) crosses the ring's end")
            }
            #expect(take(mailbox)?.tag == UInt64(tag))
        }
    }

    @Test("a full ring waits for the consumer, which runs in whileWaiting")
    func waitsForRoom() {
        let (memory, mailbox) = makeMailbox(capacity: 4096)
        _ = memory
        #expect(append(mailbox, size: 2048, tag: 1) != nil)
        #expect(append(mailbox, size: 2048, tag: 2) != nil)
        var drained: [UInt64] = []
        let end = append(mailbox, size: 2048, tag: 3) {
            if let record = take(mailbox) { drained.append(record.tag) }
        }
        #expect(end == 6144)
        #expect(drained == [1])
        #expect(take(mailbox)?.tag == 2)
        #expect(take(mailbox)?.tag == 3)
    }

    @Test("a full ring nobody drains: append gives up at the deadline")
    func timesOut() {
        let (memory, mailbox) = makeMailbox(capacity: 4096)
        _ = memory
        #expect(append(mailbox, size: 2048, tag: 1) != nil)
        #expect(append(mailbox, size: 2048, tag: 2) != nil)
        #expect(append(mailbox, size: 2048, tag: 3, quickPolicy) == nil)
        #expect(mailbox.producerLock.holder == 0, "the producer lock is released after a time-out")
    }

    @Test("impossible head or record sizes read as corrupt, with everything published to skip",
          arguments: [UInt64(100), UInt64(4096 * 2), UInt64(64)])
    func corrupt(head: UInt64) {
        let (memory, mailbox) = makeMailbox(capacity: 4096)
        _ = memory
        // head 100: not on a record boundary; 8192: more than the ring holds; 64: a record of size 0.
        mailbox.head.store(head)
        guard case .corrupt(let skipTo) = mailbox.oldestRecord() else {
            Issue.record("head \(head) was accepted")
            return
        }
        #expect(skipTo == head)
    }

    @Test("a record claiming more bytes than were published reads as corrupt")
    func oversizedRecord() {
        let (memory, mailbox) = makeMailbox(capacity: 4096)
        _ = memory
        #expect(append(mailbox, size: 128, tag: 1) != nil)
        mailbox.ring.storeBytes(of: UInt64(1 << 20), toByteOffset: 8, as: UInt64.self)
        guard case .corrupt(let skipTo) = mailbox.oldestRecord() else {
            Issue.record("a 1 MiB record in a 128-byte publication was accepted")
            return
        }
        #expect(skipTo == 128)
    }

    @Test("three producer threads, one consumer: every record arrives once, each producer's in order")
    func concurrentProducers() {
        let (memory, mailbox) = makeMailbox(capacity: 8192)
        let perProducer: UInt64 = 2_000
        // Words: 0 records out of order, 1 records received in order, 2 appends that timed out.
        let seen = SharedMemory(words: 4)
        runThreads(4) { thread in
            if thread < 3 {
                for sequence in 0..<perProducer {
                    let size = 64 * (1 + Int(sequence % 7))
                    if append(mailbox, size: size, tag: UInt64(thread) << 32 | sequence) == nil { seen.shared(2).add(1) }
                }
                return
            }
            // Until every record came, or a minute passed (a lost record must fail the test, not hang it).
            let deadline = monotonicSeconds() + 60
            var next = [UInt64](repeating: 0, count: 3)
            while next.reduce(0, +) < 3 * perProducer && monotonicSeconds() < deadline {
                guard let record = take(mailbox) else { continue }
                let producer = Int(record.tag >> 32), sequence = record.tag & 0xFFFF_FFFF
                if producer < 3 && sequence == next[producer] { next[producer] += 1 } else { seen.shared(0).add(1) }
            }
            seen.shared(1).store(next.reduce(0, +))
        }
        _ = memory
        #expect(seen.shared(0).load() == 0, "records out of order or from nowhere")
        #expect(seen.shared(2).load() == 0, "appends that timed out")
        #expect(seen.shared(1).load() == 3 * perProducer)
    }
}
