import CMPI
import SharedSync
import Glibc
import Region

/// Window life cycle for MPI_Win_create: the program's memory stays where it is (private to its VM),
/// and each member gets a control block and a mailbox in the region, through which the others
/// reach its memory (StagedTransfer). When every member's memory already lies in the region (it
/// came from MPI_Alloc_mem, Memory.swift), origins copy straight into it instead, as in allocate
/// windows. Served only when every member shares the region; otherwise the window is MPICH's alone.
extension Windows {
    /// What each member tells the others at creation (one allgather).
    private struct MailboxOffer {
        static let width = 7
        var allocated: Int64     // 1 when this member got its block
        var blockOffset: Int64   // control block, then the mailbox (staged windows only)
        var stagingSize: Int64   // ring bytes = reply area bytes
        var size: Int64
        var dispUnit: Int64
        var leader: Int64
        var dataOffset: Int64    // direct windows: where the member's memory lies in the region

        var words: [Int64] { [allocated, blockOffset, stagingSize, size, dispUnit, leader, dataOffset] }
        init(_ words: ArraySlice<Int64>) {
            let w = Array(words)
            (allocated, blockOffset, stagingSize, size, dispUnit, leader, dataOffset) = (w[0], w[1], w[2], w[3], w[4], w[5], w[6])
        }
        init(allocated: Bool, blockOffset: Int, stagingSize: Int, size: Int, dispUnit: MPI_Aint, leader: Int32, dataOffset: Int) {
            (self.allocated, self.blockOffset, self.stagingSize) = (allocated ? 1 : 0, Int64(blockOffset), Int64(stagingSize))
            (self.size, self.dispUnit, self.leader, self.dataOffset) = (Int64(size), Int64(dispUnit), Int64(leader), Int64(dataOffset))
        }
    }

