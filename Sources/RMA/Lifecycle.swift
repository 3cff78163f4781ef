import CMPI
import Glibc

/// MPI_Init, MPI_Init_thread and MPI_Finalize: start the engine after MPICH is up, and give the
/// region back (and print the stats line) before MPICH goes down.
public enum Lifecycle {
    public static func initialize(_ argc: UnsafeMutablePointer<Int32>?,
                                  _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
        let code = PMPI_Init(argc, argv)
        if code == MPI_SUCCESS { start() }
        return code
    }

    public static func initializeThread(_ argc: UnsafeMutablePointer<Int32>?,
                                        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?,
                                        _ required: Int32, _ provided: UnsafeMutablePointer<Int32>?) -> Int32 {
        let code = PMPI_Init_thread(argc, argv, required, provided)
        guard code == MPI_SUCCESS else { return code }
        start()
        return code
    }

    public static func finalize() -> Int32 {
        if let runtime = Runtime.current {
            if runtime.config.printStats {
                writeLine(Stats.line(worldRank: runtime.worldRank, regionPath: runtime.region?.mapping.source.path))
            }
            // The job's region blocks are given back below: windows and communicators the program
            // did not free must stop resolving to them first (MPI calls on them now go to MPICH, which
            // reports them as erroneous after MPI_Finalize).
            Messages.flush()
            ProgressAgent.stop()
            WindowTable.removeAll()
            Communicators.removeAll()
            CoResidence.finish(runtime)
            Runtime.current = nil
        }
        return PMPI_Finalize()
    }

    private static func start() {
        Datatypes.verifyHandleEncoding()
        Operators.prepare()
        let runtime = CoResidence.start()
        DataMovement.streamingThreshold = runtime.config.streamingThreshold
        Runtime.current = runtime
        Messages.start(runtime)
        Communicators.created(MPI_COMM_WORLD)
        runtime.explain("MPI library \(MPILibraryLoader.libraryPath)" + (MPILibraryLoader.profiledFunctions.isEmpty ? "" :
            "; a profiling tool loaded after this library sees the program's " +
            MPILibraryLoader.profiledFunctions.joined(separator: ", ") + " first and hands them back through PMPI"))
        if Policy.mayServe(runtime) {
            EntryPoints.Table.serveThroughRegion()
        } else if runtime.region != nil {
            runtime.explain("no other rank of the job shares this region: every RMA call goes straight to MPICH")
        }
    }
}
