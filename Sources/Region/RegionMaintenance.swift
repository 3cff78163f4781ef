import Glibc
import SharedSync

/// Reclaiming what jobs that are gone left behind, and resetting a region: the logic behind
/// `ivshmem-rma region gc` and `region reset`, and the reclaim a job's leader runs before claiming.
extension Region {
    /// What one reclaim freed.
    public struct Reclaimed: Equatable, Sendable, Codable {
        public var jobs: [JobSlot]
        public var blocks: [BlockRecordInfo]

        public var isEmpty: Bool { jobs.isEmpty && blocks.isEmpty }
    }

    /// Holding the allocator lock: frees the slots of claimed jobs whose owner is dead (it ran on this
    /// kernel and is gone), and every block whose owner job then holds no slot. Jobs whose owner
    /// cannot be checked from here (another kernel, or not recorded) are left alone unless `named`
    /// holds their job ID; a job whose owner is alive is never touched.
    public func reclaimGoneJobs(named: Set<UInt64> = [], wait: WaitPolicy) throws(RegionError) -> Reclaimed {
        try withAllocatorLock(wait) { () -> Reclaimed in
            let slots = jobSlots()
            let gone = slots.filter {
                $0.state == .claimed && ($0.liveness == .dead || ($0.liveness != .alive && named.contains($0.jobID)))
            }
            // A job claims its slot before it allocates and frees its blocks before its slot, so,
            // under the lock, a block whose job holds no slot belongs to a job that is gone.
            let remaining = Set(slots.filter { !gone.contains($0) }.map(\.jobID))
            let blocks = freeRecords { !remaining.contains($0.ownerJob) }
            gone.forEach(release)
            return Reclaimed(jobs: gone, blocks: blocks)
        }
    }

    /// Makes the region as if freshly formatted (no jobs, no blocks, a new identity) and attaches
    /// it. Refuses while jobs that may still run hold slots (their owner is alive or cannot be
    /// checked from here), or when the header is not this library's (foreign, other layout
    /// version), unless `force`.
    public static func reset(_ mapping: RegionMapping, force: Bool, wait: WaitPolicy) throws(RegionError) -> Region {
        let (bytes, _) = try sizedBytes(mapping)
        if !force { try checkResettable(mapping, bytes) }
        let state = bytes.word(at: RegionLayout.Header.state)
        state.store(RegionLayout.State.formatting)  // attachers meanwhile wait instead of reading half-zeroed metadata
        for offset in stride(from: 8, to: RegionLayout.dataOffset, by: 8) {
            bytes.store(0, at: offset)
        }
        state.store(RegionLayout.State.fresh)
        return try attach(mapping, wait: wait)
    }

    private static func checkResettable(_ mapping: RegionMapping, _ bytes: RegionBytes) throws(RegionError) {
        let refusal = "not resetting (--force resets anyway)"
        let region: Region
        do { region = try open(mapping) } catch {
            // Corrupt or unformatted: resetting is the cure. Someone else's bytes, or a layout this
            // library does not know, are not ours to wipe.
            let magic = bytes.load(RegionLayout.Header.magic), version = bytes.load(RegionLayout.Header.version)
            let foreign = magic != RegionLayout.magic && !bytes.isAllZero(0..<RegionLayout.dataOffset)
            guard foreign || (magic == RegionLayout.magic && version != UInt64(RegionLayout.version)) else { return }
            throw RegionError("\(error.description); \(refusal)")
        }
        let running = region.jobSlots().filter { $0.liveness != .dead }
        guard running.isEmpty else {
            let jobs = running.map { "slot \($0.index) job \($0.jobID.hexWord) (\($0.liveness.rawValue))" }
            throw RegionError("region \(region.path): \(running.count) job(s) may still use it: \(jobs.joined(separator: ", ")); \(refusal)")
        }
    }
}

/// A region file `Region.createFile` made.
public struct CreatedRegionFile: Equatable, Sendable {
    public var size: Int
    /// The huge page size when the file is on hugetlbfs (its size is then a multiple of it).
    public var hugePageSize: Int?
}

extension Region {
    /// Creates a region file of `size` zero bytes, rounded up to whole huge pages on hugetlbfs.
    /// Refuses a file that exists and sizes below the minimum.
    public static func createFile(at path: String, size requested: Int) throws(RegionError) -> CreatedRegionFile {
        guard requested >= minimumSize else {
            throw RegionError("region \(path): \(requested) bytes is smaller than the minimum \(minimumSize) bytes")
        }
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o660)
        guard descriptor >= 0 else {
            let code = errno
            throw RegionError("cannot create region \(path): \(String(cString: strerror(code)))"
                              + (code == EEXIST ? "; `ivshmem-rma region reset` reformats an existing region" : ""))
        }
        defer { close(descriptor) }
        // On hugetlbfs a file's block size is the huge page size, and its size must be a multiple of it.
        var status = stat()
        let hugePage = isOnHugetlbfs(path) && fstat(descriptor, &status) == 0 ? Int(status.st_blksize) : nil
        let size = hugePage.map { roundUp(requested, toMultipleOf: $0) } ?? requested
        guard ftruncate(descriptor, off_t(size)) == 0 else {
            let code = errno
            unlink(path)
            throw RegionError("cannot size region \(path) to \(size) bytes: \(String(cString: strerror(code)))")
        }
        return CreatedRegionFile(size: size, hugePageSize: hugePage)
    }

    /// Whether the existing file at `path` lies on a hugetlbfs mount (the deepest mount point above it).
    static func isOnHugetlbfs(_ path: String) -> Bool {
        guard let resolved = realpath(path, nil) else { return false }
        let file = String(cString: resolved)
        Glibc.free(resolved)
        let mounts = (fileText("/proc/self/mounts") ?? "").split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count > 2 }
        let enclosing = mounts.filter { mount in
            let point = String(mount[1])
            return point == "/" || file == point || file.hasPrefix(point.hasSuffix("/") ? point : point + "/")
        }
        return enclosing.max { $0[1].count < $1[1].count }?[2] == "hugetlbfs"
    }

    /// `value` rounded up to a multiple of `unit`, or `value` itself when that would overflow.
    static func roundUp(_ value: Int, toMultipleOf unit: Int) -> Int {
        let (sum, overflow) = value.addingReportingOverflow(unit - 1)
        return overflow ? value : sum / unit * unit
    }
}
