// Shared by SharedSyncTests and RegionTests (Tests/RegionTests/ProbeSupport.swift is a symlink to
// this file): temporary directories, and running the SyncProbe fixture as real processes.
import Foundation
import Testing

/// A fresh directory under /tmp; call `remove()` (in a defer) when done.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array(FileManager.default.temporaryDirectory.appendingPathComponent("ivshmem-rma-tests.XXXXXX").path.utf8CString)
        guard let created = mkdtemp(&template) else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        path = String(cString: created)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Creates (or replaces) `path` holding `size` zero bytes.
func createZeroFile(_ path: String, size: Int) {
    #expect(FileManager.default.createFile(atPath: path, contents: Data(count: size)), "cannot create \(path)")
}

func fileBytes(_ path: String) -> [UInt8] {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
}

/// One finished run of the SyncProbe fixture.
struct ProbeRun: CustomStringConvertible {
    var arguments: [String]
    /// The exit code, or nil when a signal ended the process.
    var exitCode: Int32?
    var timedOut: Bool
    var output: String
    var errors: String

    var succeeded: Bool { exitCode == 0 && !timedOut }
    var lines: [Substring] { output.split(separator: "\n") }

    var description: String {
        let ending = timedOut ? "timed out after \(SyncProbe.timeoutSeconds) s and was killed"
            : exitCode.map { "exited with \($0)" } ?? "was killed by a signal"
        return "SyncProbe \(arguments.joined(separator: " ")) \(ending)" + (errors.isEmpty ? "" : ": \(errors)")
    }
}

/// Runs the SyncProbe fixture, which the build puts next to the test binary.
enum SyncProbe {
    static let timeoutSeconds = 60.0
    /// Lets every probe of a batch finish starting up before they all begin together.
    static let startDelaySeconds = 0.5

    static var executable: String {
        let testBinary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return (testBinary as NSString).deletingLastPathComponent + "/SyncProbe"
    }

    /// Starts one probe per argument list, all told to begin at the same instant, waits for all of
    /// them (killing any still running after `timeoutSeconds`), and records an issue for every run
    /// that did not succeed. Output files go to `directory`.
    @discardableResult
    static func run(_ argumentLists: [[String]], in directory: TemporaryDirectory,
                    sourceLocation: SourceLocation = #_sourceLocation) -> [ProbeRun] {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            Issue.record("no SyncProbe at \(executable): build it with `swift build --product SyncProbe`",
                         sourceLocation: sourceLocation)
            return []
        }
        let start = String(Date().timeIntervalSince1970 + startDelaySeconds)
        let batch = UUID().uuidString
        let outputs = argumentLists.indices.map { directory.file("probe-\(batch)-\($0)") }
        let pids = zip(argumentLists, outputs).map { spawn(["--start-at", start] + $0, output: $1) }
        let statuses = waitForAll(pids)
        let runs = argumentLists.indices.map { index in
            ProbeRun(arguments: argumentLists[index], exitCode: statuses[index].flatMap(exitCode),
                     timedOut: pids[index] != nil && statuses[index] == nil,
                     output: String(decoding: fileBytes(outputs[index] + ".out"), as: UTF8.self),
                     errors: pids[index] == nil ? "could not be started"
                         : String(decoding: fileBytes(outputs[index] + ".err"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        for run in runs where !run.succeeded {
            Issue.record(Comment(rawValue: run.description), sourceLocation: sourceLocation)
        }
        return runs
    }

    /// Starts the probe with stdout and stderr in `output`.out and `output`.err.
    private static func spawn(_ arguments: [String], output: String) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, output + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        return posix_spawn(&pid, executable, &actions, nil, argv, environ) == 0 ? pid : nil
    }

    /// The raw wait statuses; nil for a process not started, or killed at the deadline.
    private static func waitForAll(_ pids: [pid_t?]) -> [Int32?] {
        var statuses = [Int32?](repeating: nil, count: pids.count)
        var running = Set(pids.indices.filter { pids[$0] != nil })
        let deadline = Date() + timeoutSeconds
        while !running.isEmpty && Date() < deadline {
            for index in running {
                var status: Int32 = 0
                if waitpid(pids[index]!, &status, WNOHANG) == pids[index]! {
                    statuses[index] = status
                    running.remove(index)
                }
            }
            usleep(5_000)
        }
        for index in running {
            kill(pids[index]!, SIGKILL)
            var status: Int32 = 0
            waitpid(pids[index]!, &status, 0)
        }
        return statuses
    }

    /// The exit code in a wait status, nil when a signal ended the process.
    private static func exitCode(_ status: Int32) -> Int32? {
        status & 0x7f == 0 ? (status >> 8) & 0xff : nil
    }
}
