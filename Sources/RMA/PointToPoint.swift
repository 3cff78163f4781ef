import CMPI
import Glibc
import Synchronization

/// The point-to-point entry points. On a communicator whose messages go through the region
/// (`Communicators.messaging`: every member shares it, registered at its creation) a call is the
/// engine's (Messages); on any other, and for any argument MPI makes erroneous or MPI_PROC_NULL,
/// it is MPICH's own, which reports the error through the communicator's handler as usual.
///
/// Each entry serves both twins (COUNT int or MPI_Count): `forward` is the MPI library's own
/// function of the twin called (bindings/mpi-functions.txt). Nonblocking operations hand the
/// program a generalized request of MPICH (MPI_Grequest_start), which MPICH's own wait, test,
/// free and cancel functions understand, so a program may mix them freely with MPICH's requests.
public enum PointToPoint {
    // MARK: Sends

    /// MPI_Send and MPI_Rsend (a ready send may be a standard one).
    public static func send(_ buffer: UnsafeRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype, _ destination: Int32,
                            _ tag: Int32, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        blockingSend(buffer, Int(count), type, destination, tag, comm, synchronous: false, forward: forward)
    }

    public static func synchronousSend(_ buffer: UnsafeRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                       _ destination: Int32, _ tag: Int32, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        blockingSend(buffer, Int(count), type, destination, tag, comm, synchronous: true, forward: forward)
    }

    /// MPI_Bsend: the bytes are copied at once (into memory of the layer's own, not the attached
    /// buffer) and go out as the ring takes them.
    public static func bufferedSend(_ buffer: UnsafeRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                    _ destination: Int32, _ tag: Int32, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        guard let (state, shape, bytes) = sendable(buffer, Int(count), type, destination, tag, comm) else { return forwarded(.sendMpi, forward) }
        let operation = Messages.lock.withLock { _ in OperationPool.take(.send) }
        operation.pointee.detached = true
        let code = prepareSend(operation, buffer, Int(count), type, shape, bytes, destination, tag, state, synchronous: false, copy: true)
        guard code == MPI_SUCCESS else {
            Messages.lock.withLock { _ in OperationPool.recycle(operation) }
            return communicatorError(comm, code)
        }
        Stats.count(.sendShm)
        Messages.lock.withLock { _ in Messages.send(operation) }
        return MPI_SUCCESS
    }

    /// MPI_Isend and MPI_Irsend.
    public static func startSend(_ buffer: UnsafeRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                 _ destination: Int32, _ tag: Int32, _ comm: MPI_Comm, _ request: UnsafeMutablePointer<MPI_Request>?,
                                 forward: () -> Int32) -> Int32 {
        nonblockingSend(buffer, Int(count), type, destination, tag, comm, request, synchronous: false, forward: forward)
    }

    public static func startSynchronousSend(_ buffer: UnsafeRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                            _ destination: Int32, _ tag: Int32, _ comm: MPI_Comm,
                                            _ request: UnsafeMutablePointer<MPI_Request>?, forward: () -> Int32) -> Int32 {
        nonblockingSend(buffer, Int(count), type, destination, tag, comm, request, synchronous: true, forward: forward)
    }

    /// MPI_Ibsend: buffered at once (`bufferedSend`), so its request is complete from the start:
    /// an MPICH send to MPI_PROC_NULL stands for it.
    public static func startBufferedSend(_ buffer: UnsafeRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                         _ destination: Int32, _ tag: Int32, _ comm: MPI_Comm,
                                         _ request: UnsafeMutablePointer<MPI_Request>?, forward: () -> Int32) -> Int32 {
        guard request != nil, sendable(buffer, Int(count), type, destination, tag, comm) != nil else { return forwarded(.sendMpi, forward) }
        let code = bufferedSend(buffer, count, type, destination, tag, comm) { MPI_ERR_INTERN }
        return code == MPI_SUCCESS ? PMPI_Isend(nil, 0, MPI_BYTE, MPI_PROC_NULL, 0, comm, request) : code
    }

