import Glibc
import SharedSync

/// The doorbell of an ivshmem-doorbell device seen from inside a guest: BAR0's registers
/// (`resource0`). Writing Doorbell (offset 12) with `peer << 16 | vector` makes QEMU ring that
/// peer's eventfd; IVPosition (offset 8) is this guest's peer ID. A guest can ring host
/// processes and other guests, but cannot sleep on its own doorbell: the interrupt arrives as
/// MSI-X, which userspace can only wait on through a UIO/VFIO driver. So guests keep spinning
/// and backing off with nanosleep while waiting (`canSleep` is false).
public final class GuestDoorbell: DoorbellPort, @unchecked Sendable {
    static let registersSize = 256
    static let ivPosition = 8
    static let doorbell = 12

    public let peerID: Int
    public var canSleep: Bool { false }
    private let registers: UnsafeMutableRawPointer

    /// Maps `resource0` next to the device's `resource2` path; nil when the device has no
    /// doorbell (ivshmem-plain has no BAR1, the MSI-X table) or BAR0 cannot be mapped.
    public init?(memoryResourcePath: String) {
        guard let slash = memoryResourcePath.lastIndex(of: "/") else { return nil }
        let directory = String(memoryResourcePath[..<slash])
        guard access(directory + "/resource1", F_OK) == 0 else { return nil }
        let descriptor = open(directory + "/resource0", O_RDWR | O_CLOEXEC | O_SYNC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, Int(status.st_size) >= Self.registersSize,
              let address = mmap(nil, Self.registersSize, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
              address != MAP_FAILED else { return nil }
        registers = address
        peerID = Int(registers.load(fromByteOffset: Self.ivPosition, as: UInt32.self) & 0xffff)
    }

    deinit { munmap(registers, Self.registersSize) }

    public func sleep(seconds: Double) -> Bool { false }

    @discardableResult
    public func ring(peer: Int) -> Bool {
        guard (0..<65536).contains(peer) else { return false }
        // A volatile 32-bit MMIO store: the device sees exactly this write.
        (registers + Self.doorbell).withMemoryRebound(to: UInt32.self, capacity: 1) { register in
            UnsafeMutablePointer<UInt32>(register).pointee = UInt32(peer) << 16
        }
        return true
    }
}
