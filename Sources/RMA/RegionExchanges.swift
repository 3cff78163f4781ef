import CMPI
import Glibc

/// The collectives that move data without combining it (MPI_Bcast, MPI_Gather(v),
/// MPI_Allgather(v), MPI_Scatter(v), MPI_Alltoall(v,w)), inside one region, all on one driver (`exchange`): the writers
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
            self = piece.isRun || piece.count == 0 ? .run : .packed
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

        /// False for a type that is no datatype (MPI_DATATYPE_NULL): only a piece of no elements has one.
        var typeKnown: Bool

        /// Nil for arguments MPICH must reject, and for pieces whose array would not fit the
        /// address space (`members` of them). No elements of any type (even MPI_DATATYPE_NULL)
        /// are an empty piece, so every member sees a call of nothing as one.
        init?(_ buffer: UnsafeRawPointer?, count: Int, _ type: MPI_Datatype, members: Int = 1) {
            guard count >= 0 else { return nil }
            let known = Datatypes.shape(of: type)
            guard let shape = known ?? (count == 0 ? TypeShape(size: 0, extent: 0, trueLowerBound: 0, trueExtent: 0,
                                                                contiguous: true) : nil),
                  shape.canAddress(buffer) || count == 0, shape.span(count: count * members) != nil,
                  count <= Int.max / max(members, 1) else { return nil }
            base = buffer.map { UnsafeMutableRawPointer(mutating: $0) }
            (self.count, self.type, self.shape, typeKnown) = (count, type, shape, known != nil)
        }

        /// The piece `index` places further on: element `index` of an array of such pieces.
        func at(_ index: Int) -> Piece {
            var piece = self
            piece.base = Piece.address(base, index &* count &* shape.extent)
            return piece
        }

        /// `offset` bytes past `buffer`, which may be MPI_BOTTOM (NULL in MPICH): the offset is then an
        /// absolute address.
        static func address(_ buffer: UnsafeRawPointer?, _ offset: Int) -> UnsafeMutableRawPointer? {
            UnsafeMutableRawPointer(bitPattern: Int(bitPattern: buffer) &+ offset)
        }

        var bytes: Int? { shape.bytes(count: count) }
        var isRun: Bool { shape.contiguous && base != nil }

        /// The piece of `count` elements `displacement` elements further on (the v-variants' pieces).
        func at(displacement: Int, count: Int) -> Piece {
            var piece = self
            piece.base = Piece.address(base, displacement &* shape.extent)
            piece.count = count
            return piece
        }

        /// What of a step's bytes [offset, offset + length) lies in this piece.
        private func clip(_ offset: Int, _ length: Int) -> Int {
            guard let bytes, offset < bytes else { return 0 }
            return min(length, bytes - offset)
        }

        /// A step's bytes [offset, offset + length) of the piece into `lane` (as far as the piece
        /// reaches); a packed piece goes whole, in the first step.
        func write(to lane: UnsafeMutableRawPointer, offset: Int, length: Int, _ comm: MPI_Comm) -> Bool {
            let length = clip(offset, length)
            guard length > 0 else { return true }
            if isRun, let base {
                memcpy(lane, base + offset, length)
                return true
            }
            return Datatypes.addressable(base, type) { buffer, type in
                var position: MPI_Count = 0
                return PMPI_Pack_c(buffer, MPI_Count(count), type, lane, MPI_Count(length), &position, comm)
            } == MPI_SUCCESS
        }

        func read(from lane: UnsafeRawPointer, offset: Int, length: Int, _ comm: MPI_Comm) -> Int32 {
            let length = clip(offset, length)
            guard length > 0 else { return MPI_SUCCESS }
            if isRun, let base {
                memcpy(base + offset, lane, length)
                return MPI_SUCCESS
            }
            return Datatypes.addressable(base, type) { buffer, type in
                var position: MPI_Count = 0
                return PMPI_Unpack_c(lane, MPI_Count(length), &position, buffer, MPI_Count(count), type, comm)
            }
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

    /// The driver. `largest`: the size of this member's largest piece, in or out (nil when its
    /// arguments cannot be served); `uniform`: every piece of the call has the same size (all but
    /// the v-variants), which every member must then publish alike. `mode`: this member's pieces'.
    /// `write` copies a step's bytes [offset, offset + length) of this member's outgoing pieces
    /// into the step's lanes, `read` the incoming ones out (Piece clips them to each piece). Nil
    /// when the members agreed to hand the call to MPICH.
    static func exchange(_ state: UnsafeMutablePointer<CommunicatorState>, _ call: Call, _ name: StaticString,
                         largest: Int?, uniform: Bool = true, root: Int32, mode: TransferMode, lanesPerSlot: Int,
                         write: (Lanes, _ offset: Int, _ length: Int) -> Bool,
                         read: (Lanes, _ offset: Int, _ length: Int) -> Int32) -> Int32? {
        // Nothing to move: MPICH returns at once, and every member knows (the type signatures match).
        if uniform && largest == 0 { return nil }
        let laneSize = state.pointee.slotSize / lanesPerSlot / CollectiveBlock.lineSize * CollectiveBlock.lineSize
        var mode = mode
        // A packed piece goes in one step; any piece of a member in steps only if all of its are runs.
        if let largest, mode == .packed && largest > laneSize { mode = .unsupported }
        if laneSize == 0 || largest == nil { mode = .unsupported }
        var step = state.pointee.steps + 1
        if mode != .unsupported, !write(Lanes(state: state, step: step, size: laneSize), 0, laneSize) { mode = .unsupported }
        let mine = StepDescriptor(call: call.rawValue, amount: Int64(largest ?? -1), type: 0, op: 0, root: Int64(root),
                                  mode: mode.rawValue)
        mine.write(to: state.pointee.slot(state.pointee.rank, step: step))
        arrive(state, step, name)

        var everyLargest = 0
        for member in 0..<state.pointee.members {
            let theirs = StepDescriptor(readingFrom: state.pointee.slot(member, step: step))
            let agree = uniform ? theirs.matches(mine) : theirs.call == mine.call && theirs.root == mine.root
            guard agree, let theirMode = TransferMode(rawValue: theirs.mode), theirMode != .unsupported else { return nil }
            everyLargest = max(everyLargest, Int(theirs.amount))
        }
        var code = read(Lanes(state: state, step: step, size: laneSize), 0, laneSize)
        var offset = laneSize
        while code == MPI_SUCCESS && offset < everyLargest {
            step += 1
            let lanes = Lanes(state: state, step: step, size: laneSize)
            _ = write(lanes, offset, laneSize)
            arrive(state, step, name)
            code = read(lanes, offset, laneSize)
            offset += laneSize
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
        return exchange(state, .broadcast, "MPI_Bcast", largest: piece?.bytes, root: root,
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
                        largest: (incoming ?? outgoing)?.bytes, root: root, mode: memberMode, lanesPerSlot: 1,
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
        return exchange(state, .scatter, "MPI_Scatter", largest: incoming?.bytes, root: root, mode: memberMode, lanesPerSlot: 1,
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
        return exchange(state, .alltoall, "MPI_Alltoall", largest: incoming?.bytes, root: 0, mode: TransferMode(outgoing).and(TransferMode(incoming)),
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

/// The v-variants: every piece its own count and displacement (in elements of its type).
extension RegionCollectives {
    /// `members` pieces, the m-th `piece(m)`: whether each is valid, their largest size and their mode.
    private static func survey(_ members: Int, skipping skipped: Int? = nil,
                               _ piece: (Int) -> Piece?) -> (largest: Int?, mode: TransferMode) {
        var largest = 0
        var mode = TransferMode.run
        for member in 0..<members where member != skipped {
            guard let piece = piece(member), piece.count >= 0, piece.typeKnown || piece.count == 0,
                  let bytes = piece.bytes, piece.shape.canAddress(piece.base) || piece.count == 0 else {
                return (nil, .unsupported)
            }
            largest = max(largest, bytes)
            mode = mode.and(TransferMode(piece))
        }
        return (largest, mode)
    }

    /// `members` pieces, the m-th `counts(m)` elements at `displacements(m)`, from one buffer and type.
    private static func survey(_ base: Piece?, _ members: Int, skipping skipped: Int? = nil,
                               counts: (Int) -> Int, displacements: (Int) -> Int) -> (largest: Int?, mode: TransferMode) {
        guard let base else { return (nil, .unsupported) }
        return survey(members, skipping: skipped) { base.at(displacement: displacements($0), count: counts($0)) }
    }

    /// MPI_Gatherv (`root` a member) and MPI_Allgatherv (`Collectives.everyone`).
    static func gatherv(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?, _ sendCount: Int,
                        _ sendType: MPI_Datatype, _ receive: UnsafeMutableRawPointer?, counts: (Int) -> Int,
                        displacements: (Int) -> Int, _ receiveType: MPI_Datatype, _ root: Int32) -> Int32? {
        let comm = state.pointee.handle
        let rank = state.pointee.rank, members = state.pointee.members
        let everyone = root == Collectives.everyone
        let receives = everyone || rank == Int(root)
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        let incoming = receives ? Piece(receive, count: 0, receiveType) : nil
        let outgoing = inPlace ? incoming?.at(displacement: displacements(rank), count: counts(rank))
                               : Piece(send, count: sendCount, sendType)
        var largest = outgoing?.bytes
        var memberMode = TransferMode(outgoing)
        if receives {
            let survey = survey(incoming, members, skipping: inPlace ? rank : nil, counts: counts, displacements: displacements)
            largest = survey.largest.flatMap { theirs in largest.map { max($0, theirs) } }
            memberMode = memberMode.and(survey.mode)
        }
        if (!everyone && !isValidRoot(root, state)) || (inPlace && !receives) { memberMode = .unsupported }
        return exchange(state, everyone ? .allgather : .gather, everyone ? "MPI_Allgatherv" : "MPI_Gatherv",
                        largest: largest, uniform: false, root: root, mode: memberMode, lanesPerSlot: 1,
                        write: { lanes, offset, length in
                            inPlace && !everyone || outgoing!.write(to: lanes(rank), offset: offset, length: length, comm)
                        },
                        read: { lanes, offset, length in
                            guard let incoming else { return MPI_SUCCESS }
                            for member in 0..<members where !(inPlace && member == rank) {
                                let piece = incoming.at(displacement: displacements(member), count: counts(member))
                                let code = piece.read(from: lanes(member), offset: offset, length: length, comm)
                                if code != MPI_SUCCESS { return code }
                            }
                            return MPI_SUCCESS
                        })
    }

    static func scatterv(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?, counts: (Int) -> Int,
                         displacements: (Int) -> Int, _ sendType: MPI_Datatype, _ receive: UnsafeMutableRawPointer?,
                         _ receiveCount: Int, _ receiveType: MPI_Datatype, _ root: Int32) -> Int32? {
        let comm = state.pointee.handle
        let rank = state.pointee.rank, members = state.pointee.members
        let isRoot = rank == Int(root)
        let inPlace = isRoot && receive == UnsafeMutableRawPointer(IVSHMEM_MPI_IN_PLACE)
        let outgoing = isRoot ? Piece(send, count: 0, sendType) : nil
        let incoming = inPlace ? nil : Piece(receive, count: receiveCount, receiveType)
        var largest = inPlace ? 0 : incoming?.bytes
        var memberMode = inPlace ? .run : TransferMode(incoming)
        if isRoot {
            let survey = survey(outgoing, members, skipping: inPlace ? rank : nil, counts: counts, displacements: displacements)
            largest = survey.largest.flatMap { theirs in largest.map { max($0, theirs) } }
            memberMode = memberMode.and(survey.mode)
        }
        if !isValidRoot(root, state) { memberMode = .unsupported }
        return exchange(state, .scatter, "MPI_Scatterv", largest: largest, uniform: false, root: root, mode: memberMode,
                        lanesPerSlot: 1,
                        write: { lanes, offset, length in
                            guard let outgoing else { return true }
                            for member in 0..<members where !(inPlace && member == rank) {
                                let piece = outgoing.at(displacement: displacements(member), count: counts(member))
                                if !piece.write(to: lanes(member), offset: offset, length: length, comm) { return false }
                            }
                            return true
                        },
                        read: { lanes, offset, length in
                            incoming?.read(from: lanes(rank), offset: offset, length: length, comm) ?? MPI_SUCCESS
                        })
    }

    static func alltoallv(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?,
                          sendCounts: (Int) -> Int, sendDisplacements: (Int) -> Int, _ sendType: MPI_Datatype,
                          _ receive: UnsafeMutableRawPointer?, receiveCounts: (Int) -> Int,
                          receiveDisplacements: (Int) -> Int, _ receiveType: MPI_Datatype) -> Int32? {
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        let incoming = Piece(receive, count: 0, receiveType)
        let outgoing = inPlace ? incoming : Piece(send, count: 0, sendType)
        let outCounts = inPlace ? receiveCounts : sendCounts
        let outDisplacements = inPlace ? receiveDisplacements : sendDisplacements
        return allToAll(state, "MPI_Alltoallv",
                        outgoing: { member in outgoing?.at(displacement: outDisplacements(member), count: outCounts(member)) },
                        incoming: { member in incoming?.at(displacement: receiveDisplacements(member), count: receiveCounts(member)) })
    }

    /// MPI_Alltoallw: every piece its own count, type and displacement in bytes (absolute
    /// addresses from MPI_BOTTOM included).
    static func alltoallw(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?,
                          sendCounts: (Int) -> Int, sendDisplacements: (Int) -> Int, sendTypes: UnsafePointer<MPI_Datatype>?,
                          _ receive: UnsafeMutableRawPointer?, receiveCounts: (Int) -> Int,
                          receiveDisplacements: (Int) -> Int, receiveTypes: UnsafePointer<MPI_Datatype>?) -> Int32? {
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        // Closures written inline, not kept in constants: those would be allocated on every call.
        return allToAll(state, "MPI_Alltoallw",
                        outgoing: { member in
                            inPlace ? typedPiece(receive, receiveCounts(member), receiveDisplacements(member), receiveTypes, member)
                                    : typedPiece(send, sendCounts(member), sendDisplacements(member), sendTypes, member)
                        },
                        incoming: { member in
                            typedPiece(receive, receiveCounts(member), receiveDisplacements(member), receiveTypes, member)
                        })
    }

    /// Member `member`'s piece of an MPI_Alltoallw. No types array: no piece, which every member
    /// hears of in the step's agreement (MPICH then reports it).
    private static func typedPiece(_ buffer: UnsafeRawPointer?, _ count: Int, _ displacement: Int,
                                   _ types: UnsafePointer<MPI_Datatype>?, _ member: Int) -> Piece? {
        types.flatMap { Piece(Piece.address(buffer, displacement), count: count, $0[member]) }
    }

    /// MPI_Alltoallv and MPI_Alltoallw: member m's piece for `to` is `outgoing(to)`, its piece from
    /// `from` `incoming(from)`. In place (outgoing and incoming the same pieces), every piece
    /// leaves the receive buffer before any arrives in it: step by step, each piece's bytes of a
    /// step out before the same bytes in.
    private static func allToAll(_ state: UnsafeMutablePointer<CommunicatorState>, _ name: StaticString,
                                 outgoing: (Int) -> Piece?, incoming: (Int) -> Piece?) -> Int32? {
        let comm = state.pointee.handle
        let rank = state.pointee.rank, members = state.pointee.members
        let sent = survey(members, outgoing)
        let received = survey(members, incoming)
        let largest = sent.largest.flatMap { out in received.largest.map { max(out, $0) } }
        return exchange(state, .alltoall, name, largest: largest, uniform: false, root: 0,
                        mode: sent.mode.and(received.mode), lanesPerSlot: members,
                        write: { lanes, offset, length in
                            for member in 0..<members {
                                guard let piece = outgoing(member),
                                      piece.write(to: lanes(rank, member), offset: offset, length: length, comm) else { return false }
                            }
                            return true
                        },
                        read: { lanes, offset, length in
                            for member in 0..<members {
                                guard let piece = incoming(member) else { return MPI_ERR_ARG }
                                let code = piece.read(from: lanes(member, rank), offset: offset, length: length, comm)
                                if code != MPI_SUCCESS { return code }
                            }
                            return MPI_SUCCESS
                        })
    }
}
