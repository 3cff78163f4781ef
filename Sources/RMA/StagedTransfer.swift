import CMPI
import Glibc
import SharedSync

/// The state of a window over private memory (MPI_Win_create) that the region serves by staged
/// copies: origins append requests to the target's mailbox, and the target applies them to its own
/// memory, from its MPI calls or from the progress agent (ProgressAgent.swift).
struct StagedWindow {
    /// This member's window memory, private to this process.
    let base: UnsafeMutableRawPointer?
    let size: Int
    /// Every member's mailbox, in this process's mapping of the region (index: window rank).
    let mailboxes: UnsafeMutablePointer<Mailbox>
    /// Per target: the mailbox position after this rank's last record to it. Atomic words: several
    /// threads may issue to one target at once (MPI_THREAD_MULTIPLE), and the position only grows.
    let appended: UnsafeMutablePointer<UInt64>
    /// The private copy of the record being applied (header and ranges, `Record.largestHeader`
    /// bytes): what is checked is what is used, whatever other guests write into the ring meanwhile.
    let recordCopy: UnsafeMutableRawPointer
    /// The packed target elements of an accumulate whose elements span ranges (pair types with
    /// padding), `elementScratchSize` bytes: the largest record this member's inbox takes.
    let elementScratch: UnsafeMutableRawPointer
    let elementScratchSize: Int
    /// What records to this member are checked against (made once: no closure per record).
    let limits: Record.Limits
    /// Process-local lock words: one applier at a time (the agent or an MPI call), and one fetch
    /// at a time (a fetch's reply area is this member's, one per window).
    let applyLock: UnsafeMutableRawPointer
    let fetchLock: UnsafeMutableRawPointer
    /// Both only changed under `fetchLock`.
    var fetchSequence: UInt64 = 0
    var reportedDroppedFetch = false
    /// Only changed under `applyLock`.
    var reportedMalformed = false
}

/// Data movement and accumulates for staged windows: the origin side builds records, the target
/// side (`drain`) applies them. Completion: a put or accumulate is complete at the origin when its
/// data is in the record (the origin's buffer is free again), and at the target once the target
/// applied it; fetches wait for their reply. Synchronization calls wait for the second kind of
/// completion (`awaitApplied`), so MPI's rules hold at every flush, unlock, complete and fence.
enum StagedTransfer {
    static let maxSegmentsPerRecord = Record.maxSegments

    // MARK: Origin side

    @inline(never)  // off the direct path's frame (DataMovement.transfer)
    static func transfer(_ direction: DataMovement.Direction, _ origin: UnsafeMutableRawPointer?, _ originCount: Int,
                         _ originType: MPI_Datatype, _ state: UnsafeMutablePointer<WindowState>, _ target: Int32,
                         _ displacement: MPI_Aint, _ targetCount: Int, _ targetType: MPI_Datatype) -> Int32 {
        let handle = state.pointee.handle
        let originShape: TypeShape, targetShape: TypeShape, bytes: Int
        switch DataMovement.check(state, target, originCount, originType, targetCount, targetType) {
        case .success(let checked): (originShape, targetShape, bytes) = (checked.originShape, checked.targetShape, checked.bytes)
        case .failure(let error): return windowError(handle, error.code)
        }
        if bytes == 0 { return MPI_SUCCESS }
        let layout: TargetLayout
        switch layoutOf(state, target, displacement, targetCount, targetType, targetShape) {
        case .success(let resolved): layout = resolved
        case .failure(let error): return windowError(handle, error.code)
        }
        guard originShape.canAddress(origin) else { return windowError(handle, MPI_ERR_BUFFER) }
        let request = Request(state: state, target: target, layout: layout, op: 0, element: MPI_BYTE, elementSize: 1)
        switch direction {
        case .put:
            return withContiguousSource(origin, originCount, originType, originShape, bytes) { data in
                issue(.put, request, sources: (data, nil), result: nil)
            }
        case .get:
            return withContiguousResult(origin, originCount, originType, originShape, bytes) { result in
                issue(.get, request, sources: (nil, nil), result: result)
            }
        }
    }

