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

    static func inAnyPassiveEpoch(_ state: UnsafeMutablePointer<WindowState>) -> Bool {
        state.pointee.lockAll != 0 || state.pointee.lockedTargets > 0
    }

    /// Comm ranks of a group's members within the window, or nil when one is not a member.
    static func windowRanks(of group: MPI_Group, _ state: UnsafeMutablePointer<WindowState>) -> [Int32]? {
        var size: Int32 = 0
        guard PMPI_Group_size(group, &size) == MPI_SUCCESS else { return nil }
        var ranks = [Int32](repeating: MPI_UNDEFINED, count: Int(size))
        guard PMPI_Group_translate_ranks(group, size, Array(0..<size), state.pointee.group, &ranks) == MPI_SUCCESS,
              !ranks.contains(MPI_UNDEFINED) else { return nil }
        return ranks
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
