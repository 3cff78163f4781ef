import CMPI

/// The one place that decides what goes through the region and what goes to MPICH.
///
/// - A window goes through the region when at least two of its members share a region
///   (`Windows.allocate`); otherwise MPICH allocates it as usual.
/// - A window over the program's own memory (MPI_Win_create) goes through the region only when
///   every member shares it (`Windows.create`): each member's memory is private, so origins stage
///   requests in the target's mailbox and the target applies them (StagedTransfer). With members
///   elsewhere, the whole window is MPICH's: one authority for its epochs.
/// - MPI_Win_allocate_shared (opt-in, IVSHMEM_RMA_SHARED_NODES=1) goes through the region when
///   every member shares it (`SharedWindows.allocate`): one block holds every segment, so members
///   load and store each other's memory, and the window is served like an allocate window.
/// - A dynamic window (MPI_Win_create_dynamic) always keeps MPICH's synchronization, and its
///   accumulates go to MPICH. Attach is a local call: any member may attach private memory at any
///   time, which only MPICH can reach, so no choice made at creation can promise that every
///   access of an epoch will be a region copy, and locks or fences split between the region and
///   MPICH would not exclude each other. Inside MPICH's granted epochs, a put or get whose target
///   address lies in a range the (co-resident) target attached from the region (MPI_Alloc_mem
///   memory) is a region copy, checked to stay inside that one range (`DynamicWindows.transfer`);
///   every other access is MPICH's, which sees every attachment.
/// - A data movement call goes through the region when its target's memory is mapped here
///   (`route`), and is handed to MPICH unchanged otherwise.
/// - Accumulates go through the region only in windows whose members all share the region:
///   there the region's per-target lock is the only way to update a target, so accumulates
///   from every origin are atomic with each other. In a window spanning servers MPICH applies
///   remote accumulates under its own lock, which a region copy could interleave with.
/// - Synchronization of a window whose members all share the region never touches MPICH; in a
///   window spanning servers MPICH is the single authority for every lock and epoch, and region
///   copies happen only inside epochs MPICH has granted.
/// - Collectives (MPI_Barrier, Bcast, Reduce, Allreduce, Scan, Exscan, Reduce_scatter(_block),
///   Gather(v), Allgather(v), Scatter(v), Alltoall(v,w)) go through the region on an intracommunicator of two
///   or more members that all share this rank's region, unless IVSHMEM_RMA_COLLECTIVES=0
///   (`collectivePath`). On one whose members sit on several servers, with at least two sharing
///   a region, barriers, broadcasts, reductions, gathers, allgathers and scatters run hierarchically: inside each region, then through MPICH among one leader per region
///   (HierarchicalCollectives; an operation that is not commutative goes to MPICH whole); the
///   others are MPICH's. On any other communicator MPICH runs them; inside a region without room
///   for the communicator's block, MPICH runs that region's part.
/// - On a served communicator a barrier is always the region's. Any other collective first
///   publishes what each member was asked (`RegionCollectives.StepDescriptor`) with its first
///   step; every member then reads every member's, and all take the same path: the region when
///   the calls match and the region can carry them (data: every buffer one gap-free run, or each
///   piece within one lane; a reduction: the same type and operation handle on every member, a
///   predefined operation MPICH defines for that type or a user's on a type without gaps),
///   MPICH's own collective otherwise (an argument MPICH must reject included).
enum Policy {
    enum Route {
        /// The target's window memory is mapped here: copy directly.
        case region(TargetSlot)
        /// The target's memory is private (MPI_Win_create), its mailbox is mapped here: stage the copy.
        case staged
        case mpich
        /// MPI_PROC_NULL: the call succeeds and moves nothing.
        case nowhere
        case invalidRank
    }

    @inline(__always)
    static func route(_ state: UnsafeMutablePointer<WindowState>, _ target: Int32) -> Route {
        if target == MPI_PROC_NULL { return .nowhere }
        guard target >= 0, target < state.pointee.memberCount else { return .invalidRank }
        let slot = state.pointee.targets[Int(target)]
        if slot.control == nil { return .mpich }
        return state.pointee.staged == nil ? .region(slot) : .staged
    }

    @inline(__always)
    static func routeAccumulate(_ state: UnsafeMutablePointer<WindowState>, _ target: Int32) -> Route {
        let route = route(state, target)
        if case .region = route, !state.pointee.regionSync { return .mpich }
        return route
    }

    /// World ranks of a communicator's members (-1 for members outside MPI_COMM_WORLD, such as
    /// spawned processes, which are never co-resident as far as we know).
    static func worldRanks(of comm: MPI_Comm, members: Int32) -> [Int32] {
        var group = MPI_GROUP_NULL, worldGroup = MPI_GROUP_NULL
        PMPI_Comm_group(comm, &group)
        PMPI_Comm_group(MPI_COMM_WORLD, &worldGroup)
        let ranks = [Int32](0..<members)
        var world = [Int32](repeating: MPI_UNDEFINED, count: Int(members))
        PMPI_Group_translate_ranks(group, members, ranks, worldGroup, &world)
        PMPI_Group_free(&group)
        PMPI_Group_free(&worldGroup)
        return world.map { $0 == MPI_UNDEFINED ? -1 : $0 }
    }

    /// Whether any window of this process can be served through the region: only when a rank of
    /// the job shares it. Otherwise every RMA call is MPICH's, straight through EntryPoints.
    static func mayServe(_ runtime: Runtime) -> Bool {
        runtime.region != nil && hasCoResidentPeer(Array(0..<runtime.worldSize), runtime)
    }

    enum CollectivePath: Equatable {
        /// Every member shares this rank's region.
        case region
        /// Members on several servers, some sharing a region: per member, its group (the members
        /// sharing one region; a member without one is a group of its own), numbered by first
        /// appearance in rank order.
        case hierarchical(groups: [Int32])
        case mpich(reason: String)
    }

    /// How a communicator's collectives run. Depends only on what every member knows alike (the
    /// members' world ranks, the co-residence groups of MPI_Init), so all members decide the same.
    static func collectivePath(isInter: Bool, worldRanks: [Int32], _ runtime: Runtime) -> CollectivePath {
        if isInter { return .mpich(reason: "an intercommunicator") }
        if worldRanks.count < 2 { return .mpich(reason: "a single member") }
        if worldRanks.allSatisfy({ runtime.isCoResident($0, runtime.worldRank) }) { return .region }
        var numbers: [Int64: Int32] = [:]
        let groups = worldRanks.enumerated().map { member, world in
            // A member without a region (or outside MPI_COMM_WORLD) is alone: a key no leader has.
            let leader = world >= 0 && world < runtime.worldSize ? runtime.leaders[Int(world)] : -1
            let key = leader >= 0 ? Int64(leader) : -1 - Int64(member)
            if let number = numbers[key] { return number }
            let number = Int32(numbers.count)
            numbers[key] = number
            return number
        }
        if numbers.count == worldRanks.count { return .mpich(reason: "no two members share a region") }
        return .hierarchical(groups: groups)
    }

    static func hasCoResidentPeer(_ worldRanks: [Int32], _ runtime: Runtime) -> Bool {
        worldRanks.contains { $0 != runtime.worldRank && runtime.isCoResident($0, runtime.worldRank) }
    }
}
