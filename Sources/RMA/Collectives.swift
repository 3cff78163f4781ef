import CMPI
import Glibc
import SharedSync

/// MPI_Barrier, MPI_Bcast, MPI_Reduce and MPI_Allreduce through the region, on communicators
/// whose members all share it (Policy). Everything is a sequence of barrier steps over the
/// communicator's block (CollectiveBlock): each member writes its slot of the step, arrives, and
/// reads what the step's writers left. A broadcast or reduction's first step also carries each
/// member's `StepDescriptor`, from which every member takes the same path (Policy); a message
/// larger than a slot goes in further steps, the next one written while the last one is read.
///
/// A reduction combines the members' contributions in rank order on every member that needs the
/// result (out = s0, then out = op(out, s1), ...), so every member's result has the same bits.
public enum Collectives {
    public static func barrier(_ comm: MPI_Comm) -> Int32 {
        guard let state = Communicators.served(comm) else {
            Stats.count(.collMpi)
            return BlockingCalls.barrier(comm)
        }
        Stats.count(.collShm)
        let step = state.pointee.steps + 1
        arrive(state, step, "MPI_Barrier")
        return MPI_SUCCESS
    }

    public static func broadcast(_ buffer: UnsafeMutableRawPointer?, _ count: Int32, _ type: MPI_Datatype, _ root: Int32,
                                 _ comm: MPI_Comm) -> Int32 {
        broadcast(buffer, Int(count), type, root, comm) { PMPI_Bcast(buffer, count, type, root, comm) }
    }

    public static func broadcast(_ buffer: UnsafeMutableRawPointer?, _ count: MPI_Count, _ type: MPI_Datatype, _ root: Int32,
                                 _ comm: MPI_Comm) -> Int32 {
        broadcast(buffer, Int(count), type, root, comm) { PMPI_Bcast_c(buffer, count, type, root, comm) }
    }