    static func accumulate(_ operation: Accumulate.Operation, _ checked: Accumulate.Checked,
                           _ state: UnsafeMutablePointer<WindowState>) -> Int32 {
        let layout: TargetLayout
        switch layoutOf(state, operation.target, operation.displacement, operation.targetCount,
                        operation.targetType, checked.targetShape) {
        case .success(let resolved): layout = resolved
        case .failure(let error): return windowError(state.pointee.handle, error.code)
        }
        let request = Request(state: state, target: operation.target, layout: layout, op: operation.op,
                              element: checked.element, elementSize: checked.elementSize)
        let apply = { (data: UnsafeRawPointer?) -> Int32 in
            guard operation.fetches else { return issue(.accumulate, request, sources: (data, nil), result: nil) }
            return withContiguousResult(operation.result, operation.resultCount, operation.resultType,
                                        checked.resultShape!, checked.bytes) { result in
                issue(.getAccumulate, request, sources: (data, nil), result: result)
            }
        }
        if checked.ignoresOrigin { return apply(nil) }
        return withContiguousSource(operation.origin, operation.originCount, operation.originType,
                                    checked.originShape!, checked.bytes, apply)
    }

    static func compareAndSwap(_ origin: UnsafeRawPointer, _ compare: UnsafeRawPointer, _ result: UnsafeMutableRawPointer,
                               _ type: MPI_Datatype, _ shape: TypeShape, _ state: UnsafeMutablePointer<WindowState>,
                               _ target: Int32, _ displacement: MPI_Aint) -> Int32 {
        switch layoutOf(state, target, displacement, 1, type, shape) {
        case .success(let layout):
            let request = Request(state: state, target: target, layout: layout, op: 0, element: type, elementSize: shape.size)
            return issue(.compareAndSwap, request, sources: (origin, compare), result: result)
        case .failure(let error):
            return windowError(state.pointee.handle, error.code)
        }
    }

    private static func layoutOf(_ state: UnsafeMutablePointer<WindowState>, _ target: Int32, _ displacement: MPI_Aint,
                                 _ count: Int, _ type: MPI_Datatype, _ shape: TypeShape) -> Result<TargetLayout, MPIErrorClass> {
        let slot = state.pointee.targets[Int(target)]
        switch TargetLayout.resolve(windowSize: slot.size, dispUnit: slot.dispUnit, displacement: displacement,
                                    count: count, type: type, shape: shape) {
        case .success(let layout):
            return .success(layout)
        case .failure(.outOfRange):
            return .failure(MPIErrorClass(MPI_ERR_RMA_RANGE))
        case .failure(.unsupported):
            Runtime.current?.explain("a target datatype spanning more than \(TargetLayout.largestScatteredSpan) bytes, "
                                     + "or with overlapping entries, cannot be staged: MPI_ERR_TYPE")
            return .failure(MPIErrorClass(MPI_ERR_TYPE))
        }
    }

    private struct Request {
        let state: UnsafeMutablePointer<WindowState>
        let target: Int32
        let layout: TargetLayout
        let op: MPI_Op
        let element: MPI_Datatype
        let elementSize: Int
    }

