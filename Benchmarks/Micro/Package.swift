// swift-tools-version: 6.1
// Micro-benchmarks of the MPI-free layers (SharedSync, Region) with package-benchmark.
// A package of its own so the root package, which CI builds, never pulls in package-benchmark.
import PackageDescription

let package = Package(
    name: "ivshmem-rma-micro",
    dependencies: [
        // `name:` because a path dependency is otherwise named after its folder, which differs per clone.
        .package(name: "ivshmem-rma", path: "../.."),
        // The malloc interposer counts allocations without jemalloc; the trait list leaves out the
        // runtime interposer, whose package is not mirrored here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The region file mapped twice, the peer thread, the shared configuration.
        .target(name: "MicroFixtures", dependencies: [
            .product(name: "IvshmemRMACore", package: "ivshmem-rma"),
            .product(name: "Benchmark", package: "benchmark"),
        ]),
        .executableTarget(
            name: "RegionBenchmarks",
            dependencies: ["MicroFixtures", .product(name: "IvshmemRMACore", package: "ivshmem-rma"),
                           .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/RegionBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "SyncBenchmarks",
            dependencies: ["MicroFixtures", .product(name: "IvshmemRMACore", package: "ivshmem-rma"),
                           .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/SyncBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
