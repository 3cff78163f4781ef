import Glibc

/// The job directory: fixed slots where each job running on the region records its ID, nonce and
/// owner (the leader process), so jobs and tools can see who else uses the region and whether it
/// still runs.
extension Region {
    public static let jobSlotCount = RegionLayout.JobSlot.count

    /// A slot that is not free, as read from the region (untrusted: any field may be anything).
    public struct JobSlot: Equatable, Sendable, Codable {
        public enum State: String, Sendable, Codable {
            case claiming, claimed, releasing
            /// A state word this library never writes.
            case invalid
        }

        public var index: Int
        public var state: State
        public var jobID: UInt64
        public var nonce: UInt64
        /// CLOCK_REALTIME seconds.
        public var claimTime: UInt64
        public var owner: ProcessIdentity
        public var liveness: ProcessIdentity.Liveness
    }

    /// Claims a free slot for the job, recording this process as its owner, and returns its index.
    public func claimJobSlot(jobID: UInt64, nonce: UInt64) throws(RegionError) -> Int {
        typealias Slot = RegionLayout.JobSlot
        for index in 0..<Self.jobSlotCount {
            let state = bytes.word(at: slotOffset(index) + Slot.state)
            guard state.compareExchange(expected: Slot.free, desired: Slot.claiming).exchanged else { continue }
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            bytes.storeIdentity(ProcessIdentity.current, at: slotOffset(index) + Slot.owner)
            bytes.store(jobID, at: slotOffset(index) + Slot.jobID)
            bytes.store(nonce, at: slotOffset(index) + Slot.nonce)
            bytes.store(UInt64(now.tv_sec), at: slotOffset(index) + Slot.claimTime)
            state.store(Slot.claimed)  // publishes the fields written above
            return index
        }
        throw RegionError("region \(path) has no free job slot: all \(Self.jobSlotCount) are claimed")
    }

    /// The slot's job ID and nonce when `index` is in range and the slot is claimed; nil otherwise.
    public func jobSlot(_ index: Int) -> (jobID: UInt64, nonce: UInt64)? {
        typealias Slot = RegionLayout.JobSlot
        guard (0..<Self.jobSlotCount).contains(index),
              bytes.load(slotOffset(index) + Slot.state) == Slot.claimed else { return nil }
        return (bytes.load(slotOffset(index) + Slot.jobID), bytes.load(slotOffset(index) + Slot.nonce))
    }

    /// Every slot that is not free, with its owner's liveness.
    public func jobSlots() -> [JobSlot] {
        typealias Slot = RegionLayout.JobSlot
        let states: [UInt64: JobSlot.State] = [Slot.claiming: .claiming, Slot.claimed: .claimed, Slot.releasing: .releasing]
        return (0..<Self.jobSlotCount).compactMap { index in
            let slot = slotOffset(index)
            let state = bytes.load(slot + Slot.state)
            guard state != Slot.free else { return nil }
            let owner = bytes.loadIdentity(slot + Slot.owner)
            return JobSlot(index: index, state: states[state] ?? .invalid, jobID: bytes.load(slot + Slot.jobID),
                           nonce: bytes.load(slot + Slot.nonce), claimTime: bytes.load(slot + Slot.claimTime),
                           owner: owner, liveness: owner.liveness)
        }
    }

    /// Frees the slot if it still holds `jobID`.
    public func releaseJobSlot(_ index: Int, jobID: UInt64) {
        release(index) { $0 == jobID }
    }

    /// Frees a claimed slot read by `jobSlots()` if it still holds the same job and owner.
    func release(_ slot: JobSlot) {
        release(slot.index) {
            $0 == slot.jobID && bytes.loadIdentity(slotOffset(slot.index) + RegionLayout.JobSlot.owner) == slot.owner
        }
    }

    private func release(_ index: Int, if holdsJob: (UInt64) -> Bool) {
        typealias Slot = RegionLayout.JobSlot
        guard (0..<Self.jobSlotCount).contains(index) else { return }
        let state = bytes.word(at: slotOffset(index) + Slot.state)
        // Take the slot out of "claimed" first, so it cannot be freed and claimed by another job
        // between checking its job ID and freeing it.
        guard state.compareExchange(expected: Slot.claimed, desired: Slot.releasing).exchanged else { return }
        guard holdsJob(bytes.load(slotOffset(index) + Slot.jobID)) else {
            state.store(Slot.claimed)
            return
        }
        for field in [Slot.jobID, Slot.nonce, Slot.claimTime] {
            bytes.store(0, at: slotOffset(index) + field)
        }
        bytes.storeIdentity(.nobody, at: slotOffset(index) + Slot.owner)
        state.store(Slot.free)
    }

    /// The number of claimed slots.
    var claimedJobSlots: Int {
        (0..<Self.jobSlotCount).count { jobSlot($0) != nil }
    }

    private func slotOffset(_ index: Int) -> Int {
        geometry.jobDirectoryOffset + index * geometry.jobSlotSize
    }
}
