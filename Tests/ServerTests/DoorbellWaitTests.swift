import Foundation
import Testing

/// SharedSync's doorbell-driven waits between processes on one server (the DoorbellProbe
/// fixture: the doorbell is process-wide, so each scenario runs in a process of its own).
@Suite(.serialized) struct DoorbellWaitTests {
    /// `key=value` fields of a probe's output line.
    struct ProbeOutput {
        let fields: [String: Double]

        init(_ line: String) {
            var fields: [String: Double] = [:]
            for field in line.split(whereSeparator: \.isWhitespace) {
                let parts = field.split(separator: "=")
                if parts.count == 2, let value = Double(parts[1]) { fields[String(parts[0])] = value }
            }
            self.fields = fields
        }

        subscript(_ key: String) -> Double { fields[key] ?? -1 }
    }

    /// Starts DoorbellProbe (built next to the test binary) on `socket`.
    func start(_ scenario: String, _ socket: String) throws -> (Process, Pipe) {
        let testBinary = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let probe = URL(fileURLWithPath: testBinary).deletingLastPathComponent().appendingPathComponent("DoorbellProbe")
        try #require(FileManager.default.isExecutableFile(atPath: probe.path), "no DoorbellProbe at \(probe.path): swift build builds it")
        let process = Process(), output = Pipe()
        process.executableURL = probe
        process.arguments = [scenario, socket]
        process.standardOutput = output
        try process.run()
        return (process, output)
    }

    /// Waits (up to 30 s) for the probe and returns its output line.
    func finish(_ probe: (Process, Pipe)) throws -> ProbeOutput {
        let (process, output) = probe
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "DoorbellProbe \(process.arguments ?? []): \(text)")
        return ProbeOutput(text)
    }

    @Test func aLongWaitSleepsUntilAnotherProcessStoreRingsIt() throws {
        let running = try RunningServer()
        defer { running.stop() }
        let waiter = try start("wait", running.socketPath)
        let releaser = try start("release", running.socketPath)
        let woken = try finish(waiter), released = try finish(releaser)
        #expect(released["rings"] == 1, "the releasing store rang the one sleeper once")
        // The waiter sleeps up to 10 s at a time: only the ring ends its sleep after 0.5 s.
        #expect(woken["rung"] == 1 && woken["sleeps"] == 1, "one sleep, ended by the ring: \(woken.fields)")
        #expect(woken["seconds"] >= 0.45 && woken["seconds"] < 5, "released 0.5 s after it fell asleep: \(woken.fields)")
        #expect(woken["cpu"] < 0.1, "the waiting process used \(woken["cpu"]) s of CPU")
    }

    @Test func storesWithNobodyAsleepRingNobody() throws {
        let running = try RunningServer()
        defer { running.stop() }
        #expect(try finish(start("quiet", running.socketPath))["rings"] == 0)
    }
}
