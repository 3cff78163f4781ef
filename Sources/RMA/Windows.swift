import CMPI
import SharedSync
import Glibc
import Region

/// Window life cycle: MPI_Win_allocate in the region, MPI_Win_free, and the attributes that must
/// read as they would under plain MPICH.
public enum Windows {
    /// What each member tells the others at creation (one allgather, 7 words a member).
    private struct Offer {
        static let width = 7
        var leader: Int64        // co-residence group leader's world rank, -1 for none
        var inRegion: Int64      // 1 when its memory is a region block, -1 when the region had no room
        var dataOffset: Int64
        var controlOffset: Int64
        var size: Int64
        var dispUnit: Int64
        var hasMemory: Int64     // 0 when neither the region nor private pages could hold its memory

        var words: [Int64] { [leader, inRegion, dataOffset, controlOffset, size, dispUnit, hasMemory] }
        init(_ words: ArraySlice<Int64>) {
            let w = Array(words)
            (leader, inRegion, dataOffset, controlOffset, size, dispUnit, hasMemory) = (w[0], w[1], w[2], w[3], w[4], w[5], w[6])
        }
        init(leader: Int64, inRegion: Int64, dataOffset: Int64, controlOffset: Int64, size: Int64, dispUnit: Int64,
             hasMemory: Bool) {
            (self.leader, self.inRegion, self.dataOffset, self.controlOffset, self.size, self.dispUnit) =
                (leader, inRegion, dataOffset, controlOffset, size, dispUnit)
            self.hasMemory = hasMemory ? 1 : 0
        }
        func reaches(_ other: Offer) -> Bool { inRegion == 1 && other.inRegion == 1 && leader >= 0 && leader == other.leader }
    }

    public static func allocate(size: MPI_Aint, dispUnit: MPI_Aint, info: MPI_Info, comm: MPI_Comm,
                         baseOut: UnsafeMutableRawPointer?, windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        // Every member must take the same path (the allgather below is collective), so the early
        // exits depend only on what all ranks know alike, or on arguments MPICH will reject.
        var isInter: Int32 = 0
        guard let runtime = Runtime.current, runtime.anyRanksCoResident, let baseOut, let windowOut,
              size >= 0, dispUnit > 0, PMPI_Comm_test_inter(comm, &isInter) == MPI_SUCCESS, isInter == 0 else {
            return passThrough(size, dispUnit, info, comm, baseOut, windowOut)
        }
        var rank: Int32 = 0, members: Int32 = 0
        PMPI_Comm_rank(comm, &rank)
        PMPI_Comm_size(comm, &members)
        let worldRanks = Policy.worldRanks(of: comm, members: members)
        let me = runtime.worldRank
        let controlSize = ControlBlock.size(members: Int(members))

        var block: Region.Block?
        var allocationError: Error?
        if let region = runtime.region, Policy.hasCoResidentPeer(worldRanks, runtime) {
            do {
                block = try region.allocate(bytes: roundUp(size, to: ControlBlock.lineSize) + controlSize,
                                            jobID: runtime.jobID, wait: runtime.waitPolicy)
            } catch {
                allocationError = error
            }
        }
        // Memory outside the region is mapped before the allgather: a member that gets none says
        // so there, so every member returns the error instead of entering MPI_Win_create alone.
        // Not MPI_Alloc_mem: MPICH 4.0.2's reports success for sizes malloc refuses (and returns
        // a pointer near 0).
        let privateMemory = block == nil && size > 0 ? mapPrivate(size) : nil
        let mapError = errno
        let hasMemory = block != nil || size == 0 || privateMemory != nil
        let mine = Offer(leader: Int64(runtime.leaders[Int(me)]), inRegion: block != nil ? 1 : allocationError == nil ? 0 : -1,
                         dataOffset: Int64(block?.offset ?? 0),
                         controlOffset: Int64((block?.offset ?? 0) + roundUp(size, to: ControlBlock.lineSize)),
                         size: Int64(size), dispUnit: Int64(dispUnit), hasMemory: hasMemory)
        var gathered = [Int64](repeating: 0, count: Offer.width * Int(members))
        PMPI_Allgather(mine.words, Int32(Offer.width), MPI_INT64_T, &gathered, Int32(Offer.width), MPI_INT64_T, comm)
        let offers = (0..<Int(members)).map { Offer(gathered[($0 * Offer.width)..<(($0 + 1) * Offer.width)]) }
        // One line per window, from the first member the region could not hold.
        let short = offers.indices.filter { offers[$0].inRegion == -1 }
        if let allocationError, short.first == Int(rank) {
            warn("rank \(me): window of \(size) bytes falls back to private memory on \(short.count) of \(members) member(s): "
                 + "\(allocationError)")
        }

        if let failed = offers.firstIndex(where: { $0.hasMemory == 0 }) {
            if let block { runtime.region?.free(block, jobID: runtime.jobID, wait: runtime.waitPolicy) }
            if let privateMemory { munmap(privateMemory, size) }
            if failed == Int(rank) { warn("rank \(me): MPI_Win_allocate of \(size) bytes: no memory to map (\(String(cString: strerror(mapError))))") }
            PMPI_Comm_call_errhandler(comm, MPI_ERR_NO_MEM)
            return MPI_ERR_NO_MEM
        }
        let anyPair = offers.indices.contains { i in offers.indices.contains { j in i != j && offers[i].reaches(offers[j]) } }
        // Every member creates the window alike once any pair is served, this one too when it has
        // no region (its memory is private; the others reach it through MPICH).
        let region = runtime.region
        guard anyPair else {
            if let block { runtime.region?.free(block, jobID: runtime.jobID, wait: runtime.waitPolicy) }
            if let privateMemory { munmap(privateMemory, size) }
            runtime.explain("window on a communicator of \(members) goes to MPICH: no two members share a region")
            return passThrough(size, dispUnit, info, comm, baseOut, windowOut)
        }

        let memory: WindowMemory
        var base: UnsafeMutableRawPointer?
        var control: UnsafeMutableRawPointer?
        if let block, let region {
            base = size > 0 ? region.address(offset: block.offset, length: size) : nil
            control = region.address(offset: Int(mine.controlOffset), length: controlSize)
            memory = .region(block)
            // Blocks are reused: a new window starts clean, as fresh pages would, and nobody sees a
            // previous window's lock or counters.
            if let start = region.address(offset: block.offset, length: block.size) { memset(start, 0, block.size) }
        } else {
            base = privateMemory
            memory = privateMemory.map { .mapped($0, bytes: size) } ?? .external
        }

        var handle = MPI_WIN_NULL
        let code = createInMPICH(base, size, dispUnit, info, comm, &handle)
        guard code == MPI_SUCCESS else {
            release(memory, runtime)
            return code
        }

        let targets = UnsafeMutablePointer<TargetSlot>.allocate(capacity: Int(members))
        for (member, offer) in offers.enumerated() {
            var slot = TargetSlot(data: nil, control: nil, size: Int(offer.size), dispUnit: Int(offer.dispUnit),
                                  worldRank: worldRanks[member])
            if mine.reaches(offer), let region, let peerControl = region.address(offset: Int(offer.controlOffset), length: controlSize) {
                slot.control = peerControl
                slot.data = offer.size > 0 ? region.address(offset: Int(offer.dataOffset), length: Int(offer.size)) : nil
                if offer.size > 0 && slot.data == nil { slot.control = nil }  // a bad offset never becomes a pointer
            }
            targets.advanced(by: member).initialize(to: slot)
        }
        let regionSync = register(handle: handle, rank: rank, members: members, comm: comm, targets: targets,
                                  control: control, memory: memory)
        let reachable = (0..<Int(members)).filter { targets[$0].data != nil || targets[$0].control != nil }
        runtime.explain("window 0x\(String(UInt32(bitPattern: handle), radix: 16)) of \(size) bytes in the region; "
                        + "members reachable through it: \(reachable.map(String.init).joined(separator: ",")) of \(members); "
                        + (regionSync ? "synchronization through the region" : "synchronization through MPICH (members on other servers)"))

        baseOut.storeBytes(of: base, as: UnsafeMutableRawPointer?.self)
        windowOut.pointee = handle
        return MPI_SUCCESS
    }

