import CMPI
import Glibc
import Region
import SharedSync
import Synchronization

/// The 40 caller bytes of a message record's header (MessageChannel), as written by the sender.
struct MessageEnvelope {
    /// The communicator's identity every member agreed on (CommunicatorState.messageContext).
    var context: UInt64
    var tag: Int32
    /// The sender's rank in that communicator.
    var source: Int32
    /// Bytes of the whole message (its records carry them in order).
    var bytes: UInt64
    /// Nonzero for a synchronous send: the receiver acknowledges it when the message matched.
    var sendID: UInt64
    var reserved: UInt64 = 0

    func write(to envelope: UnsafeMutableRawPointer) {
        withUnsafeBytes(of: self) { envelope.copyMemory(from: $0.baseAddress!, byteCount: MessageChannel.envelopeBytes) }
    }

    /// A private copy: the region's bytes are read once.
    init(readingFrom envelope: UnsafeRawPointer) {
        self.init(context: 0, tag: 0, source: 0, bytes: 0, sendID: 0)
        withUnsafeMutableBytes(of: &self) { $0.copyMemory(from: UnsafeRawBufferPointer(start: envelope, count: MessageChannel.envelopeBytes)) }
    }

    init(context: UInt64, tag: Int32, source: Int32, bytes: UInt64, sendID: UInt64) {
        (self.context, self.tag, self.source, self.bytes, self.sendID) = (context, tag, source, bytes, sendID)
    }
}

/// What a record is, in the channel's kind field.
enum RecordKind: UInt32 {
    /// A message's envelope and its first bytes.
    case first = 1
    /// The next bytes of the message the previous record began.
    case more = 2
    /// The receiver matched the synchronous send `sendID`.
    case acknowledgement = 3
}

/// One send or receive the engine is carrying out: on the caller's stack for a blocking call, from
/// `OperationPool` for a nonblocking one. Every field is guarded by `Messages.lock`.
struct MessageOperation {
    enum Kind: UInt8 { case send, receive }
    var kind: Kind
    // A send: the bytes (the caller's, or `staging` when its type has gaps), how many are in the
    // ring already, and where they go.
    var data: UnsafeRawPointer?
    var written = 0
    var headerWritten = false
    /// A synchronous send's receiver matched it.
    var acknowledged = false
    var envelope = MessageEnvelope(context: 0, tag: 0, source: 0, bytes: 0, sendID: 0)
    var peer: Int32 = -1
    // A receive: what it matches, and where the bytes go.
    var context: UInt64 = 0
    var source: Int32 = 0
    var tag: Int32 = 0
    var communicator: UnsafeMutablePointer<CommunicatorState>?
    var buffer: UnsafeMutableRawPointer?
    var count = 0
    var type: MPI_Datatype = MPI_DATATYPE_NULL
    var comm: MPI_Comm = MPI_COMM_NULL
    /// Bytes the receive buffer holds.
    var capacity = 0
    /// Bytes of the matched message that arrived so far, and of the whole message.
    var arrived = 0
    var total = 0
    /// A packed copy of the data: a send's bytes or a receive's, for a type with gaps.
    var staging: UnsafeMutableRawPointer?
    // The outcome, as the status shows it.
    var statusSource: Int32 = MPI_ANY_SOURCE
    var statusTag: Int32 = MPI_ANY_TAG
    var statusBytes = 0
    var error: Int32 = MPI_SUCCESS
    var cancelled = false
    var done = false
    /// The generalized request the program holds (MPI_REQUEST_NULL for a blocking call), and
    /// whether MPICH was told it completed.
    var request: MPI_Request = MPI_REQUEST_NULL
    var announced = false
    /// MPI_Request_free came before completion: free the request once it is announced.
    var freeWhenAnnounced = false
    /// No request at all (the copy of a buffered send): back to the pool once done.
    var detached = false
    /// MPI_Isendrecv: the send (`partner` set, detached) completes the receive's request too,
    /// which waits for `pendingPartners` such sends besides its own message.
    var partner: UnsafeMutablePointer<MessageOperation>?
    var pendingPartners = 0
    var next: UnsafeMutablePointer<MessageOperation>?

    init(kind: Kind) { self.kind = kind }
}

/// A message that arrived before its receive: its envelope and a private copy of its bytes.
struct UnexpectedMessage {
    var envelope: MessageEnvelope
    var peer: Int32
    var arrived: Int
    var data: UnsafeMutableRawPointer?
    var next: UnsafeMutablePointer<UnexpectedMessage>?

    var complete: Bool { arrived == Int(envelope.bytes) }
}

/// An intrusive first-in first-out list.
struct OperationQueue {
    var head: UnsafeMutablePointer<MessageOperation>?
    var tail: UnsafeMutablePointer<MessageOperation>?

