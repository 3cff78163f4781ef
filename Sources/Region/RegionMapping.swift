import Glibc

/// Owns one shared, writable mapping of the whole region; unmaps it when released.
public final class RegionMapping: @unchecked Sendable {
    public let source: RegionSource
    public let base: UnsafeMutableRawPointer
    public let size: Int

    /// `.file`: opens the file, creating it (mode 0660) when missing; an empty file is first sized to
    /// `createSize`. `.pciResource`: opens the existing sysfs resource file, never creating or resizing
    /// it; its size is the BAR's size. Either way the whole file is mapped.
    public init(source: RegionSource, createSize: Int) throws(RegionError) {
        let creating = source.kind == .file
        let descriptor = open(source.path, O_RDWR | O_CLOEXEC | (creating ? O_CREAT : 0), 0o660)
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
    }

    deinit { munmap(base, size) }

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
        let hint = code == EACCES ? "; run as root or give the user access to it, e.g. a udev rule" : ""
        return RegionError("\(what) region \(path): \(String(cString: strerror(code))) (errno \(code))\(hint)")
    }
}
