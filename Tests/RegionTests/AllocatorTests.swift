import Foundation
@testable import Region
import SharedSync
import Testing

/// Block records written straight into the table, as a buggy or hostile job could.
struct CorruptTable: Sendable, CustomStringConvertible {
    var description: String
    /// (offset, size) per record, relative to a 1 MiB region: data area [24576, 1048576).
    var records: [(offset: UInt64, size: UInt64)]

    static let cases = [
        CorruptTable(description: "overlapping records", records: [(24576, 8192), (28672, 4096)]),
        CorruptTable(description: "offset at the end", records: [(1_048_576, 4096)]),
        CorruptTable(description: "size past the end", records: [(1_044_480, 8192)]),
        CorruptTable(description: "offset in the metadata", records: [(0, 4096)]),
        CorruptTable(description: "unaligned offset", records: [(24584, 4096)]),
        CorruptTable(description: "unaligned size", records: [(24576, 100)]),
        CorruptTable(description: "offset near the top of UInt64", records: [(UInt64.max - 4095, 4096)]),
        CorruptTable(description: "size near the top of UInt64", records: [(24576, UInt64.max - 4095)]),
    ]
}

@Suite struct AllocatorTests {
    let dataOffset = RegionLayout.dataOffset

    @Test func blocksArePageRoundedAndAligned() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        let one = try region.allocate(bytes: 1, jobID: 1, wait: patient)
        let two = try region.allocate(bytes: page + 1, jobID: 1, wait: patient)
        let empty = try region.allocate(bytes: 0, jobID: 1, wait: patient)
        #expect(one == Region.Block(offset: dataOffset, size: page))
        #expect(two == Region.Block(offset: dataOffset + page, size: 2 * page))
        #expect(empty == Region.Block(offset: dataOffset + 3 * page, size: page))
        #expect(region.usage() == Region.Usage(usedBytes: 4 * page, freeBytes: region.size - dataOffset - 4 * page, blocks: 3, jobs: 0))
        #expect(region.address(offset: two.offset, length: two.size) != nil)
    }

    @Test func freedSpaceIsReusedFirstFit() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        let a = try region.allocate(bytes: page, jobID: 1, wait: patient)
        let b = try region.allocate(bytes: 3 * page, jobID: 1, wait: patient)
        let c = try region.allocate(bytes: page, jobID: 1, wait: patient)
        #expect(region.free(b, jobID: 1, wait: patient))
        #expect(try region.allocate(bytes: 4 * page, jobID: 1, wait: patient).offset == c.offset + page, "too big for the hole")
        #expect(try region.allocate(bytes: 2 * page, jobID: 1, wait: patient).offset == b.offset)
        #expect(try region.allocate(bytes: page, jobID: 1, wait: patient).offset == b.offset + 2 * page)
        #expect(try region.allocate(bytes: page, jobID: 1, wait: patient).offset == c.offset + 5 * page)
        #expect(a.offset == dataOffset)
    }

    @Test func aFullRegionSaysHowMuchIsFree() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path, size: dataOffset + 8 * page)
        _ = try region.allocate(bytes: 3 * page, jobID: 1, wait: patient)
        let middle = try region.allocate(bytes: 2 * page, jobID: 1, wait: patient)
        _ = try region.allocate(bytes: page, jobID: 1, wait: patient)
        region.free(middle, jobID: 1, wait: patient)
        expectRegionError("region \(path) is full: asked 12289 bytes, largest free extent 8192 bytes") {
            _ = try region.allocate(bytes: 3 * page + 1, jobID: 1, wait: patient)
        }
        expectRegionError("region \(path) is full: asked \(Int.max) bytes, largest free extent 8192 bytes") {
            _ = try region.allocate(bytes: Int.max, jobID: 1, wait: patient)
        }
        expectRegionError("region \(path): cannot allocate -1 bytes") {
            _ = try region.allocate(bytes: -1, jobID: 1, wait: patient)
        }
        _ = try region.allocate(bytes: 2 * page, jobID: 1, wait: patient)
        _ = try region.allocate(bytes: 2 * page, jobID: 1, wait: patient)
        expectRegionError("region \(path) is full: asked 0 bytes, largest free extent 0 bytes") {
            _ = try region.allocate(bytes: 0, jobID: 1, wait: patient)
        }
    }

    @Test func runningOutOfBlockRecordsIsAnError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path, size: 4 << 20)
        for _ in 0..<RegionLayout.BlockRecord.count {
            _ = try region.allocate(bytes: page, jobID: 1, wait: patient)
        }
        expectRegionError("region \(path) is full: asked 4096 bytes, largest free extent "
                          + "\(region.size - dataOffset - RegionLayout.BlockRecord.count * page) bytes, "
                          + "and all \(RegionLayout.BlockRecord.count) block records are in use") {
            _ = try region.allocate(bytes: page, jobID: 1, wait: patient)
        }
    }

    @Test func onlyTheOwnerFreesABlock() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        let block = try region.allocate(bytes: page, jobID: 1, wait: patient)
        #expect(region.free(block, jobID: 2, wait: patient))
        #expect(region.usage().blocks == 1, "job 2 does not own it")
        #expect(region.free(block, jobID: 1, wait: patient))
        #expect(region.usage().blocks == 0)
    }

    @Test func freeAllFreesOneJobsBlocks() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        var kept: [Region.Block] = []
        for index in 0..<6 {
            let block = try region.allocate(bytes: (index + 1) * page, jobID: UInt64(index % 2), wait: patient)
            if index % 2 == 1 { kept.append(block) }
        }
        #expect(region.freeAll(jobID: 0, wait: patient))
        #expect(region.usage().blocks == 3)
        #expect(region.usage().usedBytes == kept.map(\.size).reduce(0, +))
        let reused = try region.allocate(bytes: page, jobID: 2, wait: patient)
        #expect(reused.offset == dataOffset, "job 0's first block is free again")
    }

    @Test func aLockHeldTooLongTimesOut() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path)
        let block = try region.allocate(bytes: page, jobID: 1, wait: patient)
        #expect(region.bytes.spinLock(at: RegionLayout.Header.allocatorLock).tryLock(token: 0xdead))
        let short = WaitPolicy(spinProbes: 10, timeoutSeconds: 0.1)
        expectRegionError("region \(path): the allocator lock is still held by token 0x000000000000dead after 0.1 s") {
            _ = try region.allocate(bytes: page, jobID: 1, wait: short)
        }
        #expect(!region.free(block, jobID: 1, wait: short))
        #expect(!region.freeAll(jobID: 1, wait: short))
        #expect(region.usage().blocks == 1)
    }

    @Test(arguments: CorruptTable.cases)
    func aCorruptTableIsNotTrusted(table: CorruptTable) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path, size: 1 << 20)
        for (index, record) in table.records.enumerated() {
            let start = RegionLayout.BlockRecord.tableOffset + index * RegionLayout.BlockRecord.size
            region.bytes.store(record.offset, at: start + RegionLayout.BlockRecord.offset)
            region.bytes.store(record.size, at: start + RegionLayout.BlockRecord.blockSize)
            region.bytes.store(99, at: start + RegionLayout.BlockRecord.ownerJob)
        }
        // Taking the lock records its holder, [192, 224); nothing else may change.
        func outsideLockHolder(_ bytes: [UInt8]) -> [UInt8] {
            Array(bytes[..<RegionLayout.Header.allocatorLockHolderToken] + bytes[(RegionLayout.Header.allocatorLockHolder + 24)...])
        }
        let before = fileBytes(path)
        expectRegionError("region \(path) has a corrupt block table: record") {
            _ = try region.allocate(bytes: page, jobID: 1, wait: patient)
        }
        #expect(outsideLockHolder(fileBytes(path)) == outsideLockHolder(before), "nothing written")
    }

    @Test func addressesOutsideTheMappingAreRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        let size = region.size
        #expect(region.address(offset: 0, length: size) == region.mapping.base)
        #expect(region.address(offset: size, length: 0) == region.mapping.base + size)
        #expect(region.address(offset: size - 8, length: 8) == region.mapping.base + size - 8)
        for (offset, length) in [(-1, 1), (0, -1), (size - 8, 9), (size + 1, 0), (1, Int.max), (Int.max, Int.max), (Int.min, 0)] {
            #expect(region.address(offset: offset, length: length) == nil, "offset \(offset), length \(length)")
        }
    }

    /// Four processes allocate and free at once; the blocks they keep must not overlap, and each
    /// must still hold its owner's fill pattern when all are done.
    @Test func processesAllocateDisjointBlocks() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path, size: 4 << 20)
        let jobs = 1...4
        let runs = SyncProbe.run(jobs.map { ["alloc", path, "\($0)", "40"] }, in: directory)
        var blocks: [(job: UInt64, block: Region.Block)] = []
        for (job, run) in zip(jobs, runs) {
            for line in run.lines {
                let fields = line.split(separator: " ")
                guard fields.count == 3, let offset = Int(fields[1]), let size = Int(fields[2]) else { continue }
                blocks.append((UInt64(job), Region.Block(offset: offset, size: size)))
            }
        }
        #expect(blocks.count == 80)
        let sorted = blocks.sorted { $0.block.offset < $1.block.offset }
        for (previous, next) in zip(sorted, sorted.dropFirst()) {
            #expect(previous.block.offset + previous.block.size <= next.block.offset, "\(previous) overlaps \(next)")
        }
        let bytes = fileBytes(path)
        for (job, block) in blocks {
            let intact = bytes[block.offset..<block.offset + block.size].withUnsafeBytes { words in
                stride(from: 0, to: block.size, by: 8).allSatisfy { words.loadUnaligned(fromByteOffset: $0, as: UInt64.self) == job }
            }
            #expect(intact, "block \(block) of job \(job) was overwritten")
        }
        #expect(region.usage().blocks == 80)
        #expect(region.usage().usedBytes == blocks.map(\.block.size).reduce(0, +))
    }
}
