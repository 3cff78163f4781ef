// Test fixture for Tests/ServerTests/DoorbellWaitTests: one process on an ivshmem server's
// memory with SharedSync's doorbell installed (the doorbell is process-wide, so each scenario
// gets a process of its own). Words used in the memory: the sleepers area at 1024 (as in a
// region), the word waited on at 4096.
//
//   DoorbellProbe wait SOCKET      waits (spinning briefly, then sleeping up to 10 s at a time)
//                                  until the word is 1; prints
//                                  "woken seconds=S cpu=C sleeps=N rung=R"
//   DoorbellProbe release SOCKET   once a peer is asleep, waits 0.5 s, stores 1; prints "rings=N"
//   DoorbellProbe quiet SOCKET     1000 stores, an add and a lock release with nobody asleep; prints "rings=N"
import Glibc
import IvshmemServer
import SharedSync

/// Forwards to the client's doorbell and counts what the waits and wakes did with it.
final class CountingDoorbell: DoorbellPort, @unchecked Sendable {
    let client: IvshmemClient
    var sleeps = 0, rung = 0, rings = 0

    init(_ client: IvshmemClient) { self.client = client }

    var peerID: Int { client.peerID }
    var canSleep: Bool { true }

    func sleep(seconds: Double) -> Bool {
        sleeps += 1
        let wasRung = client.sleep(seconds: seconds)
        if wasRung { rung += 1 }
        return wasRung
    }

    func ring(peer: Int) -> Bool {
        rings += 1
        return client.ring(peer: peer)
    }
}

func fail(_ message: String) -> Never {
    var line = "DoorbellProbe: \(message)\n"
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(1)
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else { fail("usage: DoorbellProbe wait|release|quiet SOCKET") }
let client: IvshmemClient
do { client = try IvshmemClient(socketPath: arguments[2]) } catch { fail("\(error)") }
var status = stat()
guard fstat(client.memoryDescriptor, &status) == 0, status.st_size >= 8192,
      let base = mmap(nil, Int(status.st_size), PROT_READ | PROT_WRITE, MAP_SHARED, client.memoryDescriptor, 0),
      base != MAP_FAILED else { fail("cannot map the server's memory") }
let port = CountingDoorbell(client)
Doorbell.install(area: base + 1024, port: port)
let sleepers = SharedWord(at: base + 1024), word = SharedWord(at: base + 4096)

switch arguments[1] {
case "wait":
    let start = monotonicSeconds(), cpu = cpuSeconds()
    // One long sleep (not 10 ms slices): only the ring can end it before 10 s.
    let policy = WaitPolicy(spinProbes: 100, timeoutSeconds: 20, doorbellSliceSeconds: 10)
    guard word.wait(atLeast: 1, policy) else { fail("not released within 20 s") }
    print("woken seconds=\(monotonicSeconds() - start) cpu=\(cpuSeconds() - cpu) sleeps=\(port.sleeps) rung=\(port.rung)")
case "release":
    guard waitUntil(WaitPolicy(timeoutSeconds: 20), { sleepers.load() > 0 }) else { fail("nobody fell asleep within 20 s") }
    var pause = timespec(tv_sec: 0, tv_nsec: 500_000_000)
    nanosleep(&pause, nil)
    word.store(1)
    print("rings=\(port.rings)")
case "quiet":
    for value in 1...1000 { word.store(UInt64(value)) }
    word.add(1)
    SharedSpinLock(at: base + 4096).unlock()
    print("rings=\(port.rings)")
default:
    fail("unknown scenario \(arguments[1])")
}
