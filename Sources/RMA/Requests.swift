import CMPI
import Glibc
import Synchronization

/// The requests of the layer's nonblocking operations, and the wait and test functions.
///
/// A request is an MPICH generalized request (MPI_Grequest_start) whose extra state is the
/// operation: MPICH's own wait, test, free, cancel and get_status functions take it alongside
/// any of MPICH's requests, in any array. MPICH cannot see the engine's progress, so while point-
/// to-point is served every wait is a loop of engine progress and MPICH's nonblocking test,
/// and every test makes one round of progress first; completed operations are announced to MPICH
/// (MPI_Grequest_complete) from inside those calls, the only threads allowed to call MPI.
/// Without point-to-point in the region these are the calls of BlockingCalls, or MPICH's.
public enum Requests {
    /// Request handle -> operation, for MPI_Request_free (HandleIndex; written under `Messages.lock`).
    nonisolated(unsafe) private static let root = Atomic<HandleIndex.Root<MessageOperation>?>(nil)

    /// Gives a pooled operation its generalized request.
    static func start(_ operation: UnsafeMutablePointer<MessageOperation>) -> Int32 {
        var request = MPI_REQUEST_NULL
        let code = PMPI_Grequest_start(query, release, cancel, UnsafeMutableRawPointer(operation), &request)
        guard code == MPI_SUCCESS else { return code }
        operation.pointee.request = request
        Messages.lock.withLock { _ in index(operation, under: request) }
        return code
    }

    /// Under `Messages.lock`.
    private static func index(_ operation: UnsafeMutablePointer<MessageOperation>?, under request: MPI_Request) {
        let published = root.load(ordering: .relaxed)
        let table = HandleIndex.store(operation, request, in: published)
        if published == nil { root.store(table, ordering: .releasing) }
    }

    /// MPI_Request_free. MPI frees a generalized request once it is both freed and complete,
    /// but MPICH 4.0.2 calls its free function at once: a request of an operation still moving
    /// is freed here only after its completion was announced (Messages.announceCompleted).
    public static func free(_ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard Messages.isActive, let request, request.pointee != MPI_REQUEST_NULL else { return PMPI_Request_free(request) }
        if let persistent = PersistentRequests.lookup(request.pointee) { return PersistentRequests.free(persistent, request) }
        let handle = request.pointee
        let deferred = Messages.lock.withLock { _ -> Bool in
            guard let root = root.load(ordering: .relaxed), let operation = HandleIndex.entry(root, handle),
                  operation.pointee.request == handle, !operation.pointee.announced else { return false }
            operation.pointee.freeWhenAnnounced = true
            return true
        }
        guard deferred else { return PMPI_Request_free(request) }
        request.pointee = MPI_REQUEST_NULL
        return MPI_SUCCESS
    }

