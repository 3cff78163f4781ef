import Atomics
import CMPI
import SharedSync

/// Passive-target synchronization: lock/unlock, lock_all/unlock_all, flush*, sync.
/// In a window whose members share the region, the lock is a reader/writer word in the target's
/// control block; copies are complete when they return, so flushes only order memory.
/// Otherwise MPICH is the lock authority and we only keep the epoch bookkeeping.
public enum PassiveTarget {
    public static func lock(_ lockType: Int32, _ target: Int32, _ assertion: Int32, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_lock(lockType, target, assertion, handle) }
        guard lockType == MPI_LOCK_SHARED || lockType == MPI_LOCK_EXCLUSIVE else { return windowError(handle, MPI_ERR_LOCKTYPE) }
        if target == MPI_PROC_NULL { return MPI_SUCCESS }
        guard target >= 0, target < state.pointee.memberCount else { return windowError(handle, MPI_ERR_RANK) }
        guard state.pointee.lockAll == 0, !state.pointee.accessStarted, state.pointee.access[Int(target)] & Access.locked == 0 else {
            return windowError(handle, MPI_ERR_RMA_SYNC)
        }
        var flags = lockType == MPI_LOCK_SHARED ? Access.shared : Access.exclusive
        if state.pointee.regionSync {
            if assertion & MPI_MODE_NOCHECK != 0 {
                flags = Access.lockNoCheck
            } else {
                let lock = SharedRWLock(at: state.pointee.targets[Int(target)].control! + ControlBlock.passiveLock)
                let granted = lockType == MPI_LOCK_SHARED
                    ? lock.lockShared(state.pointee.waitPolicy)
                    : lock.lockExclusive(state.pointee.waitPolicy, holder: UInt64(state.pointee.worldRank) + 1)
                if !granted { abortOnLockTimeout("MPI_Win_lock", lock, state, Int(target)) }
            }
            Stats.count(.syncShm)
        } else {
            var code = PMPI_Win_lock(lockType, target, assertion, handle)
            if code == MPI_SUCCESS { code = awaitGrant(state, [target]) }
            guard code == MPI_SUCCESS else { return code }
            Stats.count(.syncMpi)
        }
        state.pointee.access[Int(target)] |= flags
        return MPI_SUCCESS
    }

    public static func unlock(_ target: Int32, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_unlock(target, handle) }
        if target == MPI_PROC_NULL { return MPI_SUCCESS }
        guard target >= 0, target < state.pointee.memberCount else { return windowError(handle, MPI_ERR_RANK) }
        let flags = state.pointee.access[Int(target)] & Access.locked
        guard flags != 0 else { return windowError(handle, MPI_ERR_RMA_SYNC) }
        if state.pointee.regionSync {
            StagedTransfer.awaitApplied(state, Int(target), "MPI_Win_unlock")
            let lock = SharedRWLock(at: state.pointee.targets[Int(target)].control! + ControlBlock.passiveLock)
            if flags == Access.shared { lock.unlockShared() } else if flags == Access.exclusive { lock.unlockExclusive() }
            Stats.count(.syncShm)
        } else {
            let code = PMPI_Win_unlock(target, handle)
            guard code == MPI_SUCCESS else { return code }
            Stats.count(.syncMpi)
        }
        state.pointee.access[Int(target)] &= ~Access.locked
        return MPI_SUCCESS
    }

    public static func lockAll(_ assertion: Int32, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_lock_all(assertion, handle) }
        guard !Epochs.inAnyPassiveEpoch(state), !state.pointee.accessStarted else {
            return windowError(handle, MPI_ERR_RMA_SYNC)
        }
        if state.pointee.regionSync {
            if assertion & MPI_MODE_NOCHECK == 0 {
                // In rank order, as every locker does, so two lock_all calls cannot deadlock.
                for target in 0..<Int(state.pointee.memberCount) {
                    let lock = SharedRWLock(at: state.pointee.targets[target].control! + ControlBlock.passiveLock)
                    if !lock.lockShared(state.pointee.waitPolicy) { abortOnLockTimeout("MPI_Win_lock_all", lock, state, target) }
                }
            }
            Stats.count(.syncShm)
        } else {
            var code = PMPI_Win_lock_all(assertion, handle)
            if code == MPI_SUCCESS { code = awaitGrant(state, Array(0..<state.pointee.memberCount)) }
            guard code == MPI_SUCCESS else { return code }
            Stats.count(.syncMpi)
        }
        state.pointee.lockAll = assertion & MPI_MODE_NOCHECK != 0 ? Access.lockNoCheck : Access.shared
        return MPI_SUCCESS
    }

    public static func unlockAll(_ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_unlock_all(handle) }
        guard state.pointee.lockAll != 0 else { return windowError(handle, MPI_ERR_RMA_SYNC) }
        if state.pointee.regionSync {
            StagedTransfer.awaitAllApplied(state, "MPI_Win_unlock_all")
            if state.pointee.lockAll == Access.shared {
                for target in 0..<Int(state.pointee.memberCount) {
                    SharedRWLock(at: state.pointee.targets[target].control! + ControlBlock.passiveLock).unlockShared()
                }
            }
            Stats.count(.syncShm)
        } else {
            let code = PMPI_Win_unlock_all(handle)
            guard code == MPI_SUCCESS else { return code }
            Stats.count(.syncMpi)
        }
        state.pointee.lockAll = 0
        return MPI_SUCCESS
    }

    /// In a window spanning servers the MPI library grants the locks, and MPI lets MPI_Win_lock and
    /// MPI_Win_lock_all return before the grant (MPICH ch3, MVAPICH2 and Intel MPI acquire at the
    /// first operation or at unlock). Region copies to a co-resident target must wait for it: a
    /// one-byte get from each such target, flushed, cannot complete before the lock is granted.
    /// Targets whose window is empty can take no region copy, and need no proof.
    private static func awaitGrant(_ state: UnsafeMutablePointer<WindowState>, _ targets: [Int32]) -> Int32 {
        let handle = state.pointee.handle
        var probe: UInt8 = 0
        var probed = 0
        for target in targets {
            let slot = state.pointee.targets[Int(target)]
            guard slot.control != nil, slot.size > 0 else { continue }
            let code = PMPI_Get(&probe, 1, MPI_BYTE, target, 0, 1, MPI_BYTE, handle)
            guard code == MPI_SUCCESS else { return code }
            probed += 1
        }
        guard probed > 0 else { return MPI_SUCCESS }
        return targets.count == 1 ? PMPI_Win_flush(targets[0], handle) : PMPI_Win_flush_all(handle)
    }

    /// Ends the job after a lock wait timed out, naming whom it waited for: the exclusive holder the
    /// lock word records (its world rank + 1), else (held shared, or by a rank of another job's
    /// making) the target.
    private static func abortOnLockTimeout(_ call: String, _ lock: SharedRWLock, _ state: UnsafeMutablePointer<WindowState>,
                                           _ target: Int) -> Never {
        let runtime = Runtime.current!
        let holders = if let holder = lock.exclusiveHolder, holder > 0, holder <= UInt64(runtime.worldSize) {
            [Int32(holder - 1)]
        } else {
            [state.pointee.targets[target].worldRank]
        }
        runtime.abortOnTimeout(call, waitingFor: holders)
    }

    enum Flush { case target(Int32), all, localTarget(Int32), localAll }

    /// Region copies are complete at the target when they return; a flush publishes them
    /// (release ordering) so any later synchronization the program does carries them along.
    static func flush(_ kind: Flush, _ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return flushInMPICH(kind, handle) }
        if let error = flushError(kind, state) { return error == MPI_SUCCESS ? error : windowError(handle, error) }
        atomicMemoryFence(ordering: .releasing)
        if state.pointee.staged != nil {
            // Staged data left the origin's buffer when the put returned (local completion); remote
            // completion waits until the target applied it.
            switch kind {
            case .target(let rank):
                StagedTransfer.awaitApplied(state, Int(rank), "MPI_Win_flush")
            case .all:
                StagedTransfer.awaitAllApplied(state, "MPI_Win_flush_all")
            case .localTarget, .localAll:
                break
            }
        }
        if state.pointee.regionSync { return MPI_SUCCESS }
        return flushInMPICH(kind, handle)
    }

    static func sync(_ handle: MPI_Win) -> Int32 {
        guard let state = WindowTable.lookup(handle) else { return PMPI_Win_sync(handle) }
        guard Epochs.inAnyPassiveEpoch(state) else { return windowError(handle, MPI_ERR_RMA_SYNC) }
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        // The window's public copy becomes the private one: apply what origins staged for us.
        StagedTransfer.drain(state, inMPI: true)
        return state.pointee.regionSync ? MPI_SUCCESS : PMPI_Win_sync(handle)
    }

    /// Why the flush may not go on (MPI_SUCCESS: nothing to do, MPI_PROC_NULL), nil when it may:
    /// any passive epoch will do. MPICH also accepts a flush of a target this rank holds no lock
    /// on while it holds another, so the layer does too (a program that runs on MPICH keeps
    /// running); the usual flush, of a locked target, is answered without the scan.
    @inline(__always)  // the put+flush hot path
    private static func flushError(_ kind: Flush, _ state: UnsafeMutablePointer<WindowState>) -> Int32? {
        switch kind {
        case .target(let rank), .localTarget(let rank):
            // One unsigned compare: MPI_PROC_NULL and other negative ranks land above the count.
            guard UInt32(bitPattern: rank) < UInt32(bitPattern: state.pointee.memberCount) else {
                return rank == MPI_PROC_NULL ? MPI_SUCCESS : MPI_ERR_RANK
            }
            return Epochs.inPassiveEpoch(state, rank) || Epochs.inAnyPassiveEpoch(state) ? nil : MPI_ERR_RMA_SYNC
        case .all, .localAll:
            return Epochs.inAnyPassiveEpoch(state) ? nil : MPI_ERR_RMA_SYNC
        }
    }

    private static func flushInMPICH(_ kind: Flush, _ handle: MPI_Win) -> Int32 {
        switch kind {
        case .target(let rank): PMPI_Win_flush(rank, handle)
        case .all: PMPI_Win_flush_all(handle)
        case .localTarget(let rank): PMPI_Win_flush_local(rank, handle)
        case .localAll: PMPI_Win_flush_local_all(handle)
        }
    }
}
