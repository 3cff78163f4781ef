import CMPI
import Glibc
import Region
import SharedSync
import Synchronization

/// A served communicator's block in the region, allocated by member 0 at the communicator's first
/// collective and released by the last member to free the communicator:
///
///     0                               UInt64: members still holding the block
///     64 (1 + m)                      UInt64: member m's barrier arrival generation (SharedBarrier)
///     slots + (2 m + p) (64 + slot)   member m's slot of step parity p: a 64-byte step
///                                     descriptor (`StepDescriptor`), then `slot` bytes of data
///
/// Two slots a member: a member writes step s + 2 only after passing step s + 1's barrier, which
/// nobody reaches before having read everything of step s.
enum CollectiveBlock {
    static let lineSize = 64
    static let holders = 0

    static func arrival(_ member: Int) -> Int { lineSize * (1 + member) }
    static func slots(members: Int) -> Int { lineSize * (1 + members) }
    static func size(members: Int, slotSize: Int) -> Int { slots(members: members) + 2 * members * (lineSize + slotSize) }
}

/// One communicator as the collectives see it. Plain values and raw pointers (no reference
/// counting on the collective path); allocated at the communicator's first collective, released
/// when MPICH deletes its attributes (MPI_Comm_free, MPI_Finalize).
struct CommunicatorState {
    let handle: MPI_Comm
    let rank: Int
    let members: Int
    /// The block in this process's mapping; nil when MPICH serves this communicator's collectives.
    let block: UnsafeMutableRawPointer?
    let blockRecord: Region.Block?
    /// Data bytes of one slot; every member uses member 0's figure.
    let slotSize: Int
    let arrivals: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>
    let worldRanks: UnsafeMutablePointer<Int32>
    let waitPolicy: WaitPolicy
    /// Members on several servers: the local and leaders' communicators (block is nil then).
    let hierarchy: UnsafeMutablePointer<Hierarchy>?
    /// The identity its messages carry through the region, the same on every member; 0 when its
    /// point-to-point calls are MPICH's (Messages, Policy.messagePath).
    let messageContext: UInt64
    /// Barrier steps taken on this communicator; every member counts them alike. MPI forbids
    /// concurrent collectives on one communicator, so one thread at a time updates it.
    var steps: UInt64 = 0
    /// Receives in the engine's posted queue, which match against `members` and `worldRanks`:
    /// a communicator freed before they complete (MPI allows it) stays allocated until the last
    /// leaves the queue (`released`). Both guarded by `Messages.lock`.
    var postedReceives = 0
    var released = false

    /// Member `member`'s slot of step `step`: its descriptor line, then `slotSize` bytes of data.
    @inline(__always)
    func slot(_ member: Int, step: UInt64) -> UnsafeMutableRawPointer {
        let index = 2 * member + Int(step & 1)
        return block! + CollectiveBlock.slots(members: members) + index * (CollectiveBlock.lineSize + slotSize)
    }
}

/// Communicator handle -> state (HandleIndex), and the first-collective registration that fills it.
///
/// Every member registers a communicator at the same call (its first collective: MPI orders a
/// communicator's collectives alike on every member), so the registration may itself be
/// collective. It is not on the collective path afterwards: a lookup is two array indexings. The
/// state is removed by the delete callback of a private attribute, so a handle MPICH hands out
/// again after MPI_Comm_free never finds the old state.
enum Communicators {
    nonisolated(unsafe) private static let root = Atomic<HandleIndex.Root<CommunicatorState>?>(nil)
    /// Serializes table writers and the keyval's creation; never held across an MPI collective
    /// (threads registering different communicators in different orders on different ranks).
    private static let writers = Mutex(Int32(MPI_KEYVAL_INVALID))
    private static let warnedFull = Atomic(false)

    @inline(__always)
    static func lookup(_ comm: MPI_Comm) -> UnsafeMutablePointer<CommunicatorState>? {
        guard let root = root.load(ordering: .acquiring), let state = HandleIndex.entry(root, comm),
              state.pointee.handle == comm else { return nil }
        return state
    }

