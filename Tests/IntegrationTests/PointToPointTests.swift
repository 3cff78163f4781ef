import Foundation
import Testing

extension MPIProgram {
    /// Every pair of ranks, both ways: MPI_Send/Recv, Isend/Irecv, Ssend, Rsend, Issend, Irsend,
    /// Sendrecv, Sendrecv_replace at 0 B .. 4 MiB as MPI_INT, MPI_DOUBLE, MPI_BYTE; a derived type
    /// on one side only, MPI_BOTTOM, MPI_PROC_NULL and the MPI-4 `_c` calls (p2p_basic.c).
    static let p2pBasic = MPIProgram(name: "p2p_basic", calls: [])
    /// MPI_ANY_SOURCE / MPI_ANY_TAG, non-overtaking, receives posted before the sends, MPI_Probe,
    /// MPI_Mprobe, MPI_ERR_TRUNCATE, MPI_Cancel, MPI_Request_free and MPI_Issend's completion rule
    /// (p2p_matching.c).
    static let p2pMatching = MPIProgram(name: "p2p_matching", calls: [])
    /// The Wait/Test families on arrays mixing point-to-point and MPICH's own requests, MPI_Bsend,
    /// messages on every kind of communicator beside MPI_COMM_WORLD's, and with `--threads` two
    /// threads per rank under MPI_THREAD_MULTIPLE (p2p_requests.c).
    static let p2pRequests = MPIProgram(name: "p2p_requests", calls: [])

    static let pointToPoint: [MPIProgram] = [p2pBasic, p2pMatching, p2pRequests]
}

/// A point-to-point program at a rank count.
struct PointToPointRun: Sendable, CustomTestStringConvertible {
    let program: MPIProgram
    let ranks: Int
    var testDescription: String { "\(program.name), \(ranks) ranks" }

    static let cases = MPIProgram.pointToPoint.flatMap { program in [2, 4, 8].map { PointToPointRun(program: program, ranks: $0) } }
}

/// Point-to-point through the region is the default: no variable.
private let pointToPointOn: [(String, String)] = []
private let pointToPointOff = [("IVSHMEM_RMA_PT2PT", "0")]

/// Every rank printed "<program> ok rank=R" once, and no rank printed a FAIL line.
func expectOkLines(_ result: JobResult, _ program: MPIProgram, ranks: Int,
                           sourceLocation: SourceLocation = #_sourceLocation) {
    let okLines = result.stdoutLines.filter { $0.hasPrefix("\(program.name) ok rank=") }
    let missing = (0..<ranks).filter { rank in okLines.filter { $0 == "\(program.name) ok rank=\(rank)" }.count != 1 }
    let everyRankOnce = missing.isEmpty && okLines.count == ranks  // a plain Bool keeps #expect's own output short
    #expect(everyRankOnce, "\"\(program.name) ok rank=R\" missing or repeated for ranks \(missing) (\(okLines.count) lines)\n\(result.report)",
            sourceLocation: sourceLocation)
    let failures = (result.stdoutLines + result.stderrLines).filter { $0.hasPrefix("FAIL ") }
    #expect(failures.isEmpty, "ranks reported failures:\n\(failures.joined(separator: "\n"))\n\(result.report)",
            sourceLocation: sourceLocation)
}

/// The point-to-point calls through the region (the default) on communicators whose members
/// all share it: each program checks every byte and status itself and prints one "ok" line per rank;
/// the stats lines say which way the messages went.
@Suite("Point-to-point through the region: sends, receives, matching, requests", .serialized)
struct PointToPointTests {
    // MARK: Without the library: the programs themselves are right

    @Test("plain MPICH without preload, simulated VMs: every rank's ok line", arguments: PointToPointRun.cases)
    func plainMPICH(run: PointToPointRun) throws {
        let result = try runAndCheck(MPIJob(program: run.program, groups: [RankGroup(ranks: run.ranks)]), stats: .absent)
        expectOkLines(result, run.program, ranks: run.ranks)
    }

