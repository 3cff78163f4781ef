/// What `ivshmem-rma region inspect` shows: the header as it is, whether it is valid, and for a valid
/// region its jobs, windows (allocated blocks) and free space. Read without writing anything and
/// without locks: a snapshot of bytes anyone may be changing.
public struct RegionReport: Equatable, Sendable, Codable {
    public struct Header: Equatable, Sendable, Codable {
        /// "fresh", "formatting", "ready", or the word in hex.
        public var state: String
        /// "IVRMAREG", or the word in hex.
        public var magic: String
        public var layoutVersion: UInt64
        /// The size the formatter recorded.
        public var formattedSize: UInt64
        /// 32 hex digits.
        public var identity: String
    }

    /// An allocated block: a window's memory, or a job's other region memory.
    public struct Window: Equatable, Sendable, Codable {
        public var block: Region.BlockRecordInfo
        /// The owner job's liveness as its slot says, or "no job slot".
        public var ownerJobState: String
    }

    public struct AllocatorLock: Equatable, Sendable, Codable {
        public var token: UInt64
        /// nil while the holder has not recorded itself (or an older library holds it).
        public var holder: ProcessIdentity?
        public var holderLiveness: ProcessIdentity.Liveness?
    }

    public var path: String
    public var size: Int
    public var valid: Bool
    /// All-zero metadata: the first job to attach formats it.
    public var isUnformatted: Bool
    /// Why the region is not valid.
    public var problem: String?
    /// nil when the region is too small to hold a header.
    public var header: Header?
    public var dataOffset: Int
    public var dataSize: Int
    public var jobs: [Region.JobSlot]
    public var windows: [Window]
    public var usedBytes: Int
    public var freeBytes: Int
    public var largestFreeExtent: Int
    /// nil when free.
    public var allocatorLock: AllocatorLock?
}

extension Region {
    /// Inspects the mapped region without changing a byte of it.
    public static func inspect(_ mapping: RegionMapping) -> RegionReport {
        let bytes = RegionBytes(mapping: mapping)
        let isUnformatted = bytes.size >= RegionLayout.dataOffset && bytes.isAllZero(0..<RegionLayout.dataOffset)
        var report = RegionReport(path: mapping.source.path, size: mapping.size, valid: false, isUnformatted: isUnformatted, problem: nil,
                                  header: readHeader(bytes), dataOffset: 0, dataSize: 0, jobs: [], windows: [],
                                  usedBytes: 0, freeBytes: 0, largestFreeExtent: 0, allocatorLock: nil)
        let region: Region
        do { region = try open(mapping) } catch {
            report.problem = error.description
            return report
        }
        let jobs = region.jobSlots()
        let usage = region.usage()
        report.valid = true
        report.dataOffset = region.geometry.dataOffset
        report.dataSize = region.geometry.dataSize
        report.jobs = jobs
        report.windows = region.blockRecords().map { block in
            let owner = jobs.first { $0.jobID == block.ownerJob && $0.state == .claimed }
            return RegionReport.Window(block: block, ownerJobState: owner?.liveness.rawValue ?? "no job slot")
        }
        report.usedBytes = usage.usedBytes
        report.freeBytes = usage.freeBytes
        report.largestFreeExtent = region.largestFreeExtent()
        let lockToken = bytes.load(RegionLayout.Header.allocatorLock)
        if lockToken != 0 {
            let holder = region.allocatorLockHolder
            report.allocatorLock = RegionReport.AllocatorLock(token: lockToken, holder: holder, holderLiveness: holder?.liveness)
        }
        return report
    }

    /// The header words as they are, when the mapping holds them.
    private static func readHeader(_ bytes: RegionBytes) -> RegionReport.Header? {
        typealias Header = RegionLayout.Header
        guard bytes.size >= Header.checksum + 8 else { return nil }
        let states = [RegionLayout.State.fresh: "fresh", RegionLayout.State.formatting: "formatting", RegionLayout.State.ready: "ready"]
        let state = bytes.load(Header.state), magic = bytes.load(Header.magic)
        let identity = RegionIdentity(high: bytes.load(Header.identityHigh), low: bytes.load(Header.identityLow))
        return RegionReport.Header(state: states[state] ?? state.hexWord,
                                   magic: magic == RegionLayout.magic ? "IVRMAREG" : magic.hexWord,
                                   layoutVersion: bytes.load(Header.version), formattedSize: bytes.load(Header.regionSize),
                                   identity: identity.description)
    }
}