    public static func create(base: UnsafeMutableRawPointer?, size: MPI_Aint, dispUnit: MPI_Aint, info: MPI_Info, comm: MPI_Comm,
                              windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        // Every member takes the same path: the checks below depend only on what all members know alike.
        var isInter: Int32 = 0
        guard let runtime = Runtime.current, runtime.anyRanksCoResident, let windowOut, size >= 0, dispUnit > 0,
              PMPI_Comm_test_inter(comm, &isInter) == MPI_SUCCESS, isInter == 0, let region = runtime.region else {
            return passThroughCreate(base, size, dispUnit, info, comm, windowOut)
        }
        var rank: Int32 = 0, members: Int32 = 0
        PMPI_Comm_rank(comm, &rank)
        PMPI_Comm_size(comm, &members)
        let worldRanks = Policy.worldRanks(of: comm, members: members)
        guard members > 1, worldRanks.allSatisfy({ runtime.isCoResident($0, runtime.worldRank) }) else {
            runtime.explain("MPI_Win_create on a communicator of \(members) goes to MPICH: "
                            + (members > 1 ? "not every member shares the region" : "no peer to serve"))
            return passThroughCreate(base, size, dispUnit, info, comm, windowOut)
        }

        // Direct when every member's memory is already in the region: decided together.
        let dataOffset = size == 0 ? 0 : base.flatMap { Memory.regionOffset(of: $0, length: size) }
        var inRegion: Int32 = dataOffset == nil ? 0 : 1, membersInRegion: Int32 = 0
        PMPI_Allreduce(&inRegion, &membersInRegion, 1, MPI_INT, IVSHMEM_MPI_SUM, comm)
        let direct = membersInRegion == members
        let controlSize = ControlBlock.size(members: Int(members))
        let staging = direct ? 0 : runtime.config.stagingSize
        let mailboxSize = direct ? 0 : Mailbox.size(capacity: staging, replyCapacity: staging)
        let blockSize = controlSize + mailboxSize
        var block: Region.Block?
        var allocationError: Error?
        do {
            block = try region.allocate(bytes: blockSize, jobID: runtime.jobID, wait: runtime.waitPolicy)
        } catch {
            allocationError = error
        }
        let mine = MailboxOffer(allocated: block != nil, blockOffset: block?.offset ?? 0, stagingSize: staging, size: size,
                                dispUnit: dispUnit, leader: runtime.leaders[Int(runtime.worldRank)], dataOffset: dataOffset ?? 0)
        var gathered = [Int64](repeating: 0, count: MailboxOffer.width * Int(members))
        PMPI_Allgather(mine.words, Int32(MailboxOffer.width), MPI_INT64_T, &gathered, Int32(MailboxOffer.width), MPI_INT64_T, comm)
        let offers = (0..<Int(members)).map { MailboxOffer(gathered[($0 * MailboxOffer.width)..<(($0 + 1) * MailboxOffer.width)]) }
        if let allocationError, offers.firstIndex(where: { $0.allocated == 0 }) == Int(rank) {
            warn("rank \(runtime.worldRank): MPI_Win_create window of \(size) bytes goes to MPICH: the region has no room "
                 + "for its control block\(direct ? "" : " and mailbox"): \(allocationError)")
        }

        // Offers come through MPI and the region is the same for all, so every member reaches the same verdict.
        let mailboxes = UnsafeMutablePointer<Mailbox>.allocate(capacity: Int(members))
        var controls: [UnsafeMutableRawPointer] = []
        var memories: [UnsafeMutableRawPointer?] = []
        for offer in offers {
            let staging = Int(offer.stagingSize)
            let mailboxSize = direct ? 0 : Mailbox.size(capacity: staging, replyCapacity: staging)
            guard offer.allocated == 1, offer.leader == mine.leader, staging % 4096 == 0, direct || staging > 0,
                  let control = region.address(offset: Int(offer.blockOffset), length: controlSize + mailboxSize)
            else { break }
            let memory = direct && offer.size > 0 ? region.address(offset: Int(offer.dataOffset), length: Int(offer.size)) : nil
            if direct && offer.size > 0 && memory == nil { break }
            mailboxes.advanced(by: controls.count).initialize(to: Mailbox(start: control + controlSize, capacity: staging, replyCapacity: staging))
            controls.append(control)
            memories.append(memory)
        }
        guard controls.count == Int(members), let block else {
            mailboxes.deinitialize(count: controls.count).deallocate()
            if let block { region.free(block, jobID: runtime.jobID, wait: runtime.waitPolicy) }
            runtime.explain("MPI_Win_create goes to MPICH: a member has no mailbox in the region")
            return passThroughCreate(base, size, dispUnit, info, comm, windowOut)
        }
        // A new window starts clean, as fresh pages would: no previous window's lock, counters or records.
        memset(controls[Int(rank)], 0, blockSize)

        var handle = MPI_WIN_NULL
        let code = createInMPICH(base, size, dispUnit, info, comm, &handle)
        guard code == MPI_SUCCESS else {
            mailboxes.deinitialize(count: Int(members)).deallocate()
            region.free(block, jobID: runtime.jobID, wait: runtime.waitPolicy)
            return code
        }
        let targets = UnsafeMutablePointer<TargetSlot>.allocate(capacity: Int(members))
        for (member, offer) in offers.enumerated() {
            targets.advanced(by: member).initialize(to: TargetSlot(
                data: memories[member], control: controls[member], size: Int(offer.size), dispUnit: Int(offer.dispUnit),
                worldRank: worldRanks[member]))
        }
        if direct {
            mailboxes.deinitialize(count: Int(members)).deallocate()
            register(handle: handle, rank: rank, members: members, comm: comm, targets: targets, control: controls[Int(rank)],
                     memory: .region(block), flavor: MPI_WIN_FLAVOR_CREATE)
            runtime.explain("MPI_Win_create window 0x\(String(UInt32(bitPattern: handle), radix: 16)) of \(size) bytes: "
                            + "every member's memory is in the region (MPI_Alloc_mem): direct copies")
            windowOut.pointee = handle
            return MPI_SUCCESS
        }
        let staged = UnsafeMutablePointer<StagedWindow>.allocate(capacity: 1)
        let windowSize = size > 0 && base != nil ? size : 0
        let limits = Record.Limits(
            windowSize: windowSize, members: Int(members), replyCapacity: { mailboxes[$0].replyCapacity },
            elementSize: { PredefinedTypes.entry(at: $0)?.size }, isOperation: { Accumulate.isPredefined(MPI_Op(bitPattern: $0)) },
            noOperation: UInt32(bitPattern: IVSHMEM_MPI_NO_OP))
        staged.initialize(to: StagedWindow(
            base: size > 0 ? base : nil, size: windowSize, mailboxes: mailboxes,
            appended: zeroedWords(Int(members)),
            recordCopy: UnsafeMutableRawPointer.allocate(byteCount: Record.largestHeader, alignment: Mailbox.alignment),
            elementScratch: UnsafeMutableRawPointer.allocate(byteCount: mailboxes[Int(rank)].largestRecord, alignment: Mailbox.alignment),
            elementScratchSize: mailboxes[Int(rank)].largestRecord,
            limits: limits, applyLock: UnsafeMutableRawPointer(zeroedWords(1)),
            fetchLock: UnsafeMutableRawPointer(zeroedWords(1))))
        register(handle: handle, rank: rank, members: members, comm: comm, targets: targets, control: controls[Int(rank)],
                 memory: .region(block), flavor: MPI_WIN_FLAVOR_CREATE, staged: staged)
        if let state = WindowTable.lookup(handle) { ProgressAgent.register(state) }
        runtime.explain("MPI_Win_create window 0x\(String(UInt32(bitPattern: handle), radix: 16)) of \(size) bytes: "
                        + "staged copies through \(staging >> 10) KiB mailboxes in the region")
        windowOut.pointee = handle
        return MPI_SUCCESS
    }

