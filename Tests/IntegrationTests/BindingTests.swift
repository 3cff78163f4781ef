import Foundation
import Testing

extension MPIProgram {
    /// One RMA exercise (fortran_rma_body.inc: MPI_Win_allocate with fence put/get, lock/put/unlock
    /// and accumulate MPI_SUM, then an MPI_Win_create window) through each Fortran binding.
    static let fortranMpifH = MPIProgram(name: "fortran_mpif_h", calls: [.put, .get, .acc])
    static let fortranUseMPI = MPIProgram(name: "fortran_use_mpi", calls: [.put, .get, .acc])
    static let fortranMPIF08 = MPIProgram(name: "fortran_mpi_f08", calls: [.put, .get, .acc])
    static let fortran: [MPIProgram] = [fortranMpifH, fortranUseMPI, fortranMPIF08]

    /// Known numbers of each call (listed in pmpi_counted.c), for the PMPI tool's counts.
    static let pmpiCounted = MPIProgram(name: "pmpi_counted", calls: [.put, .get, .acc])

    /// Programs/python/mpi4py_windows.py: MPI.Win.Allocate and MPI.Win.Create windows.
    static let mpi4pyWindows = MPIProgram(name: "mpi4py_windows", calls: [.put, .get, .acc])
}

/// Where a program enters MPI differs by binding: Fortran's `mpif.h` / `use mpi` call the C
/// `MPI_X`, `use mpi_f08` calls `PMPI_X`, a PMPI tool preloaded beside the library defines
/// `MPI_X` itself, mpi4py 4.x calls the large-count `MPI_X_c`. Each must still be served.
@Suite("Every way into MPI reaches the layer", .serialized)
struct BindingTests {
    static let ranks = 3

    // MARK: Fortran

    @Test("Fortran without the library", arguments: MPIProgram.fortran)
    func fortranPlain(program: MPIProgram) throws {
        try runAndCheck(MPIJob(program: program, groups: [RankGroup(ranks: Self.ranks)]), stats: .absent)
    }

    @Test("Fortran served, one region", arguments: MPIProgram.fortran)
    func fortranServed(program: MPIProgram) throws {
        try runOnRegions(program, ranks: Self.ranks)
    }

    // MARK: A PMPI profiling tool beside the library

    @Test("PMPI tool without the library: its counts are the program's calls")
    func toolAlone() throws {
        let tool = try CompiledPrograms.sharedLibrary(named: "pmpi_counter")
        let output = try ToolOutput()
        let job = MPIJob(
            program: .pmpiCounted, groups: [RankGroup(ranks: Self.ranks)], companionPreload: (library: tool, first: true),
            environment: [output.variable])
        let result = try runAndCheck(job, stats: .absent)
        checkToolCounts(result, output, ranks: Self.ranks)
    }

    @Test("PMPI tool and the library in LD_PRELOAD: the tool sees every call, the job is served",
          arguments: [true, false])
    func toolBesideLibrary(toolFirst: Bool) throws {
        let library = try TestFixtures.requireLibrary()
        let tool = try CompiledPrograms.sharedLibrary(named: "pmpi_counter")
        let output = try ToolOutput()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: .pmpiCounted, groups: [RankGroup(ranks: Self.ranks, region: regions[0])], preload: library,
                companionPreload: (library: tool, first: toolFirst), environment: MPIJob.libraryEnvironment + [output.variable])
            let result = try runAndCheck(job, stats: .oneRegion)
            checkToolCounts(result, output, ranks: Self.ranks)
        }
    }

    /// What pmpi_counted.c calls on every rank (its header comment derives each number).
    static let pmpiCountedCalls = [
        "MPI_Init": 1, "MPI_Finalize": 1, "MPI_Put": 17, "MPI_Get": 3, "MPI_Accumulate": 5, "MPI_Win_fence": 9,
        "MPI_Win_lock": 10, "MPI_Win_unlock": 10, "MPI_Win_allocate": 1, "MPI_Win_free": 1, "MPI_Barrier": 11,
    ]

    /// Every rank printed one `pmpi_counter rank R: MPI_X=N ...` line with exactly the program's calls.
    /// A fresh directory the tool writes one file per rank into (PMPI_COUNTER_DIR).
    private struct ToolOutput {
        let directory = TestFixtures.scratchDirectory.appendingPathComponent("pmpi-counter-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) }
        var variable: (String, String) { ("PMPI_COUNTER_DIR", directory.path) }
        func lines(of rank: Int) -> [String] {
            let file = directory.appendingPathComponent("rank-\(rank).txt")
            return ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    private func checkToolCounts(_ result: JobResult, _ output: ToolOutput, ranks: Int,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        for rank in 0..<ranks {
            let prefix = "pmpi_counter rank \(rank):"
            let lines = output.lines(of: rank).filter { $0.hasPrefix(prefix) }
            guard lines.count == 1, let line = lines.first else {
                let problem = "rank \(rank): \(lines.count) \"\(prefix)\" lines, expected 1 (the tool's MPI_Finalize never ran?)"
                Issue.record("\(problem)\n\(result.report)", sourceLocation: sourceLocation)
                continue
            }
            var counts: [String: Int] = [:]
            for field in line.dropFirst(prefix.count).split(separator: " ") {
                let parts = field.split(separator: "=")
                if parts.count == 2, let count = Int(parts[1]) { counts[String(parts[0])] = count }
            }
            if counts != Self.pmpiCountedCalls {
                let wrong = Self.pmpiCountedCalls.keys.sorted().filter { counts[$0] != Self.pmpiCountedCalls[$0] }
                    .map { "\($0)=\(counts[$0].map(String.init) ?? "missing") (expected \(Self.pmpiCountedCalls[$0]!))" }
                Issue.record(
                    "rank \(rank): the tool counted \(wrong.joined(separator: ", ")) in: \(line)\n\(result.report)",
                    sourceLocation: sourceLocation)
            }
        }
    }

    // MARK: mpi4py

    @Test("mpi4py without the library", .enabled(if: Mpi4py.installation != nil, Mpi4py.missingComment))
    func mpi4pyPlain() throws {
        let mpi4py = try #require(Mpi4py.installation)
        let job = MPIJob(
            program: .mpi4pyWindows, groups: [RankGroup(ranks: Self.ranks)], interpreter: mpi4py.python,
            environment: mpi4py.environment)
        try runAndCheck(job, stats: .absent)
    }

    @Test("mpi4py windows served, one region", .enabled(if: Mpi4py.installation != nil, Mpi4py.missingComment))
    func mpi4pyServed() throws {
        let mpi4py = try #require(Mpi4py.installation)
        let library = try TestFixtures.requireLibrary()
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: .mpi4pyWindows, groups: [RankGroup(ranks: Self.ranks, region: regions[0])], preload: library,
                interpreter: mpi4py.python, environment: MPIJob.libraryEnvironment + mpi4py.environment)
            try runAndCheck(job, stats: .oneRegion)
        }
    }

    /// An independent conformance check: mpi4py's own unit tests of windows and one-sided calls,
    /// unmodified, every rank sharing one region. They also make windows the library hands to
    /// MPICH (on MPI_COMM_SELF, dynamic ones), hence `usesPassThroughWindows`.
    @Test("mpi4py's own test_rma, test_rma_nb and test_win pass served",
          .enabled(if: Mpi4py.installation?.testSuite != nil, Mpi4py.missingTestSuiteComment), arguments: [2, 3])
    func mpi4pyTestSuite(ranks: Int) throws {
        let mpi4py = try #require(Mpi4py.installation)
        let tests = try #require(mpi4py.testSuite)
        let library = try TestFixtures.requireLibrary()
        let program = MPIProgram(name: "mpi4py test suite", calls: [.put, .get, .acc], usesPassThroughWindows: true)
        try withRegionFiles(1) { regions in
            let job = MPIJob(
                program: program, groups: [RankGroup(ranks: ranks, region: regions[0])], preload: library,
                interpreter: mpi4py.python, environment: MPIJob.libraryEnvironment + mpi4py.environment,
                arguments: ["test_rma", "test_rma_nb", "test_win"], timeoutSeconds: 180)
            let result = try job.run(executable: tests)
            try requireNotHung(result, of: job)
            let okLines = Mpi4py.ranksReportingOK(result.stderr)
            #expect(result.exitStatus == 0 && okLines == ranks,
                    "exit status \(result.exitStatus), \(okLines) of \(ranks) ranks reported OK\n\(result.report)")
            let problems = statsProblems(result, program: program, ranks: ranks, expectation: .oneRegion)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))\n\(result.report)")
        }
    }
}

