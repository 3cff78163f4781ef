import Foundation
@testable import Region
import SharedSync
import Testing

@Suite struct FormatTests {
    typealias Header = RegionLayout.Header

    @Test func aFreshRegionIsFormattedOnceAndKeepsItsIdentity() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let first = try attachRegion(path)
        #expect(first.didFormat)
        #expect(first.identity != RegionIdentity(high: 0, low: 0))
        #expect(first.identity.description.count == 32)
        #expect(Array(fileBytes(path)[8..<16]) == Array("IVRMAREG".utf8), "the magic reads as text in a hex dump")
        let second = try attachRegion(path)
        #expect(!second.didFormat)
        #expect(second.identity == first.identity)
        #expect(second.size == 1 << 20)
    }

    @Test func theSmallestRegionHoldsOnePage() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"), size: Region.minimumSize)
        #expect(region.usage() == Region.Usage(usedBytes: 0, freeBytes: page, blocks: 0, jobs: 0))
    }

    /// Eight processes attach one fresh region at the same instant: one formats it, all agree on it.
    @Test(arguments: [true, false])
    func formattingRaceAcrossProcesses(fileExistsBeforehand: Bool) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        if fileExistsBeforehand { createZeroFile(path, size: 1 << 20) }
        let runs = SyncProbe.run(Array(repeating: ["attach", path, "\(1 << 20)"], count: 8), in: directory)
        let reports = runs.compactMap { $0.lines.first?.split(separator: " ") }.filter { $0.count == 4 }
        #expect(reports.count == 8, "\(runs.map(\.output))")
        #expect(Set(reports.map { $0[1] }).count == 1, "one identity: \(reports)")
        #expect(reports.filter { $0[3] == "yes" }.count == 1, "one formatter: \(reports)")
        let region = try attachRegion(path)
        #expect(reports.first.map { String($0[1]) } == region.identity.description)
    }

    @Test func aForeignHeaderIsLeftAlone() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        var generator = SystemRandomNumberGenerator()
        #expect(FileManager.default.createFile(atPath: path, contents: Data((0..<(256 << 10)).map { _ in generator.next() as UInt8 })))
        expectAttachRefused(path, "has a foreign header (magic 0x")
    }

    /// State word and magic zero, but something else in the metadata is not: someone else's bytes.
    @Test func strayBytesInTheMetadataAreLeftAlone() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        var bytes = [UInt8](repeating: 0, count: 256 << 10)
        bytes[RegionLayout.BlockRecord.tableOffset + 1000] = 1
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        expectAttachRefused(path, "has a foreign header (magic 0x0000000000000000)")
    }

    @Test func aCorruptChecksumIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path)
        region.bytes.store(region.identity.low ^ 1, at: Header.identityLow)
        expectAttachRefused(path, "has a corrupt header: checksum")
    }

    @Test func anotherLayoutVersionIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        try attachRegion(path).bytes.store(2, at: Header.version)
        expectAttachRefused(path, "has layout version 2; this library reads version 1")
    }

    @Test func anUnknownStateWithOurMagicIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        try attachRegion(path).bytes.store(12345, at: Header.state)
        expectAttachRefused(path, "has a corrupt header: state word 0x0000000000003039")
    }

    @Test func aRegionTooSmallIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        createZeroFile(path, size: Region.minimumSize - page)
        expectAttachRefused(path, "is \(Region.minimumSize - page) bytes, smaller than the minimum \(Region.minimumSize) bytes")
    }

    @Test func aRegionMappedAtAnotherSizeIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        _ = try attachRegion(path, size: 64 << 10)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 128 << 10)
        try handle.close()
        expectAttachRefused(path, "was formatted for 65536 bytes but is mapped with 131072 bytes")
    }

    @Test func aFormatterThatNeverFinishesTimesOut() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        var bytes = [UInt8](repeating: 0, count: 64 << 10)
        withUnsafeBytes(of: RegionLayout.State.formatting) { bytes.replaceSubrange(0..<8, with: $0) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let started = monotonicSeconds()
        expectAttachRefused(path, "another process began formatting it and did not finish within 0.2 s",
                            wait: WaitPolicy(spinProbes: 10, timeoutSeconds: 0.2))
        #expect(monotonicSeconds() - started < 5)
    }
}
