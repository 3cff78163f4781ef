import CMPI
import SharedSync

/// Active-target synchronization: MPI_Win_fence and post/start/complete/wait/test.
/// In a window whose members share the region: a barrier over region words (fence), and
/// per-pair post counters and per-target completion counters (PSCW). Otherwise MPICH's.
public enum ActiveTarget {
    public static func fence(_ assertion: Int32, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_fence(assertion, handle) }
        guard !Epochs.inAnyPassiveEpoch(state), !state.pointee.accessStarted, !state.pointee.exposureOpen else {
            return windowError(handle, MPI_ERR_RMA_SYNC)
        }
        if state.pointee.regionSync {
            // Always a barrier, whatever the assertions: a target's local stores before the fence
            // must be visible to gets after it, and our puts have already landed (staged ones
            // once their targets applied them, while we apply what others sent us).
            StagedTransfer.awaitAllApplied(state, "MPI_Win_fence")
            state.pointee.fenceGeneration += 1
            let barrier = SharedBarrier(arrivals: UnsafeBufferPointer(state.pointee.fenceArrivals))
            if case .timedOut(let missing) = barrier.arrive(participant: Int(state.pointee.rank),
                                                            generation: state.pointee.fenceGeneration, state.pointee.waitPolicy,
                                                            whileWaiting: { StagedTransfer.drain(state, inMPI: true) }) {
                Runtime.current!.abortOnTimeout("MPI_Win_fence", waitingFor: missing.map { state.pointee.targets[$0].worldRank })
            }
            Stats.count(.syncShm)
        } else {
            let code = PMPI_Win_fence(assertion, handle)
            guard code == MPI_SUCCESS else { return code }
            Stats.count(.syncMpi)
        }
        state.pointee.fenceOpen = assertion & MPI_MODE_NOSUCCEED == 0
        return MPI_SUCCESS
    }

    public static func post(_ group: MPI_Group, _ assertion: Int32, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_post(group, assertion, handle) }
        guard !state.pointee.exposureOpen else { return windowError(handle, MPI_ERR_RMA_SYNC) }
        guard let originCount = Epochs.translate(group, state, into: state.pointee.postedOrigins) else {
            return windowError(handle, MPI_ERR_GROUP)
        }
        let origins = UnsafeBufferPointer(start: state.pointee.postedOrigins, count: originCount)
        if state.pointee.regionSync {
            if assertion & MPI_MODE_NOCHECK == 0 { signalPosts(state, origins) }
            Stats.count(.syncShm)
        } else {
            let code = PMPI_Win_post(group, assertion, handle)
            guard code == MPI_SUCCESS else { return code }
            // Co-resident origins copy through the region: they wait for these words, not only for
            // the MPI library's start, which may return before this post (see start).
            if assertion & MPI_MODE_NOCHECK == 0 { signalPosts(state, origins) }
            Stats.count(.syncMpi)
        }
        state.pointee.completionsExpected += UInt64(originCount)
        state.pointee.postedCount = originCount
        state.pointee.exposureOpen = true
        return MPI_SUCCESS
    }

    public static func start(_ group: MPI_Group, _ assertion: Int32, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_start(group, assertion, handle) }
        guard !state.pointee.accessStarted, !Epochs.inAnyPassiveEpoch(state) else { return windowError(handle, MPI_ERR_RMA_SYNC) }
        guard let targetCount = Epochs.translate(group, state, into: state.pointee.startedTargets) else {
            return windowError(handle, MPI_ERR_GROUP)
        }
        let targets = UnsafeBufferPointer(start: state.pointee.startedTargets, count: targetCount)
        if state.pointee.regionSync {
            if assertion & MPI_MODE_NOCHECK == 0 { awaitPosts(state, targets) }
            Stats.count(.syncShm)
        } else {
            let code = PMPI_Win_start(group, assertion, handle)
            guard code == MPI_SUCCESS else { return code }
            // MPI lets MPI_Win_start return before the targets posted (MPICH ch3, MVAPICH2 and
            // Intel MPI match lazily): region copies to co-resident targets wait for their posts.
            if assertion & MPI_MODE_NOCHECK == 0 { awaitPosts(state, targets) }
            Stats.count(.syncMpi)
        }
        for target in targets { state.pointee.access[Int(target)] |= Access.started }
        state.pointee.startedCount = targetCount
        state.pointee.accessStarted = true
        return MPI_SUCCESS
    }

    /// Tells each co-resident origin of `origins` that this target posted (a counter per pair in
    /// the origin's control block). Members on other servers have no control block here.
    private static func signalPosts(_ state: UnsafeMutablePointer<WindowState>, _ origins: UnsafeBufferPointer<Int32>) {
        let me = Int(state.pointee.rank)
        for origin in origins {
            guard let control = state.pointee.targets[Int(origin)].control else { continue }
            SharedWord(at: control + ControlBlock.posts + 8 * me).add(1)
        }
    }

    /// Waits until every co-resident target of `targets` posted. Here rather than at the first
    /// access: MPI allows it, and it keeps puts free of checks.
    private static func awaitPosts(_ state: UnsafeMutablePointer<WindowState>, _ targets: UnsafeBufferPointer<Int32>) {
        guard let control = state.pointee.control else { return }
        for target in targets where state.pointee.targets[Int(target)].control != nil {
            state.pointee.postsConsumed[Int(target)] += 1
            let posts = SharedWord(at: control + ControlBlock.posts + 8 * Int(target))
            if !posts.wait(atLeast: state.pointee.postsConsumed[Int(target)], state.pointee.waitPolicy) {
                Runtime.current!.abortOnTimeout("MPI_Win_start", waitingFor: [state.pointee.targets[Int(target)].worldRank])
            }
        }
    }

    public static func complete(_ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_complete(handle) }
        guard state.pointee.accessStarted else { return windowError(handle, MPI_ERR_RMA_SYNC) }
        if state.pointee.regionSync {
            for index in 0..<state.pointee.startedCount {
                let target = Int(state.pointee.startedTargets[index])
                StagedTransfer.awaitApplied(state, target, "MPI_Win_complete")
                SharedWord(at: state.pointee.targets[target].control! + ControlBlock.completions).add(1)
            }
            Stats.count(.syncShm)
        } else {
            let code = PMPI_Win_complete(handle)
            guard code == MPI_SUCCESS else { return code }
            Stats.count(.syncMpi)
        }
        for index in 0..<state.pointee.startedCount {
            state.pointee.access[Int(state.pointee.startedTargets[index])] &= ~Access.started
        }
        state.pointee.startedCount = 0
        state.pointee.accessStarted = false
        return MPI_SUCCESS
    }

    public static func wait(_ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_wait(handle) }
        guard state.pointee.exposureOpen else { return windowError(handle, MPI_ERR_RMA_SYNC) }
        if state.pointee.regionSync {
            let completions = SharedWord(at: state.pointee.control! + ControlBlock.completions)
            let expected = state.pointee.completionsExpected
            // Origins complete once we applied what they staged: apply it while waiting.
            let completed = waitUntil(state.pointee.waitPolicy) {
                StagedTransfer.drain(state, inMPI: true)
                return completions.load() >= expected
            }
            if !completed {
                let origins = (0..<state.pointee.postedCount).map { state.pointee.targets[Int(state.pointee.postedOrigins[$0])].worldRank }
                Runtime.current!.abortOnTimeout("MPI_Win_wait", waitingFor: origins)
            }
            Stats.count(.syncShm)
        } else {
            let code = PMPI_Win_wait(handle)
            guard code == MPI_SUCCESS else { return code }
            Stats.count(.syncMpi)
        }
        state.pointee.exposureOpen = false
        return MPI_SUCCESS
    }

    public static func test(_ handle: MPI_Win, _ flag: UnsafeMutablePointer<Int32>?) -> Int32 {
        guard let state = WindowTable.lookup(handle), let flag else { return PMPI_Win_test(handle, flag) }
        guard state.pointee.exposureOpen else { return windowError(handle, MPI_ERR_RMA_SYNC) }
        if state.pointee.regionSync {
            StagedTransfer.drain(state, inMPI: true)
            let done = SharedWord(at: state.pointee.control! + ControlBlock.completions).load() >= state.pointee.completionsExpected
            flag.pointee = done ? 1 : 0
            Stats.count(.syncShm)
        } else {
            let code = PMPI_Win_test(handle, flag)
            guard code == MPI_SUCCESS else { return code }
            Stats.count(.syncMpi)
        }
        if flag.pointee != 0 { state.pointee.exposureOpen = false }
        return MPI_SUCCESS
    }
}
