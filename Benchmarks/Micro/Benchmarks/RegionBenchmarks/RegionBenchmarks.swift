import Benchmark
import CShims
import MicroFixtures
import Region
import SharedSync

/// A block of the region and a private source buffer of the same size to copy from.
final class CopyFixture {
    let region: SharedRegion
    let block: Region.Block
    let source: UnsafeMutableRawPointer

    init(bytes: Int) throws {
        region = try SharedRegion()
        block = try region.allocate(bytes: bytes)
        source = .allocate(byteCount: bytes, alignment: 64)
        source.initializeMemory(as: UInt8.self, repeating: 0xa5, count: bytes)
    }

    deinit { source.deallocate() }
}

let benchmarks: @Sendable () -> Void = {
    // A put's bounds check and copy at the region layer: the bounds-checked address of the target
    // bytes, then the engine's own copy dispatch (memcpy, or streaming stores from the engine's
    // default IVSHMEM_RMA_STREAMING_THRESHOLD of 1 MiB: the 4 MiB case streams). The engine's
    // window table is not here: it lives in the RMA target, which needs MPI; scripts/overhead
    // counts its instructions inside real MPI calls instead.
    let streamingThreshold = 1 << 20
    let sizes: [(String, Int, BenchmarkScalingFactor)] = [
        ("8B", 8, .mega), ("4KiB", 4 << 10, .mega), ("64KiB", 64 << 10, .kilo), ("4MiB", 4 << 20, .kilo),
    ]
    for (label, bytes, scaling) in sizes {
        benchmark("lookup+copy-\(label)", .perOperation(scaling),
                  fixture: { try CopyFixture(bytes: bytes) }) { benchmark, fixture in
            for _ in benchmark.scaledIterations {
                guard let target = fixture.region.near.address(offset: fixture.block.offset, length: bytes) else {
                    fatalError("block outside the region")
                }
                ivshmem_copy(target, fixture.source, bytes, streamingThreshold)
            }
        }
    }

    // What MPI_Win_allocate and MPI_Win_free do to the region: not the hot path, so allocations are
    // expected; the threshold catches a change in their number.
    benchmark("allocate+free-4KiB", .perOperation(.kilo), fixture: { try SharedRegion() }) { benchmark, region in
        let policy = WaitPolicy()
        for _ in benchmark.scaledIterations {
            let block = try! region.near.allocate(bytes: 4 << 10, jobID: SharedRegion.jobID, wait: policy)
            region.near.free(block, jobID: SharedRegion.jobID, wait: policy)
        }
    }
}
