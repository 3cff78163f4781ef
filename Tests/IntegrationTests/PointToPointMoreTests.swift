import Foundation
import Testing

extension MPIProgram {
    /// Persistent sends of every mode and persistent receives (wildcards, a vector datatype) started
    /// 50 rounds by MPI_Start / MPI_Startall and completed by every wait and test call; inactive
    /// persistent requests in completion arrays, MPI_Request_get_status, MPI_Request_free of active
    /// sends, MPI_Cancel of a started persistent receive (with P2P_CANCEL_PERSISTENT=1),
    /// MPI_Isendrecv and MPI_Isendrecv_replace (statuses with P2P_CHECK_ISENDRECV_STATUS=1)
    /// (p2p_persistent.c).
    static let p2pPersistent = MPIProgram(name: "p2p_persistent", calls: [])
    /// MPI_Send/Recv, Isend/Irecv/Waitall, Sendrecv, Probe + Get_count and Send_init/Recv_init/
    /// Startall from Fortran, through `use mpi_f08` (PMPI_X directly) and `include 'mpif.h'`; the
    /// argument picks the binding (fortran_p2p.f90, fortran_p2p_body.inc).
    static let fortranP2P = MPIProgram(name: "fortran_p2p", calls: [])
}

/// A Fortran binding of fortran_p2p at a rank count.
struct FortranP2PRun: Sendable, CustomTestStringConvertible {
    /// The program's argument, and what rank 0 prints once that binding's body passed.
    let argument: String
    let checkedLine: String
    let ranks: Int
    var testDescription: String { "\(argument), \(ranks) ranks" }

    static let cases = [("mpi_f08", "use mpi_f08"), ("mpif.h", "mpif.h")].flatMap { argument, binding in
        [2, 4].map { FortranP2PRun(argument: argument, checkedLine: "fortran_p2p checked \(binding)", ranks: $0) }
    }
}

/// What p2p_persistent checks only when told: each prints a line from rank 0 once it ran.
private let cancelChecked = "p2p_persistent checked MPI_Cancel of persistent receives"
private let isendrecvStatusChecked = "p2p_persistent checked MPI_Isendrecv statuses"
private let checkCancel = ("P2P_CANCEL_PERSISTENT", "1")
private let checkIsendrecvStatus = ("P2P_CHECK_ISENDRECV_STATUS", "1")

/// Rank 0 printed `line` exactly once (an optional check ran), or, with `present` false, never.
private func expectLine(_ result: JobResult, _ line: String, present: Bool = true,
                        sourceLocation: SourceLocation = #_sourceLocation) {
    let count = result.stdoutLines.filter { $0 == line }.count
    let asExpected = count == (present ? 1 : 0)  // a plain Bool keeps #expect's own output short
    #expect(asExpected, "\"\(line)\" printed \(count) times, expected \(present ? "once" : "never")\n\(result.report)",
            sourceLocation: sourceLocation)
}

/// More point-to-point through the region: persistent requests and the request calls around them
/// (p2p_persistent.c), and point-to-point from Fortran (fortran_p2p.f90). Point-to-point through
/// the region is the default: the served runs set nothing to turn it on.
@Suite("Point-to-point through the region: persistent requests, request calls, Fortran", .serialized)
struct PointToPointMoreTests {
    static let rankCounts = [2, 4, 8]

    // MARK: Without the library: the programs themselves are right

    @Test("plain MPICH without preload, simulated VMs: p2p_persistent's ok lines", arguments: rankCounts)
    func plainMPICH(ranks: Int) throws {
        let result = try runAndCheck(MPIJob(program: .p2pPersistent, groups: [RankGroup(ranks: ranks)]), stats: .absent)
        expectOkLines(result, .p2pPersistent, ranks: ranks)
        expectLine(result, cancelChecked, present: false)
        expectLine(result, isendrecvStatusChecked, present: false)
    }

    @Test("plain MPICH, 4 ranks on bare metal (MPICH's own shared memory): p2p_persistent's ok lines")
    func plainMPICHBareMetal() throws {
        let job = MPIJob(program: .p2pPersistent, groups: [RankGroup(ranks: 4)], placement: .bareMetal)
        expectOkLines(try runAndCheck(job, stats: .absent), .p2pPersistent, ranks: 4)
    }

    @Test("plain MPICH without preload: fortran_p2p through both bindings at 4 ranks")
    func plainFortran() throws {
        let result = try runAndCheck(MPIJob(program: .fortranP2P, groups: [RankGroup(ranks: 4)]), stats: .absent)
        expectOkLines(result, .fortranP2P, ranks: 4)
        expectLine(result, "fortran_p2p checked use mpi_f08")
        expectLine(result, "fortran_p2p checked mpif.h")
    }

    // MARK: Through the region

    /// With the checks plain MPICH 4.0.2 cannot pass (MPI_Cancel of a started persistent receive,
    /// MPI_Isendrecv's status) turned on.
    @Test("served, one region: p2p_persistent's ok lines, send_shm > 0 and recv_shm > 0 on every rank",
          arguments: rankCounts)
    func served(ranks: Int) throws {
        let result = try runOnRegions(.p2pPersistent, ranks: ranks, environment: [checkCancel, checkIsendrecvStatus])
        expectOkLines(result, .p2pPersistent, ranks: ranks)
        expectLine(result, cancelChecked)
        expectLine(result, isendrecvStatusChecked)
        expectEveryRank(result, ranks: ranks, "send_shm > 0 and recv_shm > 0 (messages through the region)") {
            $0.sends(.shm) > 0 && $0.receives(.shm) > 0
        }
    }

    /// The same with point-to-point off: every call is MPICH's, so MPI_Isendrecv's status is
    /// MPICH 4.0.2's (wrong), and is not checked; MPI_Cancel of the persistent receive is.
    @Test("IVSHMEM_RMA_PT2PT=0, one region: p2p_persistent's ok lines, send_shm == 0 and recv_shm == 0 on every rank",
          arguments: rankCounts)
    func pointToPointTurnedOff(ranks: Int) throws {
        let result = try runOnRegions(.p2pPersistent, ranks: ranks,
                                      environment: [("IVSHMEM_RMA_PT2PT", "0"), checkCancel])
        expectOkLines(result, .p2pPersistent, ranks: ranks)
        expectLine(result, cancelChecked)
        expectEveryRank(result, ranks: ranks, "send_shm == 0 and recv_shm == 0 (point-to-point turned off)") {
            $0.sends(.shm) == 0 && $0.receives(.shm) == 0
        }
    }

    /// `use mpi_f08` calls PMPI_Send, ... directly: those must be served too.
    @Test("fortran_p2p served, one region: ok lines, send_shm > 0 and recv_shm > 0 on every rank",
          arguments: FortranP2PRun.cases)
    func fortranServed(run: FortranP2PRun) throws {
        let result = try runOnRegions(.fortranP2P, ranks: run.ranks, arguments: [run.argument])
        expectOkLines(result, .fortranP2P, ranks: run.ranks)
        expectLine(result, run.checkedLine)
        expectEveryRank(result, ranks: run.ranks, "send_shm > 0 and recv_shm > 0 (messages through the region)") {
            $0.sends(.shm) > 0 && $0.receives(.shm) > 0
        }
    }
}
