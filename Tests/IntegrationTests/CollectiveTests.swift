import Foundation
import Testing

extension MPIProgram {
    /// MPI_Barrier, MPI_Bcast, MPI_Reduce, MPI_Allreduce, MPI_Gather, MPI_Allgather, MPI_Scatter and
    /// MPI_Alltoall on MPI_COMM_WORLD, sub-communicators and MPI_COMM_SELF, with every rank's puts to
    /// every rank between fences in between (collectives.c).
    static let collectives = MPIProgram(name: "collectives", calls: [.put])
}

extension RankStats {
    /// Collective calls served through the region (`coll_shm`) or handed to MPICH (`coll_mpi`);
    /// -1 when the line has no such key.
    func collectives(_ path: CallPath) -> Int {
        Int(values["coll_\(path)"] ?? "") ?? -1
    }
}

/// collectives.c's `--digest` lines: "digest H" (every rank's results, combined) and "rank digests H0 H1 ...".
private func digestLines(_ result: JobResult) -> [Substring] {
    result.stdoutLines.filter { $0.hasPrefix("digest ") || $0.hasPrefix("rank digests ") }
}

/// Plain MPICH's digest lines per rank count, from one run each per test process (the 8-rank run
/// takes about 30 s on 2 cores).
private final class ReferenceDigests: @unchecked Sendable {
    private let lock = NSLock()
    private var byRanks: [Int: [Substring]] = [:]

    func lines(ranks: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> [Substring] {
        lock.lock()
        defer { lock.unlock() }
        if let known = byRanks[ranks] { return known }
        let job = MPIJob(program: .collectives, groups: [RankGroup(ranks: ranks)], arguments: ["--digest"])
        let result = try runAndCheck(job, stats: .absent, sourceLocation: sourceLocation)
        let lines = digestLines(result)
        try #require(lines.count == 2, "plain MPICH at \(ranks) ranks printed no digest\n\(result.report)",
                     sourceLocation: sourceLocation)
        byRanks[ranks] = lines
        return lines
    }
}

/// The served collectives (MPI_Barrier, MPI_Bcast, MPI_Reduce, MPI_Allreduce, MPI_Gather, MPI_Allgather,
/// MPI_Scatter, MPI_Alltoall through the region):
/// collectives.c checks every result itself; its digest must equal plain MPICH's at the same rank
/// count, and the stats lines say which way the collectives went.
@Suite("Collectives through the region: MPI_Barrier, MPI_Bcast, MPI_Reduce, MPI_Allreduce, MPI_Gather, MPI_Allgather, MPI_Scatter, MPI_Alltoall",
       .serialized)
struct CollectiveTests {
    private static let reference = ReferenceDigests()

    @Test("plain MPICH without preload, simulated VMs: collectives.c passes (and gives the reference digests)",
          arguments: [1, 2, 3, 4, 8])
    func plainMPICH(ranks: Int) throws {
        _ = try Self.reference.lines(ranks: ranks)
    }

    @Test("one region: every rank serves collectives through it; results and digest as plain MPICH's",
          arguments: [2, 3, 4, 8])
    func oneRegion(ranks: Int) throws {
        let result = try runOnRegions(.collectives, ranks: ranks, arguments: ["--digest"])
        expectCollectives(in: result, ranks: ranks, "coll_shm > 0 (every member shares the region)") {
            $0.collectives(.shm) > 0
        }
        try expectReferenceDigest(result, ranks: ranks)
    }

    /// MPI_COMM_WORLD, its dups and the even/odd splits span the regions: their barriers, broadcasts
    /// and reductions are served hierarchically (inside each region, MPICH among one leader per
    /// region), their gathers, scatters and all-to-alls are MPICH's whole; the halves and
    /// MPI_COMM_SELF lie within one. An uneven layout puts roots off their region's leader.
    @Test("several regions = several servers: MPI_COMM_WORLD's collectives run inside each region and among leaders; digest as plain MPICH's",
          arguments: [[2, 2], [3, 2]])
    func severalRegions(ranksPerRegion: [Int]) throws {
        let library = try TestFixtures.requireLibrary()
        let ranks = ranksPerRegion.reduce(0, +)
        let result = try withRegionFiles(ranksPerRegion.count) { regions in
            let job = MPIJob(program: .collectives, groups: zip(ranksPerRegion, regions).map { RankGroup(ranks: $0, region: $1) },
                             preload: library, environment: MPIJob.libraryEnvironment, arguments: ["--digest"])
            return try runAndCheck(job, stats: .twoRegions)
        }
        expectCollectives(in: result, ranks: ranks, "coll_shm > 0 (MPI_COMM_WORLD served hierarchically)") {
            $0.collectives(.shm) > 0
        }
        try expectReferenceDigest(result, ranks: ranks)
    }

    /// A rank without any region (a VM without the device) next to ranks that share one: every
    /// member must still take the same path in every collective and window creation (before,
    /// MPI_Win_allocate hung there: that rank alone went to MPICH's own allocate).
    @Test("a rank without a region among ranks sharing one (1 without, 2 on one region, 1 alone on another): digest as plain MPICH's")
    func rankWithoutRegion() throws {
        let library = try TestFixtures.requireLibrary()
        let result = try withRegionFiles(2) { regions in
            let job = MPIJob(program: .collectives,
                             groups: [RankGroup(ranks: 1, region: nil), RankGroup(ranks: 2, region: regions[0]),
                                      RankGroup(ranks: 1, region: regions[1])],
                             preload: library, environment: MPIJob.libraryEnvironment, arguments: ["--digest"])
            let result = try job.run()
            try requireNotHung(result, of: job)
            #expect(result.exitStatus == 0 && result.stdoutLines.contains { $0 == job.program.passLine },
                    "collectives.c failed\n\(result.report)")
            return result
        }
        expectCollectives(in: result, ranks: 4, "coll_shm > 0 (MPI_COMM_WORLD served hierarchically)") {
            $0.collectives(.shm) > 0
        }
        try expectReferenceDigest(result, ranks: 4)
    }

    @Test("IVSHMEM_RMA_COLLECTIVES=0: no collective through the region, the puts still are; digest as plain MPICH's")
    func collectivesOff() throws {
        let result = try runOnRegions(
            .collectives, ranks: 4, environment: [("IVSHMEM_RMA_COLLECTIVES", "0")], arguments: ["--digest"])
        expectCollectives(in: result, ranks: 4, "coll_shm == 0 (collectives turned off)") {
            $0.collectives(.shm) == 0
        }
        try expectReferenceDigest(result, ranks: 4)
    }

    /// Every rank's stats line satisfies `holds`.
    private func expectCollectives(
        in result: JobResult, ranks: Int, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
        _ holds: (RankStats) -> Bool
    ) {
        let (stats, _) = RankStats.parse(stderr: result.stderr)
        #expect(stats.count == ranks, "expected \(ranks) stats lines\n\(result.report)", sourceLocation: sourceLocation)
        let failing = stats.filter { !holds($0) }
        #expect(failing.isEmpty, "\(what) fails on:\n\(failing.map(\.line).joined(separator: "\n"))",
                sourceLocation: sourceLocation)
    }

    private func expectReferenceDigest(
        _ result: JobResult, ranks: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let expected = try Self.reference.lines(ranks: ranks, sourceLocation: sourceLocation)
        let found = digestLines(result)
        #expect(found == expected,
                "digests differ from plain MPICH's at \(ranks) ranks:\n  MPICH:  \(expected)\n  served: \(found)\n\(result.report)",
                sourceLocation: sourceLocation)
    }
}
