import Foundation
import Testing

/// Where the harness finds what it runs: the preload library, the C programs, and a
/// scratch directory for compiled programs and job output.
enum TestFixtures {
    static let libraryName = "libivshmem_rma.so"
    static let libraryOverrideVariable = "IVSHMEM_RMA_LIBRARY"

    /// `Programs/` next to this file.
    static let programsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Programs", isDirectory: true)

    /// The build directory of the running test binary (`.build/<triple>/debug`), where
    /// `swift build` puts libivshmem_rma.so.
    static let buildDirectory: URL? = {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return nil
        }
        return URL(fileURLWithPath: executable).deletingLastPathComponent()
    }()

    /// libivshmem_rma.so from the build directory, else from $IVSHMEM_RMA_LIBRARY.
    static let library: URL? = {
        var candidates: [URL] = []
        if let buildDirectory { candidates.append(buildDirectory.appendingPathComponent(libraryName)) }
        if let override = ProcessInfo.processInfo.environment[libraryOverrideVariable], !override.isEmpty {
            candidates.append(URL(fileURLWithPath: override))
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }()

    static var libraryMissingMessage: Comment {
        let searched = buildDirectory?.appendingPathComponent(libraryName).path ?? "(build directory unknown)"
        return """
            \(libraryName) was not found at \(searched) and \(libraryOverrideVariable) is unset or names no file: \
            run `swift build` (scripts/test does) before `swift test`.
            """
    }

    /// The library every preloaded job uses; fails the calling test when it is not built.
    static func requireLibrary(sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        try #require(library, libraryMissingMessage, sourceLocation: sourceLocation)
    }

    /// One scratch directory per test process, removed when it exits.
    static let scratchDirectory: URL = {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ivshmem-rma-it-\(ProcessInfo.processInfo.processIdentifier)", isDirectory: true)
        try? FileManager.default.removeItem(at: directory)
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        scratchPathForCleanup = strdup(directory.path)
        atexit {
            if let path = scratchPathForCleanup { _ = try? FileManager.default.removeItem(atPath: String(cString: path)) }
        }
        return directory
    }()
}

/// Read by the atexit handler, which cannot capture context; written once, before use.
nonisolated(unsafe) private var scratchPathForCleanup: UnsafeMutablePointer<CChar>?

/// The C programs (`<mpicc> -O2 -Wall`, once per compiler wrapper: one per MPI of the matrix) and
/// the Fortran ones (`mpifort`, compiled apart so a missing Fortran compiler fails only the Fortran
/// tests), each built once per test process.
enum CompiledPrograms {
    struct CompileFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Output directory (or failure) per compiler wrapper, filled on first use.
    private static let compiled = CompiledDirectories()
    private static let compiledFortran = compileAll(suffix: ".f90", compiler: ["mpifort", "-O2", "-Wall"],
                                                    into: "programs-fortran")

    /// The executable of `program` built by `compiler` (`mpifort` for a Fortran program); throws
    /// (failing the test) when compilation failed.
    static func executable(for program: MPIProgram, compiler: String = "mpicc") throws -> URL {
        let fortranSource = TestFixtures.programsDirectory.appendingPathComponent(program.name + ".f90")
        if FileManager.default.fileExists(atPath: fortranSource.path) {
            return try compiledFortran.get().appendingPathComponent(program.name)
        }
        return try compiled.directory(for: compiler).get().appendingPathComponent(program.name)
    }

    private final class CompiledDirectories: @unchecked Sendable {
        private let lock = NSLock()
        private var directories: [String: Result<URL, CompileFailure>] = [:]
        func directory(for compiler: String) -> Result<URL, CompileFailure> {
            lock.lock()
            defer { lock.unlock() }
            if let known = directories[compiler] { return known }
            let result = compileAll(suffix: ".c", compiler: [compiler, "-O2", "-Wall"], into: "programs-\(directories.count)")
            directories[compiler] = result
            return result
        }
    }

    /// `Programs/tools/<name>.c` built as `lib<name>.so` (`mpicc -shared -fPIC`), once per test process.
    static func sharedLibrary(named name: String) throws -> URL {
        try builtTools.get().appendingPathComponent("lib\(name).so")
    }

    private static let builtTools: Result<URL, CompileFailure> = {
        let output = TestFixtures.scratchDirectory.appendingPathComponent("tools", isDirectory: true)
        let tools = TestFixtures.programsDirectory.appendingPathComponent("tools", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
            for source in try FileManager.default.contentsOfDirectory(atPath: tools.path) where source.hasSuffix(".c") {
                let library = output.appendingPathComponent("lib\(source.dropLast(2)).so")
                let arguments = [
                    "mpicc", "-O2", "-Wall", "-shared", "-fPIC", "-o", library.path,
                    tools.appendingPathComponent(source).path,
                ]
                let result = try runToCompletion(arguments)
                guard result.status == 0 else {
                    return .failure(CompileFailure(description: "\(arguments.joined(separator: " ")) failed:\n\(result.output)"))
                }
            }
            return .success(output)
        } catch {
            return .failure(CompileFailure(description: "building the tools in \(tools.path) failed: \(error)"))
        }
    }()

    private static func compileAll(suffix: String, compiler: [String], into name: String) -> Result<URL, CompileFailure> {
        let output = TestFixtures.scratchDirectory.appendingPathComponent(name, isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
            let sources = try FileManager.default.contentsOfDirectory(atPath: TestFixtures.programsDirectory.path)
                .filter { $0.hasSuffix(suffix) }.sorted()
            guard !sources.isEmpty else {
                return .failure(
                    CompileFailure(description: "no \(suffix) programs in \(TestFixtures.programsDirectory.path)"))
            }
            for source in sources {
                let name = String(source.dropLast(suffix.count))
                let arguments = compiler + [
                    "-o", output.appendingPathComponent(name).path,
                    TestFixtures.programsDirectory.appendingPathComponent(source).path,
                ]
                let result = try runToCompletion(arguments)
                guard result.status == 0 else {
                    return .failure(CompileFailure(description: "\(arguments.joined(separator: " ")) failed:\n\(result.output)"))
                }
            }
            return .success(output)
        } catch {
            return .failure(CompileFailure(description: "compiling the MPI programs failed: \(error)"))
        }
    }

    /// Runs a short command (found on PATH), returning its exit status and merged output.
    static func runToCompletion(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// A fresh region file name under /dev/shm; the file itself is created by the library
/// (or by the test, for prepared contents) and removed by `remove()`.
struct RegionFile: Sendable {
    let path: String

    private static let counter = Counter()

    init() {
        path = "/dev/shm/ivshmem-rma-it-\(ProcessInfo.processInfo.processIdentifier)-\(Self.counter.next())"
        try? FileManager.default.removeItem(atPath: path)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func contents() -> Data? {
        FileManager.default.contents(atPath: path)
    }

    func write(_ bytes: Data) throws {
        try bytes.write(to: URL(fileURLWithPath: path))
    }

    /// A sparse file of zeros, as a fresh ivshmem BAR2 looks to a guest.
    func createZeroFilled(bytes: UInt64) throws {
        try write(Data())
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? file.close() }
        try file.truncate(atOffset: bytes)
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }
}

/// Runs `body` with `count` fresh region files, removing them afterwards.
func withRegionFiles<T>(_ count: Int, _ body: ([RegionFile]) throws -> T) rethrows -> T {
    let regions = (0..<count).map { _ in RegionFile() }
    defer { regions.forEach { $0.remove() } }
    return try body(regions)
}