    private static func blockingSend(_ buffer: UnsafeRawPointer?, _ count: Int, _ type: MPI_Datatype, _ destination: Int32,
                                     _ tag: Int32, _ comm: MPI_Comm, synchronous: Bool, forward: () -> Int32) -> Int32 {
        guard let (state, shape, bytes) = sendable(buffer, count, type, destination, tag, comm) else { return forwarded(.sendMpi, forward) }
        var operation = MessageOperation(kind: .send)
        return withUnsafeMutablePointer(to: &operation) { operation in
            let code = prepareSend(operation, buffer, count, type, shape, bytes, destination, tag, state, synchronous: synchronous, copy: false)
            guard code == MPI_SUCCESS else { return communicatorError(comm, code) }
            Stats.count(.sendShm)
            let done = Messages.lock.withLock { _ in
                Messages.send(operation)
                return operation.pointee.done
            }
            if !done { Messages.waitUntilDone(operation) }
            free(operation.pointee.staging)
            return MPI_SUCCESS
        }
    }

    private static func nonblockingSend(_ buffer: UnsafeRawPointer?, _ count: Int, _ type: MPI_Datatype, _ destination: Int32,
                                        _ tag: Int32, _ comm: MPI_Comm, _ request: UnsafeMutablePointer<MPI_Request>?,
                                        synchronous: Bool, forward: () -> Int32) -> Int32 {
        guard let request, let (state, shape, bytes) = sendable(buffer, count, type, destination, tag, comm) else {
            return forwarded(.sendMpi, forward)
        }
        let operation = Messages.lock.withLock { _ in OperationPool.take(.send) }
        var code = prepareSend(operation, buffer, count, type, shape, bytes, destination, tag, state, synchronous: synchronous, copy: false)
        if code == MPI_SUCCESS { code = Requests.start(operation) }
        guard code == MPI_SUCCESS else {
            Messages.lock.withLock { _ in OperationPool.recycle(operation) }
            return communicatorError(comm, code)
        }
        Stats.count(.sendShm)
        request.pointee = operation.pointee.request
        Messages.lock.withLock { _ in Messages.send(operation) }
        return MPI_SUCCESS
    }

    /// The communicator's state and the type's layout when the engine serves this send; nil when
    /// MPICH does (not served, MPI_PROC_NULL, or arguments MPICH must reject).
    @inline(__always)
    private static func sendable(_ buffer: UnsafeRawPointer?, _ count: Int, _ type: MPI_Datatype, _ destination: Int32,
                                 _ tag: Int32, _ comm: MPI_Comm) -> (UnsafeMutablePointer<CommunicatorState>, TypeShape, Int)? {
        guard Messages.isActive, let state = Communicators.messaging(comm), destination >= 0,
              Int(destination) < state.pointee.members, tag >= 0, tag <= Messages.tagUpperBound,
              let (shape, bytes) = layout(buffer, count, type) else { return nil }
        return (state, shape, bytes)
    }

    @inline(__always)
    private static func layout(_ buffer: UnsafeRawPointer?, _ count: Int, _ type: MPI_Datatype) -> (TypeShape, Int)? {
        guard count >= 0, let shape = Datatypes.shape(of: type), let bytes = shape.bytes(count: count),
              bytes == 0 || shape.canAddress(buffer) else { return nil }
        return (shape, bytes)
    }

    @inline(__always)
    private static func forwarded(_ counter: Counter, _ forward: () -> Int32) -> Int32 {
        Stats.count(counter)
        return forward()
    }

    /// Fills a send: its bytes (the caller's when contiguous, else packed, and always copied for a
    /// buffered send) and envelope.
    private static func prepareSend(_ operation: UnsafeMutablePointer<MessageOperation>, _ buffer: UnsafeRawPointer?, _ count: Int,
                                    _ type: MPI_Datatype, _ shape: TypeShape, _ bytes: Int, _ destination: Int32, _ tag: Int32,
                                    _ state: UnsafeMutablePointer<CommunicatorState>, synchronous: Bool, copy: Bool) -> Int32 {
        operation.pointee.peer = state.pointee.worldRanks[Int(destination)]
        operation.pointee.envelope = MessageEnvelope(context: state.pointee.messageContext, tag: tag, source: Int32(state.pointee.rank),
                                                     bytes: UInt64(bytes), sendID: synchronous ? newSendID() : 0)
        if bytes == 0 || (shape.contiguous && !copy) {
            operation.pointee.data = buffer
            return MPI_SUCCESS
        }
        guard let staging = malloc(bytes) else { return MPI_ERR_NO_MEM }
        operation.pointee.staging = staging
        operation.pointee.data = UnsafeRawPointer(staging)
        if shape.contiguous {
            memcpy(staging, buffer!, bytes)
            return MPI_SUCCESS
        }
        var position: MPI_Count = 0
        return Datatypes.addressable(UnsafeMutableRawPointer(mutating: buffer), type) { buffer, type in
            PMPI_Pack_c(buffer, MPI_Count(count), type, staging, MPI_Count(bytes), &position, state.pointee.handle)
        }
    }

