import CMPI

/// The int forms of window creation (MPI_Win_allocate, MPI_Win_create, MPI_Win_allocate_shared,
/// MPI_Win_shared_query) widen to the MPI-4 large-count forms, whose displacement unit is an
/// MPI_Aint: one path for both, so the members of one window may mix the forms, and a unit
/// above INT_MAX on some of them is served like any other.
extension Windows {
    public static func allocate(size: MPI_Aint, dispUnit: Int32, info: MPI_Info, comm: MPI_Comm,
                                baseOut: UnsafeMutableRawPointer?, windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        allocate(size: size, dispUnit: MPI_Aint(dispUnit), info: info, comm: comm, baseOut: baseOut, windowOut: windowOut)
    }

    public static func create(base: UnsafeMutableRawPointer?, size: MPI_Aint, dispUnit: Int32, info: MPI_Info,
                              comm: MPI_Comm, windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        create(base: base, size: size, dispUnit: MPI_Aint(dispUnit), info: info, comm: comm, windowOut: windowOut)
    }
}

extension SharedWindows {
    public static func allocate(size: MPI_Aint, dispUnit: Int32, info: MPI_Info, comm: MPI_Comm,
                                baseOut: UnsafeMutableRawPointer?, windowOut: UnsafeMutablePointer<MPI_Win>?) -> Int32 {
        allocate(size: size, dispUnit: MPI_Aint(dispUnit), info: info, comm: comm, baseOut: baseOut, windowOut: windowOut)
    }

    /// A unit an int cannot hold reads as MPI_UNDEFINED, as MPI_Get_count reports a count an int
    /// cannot hold.
    public static func query(_ handle: MPI_Win, _ rank: Int32, _ sizeOut: UnsafeMutablePointer<MPI_Aint>?,
                             _ unitOut: UnsafeMutablePointer<Int32>?, _ baseOut: UnsafeMutableRawPointer?) -> Int32 {
        guard WindowTable.lookup(handle) != nil else { return PMPI_Win_shared_query(handle, rank, sizeOut, unitOut, baseOut) }
        guard let unitOut else { return query(handle, rank, sizeOut, UnsafeMutablePointer<MPI_Aint>?.none, baseOut) }
        var unit: MPI_Aint = 0
        let code = query(handle, rank, sizeOut, &unit, baseOut)
        if code == MPI_SUCCESS { unitOut.pointee = Int32(exactly: unit) ?? MPI_UNDEFINED }
        return code
    }
}
