// SyncProbe: a test fixture, not a user tool. RegionTests and SharedSyncTests start several of
// these at once to exercise the region and the SharedSync primitives across real processes.
//
//   SyncProbe [--start-at EPOCH_SECONDS] COMMAND ARGUMENTS
//
// --start-at makes every probe of a test begin at the same instant (CLOCK_REALTIME), after its
// start-up. A probe prints its results on stdout, and on failure one line on stderr and exits 1.
//
// Region commands:
//   attach PATH [CREATE_SIZE]   attaches (formatting if fresh); prints "identity HEX formatted yes|no"
//   alloc PATH JOB COUNT        allocates COUNT blocks of 1 to 4 pages for job JOB, freeing every
//                               even-numbered one at once; fills each kept block with JOB as UInt64
//                               words and prints "block OFFSET SIZE" for it
//   claim PATH JOB BYTES        claims a job slot for JOB as its leader, allocates BYTES, prints
//                               "slot INDEX block OFFSET SIZE", then sleeps 120 s unless killed (a
//                               job that is alive, or, once killed, one that died holding its slot
//                               and block)
//
// SharedSync commands, on a sync file of 64-bit words (created at 64 KiB when missing):
//   spinlock FILE PARTICIPANT ROUNDS      word 0 lock, word 1 a plain counter incremented under it
//   rwlock FILE ROUNDS                    word 0 RW lock, 1 exclusive holders, 2 shared holders,
//                                         3 a plain counter incremented under the exclusive lock
//   rwshared FILE PARTICIPANTS            word 0 RW lock, word 1 shared holders that got in
//   barrier FILE PARTICIPANT PARTICIPANTS GENERATIONS
//                                         word 0 release, 1...P arrivals, then one value per
//                                         participant and generation
//   counter FILE PARTICIPANT PARTICIPANTS ROUNDS
//                                         word 0 a counter the participants add to in turn,
//                                         word 1 the last turn (plain)
//
// MessageChannel commands, on a channel file holding one block of MessageChannel.blockBytes(capacity:
// CAPACITY) bytes that the test creates zeroed (a prepared block):
//   channel-send FILE CAPACITY RECORDS     the producer: record n has kind 1 + n % 3 and
//                                         channelPayloadBytes(n) payload bytes, byte i being
//                                         UInt8(truncatingIfNeeded: n * 131 + i * 7 + i >> 8); its
//                                         envelope holds n (UInt64), the payload's FNV-1a checksum
//                                         (UInt64), then 24 bytes UInt8(truncatingIfNeeded: n + j)
//   channel-receive FILE CAPACITY RECORDS  the consumer: checks every record's kind, sequence number,
//                                         envelope, length, checksum and bytes, in order, then that no
//                                         record follows the last; prints "received N records, B
//                                         payload bytes, W wraps" (W: records that start before the one
//                                         read before them, the ring having wrapped)
import Glibc
import Region
import SharedSync

let policy = WaitPolicy(timeoutSeconds: 20)

func fail(_ message: String) -> Never {
    var line = "SyncProbe: \(message)\n"
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(1)
}

func integer(_ arguments: [String], _ index: Int, _ name: String) -> Int {
    guard arguments.indices.contains(index), let value = Int(arguments[index]), value >= 0 else {
        fail("expected \(name) (a nonnegative integer) as argument \(index)")
    }
    return value
}

func text(_ arguments: [String], _ index: Int, _ name: String) -> String {
    guard arguments.indices.contains(index) else { fail("expected \(name) as argument \(index)") }
    return arguments[index]
}

func attachRegion(_ path: String, createSize: Int = 0) -> Region {
    do {
        return try Region.attach(RegionMapping(source: RegionSource(path: path, kind: .file), createSize: createSize), wait: policy)
    } catch {
        fail(error.description)
    }
}

/// The sync file's words. Plain accesses go through `plain`, atomic ones through `shared`.
struct SyncWords {
    let mapping: RegionMapping

    init(_ path: String, words: Int) {
        do {
            mapping = try RegionMapping(source: RegionSource(path: path, kind: .file), createSize: 64 << 10)
        } catch {
            fail(error.description)
        }
        guard words * 8 <= mapping.size else { fail("\(path) holds \(mapping.size / 8) words, \(words) needed") }
    }

