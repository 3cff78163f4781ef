import CMPI
import Glibc
import Synchronization

/// A persistent send or receive the engine serves (MPI_Send_init and relatives, MPI_Recv_init):
/// its arguments, and the operation of its current start.
struct PersistentOperation {
    enum Kind { case send, synchronousSend, bufferedSend, receive }
    let kind: Kind
    /// MPICH's persistent request the program holds: one to MPI_PROC_NULL, which MPICH starts,
    /// completes and frees alongside its own, while the engine moves the message.
    let handle: MPI_Request
    let buffer: UnsafeMutableRawPointer?
    let count: Int
    let type: MPI_Datatype
    let peer: Int32
    let tag: Int32
    let comm: MPI_Comm
    /// The started operation (pooled, without a request of its own); nil while inactive.
    var active: UnsafeMutablePointer<MessageOperation>?
}

/// Persistent point-to-point requests on communicators whose messages go through the region.
///
/// MPICH's generalized requests are not persistent, so a persistent operation is an MPICH
/// persistent request to MPI_PROC_NULL (which MPICH completes as soon as it is started) plus the
/// engine's operation. The wait and test functions (Requests) keep such a request out of MPICH's
/// sight until the engine's operation is done, then let MPICH complete it, and give the program
/// the engine's status instead of MPI_PROC_NULL's.
public enum PersistentRequests {
    nonisolated(unsafe) private static let root = Atomic<HandleIndex.Root<PersistentOperation>?>(nil)

    /// The persistent operation behind `handle`, if it is one of the engine's.
    @inline(__always)
    static func lookup(_ handle: MPI_Request) -> UnsafeMutablePointer<PersistentOperation>? {
        guard handle != MPI_REQUEST_NULL, let root = root.load(ordering: .acquiring),
              let entry = HandleIndex.entry(root, handle), entry.pointee.handle == handle else { return nil }
        return entry
    }

    /// Whether `handle` is a started persistent operation of the engine (done or not): MPICH
    /// must not see its request in an array, which it would call complete at once.
    @inline(__always)
    static func isStarted(_ handle: MPI_Request) -> Bool {
        lookup(handle)?.pointee.active != nil
    }

    /// Whether `handle` is a started persistent operation whose message is still moving.
    @inline(__always)
    static func isPending(_ handle: MPI_Request) -> Bool {
        guard let persistent = lookup(handle), let active = persistent.pointee.active else { return false }
        return Messages.lock.withLock { _ in !active.pointee.done }
    }

    // MARK: Creation, start, free

    static func make(_ kind: PersistentOperation.Kind, _ buffer: UnsafeRawPointer?, _ count: Int, _ type: MPI_Datatype,
                     _ peer: Int32, _ tag: Int32, _ comm: MPI_Comm, _ request: UnsafeMutablePointer<MPI_Request>) -> Int32 {
        var handle = MPI_REQUEST_NULL
        let code = kind == .receive ? PMPI_Recv_init(nil, 0, MPI_BYTE, MPI_PROC_NULL, 0, comm, &handle)
                                    : PMPI_Send_init(nil, 0, MPI_BYTE, MPI_PROC_NULL, 0, comm, &handle)
        guard code == MPI_SUCCESS else { return code }
        let persistent = UnsafeMutablePointer<PersistentOperation>.allocate(capacity: 1)
        persistent.initialize(to: PersistentOperation(kind: kind, handle: handle, buffer: UnsafeMutableRawPointer(mutating: buffer),
                                                      count: count, type: type, peer: peer, tag: tag, comm: comm, active: nil))
        Messages.lock.withLock { _ in
            let published = root.load(ordering: .relaxed)
            let table = HandleIndex.store(persistent, handle, in: published)
            if published == nil { root.store(table, ordering: .releasing) }
        }
        request.pointee = handle
        return MPI_SUCCESS
    }

    public static func start(_ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        if let request, let persistent = lookup(request.pointee) {
            let code = PointToPoint.startPersistent(persistent)
            guard code == MPI_SUCCESS else { return code }
        }
        return PMPI_Start(request)
    }

    public static func startAll(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard let requests, count > 0, Messages.isActive else { return PMPI_Startall(count, requests) }
        for index in 0..<Int(count) {
            if let persistent = lookup(requests[index]) {
                let code = PointToPoint.startPersistent(persistent)
                guard code == MPI_SUCCESS else { return code }
            }
        }
        return PMPI_Startall(count, requests)
    }

    /// MPI_Request_free: a started operation still moving finishes on its own (its buffer stays
    /// the program's concern, as MPI says).
    static func free(_ persistent: UnsafeMutablePointer<PersistentOperation>, _ request: UnsafeMutablePointer<MPI_Request>) -> Int32 {
        Messages.lock.withLock { _ in
            if let root = root.load(ordering: .relaxed) { _ = HandleIndex.store(nil, persistent.pointee.handle, in: root) }
            if let active = persistent.pointee.active {
                if active.pointee.done {
                    Glibc.free(active.pointee.staging)
                    OperationPool.recycle(active)
                } else {
                    active.pointee.detached = true
                }
            }
        }
        persistent.deinitialize(count: 1)
        persistent.deallocate()
        return PMPI_Request_free(request)
    }

    /// MPI_Cancel of a started persistent receive not yet matched.
    static func cancel(_ persistent: UnsafeMutablePointer<PersistentOperation>) {
        guard let active = persistent.pointee.active else { return }
        Messages.lock.withLock { _ in
            guard active.pointee.kind == .receive, !active.pointee.done,
                  Messages.unpost(active) else { return }
            active.pointee.cancelled = true
            Messages.complete(active)
        }
    }

    /// After MPICH completed the request at `handle`'s former place (a wait or test): when it was
    /// one of the engine's, its status replaces MPI_PROC_NULL's and the operation is let go.
    /// Returns the operation's error (MPI_SUCCESS otherwise).
    static func collect(_ persistent: UnsafeMutablePointer<PersistentOperation>, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard let active = persistent.pointee.active else { return MPI_SUCCESS }
        Messages.unpackStaged(active)
        let error = active.pointee.error
        if let status, status != IVSHMEM_MPI_STATUS_IGNORE {
            Messages.fill(status, source: active.pointee.statusSource, tag: active.pointee.statusTag,
                          bytes: active.pointee.statusBytes, cancelled: active.pointee.cancelled)
            status.pointee.MPI_ERROR = error
        }
        Messages.lock.withLock { _ in
            Glibc.free(active.pointee.staging)
            OperationPool.recycle(active)
        }
        persistent.pointee.active = nil
        return error
    }
}