    /// Appends the records of one operation, in chunks that fit the target's ring (and this rank's
    /// reply area, for fetches). `sources`: the origin data and, for compare-and-swap, the compare
    /// value, each as contiguous bytes in packing order. A fetch waits for each chunk's reply and
    /// copies it to `result`.
    private static func issue(_ kind: Record.Kind, _ request: Request, sources: (UnsafeRawPointer?, UnsafeRawPointer?),
                              result: UnsafeMutableRawPointer?) -> Int32 {
        let state = request.state
        let staged = state.pointee.staged!
        let policy = state.pointee.waitPolicy
        let target = Int(request.target)
        let mailbox = staged.pointee.mailboxes[target]
        let mine = staged.pointee.mailboxes[Int(state.pointee.rank)]
        let payloads = (sources.0 == nil ? 0 : 1) + (sources.1 == nil ? 0 : 1)
        var elementIndex: UInt32 = 0
        if kind == .accumulate || kind == .getAccumulate || kind == .compareAndSwap {
            guard let index = PredefinedTypes.index(of: request.element) else {
                Runtime.current?.explain("an accumulate element type that is not predefined cannot be staged: MPI_ERR_TYPE")
                return windowError(state.pointee.handle, MPI_ERR_TYPE)
            }
            elementIndex = index
        }
        var limit = (mailbox.largestRecord - Record.largestHeader) / max(payloads, 1)
        if result != nil { limit = min(limit, mine.replyCapacity) }
        limit = limit / request.elementSize * request.elementSize

        if result != nil {
            let fetchLock = SharedSpinLock(at: staged.pointee.fetchLock)
            if !fetchLock.lock(token: 1, policy) { Runtime.current!.abortOnTimeout("a fetch from a staged MPI window", waitingFor: []) }
        }
        defer { if result != nil { SharedSpinLock(at: staged.pointee.fetchLock).unlock() } }

        var chunker = LayoutChunker(request.layout)
        return withUnsafeTemporaryAllocation(of: Segment.self, capacity: maxSegmentsPerRecord) { ranges in
            while !chunker.isDone {
                let chunk = chunker.next(limit: limit, elementSize: request.elementSize, maxSegments: maxSegmentsPerRecord, into: ranges.baseAddress!)
                var sequence: UInt64 = 0
                if result != nil {
                    staged.pointee.fetchSequence += 1
                    sequence = staged.pointee.fetchSequence
                }
                let size = Record.totalSize(segments: chunk.segments, payload: payloads * chunk.bytes)
                let end = mailbox.append(recordSize: size, policy, token: UInt64(state.pointee.rank) + 1,
                                         whileWaiting: { drain(state, inMPI: true) }) { record in
                    record.storeBytes(of: UInt64(kind.rawValue) | UInt64(state.pointee.rank) << 32,
                                      toByteOffset: Record.kindAndOrigin, as: UInt64.self)
                    record.storeBytes(of: UInt64(size), toByteOffset: Record.recordSize, as: UInt64.self)
                    record.storeBytes(of: UInt64(UInt32(bitPattern: request.op)) | UInt64(elementIndex) << 32,
                                      toByteOffset: Record.operation, as: UInt64.self)
                    record.storeBytes(of: UInt64(chunk.segments), toByteOffset: Record.segmentCount, as: UInt64.self)
                    record.storeBytes(of: UInt64(chunk.bytes), toByteOffset: Record.dataBytes, as: UInt64.self)
                    record.storeBytes(of: 0, toByteOffset: Record.replyOffset, as: UInt64.self)
                    record.storeBytes(of: sequence, toByteOffset: Record.replySequence, as: UInt64.self)
                    for index in 0..<chunk.segments {
                        let at = Record.size + Record.segmentSize * index
                        record.storeBytes(of: UInt64(ranges[index].offset), toByteOffset: at, as: UInt64.self)
                        record.storeBytes(of: UInt64(ranges[index].length), toByteOffset: at + 8, as: UInt64.self)
                    }
                    let payload = record + Record.payloadOffset(segments: chunk.segments)
                    if let data = sources.0 { memcpy(payload, data + chunk.packedStart, chunk.bytes) }
                    if let compare = sources.1 { memcpy(payload + chunk.bytes, compare + chunk.packedStart, chunk.bytes) }
                }
                guard let end else {
                    Runtime.current!.abortOnTimeout("staged MPI window (the target's inbox stayed full)",
                                                    waitingFor: [state.pointee.targets[target].worldRank])
                }
                advance(SharedWord(at: staged.pointee.appended + target), to: end)
                if let result {
                    var fetch = Mailbox.FetchState.pending
                    let settled = waitUntil(policy) {
                        drain(state, inMPI: true)
                        fetch = mine.fetchState(sequence: sequence, appendedTo: mailbox, recordEnd: end)
                        return fetch != .pending
                    }
                    let targetRank = state.pointee.targets[target].worldRank
                    if !settled { Runtime.current!.abortOnTimeout("a fetch from a staged MPI window", waitingFor: [targetRank]) }
                    if fetch == .dropped {
                        // One line per window: a program that ignores the error class must not flood the log.
                        if !staged.pointee.reportedDroppedFetch {
                            staged.pointee.reportedDroppedFetch = true
                            warn("rank \(state.pointee.worldRank): rank \(targetRank) dropped this rank's fetch as malformed "
                                 + "(something other than this job wrote into its part of the region): MPI_ERR_OTHER")
                        }
                        return windowError(state.pointee.handle, MPI_ERR_OTHER)
                    }
                    memcpy(result + chunk.packedStart, mine.replyArea, chunk.bytes)
                }
            }
            return MPI_SUCCESS
        }
    }

    /// Runs `body` on the origin data as contiguous bytes: the buffer itself, or a packed copy.
    private static func withContiguousSource(_ buffer: UnsafeRawPointer?, _ count: Int, _ type: MPI_Datatype,
                                             _ shape: TypeShape, _ bytes: Int, _ body: (UnsafeRawPointer) -> Int32) -> Int32 {
        if shape.contiguous { return body(buffer!) }  // not nil when contiguous (TypeShape.canAddress)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { packed.deallocate() }
        let code = Packing.pack(buffer, count, type, into: packed, bytes)
        return code == MPI_SUCCESS ? body(packed) : code
    }

