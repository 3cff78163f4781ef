import Testing

extension MPIProgram {
    /// MPI_Scan, MPI_Exscan, MPI_Reduce_scatter_block, MPI_Reduce_scatter and a non-commutative
    /// user operation, each result checked against values computed in the program (scans.c).
    static let scans = MPIProgram(name: "scans", calls: [])
}

/// The prefix reductions and reduce-scatters through the region: scans.c checks every element
/// itself; the served run's digest must also equal plain MPICH's, and the stats line must show
/// the calls served.
@Suite("Scans and reduce-scatters through the region", .serialized)
struct ScanTests {
    @Test("MPI_Scan, MPI_Exscan, MPI_Reduce_scatter(_block) served: results and digest as plain MPICH's",
          arguments: [2, 3, 4, 8])
    func served(ranks: Int) throws {
        let plain = try runAndCheck(MPIJob(program: .scans, groups: [RankGroup(ranks: ranks)], arguments: ["--digest"]),
                                    stats: .absent)
        let result = try runOnRegions(.scans, ranks: ranks, arguments: ["--digest"])
        let digest = { (result: JobResult) in result.stdoutLines.filter { $0.hasPrefix("digest ") } }
        #expect(digest(plain).count == 1, "plain MPICH printed no digest\n\(plain.report)")
        #expect(digest(result) == digest(plain), "the served digest differs from plain MPICH's\n\(result.report)")
        let (stats, _) = RankStats.parse(stderr: result.stderr)
        #expect(stats.count == ranks && stats.allSatisfy { Int($0.values["coll_shm"] ?? "") ?? 0 > 0 },
                "every rank should serve collectives through the region\n\(result.report)")
    }
}