    private static let lastSendID = Atomic<UInt64>(0)

    private static func newSendID() -> UInt64 { lastSendID.wrappingAdd(1, ordering: .relaxed).newValue }

    // MARK: Persistent requests

    /// MPI_Send_init and MPI_Rsend_init.
    public static func sendInit(_ buffer: UnsafeRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                _ destination: Int32, _ tag: Int32, _ comm: MPI_Comm, _ request: UnsafeMutablePointer<MPI_Request>?,
                                forward: () -> Int32) -> Int32 {
        persistentSend(.send, buffer, Int(count), type, destination, tag, comm, request, forward: forward)
    }

    public static func synchronousSendInit(_ buffer: UnsafeRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                           _ destination: Int32, _ tag: Int32, _ comm: MPI_Comm,
                                           _ request: UnsafeMutablePointer<MPI_Request>?, forward: () -> Int32) -> Int32 {
        persistentSend(.synchronousSend, buffer, Int(count), type, destination, tag, comm, request, forward: forward)
    }

    public static func bufferedSendInit(_ buffer: UnsafeRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                        _ destination: Int32, _ tag: Int32, _ comm: MPI_Comm,
                                        _ request: UnsafeMutablePointer<MPI_Request>?, forward: () -> Int32) -> Int32 {
        persistentSend(.bufferedSend, buffer, Int(count), type, destination, tag, comm, request, forward: forward)
    }

    private static func persistentSend(_ kind: PersistentOperation.Kind, _ buffer: UnsafeRawPointer?, _ count: Int,
                                       _ type: MPI_Datatype, _ destination: Int32, _ tag: Int32, _ comm: MPI_Comm,
                                       _ request: UnsafeMutablePointer<MPI_Request>?, forward: () -> Int32) -> Int32 {
        guard let request, sendable(buffer, count, type, destination, tag, comm) != nil else { return forward() }
        let code = PersistentRequests.make(kind, buffer, count, type, destination, tag, comm, request)
        return code == MPI_SUCCESS ? code : communicatorError(comm, code)
    }

    public static func receiveInit(_ buffer: UnsafeMutableRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                   _ source: Int32, _ tag: Int32, _ comm: MPI_Comm, _ request: UnsafeMutablePointer<MPI_Request>?,
                                   forward: () -> Int32) -> Int32 {
        guard let request, receivable(source, tag, comm) != nil, layout(buffer, Int(count), type) != nil else { return forward() }
        let code = PersistentRequests.make(.receive, buffer, Int(count), type, source, tag, comm, request)
        return code == MPI_SUCCESS ? code : communicatorError(comm, code)
    }

    /// MPI_Start of one of the engine's persistent operations: a new operation with its arguments.
    static func startPersistent(_ persistent: UnsafeMutablePointer<PersistentOperation>) -> Int32 {
        let saved = persistent.pointee
        guard saved.active == nil else { return communicatorError(saved.comm, MPI_ERR_REQUEST) }
        // Freed since MPI_Send_init (MPI lets its requests live on): no member's identity to send with.
        guard let state = Communicators.messaging(saved.comm), let (shape, bytes) = layout(saved.buffer, saved.count, saved.type) else {
            return communicatorError(saved.comm, MPI_ERR_COMM)
        }
        let operation = Messages.lock.withLock { _ in OperationPool.take(saved.kind == .receive ? .receive : .send) }
        if saved.kind == .receive {
            prepareReceive(operation, saved.buffer, saved.count, saved.type, shape, bytes, saved.peer, saved.tag, state)
            Stats.count(.recvShm)
            persistent.pointee.active = operation
            Messages.lock.withLock { _ in Messages.post(operation) }
            return MPI_SUCCESS
        }
        let code = prepareSend(operation, saved.buffer, saved.count, saved.type, shape, bytes, saved.peer, saved.tag, state,
                               synchronous: saved.kind == .synchronousSend, copy: saved.kind == .bufferedSend)
        guard code == MPI_SUCCESS else {
            Messages.lock.withLock { _ in OperationPool.recycle(operation) }
            return communicatorError(saved.comm, code)
        }
        Stats.count(.sendShm)
        persistent.pointee.active = operation
        Messages.lock.withLock { _ in Messages.send(operation) }
        return MPI_SUCCESS
    }

