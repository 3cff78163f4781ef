import CMPI
import Glibc

/// The collectives that move data without combining it (MPI_Bcast, MPI_Gather, MPI_Allgather,
/// MPI_Scatter, MPI_Alltoall), inside one region, all on one driver (`exchange`): the writers
/// copy their pieces into lanes of the step's slots, every member arrives, the readers copy out.
/// A member's slot is one lane, or (all-to-all) one lane per member. A piece is either one
/// gap-free run of the user's buffer, moved in as many steps as it needs, or packed (MPI_Pack),
/// when it fits one lane; the packed form of a run is the run itself, so writers and readers
/// need not agree on which they use.
extension RegionCollectives {
    /// How a member moves its pieces; published in its descriptor.
    enum TransferMode: Int64 {
        case unsupported = 0
        /// Every piece of this member is one gap-free run: any length, in steps.
        case run
        /// Some piece has gaps: packed, at most one lane.
        case packed

        /// A piece's mode (nil: an argument MPICH must reject).
        init(_ piece: Piece?) {
            guard let piece else { self = .unsupported; return }
            self = piece.isRun ? .run : .packed
        }

        /// The mode of a member with pieces of both modes.
        func and(_ other: TransferMode) -> TransferMode {
            if self == .unsupported || other == .unsupported { return .unsupported }
            return self == .run && other == .run ? .run : .packed
        }
    }

    /// `count` elements of `type` at `base`: what one member sends to or receives from one other.
    struct Piece {
        var base: UnsafeMutableRawPointer?
        var count: Int
        var type: MPI_Datatype
        var shape: TypeShape

        /// Nil for arguments MPICH must reject, and for pieces whose array would not fit the
        /// address space (`members` of them).
        init?(_ buffer: UnsafeRawPointer?, count: Int, _ type: MPI_Datatype, members: Int = 1) {
            guard count >= 0, let shape = Datatypes.shape(of: type), shape.canAddress(buffer) || count == 0,
                  shape.span(count: count * members) != nil, count <= Int.max / max(members, 1) else { return nil }
            base = buffer.map { UnsafeMutableRawPointer(mutating: $0) }
            (self.count, self.type, self.shape) = (count, type, shape)
        }

        /// The piece `index` places further on: element `index` of an array of such pieces.
        func at(_ index: Int) -> Piece {
            var piece = self
            piece.base = base.map { $0 + index * count * shape.extent }
            return piece
        }

        var bytes: Int? { shape.bytes(count: count) }
        var isRun: Bool { shape.contiguous && base != nil }

        /// Bytes [offset, offset + length) of the piece into `lane`; a packed piece goes whole.
        func write(to lane: UnsafeMutableRawPointer, offset: Int, length: Int, _ comm: MPI_Comm) -> Bool {
            if isRun, let base {
                memcpy(lane, base + offset, length)
                return true
            }
            var position: MPI_Count = 0
            return PMPI_Pack_c(base, MPI_Count(count), type, lane, MPI_Count(length), &position, comm) == MPI_SUCCESS
        }

        func read(from lane: UnsafeRawPointer, offset: Int, length: Int, _ comm: MPI_Comm) -> Int32 {
            if isRun, let base {
                memcpy(base + offset, lane, length)
                return MPI_SUCCESS
            }
            var position: MPI_Count = 0
            return PMPI_Unpack_c(lane, MPI_Count(length), &position, base, MPI_Count(count), type, comm)
        }
    }

    /// Where a step's lanes are: `lane(member, index)` is lane `index` of `member`'s slot.
    struct Lanes {
        let state: UnsafeMutablePointer<CommunicatorState>
        let step: UInt64
        let size: Int

        func callAsFunction(_ member: Int, _ index: Int = 0) -> UnsafeMutableRawPointer {
            state.pointee.slot(member, step: step) + CollectiveBlock.lineSize + index * size
        }
    }