    /// Runs `body` with contiguous room for fetched bytes, then unpacks them into `buffer` if its
    /// type is not contiguous.
    private static func withContiguousResult(_ buffer: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype,
                                             _ shape: TypeShape, _ bytes: Int,
                                             _ body: (UnsafeMutableRawPointer) -> Int32) -> Int32 {
        if shape.contiguous { return body(buffer!) }  // not nil when contiguous (TypeShape.canAddress)
        let packed = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { packed.deallocate() }
        let code = body(packed)
        return code == MPI_SUCCESS ? Packing.unpack(packed, bytes, into: buffer, count, type) : code
    }

    // MARK: Completion

    /// Moves a process-local position forward to `end`, never back (another thread may have moved it further).
    private static func advance(_ position: SharedWord, to end: UInt64) {
        var seen = position.loadRelaxed()
        while seen < end {
            let (exchanged, original) = position.compareExchange(expected: seen, desired: end)
            if exchanged { return }
            seen = original
        }
    }

    /// Waits until `target` applied every record this rank appended to it, applying this rank's
    /// own inbox meanwhile (the target may be waiting on us in turn).
    static func awaitApplied(_ state: UnsafeMutablePointer<WindowState>, _ target: Int, _ call: StaticString) {
        guard let staged = state.pointee.staged else { return }
        let end = SharedWord(at: staged.pointee.appended + target).load()
        let tail = staged.pointee.mailboxes[target].tail
        if tail.load() >= end { return }
        if !waitUntil(state.pointee.waitPolicy, { drain(state, inMPI: true); return tail.load() >= end }) {
            Runtime.current!.abortOnTimeout("\(call) (staged window)", waitingFor: [state.pointee.targets[target].worldRank])
        }
    }

    @inline(__always)  // windows that are not staged pay one load
    static func awaitAllApplied(_ state: UnsafeMutablePointer<WindowState>, _ call: StaticString) {
        guard state.pointee.staged != nil else { return }
        for target in 0..<Int(state.pointee.memberCount) { awaitApplied(state, target, call) }
    }

    // MARK: Target side

    /// Applies the records waiting in this rank's inbox, in order. `inMPI`: the caller is inside an
    /// MPI call, so a record whose operation needs MPI_Reduce_local can be applied; the progress
    /// agent, which must not call MPI, leaves such a record (and those after it) to the next call.
    /// Returns whether it applied anything. Inline, so the waits of windows that are not staged
    /// (fence, PSCW) pay one load for it.
    @discardableResult @inline(__always)
    static func drain(_ state: UnsafeMutablePointer<WindowState>, inMPI: Bool) -> Bool {
        guard let staged = state.pointee.staged else { return false }
        return drain(staged, state, inMPI: inMPI)
    }

    @inline(never)
    private static func drain(_ staged: UnsafeMutablePointer<StagedWindow>, _ state: UnsafeMutablePointer<WindowState>,
                              inMPI: Bool) -> Bool {
        let inbox = staged.pointee.mailboxes[Int(state.pointee.rank)]
        guard inbox.hasWork else { return false }
        let applyLock = SharedSpinLock(at: staged.pointee.applyLock)
        guard applyLock.tryLock(token: 1) else { return false }
        defer { applyLock.unlock() }
        var applied = false
        while true {
            switch inbox.oldestRecord() {
            case .empty:
                return applied
            case .corrupt(let skipTo):
                reportMalformed(state, "the inbox's head and tail disagree")
                inbox.tail.store(skipTo)
                return applied
            case .record(let record, let size, let position):
                switch apply(record, size: size, state, staged, inMPI: inMPI) {
                case .applied:
                    break
                case .malformed(let reason):
                    reportMalformed(state, reason)
                case .needsMPI:
                    return applied
                }
                inbox.tail.store(position &+ UInt64(size))
                applied = true
            }
        }
    }

    private enum Outcome {
        case applied
        case malformed(String)
        case needsMPI
    }

