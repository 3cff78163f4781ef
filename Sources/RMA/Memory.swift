import CMPI
import Region
import Synchronization

/// MPI_Alloc_mem and MPI_Free_mem. When this rank shares its region with another rank of the
/// job, memory comes from the region, so co-resident peers can reach it: windows created over it
/// and memory attached to dynamic windows become servable by plain copies. A full region (or
/// none) falls back to MPICH's allocator; MPI_Free_mem tells the two apart by address.
public enum Memory {
    /// Region blocks handed out by MPI_Alloc_mem, by address. Allocation is not a hot path.
    private static let blocks = Mutex<[UInt: Region.Block]>([:])

    public static func allocate(_ size: MPI_Aint, _ info: MPI_Info, _ baseOut: UnsafeMutableRawPointer?) -> Int32 {
        guard let runtime = Runtime.current, let region = runtime.region, let baseOut, size > 0,
              Policy.hasCoResidentPeer(Array(0..<runtime.worldSize), runtime) else {
            return PMPI_Alloc_mem(size, info, baseOut)
        }
        let block: Region.Block
        do {
            block = try region.allocate(bytes: size, jobID: runtime.jobID, wait: runtime.waitPolicy)
        } catch {
            runtime.explain("MPI_Alloc_mem of \(size) bytes uses MPICH's memory: \(error)")
            return PMPI_Alloc_mem(size, info, baseOut)
        }
        guard let address = region.address(offset: block.offset, length: block.size) else {
            region.free(block, jobID: runtime.jobID, wait: runtime.waitPolicy)
            return PMPI_Alloc_mem(size, info, baseOut)
        }
        blocks.withLock { $0[UInt(bitPattern: address)] = block }
        baseOut.storeBytes(of: address, as: UnsafeMutableRawPointer.self)
        return MPI_SUCCESS
    }

    public static func free(_ base: UnsafeMutableRawPointer?) -> Int32 {
        guard let base, let runtime = Runtime.current,
              let block = blocks.withLock({ $0.removeValue(forKey: UInt(bitPattern: base)) }) else {
            return PMPI_Free_mem(base)
        }
        runtime.region?.free(block, jobID: runtime.jobID, wait: runtime.waitPolicy)
        return MPI_SUCCESS
    }

    /// The region offset of [pointer, pointer + length) when all of it lies inside this process's
    /// mapping of the region; nil otherwise (no region, or private memory).
    public static func regionOffset(of pointer: UnsafeRawPointer, length: Int) -> Int? {
        guard let region = Runtime.current?.region, length >= 0 else { return nil }
        let base = UInt(bitPattern: region.mapping.base), address = UInt(bitPattern: pointer)
        guard address >= base else { return nil }
        let offset = Int(address - base)
        return region.address(offset: offset, length: length) == nil ? nil : offset
    }

    /// At MPI_Finalize, before the job's blocks go back to the region: memory the program did not
    /// free is given back, and a later MPI_Free_mem of it goes to MPICH (erroneous after finalize).
    static func releaseAll(_ runtime: Runtime) {
        let live = blocks.withLock { table in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for block in live { runtime.region?.free(block, jobID: runtime.jobID, wait: runtime.waitPolicy) }
    }
}
