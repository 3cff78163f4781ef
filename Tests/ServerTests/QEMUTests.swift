import Foundation
import Glibc
@testable import IvshmemServer
import Testing

/// Debian's qemu-system-x86_64, if installed (scripts/setup installs it).
let qemuBinary = ["/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// A line-oriented text connection (QMP and qtest both speak lines).
final class LineChannel {
    let descriptor: Int32
    private var buffered: [UInt8] = []

    init(_ descriptor: Int32) { self.descriptor = descriptor }
    deinit { close(descriptor) }

    func send(_ text: String) {
        var bytes = Array((text + "\n").utf8)
        #expect(write(descriptor, &bytes, bytes.count) == bytes.count)
    }

    func line() throws -> String {
        while true {
            if let newline = buffered.firstIndex(of: 10) {
                defer { buffered.removeSubrange(...newline) }
                return String(decoding: buffered[..<newline], as: UTF8.self)
            }
            try #require(waitReadable(descriptor, timeoutMilliseconds: 30_000), "QEMU answered within 30 s")
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = read(descriptor, &chunk, chunk.count)
            try #require(count > 0, "QEMU closed the connection")
            buffered += chunk[..<count]
        }
    }
}

/// A real QEMU, paused before the guest's first instruction (`-S`, no guest needed), with an
/// ivshmem-doorbell device on the server's socket. QMP answers questions about the device;
/// qtest (QEMU's test protocol) reads and writes guest-physical memory and I/O ports, standing
/// in for a guest driver: it maps BAR0 (registers) and BAR2 (the shared memory).
final class PausedQEMU {
    static let registersAddress: UInt64 = 0xfe00_0000
    static let msixAddress: UInt64 = 0xfe00_1000
    static let memoryAddress: UInt64 = 0xe000_0000
    /// CONFIG_ADDRESS of bus 0, device 1, function 0.
    static let configAddress: UInt32 = 0x8000_0000 | 1 << 11

    let process = Process()
    let qmp: LineChannel
    let qtest: LineChannel

    init(binary: String, serverSocket: String, device: String, directory: String) throws {
        let qtestListener = try listenUnix(directory + "/qtest")
        defer { close(qtestListener) }
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-S", "-display", "none", "-nodefaults", "-M", "q35", "-accel", "tcg",
                             "-chardev", "socket,path=\(serverSocket),id=ivsh", "-device", "\(device),chardev=ivsh",
                             "-qmp", "unix:\(directory)/qmp,server=on,wait=off", "-qtest", "unix:\(directory)/qtest"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try #require(waitReadable(qtestListener, timeoutMilliseconds: 30_000), "QEMU connected its qtest socket")
        qtest = LineChannel(accept(qtestListener, nil, nil))
        qmp = LineChannel(try connectUnix(directory + "/qmp"))
        _ = try qmp.line()  // the greeting
        _ = try execute("qmp_capabilities")
    }

    deinit {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// Sends one QMP command and returns its "return" value (events are skipped).
    func execute(_ command: String) throws -> Any? {
        qmp.send("{\"execute\": \"\(command)\"}")
        while true {
            let reply = try #require(try JSONSerialization.jsonObject(with: Data(qmp.line().utf8)) as? [String: Any])
            if reply["event"] != nil { continue }
            #expect(reply["error"] == nil, "QMP \(command): \(reply)")
            return reply["return"]
        }
    }

    /// The ivshmem devices in `query-pci`, each with its BAR sizes.
    func ivshmemDevices() throws -> [(device: Int, barSizes: [Int: Int])] {
        let buses = try #require(try execute("query-pci") as? [[String: Any]])
        return buses.flatMap { ($0["devices"] as? [[String: Any]]) ?? [] }.compactMap { device in
            guard let id = device["id"] as? [String: Any], id["vendor"] as? Int == 0x1af4,
                  let product = id["device"] as? Int, let regions = device["regions"] as? [[String: Any]] else { return nil }
            var sizes: [Int: Int] = [:]
            for region in regions { if let bar = region["bar"] as? Int { sizes[bar] = region["size"] as? Int } }
            return (product, sizes)
        }
    }

    /// One qtest command; the value of its "OK" answer, if any (interrupt notices are skipped).
    @discardableResult
    func test(_ command: String) throws -> UInt64? {
        qtest.send(command)
        while true {
            let answer = try qtest.line()
            if answer.hasPrefix("IRQ") { continue }
            try #require(answer.hasPrefix("OK"), "qtest \(command): \(answer)")
            return answer.split(separator: " ").dropFirst().first.flatMap { UInt64($0.dropFirst(2), radix: 16) }
        }
    }

    /// What a guest's firmware and driver do: places BAR0 (registers), BAR1 (MSI-X table) and
    /// BAR2 (memory) of the device at 00:01.0, enables memory decoding, and enables MSI-X with
    /// every vector still masked, so a ring QEMU receives shows as a pending bit.
    func mapBARsAndEnableMSIX() throws {
        try configure(0x10, Self.registersAddress)
        try configure(0x14, Self.msixAddress)
        try configure(0x18, Self.memoryAddress & 0xffff_ffff)
        try configure(0x1c, Self.memoryAddress >> 32)
        try configure(0x04, 0x2, "w")
        var capability = try configuration(0x34) & 0xfc
        while capability != 0, try configuration(UInt32(capability)) & 0xff != 0x11 {
            capability = (try configuration(UInt32(capability)) >> 8) & 0xfc
        }
        try #require(capability != 0, "the device has an MSI-X capability")
        pendingBitsOffset = try configuration(UInt32(capability) + 8) & ~0x7
        try configure(UInt32(capability) + 2, 0x8000, "w")  // Message Control: MSI-X Enable
    }

    /// The MSI-X pending bits of vectors 0-31.
    func pendingVectors() throws -> UInt64 {
        try #require(try test("readl 0x\(String(Self.msixAddress + pendingBitsOffset, radix: 16))"))
    }

    private var pendingBitsOffset: UInt64 = 0

    private func configure(_ register: UInt32, _ value: UInt64, _ width: String = "l") throws {
        try test("outl 0xcf8 0x\(String(Self.configAddress | register & ~3, radix: 16))")
        try test("out\(width) 0x\(String(0xcfc + register % 4, radix: 16)) 0x\(String(value, radix: 16))")
    }

    private func configuration(_ register: UInt32) throws -> UInt64 {
        try test("outl 0xcf8 0x\(String(Self.configAddress | register & ~3, radix: 16))")
        return try #require(try test("inl 0xcfc")) >> (8 * UInt64(register % 4))
    }

    func register(_ offset: UInt64) throws -> UInt64 { try #require(try test("readl 0x\(String(Self.registersAddress + offset, radix: 16))")) }
    func setRegister(_ offset: UInt64, _ value: UInt64) throws { try test("writel 0x\(String(Self.registersAddress + offset, radix: 16)) 0x\(String(value, radix: 16))") }
    func memoryWord(_ offset: UInt64) throws -> UInt64 { try #require(try test("readq 0x\(String(Self.memoryAddress + offset, radix: 16))")) }
    func setMemoryWord(_ offset: UInt64, _ value: UInt64) throws { try test("writeq 0x\(String(Self.memoryAddress + offset, radix: 16)) 0x\(String(value, radix: 16))") }

    func quit() throws {
        _ = try execute("quit")
        process.waitUntilExit()
    }
}

/// The server against Debian's QEMU 7.2: QEMU's ivshmem-doorbell accepts the handshake, maps
/// the memory it was handed as BAR2, joins as a peer that host clients ring (seen as MSI-X
/// pending bits) and that rings them through its Doorbell register, and its departure is announced.
@Suite(.serialized, .enabled(if: qemuBinary != nil, "qemu-system-x86_64 is not installed (apt-get install -y qemu-system-x86)"))
struct QEMUTests {
    enum Register {
        static let ivPosition: UInt64 = 8
        static let doorbell: UInt64 = 12
    }

    @Test func qemuJoinsSharesTheMemoryAndRingsAndIsRung() throws {
        let running = try RunningServer(vectors: 2, size: 4 << 20)
        defer { running.stop() }
        let host = try IvshmemClient(socketPath: running.socketPath)
        let qemu = try PausedQEMU(binary: try #require(qemuBinary), serverSocket: running.socketPath,
                                  device: "ivshmem-doorbell,vectors=2", directory: running.directory)

        let devices = try qemu.ivshmemDevices()
        try #require(devices.count == 1, "one ivshmem device in query-pci: \(devices)")
        #expect(devices[0].device == 0x1110)
        #expect(devices[0].barSizes[2] == 4 << 20, "BAR2 is the server's memory: \(devices[0].barSizes)")
        #expect(devices[0].barSizes[1] != nil, "BAR1 (MSI-X) exists: the doorbell device, not ivshmem-plain")

        #expect(host.takeEvents(waitingUpTo: 10) == [.joined(1)], "QEMU joined as peer 1")
        #expect(host.peers == [1: 2], "with its 2 vectors")
        #expect(running.server.peerIDs == [0, 1])

        try qemu.mapBARsAndEnableMSIX()
        #expect(try qemu.register(Register.ivPosition) == 1, "the guest sees its peer ID in IVPosition")
        let memory = try MappedMemory(host)
        defer { memory.unmap() }
        memory.base.storeBytes(of: 0x1122_3344_5566_7788, toByteOffset: 4096, as: UInt64.self)
        #expect(try qemu.memoryWord(4096) == 0x1122_3344_5566_7788, "the guest reads what the host wrote")
        try qemu.setMemoryWord(8192, 0xdead_beef_cafe_f00d)
        #expect(memory.base.load(fromByteOffset: 8192, as: UInt64.self) == 0xdead_beef_cafe_f00d, "and the host what the guest wrote")

        // The guest rings host peer 0 through BAR0's Doorbell register: peer << 16 | vector.
        try qemu.setRegister(Register.doorbell, 0 << 16 | 1)
        try qemu.setRegister(Register.doorbell, 0 << 16 | 1)
        #expect(eventually { host.consumeRings(vector: 1) == 2 }, "two doorbell writes, two rings on vector 1")
        #expect(try qemu.pendingVectors() == 0, "nobody rang QEMU yet")
        #expect(host.ring(peer: 1, vector: 1))
        #expect(eventually { (try? qemu.pendingVectors()) == 0b10 }, "the ring on vector 1 reached QEMU (pending: masked)")
        #expect(host.ring(peer: 1, vector: 0))
        #expect(eventually { (try? qemu.pendingVectors()) == 0b11 }, "and the ring on vector 0")

        let later = try IvshmemClient(socketPath: running.socketPath)
        #expect(later.peers == [0: 2, 1: 2], "a later client learns of QEMU in its handshake")
        try qemu.quit()
        #expect(host.takeEvents(waitingUpTo: 10) == [.joined(2), .left(1)], "QEMU's departure is announced")
        #expect(later.takeEvents(waitingUpTo: 10) == [.joined(0), .joined(1), .left(1)], "peers of the handshake count as joins")
        #expect(eventually { running.server.peerIDs == [0, 2] })
    }
}