    /// The state of a communicator whose collectives go through the region, registering it at its
    /// first collective; nil when MPICH serves them.
    @inline(__always)
    static func served(_ comm: MPI_Comm) -> UnsafeMutablePointer<CommunicatorState>? {
        if let state = lookup(comm) { return state.pointee.block == nil && state.pointee.hierarchy == nil ? nil : state }
        return register(comm, atCreation: false)
    }

    /// A communicator just made (MPI_Comm_dup, split, create, ..., collective over it on every
    /// member): registered now, while point-to-point is served, so that every member agrees on
    /// its message identity before any message goes out on it. A communicator registered later
    /// (at its first collective) keeps MPICH's point-to-point: some member may have sent already.
    static func created(_ comm: MPI_Comm) {
        guard Messages.isActive, comm != MPI_COMM_NULL, lookup(comm) == nil else { return }
        _ = register(comm, atCreation: true)
    }

    /// The state of a communicator whose messages go through the region; nil when MPICH carries them.
    @inline(__always)
    static func messaging(_ comm: MPI_Comm) -> UnsafeMutablePointer<CommunicatorState>? {
        guard let state = lookup(comm), state.pointee.messageContext != 0 else { return nil }
        return state
    }

    private static let lastContext = Atomic<UInt64>(0)

    /// Decides, identically on every member (from what every rank knows alike: the members' world
    /// ranks and the co-residence groups of MPI_Init), whether the region serves `comm`; when it
    /// does, member 0 allocates the block and broadcasts where it is.
    @inline(never)
    private static func register(_ comm: MPI_Comm, atCreation: Bool) -> UnsafeMutablePointer<CommunicatorState>? {
        // A rank without a region still takes part: its communicators may be served elsewhere.
        guard let runtime = Runtime.current, runtime.config.collectives || atCreation, runtime.anyRanksCoResident,
              comm != MPI_COMM_NULL else { return nil }
        var isInter: Int32 = 0, rank: Int32 = 0, members: Int32 = 0
        guard PMPI_Comm_test_inter(comm, &isInter) == MPI_SUCCESS, PMPI_Comm_rank(comm, &rank) == MPI_SUCCESS,
              PMPI_Comm_size(comm, &members) == MPI_SUCCESS else { return nil }
        let worldRanks = Policy.worldRanks(of: comm, members: members)
        var reason: String?
        switch Policy.collectivePath(isInter: isInter != 0, worldRanks: worldRanks, runtime) {
        case .mpich(let why): reason = why
        case .region: break
        case .hierarchical(let groups):
            // Registered at its first collective, splitting it then, as without point-to-point.
            if atCreation { return nil }
            let hierarchy = makeHierarchy(comm, rank: Int(rank), groups: groups)
            if rank == 0 {
                runtime.explain("communicator of \(members) member(s) on \(Set(groups).count) servers: collectives inside each "
                                + "region, and through MPICH among one leader per region")
            }
            let state = makeState(comm, rank: Int(rank), members: Int(members), block: nil, blockRecord: nil, slotSize: 0,
                                  worldRanks: worldRanks, runtime.waitPolicy, hierarchy: hierarchy, messageContext: 0)
            insert(state)
            return state
        }
        // Member 0's: the block's offset, size and slot size, and the message identity.
        var placement: [Int64] = [-1, 0, 0, 0]
        // Every member shares this rank's region here, so this rank has one.
        let region = runtime.region
        let collectivesHere = reason == nil && runtime.config.collectives
        let messagesHere = reason == nil && atCreation
        if collectivesHere || messagesHere, let region {
            if rank == 0, messagesHere {
                let serial = lastContext.wrappingAdd(1, ordering: .relaxed).newValue
                placement[3] = Int64(bitPattern: UInt64(runtime.worldRank) << 40 | serial)
            }
            if rank == 0, collectivesHere {
                let slotSize = runtime.config.collectiveSlot
                let bytes = CollectiveBlock.size(members: Int(members), slotSize: slotSize)
                do {
                    let block = try region.allocate(bytes: bytes, jobID: runtime.jobID, wait: runtime.waitPolicy)
                    if let start = region.address(offset: block.offset, length: block.size) {
                        memset(start, 0, block.size)
                        SharedWord(at: start + CollectiveBlock.holders).store(UInt64(members))
                        placement[0...2] = [Int64(block.offset), Int64(block.size), Int64(slotSize)]
                    }
                } catch {
                    // One warning a process: a program making many communicators in a full region
                    // would otherwise print one a communicator.
                    if !warnedFull.exchange(true, ordering: .relaxed) || runtime.config.verbose {
                        warn("rank \(runtime.worldRank): collectives on a communicator of \(members) go to MPICH: \(error)")
                    }
                }
            }
            PMPI_Bcast(&placement, 4, MPI_INT64_T, 0, comm)
        }
        let blockRecord = placement[0] >= 0 ? Region.Block(offset: Int(placement[0]), size: Int(placement[1])) : nil
        let slotSize = Int(placement[2])
        // Member 0's figures came through MPICH, not the region; still, a pointer is only made
        // from an offset that lies inside the region with the whole layout.
        var block: UnsafeMutableRawPointer?
        if let region, let blockRecord, slotSize > 0, slotSize % CollectiveBlock.lineSize == 0,
           blockRecord.size >= CollectiveBlock.size(members: Int(members), slotSize: slotSize) {
            block = region.address(offset: blockRecord.offset, length: blockRecord.size)
        }
        let messageContext = UInt64(bitPattern: placement[3])
        if rank == 0 {
            let collectivesWhy = reason ?? (runtime.config.collectives ? "no room in the region" : "IVSHMEM_RMA_COLLECTIVES=0")
            let messagesWhy = reason ?? "made before point-to-point was served, or by a call the layer does not see"
            runtime.explain("communicator of \(members) member(s): collectives "
                            + (block != nil ? "through the region" : "go to MPICH (\(collectivesWhy))")
                            + (Messages.isActive ? "; point-to-point " + (messageContext != 0 ? "through the region" : "goes to MPICH (\(messagesWhy))") : ""))
        }
        let state = makeState(comm, rank: Int(rank), members: Int(members), block: block, blockRecord: blockRecord,
                              slotSize: slotSize, worldRanks: worldRanks, runtime.waitPolicy, hierarchy: nil,
                              messageContext: messageContext)
        insert(state)
        return block == nil ? nil : state
    }