    mutating func append(_ operation: UnsafeMutablePointer<MessageOperation>) {
        operation.pointee.next = nil
        if let tail { tail.pointee.next = operation } else { head = operation }
        tail = operation
    }

    /// Removes and returns the first element for which `matches` holds.
    mutating func removeFirst(where matches: (UnsafeMutablePointer<MessageOperation>) -> Bool) -> UnsafeMutablePointer<MessageOperation>? {
        var previous: UnsafeMutablePointer<MessageOperation>?
        var current = head
        while let operation = current {
            if matches(operation) {
                if let previous { previous.pointee.next = operation.pointee.next } else { head = operation.pointee.next }
                if tail == operation { tail = previous }
                operation.pointee.next = nil
                return operation
            }
            previous = operation
            current = operation.pointee.next
        }
        return nil
    }
}

/// Where the next `more` record from a peer goes: the message it began is still arriving.
enum Delivery {
    case none
    case operation(UnsafeMutablePointer<MessageOperation>)
    case unexpected(UnsafeMutablePointer<UnexpectedMessage>)
}

/// This process's ends of the channels to and from one co-resident world rank.
struct PeerChannels {
    var outgoing: MessageChannel.Producer
    var incoming: MessageChannel.Consumer
    /// Sends to this peer not yet wholly in the ring, in the order they were made.
    var pending = OperationQueue()
    var delivery = Delivery.none
    /// Synchronous sends of this peer matched here, not yet acknowledged.
    var acknowledgements: UnsafeMutablePointer<UInt64>?
    var acknowledgementCount = 0
    var acknowledgementCapacity = 0
    /// A channel that failed its checks is no longer read (one warning).
    var broken = false
}

/// The point-to-point engine: per-pair channels in the region (MessageChannel), the posted and
/// unexpected queues, and the one progress routine every wait of the layer calls.
///
/// Each rank receives from every co-resident rank (itself included) in a ring of its own block,
/// allocated at MPI_Init; `start` publishes where. Records of one message follow each other in
/// its sender's ring, so per-pair order is the ring's order, and matching takes each arriving
/// message against the posted receives in the order they were posted, else queues it as
/// unexpected (MPI's matching rules). All state is guarded by one process-local lock, taken
/// without contention unless the program calls MPI from several threads.
enum Messages {
    static let lock = Mutex(())
    nonisolated(unsafe) static var peers: UnsafeMutablePointer<PeerChannels?> = .allocate(capacity: 0)
    /// World ranks this rank has channels with, in rank order.
    nonisolated(unsafe) static var coResident: [Int32] = []
    nonisolated(unsafe) static var posted = OperationQueue()
    nonisolated(unsafe) static var unexpectedHead: UnsafeMutablePointer<UnexpectedMessage>?
    nonisolated(unsafe) static var unexpectedTail: UnsafeMutablePointer<UnexpectedMessage>?
    /// Synchronous sends whose envelope is written, until their acknowledgement comes.
    nonisolated(unsafe) static var awaiting: UnsafeMutablePointer<UnsafeMutablePointer<MessageOperation>> = .allocate(capacity: 0)
    nonisolated(unsafe) static var awaitingCount = 0
    nonisolated(unsafe) static var awaitingCapacity = 0
    /// Nonblocking operations done but not yet announced to MPICH (MPI_Grequest_complete), which
    /// only a thread inside an MPI call may do.
    nonisolated(unsafe) static var completed = OperationQueue()
    nonisolated(unsafe) static var tagUpperBound: Int32 = 32767
    private static let active = Atomic(false)

    /// Whether point-to-point goes through the region in this job (decided alike on every rank).
    @inline(__always)
    static var isActive: Bool { active.load(ordering: .relaxed) }

    // MARK: Start and finish

