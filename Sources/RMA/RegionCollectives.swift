import CMPI
import Glibc
import SharedSync

/// The collectives inside one region: every member of the communicator shares it (Policy). Each
/// call is a sequence of barrier steps over the communicator's block (CollectiveBlock): each
/// member writes its slot of the step, arrives, and reads what the step's writers left. A
/// broadcast or reduction's first step also carries each member's `StepDescriptor`, from which
/// every member takes the same path; a message larger than a slot goes in further steps, the
/// next one written while the last one is read.
///
/// A reduction combines the members' contributions in rank order (s0 op s1 op ...) on every
/// member that needs the result, each member alike, so every member's result has the same bits.
/// A user's operation (MPI_Op_create) is served when every member names the same handle and a
/// type without gaps, and applied through MPI_Reduce_local.
enum RegionCollectives {
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

    enum Call: Int64 {
        case broadcast = 1, reduce, allreduce, gather, allgather, scatter, alltoall, scan, exscan, reduceScatter
    }

    /// What a reduction gives each member: the elements [first, first + count) of the vector
    /// combined from members 0..<contributors, written at the start of its receive buffer.
    struct Share {
        var first: Int
        var count: Int
        var contributors: Int
    }

    /// The reductions, by what each member keeps.
    enum Reduction {
        case reduce(root: Int32)
        case allreduce
        /// MPI_Scan: members 0...rank; MPI_Exscan: 0..<rank (nothing on member 0).
        case scan, exscan
        /// MPI_Reduce_scatter(_block): this member's block of the vector.
        case scatter(first: Int, count: Int)

        func share(rank: Int, members: Int, count: Int) -> Share? {
            switch self {
            case .reduce(let root): rank == Int(root) ? Share(first: 0, count: count, contributors: members) : nil
            case .allreduce: Share(first: 0, count: count, contributors: members)
            case .scan: Share(first: 0, count: count, contributors: rank + 1)
            case .exscan: rank == 0 ? nil : Share(first: 0, count: count, contributors: rank)
            case .scatter(let first, let blockCount): Share(first: first, count: blockCount, contributors: members)
            }
        }

        var name: StaticString {
            switch self {
            case .reduce: "MPI_Reduce"
            case .allreduce: "MPI_Allreduce"
            case .scan: "MPI_Scan"
            case .exscan: "MPI_Exscan"
            case .scatter: "MPI_Reduce_scatter"
            }
        }

        /// The descriptor's call and root fields.
        var call: (Int64, Int64) {
            switch self {
            case .reduce(let root): (Call.reduce.rawValue, Int64(root))
            case .allreduce: (Call.allreduce.rawValue, -1)
            case .scan: (Call.scan.rawValue, -1)
            case .exscan: (Call.exscan.rawValue, -1)
            case .scatter: (Call.reduceScatter.rawValue, -1)
            }
        }
    }

    /// A reduction to `root` (`Collectives.everyone`: an allreduce). Nil when the members agreed to
    /// hand the call to MPICH (Policy).
    static func reduce(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?,
                       _ receive: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype, _ op: MPI_Op,
                       _ root: Int32) -> Int32? {
        combine(state, send, receive, count, type, op, root == Collectives.everyone ? .allreduce : .reduce(root: root))
    }

