import Foundation
import Testing

/// Shared-memory windows across simulated VMs (IVSHMEM_RMA_SHARED_NODES=1) and MPI_Alloc_mem
/// memory in the region. Dynamic windows run with every self-checking program (MPIProgramTests).
@Suite("Shared windows and MPI_Alloc_mem through the region", .serialized)
struct RegionMemoryTests {
    static let sharedNodes = ("IVSHMEM_RMA_SHARED_NODES", "1")

    /// Ranks per region file ("server"), each region one shared-memory node of that many ranks.
    @Test("IVSHMEM_RMA_SHARED_NODES=1: the ranks of each region form one shared-memory node",
          arguments: [[2], [4], [8], [2, 2]])
    func sharedNodes(ranksPerRegion: [Int]) throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(ranksPerRegion.count) { regions in
            let job = MPIJob(
                program: .sharedWindows, groups: zip(ranksPerRegion, regions).map { RankGroup(ranks: $0, region: $1) },
                preload: library, environment: MPIJob.libraryEnvironment + [Self.sharedNodes],
                arguments: ["--expect-node-size", "\(ranksPerRegion[0])"])
            try runAndCheck(job, stats: .oneRegion)
        }
    }

    @Test("a region too small for a shared window: MPI_ERR_NO_MEM through the error handler, with a line saying why")
    func sharedWindowInAFullRegion() throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            // The smallest region has one data page; 8 members' segments and control blocks need more.
            let job = MPIJob(
                program: .sharedWindows, groups: [RankGroup(ranks: 8, region: regions[0])], preload: library,
                environment: MPIJob.libraryEnvironment + [Self.sharedNodes, ("IVSHMEM_RMA_SIZE", "28672")])
            let result = try job.run()
            try requireNotHung(result, of: job)
            let exitStatus = result.exitStatus
            #expect(exitStatus != 0, "the job ran on without its shared window\n\(result.report)")
            let naming = result.warningLines.filter { $0.contains("MPI_Win_allocate_shared") && $0.contains("MPI_ERR_NO_MEM") }
            #expect(!naming.isEmpty, "no ivshmem-rma: line names MPI_Win_allocate_shared and MPI_ERR_NO_MEM\n\(result.report)")
        }
    }

    @Test("without the opt-in, shared windows are MPICH's: one rank per simulated VM")
    func sharedWindowsWithoutOptIn() throws {
        try runOnRegions(.sharedWindows, ranks: 4, arguments: ["--expect-node-size", "1"], stats: .mpichOnly)
    }

    @Test("plain MPICH runs shared_windows as the library does: simulated VMs, and bare metal with one node")
    func sharedWindowsOnPlainMPICH() throws {
        for (placement, nodeSize) in [(Placement.simulatedVMs, 1), (.bareMetal, 4)] {
            let job = MPIJob(
                program: .sharedWindows, groups: [RankGroup(ranks: 4)], placement: placement,
                arguments: ["--expect-node-size", "\(nodeSize)"])
            try runAndCheck(job, stats: .absent)
        }
    }

    /// A region size, and which of alloc_mem.c's blocks must be in it afterwards and which not.
    /// Each block starts with "alloc_mem tag r=R i=I.": blocks 1 (4097 B), 2 (1 MiB) and 3 (16 MiB)
    /// are long enough to carry it.
    struct AllocMemCase: Sendable, CustomTestStringConvertible {
        let regionSize: String
        let inRegion: [Int]
        let fromMPICH: [Int]
        var testDescription: String { "\(regionSize) region" }

        static let all = [
            AllocMemCase(regionSize: "64M", inRegion: [1, 2, 3], fromMPICH: []),
            AllocMemCase(regionSize: "8M", inRegion: [1, 2], fromMPICH: [3]),
        ]
    }

    @Test("MPI_Alloc_mem memory lies in the region, where peers reach it; what it cannot hold comes from MPICH",
          arguments: AllocMemCase.all)
    func allocMem(_ test: AllocMemCase) throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: .allocMem, groups: [RankGroup(ranks: 2, region: regions[0])], preload: library,
                environment: MPIJob.libraryEnvironment + [("IVSHMEM_RMA_SIZE", test.regionSize)])
            try runAndCheck(job, stats: .oneRegion)
            let region = try #require(regions[0].contents(), "region file \(regions[0].path) is gone")
            for rank in 0..<2 {
                let found = { (block: Int) in region.range(of: Data("alloc_mem tag r=\(rank) i=\(block).".utf8)) != nil }
                for block in test.inRegion {
                    #expect(found(block), "rank \(rank)'s MPI_Alloc_mem block \(block) is not in the region")
                }
                for block in test.fromMPICH {
                    #expect(!found(block), "rank \(rank)'s MPI_Alloc_mem block \(block) is in a region too small for it")
                }
            }
        }
    }
}