    /// The local communicator of the members sharing this rank's region (`groups[m]`: member m's
    /// group, numbered by first appearance) and the leaders' one, split from `comm` (collective);
    /// then the local one's own registration (collective over it).
    private static func makeHierarchy(_ comm: MPI_Comm, rank: Int, groups: [Int32]) -> UnsafeMutablePointer<Hierarchy> {
        let members = groups.count
        let groupOf = UnsafeMutablePointer<Int32>.allocate(capacity: members)
        let localRankOf = UnsafeMutablePointer<Int32>.allocate(capacity: members)
        var sizes = [Int32](repeating: 0, count: Int(groups.max()!) + 1)
        for (member, group) in groups.enumerated() {
            groupOf[member] = group
            localRankOf[member] = sizes[Int(group)]
            sizes[Int(group)] += 1
        }
        var local = MPI_COMM_NULL, leaders = MPI_COMM_NULL
        PMPI_Comm_split(comm, groups[rank], Int32(rank), &local)
        PMPI_Comm_split(comm, localRankOf[rank] == 0 ? 0 : MPI_UNDEFINED, Int32(rank), &leaders)
        _ = served(local)
        let groupStart = UnsafeMutablePointer<Int>.allocate(capacity: sizes.count + 1)
        groupStart[0] = 0
        for (group, size) in sizes.enumerated() { groupStart[group + 1] = groupStart[group] + Int(size) }
        let hierarchy = UnsafeMutablePointer<Hierarchy>.allocate(capacity: 1)
        hierarchy.initialize(to: Hierarchy(local: local, leaders: leaders, groupOf: groupOf, localRankOf: localRankOf,
                                           group: groups[rank], groupStart: groupStart, groupCount: sizes.count,
                                           leaderCounts: .allocate(capacity: sizes.count),
                                           leaderDisplacements: .allocate(capacity: sizes.count)))
        return hierarchy
    }

