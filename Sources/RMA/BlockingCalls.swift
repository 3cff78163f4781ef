import CMPI

/// The MPI calls a target typically waits in while origins work on its windows: a barrier, a
/// receive, a wait on requests, an allreduce. When this process serves staged windows, these wait
/// by testing the nonblocking form and applying incoming requests in between, so an origin's flush
/// or unlock completes at once instead of at the progress agent's next look (the agent competes
/// for a core with this very wait). Same semantics as the blocking call; pure pass-through otherwise.
public enum BlockingCalls {
    public static func barrier(_ comm: MPI_Comm) -> Int32 {
        guard ProgressAgent.servesStagedWindows else { return PMPI_Barrier(comm) }
        var request = MPI_REQUEST_NULL
        let code = PMPI_Ibarrier(comm, &request)
        return code == MPI_SUCCESS ? wait(&request, nil) : code
    }

    public static func allreduce(_ send: UnsafeRawPointer?, _ receive: UnsafeMutableRawPointer?, _ count: Int32,
                                 _ type: MPI_Datatype, _ op: MPI_Op, _ comm: MPI_Comm) -> Int32 {
        guard ProgressAgent.servesStagedWindows else { return PMPI_Allreduce(send, receive, count, type, op, comm) }
        var request = MPI_REQUEST_NULL
        let code = PMPI_Iallreduce(send, receive, count, type, op, comm, &request)
        return code == MPI_SUCCESS ? wait(&request, nil) : code
    }

    public static func receive(_ buffer: UnsafeMutableRawPointer?, _ count: Int32, _ type: MPI_Datatype, _ source: Int32,
                               _ tag: Int32, _ comm: MPI_Comm, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        // From MPI_PROC_NULL nothing comes to wait for (and MPICH 4.0.2's MPI_Irecv from it gives a wrong status).
        guard ProgressAgent.servesStagedWindows, source != MPI_PROC_NULL else { return PMPI_Recv(buffer, count, type, source, tag, comm, status) }
        var request = MPI_REQUEST_NULL
        let code = PMPI_Irecv(buffer, count, type, source, tag, comm, &request)
        return code == MPI_SUCCESS ? wait(&request, status) : code
    }

    public static func wait(_ request: UnsafeMutablePointer<MPI_Request>?, _ status: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard ProgressAgent.servesStagedWindows, let request else { return PMPI_Wait(request, status) }
        if let status { return testing { PMPI_Test(request, &$0, status) } }
        var ignored = MPI_Status()
        return testing { PMPI_Test(request, &$0, &ignored) }
    }

    public static func waitAll(_ count: Int32, _ requests: UnsafeMutablePointer<MPI_Request>?,
                               _ statuses: UnsafeMutablePointer<MPI_Status>?) -> Int32 {
        guard ProgressAgent.servesStagedWindows, let requests, count > 0 else { return PMPI_Waitall(count, requests, statuses) }
        // One request at a time, each tested until it completes and never again (a completed one
        // would test again as done with an empty status): MPICH 4.0.2's MPI_Testall fails on a
        // started persistent collective (MPI_ERR_PENDING), where MPI_Test does not.
        let ignored = statuses == nil || statuses == IVSHMEM_MPI_STATUSES_IGNORE
        for index in 0..<Int(count) {
            let code = wait(requests + index, ignored ? IVSHMEM_MPI_STATUS_IGNORE : statuses! + index)
            if code != MPI_SUCCESS { return code }
        }
        return MPI_SUCCESS
    }


    /// Calls `test` until it reports completion (or an error), applying staged requests and
    /// moving messages in between.
    private static func testing(_ test: (inout Int32) -> Int32) -> Int32 {
        while true {
            var done: Int32 = 0
            let code = test(&done)
            if code != MPI_SUCCESS || done != 0 { return code }
            ProgressAgent.applyPending()
            if Messages.isActive { Messages.progress() }
        }
    }
}
