import Glibc

/// Where the region is: a file (one machine, or a host's /dev/shm) or BAR2 of an ivshmem device.
public struct RegionSource: Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A regular file: created and sized on first use.
        case file
        /// A sysfs PCI resource file: the device's memory, never created or resized.
        case pciResource
        /// The UNIX socket of an ivshmem server (`ivshmem-rma server`, QEMU's protocol): the region
        /// is the memory it hands out, and the process sleeps on its doorbell.
        case server
    }

    public var path: String
    public var kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }
}

/// Finds the region: the path the user configured, else the ivshmem PCI device of this guest.
public enum RegionLocator {
    static let environmentVariable = "IVSHMEM_RMA_REGION"
    static let serverVariable = "IVSHMEM_RMA_SERVER"
    static let ivshmemVendor = "0x1af4"
    static let ivshmemDevice = "0x1110"

    /// IVSHMEM_RMA_SERVER when set and nonempty (kind .server); else IVSHMEM_RMA_REGION when set and
    /// nonempty (kind .pciResource when the last path component starts with "resource", else .file);
    /// otherwise the first ivshmem device under `sysfsRoot` in sorted order, as its `resource2_wc`
    /// when that file exists, else `resource2`; nil when there is none.
    public static func locate(environment: [String: String], sysfsRoot: String = "/sys/bus/pci/devices") -> RegionSource? {
        if let socket = environment[serverVariable], !socket.isEmpty {
            return RegionSource(path: socket, kind: .server)
        }
        if let path = environment[environmentVariable], !path.isEmpty {
            let name = path.split(separator: "/").last ?? ""
            return RegionSource(path: path, kind: name.hasPrefix("resource") ? .pciResource : .file)
        }
        return ivshmemDevices(sysfsRoot: sysfsRoot).first.map { RegionSource(path: memoryResource(ofDevice: $0), kind: .pciResource) }
    }

    /// The directories of the ivshmem PCI devices under `sysfsRoot`, in sorted order.
    public static func ivshmemDevices(sysfsRoot: String = "/sys/bus/pci/devices") -> [String] {
        directoryEntries(sysfsRoot).sorted().map { sysfsRoot + "/" + $0 }.filter {
            smallFileText($0 + "/vendor") == ivshmemVendor && smallFileText($0 + "/device") == ivshmemDevice
        }
    }

    /// The device's BAR2 file: `resource2_wc` when it exists (the write-combining mapping copies
    /// much faster where the kernel offers it), else `resource2`.
    public static func memoryResource(ofDevice directory: String) -> String {
        let writeCombining = directory + "/resource2_wc"
        return access(writeCombining, F_OK) == 0 ? writeCombining : directory + "/resource2"
    }

    /// The names in a directory (without "." and ".."); empty when it cannot be read.
    private static func directoryEntries(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// A short sysfs attribute file's text, trimmed and lowercased; nil when it cannot be read.
    private static func smallFileText(_ path: String) -> String? {
        fileText(path).map { $0.filter { !$0.isWhitespace }.lowercased() }
    }
}
