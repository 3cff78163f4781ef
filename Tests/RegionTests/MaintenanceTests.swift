import Foundation
@testable import Region
import SharedSync
import Testing

/// Inspection, reset, file creation and the doctor: the logic behind the ivshmem-rma tool.
@Suite struct MaintenanceTests {
    func mapping(_ path: String) throws -> RegionMapping {
        try RegionMapping(source: RegionSource(path: path, kind: .file), createSize: 0)
    }

    @Test func inspectShowsJobsWindowsAndFreeSpace() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path, size: 1 << 20)
        let slot = try region.claimJobSlot(jobID: 7, nonce: 1)
        let first = try region.allocate(bytes: 3 * page, jobID: 7, wait: patient)
        _ = try region.allocate(bytes: page, jobID: 8, wait: patient)
        #expect(region.free(first, jobID: 7, wait: patient))
        _ = try region.allocate(bytes: page, jobID: 7, wait: patient)

        let before = fileBytes(path)
        let report = Region.inspect(try mapping(path))
        #expect(fileBytes(path) == before, "inspect writes nothing")
        #expect(report.valid && report.problem == nil)
        #expect(report.header == RegionReport.Header(state: "ready", magic: "IVRMAREG", layoutVersion: 1, formattedSize: 1 << 20,
                                                     identity: region.identity.description))
        #expect(report.jobs.map(\.index) == [slot] && report.jobs.first?.liveness == .alive)
        #expect(report.windows.map(\.block.ownerJob) == [7, 8], "table order: job 7's second block reuses the freed record")
        #expect(report.windows.map(\.ownerJobState) == ["alive", "no job slot"])
        #expect(report.usedBytes == 2 * page && report.freeBytes == (1 << 20) - RegionLayout.dataOffset - 2 * page)
        // Blocks: [dataOffset, +1 page) job 7, hole of 2 pages, 1 page job 8, then the rest.
        #expect(report.largestFreeExtent == (1 << 20) - RegionLayout.dataOffset - 4 * page)
        #expect(report.allocatorLock == nil)
    }

    @Test func inspectReportsAnInvalidHeaderAsItIs() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        var bytes = [UInt8](repeating: 0, count: 1 << 16)
        bytes.replaceSubrange(8..<16, with: Array("NOTOURS!".utf8))
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let report = Region.inspect(try mapping(path))
        #expect(!report.valid && !report.isUnformatted)
        #expect(report.problem?.contains("has a foreign header (magic 0x215352554f544f4e)") == true)
        #expect(report.header?.state == "fresh" && report.header?.magic == "0x215352554f544f4e")
        #expect(report.jobs.isEmpty && report.windows.isEmpty)

        createZeroFile(path, size: 1 << 16)
        let fresh = Region.inspect(try mapping(path))
        #expect(!fresh.valid && fresh.isUnformatted)
        #expect(fresh.problem == "region \(path) is not formatted yet (its metadata is all zero)")
    }

    @Test func resetRefusesWhileAJobMayRunUnlessForced() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path)
        let slot = try region.claimJobSlot(jobID: 9, nonce: 1)
        _ = try region.allocate(bytes: page, jobID: 9, wait: patient)
        expectRegionError("region \(path): 1 job(s) may still use it: slot \(slot) job 0x0000000000000009 (alive); not resetting") {
            _ = try Region.reset(try mapping(path), force: false, wait: patient)
        }
        #expect(region.jobSlots().count == 1, "refused: untouched")

        let reset = try Region.reset(try mapping(path), force: true, wait: patient)
        #expect(reset.didFormat && reset.identity != region.identity)
        #expect(reset.jobSlots().isEmpty && reset.blockRecords().isEmpty)
        #expect(reset.usage().freeBytes == reset.size - RegionLayout.dataOffset)
    }

    @Test func resetCuresACorruptHeaderButNotAForeignOne() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path)
        region.bytes.store(12345, at: RegionLayout.Header.checksum)
        #expect(try Region.reset(try mapping(path), force: false, wait: patient).didFormat)

        region.bytes.store(0x4141_4141, at: RegionLayout.Header.magic)
        let before = fileBytes(path)
        expectRegionError("has a foreign header (magic 0x0000000041414141): not touching it; not resetting (--force resets anyway)") {
            _ = try Region.reset(try mapping(path), force: false, wait: patient)
        }
        #expect(fileBytes(path) == before)
        #expect(try Region.reset(try mapping(path), force: true, wait: patient).didFormat)
    }

    @Test func createFileMakesAZeroFileAndRefusesAnExistingOne() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        #expect(try Region.createFile(at: path, size: 3 << 20) == CreatedRegionFile(size: 3 << 20, hugePageSize: nil))
        #expect(fileBytes(path) == [UInt8](repeating: 0, count: 3 << 20))
        expectRegionError("cannot create region \(path): File exists") { _ = try Region.createFile(at: path, size: 1 << 20) }
        expectRegionError("smaller than the minimum") { _ = try Region.createFile(at: directory.file("small"), size: 4096) }
        #expect(!FileManager.default.fileExists(atPath: directory.file("small")))
        #expect(!Region.isOnHugetlbfs(path))
    }

    /// On a hugetlbfs mount (root only: the test mounts one), sizes round up to whole huge pages, and
    /// the doctor either maps the file or says how many huge pages to reserve.
    @Test(.enabled(if: getuid() == 0)) func hugetlbfsRoundsToHugePages() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        guard mount("none", directory.path, "hugetlbfs", 0, nil) == 0 else { return }  // no hugetlbfs in this kernel
        defer { umount(directory.path) }
        let path = directory.file("region")
        let created = try Region.createFile(at: path, size: 3 << 20 + 5)
        defer { unlink(path) }
        let hugePage = try #require(created.hugePageSize)
        #expect(created.size % hugePage == 0 && created.size >= 3 << 20 + 5 && created.size - hugePage < 3 << 20 + 5)
        #expect(Region.isOnHugetlbfs(path))
        let findings = RegionDoctor.examine(regionPath: path, environment: [:]).flatMap(\.lines)
        #expect(findings.contains("OK: \(path) maps shared and writable")
                || findings.contains("FIX: reserve the huge pages it needs: echo \(created.size / hugePage) > /proc/sys/vm/nr_hugepages (more if other files use them)"),
                "\(findings)")
    }

    @Test(arguments: [(3 << 20, 2 << 20, 4 << 20), (4 << 20, 2 << 20, 4 << 20), (1, 1 << 30, 1 << 30), (Int.max - 5, 1 << 21, Int.max - 5)])
    func hugePageRounding(size: Int, hugePage: Int, rounded: Int) {
        #expect(Region.roundUp(size, toMultipleOf: hugePage) == rounded)
    }
}

