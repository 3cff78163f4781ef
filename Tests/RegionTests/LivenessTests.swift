import Foundation
@testable import Region
import SharedSync
import Testing

@Suite struct LivenessTests {
    @Test func thisProcessIsAliveAndAKilledOneIsDead() throws {
        #expect(ProcessIdentity.current.liveness == .alive)
        #expect(ProcessIdentity.current.pid == UInt64(getpid()))
        let sleeper = try LiveProcess("/bin/sleep", ["60"])
        let identity = sleeper.identity
        #expect(identity.startTime != 0)
        #expect(identity.liveness == .alive)
        sleeper.kill()
        #expect(identity.liveness == .dead)
    }

    @Test func aZombieIsDead() throws {
        var pid = pid_t()
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("60"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)
        let identity = ProcessIdentity.of(pid: pid)
        kill(pid, SIGKILL)
        usleep(100_000)  // not reaped yet: a zombie
        #expect(identity.liveness == .dead)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    @Test func aReusedPidIsNotTheSameProcess() {
        var other = ProcessIdentity.current
        other.startTime += 1
        #expect(other.liveness == .dead)
    }

    /// Fields read from untrusted bytes never name a process group or every process.
    @Test(arguments: [UInt64(0), 4_194_305, UInt64(UInt32.max), UInt64.max])
    func pidsOutsideTheKernelsRangeAreDead(pid: UInt64) {
        #expect(ProcessIdentity(kernel: ProcessIdentity.currentKernel, pid: pid, startTime: 1).liveness == .dead)
    }

    @Test func otherKernelsAndUnrecordedOwnersCannotBeChecked() {
        var other = ProcessIdentity.current
        other.kernel &+= 1
        #expect(other.liveness == .otherKernel)
        #expect(ProcessIdentity.nobody.liveness == .unrecorded)
    }

    @Test func aClaimRecordsItsOwnerAndAReleaseClearsIt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        let slot = try region.claimJobSlot(jobID: 42, nonce: 7)
        let claimed = try #require(region.jobSlots().first)
        #expect(claimed.index == slot && claimed.jobID == 42 && claimed.nonce == 7 && claimed.state == .claimed)
        #expect(claimed.owner == ProcessIdentity.current && claimed.liveness == .alive)
        region.releaseJobSlot(slot, jobID: 42)
        #expect(region.jobSlots().isEmpty)
        #expect(region.bytes.loadIdentity(RegionLayout.JobSlot.directoryOffset + RegionLayout.JobSlot.owner) == .nobody)
    }

    /// A dead job's slot and blocks are reclaimed; a live job's, another kernel's and an unrecorded
    /// one's are not, unless named (and a live one not even then).
    @Test func reclaimFreesOnlyWhatDeadJobsHeld() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path)
        let (dead, deadSlot, deadBlock) = try #require(try LiveProcess.claimingProbe(path, job: 101))
        let (alive, aliveSlot, aliveBlock) = try #require(try LiveProcess.claimingProbe(path, job: 102))
        defer { alive.kill() }
        let foreignSlot = try region.claimJobSlot(jobID: 103, nonce: 1)
        let foreignBlock = try region.allocate(bytes: page, jobID: 103, wait: patient)
        var otherKernel = ProcessIdentity.current
        otherKernel.kernel &+= 1
        region.bytes.storeIdentity(otherKernel, at: RegionLayout.JobSlot.directoryOffset + foreignSlot * 64 + RegionLayout.JobSlot.owner)
        let orphan = try region.allocate(bytes: page, jobID: 104, wait: patient)
        dead.kill()

        #expect(region.jobSlots().map(\.liveness) == [.dead, .alive, .otherKernel])
        let reclaimed = try region.reclaimGoneJobs(named: [102], wait: patient)
        #expect(reclaimed.jobs.map(\.index) == [deadSlot])
        #expect(reclaimed.jobs.first?.jobID == 101)
        #expect(Set(reclaimed.blocks.map(\.offset)) == [UInt64(deadBlock.offset), UInt64(orphan.offset)])
        #expect(region.jobSlots().map(\.index) == [aliveSlot, foreignSlot])
        #expect(Set(region.blockRecords().map(\.offset)) == [UInt64(aliveBlock.offset), UInt64(foreignBlock.offset)])
        #expect(try region.reclaimGoneJobs(wait: patient).isEmpty, "nothing more is gone")

        let named = try region.reclaimGoneJobs(named: [103], wait: patient)
        #expect(named.jobs.map(\.jobID) == [103] && named.blocks.map(\.offset) == [UInt64(foreignBlock.offset)])
        #expect(region.jobSlots().map(\.jobID) == [102])
        #expect(try region.allocate(bytes: deadBlock.size, jobID: 105, wait: patient).offset == deadBlock.offset,
                "the dead job's space is reused")
    }

    @Test func aLockLeftByADeadHolderIsTakenOver() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        let sleeper = try LiveProcess("/bin/sleep", ["60"])
        let holder = sleeper.identity
        holder.hold(region, token: 77)
        #expect(region.allocatorLockHolder == holder)
        expectRegionError("the allocator lock is still held by token 0x000000000000004d (pid \(holder.pid), alive) after 0.2 s") {
            _ = try region.allocate(bytes: page, jobID: 1, wait: WaitPolicy(timeoutSeconds: 0.2))
        }
        sleeper.kill()
        _ = try region.allocate(bytes: page, jobID: 1, wait: WaitPolicy(timeoutSeconds: 5))
        #expect(region.bytes.load(RegionLayout.Header.allocatorLock) == 0, "released after the allocation")
        #expect(region.allocatorLockHolder == nil)
    }

    /// Without a holder record (an older library, or a holder that died right after the CAS) the
    /// lock cannot be judged, and is not taken.
    @Test func aLockWithoutAHolderRecordIsNotTaken() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let region = try attachRegion(directory.file("region"))
        let sleeper = try LiveProcess("/bin/sleep", ["60"])
        let holder = sleeper.identity
        sleeper.kill()
        holder.hold(region, token: 77)
        region.bytes.store(78, at: RegionLayout.Header.allocatorLockHolderToken)
        #expect(region.allocatorLockHolder == nil)
        expectRegionError("the allocator lock is still held by token 0x000000000000004d after 0.2 s") {
            _ = try region.allocate(bytes: page, jobID: 1, wait: WaitPolicy(timeoutSeconds: 0.2))
        }
    }
}

extension ProcessIdentity {
    /// Writes the allocator lock as this process would hold it with `token`.
    func hold(_ region: Region, token: UInt64) {
        region.bytes.storeIdentity(self, at: RegionLayout.Header.allocatorLockHolder)
        region.bytes.store(token, at: RegionLayout.Header.allocatorLockHolderToken)
        region.bytes.store(token, at: RegionLayout.Header.allocatorLock)
    }
}
