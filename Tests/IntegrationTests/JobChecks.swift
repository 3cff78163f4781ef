import Foundation
import Testing

/// What the stats lines of a job must show, for every rank.
enum StatsExpectation: Sendable {
    /// No library loaded: no stats lines at all.
    case absent
    /// Every rank shares one region: the program's calls go through it, none to MPICH.
    case oneRegion
    /// Ranks on two regions: the program's calls reach MPICH, puts and gets also the region.
    case twoRegions
    /// No usable region: nothing through a region, the program's calls to MPICH.
    case mpichOnly
    /// The region cannot hold the program's windows: some calls went to MPICH.
    case regionFull
}

/// Whether a job may print `ivshmem-rma:` lines (warnings, or explanations when verbose).
enum WarningExpectation: Sendable {
    case none, atLeastOne
}

extension MPIJob {
    /// Names the run in failure messages.
    var summary: String {
        let layout = groups.map { String($0.ranks) }.joined(separator: "+")
        let regions = groups.compactMap(\.region).count
        let mode = preload == nil ? "no preload" : "preloaded, \(regions) region file(s)"
        return "\(program.name) at \(layout) ranks, \(placement), \(implementation), \(mode)"
    }

    /// Variables of every preloaded job: stats on, and a library wait timeout well below
    /// the harness's, so a stuck wait names itself.
    static let libraryEnvironment = [("IVSHMEM_RMA_STATS", "1"), ("IVSHMEM_RMA_TIMEOUT", "60")]
}

/// Runs `job` and checks what every self-checking run must show: it did not hang, it
/// exited 0, rank 0 printed the PASS line once, warnings as expected, and the stats.
@discardableResult
func runAndCheck(
    _ job: MPIJob, stats expectation: StatsExpectation, warnings: WarningExpectation = .none,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> JobResult {
    let result = try job.run()
    try check(result, of: job, stats: expectation, warnings: warnings, sourceLocation: sourceLocation)
    return result
}

/// Runs `program` preloaded with `ranks` ranks on each of `regions` region files (simulated
/// servers), and checks it as `runAndCheck` does.
@discardableResult
func runOnRegions(
    _ program: MPIProgram, ranks: Int, regions regionCount: Int = 1, environment: [(String, String)] = [],
    arguments: [String] = [], stats expectation: StatsExpectation = .oneRegion, warnings: WarningExpectation = .none,
    implementation: MPIImplementation = .debianMPICH, sourceLocation: SourceLocation = #_sourceLocation
) throws -> JobResult {
    let library = try TestFixtures.requireLibrary()
    return try withRegionFiles(regionCount) { regions in
        let job = MPIJob(
            program: program, groups: regions.map { RankGroup(ranks: ranks, region: $0) },
            implementation: implementation, preload: library, environment: MPIJob.libraryEnvironment + environment,
            arguments: arguments)
        return try runAndCheck(job, stats: expectation, warnings: warnings, sourceLocation: sourceLocation)
    }
}

func check(
    _ result: JobResult, of job: MPIJob, stats expectation: StatsExpectation, warnings: WarningExpectation,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    try requireNotHung(result, of: job, sourceLocation: sourceLocation)
    var problems: [String] = []
    if result.exitStatus != 0 { problems.append("exit status \(result.exitStatus), expected 0") }
    let passLines = result.stdoutLines.filter { $0 == job.program.passLine }.count
    if passLines != 1 { problems.append("\"\(job.program.passLine)\" printed \(passLines) times, expected once") }
    switch (warnings, result.warningLines.isEmpty) {
    case (.none, false): problems.append("unexpected warnings:\n" + result.warningLines.joined(separator: "\n"))
    case (.atLeastOne, true): problems.append("expected an ivshmem-rma: warning line, found none")
    default: break
    }
    problems += statsProblems(result, program: job.program, ranks: job.totalRanks, expectation: expectation)
    if !problems.isEmpty {
        Issue.record(
            "mpiexec run '\(job.summary)':\n- \(problems.joined(separator: "\n- "))\n\(result.report)",
            sourceLocation: sourceLocation)
    }
}

/// Stops the test with the run's name and output tail when `timeout` had to end it.
func requireNotHung(_ result: JobResult, of job: MPIJob, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let finishedInTime = !result.hung  // a plain Bool keeps #require's own output short
    try #require(
        finishedInTime, "mpiexec run '\(job.summary)' hung after \(result.timeoutSeconds) s\n\(result.report)",
        sourceLocation: sourceLocation)
}

func statsProblems(_ result: JobResult, program: MPIProgram, ranks: Int, expectation: StatsExpectation) -> [String] {
    let (stats, malformed) = RankStats.parse(stderr: result.stderr)
    var problems = malformed.map { "malformed stats line (needs rank= and \(RankStats.requiredKeys)): \($0)" }
    if case .absent = expectation {
        if !stats.isEmpty { problems.append("stats lines printed without the library: \(stats.map(\.line))") }
        return problems
    }
    let seenRanks = stats.map(\.rank).sorted()
    if seenRanks != Array(0..<ranks) {
        problems.append("stats lines for ranks \(seenRanks), expected exactly one for each of 0..<\(ranks)")
    }
    for rankStats in stats {
        let count = { (call: OneSidedCall, path: CallPath) in rankStats.count(call, path) }
        let require = { (holds: Bool, what: String) in
            if !holds { problems.append("rank \(rankStats.rank): \(what) in: \(rankStats.line)") }
        }
        switch expectation {
        case .absent:
            break
        case .oneRegion:
            for call in program.calls { require(count(call, .shm) > 0, "\(call)_shm should be > 0 (co-resident targets)") }
            if !program.usesPassThroughWindows {
                for call in OneSidedCall.allCases {
                    require(count(call, .mpi) == 0, "\(call)_mpi should be 0 (every target shares the region)")
                }
            }
        case .twoRegions:
            for call in program.calls {
                require(count(call, .mpi) > 0, "\(call)_mpi should be > 0 (targets on the other region)")
                // Accumulates are exempt: on a window spanning regions they may all go to
                // MPICH, which keeps them atomic with the other region's accumulates.
                if call != .acc {
                    require(count(call, .shm) > 0, "\(call)_shm should be > 0 (targets on the same region)")
                }
            }
        case .mpichOnly:
            for call in OneSidedCall.allCases { require(count(call, .shm) == 0, "\(call)_shm should be 0 (no region)") }
            for call in program.calls { require(count(call, .mpi) > 0, "\(call)_mpi should be > 0 (all to MPICH)") }
        case .regionFull:
            for call in program.calls {
                require(count(call, .mpi) > 0, "\(call)_mpi should be > 0 (windows the region could not hold)")
            }
        }
    }
    return problems
}