    private static func passThroughCreate(_ base: UnsafeMutableRawPointer?, _ size: MPI_Aint, _ dispUnit: MPI_Aint, _ info: MPI_Info,
                                          _ comm: MPI_Comm, _ windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        if Runtime.current != nil { Stats.count(.windowsMpi) }
        return createInMPICH(base, size, dispUnit, info, comm, windowOut)
    }

    private static func zeroedWords(_ count: Int) -> UnsafeMutablePointer<UInt64> {
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: count)
        words.initialize(repeating: 0, count: count)
        return words
    }
}

enum StagedWindows {
    /// Marks this member done with each of `windows` (MPI_Win_free, MPI_Finalize), then applies
    /// what the other members send until every member is: an origin may still be in a passive
    /// epoch on us while we wait in the collective free, and it finishes only once we applied its
    /// records. Every member departs only after its own epochs completed, so once all have, no
    /// record comes any more. All marks come before any wait: members may free their windows in
    /// different orders at MPI_Finalize.
    static func depart(_ windows: [UnsafeMutablePointer<WindowState>], _ call: StaticString) {
        let departures = windows.compactMap { state in state.pointee.staged.map { (state, $0) } }
        for (state, staged) in departures { staged.pointee.mailboxes[Int(state.pointee.rank)].departed.store(1) }
        for (state, staged) in departures {
            let members = Int(state.pointee.memberCount)
            let allDeparted = {
                (0..<members).allSatisfy { staged.pointee.mailboxes[$0].departed.load() != 0 }
            }
            if allDeparted() { continue }
            let done = waitUntil(state.pointee.waitPolicy) {
                // Every window of this process: the members still working may be origins on another one.
                ProgressAgent.applyPending()
                return allDeparted()
            }
            if !done {
                let missing = (0..<members).filter { staged.pointee.mailboxes[$0].departed.load() == 0 }
                Runtime.current!.abortOnTimeout("\(call) (staged window: members still to arrive)",
                                                waitingFor: missing.map { state.pointee.targets[$0].worldRank })
            }
        }
    }

    /// Gives back what `Windows.create` allocated for the staged part of a window (the region block
    /// goes back with the window's memory).
    static func release(_ staged: UnsafeMutablePointer<StagedWindow>, members: Int) {
        staged.pointee.mailboxes.deinitialize(count: members).deallocate()
        staged.pointee.appended.deallocate()
        staged.pointee.applyLock.deallocate()
        staged.pointee.fetchLock.deallocate()
        staged.pointee.recordCopy.deallocate()
        staged.pointee.elementScratch.deallocate()
        staged.deinitialize(count: 1).deallocate()
    }
}