    func address(_ index: Int) -> UnsafeMutableRawPointer { mapping.base + 8 * index }
    func shared(_ index: Int) -> SharedWord { SharedWord(at: address(index)) }
    func plain(_ index: Int) -> UnsafeMutablePointer<UInt64> { address(index).assumingMemoryBound(to: UInt64.self) }
}

func waitForStart(_ epochSeconds: Double) {
    while true {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let remaining = epochSeconds - (Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9)
        guard remaining > 0 else { return }
        usleep(UInt32(min(remaining, 1) * 1e6))
    }
}

func attach(_ arguments: [String]) {
    let region = attachRegion(text(arguments, 1, "PATH"), createSize: arguments.count > 2 ? integer(arguments, 2, "CREATE_SIZE") : 0)
    print("identity \(region.identity) formatted \(region.didFormat ? "yes" : "no")")
}

func alloc(_ arguments: [String]) {
    let region = attachRegion(text(arguments, 1, "PATH"))
    let job = UInt64(integer(arguments, 2, "JOB")), count = integer(arguments, 3, "COUNT")
    for index in 0..<count {
        let block: Region.Block
        do { block = try region.allocate(bytes: (index % 4 + 1) * 4096, jobID: job, wait: policy) } catch { fail(error.description) }
        if index % 2 == 0 {
            guard region.free(block, jobID: job, wait: policy) else { fail("free of \(block) timed out") }
            continue
        }
        guard let start = region.address(offset: block.offset, length: block.size) else { fail("\(block) is outside the region") }
        start.initializeMemory(as: UInt64.self, repeating: job, count: block.size / 8)
        print("block \(block.offset) \(block.size)")
    }
}

func claim(_ arguments: [String]) {
    let region = attachRegion(text(arguments, 1, "PATH"))
    let job = UInt64(integer(arguments, 2, "JOB")), bytes = integer(arguments, 3, "BYTES")
    do {
        let slot = try region.claimJobSlot(jobID: job, nonce: 1)
        let block = try region.allocate(bytes: bytes, jobID: job, wait: policy)
        print("slot \(slot) block \(block.offset) \(block.size)")
    } catch {
        fail(error.description)
    }
    fflush(nil)  // every stream: the test reads the line through a pipe
    sleep(120)  // bounded, so a probe that a failed test leaves behind ends by itself
}

func spinlock(_ arguments: [String]) {
    let words = SyncWords(text(arguments, 1, "FILE"), words: 2)
    let participant = integer(arguments, 2, "PARTICIPANT"), rounds = integer(arguments, 3, "ROUNDS")
    let lock = SharedSpinLock(at: words.address(0)), counter = words.plain(1)
    for round in 0..<rounds {
        guard lock.lock(token: UInt64(participant + 1), policy) else { fail("round \(round): lock held by \(lock.holder) too long") }
        let seen = counter.pointee
        if round % 64 == 0 { sched_yield() }  // widen the window a broken lock would let others into
        counter.pointee = seen + 1
        lock.unlock()
    }
}

func rwlock(_ arguments: [String]) {
    let words = SyncWords(text(arguments, 1, "FILE"), words: 4)
    let rounds = integer(arguments, 2, "ROUNDS")
    let lock = SharedRWLock(at: words.address(0)), writers = words.shared(1), readers = words.shared(2), counter = words.plain(3)
    let minusOne = UInt64.max  // wrapping add of -1
    for round in 0..<rounds {
        guard lock.lockExclusive(policy) else { fail("round \(round): exclusive lock timed out, state \(lock.state)") }
        guard writers.add(1) == 1 else { fail("round \(round): two exclusive holders at once") }
        guard readers.load() == 0 else { fail("round \(round): a shared holder inside an exclusive hold") }
        let seen = counter.pointee
        sched_yield()  // widen the window a broken lock would let others into
        counter.pointee = seen + 1
        writers.add(minusOne)
        lock.unlockExclusive()

        guard lock.lockShared(policy) else { fail("round \(round): shared lock timed out, state \(lock.state)") }
        readers.add(1)
        guard writers.load() == 0 else { fail("round \(round): an exclusive holder inside a shared hold") }
        let value = counter.pointee
        sched_yield()
        guard counter.pointee == value else { fail("round \(round): the counter changed under a shared hold") }
        readers.add(minusOne)
        lock.unlockShared()
    }
}

