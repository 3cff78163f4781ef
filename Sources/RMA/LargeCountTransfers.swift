import CMPI

// TEMPORARY until the engine takes MPI_Count counts (branch datapath): counts that fit an int are
// served by the int forms, larger ones go to the MPI library.
extension EntryPoints {
    public static func put(_ o: UnsafeRawPointer?, _ oc: MPI_Count, _ ot: MPI_Datatype, _ t: Int32, _ d: MPI_Aint, _ tc: MPI_Count,
                           _ tt: MPI_Datatype, _ w: MPI_Win) -> Int32 {
        guard let a = Int32(exactly: oc), let b = Int32(exactly: tc) else { return PMPI_Put_c(o, oc, ot, t, d, tc, tt, w) }
        return put(o, a, ot, t, d, b, tt, w)
    }
    public static func get(_ o: UnsafeMutableRawPointer?, _ oc: MPI_Count, _ ot: MPI_Datatype, _ t: Int32, _ d: MPI_Aint, _ tc: MPI_Count,
                           _ tt: MPI_Datatype, _ w: MPI_Win) -> Int32 {
        guard let a = Int32(exactly: oc), let b = Int32(exactly: tc) else { return PMPI_Get_c(o, oc, ot, t, d, tc, tt, w) }
        return get(o, a, ot, t, d, b, tt, w)
    }
    public static func requestPut(_ o: UnsafeRawPointer?, _ oc: MPI_Count, _ ot: MPI_Datatype, _ t: Int32, _ d: MPI_Aint, _ tc: MPI_Count,
                                  _ tt: MPI_Datatype, _ w: MPI_Win, _ r: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard let a = Int32(exactly: oc), let b = Int32(exactly: tc) else { return PMPI_Rput_c(o, oc, ot, t, d, tc, tt, w, r) }
        return requestPut(o, a, ot, t, d, b, tt, w, r)
    }
    public static func requestGet(_ o: UnsafeMutableRawPointer?, _ oc: MPI_Count, _ ot: MPI_Datatype, _ t: Int32, _ d: MPI_Aint, _ tc: MPI_Count,
                                  _ tt: MPI_Datatype, _ w: MPI_Win, _ r: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard let a = Int32(exactly: oc), let b = Int32(exactly: tc) else { return PMPI_Rget_c(o, oc, ot, t, d, tc, tt, w, r) }
        return requestGet(o, a, ot, t, d, b, tt, w, r)
    }
    public static func accumulate(_ o: UnsafeRawPointer?, _ oc: MPI_Count, _ ot: MPI_Datatype, _ t: Int32, _ d: MPI_Aint, _ tc: MPI_Count,
                                  _ tt: MPI_Datatype, _ op: MPI_Op, _ w: MPI_Win) -> Int32 {
        guard let a = Int32(exactly: oc), let b = Int32(exactly: tc) else { return PMPI_Accumulate_c(o, oc, ot, t, d, tc, tt, op, w) }
        return accumulate(o, a, ot, t, d, b, tt, op, w)
    }
    public static func requestAccumulate(_ o: UnsafeRawPointer?, _ oc: MPI_Count, _ ot: MPI_Datatype, _ t: Int32, _ d: MPI_Aint,
                                         _ tc: MPI_Count, _ tt: MPI_Datatype, _ op: MPI_Op, _ w: MPI_Win,
                                         _ r: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard let a = Int32(exactly: oc), let b = Int32(exactly: tc) else { return PMPI_Raccumulate_c(o, oc, ot, t, d, tc, tt, op, w, r) }
        return requestAccumulate(o, a, ot, t, d, b, tt, op, w, r)
    }
    public static func getAccumulate(_ o: UnsafeRawPointer?, _ oc: MPI_Count, _ ot: MPI_Datatype, _ res: UnsafeMutableRawPointer?,
                                     _ rc: MPI_Count, _ rt: MPI_Datatype, _ t: Int32, _ d: MPI_Aint, _ tc: MPI_Count,
                                     _ tt: MPI_Datatype, _ op: MPI_Op, _ w: MPI_Win) -> Int32 {
        guard let a = Int32(exactly: oc), let b = Int32(exactly: tc), let c = Int32(exactly: rc) else {
            return PMPI_Get_accumulate_c(o, oc, ot, res, rc, rt, t, d, tc, tt, op, w)
        }
        return getAccumulate(o, a, ot, res, c, rt, t, d, b, tt, op, w)
    }
    public static func requestGetAccumulate(_ o: UnsafeRawPointer?, _ oc: MPI_Count, _ ot: MPI_Datatype, _ res: UnsafeMutableRawPointer?,
                                            _ rc: MPI_Count, _ rt: MPI_Datatype, _ t: Int32, _ d: MPI_Aint, _ tc: MPI_Count,
                                            _ tt: MPI_Datatype, _ op: MPI_Op, _ w: MPI_Win,
                                            _ r: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        guard let a = Int32(exactly: oc), let b = Int32(exactly: tc), let c = Int32(exactly: rc) else {
            return PMPI_Rget_accumulate_c(o, oc, ot, res, rc, rt, t, d, tc, tt, op, w, r)
        }
        return requestGetAccumulate(o, a, ot, res, c, rt, t, d, b, tt, op, w, r)
    }
}
