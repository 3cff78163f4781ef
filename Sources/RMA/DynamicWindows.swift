import Atomics
import CMPI
import Glibc
import Region
import SharedSync
import Synchronization

/// Every member's published attachments, as one window member sees them. Plain pointers, read
/// on the hot path without reference counting; built at MPI_Win_create_dynamic.
struct AttachmentTables {
    /// Each member's attachment table in this process's mapping; nil when the member does not
    /// share this rank's region (or has no table).
    let tables: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Each member's region mapping base address: its displacement d (an address, from
    /// MPI_Get_address) lies at region offset d - base.
    let bases: UnsafeMutablePointer<UInt>
    /// This rank's own table, written by attach and detach.
    let own: UnsafeMutableRawPointer?
    /// This process's mapping of the region, kept here so the hot path touches no class.
    let regionBase: UnsafeMutableRawPointer
    let regionSize: Int
}

/// An attachment table: one region page its owner writes under a sequence lock, so a peer never
/// believes a half-written entry. Every word is read as untrusted and bounds-checked before use.
///
///     0          sequence   odd while the owner rewrites the entries
///     8          count      entries in use
///     16 + 16 i  offset     region offset of attached range i
///     24 + 16 i  length     its length in bytes
enum AttachmentTable {
    static let bytes = 4096
    static let capacity = (bytes - 16) / 16
    /// Reads that find the owner mid-write this many times in a row give up: MPICH serves the access.
    static let readAttempts = 64

