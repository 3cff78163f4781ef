import Foundation
import Region
import Testing

extension MPIProgram {
    /// Never prints PASS: its last rank dies or freezes in an epoch (see dead_rank.c).
    static let deadRank = MPIProgram(name: "dead_rank", calls: [])
    static let jobIsolation = MPIProgram(name: "job_isolation", calls: [.put, .get, .acc])
    static let windowFallback = MPIProgram(name: "window_fallback", calls: [.put, .get, .acc])
    static let stress = MPIProgram(name: "stress", calls: [.put, .get, .acc])
}

/// The epoch dead_rank.c's last rank stops in, and the call the other ranks are left waiting in.
enum StoppedEpoch: String, CaseIterable, Sendable {
    case fence, lock, pscw, barrier

    var waitingCall: String {
        switch self {
        case .fence: "MPI_Win_fence"
        case .lock: "MPI_Win_lock"
        case .pscw: "MPI_Win_wait"
        case .barrier: "MPI_Barrier"
        }
    }
}

/// dead_rank.c's line "rank R stops in MODE epoch at T" (T: CLOCK_REALTIME seconds).
struct StopLine {
    let rank: Int
    let epoch: String
    let time: Date

    init?(_ result: JobResult) {
        let pattern = /^rank (\d+) stops in (\w+) epoch at ([0-9.]+)$/
        guard let match = result.stdoutLines.lazy.compactMap({ try? pattern.wholeMatch(in: $0) }).first,
              let rank = Int(match.1), let seconds = Double(match.3) else { return nil }
        (self.rank, epoch, time) = (rank, String(match.2), Date(timeIntervalSince1970: seconds))
    }
}

/// One run of stress.c (RMA epochs interleaved with point-to-point messages): plain MPICH and
/// the library must print the same digests.
struct StressRun: Sendable, CustomTestStringConvertible {
    let seed: UInt64
    let epochs: Int
    /// Ranks on each region file ("server").
    var ranksPerRegion = [8]
    /// Also runs the library with IVSHMEM_RMA_PT2PT=0 (every message to MPICH): same digests again.
    var alsoWithPointToPointOff = false

    var testDescription: String {
        "seed \(seed), \(epochs) epochs, " + ranksPerRegion.map(String.init).joined(separator: "+") + " ranks on "
            + (ranksPerRegion.count == 1 ? "one region" : "\(ranksPerRegion.count) regions")
            + (alsoWithPointToPointOff ? ", also with IVSHMEM_RMA_PT2PT=0" : "")
    }

    /// Every epoch costs at least one MPICH barrier, about 50 ms at 8 ranks on 2 busy cores
    /// (measured here), and its messages about as much again (most of it the 1 in 32 messages
    /// above 64 KiB): the epoch counts keep the plain-MPICH reference run near a minute.
    static let cases = [
        StressRun(seed: 1, epochs: 250), StressRun(seed: 2, epochs: 100),
        StressRun(seed: 3, epochs: 100, alsoWithPointToPointOff: true),
        StressRun(seed: 4, epochs: 150, ranksPerRegion: [2, 2]),
    ]
}

/// What a user of a real cluster meets: ranks that die or freeze in an epoch, jobs sharing a
/// region, a region too small for a window, and a long random mix checked against plain MPICH.
@Suite("Robustness: dead ranks, concurrent jobs, small regions, stress", .serialized)
struct RobustnessTests {
    static let libraryTimeout = 5.0

    // MARK: A rank dies or freezes in the middle of an epoch

