// Shared by RegionTests and ToolTests (Tests/ToolTests/LiveProcess.swift is a symlink to this
// file): processes that stay alive until killed, such as a SyncProbe holding a job slot.
import Foundation
@testable import Region
import Testing

/// A process that stays alive until `kill()`: a SyncProbe claiming a job slot and a block, or any
/// other command.
final class LiveProcess {
    let process = Process()
    private let output = Pipe()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        try process.run()
    }

    /// A SyncProbe that claimed a slot for `job` and allocated `bytes`; nil (with an issue) when it failed.
    static func claimingProbe(_ region: String, job: UInt64, bytes: Int = 8192) throws -> (LiveProcess, slot: Int, block: Region.Block)? {
        let probe = try LiveProcess(SyncProbe.executable, ["claim", region, String(job), String(bytes)])
        let words = probe.firstLine().split(separator: " ")
        guard words.count == 5, let slot = Int(words[1]), let offset = Int(words[3]), let size = Int(words[4]) else {
            Issue.record("SyncProbe claim printed \(words)")
            probe.kill()
            return nil
        }
        return (probe, slot, Region.Block(offset: offset, size: size))
    }

    var identity: ProcessIdentity { ProcessIdentity.of(pid: process.processIdentifier) }

    func firstLine() -> String {
        var bytes = Data()
        while !bytes.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            bytes += chunk
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// SIGKILL, then reaped: its pid no longer exists.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
