import CMPI

/// The communicator constructors: MPICH makes the communicator, then the layer registers it
/// (Communicators.created), collectively on its members like the constructor itself.
public enum CommunicatorCreation {
    public static func made(_ newComm: UnsafeMutablePointer<MPI_Comm>?, _ make: () -> Int32) -> Int32 {
        let code = make()
        if code == MPI_SUCCESS, let newComm { Communicators.created(newComm.pointee) }
        return code
    }
}
