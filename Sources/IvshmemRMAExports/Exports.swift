// The MPI entry points a preloaded libivshmem_rma.so takes over from libmpich (whose MPI_*
// symbols are weak aliases of PMPI_*). One forwarding line each; the engine lives in RMA.
// Data movement, accumulates and flushes go through EntryPoints' function table.
import CMPI
import RMA

public typealias Argv = UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?

// Life cycle
@_cdecl("MPI_Init") public func mpiInit(_ argc: UnsafeMutablePointer<Int32>?, _ argv: Argv) -> Int32 { Lifecycle.initialize(argc, argv) }
@_cdecl("MPI_Init_thread") public func mpiInitThread(_ argc: UnsafeMutablePointer<Int32>?, _ argv: Argv, _ required: Int32, _ provided: UnsafeMutablePointer<Int32>?) -> Int32 { Lifecycle.initializeThread(argc, argv, required, provided) }
@_cdecl("MPI_Finalize") public func mpiFinalize() -> Int32 { Lifecycle.finalize() }

// Windows
@_cdecl("MPI_Win_allocate") public func mpiWinAllocate(_ size: MPI_Aint, _ dispUnit: Int32, _ info: MPI_Info, _ comm: MPI_Comm, _ baseptr: UnsafeMutableRawPointer?, _ win: UnsafeMutablePointer<MPI_Win>?) -> Int32 { Windows.allocate(size: size, dispUnit: dispUnit, info: info, comm: comm, baseOut: baseptr, windowOut: win) }
@_cdecl("MPI_Win_create") public func mpiWinCreate(_ base: UnsafeMutableRawPointer?, _ size: MPI_Aint, _ dispUnit: Int32, _ info: MPI_Info, _ comm: MPI_Comm, _ win: UnsafeMutablePointer<MPI_Win>?) -> Int32 { Windows.create(base: base, size: size, dispUnit: dispUnit, info: info, comm: comm, windowOut: win) }
@_cdecl("MPI_Win_free") public func mpiWinFree(_ win: UnsafeMutablePointer<MPI_Win>?) -> Int32 { Windows.free(win) }
@_cdecl("MPI_Win_allocate_shared") public func mpiWinAllocateShared(_ size: MPI_Aint, _ dispUnit: Int32, _ info: MPI_Info, _ comm: MPI_Comm, _ baseptr: UnsafeMutableRawPointer?, _ win: UnsafeMutablePointer<MPI_Win>?) -> Int32 { SharedWindows.allocate(size: size, dispUnit: dispUnit, info: info, comm: comm, baseOut: baseptr, windowOut: win) }
@_cdecl("MPI_Win_shared_query") public func mpiWinSharedQuery(_ win: MPI_Win, _ rank: Int32, _ size: UnsafeMutablePointer<MPI_Aint>?, _ dispUnit: UnsafeMutablePointer<Int32>?, _ baseptr: UnsafeMutableRawPointer?) -> Int32 { SharedWindows.query(win, rank, size, dispUnit, baseptr) }
@_cdecl("MPI_Win_create_dynamic") public func mpiWinCreateDynamic(_ info: MPI_Info, _ comm: MPI_Comm, _ win: UnsafeMutablePointer<MPI_Win>?) -> Int32 { DynamicWindows.create(info, comm, win) }
@_cdecl("MPI_Win_attach") public func mpiWinAttach(_ win: MPI_Win, _ base: UnsafeMutableRawPointer?, _ size: MPI_Aint) -> Int32 { DynamicWindows.attach(win, base, size) }
@_cdecl("MPI_Win_detach") public func mpiWinDetach(_ win: MPI_Win, _ base: UnsafeRawPointer?) -> Int32 { DynamicWindows.detach(win, base) }
@_cdecl("MPI_Win_get_attr") public func mpiWinGetAttr(_ win: MPI_Win, _ keyval: Int32, _ value: UnsafeMutableRawPointer?, _ flag: UnsafeMutablePointer<Int32>?) -> Int32 { Windows.attribute(win, keyval, value, flag) }

