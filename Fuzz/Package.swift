// swift-tools-version: 6.1
// A libFuzzer target over the code that reads region metadata from untrusted bytes.
// A package of its own because it is built with -sanitize=fuzzer,address (scripts/fuzz), which
// the root package's builds must not see.
import PackageDescription

let package = Package(
    name: "ivshmem-rma-fuzz",
    dependencies: [
        // `name:` because a path dependency is otherwise named after its folder, which differs per clone.
        .package(name: "ivshmem-rma", path: ".."),
    ],
    targets: [
        .executableTarget(name: "RegionFuzz", dependencies: [.product(name: "IvshmemRMACore", package: "ivshmem-rma")]),
    ]
)
