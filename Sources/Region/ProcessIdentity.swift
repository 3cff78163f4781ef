import Glibc

/// Who owns a job slot or holds the allocator lock, recorded in the region so that a process on
/// the same kernel can tell later whether the owner still runs. A process on another kernel (another
/// VM, or the host) cannot check it: its pids mean nothing here.
public struct ProcessIdentity: Equatable, Hashable, Sendable, Codable {
    /// FNV-1a 64 of the kernel's boot id and the PID namespace: equal for two processes exactly when
    /// their pids name the same processes. Never 0 (0 means "not recorded").
    public var kernel: UInt64
    public var pid: UInt64
    /// Clock ticks from boot to the process's start (/proc/PID/stat field 22): tells a reused pid apart.
    public var startTime: UInt64

    public init(kernel: UInt64, pid: UInt64, startTime: UInt64) {
        self.kernel = kernel
        self.pid = pid
        self.startTime = startTime
    }

    /// This process.
    public static let current = of(pid: getpid())

    /// A process of this kernel, as it would record itself (start time 0 when it cannot be read).
    static func of(pid: pid_t) -> ProcessIdentity {
        ProcessIdentity(kernel: currentKernel, pid: UInt64(pid), startTime: processStatus(pid)?.startTime ?? 0)
    }

    /// The word identifying this kernel and PID namespace.
    public static let currentKernel: UInt64 = {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let bootID = fileText("/proc/sys/kernel/random/boot_id")?.trimmingSuffixNewline ?? ""
        for byte in (bootID + "/" + pidNamespace()).utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash == 0 ? 1 : hash
    }()

    /// What a free slot records.
    public static let nobody = ProcessIdentity(kernel: 0, pid: 0, startTime: 0)

    public var isRecorded: Bool { kernel != 0 }

    public enum Liveness: String, Sendable, Codable {
        /// On this kernel, and that process (same pid and start time) still runs.
        case alive
        /// On this kernel, and that process is gone (or a zombie).
        case dead
        /// Recorded by a process on another kernel or PID namespace: cannot be checked from here.
        case otherKernel = "unknown (other kernel)"
        /// Nothing recorded (a slot claimed by an older library, or caught mid-claim).
        case unrecorded = "unknown (no owner recorded)"
    }

    /// Whether the process still runs, as far as this process can tell. Every field may come from
    /// untrusted region bytes: a pid outside the kernel's range is dead, never a process group.
    public var liveness: Liveness {
        guard isRecorded else { return .unrecorded }
        guard kernel == Self.currentKernel else { return .otherKernel }
        guard (1...Self.pidLimit).contains(pid) else { return .dead }
        let process = pid_t(pid)
        if kill(process, 0) != 0 && errno == ESRCH { return .dead }
        // Unreadable (e.g. /proc mounted with hidepid): it exists, so count it alive.
        guard let status = Self.processStatus(process) else { return .alive }
        return status.isZombie || status.startTime != startTime ? .dead : .alive
    }

    /// The kernel's PID_MAX_LIMIT on 64-bit Linux.
    static let pidLimit: UInt64 = 4_194_304

    private static func pidNamespace() -> String {
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = readlink("/proc/self/ns/pid", &buffer, buffer.count)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
    }

    /// The state and start time from /proc/PID/stat; nil when it cannot be read.
    private static func processStatus(_ pid: pid_t) -> (isZombie: Bool, startTime: UInt64)? {
        guard let text = fileText("/proc/\(pid)/stat"),
              let commandEnd = text.lastIndex(of: ")") else { return nil }
        // After the command name (which may hold spaces and parentheses): field 3 (state) on.
        let fields = text[text.index(after: commandEnd)...].split(separator: " ")
        guard fields.count > 19, let start = UInt64(fields[19]) else { return nil }
        return (fields[0] == "Z" || fields[0] == "X", start)
    }
}

extension String {
    fileprivate var trimmingSuffixNewline: String {
        hasSuffix("\n") ? String(dropLast()) : self
    }
}

extension RegionBytes {
    /// The three words of an identity recorded at `offset`.
    func loadIdentity(_ offset: Int) -> ProcessIdentity {
        ProcessIdentity(kernel: load(offset), pid: load(offset + 8), startTime: load(offset + 16))
    }

    func storeIdentity(_ identity: ProcessIdentity, at offset: Int) {
        store(identity.kernel, at: offset)
        store(identity.pid, at: offset + 8)
        store(identity.startTime, at: offset + 16)
    }
}