// Memory and shared-memory communicators
@_cdecl("MPI_Alloc_mem") public func mpiAllocMem(_ size: MPI_Aint, _ info: MPI_Info, _ baseptr: UnsafeMutableRawPointer?) -> Int32 { Memory.allocate(size, info, baseptr) }
@_cdecl("MPI_Free_mem") public func mpiFreeMem(_ base: UnsafeMutableRawPointer?) -> Int32 { Memory.free(base) }
@_cdecl("MPI_Comm_split_type") public func mpiCommSplitType(_ comm: MPI_Comm, _ splitType: Int32, _ key: Int32, _ info: MPI_Info, _ newcomm: UnsafeMutablePointer<MPI_Comm>?) -> Int32 { SharedWindows.splitType(comm, splitType, key, info, newcomm) }

// Data movement
@_cdecl("MPI_Put") public func mpiPut(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ win: MPI_Win) -> Int32 { EntryPoints.put(origin, originCount, originType, target, disp, targetCount, targetType, win) }
@_cdecl("MPI_Get") public func mpiGet(_ origin: UnsafeMutableRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ win: MPI_Win) -> Int32 { EntryPoints.get(origin, originCount, originType, target, disp, targetCount, targetType, win) }
@_cdecl("MPI_Rput") public func mpiRput(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ win: MPI_Win, _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 { EntryPoints.requestPut(origin, originCount, originType, target, disp, targetCount, targetType, win, request) }
@_cdecl("MPI_Rget") public func mpiRget(_ origin: UnsafeMutableRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ win: MPI_Win, _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 { EntryPoints.requestGet(origin, originCount, originType, target, disp, targetCount, targetType, win, request) }

// Accumulates
@_cdecl("MPI_Accumulate") public func mpiAccumulate(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ op: MPI_Op, _ win: MPI_Win) -> Int32 { EntryPoints.accumulate(origin, originCount, originType, target, disp, targetCount, targetType, op, win) }
@_cdecl("MPI_Raccumulate") public func mpiRaccumulate(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ op: MPI_Op, _ win: MPI_Win, _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 { EntryPoints.requestAccumulate(origin, originCount, originType, target, disp, targetCount, targetType, op, win, request) }
@_cdecl("MPI_Get_accumulate") public func mpiGetAccumulate(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ result: UnsafeMutableRawPointer?, _ resultCount: Int32, _ resultType: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ op: MPI_Op, _ win: MPI_Win) -> Int32 { EntryPoints.getAccumulate(origin, originCount, originType, result, resultCount, resultType, target, disp, targetCount, targetType, op, win) }
@_cdecl("MPI_Rget_accumulate") public func mpiRgetAccumulate(_ origin: UnsafeRawPointer?, _ originCount: Int32, _ originType: MPI_Datatype, _ result: UnsafeMutableRawPointer?, _ resultCount: Int32, _ resultType: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ targetCount: Int32, _ targetType: MPI_Datatype, _ op: MPI_Op, _ win: MPI_Win, _ request: UnsafeMutablePointer<MPI_Request>?) -> Int32 { EntryPoints.requestGetAccumulate(origin, originCount, originType, result, resultCount, resultType, target, disp, targetCount, targetType, op, win, request) }
@_cdecl("MPI_Fetch_and_op") public func mpiFetchAndOp(_ origin: UnsafeRawPointer?, _ result: UnsafeMutableRawPointer?, _ type: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ op: MPI_Op, _ win: MPI_Win) -> Int32 { EntryPoints.fetchAndOp(origin, result, type, target, disp, op, win) }
@_cdecl("MPI_Compare_and_swap") public func mpiCompareAndSwap(_ origin: UnsafeRawPointer?, _ compare: UnsafeRawPointer?, _ result: UnsafeMutableRawPointer?, _ type: MPI_Datatype, _ target: Int32, _ disp: MPI_Aint, _ win: MPI_Win) -> Int32 { EntryPoints.compareAndSwap(origin, compare, result, type, target, disp, win) }

// Active-target synchronization
@_cdecl("MPI_Win_fence") public func mpiWinFence(_ assertion: Int32, _ win: MPI_Win) -> Int32 { ActiveTarget.fence(assertion, win) }
@_cdecl("MPI_Win_post") public func mpiWinPost(_ group: MPI_Group, _ assertion: Int32, _ win: MPI_Win) -> Int32 { ActiveTarget.post(group, assertion, win) }
@_cdecl("MPI_Win_start") public func mpiWinStart(_ group: MPI_Group, _ assertion: Int32, _ win: MPI_Win) -> Int32 { ActiveTarget.start(group, assertion, win) }
@_cdecl("MPI_Win_complete") public func mpiWinComplete(_ win: MPI_Win) -> Int32 { ActiveTarget.complete(win) }
@_cdecl("MPI_Win_wait") public func mpiWinWait(_ win: MPI_Win) -> Int32 { ActiveTarget.wait(win) }
@_cdecl("MPI_Win_test") public func mpiWinTest(_ win: MPI_Win, _ flag: UnsafeMutablePointer<Int32>?) -> Int32 { ActiveTarget.test(win, flag) }

// Passive-target synchronization
@_cdecl("MPI_Win_lock") public func mpiWinLock(_ lockType: Int32, _ rank: Int32, _ assertion: Int32, _ win: MPI_Win) -> Int32 { PassiveTarget.lock(lockType, rank, assertion, win) }
@_cdecl("MPI_Win_unlock") public func mpiWinUnlock(_ rank: Int32, _ win: MPI_Win) -> Int32 { PassiveTarget.unlock(rank, win) }
@_cdecl("MPI_Win_lock_all") public func mpiWinLockAll(_ assertion: Int32, _ win: MPI_Win) -> Int32 { PassiveTarget.lockAll(assertion, win) }
@_cdecl("MPI_Win_unlock_all") public func mpiWinUnlockAll(_ win: MPI_Win) -> Int32 { PassiveTarget.unlockAll(win) }
@_cdecl("MPI_Win_flush") public func mpiWinFlush(_ rank: Int32, _ win: MPI_Win) -> Int32 { EntryPoints.flush(rank, win) }
@_cdecl("MPI_Win_flush_all") public func mpiWinFlushAll(_ win: MPI_Win) -> Int32 { EntryPoints.flushAll(win) }
@_cdecl("MPI_Win_flush_local") public func mpiWinFlushLocal(_ rank: Int32, _ win: MPI_Win) -> Int32 { EntryPoints.flushLocal(rank, win) }
@_cdecl("MPI_Win_flush_local_all") public func mpiWinFlushLocalAll(_ win: MPI_Win) -> Int32 { EntryPoints.flushLocalAll(win) }
@_cdecl("MPI_Win_sync") public func mpiWinSync(_ win: MPI_Win) -> Int32 { EntryPoints.sync(win) }

// The library's own C API: include/ivshmem_rma.h
@_cdecl("ivshmem_rma_version") public func ivshmemRMAVersion() -> UnsafePointer<CChar> { LibraryInfo.versionCString }
@_cdecl("ivshmem_rma_get_stats") public func ivshmemRMAGetStats(_ stats: UnsafeMutablePointer<UInt64>?) -> Int32 { LibraryInfo.copyStats(stats) }
@_cdecl("ivshmem_rma_active") public func ivshmemRMAActive() -> Int32 { LibraryInfo.isActive ? 1 : 0 }

// Blocking calls a target waits in: they apply staged requests while waiting (BlockingCalls.swift)
@_cdecl("MPI_Barrier") public func mpiBarrier(_ comm: MPI_Comm) -> Int32 { BlockingCalls.barrier(comm) }
@_cdecl("MPI_Allreduce") public func mpiAllreduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: Int32, _ type: MPI_Datatype, _ op: MPI_Op, _ comm: MPI_Comm) -> Int32 { BlockingCalls.allreduce(send, receive, count, type, op, comm) }
@_cdecl("MPI_Recv") public func mpiRecv(_ buffer: UnsafeMutableRawPointer?, _ count: Int32, _ type: MPI_Datatype, _ source: Int32, _ tag: Int32, _ comm: MPI_Comm, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 { BlockingCalls.receive(buffer, count, type, source, tag, comm, status) }
@_cdecl("MPI_Wait") public func mpiWait(_ request: UnsafeMutablePointer<MPI_Request>?, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 { BlockingCalls.wait(request, status) }
@_cdecl("MPI_Waitall") public func mpiWaitall(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>?, _ statuses: UnsafeMutablePointer<MPI_Status>?) -> Int32 { BlockingCalls.waitAll(count, requests, statuses) }
