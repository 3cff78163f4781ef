import CMPI
import Region
import SharedSync

/// Finds, at MPI_Init, which world ranks share a region. Every rank takes part in the same
/// collectives whatever it found, so a rank without a region never blocks the others.
///
/// 1. Each rank attaches its region, if any, and publishes its identity (allgather).
/// 2. The lowest world rank of each identity (the leader) claims a job slot and writes a nonce
///    there; everyone learns slot and nonce (allgather).
/// 3. Each member reads the slot in its own mapping: seeing the leader's nonce proves the memory
///    really is shared (a copied region file has the same identity but not the same bytes).
///    The verdicts are shared (allgather) so every rank agrees on the groups.
enum CoResidence {
    static func start() -> Runtime {
        let config = Config.fromEnvironment()
        var worldRank: Int32 = 0
        var worldSize: Int32 = 1
        PMPI_Comm_rank(MPI_COMM_WORLD, &worldRank)
        PMPI_Comm_size(MPI_COMM_WORLD, &worldSize)
        var progressComm = MPI_COMM_NULL
        PMPI_Comm_dup(MPI_COMM_WORLD, &progressComm)

        let waitPolicy = WaitPolicy(timeoutSeconds: config.timeoutSeconds)
        let attached = attachRegion(config, worldRank: worldRank, waitPolicy)
        let region = attached.region

        var jobID = UInt64.random(in: 1...UInt64.max)
        PMPI_Bcast(&jobID, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD)

        let identities = allgather(worldSize, region.map { [1, $0.identity.high, $0.identity.low, UInt64($0.size)] }
                                              ?? [attached.failed ? 2 : 0, 0, 0, 0])
        let count = Int(worldSize)
        // A bad region is usually shared by many ranks: one warning for the job, from the lowest of them.
        if case .failure(let error) = attached,
           config.verbose || (0..<count).first(where: { identities[$0][0] == 2 }) == Int(worldRank) {
            warn("rank \(worldRank): \(error); continuing on plain MPICH")
        }
        let candidateLeaders: [Int32] = (0..<count).map { rank in
            guard identities[rank][0] == 1 else { return -1 }
            return Int32((0..<count).first { identities[$0] == identities[rank] }!)
        }
        let isLeader = candidateLeaders[Int(worldRank)] == worldRank
        let nonce = UInt64.random(in: 1...UInt64.max)
        var jobSlot: Int?
        if isLeader, let region {
            // The space of jobs that died on this kernel goes back to the allocator first.
            if let reclaimed = try? region.reclaimGoneJobs(wait: waitPolicy), !reclaimed.isEmpty, config.verbose {
                warn("rank \(worldRank): reclaimed \(reclaimed.jobs.count) job slot(s) and \(reclaimed.blocks.count) block(s) of jobs that are gone")
            }
            do { jobSlot = try region.claimJobSlot(jobID: jobID, nonce: nonce) } catch {
                warn("rank \(worldRank): \(error); this server's ranks use MPICH")
            }
        }
        let claims = allgather(worldSize, [UInt64(bitPattern: Int64(jobSlot ?? -1)), isLeader ? nonce : 0])

        let myLeader = Int(candidateLeaders[Int(worldRank)])
        var verified: UInt64 = 0
        if myLeader >= 0, let region {
            let slot = Int(Int64(bitPattern: claims[myLeader][0]))
            if slot >= 0, let entry = region.jobSlot(slot), entry.jobID == jobID, entry.nonce == claims[myLeader][1] {
                verified = 1
            } else if slot >= 0 {
                warn("rank \(worldRank): region \(region.mapping.source.path) has the identity of world rank \(myLeader)'s "
                     + "region but not its contents (a copied region file?); using MPICH between them")
            }
        }
        let verdicts = allgather(worldSize, [verified])
        let leaders: [Int32] = (0..<count).map { verdicts[$0][0] == 1 ? candidateLeaders[$0] : -1 }

        let runtime = Runtime(config: config, worldRank: worldRank, worldSize: worldSize,
                              region: leaders[Int(worldRank)] >= 0 ? region : nil, jobID: jobID,
                              leaders: leaders, jobSlot: jobSlot, progressComm: progressComm)
        if config.verbose, let region, leaders[Int(worldRank)] >= 0 {
            let peers = (0..<Int32(count)).filter { runtime.isCoResident($0, worldRank) }
            runtime.explain("region \(region.mapping.source.path) (\(region.size >> 20) MiB, identity \(region.identity)); "
                            + "co-resident world ranks \(peers.map(String.init).joined(separator: ",")); "
                            + "copies of \(config.streamingThreshold >> 10) KiB and more use streaming stores")
        }
        return runtime
    }

    /// Releases what the job holds in the region. Collective over MPI_COMM_WORLD, before PMPI_Finalize.
    static func finish(_ runtime: Runtime) {
        Messages.drainingBarrier(runtime.progressComm)
        // Only now, with every rank finalizing, may blocks go back: until the barrier a peer may
        // still copy into this rank's MPI_Alloc_mem memory.
        Memory.releaseAll(runtime)
        if let region = runtime.region, let slot = runtime.jobSlot {
            region.freeAll(jobID: runtime.jobID, wait: runtime.waitPolicy)
            region.releaseJobSlot(slot, jobID: runtime.jobID)
        }
        var progressComm = runtime.progressComm
        PMPI_Comm_free(&progressComm)
    }

    private enum Attached {
        case none
        case attached(Region)
        case failure(RegionError)

        var failed: Bool { if case .failure = self { true } else { false } }
        var region: Region? { if case .attached(let region) = self { region } else { nil } }
    }

    private static func attachRegion(_ config: Config, worldRank: Int32, _ waitPolicy: WaitPolicy) -> Attached {
        guard let source = RegionLocator.locate(environment: config.environment) else {
            if config.verbose { warn("rank \(worldRank): no region (IVSHMEM_RMA_REGION unset, no ivshmem PCI device): everything goes to MPICH") }
            return .none
        }
        do {
            let mapping = try RegionMapping(source: source, createSize: config.createSize)
            return .attached(try Region.attach(mapping, wait: waitPolicy))
        } catch {
            return .failure(error)
        }
    }

    /// Every rank's `values` (same length everywhere), indexed by world rank.
    private static func allgather(_ worldSize: Int32, _ values: [UInt64]) -> [[UInt64]] {
        let width = values.count
        var gathered = [UInt64](repeating: 0, count: width * Int(worldSize))
        values.withUnsafeBufferPointer { mine in
            _ = PMPI_Allgather(mine.baseAddress, Int32(width), MPI_UINT64_T, &gathered, Int32(width), MPI_UINT64_T, MPI_COMM_WORLD)
        }
        return (0..<Int(worldSize)).map { Array(gathered[($0 * width)..<(($0 + 1) * width)]) }
    }
}
