import Foundation
import Testing

/// A program at a rank count, as one parameterized test case.
struct ProgramRun: Sendable, CustomTestStringConvertible {
    let program: MPIProgram
    let ranks: Int
    var testDescription: String { "\(program.name), \(ranks) ranks" }

    /// Every program at 2 ranks (TCP) and 4 ranks (UCX shm); the core ones also at 8.
    static let oneRegionMatrix: [ProgramRun] =
        [2, 4].flatMap { ranks in MPIProgram.selfChecking.map { ProgramRun(program: $0, ranks: ranks) } }
        + MPIProgram.core.map { ProgramRun(program: $0, ranks: 8) }

    /// The core programs and the corner cases on MPI_Win_create windows (IT_WINDOW_FLAVOR=create, see common.h).
    static let stagedMatrix: [ProgramRun] =
        [2, 4].flatMap { ranks in (MPIProgram.core + [.rmaCorners, .threads]).map { ProgramRun(program: $0, ranks: ranks) } }
        + [ProgramRun(program: .syncModes, ranks: 8), ProgramRun(program: .atomicity, ranks: 8)]
}

/// Runs the unmodified C MPI programs in `Programs/` under mpiexec, with and without
/// libivshmem_rma.so preloaded. Serialized: MPI jobs compete for the same 2 cores.
@Suite("MPI programs under mpiexec", .serialized)
struct MPIProgramTests {
    // MARK: Without the library: the programs themselves are right

    @Test("plain MPICH without preload, 4 simulated VMs", arguments: MPIProgram.selfChecking)
    func plainMPICH(program: MPIProgram) throws {
        try runAndCheck(MPIJob(program: program, groups: [RankGroup(ranks: 4)]), stats: .absent)
    }

    // MARK: The region path

    @Test("one region, simulated VMs", arguments: ProgramRun.oneRegionMatrix)
    func oneRegion(run: ProgramRun) throws {
        try runOnRegions(run.program, ranks: run.ranks, arguments: run.program.argumentsWhenServedByRegion)
    }

    @Test("MPI_Win_create over private memory: staged copies through the region", arguments: ProgramRun.stagedMatrix)
    func stagedWindows(run: ProgramRun) throws {
        try runOnRegions(run.program, ranks: run.ranks, environment: [("IT_WINDOW_FLAVOR", "create")])
    }

    @Test("a target computing outside MPI: origins' lock/put/fetch/unlock complete through the progress agent",
          arguments: [2, 4])
    func busyTarget(ranks: Int) throws {
        try runOnRegions(.busyTarget, ranks: ranks)
    }

