import Foundation
import Region
import Testing

/// One finished run of the ivshmem-rma tool.
struct ToolRun {
    var status: Int32
    var output: String
    var errors: String
    var lines: [String] { output.split(separator: "\n").map(String.init) }
}

/// Runs the ivshmem-rma tool the build puts next to the test binary, optionally as another user
/// (through setpriv), and kills it after 60 s.
func runTool(_ arguments: [String], asUser uid: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> ToolRun {
    let tool = (SyncProbe.executable as NSString).deletingLastPathComponent + "/ivshmem-rma"
    guard FileManager.default.isExecutableFile(atPath: tool) else {
        Issue.record("no ivshmem-rma at \(tool): build it with `swift build --product ivshmem-rma`", sourceLocation: sourceLocation)
        return ToolRun(status: -1, output: "", errors: "")
    }
    let process = Process()
    let output = Pipe(), errors = Pipe()
    if let uid {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", tool] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
    }
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let killer = DispatchWorkItem { process.terminate() }
    DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: killer)
    let out = output.fileHandleForReading.readDataToEndOfFile(), err = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    killer.cancel()
    return ToolRun(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                   errors: String(decoding: err, as: UTF8.self))
}

func inspectJSON(_ path: String) throws -> RegionReport {
    let run = try runTool(["region", "inspect", "--json", path])
    return try JSONDecoder().decode(RegionReport.self, from: Data(run.output.utf8))
}

func hex(_ word: UInt64) -> String {
    let digits = String(word, radix: 16)
    return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
}

@Suite(.serialized) struct ToolTests {
    @Test func createFormatAndInspect() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let created = try runTool(["region", "create", path, "--size", "96K"])
        #expect(created.status == 0 && created.lines == ["created \(path): 98304 bytes (96 KiB)"], "\(created)")
        #expect(fileBytes(path) == [UInt8](repeating: 0, count: 98304))
        let fresh = try inspectJSON(path)
        #expect(!fresh.valid && fresh.isUnformatted && fresh.size == 98304)
        #expect(try runTool(["region", "create", path, "--size", "96K"]).errors.contains("cannot create region \(path): File exists"))

        let formatted = directory.file("formatted")
        let run = try runTool(["region", "create", formatted, "--size", "2M", "--format"])
        #expect(run.status == 0 && run.lines.count == 2 && run.lines[1].hasPrefix("formatted: layout version 1, identity "), "\(run)")
        let report = try inspectJSON(formatted)
        #expect(report.valid && report.header?.magic == "IVRMAREG" && report.header?.formattedSize == 2 << 20)
        #expect(run.lines[1].hasSuffix(report.header?.identity ?? "?"))
        #expect(report.freeBytes == (2 << 20) - 24576 && report.largestFreeExtent == report.freeBytes && report.jobs.isEmpty)