@Suite struct DoctorTests {
    func lines(_ findings: [DoctorFinding]) -> [String] { findings.flatMap(\.lines) }

    @Test func aGoodRegionFileIsAllOK() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let region = try attachRegion(path, size: 1 << 20)
        let findings = RegionDoctor.examine(regionPath: path, environment: [:])
        #expect(findings.allSatisfy { !$0.isProblem }, "\(lines(findings))")
        #expect(lines(findings).last == "OK: \(path) has a valid header: layout version 1, identity \(region.identity), "
                + "0 job(s), 0 block(s), \(region.usage().freeBytes) bytes free")
    }

    @Test func theEnvironmentNamesTheRegionWhenNoPathIsGiven() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        createZeroFile(path, size: 1 << 20)
        let findings = RegionDoctor.examine(regionPath: nil, environment: ["IVSHMEM_RMA_REGION": path], sysfsRoot: directory.file("nosysfs"))
        #expect(lines(findings).last == "OK: \(path) is not formatted yet: the first job formats it")
        #expect(findings.allSatisfy { !$0.isProblem })
    }

    @Test func aTooSmallFileIsAProblemWithAFix() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        createZeroFile(path, size: 8192)
        let findings = lines(RegionDoctor.examine(regionPath: path, environment: [:]))
        #expect(findings.suffix(2) == ["PROBLEM: \(path) is 8192 bytes, smaller than the minimum \(Region.minimumSize) bytes",
                                       "FIX: recreate it larger: rm \(path) && ivshmem-rma region create \(path) --size 256M"])
    }

    @Test func aForeignHeaderIsAProblem() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 0x5a, count: 1 << 16)))
        let findings = lines(RegionDoctor.examine(regionPath: path, environment: [:]))
        #expect(findings.suffix(2) == ["PROBLEM: region \(path) has a foreign header (magic 0x5a5a5a5a5a5a5a5a): not touching it",
                                       "FIX: this memory holds something else: give ivshmem-rma a region of its own, or wipe it: ivshmem-rma region reset --force \(path)"])
    }

    @Test func aMissingFileAndADeadJobAreProblems() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let missing = directory.file("missing")
        #expect(lines(RegionDoctor.examine(regionPath: missing, environment: [:])).first == "PROBLEM: \(missing) does not exist")

        let path = directory.file("region")
        _ = try attachRegion(path)
        let (probe, _, _) = try #require(try LiveProcess.claimingProbe(path, job: 5))
        probe.kill()
        #expect(lines(RegionDoctor.examine(regionPath: path, environment: [:])).suffix(2)
                == ["PROBLEM: 1 job slot(s) of \(path) are held by jobs that are gone",
                    "FIX: ivshmem-rma region gc \(path) (the next job also reclaims them)"])
    }

    /// A guest's devices in a fake sysfs: one with resource2_wc and a good BAR, one without.
    @Test func devicesAreFoundAndWriteCombiningChecked() throws {
        let sysfs = try TemporaryDirectory()
        defer { sysfs.remove() }
        for (device, files) in [("0000:00:04.0", ["resource2", "resource2_wc"]), ("0000:00:05.0", ["resource2"]), ("0000:00:06.0", [])] {
            let directory = sysfs.file(device)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try "0x1af4\n".write(toFile: directory + "/vendor", atomically: false, encoding: .utf8)
            try "0x1110\n".write(toFile: directory + "/device", atomically: false, encoding: .utf8)
            for file in files { createZeroFile(directory + "/" + file, size: 1 << 20) }
        }
        let findings = lines(RegionDoctor.examine(regionPath: nil, environment: [:], sysfsRoot: sysfs.path))
        let good = sysfs.file("0000:00:04.0"), plain = sysfs.file("0000:00:05.0"), empty = sysfs.file("0000:00:06.0")
        #expect(findings.contains("OK: ivshmem device \(good) (1af4:1110)"))
        #expect(findings.contains("OK: \(good)/resource2_wc is present: the region is mapped write-combining"))
        #expect(findings.contains("OK: \(good)/resource2_wc is not formatted yet: the first job formats it"))
        #expect(findings.contains { $0.hasPrefix("PROBLEM: \(plain) has no resource2_wc: the region is mapped uncached") })
        #expect(findings.contains("OK: \(plain)/resource2 maps shared and writable"))
        #expect(findings.contains("PROBLEM: \(empty)/resource2 does not exist"))
    }

    @Test func noDeviceAndNoVariableIsAProblem() throws {
        let sysfs = try TemporaryDirectory()
        defer { sysfs.remove() }
        let findings = RegionDoctor.examine(regionPath: nil, environment: ["IVSHMEM_RMA_REGION": ""], sysfsRoot: sysfs.path)
        #expect(findings.count == 1 && findings[0].isProblem)
        #expect(findings[0].text.hasPrefix("no region: IVSHMEM_RMA_REGION is not set and there is no ivshmem PCI device"))
    }
}