    /// Collective over MPI_COMM_WORLD at MPI_Init: each rank allocates the rings it receives in
    /// (smaller ones, down to `smallestChannel`, when the region has no room for the configured
    /// size) and publishes where; point-to-point is served only if every rank that shares a region
    /// with another got its rings and maps its peers' (a rank without them would receive nothing),
    /// else everyone uses MPICH.
    static func start(_ runtime: Runtime) {
        let size = Int(runtime.worldSize)
        let group = (0..<runtime.worldSize).filter { runtime.isCoResident($0, runtime.worldRank) }
        let wanted = runtime.config.pointToPoint && runtime.region != nil && group.count >= 2 && statusEncodingHolds()
        // Each rank's offset of its rings, their capacity, and whether it wants any.
        var mine: [Int64] = [-1, 0, wanted ? 1 : 0]
        if wanted, let region = runtime.region {
            var capacity = runtime.config.channelSize
            while mine[0] < 0, capacity >= smallestChannel {
                let blockBytes = MessageChannel.blockBytes(capacity: capacity)
                if let block = try? region.allocate(bytes: group.count * blockBytes, jobID: runtime.jobID, wait: runtime.waitPolicy),
                   let start = region.address(offset: block.offset, length: block.size) {
                    for index in group.indices { MessageChannel.prepare(start + index * blockBytes) }
                    mine[0...1] = [Int64(block.offset), Int64(capacity)]
                }
                capacity /= 2
            }
        }
        var all = [Int64](repeating: 0, count: 3 * size)
        PMPI_Allgather(&mine, 3, MPI_INT64_T, &all, 3, MPI_INT64_T, MPI_COMM_WORLD)
        let short = (0..<size).filter { all[3 * $0 + 2] != 0 && all[3 * $0] < 0 }
        var mapped: Int32 = short.isEmpty && wanted && mapChannels(group, all, runtime) ? 1 : 0
        if short.isEmpty, (0..<size).contains(where: { all[3 * $0 + 2] != 0 }) {
            // Every rank wanting channels has them: do they all map their peers' too?
            var everyone = [Int32](repeating: 0, count: size)
            PMPI_Allgather(&mapped, 1, MPI_INT32_T, &everyone, 1, MPI_INT32_T, MPI_COMM_WORLD)
            let unmapped = (0..<size).filter { all[3 * $0 + 2] != 0 && everyone[$0] == 0 }
            if !unmapped.isEmpty {
                mapped = 0
                if runtime.worldRank == Int32(unmapped[0]) {
                    warn("rank \(runtime.worldRank): point-to-point goes to MPICH: world rank(s) "
                         + "\(unmapped.map(String.init).joined(separator: ",")) cannot map their peers' channels")
                }
            }
        } else if !short.isEmpty, runtime.worldRank == Int32(short[0]) {
            warn("rank \(runtime.worldRank): point-to-point goes to MPICH: no room for the channels of world rank(s) "
                 + "\(short.map(String.init).joined(separator: ",")) (IVSHMEM_RMA_CHANNEL_SIZE down to \(smallestChannel >> 10) KiB)")
        }
        guard mapped != 0 else { return }
        var tagBound: UnsafeMutablePointer<Int32>?
        var found: Int32 = 0
        if PMPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &tagBound, &found) == MPI_SUCCESS, found != 0, let tagBound {
            tagUpperBound = tagBound.pointee
        }
        coResident = group
        active.store(true, ordering: .releasing)
        ProgressAgent.ensureRunning()
        if runtime.worldRank == group[0] {
            runtime.explain("point-to-point through the region between world ranks \(group.map(String.init).joined(separator: ",")) "
                            + "(\(mine[1] >> 10) KiB per pair) on communicators whose members all share it")
        }
    }

    /// The smallest ring tried when the region has no room for IVSHMEM_RMA_CHANNEL_SIZE.
    static let smallestChannel = 16 << 10

    /// This rank's ends of the channels with each member of `group`: the rings it reads lie in its
    /// own block, the ones it writes in each peer's. False when some offset does not lie in the region.
    private static func mapChannels(_ group: [Int32], _ all: [Int64], _ runtime: Runtime) -> Bool {
        guard let region = runtime.region else { return false }
        let mine = Int(runtime.worldRank), myIndex = group.firstIndex(of: runtime.worldRank)!
        peers = .allocate(capacity: Int(runtime.worldSize))
        peers.initialize(repeating: nil, count: Int(runtime.worldSize))
        for (index, peer) in group.enumerated() {
            let myCapacity = Int(all[3 * mine + 1]), theirCapacity = Int(all[3 * Int(peer) + 1])
            guard theirCapacity >= smallestChannel, theirCapacity % 4096 == 0,
                  let incoming = region.address(offset: Int(all[3 * mine]) + index * MessageChannel.blockBytes(capacity: myCapacity),
                                                length: MessageChannel.blockBytes(capacity: myCapacity)),
                  let outgoing = region.address(offset: Int(all[3 * Int(peer)]) + myIndex * MessageChannel.blockBytes(capacity: theirCapacity),
                                                length: MessageChannel.blockBytes(capacity: theirCapacity)) else { return false }
            peers[Int(peer)] = PeerChannels(outgoing: MessageChannel.Producer(block: outgoing, capacity: theirCapacity),
                                            incoming: MessageChannel.Consumer(block: incoming, capacity: myCapacity))
        }
        return true
    }

    /// At MPI_Finalize: every send of this rank goes wholly into its ring (the receivers keep
    /// reading theirs until everyone is through: `drainingBarrier`).
    static func flush() {
        guard isActive else { return }
        var spinner = Spinner()
        while lock.withLock({ _ in progressLocked(); return hasPendingSends }) { spinner.pause() }
    }

    /// MPI_Finalize's barrier over `comm` (all of MPI_COMM_WORLD), reading this rank's rings while
    /// peers still write theirs; point-to-point is over once it returns. Every rank waits in the
    /// same nonblocking barrier (a blocking one would not match it).
    static func drainingBarrier(_ comm: MPI_Comm) {
        var request = MPI_REQUEST_NULL
        PMPI_Ibarrier(comm, &request)
        var spinner = Spinner()
        var flag: Int32 = 0
        while PMPI_Test(&request, &flag, IVSHMEM_MPI_STATUS_IGNORE) == MPI_SUCCESS, flag == 0 {
            if isActive { lock.withLock { _ in _ = progressLocked() } }
            spinner.pause()
        }
        active.store(false, ordering: .releasing)
    }

    private static var hasPendingSends: Bool {
        coResident.contains { peers[Int($0)]?.pending.head != nil }
    }

    /// Whether a status this layer fills by hand (`fill`) reads back through MPICH as intended.
    private static func statusEncodingHolds() -> Bool {
        var status = MPI_Status()
        fill(&status, source: 3, tag: 5, bytes: (1 << 33) + 12, cancelled: true)
        var count: MPI_Count = 0
        var cancelled: Int32 = 0
        return PMPI_Get_count_c(&status, MPI_BYTE, &count) == MPI_SUCCESS && count == (1 << 33) + 12
            && PMPI_Test_cancelled(&status, &cancelled) == MPI_SUCCESS && cancelled != 0
    }

    /// MPICH's status layout: count_lo and count_hi_and_cancelled hold the bytes received (shifted
    /// past the cancelled bit); MPI_ERROR is left alone, as MPICH leaves it for a single completion.
    @inline(__always)
    static func fill(_ status: UnsafeMutablePointer<MPI_Status>, source: Int32, tag: Int32, bytes: Int, cancelled: Bool) {
        status.pointee.count_lo = Int32(truncatingIfNeeded: bytes)
        status.pointee.count_hi_and_cancelled = Int32(truncatingIfNeeded: (bytes >> 32) << 1) | (cancelled ? 1 : 0)
        status.pointee.MPI_SOURCE = source
        status.pointee.MPI_TAG = tag
    }

    // MARK: Progress

    /// Reads every incoming ring and writes what waits for every outgoing one; under `lock`.
    /// Returns whether anything moved.
    @discardableResult
    static func progressLocked() -> Bool {
        var moved = false
        for peer in coResident {
            guard peers[Int(peer)] != nil else { continue }
            moved = drain(peer) || moved
            moved = push(peer) || moved
        }
        return moved
    }

    /// One round of progress from a thread inside an MPI call: the engine's, then announcing what
    /// completed to MPICH.
    @inline(__always)
    static func progress() {
        lock.withLock { _ in _ = progressLocked() }
        announceCompleted()
    }

    /// Tells MPICH about the nonblocking operations that completed (outside the lock: MPICH may
    /// call back into `Requests` for their status).
    static func announceCompleted() {
        while let (operation, freeNow) = lock.withLock({ _ -> (UnsafeMutablePointer<MessageOperation>, Bool)? in
            guard let operation = completed.removeFirst(where: { _ in true }) else { return nil }
            operation.pointee.announced = true
            return (operation, operation.pointee.freeWhenAnnounced)
        }) {
            unpackStaged(operation)
            var request = operation.pointee.request
            PMPI_Grequest_complete(request)
            if freeNow { PMPI_Request_free(&request) }
        }
    }

    /// Reads what `peer` wrote into this rank's ring.
    private static func drain(_ peer: Int32) -> Bool {
        guard !peers[Int(peer)]!.broken else { return false }
        var moved = false
        while true {
            let record: MessageChannel.Record?
            do { record = try peers[Int(peer)]!.incoming.next() } catch {
                brokenChannel(peer, "\(error)")
                return moved
            }
            guard let record else { return moved }
            moved = true
            guard accept(record, from: peer) else { return moved }
            peers[Int(peer)]!.incoming.release(record)
        }
    }

    /// One record from `peer`; false when the channel turned out corrupt.
    private static func accept(_ record: MessageChannel.Record, from peer: Int32) -> Bool {
        switch RecordKind(rawValue: record.kind) {
        case .first:
            guard case .none = peers[Int(peer)]!.delivery else {
                brokenChannel(peer, "a message began before the last one ended")
                return false
            }
            let envelope = MessageEnvelope(readingFrom: record.envelope)
            guard envelope.context != 0, envelope.tag >= 0, envelope.source >= 0, envelope.bytes < UInt64(Int.max),
                  record.payloadBytes <= Int(envelope.bytes) else {
                brokenChannel(peer, "an envelope no sender writes")
                return false
            }
            return arrive(envelope, peer: peer, record.payload, record.payloadBytes)
        case .more:
            switch peers[Int(peer)]!.delivery {
            case .none:
                brokenChannel(peer, "message bytes without a message")
                return false
            case .operation(let operation):
                guard record.payloadBytes <= operation.pointee.total - operation.pointee.arrived else {
                    brokenChannel(peer, "more bytes than the message holds")
                    return false
                }
                deliver(record.payload, record.payloadBytes, to: operation, peer: peer)
            case .unexpected(let message):
                guard record.payloadBytes <= Int(message.pointee.envelope.bytes) - message.pointee.arrived else {
                    brokenChannel(peer, "more bytes than the message holds")
                    return false
                }
                message.pointee.data!.advanced(by: message.pointee.arrived).copyMemory(from: record.payload, byteCount: record.payloadBytes)
                message.pointee.arrived += record.payloadBytes
                if message.pointee.complete { peers[Int(peer)]!.delivery = .none }
            }
        case .acknowledgement:
            let sendID = MessageEnvelope(readingFrom: record.envelope).sendID
            if let index = (0..<awaitingCount).first(where: {
                awaiting[$0].pointee.envelope.sendID == sendID && awaiting[$0].pointee.peer == peer
            }) {
                let operation = awaiting[index]
                awaitingCount -= 1
                awaiting[index] = awaiting[awaitingCount]
                operation.pointee.acknowledged = true
                // Not yet wholly written: `sent` completes it once it is.
                if operation.pointee.headerWritten, operation.pointee.written == Int(operation.pointee.envelope.bytes) {
                    complete(operation)
                }
            }
        case nil:
            brokenChannel(peer, "a record of unknown kind \(record.kind)")
            return false
        }
        return true
    }

    private static func brokenChannel(_ peer: Int32, _ why: String) {
        peers[Int(peer)]!.broken = true
        warn("rank \(Runtime.current?.worldRank ?? -1): the channel from world rank \(peer) is corrupt (\(why)); "
             + "its messages are no longer read")
    }

    /// A message's first record: the oldest posted receive it matches takes it, else it waits as unexpected.
    private static func arrive(_ envelope: MessageEnvelope, peer: Int32, _ payload: UnsafeRawPointer, _ bytes: Int) -> Bool {
        let total = Int(envelope.bytes)
        if let operation = posted.removeFirst(where: { matches($0, envelope, peer: peer) }) {
            left(operation)
            begin(operation, envelope, peer: peer)
            if bytes < total { peers[Int(peer)]!.delivery = .operation(operation) }
            deliver(payload, bytes, to: operation, peer: peer)
            return true
        }
        guard let message = UnexpectedPool.take(envelope, peer: peer) else {
            brokenChannel(peer, "no memory for an unexpected message of \(total) bytes")
            return false
        }
        message.pointee.arrived = bytes
        if bytes > 0 { message.pointee.data!.copyMemory(from: payload, byteCount: bytes) }
        if !message.pointee.complete { peers[Int(peer)]!.delivery = .unexpected(message) }
        if let unexpectedTail { unexpectedTail.pointee.next = message } else { unexpectedHead = message }
        unexpectedTail = message
        return true
    }

    /// Whether a receive takes a message: same communicator, source and tag (wildcards allowed),
    /// and a source that really is the member the channel belongs to.
    @inline(__always)
    static func matches(_ operation: UnsafeMutablePointer<MessageOperation>, _ envelope: MessageEnvelope, peer: Int32) -> Bool {
        operation.pointee.context == envelope.context
            && (operation.pointee.source == MPI_ANY_SOURCE || operation.pointee.source == envelope.source)
            && (operation.pointee.tag == MPI_ANY_TAG || operation.pointee.tag == envelope.tag)
            && operation.pointee.communicator.map {
                Int(envelope.source) < $0.pointee.members && $0.pointee.worldRanks[Int(envelope.source)] == peer
            } ?? false
    }

    /// A receive matched a message of `envelope`: its status, and where the bytes go.
    static func begin(_ operation: UnsafeMutablePointer<MessageOperation>, _ envelope: MessageEnvelope, peer: Int32) {
        let total = Int(envelope.bytes)
        operation.pointee.total = total
        operation.pointee.arrived = 0
        operation.pointee.statusSource = envelope.source
        operation.pointee.statusTag = envelope.tag
        operation.pointee.statusBytes = min(total, operation.pointee.capacity)
        if total > operation.pointee.capacity { operation.pointee.error = MPI_ERR_TRUNCATE }
        if operation.pointee.staging == nil, operation.pointee.data == nil, operation.pointee.statusBytes > 0 {
            // A type with gaps (`data` nil): the bytes gather here, and are unpacked at the end.
            operation.pointee.staging = malloc(operation.pointee.statusBytes)
        }
        if envelope.sendID != 0 { acknowledge(envelope.sendID, to: peer) }
        if total == 0 { complete(operation) }
    }

    /// Bytes of the message `operation` receives, in order; finishes it with the last of them.
    private static func deliver(_ bytes: UnsafeRawPointer, _ count: Int, to operation: UnsafeMutablePointer<MessageOperation>, peer: Int32) {
        guard count > 0 else { return }
        let offset = operation.pointee.arrived
        let kept = max(0, min(count, operation.pointee.statusBytes - offset))
        if kept > 0 {
            let destination = operation.pointee.staging ?? UnsafeMutableRawPointer(mutating: operation.pointee.data!)
            memcpy(destination + offset, bytes, kept)
        }
        operation.pointee.arrived += count
        if operation.pointee.arrived == operation.pointee.total {
            if case .operation(let receiving) = peers[Int(peer)]!.delivery, receiving == operation { peers[Int(peer)]!.delivery = .none }
            complete(operation)
        }
    }

    /// Unpacks a completed receive's staged bytes into its buffer, from the thread that waits for
    /// the receive or announces it: never an MPI call under `lock`, which MPICH may call back into
    /// (Requests) while holding its own.
    static func unpackStaged(_ operation: UnsafeMutablePointer<MessageOperation>) {
        guard operation.pointee.kind == .receive, let staging = operation.pointee.staging else { return }
        let received = operation.pointee.statusBytes, elementBytes = operation.pointee.capacity / operation.pointee.count
        let elements = (received + elementBytes - 1) / elementBytes
        let code: Int32
        if received % elementBytes == 0 {
            code = unpack(staging, elements, into: operation)
        } else if let whole = malloc(elements * elementBytes) {
            // A message ending inside an element (a shorter one, or truncated) still fills the
            // bytes of that element it carries, as MPI says: unpack whole elements whose tail
            // holds what the buffer had there.
            var position: MPI_Count = 0
            let packed = Datatypes.addressable(operation.pointee.buffer, operation.pointee.type) { buffer, type in
                PMPI_Pack_c(buffer, MPI_Count(elements), type, whole, MPI_Count(elements * elementBytes), &position,
                            operation.pointee.comm)
            }
            if packed == MPI_SUCCESS {
                memcpy(whole, staging, received)
                code = unpack(whole, elements, into: operation)
            } else {
                code = packed
            }
            free(whole)
        } else {
            code = MPI_ERR_NO_MEM
        }
        if code != MPI_SUCCESS, operation.pointee.error == MPI_SUCCESS { operation.pointee.error = code }
        free(staging)
        operation.pointee.staging = nil
    }

    private static func unpack(_ bytes: UnsafeMutableRawPointer, _ elements: Int, into operation: UnsafeMutablePointer<MessageOperation>) -> Int32 {
        var position: MPI_Count = 0
        let size = MPI_Count(elements * (operation.pointee.capacity / operation.pointee.count))
        return Datatypes.addressable(operation.pointee.buffer, operation.pointee.type) { buffer, type in
            PMPI_Unpack_c(bytes, size, &position, buffer, MPI_Count(elements), type, operation.pointee.comm)
        }
    }

    /// Takes the oldest unexpected message `operation` matches, if any.
    static func takeUnexpected(matching operation: UnsafeMutablePointer<MessageOperation>) -> UnsafeMutablePointer<UnexpectedMessage>? {
        var previous: UnsafeMutablePointer<UnexpectedMessage>?
        var current = unexpectedHead
        while let message = current {
            if matches(operation, message.pointee.envelope, peer: message.pointee.peer) {
                if let previous { previous.pointee.next = message.pointee.next } else { unexpectedHead = message.pointee.next }
                if unexpectedTail == message { unexpectedTail = previous }
                message.pointee.next = nil
                return message
            }
            previous = message
            current = message.pointee.next
        }
        return nil
    }

    /// The oldest unexpected message `operation` matches, left in place (MPI_Probe).
    static func peekUnexpected(matching operation: UnsafeMutablePointer<MessageOperation>) -> UnsafeMutablePointer<UnexpectedMessage>? {
        var current = unexpectedHead
        while let message = current {
            if matches(operation, message.pointee.envelope, peer: message.pointee.peer) { return message }
            current = message.pointee.next
        }
        return nil
    }

    /// A receive takes an unexpected message: the bytes that came so far, and the rest as they come.
    static func receive(_ message: UnsafeMutablePointer<UnexpectedMessage>, into operation: UnsafeMutablePointer<MessageOperation>) {
        let peer = message.pointee.peer
        begin(operation, message.pointee.envelope, peer: peer)
        // Still arriving: the rest goes straight to the receive.
        if case .unexpected(let arriving) = peers[Int(peer)]!.delivery, arriving == message {
            peers[Int(peer)]!.delivery = .operation(operation)
        }
        if let data = message.pointee.data, message.pointee.arrived > 0 {
            deliver(data, message.pointee.arrived, to: operation, peer: peer)
        }
        UnexpectedPool.recycle(message)
    }

    /// Posts a receive: an unexpected message it matches, else the posted queue.
    static func post(_ operation: UnsafeMutablePointer<MessageOperation>) {
        if let message = takeUnexpected(matching: operation) {
            receive(message, into: operation)
            return
        }
        posted.append(operation)
        operation.pointee.communicator?.pointee.postedReceives += 1
    }

    /// Takes a receive out of the posted queue (matched or cancelled); false when it was not there.
    static func unpost(_ operation: UnsafeMutablePointer<MessageOperation>) -> Bool {
        guard posted.removeFirst(where: { $0 == operation }) != nil else { return false }
        left(operation)
        return true
    }

    /// A receive left the posted queue: its communicator, if freed meanwhile, may go now.
    private static func left(_ operation: UnsafeMutablePointer<MessageOperation>) {
        guard let communicator = operation.pointee.communicator else { return }
        communicator.pointee.postedReceives -= 1
        if communicator.pointee.released, communicator.pointee.postedReceives == 0 { Communicators.deallocate(communicator) }
        operation.pointee.communicator = nil
    }

    // MARK: Sending

    /// Starts a send: written now if nothing is queued before it and the ring has room, else queued.
    static func send(_ operation: UnsafeMutablePointer<MessageOperation>) {
        let peer = Int(operation.pointee.peer)
        if peers[peer]!.pending.head == nil, write(operation) {
            sent(operation)
            return
        }
        peers[peer]!.pending.append(operation)
    }

    /// Writes what waits for `peer`: acknowledgements first, then the queued sends in order.
    private static func push(_ peer: Int32) -> Bool {
        var moved = false
        while peers[Int(peer)]!.acknowledgementCount > 0 {
            guard let record = peers[Int(peer)]!.outgoing.reserve(payload: 0) else { return moved }
            let count = peers[Int(peer)]!.acknowledgementCount
            let sendID = peers[Int(peer)]!.acknowledgements![count - 1]
            MessageEnvelope(context: 0, tag: 0, source: 0, bytes: 0, sendID: sendID).write(to: record + MessageChannel.envelopeOffset)
            peers[Int(peer)]!.outgoing.publish(kind: RecordKind.acknowledgement.rawValue, payload: 0)
            peers[Int(peer)]!.acknowledgementCount = count - 1
            moved = true
        }
        while let operation = peers[Int(peer)]!.pending.head {
            let before = operation.pointee.written
            let finished = write(operation)
            moved = moved || operation.pointee.written != before
            guard finished else { return moved }
            _ = peers[Int(peer)]!.pending.removeFirst { _ in true }
            sent(operation)
            moved = true
        }
        return moved
    }

    /// Writes as much of a send as the ring takes; true once all of it is in.
    private static func write(_ operation: UnsafeMutablePointer<MessageOperation>) -> Bool {
        let peer = Int(operation.pointee.peer)
        let total = Int(operation.pointee.envelope.bytes)
        while !operation.pointee.headerWritten || operation.pointee.written < total {
            let chunk = min(total - operation.pointee.written, MessageChannel.largestPayload(capacity: peers[peer]!.outgoing.capacity))
            guard let record = peers[peer]!.outgoing.reserve(payload: chunk) else { return false }
            if !operation.pointee.headerWritten {
                operation.pointee.envelope.write(to: record + MessageChannel.envelopeOffset)
                if operation.pointee.envelope.sendID != 0 { awaitAcknowledgement(operation) }
            }
            if chunk > 0 { memcpy(record + MessageChannel.headerBytes, operation.pointee.data! + operation.pointee.written, chunk) }
            peers[peer]!.outgoing.publish(kind: (operation.pointee.headerWritten ? RecordKind.more : .first).rawValue, payload: chunk)
            operation.pointee.headerWritten = true
            operation.pointee.written += chunk
        }
        return true
    }

    /// A send is wholly in the ring: complete, unless it is synchronous and not yet matched.
    private static func sent(_ operation: UnsafeMutablePointer<MessageOperation>) {
        if operation.pointee.envelope.sendID == 0 || operation.pointee.acknowledged { complete(operation) }
    }

    private static func awaitAcknowledgement(_ operation: UnsafeMutablePointer<MessageOperation>) {
        if awaitingCount == awaitingCapacity {
            awaitingCapacity = max(16, 2 * awaitingCapacity)
            awaiting = realloc(awaiting, awaitingCapacity * MemoryLayout<UnsafeMutablePointer<MessageOperation>>.stride)!
                .assumingMemoryBound(to: UnsafeMutablePointer<MessageOperation>.self)
        }
        awaiting[awaitingCount] = operation
        awaitingCount += 1
    }

    private static func acknowledge(_ sendID: UInt64, to peer: Int32) {
        let count = peers[Int(peer)]!.acknowledgementCount
        if count == peers[Int(peer)]!.acknowledgementCapacity {
            let capacity = max(16, 2 * count)
            peers[Int(peer)]!.acknowledgements = realloc(peers[Int(peer)]!.acknowledgements, capacity * 8)!
                .assumingMemoryBound(to: UInt64.self)
            peers[Int(peer)]!.acknowledgementCapacity = capacity
        }
        peers[Int(peer)]!.acknowledgements![count] = sendID
        peers[Int(peer)]!.acknowledgementCount = count + 1
        _ = push(peer)
    }

    /// An operation is done: a blocking caller sees `done`; a request waits to be announced; a
    /// detached copy goes back to the pool.
    static func complete(_ operation: UnsafeMutablePointer<MessageOperation>) {
        operation.pointee.done = true
        if let partner = operation.pointee.partner {
            partner.pointee.pendingPartners -= 1
            if partner.pointee.done { announce(partner) }
        }
        if operation.pointee.detached {
            free(operation.pointee.staging)
            OperationPool.recycle(operation)
        } else {
            announce(operation)
        }
    }

    /// A done operation with a request waits for MPI_Grequest_complete (`announceCompleted`).
    private static func announce(_ operation: UnsafeMutablePointer<MessageOperation>) {
        if operation.pointee.request != MPI_REQUEST_NULL, operation.pointee.pendingPartners == 0 { completed.append(operation) }
    }
}

