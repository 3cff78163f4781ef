import Foundation

/// How MPICH sees the ranks of a job.
enum Placement: Sendable {
    /// Plain MPICH on one host: shared memory between ranks.
    case bareMetal
    /// Every rank its own "VM" (MPIR_CVAR_NOLOCAL=1), with UCX's shared-memory transports
    /// underneath rather than TCP: MPICH 4.0.2's UCX netmod can hang in MPI_Finalize over
    /// TCP (see shared/docs/domain.md, section 3). Measured here on a loaded machine, plain
    /// MPICH with no preload hung in 1 of 40 two-rank TCP runs, which would make a suite of
    /// dozens of runs flaky. MPICH still sees one rank per node, which is what the tests need;
    /// the benchmarks keep TCP for the "between VMs today" column.
    case simulatedVMs

    /// What makes `implementation` place the ranks so.
    func environment(of implementation: MPIImplementation) -> [(String, String)] {
        switch self {
        case .bareMetal: []
        case .simulatedVMs: implementation.simulatedVMEnvironment
        }
    }
}

/// Ranks launched together with one region (one "physical server"), or none.
struct RankGroup: Sendable {
    var ranks: Int
    var region: RegionFile?
}

/// One `mpiexec` invocation of a program, run under `timeout` so a hang fails the
/// test with its name instead of stalling the suite.
struct MPIJob: Sendable {
    var program: MPIProgram
    var groups: [RankGroup]
    var placement: Placement = .simulatedVMs
    /// The MPI the program is compiled with and run under.
    var implementation: MPIImplementation = .debianMPICH
    /// LD_PRELOAD for every rank (never for mpiexec itself).
    var preload: URL?
    /// Another library preloaded beside `preload` (a PMPI tool), first or last in LD_PRELOAD.
    var companionPreload: (library: URL, first: Bool)? = nil
    /// Runs `Programs/python/<name>.py` with this interpreter instead of a compiled program.
    var interpreter: URL? = nil
    /// More variables for every rank.
    var environment: [(String, String)] = []
    var arguments: [String] = []
    var timeoutSeconds: Int? = nil

    var totalRanks: Int { groups.reduce(0) { $0 + $1.ranks } }

    /// Generous for 8 ranks sharing 2 cores.
    var effectiveTimeout: Int { timeoutSeconds ?? (totalRanks <= 4 ? 90 : 180) }

    /// Variables the harness controls; inherited values would change what a job tests.
    static let controlledVariablePrefixes = ["IVSHMEM_RMA_", "LD_PRELOAD", "MPIR_CVAR_", "UCX_TLS", "I_MPI_", "FI_"]

    func commandLine(executable: URL) -> [String] {
        var command = ["/usr/bin/timeout", "-k", "5", String(effectiveTimeout), implementation.mpiexec]
        var rankEnvironment = placement.environment(of: implementation) + environment
        var preloads = preload.map { [$0] } ?? []
        if let companion = companionPreload { preloads.insert(companion.library, at: companion.first ? 0 : preloads.count) }
        if !preloads.isEmpty { rankEnvironment.append(("LD_PRELOAD", preloads.map(\.path).joined(separator: ":"))) }
        for (name, value) in rankEnvironment { command += ["-genv", name, value] }
        for (index, group) in groups.enumerated() {
            if index > 0 { command.append(":") }
            command += ["-n", String(group.ranks)]
            if let region = group.region { command += ["-env", "IVSHMEM_RMA_REGION", region.path] }
            if let interpreter { command.append(interpreter.path) }
            command.append(executable.path)
            command += arguments
        }
        return command
    }

    /// Starts the job; `RunningJob.finish()` waits for it.
    func start() throws -> RunningJob {
        let script = TestFixtures.programsDirectory.appendingPathComponent("python/\(program.name).py")
        return try RunningJob(
            job: self,
            executable: interpreter == nil ? CompiledPrograms.executable(for: program, compiler: implementation.mpicc) : script)
    }

    func run() throws -> JobResult {
        try start().finish()
    }

    /// Runs `executable` (a program shipped with the MPI, not one of `Programs/`) as this job.
    func run(executable: URL) throws -> JobResult {
        try RunningJob(job: self, executable: executable).finish()
    }
}

/// A started job; its output goes to files, so no pipe can fill up and block it.
final class RunningJob {
    let job: MPIJob
    let command: [String]
    private let process = Process()
    private let stdoutURL: URL
    private let stderrURL: URL
    private let started = Date()

    init(job: MPIJob, executable: URL) throws {
        self.job = job
        command = job.commandLine(executable: executable)
        let stem = TestFixtures.scratchDirectory.appendingPathComponent("job-\(UUID().uuidString)").path
        stdoutURL = URL(fileURLWithPath: stem + ".out")
        stderrURL = URL(fileURLWithPath: stem + ".err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)

        var environment = ProcessInfo.processInfo.environment
        for name in environment.keys where MPIJob.controlledVariablePrefixes.contains(where: name.hasPrefix) {
            environment[name] = nil
        }
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        for (name, value) in job.implementation.launchEnvironment { environment[name] = value }
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
    }

    func finish() -> JobResult {
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(started)
        let read = { (url: URL) -> String in
            let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: url)
            return text
        }
        // Reported as a shell would: `timeout -k` SIGKILLs its whole process group, itself included.
        let exitStatus =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        let result = JobResult(
            command: command, timeoutSeconds: job.effectiveTimeout, exitStatus: exitStatus, stdout: read(stdoutURL),
            stderr: read(stderrURL), seconds: seconds)
        print("[mpiexec \(String(format: "%.1f", seconds)) s, exit \(result.exitStatus)] \(result.commandText)")
        return result
    }
}

struct JobResult: Sendable {
    let command: [String]
    let timeoutSeconds: Int
    let exitStatus: Int32
    let stdout: String
    let stderr: String
    let seconds: Double

    /// `timeout` exits 124 when SIGTERM ended the job; 137 means it had to SIGKILL.
    var hung: Bool { exitStatus == 124 || exitStatus == 137 }

    /// The command as one shell line, to paste when reproducing a failure.
    var commandText: String {
        command.map { $0.contains(where: { " ,;'\"".contains($0) }) ? "'\($0)'" : $0 }.joined(separator: " ")
    }

    var stdoutLines: [Substring] { stdout.split(separator: "\n") }
    var stderrLines: [Substring] { stderr.split(separator: "\n") }

    /// Lines the library prints as warnings or, when verbose, explanations
    /// (`ivshmem-rma: ...`), from either stream.
    var warningLines: [Substring] {
        (stdoutLines + stderrLines).filter { $0.hasPrefix("ivshmem-rma:") }
    }

    /// The command and the last lines of both streams, for failure messages.
    var report: String {
        let tail = { (lines: [Substring]) in lines.suffix(40).joined(separator: "\n") }
        return """
            command: \(commandText)
            exit status \(exitStatus) after \(String(format: "%.1f", seconds)) s
            --- stdout (last 40 lines) ---
            \(tail(stdoutLines))
            --- stderr (last 40 lines) ---
            \(tail(stderrLines))
            """
    }
}