    /// MPICH asks for the status of a completed operation (MPI_Wait, MPI_Test, ...).
    private static let query: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<MPI_Status>?) -> Int32 = { state, status in
        let operation = state!.assumingMemoryBound(to: MessageOperation.self)
        if let status {
            Messages.fill(status, source: operation.pointee.statusSource, tag: operation.pointee.statusTag,
                          bytes: operation.pointee.statusBytes, cancelled: operation.pointee.cancelled)
            status.pointee.MPI_ERROR = operation.pointee.error
        }
        return MPI_SUCCESS
    }

    /// MPICH frees the request: after its completion was announced and the program waited, tested
    /// or freed it (MPI's rule for generalized requests).
    private static let release: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { state in
        let operation = state!.assumingMemoryBound(to: MessageOperation.self)
        Messages.lock.withLock { _ in
            index(nil, under: operation.pointee.request)
            Glibc.free(operation.pointee.staging)
            OperationPool.recycle(operation)
        }
        return MPI_SUCCESS
    }

    /// MPI_Cancel: a receive not matched yet is taken out of the posted queue and completes as
    /// cancelled (announced when MPI_Cancel returns); a send, or a matched receive, completes normally.
    private static let cancel: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { state, _ in
        let operation = state!.assumingMemoryBound(to: MessageOperation.self)
        Messages.lock.withLock { _ in
            guard operation.pointee.kind == .receive, !operation.pointee.done,
                  Messages.unpost(operation) else { return }
            operation.pointee.cancelled = true
            Messages.complete(operation)
        }
        return MPI_SUCCESS
    }

    public static func cancel(_ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard Messages.isActive else { return PMPI_Cancel(request) }
        // MPICH's own request of a persistent operation is complete already: nothing to cancel there.
        if let request, let persistent = PersistentRequests.lookup(request.pointee) {
            PersistentRequests.cancel(persistent)
            return MPI_SUCCESS
        }
        let code = PMPI_Cancel(request)
        Messages.announceCompleted()
        return code
    }

    // MARK: Waits

    /// The operation whose generalized request `handle` is, if it is one of the engine's.
    @inline(__always)
    private static func operation(_ handle: MPI_Request) -> UnsafeMutablePointer<MessageOperation>? {
        guard handle != MPI_REQUEST_NULL, let root = root.load(ordering: .acquiring),
              let operation = HandleIndex.entry(root, handle) else { return nil }
        return Messages.lock.withLock { _ in operation.pointee.request == handle } ? operation : nil
    }

    /// An operation's error and communicator once MPICH was told it completed; nil before. MPICH
    /// raises a generalized request's error as its own MPI_ERR_OTHER on MPI_COMM_WORLD, so the
    /// query callback reports success (the error in the status) and the wait or test raises the
    /// operation's error class on its communicator itself.
    private static func outcome(_ operation: UnsafeMutablePointer<MessageOperation>) -> (error: Int32, comm: MPI_Comm)? {
        Messages.lock.withLock { _ in
            operation.pointee.done && operation.pointee.announced ? (operation.pointee.error, operation.pointee.comm) : nil
        }
    }

    public static func wait(_ request: UnsafeMutablePointer<MPI_Request>?, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard Messages.isActive, let request else { return BlockingCalls.wait(request, status) }
        let (code, comm) = waitOne(request, PersistentRequests.lookup(request.pointee), status)
        return code == MPI_SUCCESS || comm == MPI_COMM_NULL ? code : communicatorError(comm, code)
    }

    /// Waits for one request: the engine's (moving its messages meanwhile), else MPICH's own wait
    /// (the progress agent moves messages meanwhile; MPICH 4.0.2 raises a request's error
    /// differently from MPI_Wait and MPI_Test).
    /// Returns the call's code, or the engine operation's error with the communicator to raise
    /// it on (MPI_COMM_NULL: MPICH raised it already).
    private static func waitOne(_ request: UnsafeMutablePointer<MPI_Request>, _ persistent: UnsafeMutablePointer<PersistentOperation>?,
                                _ status: UnsafeMutablePointer<MPI_Status>?) -> (Int32, MPI_Comm) {
        guard let persistent else {
            guard let operation = operation(request.pointee) else { return (BlockingCalls.wait(request, status), MPI_COMM_NULL) }
            var result: (error: Int32, comm: MPI_Comm)?
            _ = polling { done in
                result = outcome(operation)
                done = result == nil ? 0 : 1
                return MPI_SUCCESS
            }
            let code = PMPI_Wait(request, status)
            return code == MPI_SUCCESS ? (result!.error, result!.comm) : (code, MPI_COMM_NULL)
        }
        if let active = persistent.pointee.active { Messages.waitUntilDone(active) }
        let code = PMPI_Wait(request, status)
        return code == MPI_SUCCESS ? (PersistentRequests.collect(persistent, status), persistent.pointee.comm) : (code, MPI_COMM_NULL)
    }

    public static func waitAll(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>?,
                               _ statuses: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard Messages.isActive, let requests, count > 0 else { return BlockingCalls.waitAll(count, requests, statuses) }
        // One request at a time (as BlockingCalls.waitAll, for the same reason); an error in one
        // is MPI_ERR_IN_STATUS, with each status's MPI_ERROR telling which.
        let ignored = statuses == nil || statuses == IVSHMEM_MPI_STATUSES_IGNORE
        var failed: MPI_Comm?
        for index in 0..<Int(count) {
            let status = ignored ? IVSHMEM_MPI_STATUS_IGNORE : statuses! + index
            let (code, comm) = waitOne(requests + index, PersistentRequests.lookup(requests[index]), status)
            if code != MPI_SUCCESS {
                failed = failed ?? comm
                if !ignored { statuses![index].MPI_ERROR = code }
            }
        }
        guard let failed else { return MPI_SUCCESS }
        return failed == MPI_COMM_NULL ? MPI_ERR_IN_STATUS : communicatorError(failed, MPI_ERR_IN_STATUS)
    }

    public static func waitAny(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>?, _ index: UnsafeMutablePointer<Int32>?,
                               _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard Messages.isActive, let requests, let index, count > 0 else { return PMPI_Waitany(count, requests, index, status) }
        return polling { testAnyOnce(count, requests, index, &$0, status) }
    }

    public static func waitSome(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>?, _ completed: UnsafeMutablePointer<Int32>?,
                                _ indices: UnsafeMutablePointer<Int32>?, _ statuses: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard Messages.isActive, let requests, let completed, let indices, count > 0 else {
            return PMPI_Waitsome(count, requests, completed, indices, statuses)
        }
        return polling { done in
            let code = testSomeOnce(count, requests, completed, indices, statuses)
            done = completed.pointee != 0 ? 1 : 0
            return code
        }
    }

    /// Engine progress and `test` in turn until `test` reports completion or an error.
    private static func polling(_ test: (inout Int32) -> Int32) -> Int32 {
        var spinner = Spinner()
        while true {
            Messages.progress()
            var done: Int32 = 0
            let code = test(&done)
            if code != MPI_SUCCESS || done != 0 { return code }
            if ProgressAgent.servesStagedWindows { ProgressAgent.applyPending() }
            spinner.pause()
        }
    }

    // MARK: Tests: one round of progress, then MPICH's answer

    public static func test(_ request: UnsafeMutablePointer<MPI_Request>?, _ flag: UnsafeMutablePointer<Int32>?,
                            _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard Messages.isActive, let request, let flag else { return PMPI_Test(request, flag, status) }
        Messages.progress()
        guard let persistent = PersistentRequests.lookup(request.pointee) else {
            guard let operation = operation(request.pointee) else { return PMPI_Test(request, flag, status) }
            guard let (error, comm) = outcome(operation) else {
                flag.pointee = 0
                return MPI_SUCCESS
            }
            let code = PMPI_Test(request, flag, status)
            return code != MPI_SUCCESS || error == MPI_SUCCESS ? code : communicatorError(comm, error)
        }
        if PersistentRequests.isPending(request.pointee) {
            flag.pointee = 0
            return MPI_SUCCESS
        }
        let code = PMPI_Test(request, flag, status)
        guard code == MPI_SUCCESS, flag.pointee != 0 else { return code }
        let error = PersistentRequests.collect(persistent, status)
        return error == MPI_SUCCESS ? MPI_SUCCESS : communicatorError(persistent.pointee.comm, error)
    }

    public static func testAll(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>?, _ flag: UnsafeMutablePointer<Int32>?,
                               _ statuses: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard Messages.isActive, let requests, let flag, count > 0 else { return PMPI_Testall(count, requests, flag, statuses) }
        Messages.progress()
        if (0..<Int(count)).contains(where: { PersistentRequests.isPending(requests[$0]) }) {
            flag.pointee = 0
            return MPI_SUCCESS
        }
        let code = PMPI_Testall(count, requests, flag, statuses)
        guard code == MPI_SUCCESS, flag.pointee != 0 else { return code }
        // A completed persistent request keeps its handle, so the engine's are still found.
        let ignored = statuses == nil || statuses == IVSHMEM_MPI_STATUSES_IGNORE
        var failed = false
        for index in 0..<Int(count) {
            guard let persistent = PersistentRequests.lookup(requests[index]) else { continue }
            let error = PersistentRequests.collect(persistent, ignored ? IVSHMEM_MPI_STATUS_IGNORE : statuses! + index)
            failed = failed || error != MPI_SUCCESS
        }
        return failed ? MPI_ERR_IN_STATUS : MPI_SUCCESS
    }

    public static func testAny(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>?, _ index: UnsafeMutablePointer<Int32>?,
                               _ flag: UnsafeMutablePointer<Int32>?, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard Messages.isActive, let requests, let index, let flag, count > 0 else {
            return PMPI_Testany(count, requests, index, flag, status)
        }
        Messages.progress()
        return testAnyOnce(count, requests, index, &flag.pointee, status)
    }

    public static func testSome(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>?, _ completed: UnsafeMutablePointer<Int32>?,
                                _ indices: UnsafeMutablePointer<Int32>?, _ statuses: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard Messages.isActive, let requests, let completed, let indices, count > 0 else {
            return PMPI_Testsome(count, requests, completed, indices, statuses)
        }
        Messages.progress()
        return testSomeOnce(count, requests, completed, indices, statuses)
    }

    public static func status(_ request: MPI_Request, _ flag: UnsafeMutablePointer<Int32>?,
                              _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard Messages.isActive, let flag else { return PMPI_Request_get_status(request, flag, status) }
        Messages.progress()
        guard let persistent = PersistentRequests.lookup(request) else { return PMPI_Request_get_status(request, flag, status) }
        if PersistentRequests.isPending(request) {
            flag.pointee = 0
            return MPI_SUCCESS
        }
        let code = PMPI_Request_get_status(request, flag, status)
        if code == MPI_SUCCESS, flag.pointee != 0, let active = persistent.pointee.active, let status, status != IVSHMEM_MPI_STATUS_IGNORE {
            Messages.fill(status, source: active.pointee.statusSource, tag: active.pointee.statusTag,
                          bytes: active.pointee.statusBytes, cancelled: active.pointee.cancelled)
        }
        return code
    }

    // MARK: Arrays with persistent operations of the engine

    /// One look for any completed request: a persistent operation of the engine that is done
    /// first, else MPICH's answer with the ones still moving out of its sight.
    private static func testAnyOnce(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>, _ index: UnsafeMutablePointer<Int32>,
                                    _ flag: inout Int32, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        if let (done, code) = completeDonePersistent(count, requests, status) {
            index.pointee = done
            flag = 1
            return code
        }
        var found: Int32 = 0
        let (code, hidden) = withPendingHidden(count, requests) { PMPI_Testany(count, $0, index, &found, status) }
        // Nothing active in MPICH's sight, but operations of the engine still moving: not done.
        flag = hidden && index.pointee == MPI_UNDEFINED ? 0 : found
        // Nothing active at all: MPI's empty status, which MPICH 4.0.2's MPI_Testany leaves unset.
        if code == MPI_SUCCESS, flag != 0, index.pointee == MPI_UNDEFINED, let status, status != IVSHMEM_MPI_STATUS_IGNORE {
            Messages.fill(status, source: MPI_ANY_SOURCE, tag: MPI_ANY_TAG, bytes: 0, cancelled: false)
            status.pointee.MPI_ERROR = MPI_SUCCESS
        }
        return code
    }

    private static func testSomeOnce(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>, _ completed: UnsafeMutablePointer<Int32>,
                                     _ indices: UnsafeMutablePointer<Int32>, _ statuses: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        let ignored = statuses == nil || statuses == IVSHMEM_MPI_STATUSES_IGNORE
        if let (done, code) = completeDonePersistent(count, requests, ignored ? IVSHMEM_MPI_STATUS_IGNORE : statuses) {
            completed.pointee = 1
            indices[0] = done
            return code == MPI_SUCCESS ? MPI_SUCCESS : MPI_ERR_IN_STATUS
        }
        let (code, hidden) = withPendingHidden(count, requests) { PMPI_Testsome(count, $0, completed, indices, statuses) }
        if hidden && completed.pointee == MPI_UNDEFINED { completed.pointee = 0 }
        return code
    }

    /// Completes through MPICH the first persistent operation of the engine in the array that is
    /// done (its MPICH request completes at once); its index and error.
    private static func completeDonePersistent(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>,
                                               _ status: UnsafeMutablePointer<MPI_Status>?) -> (Int32, Int32)? {
        for index in 0..<Int(count) {
            guard let persistent = PersistentRequests.lookup(requests[index]), let active = persistent.pointee.active,
                  Messages.lock.withLock({ _ in active.pointee.done }) else { continue }
            let code = PMPI_Wait(requests + index, status)
            return (Int32(index), code == MPI_SUCCESS ? PersistentRequests.collect(persistent, status) : code)
        }
        return nil
    }

    /// Runs `body` on the array, or, when it holds started persistent operations of the engine
    /// (MPICH would call their requests complete; the done ones are taken by
    /// `completeDonePersistent`, one a round), on a copy with those set to MPI_REQUEST_NULL,
    /// copying back what MPICH changed. Also says whether any were hidden.
    private static func withPendingHidden(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>,
                                          _ body: (UnsafeMutablePointer<MPI_Request>) -> Int32) -> (Int32, Bool) {
        let total = Int(count)
        guard (0..<total).contains(where: { PersistentRequests.isStarted(requests[$0]) }) else { return (body(requests), false) }
        return withUnsafeTemporaryAllocation(of: MPI_Request.self, capacity: total) { copy in
            let hidden = (0..<total).map { PersistentRequests.isStarted(requests[$0]) }
            for index in 0..<total { copy[index] = hidden[index] ? MPI_REQUEST_NULL : requests[index] }
            let code = body(copy.baseAddress!)
            for index in 0..<total where !hidden[index] { requests[index] = copy[index] }
            return (code, true)
        }
    }
}
