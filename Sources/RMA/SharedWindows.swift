import CMPI
import SharedSync
import Glibc
import Region

/// MPI-3 shared-memory windows across co-resident VMs, opt-in (IVSHMEM_RMA_SHARED_NODES=1) so
/// that programs which equate "shared" with "same kernel" are not surprised:
/// MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) groups the ranks that share a region, and
/// MPI_Win_allocate_shared on such a communicator places every member's segment in one region
/// block, which every member can load and store. The window is also an ordinary served window
/// (put, get, accumulates and every synchronization through the region).
public enum SharedWindows {
    public static func splitType(_ comm: MPI_Comm, _ splitType: Int32, _ key: Int32, _ info: MPI_Info,
                                 _ newComm: UnsafeMutablePointer<MPI_Comm>?) -> Int32 {
        CommunicatorCreation.made(newComm) { split(comm, splitType, key, info, newComm) }
    }

    private static func split(_ comm: MPI_Comm, _ splitType: Int32, _ key: Int32, _ info: MPI_Info,
                              _ newComm: UnsafeMutablePointer<MPI_Comm>?) -> Int32 {
        var isInter: Int32 = 0
        guard splitType == MPI_COMM_TYPE_SHARED, let runtime = Runtime.current, runtime.config.sharedNodes,
              PMPI_Comm_test_inter(comm, &isInter) == MPI_SUCCESS, isInter == 0 else {
            return PMPI_Comm_split_type(comm, splitType, key, info, newComm)
        }
        // MPICH's own split_type is one MPI_Comm_split by node, so ranks that pass MPI_UNDEFINED
        // (handed to MPICH above) meet this call in the same collective. A rank without a region
        // shares memory with nobody we know of: it gets a communicator of its own.
        let leader = runtime.leaders[Int(runtime.worldRank)]
        let color = leader >= 0 ? leader : runtime.worldSize + runtime.worldRank
        return PMPI_Comm_split(comm, color, key, newComm)
    }

    public static func allocate(size: MPI_Aint, dispUnit: MPI_Aint, info: MPI_Info, comm: MPI_Comm,
                                baseOut: UnsafeMutableRawPointer?, windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        let passThrough = { () -> Int32 in
            if Runtime.current != nil { Stats.count(.windowsMpi) }
            guard let unit = Int32(exactly: dispUnit) else {
                return PMPI_Win_allocate_shared_c(size, dispUnit, info, comm, baseOut, windowOut)
            }
            return PMPI_Win_allocate_shared(size, unit, info, comm, baseOut, windowOut)
        }
        // Every member decides alike from what all ranks know: the collectives below must match.
        var isInter: Int32 = 0
        guard let runtime = Runtime.current, runtime.config.sharedNodes, let region = runtime.region, let baseOut, let windowOut,
              PMPI_Comm_test_inter(comm, &isInter) == MPI_SUCCESS, isInter == 0 else { return passThrough() }
        var rank: Int32 = 0, members: Int32 = 0
        PMPI_Comm_rank(comm, &rank)
        PMPI_Comm_size(comm, &members)
        let worldRanks = Policy.worldRanks(of: comm, members: members)
        guard worldRanks.allSatisfy({ runtime.isCoResident($0, runtime.worldRank) }) else {
            runtime.explain("MPI_Win_allocate_shared on a communicator of \(members) goes to MPICH: not every member shares this rank's region")
            return passThrough()
        }

        let mine: [Int64] = [Int64(size), Int64(dispUnit), hasTrueValue(info, "alloc_shared_noncontig") ? 1 : 0]
        var gathered = [Int64](repeating: 0, count: 3 * Int(members))
        PMPI_Allgather(mine, 3, MPI_INT64_T, &gathered, 3, MPI_INT64_T, comm)
        let sizes = (0..<Int(members)).map { Int(gathered[3 * $0]) }, units = (0..<Int(members)).map { gathered[3 * $0 + 1] }
        // MPICH reports bad arguments; sizes above the region's cannot be placed (nor overflow below).
        guard sizes.allSatisfy({ $0 >= 0 && $0 <= region.size }), units.allSatisfy({ $0 > 0 && $0 <= Int32.max }) else {
            return passThrough()
        }
        let layout = Layout(sizes: sizes, members: Int(members), noncontiguous: gathered[2] == 1)

        var placed: [Int64] = [-1, 0]
        if rank == 0 {
            do {
                let block = try region.allocate(bytes: layout.totalBytes, jobID: runtime.jobID, wait: runtime.waitPolicy)
                // Reused blocks start clean: control words must be zero before anyone locks or fences.
                if let start = region.address(offset: block.offset, length: block.size) { memset(start, 0, block.size) }
                placed = [Int64(block.offset), Int64(block.size)]
            } catch {
                warn("rank \(runtime.worldRank): MPI_Win_allocate_shared of \(layout.totalBytes) bytes fails with "
                     + "MPI_ERR_NO_MEM: \(error)")
            }
        }
        PMPI_Bcast(&placed, 2, MPI_INT64_T, 0, comm)
        let blockOffset = Int(placed[0])
        // MPICH sees these members on separate nodes and would hand back memory nobody else can
        // load: an error the program can handle is the honest answer.
        guard blockOffset >= 0, region.address(offset: blockOffset, length: layout.totalBytes) != nil else {
            PMPI_Comm_call_errhandler(comm, MPI_ERR_NO_MEM)
            return MPI_ERR_NO_MEM
        }

        let myBase = region.address(offset: blockOffset + layout.segments[Int(rank)], length: Int(size))
        var handle = MPI_WIN_NULL
        let code = Windows.createInMPICH(myBase, size, dispUnit, info, comm, &handle)
        guard code == MPI_SUCCESS else {
            if rank == 0 { region.free(Region.Block(offset: blockOffset, size: Int(placed[1])), jobID: runtime.jobID, wait: runtime.waitPolicy) }
            return code
        }
        let targets = UnsafeMutablePointer<TargetSlot>.allocate(capacity: Int(members))
        for member in 0..<Int(members) {
            (targets + member).initialize(to: TargetSlot(
                data: region.address(offset: blockOffset + layout.segments[member], length: sizes[member]),
                control: region.address(offset: blockOffset + layout.controls[member], length: layout.controlSize),
                size: sizes[member], dispUnit: Int(units[member]), worldRank: worldRanks[member]))
        }
        // Member 0 allocated the block and gives it back at MPI_Win_free, after every member let go.
        let memory: WindowMemory = rank == 0 ? .region(Region.Block(offset: blockOffset, size: Int(placed[1]))) : .external
        Windows.register(handle: handle, rank: rank, members: members, comm: comm, targets: targets,
                         control: targets[Int(rank)].control, memory: memory, flavor: MPI_WIN_FLAVOR_SHARED)
        runtime.explain("shared window 0x\(String(UInt32(bitPattern: handle), radix: 16)): \(members) segments in one region block "
                        + (layout.noncontiguous ? "(page-aligned, alloc_shared_noncontig)" : "(contiguous)"))
        baseOut.storeBytes(of: myBase, as: UnsafeMutableRawPointer?.self)
        windowOut.pointee = handle
        return MPI_SUCCESS
    }

