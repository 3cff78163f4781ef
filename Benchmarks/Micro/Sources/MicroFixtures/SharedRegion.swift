import Glibc
import Region
import SharedSync

/// One region file in /dev/shm mapped twice, as two co-resident processes (or VMs) map it: `near` is
/// this process's mapping, `far` the peer's. An offset names the same bytes in both.
public final class SharedRegion {
    public let near: Region
    public let far: Region
    public static let jobID: UInt64 = 1
    private var addressLists: [UnsafeMutableBufferPointer<UnsafeMutableRawPointer>] = []

    public init(size: Int = 64 << 20) throws(RegionError) {
        let source = RegionSource(path: "/dev/shm/ivshmem-rma-micro-\(getpid())", kind: .file)
        unlink(source.path)
        // The mappings keep the memory alive: nothing is left behind in /dev/shm.
        defer { unlink(source.path) }
        near = try Region.attach(RegionMapping(source: source, createSize: size), wait: WaitPolicy())
        far = try Region.attach(RegionMapping(source: source, createSize: size), wait: WaitPolicy())
    }

    deinit {
        for list in addressLists { list.deallocate() }
    }

    public func allocate(bytes: Int) throws(RegionError) -> Region.Block {
        try near.allocate(bytes: bytes, jobID: Self.jobID, wait: WaitPolicy())
    }

    /// `count` words of a new block (zero: the region file is new), each on its own cache line as in
    /// the engine's control block, as addresses in each mapping. The lists live as long as the region.
    public func words(_ count: Int) throws(RegionError)
        -> (near: UnsafeBufferPointer<UnsafeMutableRawPointer>, far: UnsafeBufferPointer<UnsafeMutableRawPointer>) {
        let cacheLine = 64
        let block = try allocate(bytes: count * cacheLine)
        func addresses(in region: Region) -> UnsafeBufferPointer<UnsafeMutableRawPointer> {
            let list = UnsafeMutableBufferPointer<UnsafeMutableRawPointer>.allocate(capacity: count)
            for index in 0..<count {
                list.initializeElement(at: index, to: region.address(offset: block.offset + index * cacheLine, length: 8)!)
            }
            addressLists.append(list)
            return UnsafeBufferPointer(list)
        }
        return (addresses(in: near), addresses(in: far))
    }
}