    // MARK: Receives

    public static func receive(_ buffer: UnsafeMutableRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype, _ source: Int32,
                               _ tag: Int32, _ comm: MPI_Comm, _ status: UnsafeMutablePointer<MPI_Status>?,
                               forward: () -> Int32) -> Int32 {
        guard let state = receivable(source, tag, comm), let (shape, bytes) = layout(buffer, Int(count), type) else {
            Stats.count(.recvMpi)
            guard let small = Int32(exactly: count) else { return forward() }
            return BlockingCalls.receive(buffer, small, type, source, tag, comm, status)
        }
        var operation = MessageOperation(kind: .receive)
        return withUnsafeMutablePointer(to: &operation) { operation in
            prepareReceive(operation, buffer, Int(count), type, shape, bytes, source, tag, state)
            Stats.count(.recvShm)
            let done = Messages.lock.withLock { _ in
                Messages.post(operation)
                return operation.pointee.done
            }
            if !done { Messages.waitUntilDone(operation) }
            return finish(operation, status, comm)
        }
    }

    public static func startReceive(_ buffer: UnsafeMutableRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                    _ source: Int32, _ tag: Int32, _ comm: MPI_Comm, _ request: UnsafeMutablePointer<MPI_Request>?,
                                    forward: () -> Int32) -> Int32 {
        guard let request, let state = receivable(source, tag, comm), let (shape, bytes) = layout(buffer, Int(count), type) else {
            return forwarded(.recvMpi, forward)
        }
        let operation = Messages.lock.withLock { _ in OperationPool.take(.receive) }
        prepareReceive(operation, buffer, Int(count), type, shape, bytes, source, tag, state)
        let code = Requests.start(operation)
        guard code == MPI_SUCCESS else {
            Messages.lock.withLock { _ in OperationPool.recycle(operation) }
            return communicatorError(comm, code)
        }
        Stats.count(.recvShm)
        request.pointee = operation.pointee.request
        Messages.lock.withLock { _ in Messages.post(operation) }
        return MPI_SUCCESS
    }

    /// MPI_Sendrecv: the send starts, the receive is posted, then both complete.
    public static func sendReceive(_ sendBuffer: UnsafeRawPointer?, _ sendCount: some BinaryInteger, _ sendType: MPI_Datatype,
                                   _ destination: Int32, _ sendTag: Int32, _ receiveBuffer: UnsafeMutableRawPointer?,
                                   _ receiveCount: some BinaryInteger, _ receiveType: MPI_Datatype, _ source: Int32,
                                   _ receiveTag: Int32, _ comm: MPI_Comm, _ status: UnsafeMutablePointer<MPI_Status>?,
                                   forward: () -> Int32) -> Int32 {
        exchange(sendBuffer, Int(sendCount), sendType, destination, sendTag, receiveBuffer, Int(receiveCount), receiveType,
                 source, receiveTag, comm, status, copy: false, forward: forward)
    }

    /// MPI_Sendrecv_replace: the outgoing bytes are copied first, then the buffer receives.
    public static func sendReceiveReplace(_ buffer: UnsafeMutableRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                          _ destination: Int32, _ sendTag: Int32, _ source: Int32, _ receiveTag: Int32,
                                          _ comm: MPI_Comm, _ status: UnsafeMutablePointer<MPI_Status>?,
                                          forward: () -> Int32) -> Int32 {
        exchange(buffer, Int(count), type, destination, sendTag, buffer, Int(count), type, source, receiveTag, comm, status,
                 copy: true, forward: forward)
    }

