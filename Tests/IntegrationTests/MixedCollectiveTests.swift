import Foundation
import Testing

extension MPIProgram {
    /// Served blocking collectives interleaved on one communicator with nonblocking and MPI-4
    /// persistent ones, which the library hands to MPICH, in every order MPI allows
    /// (mixed_collectives.c); `--window` adds a round with an MPI_Win_create window open.
    static let mixedCollectives = MPIProgram(name: "mixed_collectives", calls: [])
}

/// Plain MPICH's "digest H" line of mixed_collectives.c per rank count and arguments, one run each
/// per test process.
private final class MixedReferenceDigests: @unchecked Sendable {
    private let lock = NSLock()
    private var known: [String: Substring] = [:]

    func line(ranks: Int, arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> Substring {
        lock.lock()
        defer { lock.unlock() }
        let key = "\(ranks) \(arguments.joined(separator: " "))"
        if let line = known[key] { return line }
        let job = MPIJob(program: .mixedCollectives, groups: [RankGroup(ranks: ranks)], arguments: arguments)
        let result = try runAndCheck(job, stats: .absent, sourceLocation: sourceLocation)
        let lines = mixedDigestLines(result)
        try #require(lines.count == 1, "plain MPICH at \(ranks) ranks printed no digest\n\(result.report)",
                     sourceLocation: sourceLocation)
        known[key] = lines[0]
        return lines[0]
    }
}

private func mixedDigestLines(_ result: JobResult) -> [Substring] {
    result.stdoutLines.filter { $0.hasPrefix("digest ") }
}

/// Nonblocking and persistent collectives stay MPICH's while the blocking ones on the same
/// communicator go through the region: a pending MPI_Iallreduce, MPI_Ibarrier, MPI_Ibcast,
/// MPI_Ialltoall, MPI_Iscan or started MPI_Allreduce_init / MPI_Bcast_init request must survive
/// the served calls made before it completes, and a communicator's registration at its first
/// served call must not disturb the ones pending on it. mixed_collectives.c checks every result;
/// its digest must equal plain MPICH's, and the stats lines must show the blocking calls served.
@Suite("Served blocking collectives interleaved with MPICH's nonblocking and persistent ones", .serialized)
struct MixedCollectiveTests {
    private static let reference = MixedReferenceDigests()

    @Test("one region: results and digest as plain MPICH's, the blocking collectives served on every rank",
          arguments: [2, 3, 4, 8])
    func oneRegion(ranks: Int) throws {
        let result = try runOnRegions(.mixedCollectives, ranks: ranks, arguments: ["--digest"])
        try expectDigest(result, ranks: ranks, arguments: ["--digest"])
        expectEveryRank(result, ranks: ranks, "coll_shm > 0 (the blocking collectives served)") { $0.collectives(.shm) > 0 }
    }

    /// MPI_COMM_WORLD, the dup and the split span both regions: blocking barriers, broadcasts and
    /// reductions run hierarchically (their first call splits the communicator through MPICH while
    /// nonblocking calls are pending on it), the rest is MPICH's.
    @Test("two regions (2+2 ranks): results and digest as plain MPICH's at 4 ranks, collectives served on every rank")
    func twoRegions() throws {
        let library = try TestFixtures.requireLibrary()
        let result = try withRegionFiles(2) { regions in
            let job = MPIJob(program: .mixedCollectives, groups: regions.map { RankGroup(ranks: 2, region: $0) },
                             preload: library, environment: MPIJob.libraryEnvironment, arguments: ["--digest"])
            return try runAndCheck(job, stats: .twoRegions)
        }
        try expectDigest(result, ranks: 4, arguments: ["--digest"])
        expectEveryRank(result, ranks: 4, "coll_shm > 0 (MPI_COMM_WORLD served hierarchically)") { $0.collectives(.shm) > 0 }
    }

    /// The same program with the library's collectives off: the stats must say so, which is what
    /// makes the `coll_shm > 0` checks above mean something.
    @Test("IVSHMEM_RMA_COLLECTIVES=0: coll_shm == 0 on every rank, digest as plain MPICH's")
    func collectivesOff() throws {
        let result = try runOnRegions(.mixedCollectives, ranks: 4, environment: [("IVSHMEM_RMA_COLLECTIVES", "0")],
                                      arguments: ["--digest"])
        try expectDigest(result, ranks: 4, arguments: ["--digest"])
        expectEveryRank(result, ranks: 4, "coll_shm == 0 (collectives turned off)") { $0.collectives(.shm) == 0 }
    }

    /// An MPI_Win_create window makes the library run its progress agent, and its MPI_Wait,
    /// MPI_Waitall and MPI_Barrier then wait by testing MPICH's requests in a loop: MPI_Waitall on
    /// started persistent collectives once aborted there (MPICH 4.0.2's MPI_Testall fails on an
    /// active persistent collective request, MPI_Test does not).
    @Test("with an MPI_Win_create window open: results and digest as plain MPICH's", arguments: [2, 4])
    func windowOpen(ranks: Int) throws {
        let arguments = ["--digest", "--window"]
        let result = try runOnRegions(.mixedCollectives, ranks: ranks, arguments: arguments)
        try expectDigest(result, ranks: ranks, arguments: arguments)
        expectEveryRank(result, ranks: ranks, "coll_shm > 0 (the blocking collectives served)") { $0.collectives(.shm) > 0 }
    }

    private func expectDigest(_ result: JobResult, ranks: Int, arguments: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try Self.reference.line(ranks: ranks, arguments: arguments, sourceLocation: sourceLocation)
        let found = mixedDigestLines(result)
        #expect(found == [expected],
                "digest differs from plain MPICH's at \(ranks) ranks:\n  MPICH:  \(expected)\n  served: \(found)\n\(result.report)",
                sourceLocation: sourceLocation)
    }
}

/// Every rank printed a stats line, and each satisfies `holds`.
func expectEveryRank(_ result: JobResult, ranks: Int, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                     _ holds: (RankStats) -> Bool) {
    let (stats, _) = RankStats.parse(stderr: result.stderr)
    #expect(stats.count == ranks, "expected \(ranks) stats lines\n\(result.report)", sourceLocation: sourceLocation)
    let failing = stats.filter { !holds($0) }
    let everyRankHolds = failing.isEmpty  // a plain Bool keeps #expect's own output short
    #expect(everyRankHolds, "\(what) fails on:\n\(failing.map(\.line).joined(separator: "\n"))\n\(result.report)",
            sourceLocation: sourceLocation)
}