    private static func word(_ table: UnsafeMutableRawPointer, _ offset: Int) -> UnsafeAtomic<UInt64> {
        UnsafeAtomic(at: (table + offset).assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    /// The attached range [offset, offset + length) containing region offset `offset`, if any.
    static func lookup(_ table: UnsafeMutableRawPointer, containing offset: Int) -> (offset: Int, length: Int)? {
        let sequence = word(table, 0)
        for _ in 0..<readAttempts {
            let before = sequence.load(ordering: .acquiring)
            if before & 1 == 1 { continue }
            let count = min(Int(clamping: word(table, 8).load(ordering: .relaxed)), capacity)
            var found: (offset: Int, length: Int)?
            for entry in 0..<count {
                let start = Int(clamping: word(table, 16 + 16 * entry).load(ordering: .relaxed))
                let length = Int(clamping: word(table, 24 + 16 * entry).load(ordering: .relaxed))
                if offset >= start, offset - start < length {
                    found = (start, length)
                    break
                }
            }
            Atomics.atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == before { return found }
        }
        return nil
    }

    /// Serializes this process's writers (attach and detach may run on several threads).
    private static let writers = Mutex(())

    /// Rewrites the owner's entries inside one odd/even sequence step.
    private static func update(_ table: UnsafeMutableRawPointer, _ edit: (_ count: Int) -> Int) {
        writers.withLock { _ in
            let sequence = word(table, 0)
            let start = sequence.load(ordering: .relaxed)
            sequence.store(start | 1, ordering: .relaxed)
            Atomics.atomicMemoryFence(ordering: .releasing)
            let count = min(Int(clamping: word(table, 8).load(ordering: .relaxed)), capacity)
            word(table, 8).store(UInt64(edit(count)), ordering: .relaxed)
            ReleaseFence.beforeRelease()
            sequence.store((start | 1) + 1, ordering: .releasing)
        }
    }

    /// Adds a range; false when the table is full.
    static func add(_ table: UnsafeMutableRawPointer, offset: Int, length: Int) -> Bool {
        var added = false
        update(table) { count in
            guard count < capacity else { return count }
            word(table, 16 + 16 * count).store(UInt64(offset), ordering: .relaxed)
            word(table, 24 + 16 * count).store(UInt64(length), ordering: .relaxed)
            added = true
            return count + 1
        }
        return added
    }

    /// Removes the range starting at `offset`, moving the last entry into its place.
    static func remove(_ table: UnsafeMutableRawPointer, offset: Int) {
        update(table) { count in
            guard let entry = (0..<count).first(where: { word(table, 16 + 16 * $0).load(ordering: .relaxed) == UInt64(offset) }) else {
                return count
            }
            for field in [16, 24] {
                word(table, field + 16 * entry).store(word(table, field + 16 * (count - 1)).load(ordering: .relaxed), ordering: .relaxed)
            }
            return count - 1
        }
    }
}

/// MPI_Win_create_dynamic, MPI_Win_attach, MPI_Win_detach. MPICH always has the whole window
/// (every attach goes to it too), so anything not served here is correct through it. Each member
/// publishes the attached ranges that lie in the region in its attachment table; a put or get
/// whose target address falls in such a range of a co-resident member is a region copy, checked
/// to stay inside that one range. Synchronization and accumulates stay MPICH's (Policy.swift).
public enum DynamicWindows {
    public static func create(_ info: MPI_Info, _ comm: MPI_Comm, _ windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        let code = PMPI_Win_create_dynamic(info, comm, windowOut)
        guard let runtime = Runtime.current else { return code }
        // Every member takes the same path: the allgather below is collective.
        var isInter: Int32 = 0
        guard code == MPI_SUCCESS, runtime.anyRanksCoResident, let windowOut,
              PMPI_Comm_test_inter(comm, &isInter) == MPI_SUCCESS, isInter == 0 else {
            Stats.count(.windowsMpi)
            return code
        }
        var rank: Int32 = 0, members: Int32 = 0
        PMPI_Comm_rank(comm, &rank)
        PMPI_Comm_size(comm, &members)
        let worldRanks = Policy.worldRanks(of: comm, members: members)
        let me = runtime.worldRank

        var block: Region.Block?
        if let region = runtime.region, Policy.hasCoResidentPeer(worldRanks, runtime) {
            do {
                block = try region.allocate(bytes: AttachmentTable.bytes, jobID: runtime.jobID, wait: runtime.waitPolicy)
                if let table = region.address(offset: block!.offset, length: AttachmentTable.bytes) { memset(table, 0, AttachmentTable.bytes) }
            } catch {
                warn("rank \(me): dynamic window without an attachment table, its memory is reached through MPICH: \(error)")
            }
        }
        let base = runtime.region.map { UInt(bitPattern: $0.mapping.base) } ?? 0
        let mine: [Int64] = [Int64(runtime.leaders[Int(me)]), Int64(block?.offset ?? -1), Int64(bitPattern: UInt64(base))]
        var gathered = [Int64](repeating: 0, count: 3 * Int(members))
        PMPI_Allgather(mine, 3, MPI_INT64_T, &gathered, 3, MPI_INT64_T, comm)

        let published = (0..<Int(members)).filter { gathered[3 * $0] >= 0 && gathered[3 * $0 + 1] >= 0 }
        let anyPair = published.contains { i in published.contains { j in i != j && gathered[3 * i] == gathered[3 * j] } }
        guard anyPair, let region = runtime.region else {
            if let block { runtime.region?.free(block, jobID: runtime.jobID, wait: runtime.waitPolicy) }
            runtime.explain("dynamic window on a communicator of \(members) goes to MPICH: no two members share a region")
            Stats.count(.windowsMpi)
            return code
        }

        let tables = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: Int(members))
        let bases = UnsafeMutablePointer<UInt>.allocate(capacity: Int(members))
        let targets = UnsafeMutablePointer<TargetSlot>.allocate(capacity: Int(members))
        for member in 0..<Int(members) {
            let reachable = block != nil && published.contains(member) && gathered[3 * member] == mine[0]
            (tables + member).initialize(to: reachable
                ? region.address(offset: Int(gathered[3 * member + 1]), length: AttachmentTable.bytes) : nil)
            (bases + member).initialize(to: UInt(bitPattern: Int(gathered[3 * member + 2])))
            (targets + member).initialize(to: TargetSlot(data: nil, control: nil, size: 0, dispUnit: 1, worldRank: worldRanks[member]))
        }
        let attachments = UnsafeMutablePointer<AttachmentTables>.allocate(capacity: 1)
        attachments.initialize(to: AttachmentTables(
            tables: tables, bases: bases, own: block.flatMap { region.address(offset: $0.offset, length: AttachmentTable.bytes) },
            regionBase: region.mapping.base, regionSize: region.size))
        Windows.register(handle: windowOut.pointee, rank: rank, members: members, comm: comm, targets: targets, control: nil,
                         memory: block.map { .region($0) } ?? .external, flavor: MPI_WIN_FLAVOR_DYNAMIC,
                         attachments: attachments)
        runtime.explain("dynamic window 0x\(String(UInt32(bitPattern: windowOut.pointee), radix: 16)): puts and gets to memory "
                        + "co-resident members attach from the region are copies; synchronization and accumulates through MPICH")
        return code
    }

    public static func attach(_ handle: MPI_Win, _ base: UnsafeMutableRawPointer?, _ size: MPI_Aint) -> Int32 {
        let code = PMPI_Win_attach(handle, base, size)
        guard code == MPI_SUCCESS, let base, size > 0, let state = WindowTable.lookup(handle),
              let own = state.pointee.attachments?.pointee.own, let offset = Memory.regionOffset(of: base, length: size) else {
            return code
        }
        if !AttachmentTable.add(own, offset: offset, length: size) {
            Runtime.current?.explain("attachment table of dynamic window 0x\(String(UInt32(bitPattern: handle), radix: 16)) is full "
                                     + "(\(AttachmentTable.capacity) ranges): accesses to this one go through MPICH")
        }
        return code
    }

    public static func detach(_ handle: MPI_Win, _ base: UnsafeRawPointer?) -> Int32 {
        // Unpublished first: once MPICH lets go of the memory, the program may free it.
        if let base, let state = WindowTable.lookup(handle), let own = state.pointee.attachments?.pointee.own,
           let offset = Memory.regionOffset(of: base, length: 0) {
            AttachmentTable.remove(own, offset: offset)
        }
        return PMPI_Win_detach(handle, base)
    }

    /// A put or get that Policy.route sent to MPICH on a dynamic window: a region copy when the
    /// target shares the region and the address lies in a range it attached from the region (the
    /// whole access must stay in that range: MPI_ERR_RMA_RANGE otherwise, nothing written).
    @inline(never)  // off the direct path's frame (DataMovement.transfer)
    static func transfer(_ direction: DataMovement.Direction, _ binding: DataMovement.Binding,
                         _ origin: UnsafeMutableRawPointer?, _ originCount: Int,
                         _ originType: MPI_Datatype, _ state: UnsafeMutablePointer<WindowState>,
                         _ attachments: UnsafeMutablePointer<AttachmentTables>, _ target: Int32, _ displacement: MPI_Aint,
                         _ targetCount: Int, _ targetType: MPI_Datatype) -> Int32 {
        guard let (slot, offsetInRange) = resolve(attachments, target, displacement) else {
            return DataMovement.forward(direction, binding, origin, originCount, originType, target, displacement, targetCount,
                                            targetType, state.pointee.handle)
        }
        let code = DataMovement.move(direction, origin, originCount, originType, state, target, slot, offsetInRange,
                                     targetCount, targetType)
        if code == MPI_SUCCESS { Stats.count(direction == .put ? .putShm : .getShm) }
        return code
    }

    /// The attached range holding `displacement` as a one-byte-unit slot, and the offset in it.
    private static func resolve(_ attachments: UnsafeMutablePointer<AttachmentTables>, _ target: Int32,
                                _ displacement: MPI_Aint) -> (TargetSlot, MPI_Aint)? {
        guard let table = attachments.pointee.tables[Int(target)] else { return nil }
        let regionSize = attachments.pointee.regionSize
        let address = UInt(bitPattern: displacement), base = attachments.pointee.bases[Int(target)]
        guard address >= base, address - base < UInt(regionSize) else { return nil }
        let offset = Int(address - base)
        // The entry is the target's word: believed only when it lies inside the mapping.
        guard let range = AttachmentTable.lookup(table, containing: offset), range.offset >= 0, range.length > 0,
              range.offset <= regionSize, range.length <= regionSize - range.offset else { return nil }
        let slot = TargetSlot(data: attachments.pointee.regionBase + range.offset, control: nil, size: range.length,
                              dispUnit: 1, worldRank: -1)
        return (slot, offset - range.offset)
    }

    /// At MPI_Win_free, after MPICH freed the window (the table's block goes back with the window's memory).
    static func release(_ attachments: UnsafeMutablePointer<AttachmentTables>) {
        attachments.pointee.tables.deallocate()
        attachments.pointee.bases.deallocate()
        attachments.deinitialize(count: 1).deallocate()
    }
}