/// mpi4py as scripts/setup builds it from PyPI's sdist against the MPI on PATH: in
/// `.cache/mpi4py-mpich-<version>/`, `site/` holds the package and `python` names the
/// interpreter it was built for.
struct Mpi4py: Sendable {
    /// unittest ends each rank's report with "OK" (or "FAILED (...)") on stderr; another rank's
    /// progress dots may land before it on the same line.
    static func ranksReportingOK(_ stderr: String) -> Int {
        stderr.split(separator: "\n").map { $0.drop { $0 == "." } }.filter { $0 == "OK" || $0.hasPrefix("OK (") }.count
    }

    let python: URL
    let site: URL

    var environment: [(String, String)] { [("PYTHONPATH", site.path)] }

    static let cacheDirectory: URL? = {
        guard let version = mpichVersion() else { return nil }
        let repository = TestFixtures.programsDirectory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repository.appendingPathComponent(".cache/mpi4py-mpich-\(version)", isDirectory: true)
    }()

    static let installation: Mpi4py? = {
        guard let cacheDirectory,
            let recorded = try? String(contentsOf: cacheDirectory.appendingPathComponent("python"), encoding: .utf8)
        else { return nil }
        let python = URL(fileURLWithPath: recorded.trimmingCharacters(in: .whitespacesAndNewlines))
        let site = cacheDirectory.appendingPathComponent("site", isDirectory: true)
        guard FileManager.default.isExecutableFile(atPath: python.path),
            FileManager.default.fileExists(atPath: site.appendingPathComponent("mpi4py").path)
        else { return nil }
        return Mpi4py(python: python, site: site)
    }()

    /// The sdist's test runner, `tests/main.py` beside `site/`, when scripts/setup fetched it.
    var testSuite: URL? {
        let main = site.deletingLastPathComponent().appendingPathComponent("tests/main.py")
        return FileManager.default.fileExists(atPath: main.path) ? main : nil
    }

    static var missingTestSuiteComment: Comment {
        "SKIP: mpi4py or its test suite is not in \(cacheDirectory?.path ?? ".cache/mpi4py-mpich-<version>"): run scripts/setup"
    }

    static var missingComment: Comment {
        "SKIP: mpi4py is not built in \(cacheDirectory?.path ?? ".cache/mpi4py-mpich-<version> (mpichversion failed)"): run scripts/setup"
    }

    /// "4.0.2" from `mpichversion`'s "MPICH Version:" line.
    private static func mpichVersion() -> String? {
        guard let result = try? CompiledPrograms.runToCompletion(["mpichversion"]), result.status == 0 else { return nil }
        return result.output.split(separator: "\n").first { $0.hasPrefix("MPICH Version:") }
            .map { $0.dropFirst("MPICH Version:".count).trimmingCharacters(in: .whitespaces) }
    }
}