    private static func exchange(_ sendBuffer: UnsafeRawPointer?, _ sendCount: Int, _ sendType: MPI_Datatype, _ destination: Int32,
                                 _ sendTag: Int32, _ receiveBuffer: UnsafeMutableRawPointer?, _ receiveCount: Int,
                                 _ receiveType: MPI_Datatype, _ source: Int32, _ receiveTag: Int32, _ comm: MPI_Comm,
                                 _ status: UnsafeMutablePointer<MPI_Status>?, copy: Bool, forward: () -> Int32) -> Int32 {
        guard let state = exchangeable(sendBuffer, sendCount, sendType, destination, sendTag, receiveBuffer, receiveCount,
                                       receiveType, source, receiveTag, comm) else { return forwardedExchange(forward) }
        let sendsNothing = destination == MPI_PROC_NULL, receivesNothing = source == MPI_PROC_NULL
        var send = MessageOperation(kind: .send), receive = MessageOperation(kind: .receive)
        return withUnsafeMutablePointer(to: &send) { send in
            withUnsafeMutablePointer(to: &receive) { receive in
                if !sendsNothing {
                    let (shape, bytes) = layout(sendBuffer, sendCount, sendType)!
                    let code = prepareSend(send, sendBuffer, sendCount, sendType, shape, bytes, destination, sendTag, state,
                                           synchronous: false, copy: copy)
                    guard code == MPI_SUCCESS else { return communicatorError(comm, code) }
                    Stats.count(.sendShm)
                }
                if !receivesNothing {
                    let (shape, bytes) = layout(receiveBuffer, receiveCount, receiveType)!
                    prepareReceive(receive, receiveBuffer, receiveCount, receiveType, shape, bytes, source, receiveTag, state)
                    Stats.count(.recvShm)
                }
                Messages.lock.withLock { _ in
                    if !sendsNothing { Messages.send(send) }
                    if !receivesNothing { Messages.post(receive) }
                }
                if !sendsNothing { Messages.waitUntilDone(send) }
                free(send.pointee.staging)
                if receivesNothing {
                    fillProcNull(status)
                    return MPI_SUCCESS
                }
                Messages.waitUntilDone(receive)
                return finish(receive, status, comm)
            }
        }
    }

    /// MPI_Isendrecv and MPI_Isendrecv_replace: one request, complete once the receive is and
    /// the send is wholly in the ring (its bytes copied first for the replacing form).
    public static func startExchange(_ sendBuffer: UnsafeRawPointer?, _ sendCount: some BinaryInteger, _ sendType: MPI_Datatype,
                                     _ destination: Int32, _ sendTag: Int32, _ receiveBuffer: UnsafeMutableRawPointer?,
                                     _ receiveCount: some BinaryInteger, _ receiveType: MPI_Datatype, _ source: Int32,
                                     _ receiveTag: Int32, _ comm: MPI_Comm, _ request: UnsafeMutablePointer<MPI_Request>?,
                                     forward: () -> Int32) -> Int32 {
        nonblockingExchange(sendBuffer, Int(sendCount), sendType, destination, sendTag, receiveBuffer, Int(receiveCount),
                            receiveType, source, receiveTag, comm, request, copy: false, forward: forward)
    }

    public static func startExchangeReplace(_ buffer: UnsafeMutableRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                            _ destination: Int32, _ sendTag: Int32, _ source: Int32, _ receiveTag: Int32,
                                            _ comm: MPI_Comm, _ request: UnsafeMutablePointer<MPI_Request>?,
                                            forward: () -> Int32) -> Int32 {
        nonblockingExchange(buffer, Int(count), type, destination, sendTag, buffer, Int(count), type, source, receiveTag, comm,
                            request, copy: true, forward: forward)
    }

    private static func nonblockingExchange(_ sendBuffer: UnsafeRawPointer?, _ sendCount: Int, _ sendType: MPI_Datatype,
                                            _ destination: Int32, _ sendTag: Int32, _ receiveBuffer: UnsafeMutableRawPointer?,
                                            _ receiveCount: Int, _ receiveType: MPI_Datatype, _ source: Int32, _ receiveTag: Int32,
                                            _ comm: MPI_Comm, _ request: UnsafeMutablePointer<MPI_Request>?, copy: Bool,
                                            forward: () -> Int32) -> Int32 {
        guard let request, let state = exchangeable(sendBuffer, sendCount, sendType, destination, sendTag, receiveBuffer,
                                                    receiveCount, receiveType, source, receiveTag, comm) else {
            return forwardedExchange(forward)
        }
        let (receive, send) = Messages.lock.withLock { _ in
            (OperationPool.take(.receive), destination == MPI_PROC_NULL ? nil : OperationPool.take(.send))
        }
        var code = MPI_SUCCESS
        if let send {
            let (shape, bytes) = layout(sendBuffer, sendCount, sendType)!
            send.pointee.detached = true
            send.pointee.partner = receive
            receive.pointee.pendingPartners = 1
            code = prepareSend(send, sendBuffer, sendCount, sendType, shape, bytes, destination, sendTag, state,
                               synchronous: false, copy: copy)
        }
        if source != MPI_PROC_NULL {
            let (shape, bytes) = layout(receiveBuffer, receiveCount, receiveType)!
            prepareReceive(receive, receiveBuffer, receiveCount, receiveType, shape, bytes, source, receiveTag, state)
        } else {
            receive.pointee.statusSource = MPI_PROC_NULL
        }
        if code == MPI_SUCCESS { code = Requests.start(receive) }
        guard code == MPI_SUCCESS else {
            Messages.lock.withLock { _ in
                if let send {
                    free(send.pointee.staging)
                    OperationPool.recycle(send)
                }
                OperationPool.recycle(receive)
            }
            return communicatorError(comm, code)
        }
        if send != nil { Stats.count(.sendShm) }
        if source != MPI_PROC_NULL { Stats.count(.recvShm) }
        request.pointee = receive.pointee.request
        Messages.lock.withLock { _ in
            if let send { Messages.send(send) }
            if source != MPI_PROC_NULL { Messages.post(receive) } else { Messages.complete(receive) }
        }
        return MPI_SUCCESS
    }

