import Glibc

/// The job directory: fixed slots where each job running on the region records its ID and nonce,
/// so jobs (and tools) can see who else uses the region.
extension Region {
    public static let jobSlotCount = RegionLayout.JobSlot.count

    /// Claims a free slot for the job and returns its index.
    public func claimJobSlot(jobID: UInt64, nonce: UInt64) throws(RegionError) -> Int {
        typealias Slot = RegionLayout.JobSlot
        for index in 0..<Self.jobSlotCount {
            let state = bytes.word(at: slotOffset(index) + Slot.state)
            guard state.compareExchange(expected: Slot.free, desired: Slot.claiming).exchanged else { continue }
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
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

    /// Frees the slot if it still holds `jobID`.
    public func releaseJobSlot(_ index: Int, jobID: UInt64) {
        typealias Slot = RegionLayout.JobSlot
        guard (0..<Self.jobSlotCount).contains(index) else { return }
        let state = bytes.word(at: slotOffset(index) + Slot.state)
        // Take the slot out of "claimed" first, so it cannot be freed and claimed by another job
        // between checking its job ID and freeing it.
        guard state.compareExchange(expected: Slot.claimed, desired: Slot.releasing).exchanged else { return }
        guard bytes.load(slotOffset(index) + Slot.jobID) == jobID else {
            state.store(Slot.claimed)
            return
        }
        for field in [Slot.jobID, Slot.nonce, Slot.claimTime] {
            bytes.store(0, at: slotOffset(index) + field)
        }
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
