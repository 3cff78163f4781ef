import Glibc

/// The memory the server hands to every peer.
public enum SharedMemorySource: Sendable, Equatable {
    /// A POSIX shared memory object (shm_open), as QEMU's server `-M NAME`: /dev/shm/NAME on Linux.
    case posixName(String)
    /// A file, or a directory (a hugetlbfs mount, as QEMU's server `-m DIR`) in which an unnamed
    /// file is created.
    case path(String)
}

/// Opens the server's shared memory: creates and sizes it when empty, keeps the size of a file
/// that already has one (a region already formatted must not change size under its users).
enum SharedMemory {
    /// Largest size tried when a hugetlbfs file refuses a size that is not a multiple of its page.
    static let largestHugePage = 1 << 30

    /// The open descriptor and the memory's size in bytes.
    static func open(_ source: SharedMemorySource, size requested: Int, log: (String) -> Void) throws(ServerError) -> (Int32, Int) {
        let descriptor: Int32
        switch source {
        case .posixName(let name):
            descriptor = shm_open(name.hasPrefix("/") ? name : "/" + name, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw .system("cannot open POSIX shared memory \(name)") }
        case .path(let path):
            var status = stat()
            if stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR {
                var template = Array((path + "/ivshmem-rma.XXXXXX").utf8CString)
                descriptor = mkstemp(&template)
                guard descriptor >= 0 else { throw .system("cannot create a file in \(path)") }
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
                unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
            } else {
                descriptor = Glibc.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o660)
                guard descriptor >= 0 else { throw .system("cannot open \(path)") }
            }
        }
        do {
            return (descriptor, try sized(descriptor, requested, log: log))
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// QEMU maps the memory as a PCI BAR, whose size must be a power of two: a new file gets the
    /// requested size rounded up to one, doubled further while hugetlbfs refuses it.
    private static func sized(_ descriptor: Int32, _ requested: Int, log: (String) -> Void) throws(ServerError) -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("cannot stat the shared memory") }
        let current = Int(status.st_size)
        if current > 0 {
            if current & (current - 1) != 0 {
                log("warning: the shared memory is \(current) bytes, not a power of two: QEMU cannot map it as a BAR")
            }
            if current != requested { log("the shared memory already has \(current) bytes; keeping that size") }
            return current
        }
        guard requested > 0 else { throw ServerError("the shared memory size must be positive") }
        var size = 1
        while size < requested { size <<= 1 }
        if size != requested { log("rounding the size up to \(size) bytes, a power of two (a PCI BAR's size)") }
        while ftruncate(descriptor, off_t(size)) != 0 {
            guard errno == EINVAL, size < largestHugePage else { throw .system("cannot size the shared memory to \(size) bytes") }
            size <<= 1
        }
        return size
    }
}