    public static func reduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: Int32,
                              _ type: MPI_Datatype, _ op: MPI_Op, _ root: Int32, _ comm: MPI_Comm) -> Int32 {
        reduce(send, receive, Int(count), type, op, root, comm) { PMPI_Reduce(send, receive, count, type, op, root, comm) }
    }

    public static func reduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: MPI_Count,
                              _ type: MPI_Datatype, _ op: MPI_Op, _ root: Int32, _ comm: MPI_Comm) -> Int32 {
        reduce(send, receive, Int(count), type, op, root, comm) { PMPI_Reduce_c(send, receive, count, type, op, root, comm) }
    }

    public static func allreduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: Int32,
                                 _ type: MPI_Datatype, _ op: MPI_Op, _ comm: MPI_Comm) -> Int32 {
        reduce(send, receive, Int(count), type, op, Reduction.everyone, comm) {
            BlockingCalls.allreduce(send, receive, count, type, op, comm)
        }
    }

    public static func allreduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: MPI_Count,
                                 _ type: MPI_Datatype, _ op: MPI_Op, _ comm: MPI_Comm) -> Int32 {
        reduce(send, receive, Int(count), type, op, Reduction.everyone, comm) {
            PMPI_Allreduce_c(send, receive, count, type, op, comm)
        }
    }

    /// What a member was asked, published in its slot with a collective's first step. Members
    /// agree when every field but `mode` is equal on all of them; a zero `mode` anywhere means
    /// some member's call cannot be served (Policy), and everyone hands the call to MPICH.
    struct StepDescriptor: Equatable {
        static let bytes = 48
        var call: Int64
        /// Broadcast: bytes of data; reduction: elements.
        var amount: Int64
        /// Reductions only (a broadcast's members may describe the same bytes with different types).
        var type: Int64
        var op: Int64
        var root: Int64
        var mode: Int64

        func write(to slot: UnsafeMutableRawPointer) {
            let words = (call, amount, type, op, root, mode)
            withUnsafeBytes(of: words) { slot.copyMemory(from: $0.baseAddress!, byteCount: Self.bytes) }
        }

        /// A private copy of a member's descriptor: the region's bytes are read once.
        init(readingFrom slot: UnsafeRawPointer) {
            var words = (Int64(0), Int64(0), Int64(0), Int64(0), Int64(0), Int64(0))
            withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(start: slot, count: Self.bytes)) }
            (call, amount, type, op, root, mode) = words
        }

        init(call: Int64, amount: Int64, type: Int64, op: Int64, root: Int64, mode: Int64) {
            (self.call, self.amount, self.type, self.op, self.root, self.mode) = (call, amount, type, op, root, mode)
        }

        func matches(_ other: StepDescriptor) -> Bool {
            var other = other
            other.mode = mode
            return other == self
        }
    }

    private enum Call: Int64 {
        case broadcast = 1, reduce, allreduce
    }

    private enum Reduction {
        /// The root of an allreduce: every member gets the result.
        static let everyone: Int32 = -1
    }

    /// The modes of a broadcast member.
    private enum BroadcastMode: Int64 {
        case unsupported = 0
        /// The buffer is one gap-free run: any length, in steps.
        case run
        /// Packed (MPI_Pack): messages of at most one slot.
        case packed
    }

    private static func broadcast(_ buffer: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype, _ root: Int32,
                                  _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        guard let state = Communicators.served(comm) else { return forwarded(forward) }
        let shape = count >= 0 ? Datatypes.shape(of: type) : nil
        let bytes = shape?.bytes(count: count)
        // Nothing to move: MPICH returns at once, and every member knows (the type signatures match).
        if bytes == 0 { return forwarded(forward) }
        let slotSize = state.pointee.slotSize
        let rank = state.pointee.rank
        var mode = BroadcastMode.unsupported
        if let shape, let bytes, shape.canAddress(buffer), root >= 0, Int(root) < state.pointee.members {
            mode = shape.contiguous && buffer != nil ? .run : bytes <= slotSize ? .packed : .unsupported
        }
        var step = state.pointee.steps + 1
        let mine = StepDescriptor(call: Call.broadcast.rawValue, amount: Int64(bytes ?? -1), type: 0, op: 0,
                                  root: Int64(root), mode: mode.rawValue)
        let slot = state.pointee.slot(rank, step: step)
        let data = slot + CollectiveBlock.lineSize
        if rank == Int(root), let buffer, let bytes {
            switch mode {
            case .run: memcpy(data, buffer, min(bytes, slotSize))
            case .packed:
                var position: MPI_Count = 0
                if PMPI_Pack_c(buffer, MPI_Count(count), type, data, MPI_Count(slotSize), &position, comm) != MPI_SUCCESS {
                    mode = .unsupported
                }
            case .unsupported: break
            }
        }
        var published = mine
        published.mode = mode.rawValue
        published.write(to: slot)
        arrive(state, step, "MPI_Bcast")

        var everyRun = true
        for member in 0..<state.pointee.members {
            let theirs = StepDescriptor(readingFrom: state.pointee.slot(member, step: step))
            guard theirs.matches(mine), let theirMode = BroadcastMode(rawValue: theirs.mode), theirMode != .unsupported else {
                return forwarded(forward)
            }
            everyRun = everyRun && theirMode == .run
        }
        // More than one slot only when every member's buffer is a run (then every buffer is non-nil).
        guard let bytes, everyRun || bytes <= slotSize else { return forwarded(forward) }
        Stats.count(.collShm)
        let rootData = { (step: UInt64) in state.pointee.slot(Int(root), step: step) + CollectiveBlock.lineSize }
        if rank != Int(root) {
            if mode == .run, let buffer {
                memcpy(buffer, rootData(step), min(bytes, slotSize))
            } else {
                var position: MPI_Count = 0
                let code = PMPI_Unpack_c(rootData(step), MPI_Count(bytes), &position, buffer, MPI_Count(count), type, comm)
                if code != MPI_SUCCESS { return code }
            }
        }
        guard let buffer else { return MPI_SUCCESS }
        var offset = slotSize
        while offset < bytes {
            step += 1
            let length = min(bytes - offset, slotSize)
            if rank == Int(root) { memcpy(rootData(step), buffer + offset, length) }
            arrive(state, step, "MPI_Bcast")
            if rank != Int(root) { memcpy(buffer + offset, rootData(step), length) }
            offset += length
        }
        return MPI_SUCCESS
    }

    private static func reduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: Int,
                               _ type: MPI_Datatype, _ op: MPI_Op, _ root: Int32, _ comm: MPI_Comm,
                               forward: () -> Int32) -> Int32 {
        guard let state = Communicators.served(comm) else { return forwarded(forward) }
        let rank = state.pointee.rank
        let members = state.pointee.members
        let elementSize = Datatypes.predefinedSize(type)
        // Nothing to combine: MPICH returns at once, and every member knows (the signatures match).
        if count == 0 && elementSize != nil { return forwarded(forward) }
        let everyone = root == Reduction.everyone
        let getsResult = everyone || Int(root) == rank
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        let input = inPlace ? UnsafeRawPointer(receive) : send
        var extent = elementSize ?? 0
        if let elementSize, Datatypes.builtinSize(type) == nil {
            var lowerBound: MPI_Count = 0, typeExtent: MPI_Count = 0
            PMPI_Type_get_extent_x(type, &lowerBound, &typeExtent)
            extent = lowerBound == 0 && typeExtent >= elementSize ? Int(typeExtent) : 0
        }
        // A receive buffer the member does not use (MPI_Reduce off the root) may be anything.
        let supported = count > 0 && extent > 0 && extent <= state.pointee.slotSize && Operators.supports(op, type)
            && (everyone || (root >= 0 && Int(root) < members)) && (!inPlace || getsResult)
            && input != nil && (!getsResult || (receive != nil && (inPlace || send != UnsafeRawPointer(receive))))
            && count <= Int.max / max(extent, 1)
        // Operators combine gap-free elements; a pair type with padding goes to MPICH's MPI_Reduce_local.
        let native = extent == elementSize

        let mine = StepDescriptor(call: (everyone ? Call.allreduce : Call.reduce).rawValue, amount: Int64(count),
                                  type: Int64(type), op: Int64(op), root: Int64(root), mode: supported ? 1 : 0)
        let perStep = max(state.pointee.slotSize / max(extent, 1), 1)
        var first = 0
        repeat {
            let step = state.pointee.steps + 1
            let elements = min(count - first, perStep)
            let slot = state.pointee.slot(rank, step: step)
            if supported, let input {
                memcpy(slot + CollectiveBlock.lineSize, input + first * extent, elements * extent)
            }
            if first == 0 { mine.write(to: slot) }
            arrive(state, step, everyone ? "MPI_Allreduce" : "MPI_Reduce")
            if first == 0 {
                for member in 0..<members {
                    let theirs = StepDescriptor(readingFrom: state.pointee.slot(member, step: step))
                    guard theirs.matches(mine), theirs.mode == 1 else { return forwarded(forward) }
                }
                Stats.count(.collShm)
            }
            if getsResult, let receive {
                let out = receive + first * extent
                let bytes = elements * extent
                memcpy(out, state.pointee.slot(0, step: step) + CollectiveBlock.lineSize, bytes)
                for member in 1..<members {
                    let contribution = UnsafeRawPointer(state.pointee.slot(member, step: step) + CollectiveBlock.lineSize)
                    if native {
                        _ = Operators.apply(op, type, target: out, origin: contribution, count: elements)
                    } else {
                        let code = PMPI_Reduce_local_c(contribution, out, MPI_Count(elements), type, op)
                        if code != MPI_SUCCESS { return communicatorError(comm, code) }
                    }
                }
            }
            first += elements
        } while first < count
        return MPI_SUCCESS
    }

    /// Arrives at step `step` of `state`'s communicator and waits for every member; a member that
    /// does not come within IVSHMEM_RMA_TIMEOUT ends the job with one line naming it and the call.
    @inline(__always)
    private static func arrive(_ state: UnsafeMutablePointer<CommunicatorState>, _ step: UInt64, _ call: StaticString) {
        state.pointee.steps = step
        let barrier = SharedBarrier(arrivals: UnsafeBufferPointer(state.pointee.arrivals))
        let outcome = barrier.arrive(participant: state.pointee.rank, generation: step, state.pointee.waitPolicy) {
            // A member waiting here may be the target an origin's staged request waits on.
            if ProgressAgent.isRunning { ProgressAgent.applyPending() }
        }
        if case .timedOut(let missing) = outcome {
            Runtime.current?.abortOnTimeout("\(call)", waitingFor: missing.map { state.pointee.worldRanks[$0] })
        }
    }

    private static func forwarded(_ forward: () -> Int32) -> Int32 {
        Stats.count(.collMpi)
        return forward()
    }
}
