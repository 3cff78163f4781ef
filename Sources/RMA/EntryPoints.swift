import CMPI

/// The function each data movement, accumulate and flush call jumps to, like the function table of
/// an Open MPI osc module.
///
/// Until MPI_Init finds a rank of the job that shares this process's region, no window of this
/// process can be served through the region (Policy.mayServe), so these calls go straight to
/// MPICH: one load and an indirect jump on top of MPICH's own work, plus the count the stats line
/// shows (scripts/overhead measures it). Once it finds one, they take the served paths, which look
/// the window up and route each call (Policy.route).
///
/// The table is written once, in MPI_Init, before any of these calls can legally be made, and only
/// read afterwards; so it needs no atomics. Plain variables with constant initial values are laid
/// out statically: no lazy initialization check on the way.
public enum EntryPoints {
    typealias PutCall = @convention(c) (UnsafeRawPointer?, Int32, MPI_Datatype, Int32, MPI_Aint, Int32, MPI_Datatype,
        MPI_Win) -> Int32
    typealias GetCall = @convention(c) (UnsafeMutableRawPointer?, Int32, MPI_Datatype, Int32, MPI_Aint, Int32, MPI_Datatype,
        MPI_Win) -> Int32
    typealias RequestPutCall = @convention(c) (UnsafeRawPointer?, Int32, MPI_Datatype, Int32, MPI_Aint, Int32, MPI_Datatype,
        MPI_Win, UnsafeMutablePointer<MPI_Request>?) -> Int32
    typealias RequestGetCall = @convention(c) (UnsafeMutableRawPointer?, Int32, MPI_Datatype, Int32, MPI_Aint, Int32,
        MPI_Datatype, MPI_Win, UnsafeMutablePointer<MPI_Request>?) -> Int32
    typealias AccumulateCall = @convention(c) (UnsafeRawPointer?, Int32, MPI_Datatype, Int32, MPI_Aint, Int32, MPI_Datatype,
        MPI_Op, MPI_Win) -> Int32
    typealias RequestAccumulateCall = @convention(c) (UnsafeRawPointer?, Int32, MPI_Datatype, Int32, MPI_Aint, Int32,
        MPI_Datatype, MPI_Op, MPI_Win, UnsafeMutablePointer<MPI_Request>?) -> Int32
    typealias GetAccumulateCall = @convention(c) (UnsafeRawPointer?, Int32, MPI_Datatype, UnsafeMutableRawPointer?, Int32,
        MPI_Datatype, Int32, MPI_Aint, Int32, MPI_Datatype, MPI_Op, MPI_Win) -> Int32
    typealias RequestGetAccumulateCall = @convention(c) (UnsafeRawPointer?, Int32, MPI_Datatype, UnsafeMutableRawPointer?, Int32,
        MPI_Datatype, Int32, MPI_Aint, Int32, MPI_Datatype, MPI_Op, MPI_Win, UnsafeMutablePointer<MPI_Request>?) -> Int32
    typealias FetchAndOpCall = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, MPI_Datatype, Int32, MPI_Aint,
        MPI_Op, MPI_Win) -> Int32
    typealias CompareAndSwapCall = @convention(c) (UnsafeRawPointer?, UnsafeRawPointer?, UnsafeMutableRawPointer?, MPI_Datatype,
        Int32, MPI_Aint, MPI_Win) -> Int32
    // The MPI-4 large-count bindings (MPI_Put_c, ...): MPI_Count counts.
    typealias LargePutCall = @convention(c) (UnsafeRawPointer?, MPI_Count, MPI_Datatype, Int32, MPI_Aint, MPI_Count,
        MPI_Datatype, MPI_Win) -> Int32
    typealias LargeGetCall = @convention(c) (UnsafeMutableRawPointer?, MPI_Count, MPI_Datatype, Int32, MPI_Aint, MPI_Count,
        MPI_Datatype, MPI_Win) -> Int32
    typealias LargeRequestPutCall = @convention(c) (UnsafeRawPointer?, MPI_Count, MPI_Datatype, Int32, MPI_Aint, MPI_Count,
        MPI_Datatype, MPI_Win, UnsafeMutablePointer<MPI_Request>?) -> Int32
    typealias LargeRequestGetCall = @convention(c) (UnsafeMutableRawPointer?, MPI_Count, MPI_Datatype, Int32, MPI_Aint,
        MPI_Count, MPI_Datatype, MPI_Win, UnsafeMutablePointer<MPI_Request>?) -> Int32
    typealias LargeAccumulateCall = @convention(c) (UnsafeRawPointer?, MPI_Count, MPI_Datatype, Int32, MPI_Aint, MPI_Count,
        MPI_Datatype, MPI_Op, MPI_Win) -> Int32
    typealias LargeRequestAccumulateCall = @convention(c) (UnsafeRawPointer?, MPI_Count, MPI_Datatype, Int32, MPI_Aint,
        MPI_Count, MPI_Datatype, MPI_Op, MPI_Win, UnsafeMutablePointer<MPI_Request>?) -> Int32
    typealias LargeGetAccumulateCall = @convention(c) (UnsafeRawPointer?, MPI_Count, MPI_Datatype, UnsafeMutableRawPointer?,
        MPI_Count, MPI_Datatype, Int32, MPI_Aint, MPI_Count, MPI_Datatype, MPI_Op, MPI_Win) -> Int32
    typealias LargeRequestGetAccumulateCall = @convention(c) (UnsafeRawPointer?, MPI_Count, MPI_Datatype,
        UnsafeMutableRawPointer?, MPI_Count, MPI_Datatype, Int32, MPI_Aint, MPI_Count, MPI_Datatype, MPI_Op, MPI_Win,
        UnsafeMutablePointer<MPI_Request>?) -> Int32
    typealias RankSyncCall = @convention(c) (Int32, MPI_Win) -> Int32
    typealias WindowSyncCall = @convention(c) (MPI_Win) -> Int32

    enum Table {
        @exclusivity(unchecked) nonisolated(unsafe) static var put: PutCall = {
            DataMovement.handToMPICH(.put, UnsafeMutableRawPointer(mutating: $0), $1, $2, $3, $4, $5, $6, $7)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var get: GetCall = {
            DataMovement.handToMPICH(.get, $0, $1, $2, $3, $4, $5, $6, $7)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var requestPut: RequestPutCall = {
            DataMovement.handToMPICHRequest(.put, UnsafeMutableRawPointer(mutating: $0), $1, $2, $3, $4, $5, $6, $7, $8)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var requestGet: RequestGetCall = {
            DataMovement.handToMPICHRequest(.get, $0, $1, $2, $3, $4, $5, $6, $7, $8)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var accumulate: AccumulateCall = {
            Stats.count(.accMpi); return PMPI_Accumulate($0, $1, $2, $3, $4, $5, $6, $7, $8)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var requestAccumulate: RequestAccumulateCall = {
            Stats.count(.accMpi); return PMPI_Raccumulate($0, $1, $2, $3, $4, $5, $6, $7, $8, $9)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var getAccumulate: GetAccumulateCall = {
            Stats.count(.accMpi); return PMPI_Get_accumulate($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var requestGetAccumulate: RequestGetAccumulateCall = {
            Stats.count(.accMpi); return PMPI_Rget_accumulate($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var fetchAndOp: FetchAndOpCall = {
            Stats.count(.accMpi); return PMPI_Fetch_and_op($0, $1, $2, $3, $4, $5, $6)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var compareAndSwap: CompareAndSwapCall = {
            Stats.count(.accMpi); return PMPI_Compare_and_swap($0, $1, $2, $3, $4, $5, $6)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var largePut: LargePutCall = {
            Stats.count(.putMpi); return PMPI_Put_c($0, $1, $2, $3, $4, $5, $6, $7)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var largeGet: LargeGetCall = {
            Stats.count(.getMpi); return PMPI_Get_c($0, $1, $2, $3, $4, $5, $6, $7)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var largeRequestPut: LargeRequestPutCall = {
            Stats.count(.putMpi); return PMPI_Rput_c($0, $1, $2, $3, $4, $5, $6, $7, $8)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var largeRequestGet: LargeRequestGetCall = {
            Stats.count(.getMpi); return PMPI_Rget_c($0, $1, $2, $3, $4, $5, $6, $7, $8)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var largeAccumulate: LargeAccumulateCall = {
            Stats.count(.accMpi); return PMPI_Accumulate_c($0, $1, $2, $3, $4, $5, $6, $7, $8)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var largeRequestAccumulate: LargeRequestAccumulateCall = {
            Stats.count(.accMpi); return PMPI_Raccumulate_c($0, $1, $2, $3, $4, $5, $6, $7, $8, $9)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var largeGetAccumulate: LargeGetAccumulateCall = {
            Stats.count(.accMpi); return PMPI_Get_accumulate_c($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var largeRequestGetAccumulate: LargeRequestGetAccumulateCall = {
            Stats.count(.accMpi); return PMPI_Rget_accumulate_c($0, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
        }
        @exclusivity(unchecked) nonisolated(unsafe) static var flush: RankSyncCall = PMPI_Win_flush
        @exclusivity(unchecked) nonisolated(unsafe) static var flushLocal: RankSyncCall = PMPI_Win_flush_local
        @exclusivity(unchecked) nonisolated(unsafe) static var flushAll: WindowSyncCall = PMPI_Win_flush_all
        @exclusivity(unchecked) nonisolated(unsafe) static var flushLocalAll: WindowSyncCall = PMPI_Win_flush_local_all
        @exclusivity(unchecked) nonisolated(unsafe) static var sync: WindowSyncCall = PMPI_Win_sync

        /// From MPI_Init, when this process may serve windows through the region.
        static func serveThroughRegion() {
            put = { DataMovement.transfer(.put, .int, UnsafeMutableRawPointer(mutating: $0), Int($1), $2, $3, $4, Int($5), $6, $7) }
            get = { DataMovement.transfer(.get, .int, $0, Int($1), $2, $3, $4, Int($5), $6, $7) }
            requestPut = {
                DataMovement.requestBased(.put, .int, UnsafeMutableRawPointer(mutating: $0), Int($1), $2, $3, $4, Int($5), $6, $7, $8)
            }
            requestGet = { DataMovement.requestBased(.get, .int, $0, Int($1), $2, $3, $4, Int($5), $6, $7, $8) }
            accumulate = {
                Accumulate.accumulate(.init(.int, origin: $0, originCount: Int($1), originType: $2, target: $3, displacement: $4,
                                            targetCount: Int($5), targetType: $6, op: $7), $8)
            }
            requestAccumulate = {
                Accumulate.requestBased(.init(.int, origin: $0, originCount: Int($1), originType: $2, target: $3,
                                              displacement: $4, targetCount: Int($5), targetType: $6, op: $7), $8, $9)
            }
            getAccumulate = {
                Accumulate.accumulate(.init(.int, origin: $0, originCount: Int($1), originType: $2, result: $3,
                                            resultCount: Int($4), resultType: $5, target: $6, displacement: $7,
                                            targetCount: Int($8), targetType: $9, op: $10), $11)
            }
            requestGetAccumulate = {
                Accumulate.requestBased(.init(.int, origin: $0, originCount: Int($1), originType: $2, result: $3,
                                              resultCount: Int($4), resultType: $5, target: $6, displacement: $7,
                                              targetCount: Int($8), targetType: $9, op: $10), $11, $12)
            }
            fetchAndOp = {
                Accumulate.accumulate(.init(.int, origin: $0, originCount: 1, originType: $2, result: $1, resultCount: 1,
                                            resultType: $2, target: $3, displacement: $4, targetCount: 1, targetType: $2,
                                            op: $5), $6)
            }
            largePut = {
                DataMovement.transfer(.put, .large, UnsafeMutableRawPointer(mutating: $0), Int($1), $2, $3, $4, Int($5), $6, $7)
            }
            largeGet = { DataMovement.transfer(.get, .large, $0, Int($1), $2, $3, $4, Int($5), $6, $7) }
            largeRequestPut = {
                DataMovement.requestBased(.put, .large, UnsafeMutableRawPointer(mutating: $0), Int($1), $2, $3, $4, Int($5), $6,
                                          $7, $8)
            }
            largeRequestGet = { DataMovement.requestBased(.get, .large, $0, Int($1), $2, $3, $4, Int($5), $6, $7, $8) }
            largeAccumulate = {
                Accumulate.accumulate(.init(.large, origin: $0, originCount: Int($1), originType: $2, target: $3,
                                            displacement: $4, targetCount: Int($5), targetType: $6, op: $7), $8)
            }
            largeRequestAccumulate = {
                Accumulate.requestBased(.init(.large, origin: $0, originCount: Int($1), originType: $2, target: $3,
                                              displacement: $4, targetCount: Int($5), targetType: $6, op: $7), $8, $9)
            }
            largeGetAccumulate = {
                Accumulate.accumulate(.init(.large, origin: $0, originCount: Int($1), originType: $2, result: $3,
                                            resultCount: Int($4), resultType: $5, target: $6, displacement: $7,
                                            targetCount: Int($8), targetType: $9, op: $10), $11)
            }
            largeRequestGetAccumulate = {
                Accumulate.requestBased(.init(.large, origin: $0, originCount: Int($1), originType: $2, result: $3,
                                              resultCount: Int($4), resultType: $5, target: $6, displacement: $7,
                                              targetCount: Int($8), targetType: $9, op: $10), $11, $12)
            }
            compareAndSwap = { Accumulate.compareAndSwap($0, $1, $2, $3, $4, $5, $6) }
            flush = { PassiveTarget.flush(.target($0), $1) }
            flushLocal = { PassiveTarget.flush(.localTarget($0), $1) }
            flushAll = { PassiveTarget.flush(.all, $0) }
            flushLocalAll = { PassiveTarget.flush(.localAll, $0) }
            sync = { PassiveTarget.sync($0) }
        }
    }

    // The MPI calls, each a load and a jump through the table: what the generated thunks (Generated/Thunks.swift) call.

    public static func put(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32,
                           _ displacement: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ win: MPI_Win) -> Int32 {
        Table.put(origin, originCount, originType, target, displacement, targetCount, targetType, win)
    }

    public static func get(_ origin: UnsafeMutableRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32,
                           _ displacement: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ win: MPI_Win) -> Int32 {
        Table.get(origin, originCount, originType, target, displacement, targetCount, targetType, win)
    }

    public static func requestPut(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32,
                                  _ displacement: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ win: MPI_Win,
                                  _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        Table.requestPut(origin, originCount, originType, target, displacement, targetCount, targetType, win, request)
    }

    public static func requestGet(_ origin: UnsafeMutableRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype,
                                  _ target: Int32, _ displacement: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype,
                                  _ win: MPI_Win, _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        Table.requestGet(origin, originCount, originType, target, displacement, targetCount, targetType, win, request)
    }

    public static func accumulate(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32,
                                  _ displacement: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ op: MPI_Op,
                                  _ win: MPI_Win) -> Int32 {
        Table.accumulate(origin, originCount, originType, target, displacement, targetCount, targetType, op, win)
    }

    public static func requestAccumulate(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype,
                                         _ target: Int32, _ displacement: MPI_Aint, _ targetCount: Int32,
                                         _ targetType: MPI_Datatype, _ op: MPI_Op, _ win: MPI_Win,
                                         _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        Table.requestAccumulate(origin, originCount, originType, target, displacement, targetCount, targetType, op, win, request)
    }

    public static func getAccumulate(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype,
                                     _ result: UnsafeMutableRawPointer?, _ resultCount: Int32, _ resultType: MPI_Datatype,
                                     _ target: Int32, _ displacement: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype,
                                     _ op: MPI_Op, _ win: MPI_Win) -> Int32 {
        Table.getAccumulate(origin, originCount, originType, result, resultCount, resultType, target, displacement, targetCount,
                            targetType, op, win)
    }

    public static func requestGetAccumulate(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype,
                                            _ result: UnsafeMutableRawPointer?, _ resultCount: Int32,
                                            _ resultType: MPI_Datatype, _ target: Int32, _ displacement: MPI_Aint,
                                            _ targetCount: Int32, _ targetType: MPI_Datatype, _ op: MPI_Op, _ win: MPI_Win,
                                            _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        Table.requestGetAccumulate(origin, originCount, originType, result, resultCount, resultType, target, displacement,
                                   targetCount, targetType, op, win, request)
    }

    public static func fetchAndOp(_ origin: UnsafeRawPointer?, _ result: UnsafeMutableRawPointer?, _ type: MPI_Datatype,
                                  _ target: Int32, _ displacement: MPI_Aint, _ op: MPI_Op, _ win: MPI_Win) -> Int32 {
        Table.fetchAndOp(origin, result, type, target, displacement, op, win)
    }

    public static func compareAndSwap(_ origin: UnsafeRawPointer?, _ compare: UnsafeRawPointer?, _ result: UnsafeMutableRawPointer?,
                                      _ type: MPI_Datatype, _ target: Int32, _ displacement: MPI_Aint, _ win: MPI_Win) -> Int32 {
        Table.compareAndSwap(origin, compare, result, type, target, displacement, win)
    }

    // The large-count bindings (MPI_Put_c, ...), same names: what the `_c` exports forward to.

    public static func put(_ origin: UnsafeRawPointer?, _ originCount: MPI_Count, _ originType: MPI_Datatype, _ target: Int32,
                           _ displacement: MPI_Aint, _ targetCount: MPI_Count, _ targetType: MPI_Datatype,
                           _ win: MPI_Win) -> Int32 {
        Table.largePut(origin, originCount, originType, target, displacement, targetCount, targetType, win)
    }

    public static func get(_ origin: UnsafeMutableRawPointer?, _ originCount: MPI_Count, _ originType: MPI_Datatype,
                           _ target: Int32, _ displacement: MPI_Aint, _ targetCount: MPI_Count, _ targetType: MPI_Datatype,
                           _ win: MPI_Win) -> Int32 {
        Table.largeGet(origin, originCount, originType, target, displacement, targetCount, targetType, win)
    }

    public static func requestPut(_ origin: UnsafeRawPointer?, _ originCount: MPI_Count, _ originType: MPI_Datatype,
                                  _ target: Int32, _ displacement: MPI_Aint, _ targetCount: MPI_Count,
                                  _ targetType: MPI_Datatype, _ win: MPI_Win,
                                  _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        Table.largeRequestPut(origin, originCount, originType, target, displacement, targetCount, targetType, win, request)
    }

    public static func requestGet(_ origin: UnsafeMutableRawPointer?, _ originCount: MPI_Count, _ originType: MPI_Datatype,
                                  _ target: Int32, _ displacement: MPI_Aint, _ targetCount: MPI_Count,
                                  _ targetType: MPI_Datatype, _ win: MPI_Win,
                                  _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        Table.largeRequestGet(origin, originCount, originType, target, displacement, targetCount, targetType, win, request)
    }

    public static func accumulate(_ origin: UnsafeRawPointer?, _ originCount: MPI_Count, _ originType: MPI_Datatype,
                                  _ target: Int32, _ displacement: MPI_Aint, _ targetCount: MPI_Count,
                                  _ targetType: MPI_Datatype, _ op: MPI_Op, _ win: MPI_Win) -> Int32 {
        Table.largeAccumulate(origin, originCount, originType, target, displacement, targetCount, targetType, op, win)
    }

    public static func requestAccumulate(_ origin: UnsafeRawPointer?, _ originCount: MPI_Count, _ originType: MPI_Datatype,
                                         _ target: Int32, _ displacement: MPI_Aint, _ targetCount: MPI_Count,
                                         _ targetType: MPI_Datatype, _ op: MPI_Op, _ win: MPI_Win,
                                         _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        Table.largeRequestAccumulate(origin, originCount, originType, target, displacement, targetCount, targetType, op, win,
                                     request)
    }

    public static func getAccumulate(_ origin: UnsafeRawPointer?, _ originCount: MPI_Count, _ originType: MPI_Datatype,
                                     _ result: UnsafeMutableRawPointer?, _ resultCount: MPI_Count, _ resultType: MPI_Datatype,
                                     _ target: Int32, _ displacement: MPI_Aint, _ targetCount: MPI_Count,
                                     _ targetType: MPI_Datatype, _ op: MPI_Op, _ win: MPI_Win) -> Int32 {
        Table.largeGetAccumulate(origin, originCount, originType, result, resultCount, resultType, target, displacement,
                                 targetCount, targetType, op, win)
    }

    public static func requestGetAccumulate(_ origin: UnsafeRawPointer?, _ originCount: MPI_Count, _ originType: MPI_Datatype,
                                            _ result: UnsafeMutableRawPointer?, _ resultCount: MPI_Count,
                                            _ resultType: MPI_Datatype, _ target: Int32, _ displacement: MPI_Aint,
                                            _ targetCount: MPI_Count, _ targetType: MPI_Datatype, _ op: MPI_Op,
                                            _ win: MPI_Win, _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 {
        Table.largeRequestGetAccumulate(origin, originCount, originType, result, resultCount, resultType, target,
                                        displacement, targetCount, targetType, op, win, request)
    }

    public static func flush(_ rank: Int32, _ win: MPI_Win) -> Int32 { Table.flush(rank, win) }
    public static func flushLocal(_ rank: Int32, _ win: MPI_Win) -> Int32 { Table.flushLocal(rank, win) }
    public static func flushAll(_ win: MPI_Win) -> Int32 { Table.flushAll(win) }
    public static func flushLocalAll(_ win: MPI_Win) -> Int32 { Table.flushLocalAll(win) }
    public static func sync(_ win: MPI_Win) -> Int32 { Table.sync(win) }
}