    /// The driver. `bytes`: every piece's size (the same on every member for a legal program);
    /// `mode`: this member's pieces' (nil when its arguments cannot be served). `write` copies
    /// bytes [offset, offset + length) of this member's outgoing pieces into the step's lanes,
    /// `read` the incoming ones out. Nil when the members agreed to hand the call to MPICH.
    static func exchange(_ state: UnsafeMutablePointer<CommunicatorState>, _ call: Call, _ name: StaticString,
                         bytes: Int?, root: Int32, mode: TransferMode, lanesPerSlot: Int,
                         write: (Lanes, _ offset: Int, _ length: Int) -> Bool,
                         read: (Lanes, _ offset: Int, _ length: Int) -> Int32) -> Int32? {
        // Nothing to move: MPICH returns at once, and every member knows (the type signatures match).
        if bytes == 0 { return nil }
        let laneSize = state.pointee.slotSize / lanesPerSlot / CollectiveBlock.lineSize * CollectiveBlock.lineSize
        var mode = mode
        if let bytes, mode == .packed && bytes > laneSize { mode = .unsupported }
        if laneSize == 0 || bytes == nil { mode = .unsupported }
        var step = state.pointee.steps + 1
        let length = min(bytes ?? 0, laneSize)
        if mode != .unsupported, !write(Lanes(state: state, step: step, size: laneSize), 0, length) { mode = .unsupported }
        let mine = StepDescriptor(call: call.rawValue, amount: Int64(bytes ?? -1), type: 0, op: 0, root: Int64(root),
                                  mode: mode.rawValue)
        mine.write(to: state.pointee.slot(state.pointee.rank, step: step))
        arrive(state, step, name)

        var everyRun = true
        for member in 0..<state.pointee.members {
            let theirs = StepDescriptor(readingFrom: state.pointee.slot(member, step: step))
            guard theirs.matches(mine), let theirMode = TransferMode(rawValue: theirs.mode), theirMode != .unsupported else {
                return nil
            }
            everyRun = everyRun && theirMode == .run
        }
        // More than one lane only when every member's pieces are runs.
        guard let bytes, everyRun || bytes <= laneSize else { return nil }
        var code = read(Lanes(state: state, step: step, size: laneSize), 0, length)
        var offset = length
        while code == MPI_SUCCESS && offset < bytes {
            step += 1
            let lanes = Lanes(state: state, step: step, size: laneSize)
            let length = min(bytes - offset, laneSize)
            _ = write(lanes, offset, length)
            arrive(state, step, name)
            code = read(lanes, offset, length)
            offset += length
        }
        return code
    }

    static func isValidRoot(_ root: Int32, _ state: UnsafeMutablePointer<CommunicatorState>) -> Bool {
        root >= 0 && Int(root) < state.pointee.members
    }

    static func broadcast(_ state: UnsafeMutablePointer<CommunicatorState>, _ buffer: UnsafeMutableRawPointer?, _ count: Int,
                          _ type: MPI_Datatype, _ root: Int32) -> Int32? {
        let comm = state.pointee.handle
        let isRoot = state.pointee.rank == Int(root)
        let piece = Piece(buffer, count: count, type)
        return exchange(state, .broadcast, "MPI_Bcast", bytes: piece?.bytes, root: root,
                        mode: isValidRoot(root, state) ? TransferMode(piece) : .unsupported, lanesPerSlot: 1,
                        write: { lanes, offset, length in !isRoot || piece!.write(to: lanes(Int(root)), offset: offset, length: length, comm) },
                        read: { lanes, offset, length in isRoot ? MPI_SUCCESS : piece!.read(from: lanes(Int(root)), offset: offset, length: length, comm) })
    }