    private static func makeState(_ comm: MPI_Comm, rank: Int, members: Int, block: UnsafeMutableRawPointer?,
                                  blockRecord: Region.Block?, slotSize: Int, worldRanks: [Int32],
                                  _ waitPolicy: WaitPolicy,
                                  hierarchy: UnsafeMutablePointer<Hierarchy>?,
                                  messageContext: UInt64) -> UnsafeMutablePointer<CommunicatorState> {
        let arrivals = UnsafeMutableBufferPointer<UnsafeMutableRawPointer>.allocate(capacity: block == nil ? 0 : members)
        if let block {
            for member in 0..<members { arrivals[member] = block + CollectiveBlock.arrival(member) }
        }
        let ranks = UnsafeMutablePointer<Int32>.allocate(capacity: members)
        ranks.initialize(from: worldRanks, count: members)
        let state = UnsafeMutablePointer<CommunicatorState>.allocate(capacity: 1)
        state.initialize(to: CommunicatorState(handle: comm, rank: rank, members: members, block: block,
                                               blockRecord: block == nil ? nil : blockRecord, slotSize: slotSize,
                                               arrivals: arrivals, worldRanks: ranks, waitPolicy: waitPolicy,
                                               hierarchy: hierarchy, messageContext: messageContext))
        return state
    }

    /// Enters the state in the table and hangs it on the communicator as an attribute, whose
    /// delete callback takes it out again.
    private static func insert(_ state: UnsafeMutablePointer<CommunicatorState>) {
        let keyval = writers.withLock { keyval in
            if keyval == MPI_KEYVAL_INVALID {
                PMPI_Comm_create_keyval(nil, { _, _, attribute, _ in
                    Communicators.release(attribute?.assumingMemoryBound(to: CommunicatorState.self))
                    return MPI_SUCCESS
                }, &keyval, nil)
            }
            let published = root.load(ordering: .relaxed)
            let table = HandleIndex.store(state, state.pointee.handle, in: published)
            if published == nil { root.store(table, ordering: .releasing) }
            return keyval
        }
        PMPI_Comm_set_attr(state.pointee.handle, keyval, UnsafeMutableRawPointer(state))
    }

    /// The communicator is being freed (or MPI finalized): forget it, and give the block back if
    /// this is the last member holding it. After MPI_Finalize began, the region is already given back.
    private static func release(_ state: UnsafeMutablePointer<CommunicatorState>?) {
        guard let state else { return }
        writers.withLock { _ in
            if let root = root.load(ordering: .relaxed), HandleIndex.entry(root, state.pointee.handle) == state {
                _ = HandleIndex.store(nil, state.pointee.handle, in: root)
            }
        }
        if let runtime = Runtime.current, let region = runtime.region, let block = state.pointee.block,
           let record = state.pointee.blockRecord,
           SharedWord(at: block + CollectiveBlock.holders).add(UInt64.max) == 0 {
            _ = region.free(record, jobID: runtime.jobID, wait: runtime.waitPolicy)
        }
        if let hierarchy = state.pointee.hierarchy {
            // Once MPI_Finalize began, MPICH frees them itself.
            if Runtime.current != nil {
                var local = hierarchy.pointee.local, leaders = hierarchy.pointee.leaders
                PMPI_Comm_free(&local)
                if leaders != MPI_COMM_NULL { PMPI_Comm_free(&leaders) }
            }
            hierarchy.pointee.groupOf.deallocate()
            hierarchy.pointee.localRankOf.deallocate()
            hierarchy.pointee.groupStart.deallocate()
            hierarchy.pointee.leaderCounts.deallocate()
            hierarchy.pointee.leaderDisplacements.deallocate()
            free(hierarchy.pointee.scratch)
            hierarchy.deinitialize(count: 1)
            hierarchy.deallocate()
        }
        let inUse = Messages.lock.withLock { _ in
            state.pointee.released = true
            return state.pointee.postedReceives > 0
        }
        if !inUse { deallocate(state) }
    }

    /// The last of a released communicator's memory; under `Messages.lock` when receives held it.
    static func deallocate(_ state: UnsafeMutablePointer<CommunicatorState>) {
        state.pointee.arrivals.deallocate()
        state.pointee.worldRanks.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// At MPI_Finalize, before the region blocks are given back: communicators the program did not
    /// free stop resolving to them (MPICH deletes their attributes later, in PMPI_Finalize).
    static func removeAll() {
        writers.withLock { _ in
            if let root = root.load(ordering: .relaxed) { HandleIndex.clearAll(root) }
        }
    }
}