    /// MPICH's process manager (hydra) sees the SIGKILL and ends the whole job at once, before
    /// any library wait could time out: its own banner reports the signal (its PID line names
    /// whichever process it reaped, not necessarily the dead one), and the library prints nothing.
    @Test("a rank SIGKILLed in an epoch: hydra ends the job at once, the region serves the next job",
          arguments: StoppedEpoch.allCases)
    func killedRank(epoch: StoppedEpoch) throws {
        try runStoppingRank(in: epoch, signal: "kill") { result, secondsAfterDeath in
            #expect(secondsAfterDeath < Self.libraryTimeout,
                    "the job ended \(secondsAfterDeath) s after the death, beyond the \(Self.libraryTimeout) s timeout")
            let exitStatus = result.exitStatus
            #expect(exitStatus == 9, "mpiexec should exit with the signal number\n\(result.report)")
            for line in ["BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES", "=   EXIT CODE: 9",
                         "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)"] {
                #expect(result.stdout.contains(line), "hydra's banner lacks \"\(line)\"\n\(result.report)")
            }
            #expect(result.warningLines.isEmpty, "hydra ended the job first: no library line expected\n\(result.report)")
        }
    }

    /// A frozen rank (a paused VM) is invisible to hydra: the waiting ranks time out after
    /// IVSHMEM_RMA_TIMEOUT, say which call waited for which rank, and abort the job.
    @Test("a rank frozen (SIGSTOP) in an epoch: the waits time out naming call and peer, the job ends",
          arguments: StoppedEpoch.allCases)
    func frozenRank(epoch: StoppedEpoch) throws {
        try runStoppingRank(in: epoch, signal: "stop") { result, secondsAfterFreeze in
            // The survivors may start waiting a little before the frozen rank prints its line.
            #expect(secondsAfterFreeze >= Self.libraryTimeout - 2 && secondsAfterFreeze < Self.libraryTimeout + 10,
                    "the job ended \(secondsAfterFreeze) s after the freeze; the timeout is \(Self.libraryTimeout) s")
            let exitStatus = result.exitStatus
            #expect(exitStatus == 70, "the library aborts with code 70\n\(result.report)")
            let timeoutLines = result.warningLines.filter { $0.contains("waited more than 5 s") }
            #expect(!timeoutLines.isEmpty && timeoutLines.count == result.warningLines.count,
                    "expected only time-out lines from the waiting ranks\n\(result.report)")
            #expect(timeoutLines.allSatisfy { $0.contains(epoch.waitingCall) },
                    "a time-out line does not name \(epoch.waitingCall)\n\(result.report)")
            // The lock word records its exclusive holder, so a wait for a lock names the frozen holder.
            #expect(timeoutLines.allSatisfy { $0.contains("for world rank(s) 3;") },
                    "a time-out line does not name world rank 3, the frozen one\n\(result.report)")
        }
    }

    /// Runs dead_rank.c on 4 ranks of a fresh region, its last rank stopping by `signal` in
    /// `epoch`; `checks` gets the result and the seconds from the stop to the job's end. Then:
    /// no process is left, and the next job on the region runs and reclaims the dead job's space.
    private func runStoppingRank(in epoch: StoppedEpoch, signal: String,
                                 _ checks: (JobResult, TimeInterval) throws -> Void) throws {
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: .deadRank, groups: [RankGroup(ranks: 4, region: regions[0])], preload: library,
                environment: [("IVSHMEM_RMA_STATS", "1"), ("IVSHMEM_RMA_TIMEOUT", String(Int(Self.libraryTimeout)))],
                arguments: [epoch.rawValue, signal], timeoutSeconds: 90)
            let result = try job.run()
            let ended = Date()
            try requireNotHung(result, of: job)
            let stop = try #require(StopLine(result), "no \"rank R stops in ...\" line\n\(result.report)")
            #expect(stop.rank == 3 && stop.epoch == epoch.rawValue, "stopped elsewhere\n\(result.report)")
            try checks(result, ended.timeIntervalSince(stop.time))
            try expectNoProcessLeft(of: job)
            try expectNextJobCleansUp(after: job, on: regions[0], library: library)
        }
    }

    /// No process of the job survives it (zombies, already dead, have no command line).
    private func expectNoProcessLeft(of job: MPIJob, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let executable = try CompiledPrograms.executable(for: job.program).path
        let deadline = Date().addingTimeInterval(5)
        var running = processes(running: executable)
        while !running.isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            running = processes(running: executable)
        }
        #expect(running.isEmpty, "processes of '\(job.summary)' still run: pids \(running)", sourceLocation: sourceLocation)
        for pid in running { kill(pid, SIGKILL) }
    }

    /// The dead job left its slot and blocks in the region; the next job runs correctly, reclaims
    /// them (their owner is gone), and leaves the region empty.
    private func expectNextJobCleansUp(after deadJob: MPIJob, on file: RegionFile, library: URL,
                                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let region = try Region.open(RegionMapping(source: RegionSource(path: file.path, kind: .file), createSize: 0))
        // The dead job's leader may still be a zombie its parent has not reaped, whose /proc entry
        // keeps its start time: give the reaping a few seconds before judging liveness.
        var leftSlots = region.jobSlots()
        let reapDeadline = Date().addingTimeInterval(5)
        while leftSlots.contains(where: { $0.liveness != .dead }) && Date() < reapDeadline {
            Thread.sleep(forTimeInterval: 0.1)
            leftSlots = region.jobSlots()
        }
        let deadSlot = try #require(leftSlots.first, "'\(deadJob.summary)' left no job slot", sourceLocation: sourceLocation)
        #expect(leftSlots.count == 1 && deadSlot.liveness == .dead,
                "expected the dead job's slot alone, its owner dead: \(leftSlots)", sourceLocation: sourceLocation)
        let deadBlocks = { region.blockRecords().filter { $0.ownerJob == deadSlot.jobID } }
        #expect(!deadBlocks().isEmpty, "the dead job left no blocks: nothing to reclaim", sourceLocation: sourceLocation)

        let next = MPIJob(program: .putGet, groups: [RankGroup(ranks: 4, region: file)], preload: library,
                          environment: MPIJob.libraryEnvironment)
        try runAndCheck(next, stats: .oneRegion, sourceLocation: sourceLocation)
        #expect(deadBlocks().isEmpty && region.jobSlots().isEmpty,
                "after the next job: blocks of the dead job \(deadBlocks()), job slots \(region.jobSlots())",
                sourceLocation: sourceLocation)
        let usage = region.usage()
        #expect(usage.blocks == 0, "after the next job the region holds \(usage.blocks) block(s)", sourceLocation: sourceLocation)
    }

    // MARK: Sharing a region

    @Test("two jobs of 4 ranks at once on one region: both correct, neither sees the other's windows")
    func twoConcurrentJobs() throws {
        let library = try TestFixtures.requireLibrary()
        let meetingPoint = TestFixtures.scratchDirectory.appendingPathComponent("meet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: meetingPoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: meetingPoint) }
        try withRegionFiles(1) { regions in
            let jobs = ["1", "2"].map { tag in
                MPIJob(program: .jobIsolation, groups: [RankGroup(ranks: 4, region: regions[0])], preload: library,
                       environment: MPIJob.libraryEnvironment, arguments: [tag, meetingPoint.path], timeoutSeconds: 240)
            }
            // Both start before either finishes; the programs wait for each other before their
            // first epoch and before freeing their windows.
            let running = try jobs.map { try $0.start() }
            for (job, result) in zip(jobs, running.map { $0.finish() }) {
                try check(result, of: job, stats: .oneRegion, warnings: .none)
                let (stats, _) = RankStats.parse(stderr: result.stderr)
                #expect(stats.allSatisfy { $0.values["region"] == regions[0].path && $0.values["windows_shm"] == "2" },
                        "every rank's two windows should be in \(regions[0].path)\n\(result.report)")
            }
        }
    }

    @Test("a window the region cannot hold goes to MPICH with a warning; the small ones stay in the region")
    func windowTooLargeForTheRegion() throws {
        // 4 MiB holds the 4 KiB windows of 4 ranks, not one 64 MiB window per rank.
        let result = try runOnRegions(.windowFallback, ranks: 4, environment: [("IVSHMEM_RMA_SIZE", "4M")],
                                        arguments: ["64"], stats: .regionFull, warnings: .atLeastOne)
        let fallbackLines = result.warningLines.filter { $0.contains("window of 67108864 bytes falls back to private memory") }
        #expect(fallbackLines.count == result.warningLines.count,
                "expected only lines naming the 64 MiB window's fallback\n\(result.report)")
        #expect(fallbackLines.count == 1, "expected one fallback line for the job\n\(result.report)")
        let (stats, _) = RankStats.parse(stderr: result.stderr)
        for rank in stats {
            #expect(rank.values["windows_shm"] == "2" && rank.values["windows_mpi"] == "1",
                    "rank \(rank.rank): the two small windows in the region, the large one in MPICH: \(rank.line)")
            for call in OneSidedCall.allCases {
                #expect(rank.count(call, .shm) > 0, "rank \(rank.rank): \(call) to the small windows: \(rank.line)")
            }
        }
    }

    // MARK: Stress

    @Test("stress: a seeded random mix of every sync mode, operation and point-to-point pattern, same digests as plain MPICH",
          arguments: StressRun.cases)
    func stress(run: StressRun) throws {
        let library = try TestFixtures.requireLibrary()
        let arguments = [String(run.seed), String(run.epochs)]
        let ranks = run.ranksPerRegion.reduce(0, +)
        let plain = MPIJob(program: .stress, groups: [RankGroup(ranks: ranks)], arguments: arguments, timeoutSeconds: 300)
        let reference = try runAndCheck(plain, stats: .absent)
        let summary = { (result: JobResult) in
            result.stdoutLines.filter { line in
                ["digest ", "modes ", "operations ", "point_to_point "].contains { line.hasPrefix($0) }
            }
        }
        let expected = summary(reference)
        #expect(expected.filter { $0.hasPrefix("digest ") }.count == ranks, "plain MPICH printed no digests\n\(reference.report)")
        // Every mode, kind of operation, point-to-point pattern and kind of message happened at least once.
        for line in expected where !line.hasPrefix("digest ") {
            let zero = line.split(separator: " ").dropFirst().filter { $0.hasSuffix("=0") }
            #expect(zero.isEmpty, "never exercised: \(zero) in \(line)")
        }
        try withRegionFiles(run.ranksPerRegion.count) { regions in
            let oneRegion = regions.count == 1
            for pointToPoint in run.alsoWithPointToPointOff ? [true, false] : [true] {
                let served = MPIJob(
                    program: .stress, groups: zip(run.ranksPerRegion, regions).map { RankGroup(ranks: $0, region: $1) },
                    preload: library,
                    environment: MPIJob.libraryEnvironment + (pointToPoint ? [] : [("IVSHMEM_RMA_PT2PT", "0")]),
                    arguments: arguments, timeoutSeconds: 300)
                let result = try runAndCheck(served, stats: oneRegion ? .oneRegion : .twoRegions)
                let setting = pointToPoint ? "" : " (IVSHMEM_RMA_PT2PT=0)"
                if oneRegion {
                    let (stats, _) = RankStats.parse(stderr: result.stderr)
                    #expect(stats.allSatisfy { $0.values["windows_shm"] == "2" },
                            "both windows (MPI_Win_allocate, MPI_Win_create) should be served through the region\(setting)\n\(result.report)")
                    #expect(stats.allSatisfy { Int($0.values["coll_shm"] ?? "") ?? 0 > run.epochs },
                            "the barriers and the collectives between epochs should be served through the region\(setting)\n\(result.report)")
                    if pointToPoint {
                        expectEveryRank(result, ranks: ranks, "send_shm > 0 and recv_shm > 0 (messages through the region)") {
                            $0.sends(.shm) > 0 && $0.receives(.shm) > 0
                        }
                    } else {
                        expectEveryRank(result, ranks: ranks, "send_shm == 0 and recv_shm == 0 (point-to-point turned off)") {
                            $0.sends(.shm) == 0 && $0.receives(.shm) == 0
                        }
                    }
                }
                #expect(summary(result) == expected, "the library's digests\(setting) differ from plain MPICH's\n\(result.report)")
            }
        }
    }
}

/// The processes whose command line starts with `executable`.
private func processes(running executable: String) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { pid_t($0) }.filter { pid in
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/cmdline") else { return false }
        defer { try? handle.close() }
        let arguments = (try? handle.readToEnd()) ?? Data()
        return arguments.split(separator: 0).first.map { String(decoding: $0, as: UTF8.self) } == executable
    }
}
