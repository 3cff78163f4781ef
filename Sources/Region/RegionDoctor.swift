import Glibc

/// One line of `ivshmem-rma doctor`: what is fine, or what is wrong and how to fix it.
public struct DoctorFinding: Equatable, Sendable {
    public var isProblem: Bool
    public var text: String
    public var fix: String?

    static func ok(_ text: String) -> DoctorFinding { DoctorFinding(isProblem: false, text: text, fix: nil) }
    static func problem(_ text: String, fix: String) -> DoctorFinding { DoctorFinding(isProblem: true, text: text, fix: fix) }

    /// "OK: …", or "PROBLEM: …" followed by "FIX: …".
    public var lines: [String] { [(isProblem ? "PROBLEM: " : "OK: ") + text] + (fix.map { ["FIX: " + $0] } ?? []) }
}

/// Checks what the library would use, the way it would use it: the ivshmem devices of a guest or
/// the region file of a host, their permissions, size, mapping and header.
public enum RegionDoctor {
    static let createHint = "ivshmem-rma region create PATH --size 256M"

    /// `regionPath` (doctor --region) wins; else IVSHMEM_RMA_SERVER or IVSHMEM_RMA_REGION from
    /// `environment`; else every ivshmem device under `sysfsRoot`.
    public static func examine(regionPath: String?, environment: [String: String],
                               sysfsRoot: String = "/sys/bus/pci/devices") -> [DoctorFinding] {
        let configured = regionPath.map { [RegionLocator.environmentVariable: $0] } ?? environment
        let isConfigured = [RegionLocator.serverVariable, RegionLocator.environmentVariable].contains { !(configured[$0] ?? "").isEmpty }
        if isConfigured, let source = RegionLocator.locate(environment: configured) {
            return source.kind == .server ? checkServer(source.path) : checkRegion(source)
        }
        let devices = RegionLocator.ivshmemDevices(sysfsRoot: sysfsRoot)
        guard !devices.isEmpty else {
            return [.problem("no region: IVSHMEM_RMA_REGION is not set and there is no ivshmem PCI device (1af4:1110) under \(sysfsRoot)",
                             fix: "on a host, name the region file QEMU's mem-path points at: ivshmem-rma doctor --region /dev/shm/NAME; "
                                 + "in a guest, give the VM the device: -device ivshmem-plain,memdev=… (libvirt: <shmem> with <model type='ivshmem-plain'/>)")]
        }
        return devices.flatMap { device in
            [.ok("ivshmem device \(device) (1af4:1110)"), writeCombining(device)]
                + checkRegion(RegionSource(path: RegionLocator.memoryResource(ofDevice: device), kind: .pciResource))
        }
    }

    private static func writeCombining(_ device: String) -> DoctorFinding {
        guard access(device + "/resource2_wc", F_OK) != 0 else {
            return .ok("\(device)/resource2_wc is present: the region is mapped write-combining")
        }
        return .problem("\(device) has no resource2_wc: the region is mapped uncached, which can make copies very slow "
                        + "(on AMD hosts KVM honours the guest's page attributes)",
                        fix: "the kernel offers resource2_wc for a prefetchable BAR when PAT is enabled: remove 'nopat' from the guest "
                            + "kernel command line, or use a newer guest kernel")
    }

