import CMPI

/// Which accesses the current epochs allow, from this rank's bookkeeping in `WindowState`.
/// Region copies are checked here because MPICH never sees them.
enum Epochs {
    @inline(__always)
    static func canAccess(_ state: UnsafeMutablePointer<WindowState>, _ target: Int32) -> Bool {
        state.pointee.fenceOpen || state.pointee.lockAll != 0 || state.pointee.access[Int(target)] != 0
    }

    @inline(__always)
    static func inPassiveEpoch(_ state: UnsafeMutablePointer<WindowState>, _ target: Int32) -> Bool {
        state.pointee.lockAll != 0 || state.pointee.access[Int(target)] & Access.locked != 0
    }

    /// A scan rather than a count of locked targets: threads may lock different targets of one
    /// window at once (MPI_THREAD_MULTIPLE), and each only writes its target's flag byte.
    static func inAnyPassiveEpoch(_ state: UnsafeMutablePointer<WindowState>) -> Bool {
        state.pointee.lockAll != 0
            || UnsafeBufferPointer(start: state.pointee.access, count: Int(state.pointee.memberCount)).contains { $0 & Access.locked != 0 }
    }

    /// Writes the window ranks of a group's members into `ranks` (room for every window member)
    /// and returns how many there are; nil when the group is larger than the window or has a
    /// member outside it. No allocation: PSCW calls this every epoch.
    static func translate(_ group: MPI_Group, _ state: UnsafeMutablePointer<WindowState>,
                          into ranks: UnsafeMutablePointer<Int32>) -> Int? {
        var size: Int32 = 0
        guard PMPI_Group_size(group, &size) == MPI_SUCCESS, size <= state.pointee.memberCount,
              PMPI_Group_translate_ranks(group, size, state.pointee.rankSequence, state.pointee.group, ranks) == MPI_SUCCESS
        else { return nil }
        let members = UnsafeBufferPointer(start: ranks, count: Int(size))
        return members.contains(MPI_UNDEFINED) ? nil : members.count
    }
}

/// Already-complete MPI requests for request-based operations that finished inside the call.
/// Generalized requests, so MPI_Wait, MPI_Test and MPI_Request_free work on them unchanged.
enum CompletedRequests {
    static func make(_ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard let request else { return MPI_ERR_REQUEST }
        let code = PMPI_Grequest_start(queryEmptyStatus, freeNothing, cancelNothing, nil, request)
        guard code == MPI_SUCCESS else { return code }
        return PMPI_Grequest_complete(request.pointee)
    }
}

private func queryEmptyStatus(_ state: UnsafeMutableRawPointer?, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
    guard let status else { return MPI_SUCCESS }
    PMPI_Status_set_elements(status, MPI_BYTE, 0)
    PMPI_Status_set_cancelled(status, 0)
    status.pointee.MPI_SOURCE = MPI_UNDEFINED
    status.pointee.MPI_TAG = MPI_UNDEFINED
    return MPI_SUCCESS
}

private func freeNothing(_ state: UnsafeMutableRawPointer?) -> Int32 { MPI_SUCCESS }
private func cancelNothing(_ state: UnsafeMutableRawPointer?, _ complete: Int32) -> Int32 { MPI_SUCCESS }
