import CMPI
import Glibc

/// A communicator whose members sit on several servers (several regions): its collectives run
/// inside each region (the `local` communicator of the members sharing it, served like any
/// communicator: RegionCollectives, or MPICH when the region cannot), and through MPICH among
/// one leader per region (`leaders`, local rank 0 of each). Both communicators are made once, at
/// the communicator's first collective.
///
/// Every phase decides region or MPICH inside its own local communicator, so members of
/// different regions never need to agree on it. Reductions combine within each region first:
/// an operation that is not commutative goes to MPICH whole (MPI fixes its order), and a
/// floating-point result may differ from MPICH's in its last bits; every member gets the same
/// bits (the leaders' result, broadcast).
struct Hierarchy {
    let local: MPI_Comm
    /// MPI_COMM_NULL on members that are not their region's leader. Groups are numbered by their
    /// first member and the leaders ordered by rank, so group g's leader is rank g here.
    let leaders: MPI_Comm
    /// Per member of the communicator: its group (region) and its rank in that group's local communicator.
    let groupOf: UnsafeMutablePointer<Int32>
    let localRankOf: UnsafeMutablePointer<Int32>
    let group: Int32
    /// Group g's members come `groupStart[g]` members into a gather laid out group by group, each
    /// in local rank order (`groupCount + 1` entries: the last is the communicator's size).
    let groupStart: UnsafeMutablePointer<Int>
    let groupCount: Int
    /// A leader's counts and displacements for MPI_Allgatherv among the leaders (`groupCount` each).
    let leaderCounts: UnsafeMutablePointer<MPI_Count>
    let leaderDisplacements: UnsafeMutablePointer<MPI_Aint>
    /// Where a leader combines what is not its own result (MPI_Reduce to another region), kept
    /// from call to call.
    var scratch: UnsafeMutableRawPointer? = nil
    var scratchBytes = 0

    var isLeader: Bool { leaders != MPI_COMM_NULL }
}

enum HierarchicalCollectives {
    static func barrier(_ hierarchy: UnsafeMutablePointer<Hierarchy>) -> Int32 {
        let local = hierarchy.pointee.local
        var code = localBarrier(local)
        if code == MPI_SUCCESS, hierarchy.pointee.isLeader { code = PMPI_Barrier(hierarchy.pointee.leaders) }
        return code == MPI_SUCCESS ? localBarrier(local) : code
    }

    /// Nil when the call goes to MPICH whole.
    static func broadcast(_ hierarchy: UnsafeMutablePointer<Hierarchy>, _ members: Int, _ buffer: UnsafeMutableRawPointer?,
                          _ count: Int, _ type: MPI_Datatype, _ root: Int32) -> Int32? {
        // Bytes, not elements: members may count the same bytes differently (a zero-size type).
        guard count >= 0, let bytes = Datatypes.shape(of: type)?.bytes(count: count), bytes > 0,
              root >= 0, Int(root) < members else { return nil }
        let h = hierarchy.pointee
        let rootGroup = h.groupOf[Int(root)]
        var code = MPI_SUCCESS
        if h.group == rootGroup { code = localBroadcast(buffer, count, type, h.localRankOf[Int(root)], h.local) }
        if code == MPI_SUCCESS, h.isLeader {
            code = PMPI_Bcast_c(buffer, MPI_Count(count), type, rootGroup, h.leaders)
        }
        if code == MPI_SUCCESS, h.group != rootGroup { code = localBroadcast(buffer, count, type, 0, h.local) }
        return code
    }

