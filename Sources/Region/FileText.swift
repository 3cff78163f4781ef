import Glibc

/// The whole text of a small file (procfs and sysfs attributes, /proc/self/mounts); nil when it
/// cannot be opened or read.
func fileText(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var contents: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(descriptor, &buffer, buffer.count)
        guard count >= 0 else { return nil }
        if count == 0 { return String(decoding: contents, as: UTF8.self) }
        contents += buffer[..<count]
    }
}