/// Nonblocking operations, recycled (no allocation on the path of a message once warm). Guarded by `Messages.lock`.
enum OperationPool {
    nonisolated(unsafe) private static var free: UnsafeMutablePointer<MessageOperation>?

    static func take(_ kind: MessageOperation.Kind) -> UnsafeMutablePointer<MessageOperation> {
        if let operation = free {
            free = operation.pointee.next
            operation.initialize(to: MessageOperation(kind: kind))
            return operation
        }
        let operation = UnsafeMutablePointer<MessageOperation>.allocate(capacity: 1)
        operation.initialize(to: MessageOperation(kind: kind))
        return operation
    }

    static func recycle(_ operation: UnsafeMutablePointer<MessageOperation>) {
        operation.pointee.next = free
        free = operation
    }
}

/// Unexpected messages, recycled, each with room for a small message's bytes: a message that
/// comes before its receive allocates nothing once warm, unless it is large. Guarded by `Messages.lock`.
enum UnexpectedPool {
    static let inlineBytes = 1024
    private static let entryBytes = MemoryLayout<UnexpectedMessage>.stride + inlineBytes
    nonisolated(unsafe) private static var free: UnsafeMutablePointer<UnexpectedMessage>?

    static func take(_ envelope: MessageEnvelope, peer: Int32) -> UnsafeMutablePointer<UnexpectedMessage>? {
        let total = Int(envelope.bytes)
        let message: UnsafeMutablePointer<UnexpectedMessage>
        if let recycled = free {
            free = recycled.pointee.next
            message = recycled
        } else {
            guard let entry = malloc(entryBytes) else { return nil }
            message = entry.bindMemory(to: UnexpectedMessage.self, capacity: 1)
        }
        message.initialize(to: UnexpectedMessage(envelope: envelope, peer: peer, arrived: 0, data: nil, next: nil))
        message.pointee.data = total <= inlineBytes ? UnsafeMutableRawPointer(message + 1) : malloc(total)
        guard message.pointee.data != nil else {
            recycle(message)
            return nil
        }
        return message
    }

