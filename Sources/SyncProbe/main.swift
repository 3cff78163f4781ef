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

var arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "--start-at" {
    guard arguments.count > 1, let start = Double(arguments[1]) else { fail("--start-at needs epoch seconds") }
    waitForStart(start)
    arguments.removeFirst(2)
}
let commands: [String: ([String]) -> Void] = [
    "attach": attach, "alloc": alloc, "claim": claim, "spinlock": spinlock, "rwlock": rwlock, "rwshared": rwshared,
    "barrier": barrier, "counter": counter,
]
guard let command = arguments.first, let run = commands[command] else {
    fail("unknown command \(arguments.first ?? "(none)"); commands: \(commands.keys.sorted().joined(separator: ", "))")
}
run(arguments)