    /// Enters a window the engine serves in the table, with `targets` (one slot per member, now
    /// owned by the state). Synchronization goes through the region exactly when every member's
    /// control block is mapped here; returns whether it does.
    @discardableResult
    static func register(handle: MPI_Win, rank: Int32, members: Int32, comm: MPI_Comm,
                         targets: UnsafeMutablePointer<TargetSlot>, control: UnsafeMutableRawPointer?,
                         memory: WindowMemory, flavor: MPIR_Win_flavor = MPI_WIN_FLAVOR_ALLOCATE,
                         attachments: UnsafeMutablePointer<AttachmentTables>? = nil,
                         staged: UnsafeMutablePointer<StagedWindow>? = nil) -> Bool {
        let regionSync = (0..<Int(members)).allSatisfy { targets[$0].control != nil }
        let fenceArrivals = UnsafeMutableBufferPointer<UnsafeMutableRawPointer>.allocate(capacity: regionSync ? Int(members) : 0)
        if regionSync {
            for member in 0..<Int(members) { fenceArrivals[member] = targets[member].control! + ControlBlock.fenceArrival }
        }
        var group = MPI_GROUP_NULL
        PMPI_Comm_group(comm, &group)

        let state = UnsafeMutablePointer<WindowState>.allocate(capacity: 1)
        state.initialize(to: WindowState(
            handle: handle, rank: rank, memberCount: members, group: group, rankSequence: rankSequence(Int(members)),
            regionSync: regionSync,
            targets: targets, control: control, fenceArrivals: fenceArrivals, waitPolicy: Runtime.current!.waitPolicy,
            memory: memory,
            flavor: flavor, attachments: attachments, staged: staged,
            access: zeroed(UInt8.self, Int(members)), startedTargets: zeroed(Int32.self, Int(members)),
            postsConsumed: zeroed(UInt64.self, Int(members)), postedOrigins: zeroed(Int32.self, Int(members))))
        WindowTable.insert(state)
        Stats.count(.windowsShm)
        return regionSync
    }

