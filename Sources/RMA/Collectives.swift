import CMPI

/// The served collectives' entry points. On a communicator whose members all share the region
/// the call runs inside it (RegionCollectives); on one whose members sit on several servers, a
/// barrier, broadcast, reduction, gather, allgather or scatter runs inside each region and through MPICH among one
/// leader per region (HierarchicalCollectives), the others are MPICH's; elsewhere everything is MPICH's (Policy).
public enum Collectives {
    public static func barrier(_ comm: MPI_Comm) -> Int32 {
        guard let state = Communicators.served(comm) else {
            Stats.count(.collMpi)
            return BlockingCalls.barrier(comm)
        }
        Stats.count(.collShm)
        if let hierarchy = state.pointee.hierarchy { return HierarchicalCollectives.barrier(hierarchy) }
        RegionCollectives.barrier(state)
        return MPI_SUCCESS
    }

    // Each entry point below serves both twins (COUNT int or MPI_Count, DISP int or MPI_Aint):
    // `forward` is the MPI library's own function of the twin called (bindings/mpi-functions.txt).

    public static func broadcast(_ buffer: UnsafeMutableRawPointer?, _ count: some BinaryInteger, _ type: MPI_Datatype,
                                 _ root: Int32, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        served(comm, forward: forward) { hierarchy, state in
            HierarchicalCollectives.broadcast(hierarchy, state.pointee.members, buffer, Int(count), type, root)
        } region: { state in
            RegionCollectives.broadcast(state, buffer, Int(count), type, root)
        }
    }