    @Test("plain MPICH, 4 ranks on bare metal (MPICH's own shared memory): every rank's ok line",
          arguments: MPIProgram.pointToPoint)
    func plainMPICHBareMetal(program: MPIProgram) throws {
        let job = MPIJob(program: program, groups: [RankGroup(ranks: 4)], placement: .bareMetal)
        expectOkLines(try runAndCheck(job, stats: .absent), program, ranks: 4)
    }

    @Test("plain MPICH: p2p_requests --threads at 2 ranks runs its two threads")
    func plainMPICHThreads() throws {
        let job = MPIJob(program: .p2pRequests, groups: [RankGroup(ranks: 2)], arguments: ["--threads"])
        let result = try runAndCheck(job, stats: .absent)
        expectOkLines(result, .p2pRequests, ranks: 2)
        expectThreadsRan(result)
    }

    // MARK: Through the region

    @Test("by default, one region: every rank's ok line, send_shm > 0 and recv_shm > 0 on every rank",
          arguments: PointToPointRun.cases)
    func served(run: PointToPointRun) throws {
        let result = try runOnRegions(run.program, ranks: run.ranks, environment: pointToPointOn)
        expectOkLines(result, run.program, ranks: run.ranks)
        expectEveryRank(result, ranks: run.ranks, "send_shm > 0 and recv_shm > 0 (messages through the region)") {
            $0.sends(.shm) > 0 && $0.receives(.shm) > 0
        }
    }

    /// The same programs with point-to-point off: the stats must say so, which is what makes the
    /// `> 0` checks above mean something.
    @Test("IVSHMEM_RMA_PT2PT=0, one region: every rank's ok line, send_shm == 0 and recv_shm == 0 on every rank",
          arguments: PointToPointRun.cases)
    func pointToPointTurnedOff(run: PointToPointRun) throws {
        let result = try runOnRegions(run.program, ranks: run.ranks, environment: pointToPointOff)
        expectOkLines(result, run.program, ranks: run.ranks)
        expectEveryRank(result, ranks: run.ranks, "send_shm == 0 and recv_shm == 0 (point-to-point turned off)") {
            $0.sends(.shm) == 0 && $0.receives(.shm) == 0
        }
    }

    @Test("by default: p2p_requests --threads at 2 ranks, two threads a rank under MPI_THREAD_MULTIPLE")
    func threads() throws {
        let result = try runOnRegions(.p2pRequests, ranks: 2, environment: pointToPointOn, arguments: ["--threads"])
        expectOkLines(result, .p2pRequests, ranks: 2)
        expectThreadsRan(result)
        expectEveryRank(result, ranks: 2, "send_shm > 0 and recv_shm > 0 (messages through the region)") {
            $0.sends(.shm) > 0 && $0.receives(.shm) > 0
        }
    }

    /// MPI_COMM_WORLD and the dup span both regions (the library may hand those to MPICH); the
    /// communicators within one region may go through it. Only the results are asserted.
    @Test("by default, two regions (2+2 ranks): p2p_matching's ok lines, no errors")
    func twoRegions() throws {
        let result = try runOnRegions(.p2pMatching, ranks: 2, regions: 2, environment: pointToPointOn,
                                      stats: .twoRegions)
        expectOkLines(result, .p2pMatching, ranks: 4)
    }

    /// p2p_requests prints a skip line when MPI_THREAD_MULTIPLE is not provided: that must not pass silently.
    private func expectThreadsRan(_ result: JobResult, sourceLocation: SourceLocation = #_sourceLocation) {
        let skipped = result.stdoutLines.filter { $0.hasPrefix("p2p_requests threads skipped") }
        #expect(skipped.isEmpty, "the two-thread phase did not run:\n\(skipped.joined(separator: "\n"))\n\(result.report)",
                sourceLocation: sourceLocation)
    }
}