    /// Applies one record of `size` bytes (checked against the ring by the mailbox). Every field
    /// comes from memory other guests can write: the header and ranges are copied into private
    /// memory once, checked there and used only from there, so a writer racing this cannot move a
    /// range after its check; a record that fails a check changes nothing. Payload bytes are read
    /// from the ring, but only within the checked record.
    private static func apply(_ record: UnsafeMutableRawPointer, size: Int, _ state: UnsafeMutablePointer<WindowState>,
                              _ staged: UnsafeMutablePointer<StagedWindow>, inMPI: Bool) -> Outcome {
        let copy = staged.pointee.recordCopy
        memcpy(copy, record, Record.size)  // the mailbox checked that a record holds at least this
        let parsed: ParsedRecord
        switch Record.parse(copy, size: size, staged.pointee.limits,
                            copyRanges: { memcpy(copy + Record.size, record + Record.size, $0) }) {
        case .success(let record): parsed = record
        case .failure(let problem): return .malformed(problem.reason)
        }
        if parsed.kind == .pad { return .applied }
        let op = MPI_Op(bitPattern: parsed.operationWord)
        var element = MPI_BYTE
        if parsed.kind.combines {
            element = PredefinedTypes.table[Int(parsed.elementIndex)].type  // checked by parse
            if !inMPI && parsed.kind != .compareAndSwap && !Combine.isNative(op, element) { return .needsMPI }
        }
        let replyMailbox = staged.pointee.mailboxes[parsed.origin]
        let base = staged.pointee.base!
        var source = UnsafeRawPointer(record + parsed.payloadOffset)
        var reply = replyMailbox.replyArea + parsed.replyOffset
        if parsed.kind == .accumulate || (parsed.kind == .getAccumulate && op != IVSHMEM_MPI_NO_OP),
           (0..<parsed.segmentCount).contains(where: { parsed.range($0, in: copy).length % parsed.elementSize != 0 }) {
            guard parsed.dataBytes <= staged.pointee.elementScratchSize else { return .malformed("record larger than the inbox takes") }
            combinePacked(parsed, copy, base: base, source: source, reply: parsed.kind.fetches ? reply : nil,
                          op: op, element: element, scratch: staged.pointee.elementScratch)
            if parsed.kind.fetches { replyMailbox.replies.store(parsed.replySequence) }
            return .applied
        }
        for index in 0..<parsed.segmentCount {
            let range = parsed.range(index, in: copy)
            let window = base + range.offset
            let length = range.length
            switch parsed.kind {
            case .pad:
                break
            case .put:
                memcpy(window, source, length)
            case .get:
                memcpy(reply, window, length)
            case .accumulate:
                Combine.apply(op, element, target: window, origin: source, bytes: length, elementSize: parsed.elementSize)
            case .getAccumulate:
                memcpy(reply, window, length)
                if op != IVSHMEM_MPI_NO_OP {
                    Combine.apply(op, element, target: window, origin: source, bytes: length,
                                  elementSize: parsed.elementSize)
                }
            case .compareAndSwap:
                memcpy(reply, window, length)
                if memcmp(window, source + length, length) == 0 { memcpy(window, source, length) }
            }
            source += length
            reply += length
        }
        if parsed.kind.fetches { replyMailbox.replies.store(parsed.replySequence) }
        return .applied
    }

    /// An accumulate whose elements span ranges: gathers the target's elements into `scratch` in
    /// packing order, answers a fetch from there, combines, and scatters them back.
    private static func combinePacked(_ parsed: ParsedRecord, _ copy: UnsafeRawPointer, base: UnsafeMutableRawPointer,
                                      source: UnsafeRawPointer, reply: UnsafeMutableRawPointer?, op: MPI_Op,
                                      element: MPI_Datatype, scratch: UnsafeMutableRawPointer) {
        var packed = 0
        for index in 0..<parsed.segmentCount {
            let range = parsed.range(index, in: copy)
            memcpy(scratch + packed, base + range.offset, range.length)
            packed += range.length
        }
        if let reply { memcpy(reply, scratch, parsed.dataBytes) }
        Combine.apply(op, element, target: scratch, origin: source, bytes: parsed.dataBytes, elementSize: parsed.elementSize)
        packed = 0
        for index in 0..<parsed.segmentCount {
            let range = parsed.range(index, in: copy)
            memcpy(base + range.offset, scratch + packed, range.length)
            packed += range.length
        }
    }

    private static func reportMalformed(_ state: UnsafeMutablePointer<WindowState>, _ reason: String) {
        guard let staged = state.pointee.staged, !staged.pointee.reportedMalformed else { return }
        staged.pointee.reportedMalformed = true
        warn("rank \(Runtime.current?.worldRank ?? -1): dropped a malformed request for MPI window "
             + "0x\(String(UInt32(bitPattern: state.pointee.handle), radix: 16)) (\(reason)); something other than "
             + "this job wrote into its part of the region")
    }
}
