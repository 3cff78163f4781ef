import SharedSync

/// The allocator of the data area: a fixed table of block records, edited under the spin lock in
/// the header. Allocation is first fit over the used extents sorted by offset. The table is shared
/// with other jobs and guests, so every record is validated before it is believed; a corrupt table
/// makes `allocate` throw rather than hand out memory someone else may own.
extension Region {
    public struct Block: Equatable, Sendable {
        /// Bytes from the region's start: pass it to `address(offset:length:)`.
        public var offset: Int
        public var size: Int

        public init(offset: Int, size: Int) {
            self.offset = offset
            self.size = size
        }
    }

    public struct Usage: Equatable, Sendable {
        public var usedBytes: Int
        public var freeBytes: Int
        public var blocks: Int
        /// Claimed job directory slots.
        public var jobs: Int
    }

    /// Allocates `bytes` rounded up to whole pages (0 bytes gets one page) for `jobID`.
    public func allocate(bytes requested: Int, jobID: UInt64, wait: WaitPolicy) throws(RegionError) -> Block {
        guard requested >= 0 else { throw RegionError("region \(path): cannot allocate \(requested) bytes") }
        let page = UInt64(RegionLayout.pageSize)
        let length = requested == 0 ? page : (UInt64(requested) - 1) / page * page + page  // cannot overflow UInt64
        return try withAllocatorLock(wait) { () throws(RegionError) -> Block in
            let gaps = freeExtents(between: try validatedExtents())
            let freeRecord = (0..<geometry.blockRecordCount).first { recordWord($0, RegionLayout.BlockRecord.blockSize) == 0 }
            guard let gap = gaps.first(where: { $0.length >= length }), let freeRecord else {
                let noRecord = gaps.contains { $0.length >= length } ? ", and all \(geometry.blockRecordCount) block records are in use" : ""
                throw RegionError("region \(path) is full: asked \(requested) bytes, largest free extent "
                                  + "\(gaps.map(\.length).max() ?? 0) bytes\(noRecord)")
            }
            fillRecord(freeRecord, offset: gap.offset, size: length, owner: jobID)
            return Block(offset: Int(gap.offset), size: Int(length))
        }
    }

    /// Frees the block at `block.offset` if `jobID` owns it. Returns false, leaving it allocated, when
    /// the allocator lock could not be taken before the policy's deadline.
    @discardableResult
    public func free(_ block: Block, jobID: UInt64, wait: WaitPolicy) -> Bool {
        clearRecords(wait) { $0.offset == UInt64(clamping: block.offset) && $0.ownerJob == jobID }
    }

    /// Frees every block of `jobID`; returns false as `free` does.
    @discardableResult
    public func freeAll(jobID: UInt64, wait: WaitPolicy) -> Bool {
        clearRecords(wait) { $0.ownerJob == jobID }
    }

    /// A snapshot read without the lock, for status displays. Records that lie outside the data
    /// area are left out; overlapping ones are counted as they are.
    public func usage() -> Usage {
        let blocks = inUseRecords().filter(isInsideDataArea)
        let used = blocks.reduce(0) { $0 + Int($1.size) }
        return Usage(usedBytes: used, freeBytes: max(0, geometry.dataSize - used), blocks: blocks.count, jobs: claimedJobSlots)
    }

    /// An in-use block record as read without the lock, for tools.
    public struct BlockRecordInfo: Equatable, Sendable, Codable {
        public var record: Int
        public var offset: UInt64
        public var size: UInt64
        public var ownerJob: UInt64
        /// Whether it is a page-aligned extent of the data area (a record that is not is never freed
        /// into or allocated over; the allocator refuses to work on such a table).
        public var insideDataArea: Bool
    }

    /// Every in-use block record, in table order.
    public func blockRecords() -> [BlockRecordInfo] {
        inUseRecords().map {
            BlockRecordInfo(record: $0.index, offset: $0.offset, size: $0.size, ownerJob: $0.owner, insideDataArea: isInsideDataArea($0))
        }
    }

    /// The largest run of data-area bytes no record inside the data area covers (a snapshot).
    public func largestFreeExtent() -> Int {
        Int(freeExtents(between: inUseRecords().filter(isInsideDataArea).sorted { $0.offset < $1.offset }).map(\.length).max() ?? 0)
    }

    /// Frees the in-use records that match; returns them. Only while holding the allocator lock.
    func freeRecords(where matches: (BlockRecordInfo) -> Bool) -> [BlockRecordInfo] {
        let freed = blockRecords().filter(matches)
        freed.forEach { clearRecord($0.record) }
        return freed
    }

    // MARK: - The block table

    /// One in-use record as read from the region: untrusted until validated.
    struct BlockRecord {
        var index: Int
        var offset: UInt64
        var size: UInt64
        var owner: UInt64
    }

    /// Runs `body` holding the allocator lock. A lock whose recorded holder ran on this kernel and is
    /// gone is taken over (the table stays consistent: records are filled and cleared in an order
    /// that leaves each one either free or whole at any instant).
    func withAllocatorLock<Result>(_ wait: WaitPolicy, _ body: () throws(RegionError) -> Result) throws(RegionError) -> Result {
        typealias Header = RegionLayout.Header
        let lock = bytes.spinLock(at: Header.allocatorLock)
        var nextHolderCheck = 0.0
        let acquired = waitUntil(wait) {
            if lock.tryLock(token: token) { return true }
            // Reading /proc is slow: look at the holder a hundred times a second at most.
            let now = monotonicSeconds()
            guard now >= nextHolderCheck else { return false }
            nextHolderCheck = now + 0.01
            return takeOverDeadAllocatorLockHolder()
        }
        guard acquired else {
            let holder = allocatorLockHolder.map { " (pid \($0.pid), \($0.liveness.rawValue))" } ?? ""
            throw RegionError("region \(path): the allocator lock is still held by token \(lock.holder.hexWord)\(holder) after "
                              + "\(wait.timeoutSeconds) s")
        }
        bytes.storeIdentity(ProcessIdentity.current, at: Header.allocatorLockHolder)
        bytes.store(token, at: Header.allocatorLockHolderToken)  // publishes the identity above
        defer {
            bytes.store(0, at: Header.allocatorLockHolderToken)
            lock.unlock()
        }
        return try body()
    }