    /// MPI_Gather (`root` a member) and MPI_Allgather (`Collectives.everyone`).
    static func gather(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?, _ sendCount: Int,
                       _ sendType: MPI_Datatype, _ receive: UnsafeMutableRawPointer?, _ receiveCount: Int,
                       _ receiveType: MPI_Datatype, _ root: Int32) -> Int32? {
        let comm = state.pointee.handle
        let rank = state.pointee.rank, members = state.pointee.members
        let everyone = root == Collectives.everyone
        let receives = everyone || rank == Int(root)
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        // In place, a receiving member's own piece is already where it belongs in its receive buffer.
        let incoming = receives ? Piece(receive, count: receiveCount, receiveType, members: members) : nil
        let outgoing = inPlace ? incoming?.at(rank) : Piece(send, count: sendCount, sendType)
        var memberMode = receives ? TransferMode(outgoing).and(TransferMode(incoming)) : TransferMode(outgoing)
        if !everyone && !isValidRoot(root, state) { memberMode = .unsupported }
        return exchange(state, everyone ? .allgather : .gather, everyone ? "MPI_Allgather" : "MPI_Gather",
                        bytes: (incoming ?? outgoing)?.bytes, root: root, mode: memberMode, lanesPerSlot: 1,
                        write: { lanes, offset, length in
                            inPlace && !everyone || outgoing!.write(to: lanes(rank), offset: offset, length: length, comm)
                        },
                        read: { lanes, offset, length in
                            guard let incoming else { return MPI_SUCCESS }
                            for member in 0..<members where !(inPlace && member == rank) {
                                let code = incoming.at(member).read(from: lanes(member), offset: offset, length: length, comm)
                                if code != MPI_SUCCESS { return code }
                            }
                            return MPI_SUCCESS
                        })
    }

    static func scatter(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?, _ sendCount: Int,
                        _ sendType: MPI_Datatype, _ receive: UnsafeMutableRawPointer?, _ receiveCount: Int,
                        _ receiveType: MPI_Datatype, _ root: Int32) -> Int32? {
        let comm = state.pointee.handle
        let rank = state.pointee.rank, members = state.pointee.members
        let isRoot = rank == Int(root)
        // In place, the root's own piece stays where it is in its send buffer.
        let inPlace = isRoot && receive == UnsafeMutableRawPointer(IVSHMEM_MPI_IN_PLACE)
        let outgoing = isRoot ? Piece(send, count: sendCount, sendType, members: members) : nil
        let incoming = inPlace ? outgoing : Piece(receive, count: receiveCount, receiveType)
        var memberMode = isRoot ? TransferMode(outgoing).and(TransferMode(incoming)) : TransferMode(incoming)
        if !isValidRoot(root, state) { memberMode = .unsupported }
        return exchange(state, .scatter, "MPI_Scatter", bytes: incoming?.bytes, root: root, mode: memberMode, lanesPerSlot: 1,
                        write: { lanes, offset, length in
                            guard let outgoing else { return true }
                            for member in 0..<members where !(inPlace && member == rank) {
                                if !outgoing.at(member).write(to: lanes(member), offset: offset, length: length, comm) { return false }
                            }
                            return true
                        },
                        read: { lanes, offset, length in
                            inPlace ? MPI_SUCCESS : incoming!.read(from: lanes(rank), offset: offset, length: length, comm)
                        })
    }

    static func alltoall(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?, _ sendCount: Int,
                         _ sendType: MPI_Datatype, _ receive: UnsafeMutableRawPointer?, _ receiveCount: Int,
                         _ receiveType: MPI_Datatype) -> Int32? {
        let comm = state.pointee.handle
        let rank = state.pointee.rank, members = state.pointee.members
        // In place, every piece leaves the receive buffer before any arrives in it (step by step).
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        let incoming = Piece(receive, count: receiveCount, receiveType, members: members)
        let outgoing = inPlace ? incoming : Piece(send, count: sendCount, sendType, members: members)
        return exchange(state, .alltoall, "MPI_Alltoall", bytes: incoming?.bytes, root: 0, mode: TransferMode(outgoing).and(TransferMode(incoming)),
                        lanesPerSlot: members,
                        write: { lanes, offset, length in
                            guard let outgoing else { return false }
                            for member in 0..<members {
                                if !outgoing.at(member).write(to: lanes(rank, member), offset: offset, length: length, comm) { return false }
                            }
                            return true
                        },
                        read: { lanes, offset, length in
                            guard let incoming else { return MPI_ERR_ARG }
                            for member in 0..<members {
                                let code = incoming.at(member).read(from: lanes(member, rank), offset: offset, length: length, comm)
                                if code != MPI_SUCCESS { return code }
                            }
                            return MPI_SUCCESS
                        })
    }
}