    /// A reduction to `root` (`Collectives.everyone`: an allreduce). Nil when the call goes to MPICH whole.
    static func reduce(_ hierarchy: UnsafeMutablePointer<Hierarchy>, _ rank: Int, _ members: Int, _ send: UnsafeRawPointer?,
                       _ receive: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype, _ op: MPI_Op,
                       _ root: Int32) -> Int32? {
        let everyone = root == Collectives.everyone
        guard count > 0, everyone || (root >= 0 && Int(root) < members), isCommutative(op) else { return nil }
        let h = hierarchy.pointee
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        // Off the leader, the input goes up; a member's own receive buffer holds it when in place.
        let input = inPlace ? UnsafeRawPointer(receive) : send
        let rootGroup = everyone ? h.group : h.groupOf[Int(root)]
        let leaderKeepsResult = everyone || (h.group == rootGroup && h.localRankOf[Int(root)] == 0)
        var combined: UnsafeMutableRawPointer? = nil
        if h.isLeader {
            if leaderKeepsResult && (everyone || rank == Int(root)) {
                combined = receive
            } else {
                guard let scratch = scratch(hierarchy, count, type) else { return MPI_ERR_NO_MEM }
                combined = scratch
            }
        }
        let upward = h.isLeader && inPlace && combined == receive ? UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE) : input
        var code = localReduce(upward, combined, count, type, op, h.local)
        if code == MPI_SUCCESS, h.isLeader {
            code = everyone
                ? PMPI_Allreduce_c(IVSHMEM_MPI_IN_PLACE, combined, MPI_Count(count), type, op, h.leaders)
                : PMPI_Reduce_c(h.group == rootGroup ? UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE) : UnsafeRawPointer(combined),
                                h.group == rootGroup ? combined : nil, MPI_Count(count), type, op,
                                rootGroup, h.leaders)
        }
        guard code == MPI_SUCCESS else { return code }
        if everyone { return localBroadcast(receive, count, type, 0, h.local) }
        guard h.group == rootGroup, !leaderKeepsResult else { return MPI_SUCCESS }
        // The root is not its region's leader: the leader hands the result down.
        if rank == Int(root) { return localBroadcast(receive, count, type, 0, h.local) }
        guard let scratch = h.isLeader ? combined : scratch(hierarchy, count, type) else { return MPI_ERR_NO_MEM }
        return localBroadcast(scratch, count, type, 0, h.local)
    }

    /// MPI_Allgather: each region gathers its members' pieces, as bytes in local rank order, at its
    /// leader; the leaders exchange their regions' blocks; each region broadcasts the whole; every
    /// member unpacks it in rank order. Nil when the call goes to MPICH whole: every member decides
    /// that from the receive signature, which MPI makes the same everywhere.
    static func allgather(_ hierarchy: UnsafeMutablePointer<Hierarchy>, _ rank: Int, _ members: Int,
                          _ send: UnsafeRawPointer?, _ sendCount: Int, _ sendType: MPI_Datatype,
                          _ receive: UnsafeMutableRawPointer?, _ receiveCount: Int, _ receiveType: MPI_Datatype,
                          _ comm: MPI_Comm) -> Int32? {
        guard receiveCount > 0, let receive, let shape = Datatypes.shape(of: receiveType),
              let piece = shape.bytes(count: receiveCount), piece > 0, shape.span(count: receiveCount * members) != nil,
              case (let total, false) = piece.multipliedReportingOverflow(by: members) else { return nil }
        let h = hierarchy.pointee
        let stride = receiveCount * shape.extent
        guard let gathered = scratch(hierarchy, total, MPI_BYTE) else { return MPI_ERR_NO_MEM }
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        let (mine, count, type) = inPlace ? (UnsafeRawPointer(receive + rank * stride), receiveCount, receiveType)
                                          : (send, sendCount, sendType)
        let block = gathered + h.groupStart[Int(h.group)] * piece
        var code = localGather(mine, count, type, block, piece, h.local)
        if code == MPI_SUCCESS, h.isLeader {
            for group in 0..<h.groupCount {
                h.leaderCounts[group] = MPI_Count((h.groupStart[group + 1] - h.groupStart[group]) * piece)
                h.leaderDisplacements[group] = MPI_Aint(h.groupStart[group] * piece)
            }
            code = PMPI_Allgatherv_c(IVSHMEM_MPI_IN_PLACE, 0, MPI_BYTE, gathered, h.leaderCounts,
                                     h.leaderDisplacements, MPI_BYTE, h.leaders)
        }
        if code == MPI_SUCCESS { code = localBroadcast(gathered, total, MPI_BYTE, 0, h.local) }
        for member in 0..<members where code == MPI_SUCCESS && !(inPlace && member == rank) {
            let source = gathered + (h.groupStart[Int(h.groupOf[member])] + Int(h.localRankOf[member])) * piece
            if shape.contiguous {
                memcpy(receive + member * stride, source, piece)
            } else {
                var position: MPI_Count = 0
                code = PMPI_Unpack_c(source, MPI_Count(piece), &position, receive + member * stride,
                                     MPI_Count(receiveCount), receiveType, comm)
            }
        }
        return code
    }

    /// Predefined operations are commutative; a user's says so at MPI_Op_create.
    private static func isCommutative(_ op: MPI_Op) -> Bool {
        var commutative: Int32 = 0
        return PMPI_Op_commutative(op, &commutative) == MPI_SUCCESS && commutative != 0
    }

    /// Room for `count` elements of `type`, as a buffer address (the type may start below it).
    private static func scratch(_ hierarchy: UnsafeMutablePointer<Hierarchy>, _ count: Int,
                                _ type: MPI_Datatype) -> UnsafeMutableRawPointer? {
        guard let shape = Datatypes.shape(of: type), let span = shape.span(count: count) else { return nil }
        let bytes = span.upper - span.lower
        if bytes > hierarchy.pointee.scratchBytes {
            free(hierarchy.pointee.scratch)
            hierarchy.pointee.scratch = malloc(bytes)
            hierarchy.pointee.scratchBytes = hierarchy.pointee.scratch == nil ? 0 : bytes
        }
        return hierarchy.pointee.scratch.map { $0 - span.lower }
    }

    // The phases inside one region: through it when its local communicator is served and its
    // members agree, through MPICH on the local communicator otherwise.

    private static func localBarrier(_ local: MPI_Comm) -> Int32 {
        guard let state = Communicators.served(local) else { return PMPI_Barrier(local) }
        RegionCollectives.barrier(state)
        return MPI_SUCCESS
    }

    private static func localBroadcast(_ buffer: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype,
                                       _ root: Int32, _ local: MPI_Comm) -> Int32 {
        if let state = Communicators.served(local), let code = RegionCollectives.broadcast(state, buffer, count, type, root) {
            return code
        }
        return PMPI_Bcast_c(buffer, MPI_Count(count), type, root, local)
    }

    /// To local rank 0's `block`: every member's piece as `bytes` bytes, in local rank order.
    private static func localGather(_ send: UnsafeRawPointer?, _ count: Int, _ type: MPI_Datatype,
                                    _ block: UnsafeMutableRawPointer, _ bytes: Int, _ local: MPI_Comm) -> Int32 {
        if let state = Communicators.served(local),
           let code = RegionCollectives.gather(state, send, count, type, block, bytes, MPI_BYTE, 0) {
            return code
        }
        return PMPI_Gather_c(send, MPI_Count(count), type, block, MPI_Count(bytes), MPI_BYTE, 0, local)
    }

    /// To local rank 0, whose `receive` gets the result (the others' is not used).
    private static func localReduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: Int,
                                    _ type: MPI_Datatype, _ op: MPI_Op, _ local: MPI_Comm) -> Int32 {
        if let state = Communicators.served(local),
           let code = RegionCollectives.reduce(state, send, receive, count, type, op, 0) {
            return code
        }
        return PMPI_Reduce_c(send, receive, MPI_Count(count), type, op, 0, local)
    }
}
