import Foundation
import Testing

/// An MPI of the MPICH ABI family (same mpi.h constants and handles, soname libmpi.so.12 or
/// Debian's libmpich.so.12) that the unmodified programs are compiled with and run under.
struct MPIImplementation: Sendable, CustomStringConvertible {
    let name: String
    /// The compiler wrapper the programs are built with (found on PATH when not absolute).
    let mpicc: String
    let mpiexec: String
    /// Variables of every rank that make each rank its own "VM" (see `Placement.simulatedVMs`).
    let simulatedVMEnvironment: [(String, String)]
    /// Variables mpiexec itself needs (its ranks inherit them).
    let launchEnvironment: [(String, String)]
    /// Unpacked trees this MPI needs that are missing, with how to get them; empty when usable.
    let missingTrees: [String]

    var isAvailable: Bool { missingTrees.isEmpty }
    var unavailableComment: Comment {
        Comment(rawValue: "\(name) is not unpacked (\(missingTrees.joined(separator: ", "))): run scripts/mpi-wheels")
    }
    var description: String { name }

    /// Debian's MPICH 4.0.2 (ch4:ucx), on PATH: what every other test runs under.
    static let debianMPICH = MPIImplementation(
        name: "Debian MPICH 4.0.2", mpicc: "mpicc", mpiexec: "mpiexec",
        // UCX's shared-memory transports, not TCP: 4.0.2 can hang in MPI_Finalize over TCP.
        simulatedVMEnvironment: [("MPIR_CVAR_NOLOCAL", "1"), ("UCX_TLS", "sm,self")], launchEnvironment: [],
        missingTrees: [])

    /// MPICH 5.0.2 from its PyPI wheel (ch4:ucx and ofi; bundles its own UCX and libfabric under
    /// lib/mpich, found through libmpi.so.12's RUNPATH, so nothing to set). Its mpicc links the
    /// programs with RUNPATH to its lib/, which LD_LIBRARY_PATH overrides (Intel MPI below).
    static let mpich5: MPIImplementation = {
        let root = wheelTree("mpich-5.0.2")
        return MPIImplementation(
            name: "MPICH 5.0.2", mpicc: root.bin("mpicc"), mpiexec: root.bin("mpiexec"),
            // Its UCX's default transport choice was stable at 2 and 4 ranks here; UCX_TLS is
            // removed from the inherited environment by the harness either way.
            simulatedVMEnvironment: [("MPIR_CVAR_NOLOCAL", "1")], launchEnvironment: [],
            missingTrees: root.missing)
    }()

    /// Intel MPI 2021.13 runtime from its PyPI wheel. It ships no compiler wrapper: the programs
    /// are MPICH 5's builds (same ABI), run with Intel's lib/ first on LD_LIBRARY_PATH, so
    /// `libmpi.so.12` resolves to Intel's. Its libmpi finds libfabric and the providers only
    /// through I_MPI_ROOT / FI_PROVIDER_PATH (the wheel's layout is not the installer's).
    /// I_MPI_FABRICS=ofi without shm, FI_PROVIDER=tcp: ranks talk TCP, as between VMs.
    static let intelMPI: MPIImplementation = {
        let root = wheelTree("impi-rt-2021.13.0")
        let inherited = ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"].map { ":" + $0 } ?? ""
        return MPIImplementation(
            name: "Intel MPI 2021.13", mpicc: mpich5.mpicc, mpiexec: root.bin("mpiexec"),
            simulatedVMEnvironment: [("I_MPI_FABRICS", "ofi"), ("FI_PROVIDER", "tcp")],
            launchEnvironment: [
                ("I_MPI_ROOT", root.path),
                ("FI_PROVIDER_PATH", root.path + "/lib/libfabric/prov"),
                ("LD_LIBRARY_PATH", root.path + "/lib:" + root.path + "/lib/libfabric" + inherited),
            ],
            missingTrees: root.missing + mpich5.missingTrees)
    }()

    /// An executable shipped with this MPI (Intel's IMB-RMA, ...).
    func shippedProgram(_ name: String) -> URL {
        URL(fileURLWithPath: mpiexec).deletingLastPathComponent().appendingPathComponent(name)
    }

    /// `.cache/mpi-wheels/<name>` of the package, where scripts/mpi-wheels unpacks a wheel's
    /// `*.data/data` tree and marks it complete.
    private static func wheelTree(_ name: String) -> (path: String, missing: [String], bin: (String) -> String) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".cache/mpi-wheels/\(name)").path
        let complete = FileManager.default.fileExists(atPath: path + "/.complete")
        return (path, complete ? [] : [path], { path + "/bin/" + $0 })
    }
}
