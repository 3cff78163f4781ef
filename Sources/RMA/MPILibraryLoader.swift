import CMPI
import CShims
import Glibc

/// Finds the MPI library in the process this library is preloaded into, and binds the generated
/// tables (MPILibrary, Dispatch) to it, once, at the first MPI call: libivshmem_rma.so names no
/// MPI library in DT_NEEDED, so one build serves every MPI of the MPICH ABI family, and loads
/// into processes (Python) that open their MPI library later, with RTLD_LOCAL.
///
/// The MPI library is the object that defines PMPI_Init, found after this library in load order
/// (or, when none is, among every loaded object). A profiling tool loaded after this library
/// defines MPI_X too, with another address than the MPI library's MPI_X: Dispatch sends the
/// program's MPI_X there, and the tool's own PMPI_X call comes back to this library's PMPI_X.
/// A tool loaded before this library needs nothing: its PMPI_X calls find this library's.
enum MPILibraryLoader {
    /// A Swift global's initializer runs exactly once, even when threads race to it.
    private static let binding: Void = bindAll()

    @inline(never)
    static func resolve() { _ = binding }

    /// The MPI functions a profiling tool loaded after this library takes over (IVSHMEM_RMA_VERBOSE).
    nonisolated(unsafe) private(set) static var profiledFunctions: [String] = []
    /// The file the MPI library was loaded from.
    nonisolated(unsafe) private(set) static var libraryPath = ""

    private static func bindAll() {
        guard let library = ivshmem_library_defining("PMPI_Init") else {
            warn("no library in this process defines PMPI_Init, so there is no MPI library to hand calls to")
            abort()
        }
        libraryPath = String(cString: ivshmem_library_path(library))
        MPILibrary.bind { ivshmem_symbol(library, $0) }
        var profiled: [String] = []
        Dispatch.bind { name in
            guard let next = ivshmem_next_definition(name), next != ivshmem_symbol(library, name) else { return nil }
            profiled.append(name)
            return next
        }
        profiledFunctions = profiled
    }

    /// What a function the MPI library lacks does when called (an older MPI of the family without
    /// a large-count function, say): one line, and an error class the caller can test.
    static func missing(_ name: StaticString) -> Int32 {
        warn("\(name) is not in the MPI library (\(libraryPath)); the call fails with MPI_ERR_OTHER")
        return MPI_ERR_OTHER
    }
}
