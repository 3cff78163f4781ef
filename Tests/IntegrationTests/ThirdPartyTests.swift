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
