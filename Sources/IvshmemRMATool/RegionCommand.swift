import ArgumentParser
import Foundation
import Region
import SharedSync

/// `ivshmem-rma region create|inspect|reset|gc`.
struct RegionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "region",
        abstract: "Create, inspect, reset a region, or reclaim what jobs that are gone left in it.",
        subcommands: [Create.self, Inspect.self, Reset.self, GC.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a region file (on hugetlbfs: rounded up to whole huge pages).")

        @Argument(help: "The file to create, e.g. /dev/shm/ivshmem or a file on a hugetlbfs mount.")
        var path: String

        @Option(help: "Size: bytes, or with K, M or G.")
        var size = "256M"

        @Flag(help: "Write the header now, instead of leaving that to the first job.")
        var format = false

        func run() throws {
            guard let bytes = ServerCommand.byteCount(size) else { throw ValidationError("--size \(size): give bytes, or a number with K, M or G") }
            let created = try orFail { () throws(RegionError) in try Region.createFile(at: path, size: bytes) }
            if let hugePage = created.hugePageSize {
                print("\(path) is on hugetlbfs: size rounded up to whole \(hugePage >> 10) KiB huge pages")
            }
            print("created \(path): \(created.size) bytes (\(describe(created.size)))")
            if format {
                let region = try orFail { () throws(RegionError) in
                    try Region.attach(RegionMapping(source: RegionSource(path: path, kind: .file), createSize: 0), wait: WaitPolicy(timeoutSeconds: 10))
                }
                print("formatted: layout version \(Region.layoutVersion), identity \(region.identity)")
            }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the header, the jobs and their liveness, the windows and the free space.")

        @Argument(help: "The region file or resource2 path.")
        var path: String

        @Flag(help: "One JSON object instead of the tables.")
        var json = false

        func run() throws {
            let report = Region.inspect(try existingMapping(path))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(RegionTables.render(report))
            }
            if !report.valid && !report.isUnformatted { throw ExitCode.failure }
        }
    }

    struct Reset: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Format the region afresh: no jobs, no blocks, a new identity.",
            discussion: "Refuses while jobs that may still run hold slots, or when the header is not ivshmem-rma's, unless --force.")

        @Argument(help: "The region file or resource2 path.")
        var path: String

        @Flag(help: "Reset even while jobs may still use it, or when it holds someone else's header.")
        var force = false

        func run() throws {
            let mapping = try existingMapping(path)
            let region = try orFail { () throws(RegionError) in try Region.reset(mapping, force: force, wait: WaitPolicy(timeoutSeconds: 10)) }
            print("reset \(path): layout version \(Region.layoutVersion), identity \(region.identity), \(region.usage().freeBytes) bytes free")
        }
    }

    struct GC: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Reclaim the job slots and blocks of jobs that are gone; live jobs are never touched.",
            discussion: """
                A job is gone when its leader ran on this kernel and no longer runs. Jobs of another kernel (another VM) \
                cannot be checked from here: they are left unless --job names them.
                """)

        @Argument(help: "The region file or resource2 path.")
        var path: String

        @Option(name: .customLong("job"), help: "Also reclaim this job (hex 0x… or decimal) if it is not alive here. Repeatable.")
        var jobs: [String] = []

        @Option(help: "Seconds to wait for the allocator lock.")
        var timeout = 10.0

        func run() throws {
            let named = try Set(jobs.map { text in
                let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
                guard let value else { throw ValidationError("--job \(text): give a job ID in hex (0x…) or decimal") }
                return value
            })
            let mapping = try existingMapping(path)
            let region = try orFail { () throws(RegionError) in try Region.open(mapping) }
            let reclaimed = try orFail { () throws(RegionError) in try region.reclaimGoneJobs(named: named, wait: WaitPolicy(timeoutSeconds: timeout)) }
            for job in reclaimed.jobs {
                print("reclaimed slot \(job.index): job \(hex(job.jobID)), leader pid \(job.owner.pid) (\(job.liveness.rawValue))")
            }
            for block in reclaimed.blocks {
                print("freed block record \(block.record): offset \(block.offset), \(block.size) bytes, job \(hex(block.ownerJob))")
            }
            let freedBytes = reclaimed.blocks.reduce(0) { $0 + Int(clamping: $1.size) }
            print("gc \(path): \(reclaimed.jobs.count) job slot(s) and \(reclaimed.blocks.count) block(s) (\(describe(freedBytes))) reclaimed")
            let left = region.jobSlots().filter { $0.liveness != .alive }
            for job in left {
                print("left slot \(job.index): job \(hex(job.jobID)) (\(job.liveness.rawValue)); `gc --job \(hex(job.jobID))` reclaims it")
            }
            for job in named where !reclaimed.jobs.contains(where: { $0.jobID == job }) && !left.contains(where: { $0.jobID == job }) {
                print("job \(hex(job)): \(region.jobSlots().contains { $0.jobID == job } ? "alive here: left alone" : "holds no slot")")
            }
        }
    }
}

/// Maps an existing region file or resource without creating or resizing anything.
func existingMapping(_ path: String) throws -> RegionMapping {
    guard access(path, F_OK) == 0 else { throw failure("region \(path) does not exist") }
    let isResource = path.split(separator: "/").last?.hasPrefix("resource") ?? false
    return try orFail { () throws(RegionError) in
        try RegionMapping(source: RegionSource(path: path, kind: isResource ? .pciResource : .file), createSize: 0)
    }
}

/// Runs `body`; a RegionError becomes one line on stderr and exit status 1.
func orFail<Result>(_ body: () throws(RegionError) -> Result) throws -> Result {
    do { return try body() } catch { throw failure(error.description) }
}

/// Prints "ivshmem-rma: MESSAGE" on stderr; throw the result to exit with status 1.
func failure(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("ivshmem-rma: \(message)\n".utf8))
    return .failure
}

func hex(_ word: UInt64) -> String {
    let digits = String(word, radix: 16)
    return "0x" + String(repeating: "0", count: 16 - digits.count) + digits
}

/// "64 MiB", "12 KiB", "100 bytes".
func describe(_ bytes: Int) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
    if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
    return bytes >= 1 << 20 ? String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) : "\(bytes) bytes"
}
