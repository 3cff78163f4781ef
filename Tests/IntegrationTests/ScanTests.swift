import Testing

extension MPIProgram {
    /// MPI_Scan, MPI_Exscan, MPI_Reduce_scatter_block, MPI_Reduce_scatter and a non-commutative
    /// user operation, each result checked against values computed in the program (scans.c).
    static let scans = MPIProgram(name: "scans", calls: [])
    /// MPI_Gatherv, MPI_Allgatherv, MPI_Scatterv, MPI_Alltoallv with uneven pieces and gaps (vcollectives.c).
    static let vcollectives = MPIProgram(name: "vcollectives", calls: [])
    /// MPI_Alltoallw with a type per pair (MPI_DATATYPE_NULL for no elements), in place and from
    /// MPI_BOTTOM (alltoallw.c).
    static let alltoallw = MPIProgram(name: "alltoallw", calls: [])
    /// MPI_Bcast, MPI_Gather, MPI_Scatter and MPI_Allgather with buffers at MPI_BOTTOM (types of
    /// absolute addresses) against plain ones (bottom_collectives.c).
    static let bottomCollectives = MPIProgram(name: "bottom_collectives", calls: [])
}

/// A collectives program at a rank count.
struct DigestRun: Sendable, CustomTestStringConvertible {
    let program: MPIProgram
    let ranks: Int
    var testDescription: String { "\(program.name), \(ranks) ranks" }

    static let cases = [MPIProgram.scans, .vcollectives, .alltoallw, .bottomCollectives].flatMap { program in
        [2, 3, 4, 8].map { DigestRun(program: program, ranks: $0) }
    }
}

/// The scans, reduce-scatters and v-variants through the region: each program checks results
/// itself; the served run's digest (every result buffer, the bytes around the results included)
/// must also equal plain MPICH's, and the stats line must show the calls served.
@Suite("Scans, reduce-scatters, the v-variants and MPI_Alltoallw through the region", .serialized)
struct ScanTests {
    @Test("served: results and digest as plain MPICH's", arguments: DigestRun.cases)
    func served(run: DigestRun) throws {
        let plainJob = MPIJob(program: run.program, groups: [RankGroup(ranks: run.ranks)], arguments: ["--digest"])
        let plain = try runAndCheck(plainJob, stats: .absent)
        let result = try runOnRegions(run.program, ranks: run.ranks, arguments: ["--digest"])
        let digest = { (result: JobResult) in result.stdoutLines.filter { $0.hasPrefix("digest ") } }
        #expect(digest(plain).count == 1, "plain MPICH printed no digest\n\(plain.report)")
        #expect(digest(result) == digest(plain), "the served digest differs from plain MPICH's\n\(result.report)")
        let (stats, _) = RankStats.parse(stderr: result.stderr)
        #expect(stats.count == run.ranks && stats.allSatisfy { Int($0.values["coll_shm"] ?? "") ?? 0 > 0 },
                "every rank should serve collectives through the region\n\(result.report)")
    }

    /// Two regions = two servers: MPI_COMM_WORLD's gathers, scatters and broadcasts run
    /// hierarchically, packing and unpacking the MPI_BOTTOM pieces in the library; every one of
    /// them is served.
    @Test("two regions (1+2, 2+2 ranks): bottom_collectives.c's results and digest as plain MPICH's, every call served",
          arguments: [[1, 2], [2, 2]])
    func twoRegions(groups: [Int]) throws {
        let ranks = groups.reduce(0, +)
        let plain = try runAndCheck(MPIJob(program: .bottomCollectives, groups: [RankGroup(ranks: ranks)],
                                           arguments: ["--digest"]), stats: .absent)
        let library = try TestFixtures.requireLibrary()
        let result = try withRegionFiles(2) { regions in
            let job = MPIJob(program: .bottomCollectives, groups: zip(groups, regions).map { RankGroup(ranks: $0, region: $1) },
                             preload: library, environment: MPIJob.libraryEnvironment, arguments: ["--digest"])
            return try runAndCheck(job, stats: .twoRegions)
        }
        let digest = { (result: JobResult) in result.stdoutLines.filter { $0.hasPrefix("digest ") } }
        #expect(digest(plain).count == 1 && digest(result) == digest(plain),
                "the served digest differs from plain MPICH's\n\(result.report)")
        expectEveryRank(result, ranks: ranks, "coll_mpi == 0 (every collective served)") {
            $0.collectives(.shm) > 0 && $0.collectives(.mpi) == 0
        }
    }
}
