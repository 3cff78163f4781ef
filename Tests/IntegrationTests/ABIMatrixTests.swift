import Foundation
import Testing

/// A core program at a rank count and window flavor, as one case of the ABI matrix.
struct MatrixRun: Sendable, CustomTestStringConvertible {
    let program: MPIProgram
    let ranks: Int
    /// IT_WINDOW_FLAVOR of the core programs (see common.h): MPI_Win_allocate or MPI_Win_create.
    let flavor: String
    var testDescription: String { "\(program.name), \(ranks) ranks, MPI_Win_\(flavor)" }
    var environment: [(String, String)] { [("IT_WINDOW_FLAVOR", flavor)] }

    /// Both flavors at 2 ranks, MPI_Win_allocate also at 4: small, since CI runs it every time.
    static let cases: [MatrixRun] = MPIProgram.core.flatMap { program in
        [(2, "allocate"), (2, "create"), (4, "allocate")].map { MatrixRun(program: program, ranks: $0, flavor: $1) }
    }

    /// threads.c (4 threads per rank under MPI_THREAD_MULTIPLE) at 2 ranks, both flavors.
    static let threads: [MatrixRun] = ["allocate", "create"].map { MatrixRun(program: .threads, ranks: 2, flavor: $0) }

    /// The collectives programs, self-checking: collectives.c at 4 ranks, scans.c at 3.
    static let collectives = [MatrixRun(program: .collectives, ranks: 4, flavor: "allocate"), scans]
    /// Intel MPI 2021.13 itself gets MPI_Allgather_c wrong (collectives.c fails there without the
    /// library), so it runs scans.c only; IMB-MPI1 covers its other collectives.
    static let scans = MatrixRun(program: .scans, ranks: 3, flavor: "allocate")

    /// Each rank its own simulated VM, no preload: the program and the MPI are right by themselves.
    func runPlain(on implementation: MPIImplementation) throws {
        let job = MPIJob(
            program: program, groups: [RankGroup(ranks: ranks)], implementation: implementation, environment: environment)
        try runAndCheck(job, stats: .absent)
    }

    /// Preloaded, every rank on one region: every call served by the region, which the stats name.
    func runServed(on implementation: MPIImplementation) throws {
        let result = try runOnRegions(program, ranks: ranks, environment: environment, implementation: implementation)
        expectRegionNamed(in: result)
    }
}

/// Every stats line names the job's region file (not `none`), as its `region=` field; missing
/// stats lines are `statsProblems`' to report.
func expectRegionNamed(in result: JobResult, sourceLocation: SourceLocation = #_sourceLocation) {
    let stats = RankStats.parse(stderr: result.stderr).stats
    guard !stats.isEmpty else { return }
    let regions = Set(stats.map { $0.values["region"] ?? "(missing)" })
    let regionArguments = result.command.indices.filter { result.command[$0] == "IVSHMEM_RMA_REGION" }
        .map { result.command[$0 + 1] }
    #expect(regions == Set(regionArguments), "stats lines name regions \(regions)\n\(result.report)",
            sourceLocation: sourceLocation)
}

/// An Intel MPI Benchmarks program shipped with Intel MPI, in a short run: it must finish
/// (IMB's last line before MPI_Finalize) and run every benchmark asked for.
struct IMBRun: Sendable {
    let program: MPIProgram
    let ranks: Int
    let options: [String]
    let benchmarks: [String]

    /// IMB-RMA: the benchmarks that cover put, get and accumulate from both ranks (a few
    /// seconds, not the full default run). `calls`: what every rank makes through the region
    /// when served (both ranks put and get).
    static let rma = IMBRun(
        program: MPIProgram(name: "IMB-RMA", calls: [.put, .get], usesPassThroughWindows: true), ranks: 2,
        options: ["-npmin", "2", "-iter", "50", "-msglog", "0:10"],
        benchmarks: ["Unidir_put", "Unidir_get", "Bidir_put", "Bidir_get", "Accumulate", "Get_accumulate",
                     "Fetch_and_op", "Compare_and_swap"])

    /// IMB-MPI1: every collective the library serves that it has (all but the scans), at 4 ranks.
    static let collectives = IMBRun(
        program: MPIProgram(name: "IMB-MPI1", calls: []), ranks: 4,
        options: ["-npmin", "4", "-iter", "20", "-msglog", "0:12", "-time", "1"],
        benchmarks: ["Barrier", "Bcast", "Reduce", "Allreduce", "Reduce_scatter", "Reduce_scatter_block", "Gather",
                     "Allgather", "Scatter", "Alltoall"])

    static let completionLine = "# All processes entering MPI_Finalize"

    func run(on implementation: MPIImplementation, region: RegionFile?) throws -> (MPIJob, JobResult) {
        let library = try region.map { _ in try TestFixtures.requireLibrary() }
        let job = MPIJob(
            program: program, groups: [RankGroup(ranks: ranks, region: region)], implementation: implementation,
            preload: library, environment: library == nil ? [] : MPIJob.libraryEnvironment, arguments: options + benchmarks)
        let result = try job.run(executable: implementation.shippedProgram(program.name))
        try requireNotHung(result, of: job)
        #expect(result.exitStatus == 0, "exit status \(result.exitStatus)\n\(result.report)")
        #expect(result.stdoutLines.contains(Substring(Self.completionLine)), "no \"\(Self.completionLine)\"\n\(result.report)")
        for benchmark in benchmarks {
            #expect(result.stdoutLines.contains { $0.trimmingCharacters(in: .whitespaces) == "# Benchmarking \(benchmark)" },
                    "\(program.name) did not run \(benchmark)\n\(result.report)")
        }
        return (job, result)
    }
}