    public static func free(_ windowInOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        guard let windowInOut, let state = WindowTable.lookup(windowInOut.pointee), let runtime = Runtime.current else {
            return PMPI_Win_free(windowInOut)
        }
        let handle = windowInOut.pointee
        // Staged: origins may still have epochs on us; then the progress agent lets go of the
        // window before anything of it goes away.
        if state.pointee.staged != nil {
            StagedWindows.depart([state], "MPI_Win_free")
            ProgressAgent.unregister(state)
        }
        // Out of the table first: once MPICH frees the handle, another thread may get it back.
        WindowTable.remove(handle)
        // MPICH's free is collective and waits for every member, so after it nobody touches our memory.
        let code = PMPI_Win_free(windowInOut)
        guard code == MPI_SUCCESS else {
            WindowTable.insert(state)
            return code
        }
        release(state.pointee.memory, runtime)
        if let attachments = state.pointee.attachments { DynamicWindows.release(attachments) }
        if let staged = state.pointee.staged { StagedWindows.release(staged, members: Int(state.pointee.memberCount)) }
        var group = state.pointee.group
        PMPI_Group_free(&group)
        let members = Int(state.pointee.memberCount)
        state.pointee.targets.deinitialize(count: members).deallocate()
        state.pointee.fenceArrivals.deallocate()
        state.pointee.access.deallocate()
        state.pointee.startedTargets.deallocate()
        state.pointee.postsConsumed.deallocate()
        state.pointee.postedOrigins.deallocate()
        state.pointee.rankSequence.deallocate()
        state.deinitialize(count: 1).deallocate()
        return MPI_SUCCESS
    }

    /// MPICH saw MPI_Win_create; the program asked for MPI_Win_allocate (or allocate_shared) and
    /// must read that back.
    public static func attribute(_ handle: MPI_Win, _ keyval: Int32, _ value: UnsafeMutableRawPointer?,
                          _ flag: UnsafeMutablePointer<Int32>?) -> Int32 {
        guard keyval == MPI_WIN_CREATE_FLAVOR, let state = WindowTable.lookup(handle), let value, let flag else {
            return PMPI_Win_get_attr(handle, keyval, value, flag)
        }
        value.storeBytes(of: flavorValues + Int(state.pointee.flavor.rawValue), as: UnsafeMutablePointer<Int32>.self)
        flag.pointee = 1
        return MPI_SUCCESS
    }

    /// The attribute value points at an int that outlives the call: entry f holds flavor f (1...4).
    nonisolated(unsafe) private static let flavorValues: UnsafeMutablePointer<Int32> = {
        let values = UnsafeMutablePointer<Int32>.allocate(capacity: 5)
        for flavor in 0..<5 { (values + flavor).initialize(to: Int32(flavor)) }
        return values
    }()

    private static func passThrough(_ size: MPI_Aint, _ dispUnit: MPI_Aint, _ info: MPI_Info, _ comm: MPI_Comm,
                                    _ baseOut: UnsafeMutableRawPointer?, _ windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        if Runtime.current != nil { Stats.count(.windowsMpi) }
        guard let unit = Int32(exactly: dispUnit) else { return PMPI_Win_allocate_c(size, dispUnit, info, comm, baseOut, windowOut) }
        return PMPI_Win_allocate(size, unit, info, comm, baseOut, windowOut)
    }

    /// MPICH's MPI_Win_create over memory the engine placed: the int form when the unit fits one
    /// (what an int call asked for), the large-count form otherwise. Either meets the other
    /// members' calls, whichever form they made.
    static func createInMPICH(_ base: UnsafeMutableRawPointer?, _ size: MPI_Aint, _ dispUnit: MPI_Aint, _ info: MPI_Info,
                              _ comm: MPI_Comm, _ windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        guard let unit = Int32(exactly: dispUnit) else { return PMPI_Win_create_c(base, size, dispUnit, info, comm, windowOut) }
        return PMPI_Win_create(base, size, unit, info, comm, windowOut)
    }

    private static func release(_ memory: WindowMemory, _ runtime: Runtime) {
        switch memory {
        case .region(let block):
            runtime.region?.free(block, jobID: runtime.jobID, wait: runtime.waitPolicy)
        case .mapped(let pages, let bytes):
            munmap(pages, bytes)
        case .external:
            break
        }
    }

    /// Zeroed private pages, nil when the kernel has none to give.
    private static func mapPrivate(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let pages = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        return pages == MAP_FAILED ? nil : pages
    }

    private static func rankSequence(_ count: Int) -> UnsafeMutablePointer<Int32> {
        let ranks = UnsafeMutablePointer<Int32>.allocate(capacity: max(count, 1))
        for rank in 0..<count { (ranks + rank).initialize(to: Int32(rank)) }
        return ranks
    }

    private static func zeroed<T: FixedWidthInteger>(_ type: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
        let buffer = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        buffer.initialize(repeating: 0, count: max(count, 1))
        return buffer
    }
}
