import CMPI

/// The MPI-4 large-count forms of window creation (MPI_Win_allocate_c, MPI_Win_create_c,
/// MPI_Win_allocate_shared_c, MPI_Win_shared_query_c): their displacement unit is an MPI_Aint.
/// A unit that fits an int is served exactly like the int form; a larger one (no real program
/// has one) goes to the MPI library's own large-count function.
extension Windows {
    public static func allocate(size: MPI_Aint, dispUnit: MPI_Aint, info: MPI_Info, comm: MPI_Comm,
                                baseOut: UnsafeMutableRawPointer?, windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        guard let unit = Int32(exactly: dispUnit) else { return PMPI_Win_allocate_c(size, dispUnit, info, comm, baseOut, windowOut) }
        return allocate(size: size, dispUnit: unit, info: info, comm: comm, baseOut: baseOut, windowOut: windowOut)
    }

    public static func create(base: UnsafeMutableRawPointer?, size: MPI_Aint, dispUnit: MPI_Aint, info: MPI_Info,
                              comm: MPI_Comm, windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        guard let unit = Int32(exactly: dispUnit) else { return PMPI_Win_create_c(base, size, dispUnit, info, comm, windowOut) }
        return create(base: base, size: size, dispUnit: unit, info: info, comm: comm, windowOut: windowOut)
    }
}

extension SharedWindows {
    public static func allocate(size: MPI_Aint, dispUnit: MPI_Aint, info: MPI_Info, comm: MPI_Comm,
                                baseOut: UnsafeMutableRawPointer?, windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        guard let unit = Int32(exactly: dispUnit) else {
            return PMPI_Win_allocate_shared_c(size, dispUnit, info, comm, baseOut, windowOut)
        }
        return allocate(size: size, dispUnit: unit, info: info, comm: comm, baseOut: baseOut, windowOut: windowOut)
    }

    public static func query(_ handle: MPI_Win, _ rank: Int32, _ sizeOut: UnsafeMutablePointer<MPI_Aint>?,
                             _ unitOut: UnsafeMutablePointer<MPI_Aint>?, _ baseOut: UnsafeMutableRawPointer?) -> Int32 {
        guard WindowTable.lookup(handle) != nil else { return PMPI_Win_shared_query_c(handle, rank, sizeOut, unitOut, baseOut) }
        guard let unitOut else { return query(handle, rank, sizeOut, UnsafeMutablePointer<Int32>?.none, baseOut) }
        var unit: Int32 = 0
        let code = query(handle, rank, sizeOut, &unit, baseOut)
        if code == MPI_SUCCESS { unitOut.pointee = MPI_Aint(unit) }
        return code
    }
}