        let table = try runTool(["region", "inspect", formatted])
        #expect(table.lines.first == "region \(formatted): 2097152 bytes (2 MiB), valid")
        #expect(table.lines.contains("jobs: 0 of 64 slots") && table.lines.contains("allocator lock: free"))
    }

    @Test(arguments: ["12X", "M", "0"])
    func aBadSizeIsRefused(size: String) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let run = try runTool(["region", "create", directory.file("region"), "--size", size])
        #expect(run.status != 0 && run.errors.contains("--size \(size): give bytes, or a number with K, M or G"), "\(run)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("region")))
    }

    /// A job whose leader was SIGKILLed loses its slot and block to gc; a live one keeps them.
    @Test func gcReclaimsTheDeadJobAndLeavesTheLiveOne() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        #expect(try runTool(["region", "create", path, "--size", "1M", "--format"]).status == 0)
        let (dead, deadSlot, deadBlock) = try #require(try LiveProcess.claimingProbe(path, job: 11, bytes: 3 * 4096))
        let (alive, aliveSlot, aliveBlock) = try #require(try LiveProcess.claimingProbe(path, job: 12))
        defer { alive.kill() }
        let deadPid = dead.process.processIdentifier
        dead.kill()

        let before = try inspectJSON(path)
        #expect(before.jobs.map(\.liveness) == [.dead, .alive])
        #expect(before.windows.map(\.ownerJobState) == ["dead", "alive"])
        let table = try runTool(["region", "inspect", path]).lines
        #expect(table.contains { $0.contains(hex(11)) && $0.contains("claimed") && $0.hasSuffix("dead") })

        let gc = try runTool(["region", "gc", path])
        #expect(gc.status == 0, "\(gc)")
        #expect(gc.lines == ["reclaimed slot \(deadSlot): job \(hex(11)), leader pid \(deadPid) (dead)",
                             "freed block record 0: offset \(deadBlock.offset), \(deadBlock.size) bytes, job \(hex(11))",
                             "gc \(path): 1 job slot(s) and 1 block(s) (12 KiB) reclaimed"])
        let after = try inspectJSON(path)
        #expect(after.jobs.map(\.index) == [aliveSlot] && after.jobs.first?.jobID == 12 && after.jobs.first?.liveness == .alive)
        #expect(after.windows.map(\.block.offset) == [UInt64(aliveBlock.offset)])
        #expect(after.usedBytes == aliveBlock.size)
        #expect(try runTool(["region", "gc", path, "--job", "12"]).lines.last == "job \(hex(12)): alive here: left alone")
        #expect(try inspectJSON(path).jobs.count == 1, "a named live job is not reclaimed")
    }

    @Test func resetRefusesWhileAJobLivesUnlessForced() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        #expect(try runTool(["region", "create", path, "--size", "1M", "--format"]).status == 0)
        let (alive, slot, _) = try #require(try LiveProcess.claimingProbe(path, job: 13))
        defer { alive.kill() }
        let refused = try runTool(["region", "reset", path])
        #expect(refused.status == 1)
        #expect(refused.errors == "ivshmem-rma: region \(path): 1 job(s) may still use it: slot \(slot) job \(hex(13)) (alive); "
                + "not resetting (--force resets anyway)\n")
        #expect(try inspectJSON(path).jobs.count == 1)

        let identity = try inspectJSON(path).header?.identity
        let forced = try runTool(["region", "reset", "--force", path])
        #expect(forced.status == 0 && forced.output.hasPrefix("reset \(path): layout version 1, identity "), "\(forced)")
        let after = try inspectJSON(path)
        #expect(after.valid && after.jobs.isEmpty && after.windows.isEmpty && after.header?.identity != identity)
    }

    @Test func doctorOnAGoodFileATooSmallOneAndAForeignOne() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let good = directory.file("good")
        #expect(try runTool(["region", "create", good, "--size", "1M", "--format"]).status == 0)
        let fine = try runTool(["doctor", "--region", good])
        #expect(fine.status == 0 && fine.lines.count == 4 && fine.lines.allSatisfy { $0.hasPrefix("OK: ") }, "\(fine)")

        let small = directory.file("small")
        createZeroFile(small, size: 4096)
        let tooSmall = try runTool(["doctor", "--region", small])
        #expect(tooSmall.status == 1)
        #expect(tooSmall.lines.suffix(2) == ["PROBLEM: \(small) is 4096 bytes, smaller than the minimum 28672 bytes",
                                            "FIX: recreate it larger: rm \(small) && ivshmem-rma region create \(small) --size 256M"])

        let foreign = directory.file("foreign")
        #expect(FileManager.default.createFile(atPath: foreign, contents: Data(repeating: 0x11, count: 1 << 16)))
        let refused = try runTool(["doctor", "--region", foreign])
        #expect(refused.status == 1 && refused.lines.contains { $0.hasPrefix("PROBLEM: region \(foreign) has a foreign header") })
        let inspect = try runTool(["region", "inspect", foreign])
        #expect(inspect.status == 1 && inspect.lines.first == "region \(foreign): 65536 bytes (64 KiB), NOT VALID")
    }

    /// A file this user cannot open read-write: as root, checked as the user nobody (setpriv).
    @Test func doctorOnAFileWithoutWritePermission() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        chmod(directory.path, 0o755)
        let path = directory.file("region")
        #expect(try runTool(["region", "create", path, "--size", "1M"]).status == 0)
        chmod(path, 0o644)
        let user = getuid() == 0 ? 65534 : nil
        if user == nil { chmod(path, 0o444) }
        let run = try runTool(["doctor", "--region", path], asUser: user)
        let uid = user ?? Int(getuid())
        #expect(run.status == 1)
        #expect(run.lines == ["PROBLEM: \(path) cannot be opened read-write by this user (uid \(uid)): Permission denied",
                              "FIX: give the MPI users read-write access: chgrp mpi \(path) && chmod g+rw \(path) (or run as its owner)"],
                "\(run)")
    }
}