func rwshared(_ arguments: [String]) {
    let words = SyncWords(text(arguments, 1, "FILE"), words: 2)
    let participants = UInt64(integer(arguments, 2, "PARTICIPANTS"))
    let lock = SharedRWLock(at: words.address(0)), inside = words.shared(1)
    guard lock.lockShared(policy) else { fail("shared lock timed out, state \(lock.state)") }
    inside.add(1)
    guard inside.wait(atLeast: participants, policy) else {
        fail("only \(inside.load()) of \(participants) shared holders got in together")
    }
    guard !lock.tryLockExclusive() else { fail("took the exclusive lock while holding it shared") }
    lock.unlockShared()
}

func barrier(_ arguments: [String]) {
    let participant = integer(arguments, 2, "PARTICIPANT"), participants = integer(arguments, 3, "PARTICIPANTS")
    let generations = integer(arguments, 4, "GENERATIONS")
    guard participant < participants else { fail("participant \(participant) of \(participants)") }
    let words = SyncWords(text(arguments, 1, "FILE"), words: participants * (1 + generations))
    let arrivals = UnsafeMutableBufferPointer<UnsafeMutableRawPointer>.allocate(capacity: participants)
    for index in 0..<participants { arrivals.initializeElement(at: index, to: words.address(index)) }
    let barrier = SharedBarrier(arrivals: UnsafeBufferPointer(arrivals))
    func value(_ generation: Int, _ of: Int) -> UnsafeMutablePointer<UInt64> {
        words.plain(participants + (generation - 1) * participants + of)
    }
    guard generations > 0 else { fail("expected at least one generation") }
    for generation in 1...generations {
        value(generation, participant).pointee = UInt64(generation) << 32 | UInt64(participant)
        let outcome = barrier.arrive(participant: participant, generation: UInt64(generation), policy)
        guard outcome == .passed else { fail("generation \(generation): \(outcome)") }
        for peer in 0..<participants where value(generation, peer).pointee != UInt64(generation) << 32 | UInt64(peer) {
            fail("generation \(generation): participant \(peer)'s value is not visible after the barrier")
        }
    }
}

func counter(_ arguments: [String]) {
    let words = SyncWords(text(arguments, 1, "FILE"), words: 2)
    let participant = integer(arguments, 2, "PARTICIPANT"), participants = integer(arguments, 3, "PARTICIPANTS")
    let rounds = integer(arguments, 4, "ROUNDS")
    let counter = words.shared(0), lastTurn = words.plain(1)
    for round in 0..<rounds {
        let turn = round * participants + participant
        guard counter.wait(atLeast: UInt64(turn), policy) else { fail("turn \(turn): counter stuck at \(counter.load())") }
        guard turn == 0 || lastTurn.pointee == UInt64(turn - 1) else {
            fail("turn \(turn): the previous turn's write is not visible (last turn \(lastTurn.pointee))")
        }
        lastTurn.pointee = UInt64(turn)
        counter.add(1)
    }
}

/// Record n's payload bytes: mostly short, every 100th near the largest (the largest itself for n = 99).
func channelPayloadBytes(_ sequence: Int, largest: Int) -> Int {
    sequence % 100 == 99 ? largest - (sequence / 100) % 64 : sequence * 37 % 301
}

func channelPayloadByte(_ sequence: Int, _ index: Int) -> UInt8 {
    UInt8(truncatingIfNeeded: sequence &* 131 &+ index &* 7 &+ index >> 8)
}

func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}

/// The channel file's block, mapped for the duration of `body`.
func withChannelBlock(_ arguments: [String], _ body: (UnsafeMutableRawPointer, _ capacity: Int, _ records: Int) -> Void) {
    let capacity = integer(arguments, 2, "CAPACITY"), records = integer(arguments, 3, "RECORDS")
    guard capacity % 64 == 0, MessageChannel.largestPayload(capacity: capacity) >= 301 else {
        fail("CAPACITY must be a multiple of 64 whose largest payload is at least 301 bytes")
    }
    let words = SyncWords(text(arguments, 1, "FILE"), words: MessageChannel.blockBytes(capacity: capacity) / 8)
    withExtendedLifetime(words) { body(words.address(0), capacity, records) }
}

