// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// The directory of the MPICH-ABI mpi.h the engine is compiled against (types and constants only:
/// nothing is linked, MPILibraryLoader finds the MPI library at run time). Debian's MPICH by
/// default; IVSHMEM_RMA_MPI_INCLUDE names another.
let mpiInclude = ProcessInfo.processInfo.environment["IVSHMEM_RMA_MPI_INCLUDE"] ?? "/usr/include/x86_64-linux-gnu/mpich"
let seesMPIHeader: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-I\(mpiInclude)"])]

/// The path of a call handed to the MPI library is a chain of tail jumps (Generated/Thunks.swift,
/// Dispatch, EntryPoints.swift, MPILibrary): functions that only jump keep no frame of their own
/// (functions that call keep theirs, for profilers), and library calls (memcpy in the copy of a
/// put) go through the GOT without a PLT stub; scripts/overhead counts what the chain adds.
let callsIntoMPICH: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-momit-leaf-frame-pointer", "-Xcc", "-fno-plt"])]

let package = Package(
    name: "ivshmem-rma",
    products: [
        // libivshmem_rma.so: preloaded into unmodified MPICH programs.
        .library(name: "ivshmem_rma", type: .dynamic, targets: ["IvshmemRMAExports"]),
        // The MPI-free layers, for Benchmarks/Micro (a separate package, so this build stays lean).
        .library(name: "IvshmemRMACore", targets: ["SharedSync", "Region"]),
        // The operator's tool: region create/inspect/reset/gc, server, doctor.
        .executable(name: "ivshmem-rma", targets: ["IvshmemRMATool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // mpi.h of the MPICH ABI for Swift: types and constants; nothing is linked (shim.h).
        .systemLibrary(name: "CMPI", providers: [.apt(["libmpich-dev"])]),
        .target(name: "CShims"),
        // Cross-process primitives over atomics at raw addresses. No MPI.
        .target(name: "SharedSync", dependencies: [
            "CShims",
            .product(name: "Atomics", package: "swift-atomics"),
        ]),
        // The shared region: mapping, format, identity, allocator. No MPI.
        .target(name: "Region", dependencies: [
            "SharedSync", "IvshmemServer",
            .product(name: "Atomics", package: "swift-atomics"),
        ]),
        // QEMU's ivshmem server protocol: the server, and the client the library maps a region
        // from and rings doorbells with. No MPI.
        .target(name: "CIvshmemServer"),
        .target(name: "IvshmemServer", dependencies: ["CIvshmemServer", "SharedSync"]),
        // The engine: co-residence, windows, data movement, synchronization, policy.
        .target(name: "RMA", dependencies: [
            "CMPI", "CShims", "SharedSync", "Region",
            .product(name: "Atomics", package: "swift-atomics"),
        ], swiftSettings: callsIntoMPICH + seesMPIHeader),
        // The @_cdecl surface: one forwarding line per MPI function.
        .target(name: "IvshmemRMAExports", dependencies: ["RMA"], swiftSettings: callsIntoMPICH + seesMPIHeader),
        // `ivshmem-rma`: parsing and presentation only; the logic lives in Region and IvshmemServer.
        .executableTarget(name: "IvshmemRMATool", dependencies: [
            "Region", "SharedSync", "IvshmemServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Test fixture: RegionTests and SharedSyncTests run it to work across real processes.
        .executableTarget(name: "SyncProbe", dependencies: ["Region", "SharedSync"]),
        .testTarget(name: "SharedSyncTests", dependencies: ["SharedSync"]),
        .testTarget(name: "RegionTests", dependencies: ["Region", "SharedSync", "IvshmemServer"]),
        // Runs the built ivshmem-rma tool on real region files.
        .testTarget(name: "ToolTests", dependencies: ["Region", "SharedSync"]),
        // The ivshmem server and client, in process and against a real QEMU (skipped without one).
        // Test fixture: ServerTests runs it, one process per doorbell scenario.
        .executableTarget(name: "DoorbellProbe", dependencies: ["IvshmemServer", "SharedSync"]),
        .testTarget(name: "ServerTests", dependencies: ["IvshmemServer", "SharedSync"]),
        // Runs unmodified C MPI programs (Programs/) under mpiexec with the library preloaded.
        .testTarget(name: "IntegrationTests", dependencies: ["IvshmemServer", "Region"], exclude: ["Programs"]),
    ]
)