    static func recycle(_ message: UnsafeMutablePointer<UnexpectedMessage>) {
        if let data = message.pointee.data, data != UnsafeMutableRawPointer(message + 1) { Glibc.free(data) }
        message.pointee.data = nil
        message.pointee.next = free
        free = message
    }
}

/// Busy-waits briefly, then yields, then sleeps with doubling pauses up to 50 us: 8 ranks on 2
/// cores still finish, while a peer on another core is seen at once. Past the busy phase it also
/// lets MPICH progress now and then, so a peer waiting on MPICH traffic of this rank moves on.
struct Spinner {
    private var rounds = 0
    private var sleep = 1_000

    mutating func pause() {
        rounds += 1
        if rounds < 256 { return }
        // MPICH's progress over TCP costs system calls: never on a short wait.
        if rounds & 127 == 0 { driveMPICHProgress() }
        if rounds < 1024 {
            sched_yield()
            return
        }
        var interval = timespec(tv_sec: 0, tv_nsec: sleep)
        nanosleep(&interval, nil)
        sleep = min(sleep * 2, 50_000)
    }
}


extension Messages {
    /// Waits for an operation of the calling thread, making progress for everyone meanwhile.
    static func waitUntilDone(_ operation: UnsafeMutablePointer<MessageOperation>) {
        var spinner = Spinner()
        while true {
            let (done, announce) = lock.withLock { _ in
                if !operation.pointee.done { progressLocked() }
                return (operation.pointee.done, completed.head != nil)
            }
            if announce { announceCompleted() }
            if done { return }
            if ProgressAgent.servesStagedWindows { ProgressAgent.applyPending() }
            spinner.pause()
        }
    }
}
