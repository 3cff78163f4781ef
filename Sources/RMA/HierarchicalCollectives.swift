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

    // Gathers and scatters move pieces through a buffer laid out group by group, each group's
    // pieces in local rank order, as packed bytes: a region's pieces are then one block, which
    // is what the leaders exchange. Every member decides region or MPICH whole from the byte size
    // of a piece, which MPI makes the same everywhere.

    /// MPI_Allgather: each region gathers its pieces at its leader, the leaders exchange their
    /// regions' blocks, each region broadcasts the whole, every member unpacks it in rank order.
    /// Nil when the call goes to MPICH whole.
    static func allgather(_ hierarchy: UnsafeMutablePointer<Hierarchy>, _ rank: Int, _ members: Int,
                          _ send: UnsafeRawPointer?, _ sendCount: Int, _ sendType: MPI_Datatype,
                          _ receive: UnsafeMutableRawPointer?, _ receiveCount: Int, _ receiveType: MPI_Datatype,
                          _ comm: MPI_Comm) -> Int32? {
        guard let array = PieceArray(receive, receiveCount, receiveType, members) else { return nil }
        let h = hierarchy.pointee
        let piece = array.pieceBytes
        guard let laidOut = scratch(hierarchy, members * piece, MPI_BYTE) else { return MPI_ERR_NO_MEM }
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        let (mine, count, type) = inPlace ? (UnsafeRawPointer(array.piece(rank)), receiveCount, receiveType)
                                          : (send, sendCount, sendType)
        let block = laidOut + h.groupStart[Int(h.group)] * piece
        var code = localGather(mine, count, type, block, piece, h.local)
        if code == MPI_SUCCESS, h.isLeader {
            fillLeaderBlocks(h, piece)
            code = PMPI_Allgatherv_c(IVSHMEM_MPI_IN_PLACE, 0, MPI_BYTE, laidOut, h.leaderCounts, h.leaderDisplacements,
                                     MPI_BYTE, h.leaders)
        }
        if code == MPI_SUCCESS { code = localBroadcast(laidOut, members * piece, MPI_BYTE, 0, h.local) }
        return code == MPI_SUCCESS ? array.unpack(from: laidOut, h, members, skipping: inPlace ? rank : nil, comm) : code
    }

    /// MPI_Gather: each region gathers its pieces at its leader, the leaders gather the blocks at
    /// the root's region's leader, which hands them to the root when it is not the root itself.
    static func gather(_ hierarchy: UnsafeMutablePointer<Hierarchy>, _ rank: Int, _ members: Int,
                       _ send: UnsafeRawPointer?, _ sendCount: Int, _ sendType: MPI_Datatype,
                       _ receive: UnsafeMutableRawPointer?, _ receiveCount: Int, _ receiveType: MPI_Datatype,
                       _ root: Int32, _ comm: MPI_Comm) -> Int32? {
        let inPlace = rank == Int(root) && send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        // The receive arguments count at the root only; in place its own piece is in its receive buffer.
        return rooted(hierarchy, rank, members, root, (receive, receiveCount, receiveType), inPlace: inPlace,
                      own: (sendCount, sendType)) { call in
            let h = hierarchy.pointee
            let mine = inPlace ? UnsafeRawPointer(call.array!.piece(rank)) : send
            let (count, type) = inPlace ? (receiveCount, receiveType) : (sendCount, sendType)
            var code = localGather(mine, count, type, call.block, call.piece, h.local)
            if code == MPI_SUCCESS, h.isLeader {
                let atRoot = h.group == call.rootGroup
                code = PMPI_Gatherv_c(atRoot ? UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE) : UnsafeRawPointer(call.block),
                                      h.leaderCounts[Int(h.group)], MPI_BYTE, call.laidOut, h.leaderCounts,
                                      h.leaderDisplacements, MPI_BYTE, call.rootGroup, h.leaders)
            }
            if code == MPI_SUCCESS, h.group == call.rootGroup, !call.rootIsLeader {
                code = localBroadcast(call.laidOut, members * call.piece, MPI_BYTE, 0, h.local)
            }
            guard code == MPI_SUCCESS, let array = call.array, let laidOut = call.laidOut else { return code }
            return array.unpack(from: laidOut, h, members, skipping: inPlace ? rank : nil, comm)
        }
    }

    /// MPI_Scatter: the root packs every piece, hands them to its region's leader when it is not
    /// the leader itself, the leaders scatter the blocks, each region scatters its block.
    static func scatter(_ hierarchy: UnsafeMutablePointer<Hierarchy>, _ rank: Int, _ members: Int,
                        _ send: UnsafeRawPointer?, _ sendCount: Int, _ sendType: MPI_Datatype,
                        _ receive: UnsafeMutableRawPointer?, _ receiveCount: Int, _ receiveType: MPI_Datatype,
                        _ root: Int32, _ comm: MPI_Comm) -> Int32? {
        let inPlace = rank == Int(root) && receive == UnsafeMutableRawPointer(IVSHMEM_MPI_IN_PLACE)
        return rooted(hierarchy, rank, members, root, (UnsafeMutableRawPointer(mutating: send), sendCount, sendType),
                      inPlace: inPlace, own: (receiveCount, receiveType)) { call in
            let h = hierarchy.pointee
            var code = MPI_SUCCESS
            if let array = call.array, let laidOut = call.laidOut { code = array.pack(into: laidOut, h, members, comm) }
            if code == MPI_SUCCESS, h.group == call.rootGroup, !call.rootIsLeader {
                code = localBroadcast(call.laidOut, members * call.piece, MPI_BYTE, h.localRankOf[Int(root)], h.local)
            }
            if code == MPI_SUCCESS, h.isLeader {
                let atRoot = h.group == call.rootGroup
                code = PMPI_Scatterv_c(call.laidOut, h.leaderCounts, h.leaderDisplacements, MPI_BYTE,
                                       atRoot ? UnsafeMutableRawPointer(IVSHMEM_MPI_IN_PLACE) : call.block,
                                       h.leaderCounts[Int(h.group)], MPI_BYTE, call.rootGroup, h.leaders)
            }
            guard code == MPI_SUCCESS else { return code }
            // In place, the root's own piece stays in its send buffer: as the local root it keeps
            // it, elsewhere in its region it takes it into the laid-out copy, never into the send buffer.
            let destination: (UnsafeMutableRawPointer?, Int, MPI_Datatype)
            if inPlace {
                destination = h.isLeader ? (UnsafeMutableRawPointer(IVSHMEM_MPI_IN_PLACE), 0, MPI_BYTE)
                                         : (call.laidOut.map { $0 + call.array!.slot(h, rank) * call.piece }, call.piece, MPI_BYTE)
            } else {
                destination = (receive, receiveCount, receiveType)
            }
            return localScatter(call.block, call.piece, destination.0, destination.1, destination.2, h.local)
        }
    }

    /// What a rooted gather or scatter knows on every member before anything moves.
    private struct RootedCall {
        /// The root's array of every member's piece; nil on the others.
        let array: PieceArray?
        let piece: Int
        let rootGroup: Int32
        let rootIsLeader: Bool
        /// The leaders' and the root's region's buffer of every piece, laid out; nil on the others.
        let laidOut: UnsafeMutableRawPointer?
        /// This member's region's part of `laidOut`.
        let block: UnsafeMutableRawPointer?
    }

    /// Runs `body` with the call's RootedCall, after filling the leaders' blocks. Nil when the call goes
    /// to MPICH whole: every member decides that from a piece's bytes (the root's array's `root`
    /// arguments in place, `own` otherwise), which MPI makes the same everywhere.
    private static func rooted(_ hierarchy: UnsafeMutablePointer<Hierarchy>, _ rank: Int, _ members: Int, _ root: Int32,
                               _ rootArguments: (base: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype), inPlace: Bool,
                               own: (count: Int, type: MPI_Datatype), _ body: (RootedCall) -> Int32) -> Int32? {
        guard root >= 0, Int(root) < members else { return nil }
        let h = hierarchy.pointee
        var array: PieceArray? = nil
        if rank == Int(root) {
            guard let rootArray = PieceArray(rootArguments.base, rootArguments.count, rootArguments.type, members) else { return nil }
            array = rootArray
        }
        let (count, type) = inPlace ? (rootArguments.count, rootArguments.type) : own
        guard let piece = PieceArray.bytes(count, type, members), array == nil || array!.pieceBytes == piece else { return nil }
        let rootGroup = h.groupOf[Int(root)]
        var laidOut: UnsafeMutableRawPointer? = nil
        if h.isLeader || h.group == rootGroup {
            guard let room = scratch(hierarchy, members * piece, MPI_BYTE) else { return MPI_ERR_NO_MEM }
            laidOut = room
        }
        if h.isLeader { fillLeaderBlocks(h, piece) }
        return body(RootedCall(array: array, piece: piece, rootGroup: rootGroup, rootIsLeader: h.localRankOf[Int(root)] == 0,
                               laidOut: laidOut, block: laidOut.map { $0 + h.groupStart[Int(h.group)] * piece }))
    }

    /// A gather's or scatter's array of `members` pieces of `count` elements of `type` at `base`.
    private struct PieceArray {
        let base: UnsafeMutableRawPointer?
        let count: Int
        let type: MPI_Datatype
        let shape: TypeShape
        let pieceBytes: Int

        /// Nil for no bytes (MPICH's whole, on every member alike) or arguments MPICH must judge.
        /// A nil base is MPI_BOTTOM, for a type of absolute addresses.
        init?(_ base: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype, _ members: Int) {
            guard let shape = Datatypes.shape(of: type), shape.canAddress(base),
                  let bytes = PieceArray.bytes(count, type, members), shape.span(count: count * members) != nil else { return nil }
            (self.base, self.count, self.type, self.shape, pieceBytes) = (base, count, type, shape, bytes)
        }

        /// A piece's bytes when there are some and `members` of them fit the address space.
        static func bytes(_ count: Int, _ type: MPI_Datatype, _ members: Int) -> Int? {
            guard count > 0, count <= Int.max / max(members, 1), let bytes = Datatypes.shape(of: type)?.bytes(count: count),
                  bytes > 0, case (_, false) = bytes.multipliedReportingOverflow(by: members) else { return nil }
            return bytes
        }

        func piece(_ member: Int) -> UnsafeMutableRawPointer? {
            RegionCollectives.Piece.address(base, member * count * shape.extent)
        }

        /// Where `member`'s piece lies in the laid-out buffer, in pieces.
        func slot(_ h: Hierarchy, _ member: Int) -> Int { h.groupStart[Int(h.groupOf[member])] + Int(h.localRankOf[member]) }

        func unpack(from laidOut: UnsafeMutableRawPointer, _ h: Hierarchy, _ members: Int, skipping skipped: Int?,
                    _ comm: MPI_Comm) -> Int32 {
            move(unpacking: true, laidOut, h, members, skipping: skipped, comm)
        }

        func pack(into laidOut: UnsafeMutableRawPointer, _ h: Hierarchy, _ members: Int, _ comm: MPI_Comm) -> Int32 {
            move(unpacking: false, laidOut, h, members, skipping: nil, comm)
        }

        /// Every member's piece but `skipped`'s between the user's buffer and `laidOut`.
        private func move(unpacking: Bool, _ laidOut: UnsafeMutableRawPointer, _ h: Hierarchy, _ members: Int,
                          skipping skipped: Int?, _ comm: MPI_Comm) -> Int32 {
            for member in 0..<members where member != skipped {
                let packed = laidOut + slot(h, member) * pieceBytes
                let code = Datatypes.addressable(piece(member), type) { buffer, type in
                    if shape.contiguous {
                        _ = unpacking ? memcpy(buffer, packed, pieceBytes) : memcpy(packed, buffer, pieceBytes)
                        return MPI_SUCCESS
                    }
                    var position: MPI_Count = 0
                    return unpacking
                        ? PMPI_Unpack_c(packed, MPI_Count(pieceBytes), &position, buffer, MPI_Count(count), type, comm)
                        : PMPI_Pack_c(buffer, MPI_Count(count), type, packed, MPI_Count(pieceBytes), &position, comm)
                }
                if code != MPI_SUCCESS { return code }
            }
            return MPI_SUCCESS
        }
    }

    /// The leaders' counts and displacements of the regions' blocks of `piece`-byte pieces.
    private static func fillLeaderBlocks(_ h: Hierarchy, _ piece: Int) {
        for group in 0..<h.groupCount {
            h.leaderCounts[group] = MPI_Count((h.groupStart[group + 1] - h.groupStart[group]) * piece)
            h.leaderDisplacements[group] = MPI_Aint(h.groupStart[group] * piece)
        }
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
                                    _ block: UnsafeMutableRawPointer?, _ bytes: Int, _ local: MPI_Comm) -> Int32 {
        if let state = Communicators.served(local),
           let code = RegionCollectives.gather(state, send, count, type, block, bytes, MPI_BYTE, 0) {
            return code
        }
        return PMPI_Gather_c(send, MPI_Count(count), type, block, MPI_Count(bytes), MPI_BYTE, 0, local)
    }

    /// From local rank 0's `block` of `bytes`-byte pieces, in local rank order, to every member's `receive`.
    private static func localScatter(_ block: UnsafeMutableRawPointer?, _ bytes: Int, _ receive: UnsafeMutableRawPointer?,
                                     _ count: Int, _ type: MPI_Datatype, _ local: MPI_Comm) -> Int32 {
        if let state = Communicators.served(local),
           let code = RegionCollectives.scatter(state, block, bytes, MPI_BYTE, receive, count, type, 0) {
            return code
        }
        return PMPI_Scatter_c(block, MPI_Count(bytes), MPI_BYTE, receive, MPI_Count(count), type, 0, local)
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
