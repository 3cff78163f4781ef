import ArgumentParser

/// `ivshmem-rma`: the operator's tool. Parsing and presentation only: the logic lives in the
/// Region and IvshmemServer modules.
@main
struct IvshmemRMA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ivshmem-rma",
        abstract: "Set up, inspect and clean the shared region of ivshmem-rma, serve it to QEMU, diagnose a host or guest.",
        subcommands: [RegionCommand.self, ServerCommand.self, DoctorCommand.self])
}
