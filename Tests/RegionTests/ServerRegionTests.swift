import Foundation
import IvshmemServer
@testable import Region
import SharedSync
import Testing

/// A region handed out by an ivshmem server (IVSHMEM_RMA_SERVER): located, mapped from the fd,
/// formatted like a file, and with the server connection as this process's doorbell.
@Suite struct ServerRegionTests {
    @Test func theServerSocketTakesPrecedenceOverTheRegionPath() {
        let environment = ["IVSHMEM_RMA_SERVER": "/run/ivshmem.sock", "IVSHMEM_RMA_REGION": "/dev/shm/ivshmem"]
        #expect(RegionLocator.locate(environment: environment) == RegionSource(path: "/run/ivshmem.sock", kind: .server))
        #expect(RegionLocator.locate(environment: ["IVSHMEM_RMA_SERVER": "", "IVSHMEM_RMA_REGION": "/dev/shm/ivshmem"])
                == RegionSource(path: "/dev/shm/ivshmem", kind: .file))
    }

    @Test func aRegionFromTheServerIsTheServersFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try IvshmemServer(ServerOptions(socketPath: directory.file("socket"), memory: .path(directory.file("region")),
                                                     size: 1 << 20))
        let stop = server.runInBackground()
        defer { stop() }
        let source = RegionSource(path: directory.file("socket"), kind: .server)
        let first = try Region.attach(RegionMapping(source: source, createSize: 0), wait: patient)
        let second = try Region.attach(RegionMapping(source: source, createSize: 0), wait: patient)
        #expect(first.didFormat && !second.didFormat, "the first peer formats, the second finds it formatted")
        #expect(first.identity == second.identity && first.size == 1 << 20)
        #expect(first.mapping.doorbell?.peerID == 0 && second.mapping.doorbell?.peerID == 1)
        #expect(first.mapping.doorbell?.canSleep == true)
        let onDisk = try attachRegion(directory.file("region"))
        #expect(onDisk.identity == first.identity, "the region is the server's file")

        first.doorbellArea.storeBytes(of: 0x5a, as: UInt8.self)
        #expect(second.doorbellArea.load(as: UInt8.self) == 0x5a, "both see one sleepers area")
        #expect(fileBytes(directory.file("region"))[Region.doorbellAreaOffset] == 0x5a, "at header byte 1024")
    }

    @Test func noServerListeningIsAnError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        expectRegionError("cannot connect to the ivshmem server") {
            _ = try RegionMapping(source: RegionSource(path: directory.file("nobody"), kind: .server), createSize: 0)
        }
    }
}