func channelSend(_ arguments: [String]) {
    withChannelBlock(arguments) { block, capacity, records in
        var producer = MessageChannel.Producer(block: block, capacity: capacity)
        let largest = MessageChannel.largestPayload(capacity: capacity)
        for sequence in 0..<records {
            let bytes = channelPayloadBytes(sequence, largest: largest)
            var reserved: UnsafeMutableRawPointer?
            guard waitUntil(policy, {
                reserved = producer.reserve(payload: bytes)
                return reserved != nil
            }), let record = reserved else {
                fail("record \(sequence): the ring stayed full (tail \(SharedWord(at: block + 64).load()))")
            }
            let payload = UnsafeMutableRawBufferPointer(start: record + MessageChannel.headerBytes, count: bytes)
            for index in 0..<bytes { payload[index] = channelPayloadByte(sequence, index) }
            let envelope = record + MessageChannel.envelopeOffset
            envelope.storeBytes(of: UInt64(sequence), as: UInt64.self)
            envelope.storeBytes(of: fnv1a(UnsafeRawBufferPointer(payload)), toByteOffset: 8, as: UInt64.self)
            for index in 16..<MessageChannel.envelopeBytes {
                envelope.storeBytes(of: UInt8(truncatingIfNeeded: sequence &+ index - 16), toByteOffset: index, as: UInt8.self)
            }
            producer.publish(kind: UInt32(1 + sequence % 3), payload: bytes)
        }
    }
}

func channelReceive(_ arguments: [String]) {
    withChannelBlock(arguments) { block, capacity, records in
        var consumer = MessageChannel.Consumer(block: block, capacity: capacity)
        let largest = MessageChannel.largestPayload(capacity: capacity)
        var payloadBytes = 0, wraps = 0
        var previous = UnsafeRawPointer(block)
        func next(_ sequence: Int) -> MessageChannel.Record? {
            do { return try consumer.next() } catch { fail("record \(sequence): \(error)") }
        }
        for sequence in 0..<records {
            var received: MessageChannel.Record?
            guard waitUntil(policy, {
                received = next(sequence)
                return received != nil
            }), let record = received else {
                fail("record \(sequence) never came (head \(SharedWord(at: block).load()))")
            }
            // Copied out before anything is trusted, as a consumer of untrusted memory does.
            var envelope = [UInt8](repeating: 0, count: MessageChannel.envelopeBytes)
            envelope.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: record.envelope, count: $0.count)) }
            let payload = UnsafeRawBufferPointer(start: record.payload, count: record.payloadBytes)
            let sent = envelope.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            let checksum = envelope.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
            guard sent == UInt64(sequence) else { fail("record \(sequence) came as record \(sent)") }
            guard record.kind == UInt32(1 + sequence % 3) else { fail("record \(sequence) has kind \(record.kind)") }
            let expected = channelPayloadBytes(sequence, largest: largest)
            guard record.payloadBytes == expected else {
                fail("record \(sequence) has \(record.payloadBytes) payload bytes, not \(expected)")
            }
            for index in 16..<MessageChannel.envelopeBytes where envelope[index] != UInt8(truncatingIfNeeded: sequence &+ index - 16) {
                fail("record \(sequence): envelope byte \(index) is \(envelope[index])")
            }
            guard fnv1a(payload) == checksum else { fail("record \(sequence): the payload does not match its checksum") }
            for index in 0..<expected where payload[index] != channelPayloadByte(sequence, index) {
                fail("record \(sequence): payload byte \(index) is \(payload[index])")
            }
            if record.envelope < previous { wraps += 1 }
            previous = record.envelope
            payloadBytes += expected
            consumer.release(record)
        }
        guard next(records) == nil else { fail("a record after the last") }
        print("received \(records) records, \(payloadBytes) payload bytes, \(wraps) wraps")
    }
}

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--start-at" {
    guard arguments.count > 1, let start = Double(arguments[1]) else { fail("--start-at needs epoch seconds") }
    waitForStart(start)
    arguments.removeFirst(2)
}
let commands: [String: ([String]) -> Void] = [
    "attach": attach, "alloc": alloc, "claim": claim, "spinlock": spinlock, "rwlock": rwlock, "rwshared": rwshared,
    "barrier": barrier, "counter": counter, "channel-send": channelSend, "channel-receive": channelReceive,
]
guard let command = arguments.first, let run = commands[command] else {
    fail("unknown command \(arguments.first ?? "(none)"); commands: \(commands.keys.sorted().joined(separator: ", "))")
}
run(arguments)