    /// The allocator lock's holder when it is held and the holder recorded itself; nil otherwise.
    public var allocatorLockHolder: ProcessIdentity? {
        typealias Header = RegionLayout.Header
        let held = bytes.load(Header.allocatorLock)
        guard held != 0, bytes.load(Header.allocatorLockHolderToken) == held else { return nil }
        let holder = bytes.loadIdentity(Header.allocatorLockHolder)
        // A holder that released and took the lock again in between rewrote its own identity: same words.
        return bytes.load(Header.allocatorLockHolderToken) == held ? holder : nil
    }

    /// Takes the lock over from a holder that is dead; true when this attachment now holds it.
    private func takeOverDeadAllocatorLockHolder() -> Bool {
        let held = bytes.load(RegionLayout.Header.allocatorLock)
        guard held != 0, let holder = allocatorLockHolder, holder.liveness == .dead else { return false }
        return bytes.word(at: RegionLayout.Header.allocatorLock).compareExchange(expected: held, desired: token).exchanged
    }

    private func clearRecords(_ wait: WaitPolicy, where matches: (BlockRecordInfo) -> Bool) -> Bool {
        do {
            _ = try withAllocatorLock(wait) { freeRecords(where: matches) }
            return true
        } catch {
            return false
        }
    }

    /// The in-use records sorted by offset, after checking each lies inside the data area on page
    /// boundaries and none overlaps the next.
    private func validatedExtents() throws(RegionError) -> [BlockRecord] {
        let records = inUseRecords().sorted { $0.offset < $1.offset }
        if let bad = records.first(where: { !isInsideDataArea($0) }) {
            throw corruptTable("record \(bad.index) (offset \(bad.offset), size \(bad.size)) is not a page-aligned "
                               + "extent of the data area [\(geometry.dataOffset), \(geometry.dataEnd))")
        }
        for (previous, next) in zip(records, records.dropFirst()) where next.offset < previous.offset + previous.size {
            throw corruptTable("records \(previous.index) (offset \(previous.offset), size \(previous.size)) and "
                               + "\(next.index) (offset \(next.offset), size \(next.size)) overlap")
        }
        return records
    }

    private func corruptTable(_ detail: String) -> RegionError {
        RegionError("region \(path) has a corrupt block table: \(detail); not allocating from it")
    }

    /// Whether the record is a page-aligned extent inside the data area (checked without overflow).
    private func isInsideDataArea(_ record: BlockRecord) -> Bool {
        let page = UInt64(RegionLayout.pageSize), start = UInt64(geometry.dataOffset), end = UInt64(geometry.dataEnd)
        return record.offset % page == 0 && record.size % page == 0
            && record.offset >= start && record.offset <= end && record.size <= end - record.offset
    }

    /// The free extents between sorted extents of the data area, in address order.
    private func freeExtents(between extents: [BlockRecord]) -> [(offset: UInt64, length: UInt64)] {
        var gaps: [(offset: UInt64, length: UInt64)] = []
        var cursor = UInt64(geometry.dataOffset)
        for extent in extents {
            if extent.offset > cursor { gaps.append((cursor, extent.offset - cursor)) }
            cursor = max(cursor, extent.offset + extent.size)  // overlaps only in snapshots of a corrupt table
        }
        if UInt64(geometry.dataEnd) > cursor { gaps.append((cursor, UInt64(geometry.dataEnd) - cursor)) }
        return gaps
    }

    /// Records with a nonzero size, each read once.
    private func inUseRecords() -> [BlockRecord] {
        typealias Field = RegionLayout.BlockRecord
        return (0..<geometry.blockRecordCount).compactMap { index in
            let size = recordWord(index, Field.blockSize)
            guard size != 0 else { return nil }
            return BlockRecord(index: index, offset: recordWord(index, Field.offset), size: size, owner: recordWord(index, Field.ownerJob))
        }
    }

    private func recordOffset(_ index: Int) -> Int {
        geometry.blockTableOffset + index * geometry.blockRecordSize
    }

    private func recordWord(_ index: Int, _ field: Int) -> UInt64 {
        bytes.load(recordOffset(index) + field)
    }

    /// Fills a free record. Its size, the in-use mark, goes last, so a reader without the lock never
    /// sees a record in use with stale fields.
    private func fillRecord(_ index: Int, offset: UInt64, size: UInt64, owner: UInt64) {
        typealias Field = RegionLayout.BlockRecord
        let record = recordOffset(index)
        bytes.store(offset, at: record + Field.offset)
        bytes.store(owner, at: record + Field.ownerJob)
        bytes.store(token, at: record + Field.ownerToken)
        bytes.store(size, at: record + Field.blockSize)
    }

    /// Frees a record: its size first, then the rest.
    private func clearRecord(_ index: Int) {
        typealias Field = RegionLayout.BlockRecord
        let record = recordOffset(index)
        for field in [Field.blockSize, Field.offset, Field.ownerJob, Field.ownerToken] {
            bytes.store(0, at: record + field)
        }
    }
}
