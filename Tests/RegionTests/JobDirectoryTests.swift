import Region
import Testing

@Suite struct JobDirectoryTests {
    @Test func claimReadRelease() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        let first = try region.claimJobSlot(jobID: 5, nonce: 9)
        let second = try region.claimJobSlot(jobID: 6, nonce: 10)
        #expect(first != second)
        #expect(region.jobSlot(first)?.jobID == 5 && region.jobSlot(first)?.nonce == 9)
        #expect(region.jobSlot(second)?.jobID == 6 && region.jobSlot(second)?.nonce == 10)
        #expect(region.usage().jobs == 2)

        region.releaseJobSlot(first, jobID: 6)
        #expect(region.jobSlot(first)?.jobID == 5, "another job's release leaves the slot alone")
        region.releaseJobSlot(first, jobID: 5)
        #expect(region.jobSlot(first) == nil)
        #expect(region.usage().jobs == 1)
        #expect(try region.claimJobSlot(jobID: 7, nonce: 11) == first, "a freed slot is reused")

        let other = try attachRegion(directory.file("region"))
        #expect(other.jobSlot(second)?.jobID == 6, "slots live in the region, not in the process")
    }

    @Test func indicesOutsideTheDirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        #expect(region.jobSlot(-1) == nil)
        #expect(region.jobSlot(Region.jobSlotCount) == nil)
        #expect(region.jobSlot(0) == nil, "free")
        region.releaseJobSlot(-1, jobID: 0)
        region.releaseJobSlot(Region.jobSlotCount, jobID: 0)
    }

    @Test func aFullDirectoryIsAnError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path)
        let slots = try (0..<Region.jobSlotCount).map { try region.claimJobSlot(jobID: UInt64($0), nonce: 0) }
        #expect(Set(slots).count == Region.jobSlotCount)
        expectRegionError("region \(path) has no free job slot: all \(Region.jobSlotCount) are claimed") {
            _ = try region.claimJobSlot(jobID: 1000, nonce: 0)
        }
        region.releaseJobSlot(17, jobID: 17)
        #expect(try region.claimJobSlot(jobID: 1000, nonce: 0) == 17)
    }
}