    public static func reduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: some BinaryInteger,
                              _ type: MPI_Datatype, _ op: MPI_Op, _ root: Int32, _ comm: MPI_Comm,
                              forward: () -> Int32) -> Int32 {
        served(comm, forward: forward) { hierarchy, state in
            HierarchicalCollectives.reduce(hierarchy, state.pointee.rank, state.pointee.members, send, receive, Int(count),
                                           type, op, root)
        } region: { state in
            RegionCollectives.reduce(state, send, receive, Int(count), type, op, root)
        }
    }

    /// An allreduce MPICH runs waits as BlockingCalls does while this process serves staged windows.
    public static func allreduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: some BinaryInteger,
                                 _ type: MPI_Datatype, _ op: MPI_Op, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        reduce(send, receive, count, type, op, everyone, comm) {
            guard ProgressAgent.servesStagedWindows, let small = Int32(exactly: count) else { return forward() }
            return BlockingCalls.allreduce(send, receive, small, type, op, comm)
        }
    }

    public static func scan(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: some BinaryInteger,
                            _ type: MPI_Datatype, _ op: MPI_Op, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        inRegion(comm, forward: forward) { RegionCollectives.combine($0, send, receive, Int(count), type, op, .scan) }
    }

    public static func exscan(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: some BinaryInteger,
                              _ type: MPI_Datatype, _ op: MPI_Op, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        inRegion(comm, forward: forward) { RegionCollectives.combine($0, send, receive, Int(count), type, op, .exscan) }
    }

    public static func reduceScatterBlock(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?,
                                          _ count: some BinaryInteger, _ type: MPI_Datatype, _ op: MPI_Op, _ comm: MPI_Comm,
                                          forward: () -> Int32) -> Int32 {
        inRegion(comm, forward: forward) { reduceScatter($0, send, receive, { _ in Int(count) }, type, op) }
    }

    public static func reduceScatter<Count: BinaryInteger>(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?,
                                                           _ counts: UnsafePointer<Count>?, _ type: MPI_Datatype,
                                                           _ op: MPI_Op, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        inRegion(comm, forward: forward) { state in
            counts.flatMap { counts in reduceScatter(state, send, receive, { Int(counts[$0]) }, type, op) }
        }
    }

    /// Member m's block of the vector has `count(m)` elements, in rank order. Nil (MPICH) for a negative count.
    private static func reduceScatter(_ state: UnsafeMutablePointer<CommunicatorState>, _ send: UnsafeRawPointer?,
                                      _ receive: UnsafeMutableRawPointer?, _ count: (Int) -> Int, _ type: MPI_Datatype,
                                      _ op: MPI_Op) -> Int32? {
        var total = 0, first = 0
        for member in 0..<state.pointee.members {
            let (sum, overflow) = total.addingReportingOverflow(count(member))
            guard count(member) >= 0, !overflow else { return nil }
            if member == state.pointee.rank { first = total }
            total = sum
        }
        return RegionCollectives.combine(state, send, receive, total, type, op,
                                         .scatter(first: first, count: count(state.pointee.rank)))
    }

    public static func gather(_ send: UnsafeRawPointer?, _ sendCount: some BinaryInteger, _ sendType: MPI_Datatype,
                              _ receive: UnsafeMutableRawPointer?, _ receiveCount: some BinaryInteger,
                              _ receiveType: MPI_Datatype, _ root: Int32, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        served(comm, forward: forward) { hierarchy, state in
            let (rank, members) = (state.pointee.rank, state.pointee.members)
            return root == everyone
                ? HierarchicalCollectives.allgather(hierarchy, rank, members, send, Int(sendCount), sendType, receive,
                                                    Int(receiveCount), receiveType, comm)
                : HierarchicalCollectives.gather(hierarchy, rank, members, send, Int(sendCount), sendType, receive,
                                                 Int(receiveCount), receiveType, root, comm)
        } region: { state in
            RegionCollectives.gather(state, send, Int(sendCount), sendType, receive, Int(receiveCount), receiveType, root)
        }
    }

    public static func allgather(_ send: UnsafeRawPointer?, _ sendCount: some BinaryInteger, _ sendType: MPI_Datatype,
                                 _ receive: UnsafeMutableRawPointer?, _ receiveCount: some BinaryInteger,
                                 _ receiveType: MPI_Datatype, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        gather(send, sendCount, sendType, receive, receiveCount, receiveType, everyone, comm, forward: forward)
    }

    public static func scatter(_ send: UnsafeRawPointer?, _ sendCount: some BinaryInteger, _ sendType: MPI_Datatype,
                               _ receive: UnsafeMutableRawPointer?, _ receiveCount: some BinaryInteger,
                               _ receiveType: MPI_Datatype, _ root: Int32, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        served(comm, forward: forward) { hierarchy, state in
            HierarchicalCollectives.scatter(hierarchy, state.pointee.rank, state.pointee.members, send, Int(sendCount),
                                            sendType, receive, Int(receiveCount), receiveType, root, comm)
        } region: { state in
            RegionCollectives.scatter(state, send, Int(sendCount), sendType, receive, Int(receiveCount), receiveType, root)
        }
    }

    public static func alltoall(_ send: UnsafeRawPointer?, _ sendCount: some BinaryInteger, _ sendType: MPI_Datatype,
                                _ receive: UnsafeMutableRawPointer?, _ receiveCount: some BinaryInteger,
                                _ receiveType: MPI_Datatype, _ comm: MPI_Comm, forward: () -> Int32) -> Int32 {
        inRegion(comm, forward: forward) {
            RegionCollectives.alltoall($0, send, Int(sendCount), sendType, receive, Int(receiveCount), receiveType)
        }
    }

    public static func gatherv<Count: BinaryInteger, Displacement: BinaryInteger>(
        _ send: UnsafeRawPointer?, _ sendCount: some BinaryInteger, _ sendType: MPI_Datatype,
        _ receive: UnsafeMutableRawPointer?, _ counts: UnsafePointer<Count>?, _ displacements: UnsafePointer<Displacement>?,
        _ receiveType: MPI_Datatype, _ root: Int32, _ comm: MPI_Comm, forward: () -> Int32
    ) -> Int32 {
        inRegion(comm, forward: forward) {
            let entries = Entries(counts, displacements)
            return RegionCollectives.gatherv($0, send, Int(sendCount), sendType, receive, counts: { entries.count($0) },
                                             displacements: { entries.displacement($0) }, receiveType, root)
        }
    }

    public static func allgatherv<Count: BinaryInteger, Displacement: BinaryInteger>(
        _ send: UnsafeRawPointer?, _ sendCount: some BinaryInteger, _ sendType: MPI_Datatype,
        _ receive: UnsafeMutableRawPointer?, _ counts: UnsafePointer<Count>?, _ displacements: UnsafePointer<Displacement>?,
        _ receiveType: MPI_Datatype, _ comm: MPI_Comm, forward: () -> Int32
    ) -> Int32 {
        gatherv(send, sendCount, sendType, receive, counts, displacements, receiveType, everyone, comm, forward: forward)
    }

    public static func scatterv<Count: BinaryInteger, Displacement: BinaryInteger>(
        _ send: UnsafeRawPointer?, _ counts: UnsafePointer<Count>?, _ displacements: UnsafePointer<Displacement>?,
        _ sendType: MPI_Datatype, _ receive: UnsafeMutableRawPointer?, _ receiveCount: some BinaryInteger,
        _ receiveType: MPI_Datatype, _ root: Int32, _ comm: MPI_Comm, forward: () -> Int32
    ) -> Int32 {
        inRegion(comm, forward: forward) {
            let entries = Entries(counts, displacements)
            return RegionCollectives.scatterv($0, send, counts: { entries.count($0) }, displacements: { entries.displacement($0) },
                                              sendType, receive, Int(receiveCount), receiveType, root)
        }
    }

    public static func alltoallv<Count: BinaryInteger, Displacement: BinaryInteger>(
        _ send: UnsafeRawPointer?, _ sendCounts: UnsafePointer<Count>?, _ sendDisplacements: UnsafePointer<Displacement>?,
        _ sendType: MPI_Datatype, _ receive: UnsafeMutableRawPointer?, _ receiveCounts: UnsafePointer<Count>?,
        _ receiveDisplacements: UnsafePointer<Displacement>?, _ receiveType: MPI_Datatype, _ comm: MPI_Comm,
        forward: () -> Int32
    ) -> Int32 {
        inRegion(comm, forward: forward) {
            let sent = Entries(sendCounts, sendDisplacements), received = Entries(receiveCounts, receiveDisplacements)
            return RegionCollectives.alltoallv($0, send, sendCounts: { sent.count($0) }, sendDisplacements: { sent.displacement($0) },
                                               sendType, receive, receiveCounts: { received.count($0) },
                                               receiveDisplacements: { received.displacement($0) }, receiveType)
        }
    }

    public static func alltoallw<Count: BinaryInteger, Displacement: BinaryInteger>(
        _ send: UnsafeRawPointer?, _ sendCounts: UnsafePointer<Count>?, _ sendDisplacements: UnsafePointer<Displacement>?,
        _ sendTypes: UnsafePointer<MPI_Datatype>?, _ receive: UnsafeMutableRawPointer?, _ receiveCounts: UnsafePointer<Count>?,
        _ receiveDisplacements: UnsafePointer<Displacement>?, _ receiveTypes: UnsafePointer<MPI_Datatype>?, _ comm: MPI_Comm,
        forward: () -> Int32
    ) -> Int32 {
        inRegion(comm, forward: forward) {
            let sent = Entries(sendCounts, sendDisplacements), received = Entries(receiveCounts, receiveDisplacements)
            return RegionCollectives.alltoallw($0, send, sendCounts: { sent.count($0) }, sendDisplacements: { sent.displacement($0) },
                                               sendTypes: sendTypes, receive, receiveCounts: { received.count($0) },
                                               receiveDisplacements: { received.displacement($0) }, receiveTypes: receiveTypes)
        }
    }

    /// A v-variant's counts and displacements, read as Int whatever their width; a NULL array
    /// makes every count -1, which the region refuses (MPICH reports the error).
    private struct Entries<Count: BinaryInteger, Displacement: BinaryInteger> {
        let counts: UnsafePointer<Count>?
        let displacements: UnsafePointer<Displacement>?

        init(_ counts: UnsafePointer<Count>?, _ displacements: UnsafePointer<Displacement>?) {
            (self.counts, self.displacements) = (counts, displacements)
        }

        @inline(__always) func count(_ member: Int) -> Int {
            guard let counts, displacements != nil else { return -1 }
            return Int(counts[member])
        }

        @inline(__always) func displacement(_ member: Int) -> Int { displacements.map { Int($0[member]) } ?? 0 }
    }

    /// A collective served only inside one region: on a communicator spanning servers it is MPICH's whole.
    @inline(__always)
    private static func inRegion(_ comm: MPI_Comm, forward: () -> Int32,
                                 _ serve: (UnsafeMutablePointer<CommunicatorState>) -> Int32?) -> Int32 {
        served(comm, forward: forward, hierarchical: { _, _ in nil }, region: serve)
    }

    /// A collective on a served communicator: `hierarchical` on one spanning servers, `region`
    /// inside one region; either's nil, or a communicator not served, hands it to MPICH.
    @inline(__always)
    private static func served(_ comm: MPI_Comm, forward: () -> Int32,
                               hierarchical: (UnsafeMutablePointer<Hierarchy>, UnsafeMutablePointer<CommunicatorState>) -> Int32?,
                               region: (UnsafeMutablePointer<CommunicatorState>) -> Int32?) -> Int32 {
        guard let state = Communicators.served(comm) else { return forwarded(forward) }
        let served = if let hierarchy = state.pointee.hierarchy { hierarchical(hierarchy, state) } else { region(state) }
        return counted(served, forward)
    }

    /// The root of an allreduce: every member gets the result.
    static let everyone: Int32 = -1

    /// A served call's result, or (nil) the call handed to MPICH.
    @inline(__always)
    private static func counted(_ served: Int32?, _ forward: () -> Int32) -> Int32 {
        guard let served else { return forwarded(forward) }
        Stats.count(.collShm)
        return served
    }

    private static func forwarded(_ forward: () -> Int32) -> Int32 {
        Stats.count(.collMpi)
        return forward()
    }
}
