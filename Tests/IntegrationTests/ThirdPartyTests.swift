import Foundation
import Testing

/// Programs built on third-party runtimes that use MPI RMA the way their applications do.
/// ARMCI-MPI (Debian's libarmci-mpi-dev, under Global Arrays and NWChem): `Programs/armci/armci_ops.c`,
/// linked against its static library. Its puts and gets are accumulates (MPI_REPLACE, MPI_NO_OP),
/// so the stats count them as `acc`.
@Suite("Third-party runtimes over MPI RMA", .serialized, .enabled(if: ARMCI.isInstalled, ARMCI.missingComment))
struct ThirdPartyTests {
    static let program = MPIProgram(name: "armci_ops", calls: [.acc])

    @Test("ARMCI-MPI without the library")
    func armciPlain() throws {
        let job = MPIJob(program: Self.program, groups: [RankGroup(ranks: 4)])
        try check(job.run(executable: ARMCI.program.get()), of: job, stats: .absent, warnings: .none)
    }

    /// Each of ARMCI-MPI's ways to move vectors and strided blocks: one MPI call per segment
    /// (CONSRV, BATCHED) or one derived datatype of absolute addresses over MPI_BOTTOM (DIRECT).
    @Test("ARMCI-MPI served, one region", arguments: [(2, "AUTO"), (4, "AUTO"), (2, "DIRECT"), (4, "DIRECT"),
                                                      (2, "BATCHED"), (2, "CONSRV")])
    func armciServed(ranks: Int, method: String) throws {
        let library = try TestFixtures.requireLibrary()
        let executable = try ARMCI.program.get()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: Self.program, groups: [RankGroup(ranks: ranks, region: regions[0])], preload: library,
                environment: MPIJob.libraryEnvironment + [
                    ("ARMCI_IOV_METHOD", method), ("ARMCI_STRIDED_METHOD", method == "DIRECT" ? "DIRECT" : "IOV"),
                ])
            try check(job.run(executable: executable), of: job, stats: .oneRegion, warnings: .none)
        }
    }
}

enum ARMCI {
    static let header = "/usr/include/armci.h"
    static var isInstalled: Bool { FileManager.default.fileExists(atPath: header) }
    static let missingComment: Comment = "SKIP: ARMCI-MPI is not installed (\(header)): run scripts/setup"

    /// `Programs/armci/armci_ops.c` built with `mpicc ... -larmci-mpich`, once per test process.
    static let program: Result<URL, CompiledPrograms.CompileFailure> = {
        let source = TestFixtures.programsDirectory.appendingPathComponent("armci/armci_ops.c")
        let output = TestFixtures.scratchDirectory.appendingPathComponent("armci_ops")
        let arguments = ["mpicc", "-O2", "-Wall", "-o", output.path, source.path, "-larmci-mpich"]
        do {
            let result = try CompiledPrograms.runToCompletion(arguments)
            guard result.status == 0 else {
                return .failure(.init(description: "\(arguments.joined(separator: " ")) failed:\n\(result.output)"))
            }
            return .success(output)
        } catch {
            return .failure(.init(description: "\(arguments.joined(separator: " ")) could not run: \(error)"))
        }
    }()
}

/// An independent conformance check of point-to-point through the region: mpi4py's own unit tests
/// of sends, receives, requests, statuses and message specifications, unmodified, run by its
/// tests/main.py as BindingTests runs its one-sided ones, every rank sharing one region. They also
/// message on MPI_COMM_SELF, intercommunicators and windows the library hands to MPICH, so only
/// `send_shm > 0` is asserted of the stats, not that nothing went to MPICH.
@Suite("mpi4py's point-to-point test suites through the region", .serialized)
struct Mpi4pyPointToPointTests {
    static let suites = [
        "test_p2p_buf", "test_p2p_obj", "test_p2p_buf_matched", "test_p2p_obj_matched", "test_request",
        "test_status", "test_msgspec", "test_msgzero", "test_grequest", "test_p2p_buf_part",
    ]

    @Test("mpi4py's own point-to-point suites pass served, one region: OK on every rank, send_shm > 0 on every rank",
          .enabled(if: Mpi4py.installation?.testSuite != nil, Mpi4py.missingTestSuiteComment), arguments: [2, 3])
    func mpi4pyPointToPointSuites(ranks: Int) throws {
        let mpi4py = try #require(Mpi4py.installation)
        let tests = try #require(mpi4py.testSuite)
        let library = try TestFixtures.requireLibrary()
        let program = MPIProgram(name: "mpi4py point-to-point test suites", calls: [], usesPassThroughWindows: true)
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: program, groups: [RankGroup(ranks: ranks, region: regions[0])], preload: library,
                interpreter: mpi4py.python, environment: MPIJob.libraryEnvironment + mpi4py.environment,
                arguments: Self.suites, timeoutSeconds: 240)
            let result = try job.run(executable: tests)
            try requireNotHung(result, of: job)
            let okLines = Mpi4py.ranksReportingOK(result.stderr)
            #expect(result.exitStatus == 0 && okLines == ranks,
                    "exit status \(result.exitStatus), \(okLines) of \(ranks) ranks reported OK\n\(result.report)")
            let (stats, malformed) = RankStats.parse(stderr: result.stderr)
            #expect(malformed.isEmpty && stats.map(\.rank).sorted() == Array(0..<ranks),
                    "expected one well-formed stats line per rank 0..<\(ranks), got ranks \(stats.map(\.rank)), malformed \(malformed)\n\(result.report)")
            expectEveryRank(result, ranks: ranks, "send_shm > 0 (messages through the region)") { $0.sends(.shm) > 0 }
        }
    }
}
