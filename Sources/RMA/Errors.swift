import CMPI

/// Reports an MPI error the way MPICH would: through the window's error handler (which aborts
/// under the default MPI_ERRORS_ARE_FATAL), then as the return code.
@inline(never)
func windowError(_ handle: MPI_Win, _ errorClass: Int32) -> Int32 {
    PMPI_Win_call_errhandler(handle, errorClass)
    return errorClass
}

/// Reports an MPI error through the communicator's error handler (which aborts under the
/// default MPI_ERRORS_ARE_FATAL), then as the return code.
@inline(never)
func communicatorError(_ comm: MPI_Comm, _ errorClass: Int32) -> Int32 {
    PMPI_Comm_call_errhandler(comm, errorClass)
    return errorClass
}

/// An MPI error class as a Swift error, for checks that report one or a result.
struct MPIErrorClass: Error {
    let code: Int32
    init(_ code: Int32) { self.code = code }
}
