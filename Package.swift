// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "ivshmem-rma",
    products: [
        // libivshmem_rma.so: preloaded into unmodified MPICH programs.
        .library(name: "ivshmem_rma", type: .dynamic, targets: ["IvshmemRMAExports"]),
        // The MPI-free layers, for Benchmarks/Micro (a separate package, so this build stays lean).
        .library(name: "IvshmemRMACore", targets: ["SharedSync", "Region"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
    ],
    targets: [
        // MPICH's mpi.h for Swift (pkg-config mpich).
        .systemLibrary(name: "CMPI", pkgConfig: "mpich", providers: [.apt(["libmpich-dev"])]),
        .target(name: "CShims"),
        // Cross-process primitives over atomics at raw addresses. No MPI.
        .target(name: "SharedSync", dependencies: [
            "CShims",
            .product(name: "Atomics", package: "swift-atomics"),
        ]),
        // The shared region: mapping, format, identity, allocator. No MPI.
        .target(name: "Region", dependencies: [
            "SharedSync",
            .product(name: "Atomics", package: "swift-atomics"),
        ]),
        // The engine: co-residence, windows, data movement, synchronization, policy.
        .target(name: "RMA", dependencies: [
            "CMPI", "CShims", "SharedSync", "Region",
            .product(name: "Atomics", package: "swift-atomics"),
        ]),
        // The @_cdecl surface: one forwarding line per MPI function.
        .target(name: "IvshmemRMAExports", dependencies: ["RMA", "CMPI"]),
        // Test fixture: RegionTests and SharedSyncTests run it to work across real processes.
        .executableTarget(name: "SyncProbe", dependencies: ["Region", "SharedSync"]),
        .testTarget(name: "SharedSyncTests", dependencies: ["SharedSync"]),
        .testTarget(name: "RegionTests", dependencies: ["Region", "SharedSync"]),
        // Runs unmodified C MPI programs (Programs/) under mpiexec with the library preloaded.
        .testTarget(name: "IntegrationTests", exclude: ["Programs"]),
    ]
)
