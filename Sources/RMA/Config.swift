import Glibc

/// Settings read once from the environment at MPI_Init. Every variable is documented in the README.
struct Config {
    /// IVSHMEM_RMA_REGION: a region file or a PCI resource2 path; unset means "find the ivshmem PCI device".
    var environment: [String: String]
    /// IVSHMEM_RMA_SIZE: bytes for a region file that has to be created (default 256 MiB).
    var createSize: Int
    /// IVSHMEM_RMA_TIMEOUT: seconds a wait on a peer may last before the job is aborted.
    var timeoutSeconds: Double
    /// IVSHMEM_RMA_STATS=1: one stats line per rank at MPI_Finalize.
    var printStats: Bool
    /// IVSHMEM_RMA_VERBOSE=1: explain each decision.
    var verbose: Bool
    /// IVSHMEM_RMA_STREAMING_THRESHOLD: contiguous copies of at least this many bytes use
    /// non-temporal stores (default: half the last-level cache, which such a copy would flush).
    var streamingThreshold: Int

    static func fromEnvironment() -> Config {
        var environment: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let pair = String(cString: pointer)
            if let equals = pair.firstIndex(of: "="), pair.hasPrefix("IVSHMEM_RMA_") {
                environment[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            entry += 1
        }
        return Config(environment: environment,
                      createSize: environment["IVSHMEM_RMA_SIZE"].flatMap(parseByteSize) ?? 256 << 20,
                      timeoutSeconds: environment["IVSHMEM_RMA_TIMEOUT"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil } ?? 120,
                      printStats: environment["IVSHMEM_RMA_STATS"] == "1",
                      verbose: environment["IVSHMEM_RMA_VERBOSE"] == "1",
                      streamingThreshold: environment["IVSHMEM_RMA_STREAMING_THRESHOLD"].flatMap(parseByteSize)
                          ?? defaultStreamingThreshold())
    }
}

private func defaultStreamingThreshold() -> Int {
    let cacheBytes = lastLevelCacheBytes()
    return cacheBytes > 0 ? cacheBytes / 2 : 16 << 20
}

/// The kernel's sysfs view of cpu0's caches, largest level wins. Not sysconf: glibc's answer
/// inside VMs can be far off (256 MiB here, where sysfs and the CPU say 32 MiB).
private func lastLevelCacheBytes() -> Int {
    var best = (level: 0, bytes: 0)
    for index in 0..<8 {
        let directory = "/sys/devices/system/cpu/cpu0/cache/index\(index)"
        guard let level = readSmallFile(directory + "/level").flatMap({ Int($0) }),
              let size = readSmallFile(directory + "/size"), level > best.level,
              let kibibytes = Int(size.hasSuffix("K") ? String(size.dropLast()) : size) else { continue }
        best = (level, kibibytes << 10)
    }
    return best.bytes
}

private func readSmallFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 64)
    guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
    return String(cString: buffer).split(whereSeparator: \.isWhitespace).first.map(String.init)
}

/// "268435456", "256M", "1G", "64K" (binary units).
func parseByteSize(_ text: String) -> Int? {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    guard let last = text.uppercased().last else { return nil }
    if let unit = units[last] {
        return Int(text.dropLast()).flatMap { $0 > 0 ? $0 * unit : nil }
    }
    return Int(text).flatMap { $0 > 0 ? $0 : nil }
}

/// One line to stderr, always prefixed so users can grep for the library's words.
func warn(_ message: String) {
    writeLine("ivshmem-rma: \(message)")
}

/// One whole line in one write(2), so lines from many ranks sharing a terminal do not interleave.
func writeLine(_ line: String) {
    var text = line
    text.append("\n")
    text.withUTF8 { bytes in _ = write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
}
