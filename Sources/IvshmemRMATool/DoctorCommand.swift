import ArgumentParser
import Foundation
import Region

/// `ivshmem-rma doctor`: plain OK / PROBLEM / FIX lines; exits 1 when there is a problem.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the region the library would use: devices, permissions, size, mapping, header.",
        discussion: "Without --region: IVSHMEM_RMA_SERVER or IVSHMEM_RMA_REGION when set, else every ivshmem PCI device (1af4:1110).")

    @Option(help: "The region file or resource2 path to check.")
    var region: String?

    @Option(help: ArgumentHelp("Where PCI devices are listed.", visibility: .hidden))
    var sysfsRoot = "/sys/bus/pci/devices"

    func run() throws {
        let findings = RegionDoctor.examine(regionPath: region, environment: ProcessInfo.processInfo.environment, sysfsRoot: sysfsRoot)
        findings.flatMap(\.lines).forEach { print($0) }
        if findings.contains(where: \.isProblem) { throw ExitCode.failure }
    }
}