    private static func checkServer(_ socket: String) -> [DoctorFinding] {
        var status = stat()
        guard stat(socket, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else {
            return [.problem("IVSHMEM_RMA_SERVER names \(socket), which is not a socket",
                             fix: "start the server: ivshmem-rma server -S \(socket) -m /dev/shm/NAME, or unset IVSHMEM_RMA_SERVER")]
        }
        return [.ok("\(socket) is a socket: the region comes from the ivshmem server listening there")]
    }

    /// The checks on a region file or BAR2 resource, in the order a failure makes the next one moot.
    static func checkRegion(_ source: RegionSource) -> [DoctorFinding] {
        let path = source.path, isDevice = source.kind == .pciResource
        var status = stat()
        guard stat(path, &status) == 0 else {
            let code = errno
            guard code == ENOENT else {
                return [.problem("\(path) cannot be examined by this user (uid \(getuid())): \(String(cString: strerror(code)))",
                                 fix: "give the MPI users access to the directories above it (chmod o+x or a group)")]
            }
            return [.problem("\(path) does not exist",
                             fix: isDevice ? "the device has no memory BAR: give it memory (ivshmem-plain with memdev=, or ivshmem-doorbell)"
                                           : "\(createHint.replacingPath(path)), or point QEMU's memory-backend-file mem-path at it")]
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            return [.problem("\(path) is not a regular file",
                             fix: "point IVSHMEM_RMA_REGION at a region file (e.g. /dev/shm/ivshmem) or a device's resource2")]
        }
        var findings: [DoctorFinding] = []
        let descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            let denied = code == EACCES || code == EPERM
            return [.problem("\(path) cannot be opened read-write by this user (uid \(getuid())): \(String(cString: strerror(code)))",
                             fix: !denied ? "check the file and its file system"
                                 : isDevice ? "run as root, or let the MPI users' group use the device with a udev rule, e.g. "
                                              + "SUBSYSTEM==\"pci\", ATTR{vendor}==\"0x1af4\", ATTR{device}==\"0x1110\", "
                                              + "RUN+=\"/bin/sh -c 'chgrp mpi %S%p/resource2* && chmod g+rw %S%p/resource2*'\""
                                 : "give the MPI users read-write access: chgrp mpi \(path) && chmod g+rw \(path) (or run as its owner)")]
        }
        close(descriptor)
        findings.append(.ok("\(path) can be opened read-write by this user (uid \(getuid()))"))

        let size = Int(status.st_size)
        if size == 0 && !isDevice {
            return findings + [.ok("\(path) is empty: the first job sizes it (IVSHMEM_RMA_SIZE, default 256M) and formats it")]
        }
        guard size >= Region.minimumSize else {
            return findings + [.problem("\(path) is \(size) bytes, smaller than the minimum \(Region.minimumSize) bytes",
                                        fix: isDevice ? "give the device more memory: memory-backend-file size=256M (libvirt: <size unit='M'>256</size>)"
                                                      : "recreate it larger: rm \(path) && \(createHint.replacingPath(path))")]
        }
        findings.append(.ok("\(path) is \(size) bytes (\(size >> 20) MiB)"))

        let mapping: RegionMapping
        do { mapping = try RegionMapping(source: source, createSize: 0) } catch {
            let hugePages = size / max(Int(status.st_blksize), 1)
            return findings + [.problem(error.description,
                                        fix: Region.isOnHugetlbfs(path)
                                            ? "reserve the huge pages it needs: echo \(hugePages) > /proc/sys/vm/nr_hugepages (more if other files use them)"
                                            : "keep the region on a file system that supports shared mappings (tmpfs such as /dev/shm, or hugetlbfs)")]
        }
        findings.append(.ok("\(path) maps shared and writable"))
        return findings + checkHeader(Region.inspect(mapping))
    }

    private static func checkHeader(_ report: RegionReport) -> [DoctorFinding] {
        let path = report.path
        guard report.valid else {
            if report.isUnformatted { return [.ok("\(path) is not formatted yet: the first job formats it")] }
            let fix = report.header?.magic != "IVRMAREG"
                ? "this memory holds something else: give ivshmem-rma a region of its own, or wipe it: ivshmem-rma region reset --force \(path)"
                : report.header?.layoutVersion != UInt64(RegionLayout.version)
                ? "use the ivshmem-rma version that formatted it, or once no job uses it: ivshmem-rma region reset --force \(path)"
                : "ivshmem-rma region reset \(path) (it refuses while jobs that may still run hold slots)"
            return [.problem(report.problem ?? "\(path) has an invalid header", fix: fix)]
        }
        var findings = [DoctorFinding.ok("\(path) has a valid header: layout version \(RegionLayout.version), "
                                         + "identity \(report.header?.identity ?? "?"), \(report.jobs.count) job(s), "
                                         + "\(report.windows.count) block(s), \(report.freeBytes) bytes free")]
        let gone = report.jobs.filter { $0.liveness == .dead }
        if !gone.isEmpty {
            findings.append(.problem("\(gone.count) job slot(s) of \(path) are held by jobs that are gone",
                                     fix: "ivshmem-rma region gc \(path) (the next job also reclaims them)"))
        }
        return findings
    }
}

extension String {
    fileprivate func replacingPath(_ path: String) -> String {
        split(separator: "PATH", omittingEmptySubsequences: false).joined(separator: path)
    }
}
