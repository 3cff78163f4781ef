import Testing

extension MPIProgram {
    /// The collectives of fortran_collectives_body.inc (MPI_Barrier, MPI_Bcast, MPI_Allreduce,
    /// MPI_Reduce, MPI_Allgather, MPI_Alltoall, MPI_Scan, a non-commutative MPI_Op_create
    /// operation) through each Fortran binding; `use mpi_f08` calls PMPI_X directly.
    static let fortranCollectivesF08 = MPIProgram(name: "fortran_collectives", calls: [])
    static let fortranCollectivesUseMPI = MPIProgram(name: "fortran_collectives_use_mpi", calls: [])
    static let fortranCollectivesMpifH = MPIProgram(name: "fortran_collectives_mpif_h", calls: [])
    static let fortranCollectives: [MPIProgram] = [fortranCollectivesF08, fortranCollectivesUseMPI, fortranCollectivesMpifH]
}

/// A Fortran collectives program at a rank count.
struct FortranCollectiveRun: Sendable, CustomTestStringConvertible {
    let program: MPIProgram
    let ranks: Int
    var testDescription: String { "\(program.name), \(ranks) ranks" }

    static let cases = MPIProgram.fortranCollectives.flatMap { program in
        [2, 4].map { FortranCollectiveRun(program: program, ranks: $0) }
    }

    /// The collective calls the program makes on every rank: a barrier, twice (3 and 9000
    /// elements) a broadcast from every root and 9 more (4 allreduces, 2 reduces, an allgather, an
    /// all-to-all, a scan), 3 with the user operation, a barrier.
    var collectiveCalls: Int { 1 + 2 * (ranks + 9) + 3 + 1 }
}

/// Collectives called from Fortran reach the library through every binding and are all served:
/// each program checks its results itself; the stats line must count every one of its
/// collectives through the region and none to MPICH (a call that bypassed the library would
/// count neither).
@Suite("Fortran collectives through the region", .serialized)
struct FortranCollectiveTests {
    @Test("Fortran collectives without the library", arguments: MPIProgram.fortranCollectives)
    func plain(program: MPIProgram) throws {
        try runAndCheck(MPIJob(program: program, groups: [RankGroup(ranks: 4)]), stats: .absent)
    }

    @Test("Fortran collectives served, one region: every call counted through the region", arguments: FortranCollectiveRun.cases)
    func served(run: FortranCollectiveRun) throws {
        let result = try runOnRegions(run.program, ranks: run.ranks)
        expectEveryRank(result, ranks: run.ranks,
                        "coll_shm == \(run.collectiveCalls) and coll_mpi == 0 (every collective served)") {
            $0.collectives(.shm) == run.collectiveCalls && $0.collectives(.mpi) == 0
        }
    }
}
