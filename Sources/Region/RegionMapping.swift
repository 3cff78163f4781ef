import Glibc
import IvshmemServer
import SharedSync

/// Owns one shared, writable mapping of the whole region; unmaps it when released.
public final class RegionMapping: @unchecked Sendable {
    public let source: RegionSource
    public let base: UnsafeMutableRawPointer
    public let size: Int
    /// This process's doorbell: the server connection (`.server`), or the BAR0 registers of an
    /// ivshmem-doorbell device (`.pciResource`); nil for files and ivshmem-plain devices.
    public let doorbell: (any DoorbellPort)?
    /// Write-combining for a PCI `resource2_wc` file, else write-back; set in ReleaseFence at map time.
    public let memoryType: MemoryType

    /// `.file`: opens the file, creating it (mode 0660) when missing; an empty file is first sized to
    /// `createSize`. `.pciResource`: opens the existing sysfs resource file, never creating or resizing
    /// it; its size is the BAR's size. `.server`: connects to the ivshmem server and maps the memory
    /// it hands out. Either way the whole memory is mapped.
    public init(source: RegionSource, createSize: Int) throws(RegionError) {
        var client: IvshmemClient?
        if source.kind == .server {
            do { client = try IvshmemClient(socketPath: source.path) } catch { throw RegionError(error.description) }
        }
        let creating = source.kind == .file
        let descriptor = client.map { dup($0.memoryDescriptor) } ?? open(source.path, O_RDWR | O_CLOEXEC | (creating ? O_CREAT : 0), 0o660)
        guard descriptor >= 0 else { throw Self.failure("cannot open", source.path, errno) }
        defer { close(descriptor) }

        let size = try creating ? Self.sizeCreatingIfEmpty(descriptor, source.path, createSize)
                                : Self.currentSize(descriptor, source.path)
        guard size > 0 else { throw RegionError("region \(source.path) is empty: no memory to map") }
        guard let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
              address != MAP_FAILED else { throw Self.failure("cannot map", source.path, errno) }
        self.source = source
        self.base = address
        self.size = size
        memoryType = Self.memoryType(of: source)
        // Before anything is stored into the region (formatting it included).
        ReleaseFence.adopt(memoryType)
        doorbell = client ?? (source.kind == .pciResource ? GuestDoorbell(memoryResourcePath: source.path) : nil)
    }

    deinit { munmap(base, size) }

    /// sysfs maps a PCI BAR write-combining through its `resource<N>_wc` file.
    public static func memoryType(of source: RegionSource) -> MemoryType {
        source.kind == .pciResource && source.path.hasSuffix("_wc") ? .writeCombining : .writeBack
    }

    private static func currentSize(_ descriptor: Int32, _ path: String) throws(RegionError) -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw failure("cannot stat", path, errno) }
        return Int(status.st_size)
    }

    /// Sizes an empty file under an exclusive flock, so processes creating the region together
    /// never resize a file another one has already sized (and perhaps formatted).
    private static func sizeCreatingIfEmpty(_ descriptor: Int32, _ path: String, _ createSize: Int) throws(RegionError) -> Int {
        guard flock(descriptor, LOCK_EX) == 0 else { throw failure("cannot lock", path, errno) }
        defer { flock(descriptor, LOCK_UN) }
        let size = try currentSize(descriptor, path)
        guard size == 0 else { return size }
        guard createSize > 0 else { throw RegionError("region \(path) is empty and no size was given to create it with") }
        guard ftruncate(descriptor, off_t(createSize)) == 0 else { throw failure("cannot size (\(createSize) bytes)", path, errno) }
        return createSize
    }

    private static func failure(_ what: String, _ path: String, _ code: Int32) -> RegionError {
        let hint = code == EACCES ? "; run as root, or give the ranks' group read/write access to it "
            + "(chgrp GROUP FILE; chmod g+rw FILE), in a guest from a udev rule at boot (see the README)" : ""
        return RegionError("\(what) region \(path): \(String(cString: strerror(code))) (errno \(code))\(hint)")
    }
}