    /// The communicator's state when the engine serves a send-receive. Either half may be
    /// MPI_PROC_NULL; any other argument MPICH must reject sends the whole call there.
    private static func exchangeable(_ sendBuffer: UnsafeRawPointer?, _ sendCount: Int, _ sendType: MPI_Datatype,
                                     _ destination: Int32, _ sendTag: Int32, _ receiveBuffer: UnsafeMutableRawPointer?,
                                     _ receiveCount: Int, _ receiveType: MPI_Datatype, _ source: Int32, _ receiveTag: Int32,
                                     _ comm: MPI_Comm) -> UnsafeMutablePointer<CommunicatorState>? {
        let sendsNothing = destination == MPI_PROC_NULL, receivesNothing = source == MPI_PROC_NULL
        guard let state = Messages.isActive ? Communicators.messaging(comm) : nil, !(sendsNothing && receivesNothing),
              sendsNothing || sendable(sendBuffer, sendCount, sendType, destination, sendTag, comm) != nil,
              receivesNothing || (receivable(source, receiveTag, comm) != nil && layout(receiveBuffer, receiveCount, receiveType) != nil)
        else { return nil }
        return state
    }

    private static func forwardedExchange(_ forward: () -> Int32) -> Int32 {
        Stats.count(.sendMpi)
        Stats.count(.recvMpi)
        return forward()
    }

    /// The communicator's state when the engine serves a receive (or probe) from `source` with
    /// `tag`; nil when MPICH does.
    @inline(__always)
    private static func receivable(_ source: Int32, _ tag: Int32, _ comm: MPI_Comm) -> UnsafeMutablePointer<CommunicatorState>? {
        guard Messages.isActive, let state = Communicators.messaging(comm),
              source == MPI_ANY_SOURCE || (source >= 0 && Int(source) < state.pointee.members),
              tag == MPI_ANY_TAG || (tag >= 0 && tag <= Messages.tagUpperBound) else { return nil }
        return state
    }

    private static func prepareReceive(_ operation: UnsafeMutablePointer<MessageOperation>, _ buffer: UnsafeMutableRawPointer?,
                                       _ count: Int, _ type: MPI_Datatype, _ shape: TypeShape, _ bytes: Int, _ source: Int32,
                                       _ tag: Int32, _ state: UnsafeMutablePointer<CommunicatorState>) {
        operation.pointee.context = state.pointee.messageContext
        operation.pointee.source = source
        operation.pointee.tag = tag
        operation.pointee.communicator = state
        operation.pointee.comm = state.pointee.handle
        operation.pointee.buffer = buffer
        operation.pointee.count = count
        operation.pointee.type = type
        operation.pointee.capacity = bytes
        // `data` nil: the type has gaps, the bytes are staged and unpacked (Messages.begin).
        operation.pointee.data = shape.contiguous ? UnsafeRawPointer(buffer) : nil
    }