    @Test("MPI_Win_allocate where one member gets no memory: every member returns MPI_ERR_NO_MEM", arguments: [2, 4])
    func allocationFailure(ranks: Int) throws {
        let result = try runOnRegions(.allocFailure, ranks: ranks, warnings: .atLeastOne)
        #expect(result.warningLines.contains { $0.contains("MPI_Win_allocate of 1125899906842624 bytes: no memory to map") },
                "the failing member names itself:\n\(result.warningLines.joined(separator: "\n"))")
    }

    @Test("one region, bare metal (MPICH's own shared memory underneath)")
    func oneRegionOnBareMetal() throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: .syncModes, groups: [RankGroup(ranks: 4, region: regions[0])], placement: .bareMetal,
                preload: library, environment: MPIJob.libraryEnvironment)
            try runAndCheck(job, stats: .oneRegion)
        }
    }

    @Test("two regions = two servers, 2+2 ranks", arguments: MPIProgram.acrossRegions)
    func twoRegions(program: MPIProgram) throws {
        try runOnRegions(program, ranks: 2, regions: 2, stats: .twoRegions)
    }

    @Test("two jobs at once on one region")
    func twoJobsShareOneRegion() throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: .putGet, groups: [RankGroup(ranks: 2, region: regions[0])], preload: library,
                environment: MPIJob.libraryEnvironment)
            // Both start before either finishes, so they also race to format the new region.
            let first = try job.start(), second = try job.start()
            for result in [first.finish(), second.finish()] {
                try check(result, of: job, stats: .oneRegion, warnings: .none)
            }
        }
    }

    @Test("a zero-filled region (what QEMU gives a guest) is formatted and used")
    func zeroFilledRegion() throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            try regions[0].createZeroFilled(bytes: 64 << 20)
            let job = MPIJob(
                program: .putGet, groups: [RankGroup(ranks: 4, region: regions[0])], preload: library,
                environment: MPIJob.libraryEnvironment)
            try runAndCheck(job, stats: .oneRegion)
            let header = try #require(regions[0].contents()).prefix(4096)
            #expect(header.contains { $0 != 0 }, "the region's first 4 KiB are still zero: no header was written")
        }
    }

    @Test("IVSHMEM_RMA_VERBOSE=1 explains the decisions, naming the region it found")
    func verboseNamesTheRegion() throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: .putGet, groups: [RankGroup(ranks: 2, region: regions[0])], preload: library,
                environment: MPIJob.libraryEnvironment + [("IVSHMEM_RMA_VERBOSE", "1")])
            let result = try runAndCheck(job, stats: .oneRegion, warnings: .atLeastOne)
            let namingRegion = result.warningLines.filter { $0.contains(regions[0].path) }
            #expect(!namingRegion.isEmpty, "no ivshmem-rma: line names the region \(regions[0].path)\n\(result.report)")
        }
    }

    // MARK: Without a usable region: MPICH does everything

    @Test("no region and no ivshmem device: pure pass-through", arguments: MPIProgram.selfChecking)
    func noRegion(program: MPIProgram) throws {
        let library = try TestFixtures.requireLibrary()
        let job = MPIJob(
            program: program, groups: [RankGroup(ranks: 2)], preload: library, environment: MPIJob.libraryEnvironment)
        try runAndCheck(job, stats: .mpichOnly)
    }

    @Test("every rank alone on its region: each call goes straight to MPICH, counted, results unchanged",
          arguments: MPIProgram.core)
    func noCoResidentPeer(program: MPIProgram) throws {
        try runOnRegions(program, ranks: 1, regions: 2, stats: .mpichOnly)
    }

    @Test("a region with a foreign header: one warning, MPICH does the work, bytes untouched")
    func foreignRegion() throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            let foreignBytes = randomBytes(count: 4 << 20)
            try regions[0].write(foreignBytes)
            let job = MPIJob(
                program: .putGet, groups: [RankGroup(ranks: 2, region: regions[0])], preload: library,
                environment: MPIJob.libraryEnvironment)
            try runAndCheck(job, stats: .mpichOnly, warnings: .atLeastOne)
            #expect(regions[0].contents() == foreignBytes, "the library modified a region it does not own")
        }
    }

    @Test("a region too small for the windows: they fall back to MPICH, with a warning")
    func fullRegion() throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            // window_lifecycle's windows need 8-32 MiB each across the ranks.
            let job = MPIJob(
                program: .windowLifecycle, groups: [RankGroup(ranks: 2, region: regions[0])], preload: library,
                environment: MPIJob.libraryEnvironment + [("IVSHMEM_RMA_SIZE", String(16 << 20))])
            try runAndCheck(job, stats: .regionFull, warnings: .atLeastOne)
        }
    }

    // MARK: Waiting

    @Test("a wait longer than IVSHMEM_RMA_TIMEOUT aborts the job with a line naming the call and the peer")
    func waitTimeoutAborts() throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: .lockWaitTimeout, groups: [RankGroup(ranks: 2, region: regions[0])], preload: library,
                environment: [("IVSHMEM_RMA_TIMEOUT", "3")], timeoutSeconds: 60)
            let result = try job.run()
            try requireNotHung(result, of: job)
            let exitStatus = result.exitStatus
            #expect(exitStatus != 0, "the deadlocked job exited 0\n\(result.report)")
            // Rank 1 waits for the exclusive lock rank 0 holds: the line names MPI_Win_... and peer 0.
            let naming = result.warningLines.filter {
                $0.contains("MPI_Win_") && $0.range(of: #"\b0\b"#, options: .regularExpression) != nil
            }
            #expect(!naming.isEmpty, "no ivshmem-rma: line naming the MPI_Win_ call and peer 0\n\(result.report)")
        }
    }
}

private func randomBytes(count: Int) -> Data {
    var generator = SystemRandomNumberGenerator()
    var words = (0..<(count / 8)).map { _ in generator.next() as UInt64 }
    return Data(bytes: &words, count: words.count * 8)
}
