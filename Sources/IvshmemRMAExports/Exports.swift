// The library's own C API (include/ivshmem_rma.h). The MPI entry points are generated into
// Sources/RMA/Generated/Thunks.swift from bindings/mpi-functions.txt (scripts/generate-bindings).
import RMA

@_cdecl("ivshmem_rma_version") public func ivshmemRMAVersion() -> UnsafePointer<CChar> { LibraryInfo.versionCString }
@_cdecl("ivshmem_rma_get_stats") public func ivshmemRMAGetStats(_ stats: UnsafeMutablePointer<UInt64>?) -> Int32 { LibraryInfo.copyStats(stats) }
@_cdecl("ivshmem_rma_active") public func ivshmemRMAActive() -> Int32 { LibraryInfo.isActive ? 1 : 0 }