    /// The segment of `rank` (MPI_PROC_NULL: the lowest rank with a nonzero size), its address
    /// in the caller's own mapping of the region.
    public static func query(_ handle: MPI_Win, _ rank: Int32, _ sizeOut: UnsafeMutablePointer<MPI_Aint>?,
                             _ unitOut: UnsafeMutablePointer<MPI_Aint>?, _ baseOut: UnsafeMutableRawPointer?) -> Int32 {
        guard let state = WindowTable.lookup(handle), state.pointee.flavor == MPI_WIN_FLAVOR_SHARED else {
            return PMPI_Win_shared_query_c(handle, rank, sizeOut, unitOut, baseOut)
        }
        guard let sizeOut, let unitOut, let baseOut else { return windowError(handle, MPI_ERR_ARG) }
        let members = Int(state.pointee.memberCount)
        let member: Int
        if rank == MPI_PROC_NULL {
            member = (0..<members).first { state.pointee.targets[$0].size > 0 } ?? 0
        } else {
            guard rank >= 0, rank < members else { return windowError(handle, MPI_ERR_RANK) }
            member = Int(rank)
        }
        let slot = state.pointee.targets[member]
        sizeOut.pointee = slot.size
        unitOut.pointee = slot.dispUnit
        baseOut.storeBytes(of: slot.data, as: UnsafeMutableRawPointer?.self)
        return MPI_SUCCESS
    }

    /// Where each member's segment and control block sit in the window's block (offsets from its
    /// start). MPI's default: segment i + 1 begins where segment i ends. With
    /// alloc_shared_noncontig each starts on its own page, so members do not share cache lines.
    private struct Layout {
        var segments: [Int] = []
        var controls: [Int] = []
        let controlSize: Int
        let noncontiguous: Bool
        let totalBytes: Int

        init(sizes: [Int], members: Int, noncontiguous: Bool) {
            self.noncontiguous = noncontiguous
            controlSize = ControlBlock.size(members: members)
            var end = 0
            for size in sizes {
                segments.append(end)
                end += noncontiguous ? roundUp(size, to: 4096) : size
            }
            let controlStart = roundUp(end, to: ControlBlock.lineSize), controlSize = controlSize
            controls = (0..<members).map { controlStart + $0 * controlSize }
            totalBytes = controlStart + members * controlSize
        }
    }

    /// Whether `info` sets `key` to "true".
    private static func hasTrueValue(_ info: MPI_Info, _ key: String) -> Bool {
        guard info != MPI_INFO_NULL else { return false }
        var value = [CChar](repeating: 0, count: 16)
        var length = Int32(value.count)
        var flag: Int32 = 0
        guard PMPI_Info_get_string(info, key, &length, &value, &flag) == MPI_SUCCESS, flag != 0 else { return false }
        let text = value.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: text, as: UTF8.self).lowercased() == "true"
    }
}