    /// Any reduction of a `count`-element vector. Nil when the members agreed to hand the call to
    /// MPICH (Policy).
    static func combine(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?,
                        _ receive: UnsafeMutableRawPointer?, _ count: Int, _ type: MPI_Datatype, _ op: MPI_Op,
                        _ reduction: Reduction) -> Int32? {
        let comm = state.pointee.handle
        let rank = state.pointee.rank
        let members = state.pointee.members
        // Nothing to combine: MPICH returns at once, and every member knows (the counts match).
        if count == 0 { return nil }
        let share = reduction.share(rank: rank, members: members, count: count)
        let usesReceive = share.map { $0.count > 0 } ?? false
        let inPlace = send == UnsafeRawPointer(IVSHMEM_MPI_IN_PLACE)
        let input = inPlace ? UnsafeRawPointer(receive) : send
        let userOp = !Accumulate.isPredefined(op)
        // Bytes of one element in memory, for the copies; 0 when this call's type cannot be served.
        var extent = 0
        if let size = Datatypes.builtinSize(type) {
            extent = size
        } else if let size = Datatypes.predefinedSize(type) {  // a pair type, maybe with padding
            var lowerBound: MPI_Count = 0, typeExtent: MPI_Count = 0
            PMPI_Type_get_extent_x(type, &lowerBound, &typeExtent)
            extent = lowerBound == 0 && typeExtent >= size ? Int(typeExtent) : 0
        } else if userOp, let shape = Datatypes.shape(of: type), shape.contiguous {
            extent = shape.size  // a user's operation on a derived type without gaps
        }
        // Operators combine gap-free elements of the types they know; everything else (a pair type
        // with padding, a user's operation) is MPI_Reduce_local's.
        let native = !userOp && extent == Datatypes.predefinedSize(type) && Operators.supports(op, type)
        var validRoot = true
        var inPlaceAllowed = true
        if case .reduce(let root) = reduction {
            validRoot = root >= 0 && Int(root) < members
            inPlaceAllowed = Int(root) == rank
        }
        if let share, share.first < 0 || share.count < 0 || share.first > count - share.count { validRoot = false }
        // A receive buffer the member does not use (MPI_Reduce off the root) may be anything.
        let supported = count > 0 && extent > 0 && extent <= state.pointee.slotSize
            && (userOp || Operators.supports(op, type)) && validRoot && (!inPlace || inPlaceAllowed)
            && input != nil && (!usesReceive || (receive != nil && (inPlace || send != UnsafeRawPointer(receive))))
            && count <= Int.max / max(extent, 1)

        let (call, root) = reduction.call
        let mine = StepDescriptor(call: call, amount: Int64(count), type: Int64(type), op: Int64(op), root: root,
                                  mode: supported ? 1 : 0)
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
            arrive(state, step, reduction.name)
            if first == 0 {
                for member in 0..<members {
                    let theirs = StepDescriptor(readingFrom: state.pointee.slot(member, step: step))
                    guard theirs.matches(mine), theirs.mode == 1 else { return nil }
                }
            }
            // The part of this step's elements that is this member's share.
            if let share, let receive, share.contributors > 0 {
                let low = max(first, share.first), high = min(first + elements, share.first + share.count)
                if low < high {
                    let code = combine(into: receive + (low - share.first) * extent, elements: high - low,
                                       from: { state.pointee.slot($0, step: step) + CollectiveBlock.lineSize + (low - first) * extent },
                                       contributors: share.contributors, type, op, native: native, extent: extent)
                    if code != MPI_SUCCESS { return communicatorError(comm, code) }
                }
            }
            first += elements
        } while first < count
        return MPI_SUCCESS
    }

    /// out = part(0) op part(1) op ... op part(contributors - 1), element by element.
    @inline(__always)
    private static func combine(into out: UnsafeMutableRawPointer, elements: Int, from part: (Int) -> UnsafeMutableRawPointer,
                                contributors: Int, _ type: MPI_Datatype, _ op: MPI_Op, native: Bool, extent: Int) -> Int32 {
        if native {
            memcpy(out, part(0), elements * extent)
            for member in 1..<contributors { _ = Operators.apply(op, type, target: out, origin: part(member), count: elements) }
            return MPI_SUCCESS
        }
        // MPI_Reduce_local(in, inout) makes inout = in op inout: from the last member down, so a
        // non-commutative operation sees them in rank order.
        memcpy(out, part(contributors - 1), elements * extent)
        for member in (0..<(contributors - 1)).reversed() {
            let code = PMPI_Reduce_local_c(part(member), out, MPI_Count(elements), type, op)
            if code != MPI_SUCCESS { return code }
        }
        return MPI_SUCCESS
    }

    /// Arrives at step `step` of `state`'s communicator and waits for every member; a member that
    /// does not come within IVSHMEM_RMA_TIMEOUT ends the job with one line naming it and the call.
    static func barrier(_ state: UnsafeMutablePointer<CommunicatorState>) {
        arrive(state, state.pointee.steps + 1, "MPI_Barrier")
    }

    @inline(__always)
    static func arrive(_ state: UnsafeMutablePointer<CommunicatorState>, _ step: UInt64, _ call: StaticString) {
        state.pointee.steps = step
        let barrier = SharedBarrier(arrivals: UnsafeBufferPointer(state.pointee.arrivals))
        let outcome = barrier.arrive(participant: state.pointee.rank, generation: step, state.pointee.waitPolicy) {
            // A member waiting here may be the target an origin's staged request waits on.
            if ProgressAgent.servesStagedWindows { ProgressAgent.applyPending() }
        }
        if case .timedOut(let missing) = outcome {
            Runtime.current?.abortOnTimeout("\(call)", waitingFor: missing.map { state.pointee.worldRanks[$0] })
        }
    }
}
