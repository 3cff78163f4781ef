import Glibc

/// Where the region is: a file (one machine, or a host's /dev/shm) or BAR2 of an ivshmem device.
public struct RegionSource: Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// A regular file: created and sized on first use.
        case file
        /// A sysfs PCI resource file: the device's memory, never created or resized.
        case pciResource
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
    static let ivshmemVendor = "0x1af4"
    static let ivshmemDevice = "0x1110"

    /// IVSHMEM_RMA_REGION when set and nonempty (kind .pciResource when the last path component starts
    /// with "resource", else .file); otherwise the first ivshmem device under `sysfsRoot` in sorted
    /// order, as its `resource2_wc` when that file exists, else `resource2`; nil when there is none.
    public static func locate(environment: [String: String], sysfsRoot: String = "/sys/bus/pci/devices") -> RegionSource? {
        if let path = environment[environmentVariable], !path.isEmpty {
            let name = path.split(separator: "/").last ?? ""
            return RegionSource(path: path, kind: name.hasPrefix("resource") ? .pciResource : .file)
        }
        for device in directoryEntries(sysfsRoot).sorted() {
            let directory = sysfsRoot + "/" + device
            guard smallFileText(directory + "/vendor") == ivshmemVendor,
                  smallFileText(directory + "/device") == ivshmemDevice else { continue }
            // The write-combining mapping copies much faster where the kernel offers it.
            let writeCombining = directory + "/resource2_wc"
            let path = access(writeCombining, F_OK) == 0 ? writeCombining : directory + "/resource2"
            return RegionSource(path: path, kind: .pciResource)
        }
        return nil
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
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = read(descriptor, &buffer, buffer.count)
        guard count >= 0 else { return nil }
        let text = String(decoding: buffer[..<count], as: UTF8.self)
        return text.filter { !$0.isWhitespace }.lowercased()
    }
}