    /// A blocking receive's outcome: its status, and its error through the communicator's handler.
    private static func finish(_ operation: UnsafeMutablePointer<MessageOperation>, _ status: UnsafeMutablePointer<MPI_Status>?,
                               _ comm: MPI_Comm) -> Int32 {
        Messages.unpackStaged(operation)
        if let status, status != IVSHMEM_MPI_STATUS_IGNORE {
            Messages.fill(status, source: operation.pointee.statusSource, tag: operation.pointee.statusTag,
                          bytes: operation.pointee.statusBytes, cancelled: false)
            if operation.pointee.error != MPI_SUCCESS { status.pointee.MPI_ERROR = operation.pointee.error }
        }
        return operation.pointee.error == MPI_SUCCESS ? MPI_SUCCESS : communicatorError(comm, operation.pointee.error)
    }

    static func fillProcNull(_ status: UnsafeMutablePointer<MPI_Status>?) {
        guard let status, status != IVSHMEM_MPI_STATUS_IGNORE else { return }
        Messages.fill(status, source: MPI_PROC_NULL, tag: MPI_ANY_TAG, bytes: 0, cancelled: false)
    }

    // MARK: Probes and matched receives

    public static func probe(_ source: Int32, _ tag: Int32, _ comm: MPI_Comm, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard let state = receivable(source, tag, comm) else { return PMPI_Probe(source, tag, comm, status) }
        var spinner = Spinner()
        while !look(source, tag, state, status, matched: nil) { spinner.pause() }
        return MPI_SUCCESS
    }

    public static func probeNonblocking(_ source: Int32, _ tag: Int32, _ comm: MPI_Comm, _ flag: UnsafeMutablePointer<Int32>?,
                                        _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard let flag, let state = receivable(source, tag, comm) else { return PMPI_Iprobe(source, tag, comm, flag, status) }
        flag.pointee = look(source, tag, state, status, matched: nil) ? 1 : 0
        return MPI_SUCCESS
    }

    public static func matchedProbe(_ source: Int32, _ tag: Int32, _ comm: MPI_Comm, _ message: UnsafeMutablePointer<MPI_Message>?,
                                    _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard let message, let state = receivable(source, tag, comm) else { return PMPI_Mprobe(source, tag, comm, message, status) }
        var spinner = Spinner()
        while !look(source, tag, state, status, matched: message) { spinner.pause() }
        return MPI_SUCCESS
    }

    public static func matchedProbeNonblocking(_ source: Int32, _ tag: Int32, _ comm: MPI_Comm, _ flag: UnsafeMutablePointer<Int32>?,
                                               _ message: UnsafeMutablePointer<MPI_Message>?,
                                               _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard let flag, let message, let state = receivable(source, tag, comm) else {
            return PMPI_Improbe(source, tag, comm, flag, message, status)
        }
        flag.pointee = look(source, tag, state, status, matched: message) ? 1 : 0
        return MPI_SUCCESS
    }

    /// One round of progress, then the oldest message matching `source` and `tag`: its status,
    /// and, for a matched probe, the message itself, taken out of the queue.
    private static func look(_ source: Int32, _ tag: Int32, _ state: UnsafeMutablePointer<CommunicatorState>,
                             _ status: UnsafeMutablePointer<MPI_Status>?, matched: UnsafeMutablePointer<MPI_Message>?) -> Bool {
        var pattern = MessageOperation(kind: .receive)
        pattern.context = state.pointee.messageContext
        pattern.source = source
        pattern.tag = tag
        pattern.communicator = state
        let found: MessageEnvelope? = withUnsafeMutablePointer(to: &pattern) { pattern in
            Messages.lock.withLock { _ in
                Messages.progressLocked()
                if matched != nil {
                    guard let message = Messages.takeUnexpected(matching: pattern) else { return nil }
                    matched!.pointee = MatchedMessages.handle(message, comm: state.pointee.handle)
                    return message.pointee.envelope
                }
                return Messages.peekUnexpected(matching: pattern)?.pointee.envelope
            }
        }
        Messages.announceCompleted()
        guard let found else { return false }
        if let status, status != IVSHMEM_MPI_STATUS_IGNORE {
            Messages.fill(status, source: found.source, tag: found.tag, bytes: Int(found.bytes), cancelled: false)
        }
        return true
    }

