import Foundation
import Testing

/// The SharedSync primitives across real processes: SyncProbe instances sharing one file.
/// The word layouts of the sync file are those SyncProbe documents for each command.
@Suite(.serialized) struct CrossProcessTests {
    let processes = 4

    /// The 64-bit word `index` of a file.
    func word(_ path: String, _ index: Int) -> UInt64 {
        fileBytes(path).withUnsafeBytes { bytes in
            bytes.count >= 8 * (index + 1) ? bytes.load(fromByteOffset: 8 * index, as: UInt64.self) : .max
        }
    }

    @Test func spinLockExcludesProcesses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("sync"), rounds = 5_000
        SyncProbe.run((0..<processes).map { ["spinlock", file, "\($0)", "\(rounds)"] }, in: directory)
        #expect(word(file, 1) == UInt64(processes * rounds), "counter incremented under the lock")
        #expect(word(file, 0) == 0, "lock left free")
    }

    @Test func rwLockExcludesProcesses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("sync"), rounds = 500
        SyncProbe.run((0..<processes).map { _ in ["rwlock", file, "\(rounds)"] }, in: directory)
        #expect(word(file, 3) == UInt64(processes * rounds), "counter incremented under the exclusive lock")
        #expect(word(file, 0) == 0, "lock left free")
    }

    @Test func rwLockSharedHoldersMeetAcrossProcesses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("sync")
        SyncProbe.run((0..<processes).map { _ in ["rwshared", file, "\(processes)"] }, in: directory)
        #expect(word(file, 1) == UInt64(processes))
        #expect(word(file, 0) == 0, "lock left free")
    }

    @Test func barrierPublishesStoresAcrossProcesses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("sync"), generations = 100
        SyncProbe.run((0..<processes).map { ["barrier", file, "\($0)", "\(processes)", "\(generations)"] }, in: directory)
        #expect(word(file, 0) == UInt64(generations), "release word at the last generation")
    }

    @Test func counterWaitTakesTurnsAcrossProcesses() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("sync"), rounds = 300
        SyncProbe.run((0..<processes).map { ["counter", file, "\($0)", "\(processes)", "\(rounds)"] }, in: directory)
        #expect(word(file, 0) == UInt64(processes * rounds))
        #expect(word(file, 1) == UInt64(processes * rounds - 1), "last turn")
    }
}
