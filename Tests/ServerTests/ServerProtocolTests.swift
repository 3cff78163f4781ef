import Foundation
import Glibc
@testable import IvshmemServer
import Testing

/// The server's side of QEMU's protocol, seen by clients: IDs, one memory, eventfds per vector,
/// joins and departures, rings.
@Suite(.serialized) struct ServerProtocolTests {
    @Test func clientsGetIncreasingIDsAndEveryPeersVectors() throws {
        let running = try RunningServer(vectors: 3)
        defer { running.stop() }
        let first = try IvshmemClient(socketPath: running.socketPath)
        let second = try IvshmemClient(socketPath: running.socketPath)
        let third = try IvshmemClient(socketPath: running.socketPath)
        #expect([first.peerID, second.peerID, third.peerID] == [Int]([0, 1, 2]))
        #expect(eventually { first.ownVectorCount == 3 && third.ownVectorCount == 3 })
        #expect(third.peers == [0: 3, 1: 3], "the handshake lists every existing peer with its 3 vectors")
        #expect(eventually { first.peers == [1: 3, 2: 3] }, "joins are announced to earlier peers")
        #expect(first.takeEvents() == [.joined(1), .joined(2)])
        #expect(eventually { running.server.peerIDs == [0, 1, 2] })
    }

    @Test func everyClientMapsTheSameMemory() throws {
        let running = try RunningServer(size: 3 << 20)
        defer { running.stop() }
        let first = try IvshmemClient(socketPath: running.socketPath)
        let second = try IvshmemClient(socketPath: running.socketPath)
        #expect(running.server.memorySize == 4 << 20, "3 MiB rounds up to a power of two, a PCI BAR size")
        let mine = try MappedMemory(first), theirs = try MappedMemory(second)
        defer { mine.unmap(); theirs.unmap() }
        #expect(mine.size == 4 << 20 && theirs.size == 4 << 20)
        let message = Array("written by peer 0".utf8)
        (mine.base + 12345).copyMemory(from: message, byteCount: message.count)
        #expect(Array(UnsafeRawBufferPointer(start: theirs.base + 12345, count: message.count)) == message)
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: running.memoryPath))
        #expect(Array(onDisk[12345..<(12345 + message.count)]) == message, "the memory is the file")
    }

    @Test func ringingAPeerCountsOnItsEventfd() throws {
        let running = try RunningServer(vectors: 2)
        defer { running.stop() }
        let ringer = try IvshmemClient(socketPath: running.socketPath)
        let rung = try IvshmemClient(socketPath: running.socketPath)
        #expect(eventually { rung.ownVectorCount == 2 })
        #expect(rung.consumeRings(vector: 0) == 0)
        #expect(ringer.ring(peer: rung.peerID, vector: 0))
        #expect(ringer.ring(peer: rung.peerID, vector: 0))
        #expect(ringer.ring(peer: rung.peerID, vector: 1))
        #expect(rung.consumeRings(vector: 0) == 2, "two rings on vector 0")
        #expect(rung.consumeRings(vector: 1) == 1)
        #expect(rung.consumeRings(vector: 0) == 0, "reading the eventfd cleared it")
        #expect(!ringer.ring(peer: rung.peerID, vector: 2), "there is no vector 2")
        #expect(!ringer.ring(peer: 77, vector: 0), "there is no peer 77")
    }

    @Test func aSleeperWakesWhenRungAndNotBefore() throws {
        let running = try RunningServer()
        defer { running.stop() }
        let sleeper = try IvshmemClient(socketPath: running.socketPath)
        let ringer = try IvshmemClient(socketPath: running.socketPath)
        var start = Date()
        #expect(!sleeper.sleep(seconds: 0.2), "not rung")
        #expect(Date().timeIntervalSince(start) >= 0.19, "nobody rang: the sleep lasts its time")

        let peer = sleeper.peerID
        Thread {
            usleep(200_000)
            ringer.ring(peer: peer)
        }.start()
        start = Date()
        let rung = sleeper.sleep(seconds: 20)
        let slept = Date().timeIntervalSince(start)
        #expect(rung)
        #expect(slept >= 0.15 && slept < 10, "woke on the ring after \(slept) s")
    }

    @Test func aDepartureIsAnnouncedAndItsIDIsNotReusedAtOnce() throws {
        let running = try RunningServer()
        defer { running.stop() }
        let stayer = try IvshmemClient(socketPath: running.socketPath)
        var leaver: IvshmemClient? = try IvshmemClient(socketPath: running.socketPath)
        #expect(stayer.takeEvents(waitingUpTo: 5) == [.joined(1)])
        leaver = nil  // closes its socket
        #expect(stayer.takeEvents(waitingUpTo: 5) == [.left(1)])
        #expect(stayer.peers.isEmpty)
        #expect(!stayer.ring(peer: 1), "a departed peer cannot be rung")
        #expect(eventually { running.server.peerIDs == [0] })
        let newcomer = try IvshmemClient(socketPath: running.socketPath)
        #expect(newcomer.peerID == 2, "IDs go on from the last one given, as in QEMU's server")
        _ = leaver
    }

    @Test func aStoppedServerIsSeenAsGone() throws {
        let running = try RunningServer()
        let client = try IvshmemClient(socketPath: running.socketPath)
        running.stop()
        #expect(eventually { client.serverGone })
        #expect(throws: ServerError.self) { try IvshmemClient(socketPath: running.socketPath, timeoutSeconds: 1) }
        let cpuBefore = threadCPUSeconds(), start = Date()
        #expect(!client.sleep(seconds: 0.3))
        #expect(Date().timeIntervalSince(start) >= 0.29, "the sleep still lasts its time")
        #expect(threadCPUSeconds() - cpuBefore < 0.1, "without spinning on the closed socket")
    }

    @Test func aStaleSocketFileIsReplacedAndALiveOneRefused() throws {
        let running = try RunningServer()
        defer { running.stop() }
        let options = ServerOptions(socketPath: running.socketPath, memory: .path(running.memoryPath), size: 1 << 20)
        #expect(throws: ServerError.self, "a second server on a live socket") { try IvshmemServer(options) }

        let staleDirectory = running.directory + "/stale"
        try FileManager.default.createDirectory(atPath: staleDirectory, withIntermediateDirectories: true)
        // What a server that died leaves: a socket file nobody listens on.
        let stale = staleDirectory + "/socket"
        close(try listenUnix(stale))
        let replacement = try IvshmemServer(ServerOptions(socketPath: stale, memory: .path(running.memoryPath), size: 1 << 20))
        #expect(replacement.memorySize == 1 << 20, "the new server listens where the dead one did")
    }

    @Test func anExistingFileKeepsItsSize() throws {
        let running = try RunningServer(size: 2 << 20)
        defer { running.stop() }
        let other = ServerOptions(socketPath: running.directory + "/other", memory: .path(running.memoryPath), size: 64 << 20)
        #expect(try IvshmemServer(other).memorySize == 2 << 20, "a formatted region must not change size under its users")
    }

    @Test func aDirectoryGetsAnUnnamedFileAsQEMUsServerDoes() throws {
        let running = try RunningServer()
        defer { running.stop() }
        let directory = running.directory + "/hugepages"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let server = try IvshmemServer(ServerOptions(socketPath: running.directory + "/in-dir", memory: .path(directory), size: 1 << 20))
        #expect(server.memorySize == 1 << 20)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "the file is unlinked at once")
    }
}