    public static func matchedReceive(_ buffer: UnsafeMutableRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                      _ message: UnsafeMutablePointer<MPI_Message>?, _ status: UnsafeMutablePointer<MPI_Status>?,
                                      forward: () -> Int32) -> Int32 {
        guard let message, let (taken, comm) = MatchedMessages.take(message.pointee) else { return forwarded(.recvMpi, forward) }
        guard let (shape, bytes) = layout(buffer, Int(count), type) else {
            MatchedMessages.putBack(taken, comm, message.pointee)
            return communicatorError(comm, MPI_ERR_ARG)
        }
        message.pointee = MPI_MESSAGE_NULL
        var operation = MessageOperation(kind: .receive)
        return withUnsafeMutablePointer(to: &operation) { operation in
            prepareMatched(operation, buffer, Int(count), type, shape, bytes, comm)
            Stats.count(.recvShm)
            let done = Messages.lock.withLock { _ in
                Messages.receive(taken, into: operation)
                return operation.pointee.done
            }
            if !done { Messages.waitUntilDone(operation) }
            return finish(operation, status, comm)
        }
    }

    public static func startMatchedReceive(_ buffer: UnsafeMutableRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                           _ message: UnsafeMutablePointer<MPI_Message>?,
                                           _ request: UnsafeMutablePointer<MPI_Request>?, forward: () -> Int32) -> Int32 {
        guard let message, let request, let (taken, comm) = MatchedMessages.take(message.pointee) else {
            return forwarded(.recvMpi, forward)
        }
        guard let (shape, bytes) = layout(buffer, Int(count), type) else {
            MatchedMessages.putBack(taken, comm, message.pointee)
            return communicatorError(comm, MPI_ERR_ARG)
        }
        let operation = Messages.lock.withLock { _ in OperationPool.take(.receive) }
        prepareMatched(operation, buffer, Int(count), type, shape, bytes, comm)
        let code = Requests.start(operation)
        guard code == MPI_SUCCESS else {
            Messages.lock.withLock { _ in OperationPool.recycle(operation) }
            MatchedMessages.putBack(taken, comm, message.pointee)
            return communicatorError(comm, code)
        }
        message.pointee = MPI_MESSAGE_NULL
        Stats.count(.recvShm)
        request.pointee = operation.pointee.request
        Messages.lock.withLock { _ in Messages.receive(taken, into: operation) }
        return MPI_SUCCESS
    }

    private static func prepareMatched(_ operation: UnsafeMutablePointer<MessageOperation>, _ buffer: UnsafeMutableRawPointer?,
                                       _ count: Int, _ type: MPI_Datatype, _ shape: TypeShape, _ bytes: Int, _ comm: MPI_Comm) {
        operation.pointee.comm = comm
        operation.pointee.buffer = buffer
        operation.pointee.count = count
        operation.pointee.type = type
        operation.pointee.capacity = bytes
        operation.pointee.data = shape.contiguous ? UnsafeRawPointer(buffer) : nil
    }
}

/// Messages taken by MPI_Mprobe / MPI_Improbe until their MPI_Mrecv / MPI_Imrecv. Their handles
/// are MPI_MESSAGE_NULL's bits plus a slot number: not a handle MPICH makes, so one given to
/// MPICH by mistake is an error there, never another message. Guarded by `Messages.lock`.
enum MatchedMessages {
    nonisolated(unsafe) private static var slots: [(UnsafeMutablePointer<UnexpectedMessage>, MPI_Comm)?] = []
    private static let base = UInt32(bitPattern: MPI_MESSAGE_NULL)
    private static let slotMask: UInt32 = 0x03FF_FFFF

    /// Under `Messages.lock`.
    static func handle(_ message: UnsafeMutablePointer<UnexpectedMessage>, comm: MPI_Comm) -> MPI_Message {
        let slot = slots.firstIndex { $0 == nil } ?? { slots.append(nil); return slots.count - 1 }()
        slots[slot] = (message, comm)
        return MPI_Message(bitPattern: base | UInt32(slot + 1))
    }

    static func take(_ handle: MPI_Message) -> (UnsafeMutablePointer<UnexpectedMessage>, MPI_Comm)? {
        let bits = UInt32(bitPattern: handle)
        guard bits & ~slotMask == base, bits & slotMask != 0 else { return nil }
        let slot = Int(bits & slotMask) - 1
        return Messages.lock.withLock { _ in
            guard slot < slots.count, let entry = slots[slot] else { return nil }
            slots[slot] = nil
            return entry
        }
    }

    static func putBack(_ message: UnsafeMutablePointer<UnexpectedMessage>, _ comm: MPI_Comm, _ handle: MPI_Message) {
        let slot = Int(UInt32(bitPattern: handle) & slotMask) - 1
        Messages.lock.withLock { _ in slots[slot] = (message, comm) }
    }
}
