import Glibc

/// Runs a server as a program: in the foreground, or detached from the terminal with a pid file
/// (as QEMU's server without `-F`); SIGINT and SIGTERM end it cleanly (socket file removed).
public enum ServerProcess {
    /// Serves until a signal ends it, and returns the exit status: 0, or 1 after printing why the
    /// server could not start. `pidFile` is written after daemonizing (and removed at exit).
    public static func run(_ options: ServerOptions, foreground: Bool, pidFile: String?) -> Int32 {
        do {
            try serve(options, foreground: foreground, pidFile: pidFile)
            return 0
        } catch {
            var line = "ivshmem-rma server: \(error)\n"
            line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
            return 1
        }
    }

    private static func serve(_ options: ServerOptions, foreground: Bool, pidFile: String?) throws(ServerError) {
        let server = try IvshmemServer(options)
        if !foreground {
            // No threads exist yet, so daemon(3)'s fork is safe.
            guard daemon(0, options.verbose ? 1 : 0) == 0 else { throw .system("cannot daemonize") }
        }
        if let pidFile { try writePidFile(pidFile) }
        defer { if let pidFile { unlink(pidFile) } }
        stopDescriptor = server.stopDescriptor
        signal(SIGINT, requestStop)
        signal(SIGTERM, requestStop)
        signal(SIGPIPE, SIG_IGN)
        server.run()
    }

    private static func writePidFile(_ path: String) throws(ServerError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .system("cannot write the pid file \(path)") }
        defer { close(descriptor) }
        var text = "\(getpid())\n"
        text.withUTF8 { _ = write(descriptor, $0.baseAddress, $0.count) }
    }
}

/// The stop pipe's write end, for the signal handler (which can capture nothing).
nonisolated(unsafe) private var stopDescriptor: Int32 = -1

private func requestStop(_: Int32) {
    var byte: UInt8 = 1
    _ = write(stopDescriptor, &byte, 1)
}