/// The core programs, built once and run unmodified under other MPIs of the MPICH ABI family
/// (from their PyPI wheels, see scripts/mpi-wheels), plain and with the library preloaded.
/// Each MPI's cases skip, naming it, when its wheel is not unpacked.
@Suite("ABI matrix: MPIs of the MPICH ABI family", .serialized)
struct ABIMatrixTests {
    @Suite("MPICH 5.0.2", .enabled(if: MPIImplementation.mpich5.isAvailable, MPIImplementation.mpich5.unavailableComment))
    struct MPICH5 {
        @Test("no preload, simulated VMs", arguments: MatrixRun.cases)
        func plain(run: MatrixRun) throws { try run.runPlain(on: .mpich5) }

        @Test("preloaded, one region", arguments: MatrixRun.cases)
        func served(run: MatrixRun) throws { try run.runServed(on: .mpich5) }

        @Test("MPI_THREAD_MULTIPLE, preloaded, one region", arguments: MatrixRun.threads)
        func threadsServed(run: MatrixRun) throws { try run.runServed(on: .mpich5) }

        @Test("collectives, preloaded, one region", arguments: MatrixRun.collectives)
        func collectivesServed(run: MatrixRun) throws { try run.runServed(on: .mpich5) }
    }

    @Suite(
        "Intel MPI 2021.13 (programs built by MPICH 5's mpicc)",
        .enabled(if: MPIImplementation.intelMPI.isAvailable, MPIImplementation.intelMPI.unavailableComment))
    struct IntelMPI {
        @Test("no preload, simulated VMs", arguments: MatrixRun.cases)
        func plain(run: MatrixRun) throws { try run.runPlain(on: .intelMPI) }

        @Test("preloaded, one region", arguments: MatrixRun.cases)
        func served(run: MatrixRun) throws { try run.runServed(on: .intelMPI) }

        @Test("MPI_THREAD_MULTIPLE, preloaded, one region", arguments: MatrixRun.threads)
        func threadsServed(run: MatrixRun) throws { try run.runServed(on: .intelMPI) }

        @Test("scans.c, preloaded, one region")
        func scansServed() throws { try MatrixRun.scans.runServed(on: .intelMPI) }

        /// MPICH 5's builds carry a RUNPATH to MPICH 5's lib/; LD_LIBRARY_PATH must win over it.
        @Test("the programs load Intel's libmpi, over TCP")
        func runsOnIntelsLibrary() throws {
            let job = MPIJob(
                program: .putGet, groups: [RankGroup(ranks: 2)], implementation: .intelMPI,
                environment: [("I_MPI_DEBUG", "2")])
            let result = try runAndCheck(job, stats: .absent)
            for startupLine in ["Intel(R) MPI Library, Version 2021.13", "libfabric provider: tcp"] {
                #expect(result.stdout.contains(startupLine), "no \"\(startupLine)\" in:\n\(result.report)")
            }
        }

        /// Intel MPI may return from MPI_Win_lock and MPI_Win_start before the grant (MPI allows
        /// it in a window spanning servers): a co-resident put must still wait for the grant.
        @Test("two regions = two servers, 2+2 ranks: puts wait for the grants Intel MPI gives late")
        func lateGrant() throws {
            try runOnRegions(.lateGrant, ranks: 2, regions: 2, stats: .twoRegions, implementation: .intelMPI)
        }

        @Test("IMB-MPI1 collectives preloaded, one region, 4 ranks: every collective served")
        func imbCollectivesServed() throws {
            try withRegionFiles(1) { regions in
                let (_, result) = try IMBRun.collectives.run(on: .intelMPI, region: regions[0])
                let stats = RankStats.parse(stderr: result.stderr).stats
                #expect(stats.count == 4 && stats.allSatisfy { Int($0.values["coll_shm"] ?? "") ?? 0 > 0 },
                        "every rank should serve collectives through the region\n\(result.report)")
                expectRegionNamed(in: result)
            }
        }

        @Test("IMB-RMA, no preload")
        func imbPlain() throws {
            let (job, result) = try IMBRun.rma.run(on: .intelMPI, region: nil)
            #expect(statsProblems(result, program: job.program, ranks: 2, expectation: .absent).isEmpty)
        }

        @Test("IMB-RMA preloaded, one region: its puts and gets served")
        func imbServed() throws {
            try withRegionFiles(1) { regions in
                let (job, result) = try IMBRun.rma.run(on: .intelMPI, region: regions[0])
                let problems = statsProblems(result, program: job.program, ranks: 2, expectation: .oneRegion)
                #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))\n\(result.report)")
                // Its accumulate benchmarks accumulate from rank 0 only.
                let accumulatesServed = RankStats.parse(stderr: result.stderr).stats.map { $0.count(.acc, .shm) }
                    .reduce(0, +)
                #expect(accumulatesServed > 0, "no acc_shm counted\n\(result.report)")
                expectRegionNamed(in: result)
            }
        }
    }
}
