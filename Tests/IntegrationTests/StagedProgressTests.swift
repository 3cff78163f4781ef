import Foundation
import Testing

/// staged_progress.c: origins work on an MPI_Win_create window while its target is blocked in an
/// MPI call, and many outstanding staged gets from every rank at once. A stall shows as the
/// library's time-out (10 s: the job aborts with a line naming the call and the peer) or the
/// harness's (45 s), well under a minute either way.
@Suite("Staged windows progress while the target is blocked in MPI", .serialized)
struct StagedProgressTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let mode: String
        let ranks: Int
        var uncommonTypes = false
        var testDescription: String { "target in \(mode)\(uncommonTypes ? ", long double and complex" : ""), \(ranks) ranks" }
    }

    static let blockingCalls = ["free", "finalize", "bcast", "sendrecv", "waitany"]
    static let cases: [Case] =
        [2, 4].flatMap { ranks in blockingCalls.map { Case(mode: $0, ranks: ranks) } }
        + [Case(mode: "free", ranks: 8)]

    static let blockedTarget = MPIProgram(name: "staged_progress", calls: [])
    static let manyRgets = MPIProgram(name: "staged_progress", calls: [.get])

    private func run(_ program: MPIProgram, ranks: Int, arguments: [String]) throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: program, groups: [RankGroup(ranks: ranks, region: regions[0])], preload: library,
                environment: [("IVSHMEM_RMA_STATS", "1"), ("IVSHMEM_RMA_TIMEOUT", "10")], arguments: arguments,
                timeoutSeconds: 45)
            try runAndCheck(job, stats: .oneRegion)
        }
    }

    @Test("origins lock, put, get, accumulate and unlock while the target waits in an MPI call", arguments: cases)
    func blockedTarget(_ testCase: Case) throws {
        try run(Self.blockedTarget, ranks: testCase.ranks, arguments: [testCase.mode])
    }

    /// Long double and double complex MPI_SUM: applied by the progress agent only once the
    /// operators apply them natively (the operators' branch); MPI_Reduce_local is off limits to
    /// the agent unless the program runs MPI_THREAD_MULTIPLE.
    @Test("long double and double complex accumulates while the target waits in MPI_Bcast", arguments: [2, 4])
    func uncommonTypes(ranks: Int) throws {
        try run(Self.blockedTarget, ranks: ranks, arguments: ["bcast", "uncommon-types"])
    }

    @Test("128 one-element MPI_Rget per rank to the next inside lock_all(NOCHECK), then unlock_all and MPI_Waitall",
          arguments: [2, 4, 8])
    func manyRgets(ranks: Int) throws {
        try run(Self.manyRgets, ranks: ranks, arguments: ["rget"])
    }
}
