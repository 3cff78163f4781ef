import Foundation
import Testing

/// What the built libivshmem_rma.so must look like to load next to any MPI of the MPICH ABI
/// family: no MPI or transport library among its dependencies, no MPI symbol left for the
/// loader to bind, and every entry point of bindings/mpi-functions.txt under every name.
@Suite("libivshmem_rma.so's dynamic symbols")
struct LibraryImageTests {
    static let table = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bindings/mpi-functions.txt")

    @Test("names no MPI, UCX, libfabric or hwloc library in DT_NEEDED")
    func noMPIDependency() throws {
        let dynamic = try run(["readelf", "-d", TestFixtures.requireLibrary().path])
        let needed = dynamic.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(!needed.isEmpty, "readelf printed no NEEDED entries:\n\(dynamic)")
        let linked = needed.filter { line in ["mpi", "uc", "fabric", "hwloc"].contains { line.lowercased().contains($0) } }
        #expect(linked.isEmpty, "the library must find MPI in the process, not link it: \(linked)")
    }

    @Test("leaves no MPI symbol undefined (every call into MPI goes through MPILibrary)")
    func noUndefinedMPISymbol() throws {
        let undefined = try symbols(["--undefined-only"])
        let mpi = undefined.filter { $0.hasPrefix("MPI_") || $0.hasPrefix("PMPI_") }
        #expect(mpi.isEmpty, "called directly instead of through MPILibrary (add them to bindings/mpi-functions.txt): \(mpi)")
    }

    @Test("exports MPI_X, PMPI_X and the large-count X_c of every served function")
    func exportsEveryName() throws {
        let defined = Set(try symbols(["--defined-only"]))
        let expected = try servedNames()
        #expect(expected.count > 100, "parsed only \(expected.count) names from \(Self.table.path)")
        let missing = expected.filter { !defined.contains($0) }
        #expect(missing.isEmpty, "not exported: \(missing)")
    }

    private func servedNames() throws -> [String] {
        let lines = try String(contentsOf: Self.table, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        var names: [String] = []
        for (index, line) in lines.enumerated() where line.hasPrefix("MPI_") {
            let name = String(line.prefix { $0 != "(" })
            let annotation = index + 1 < lines.count ? lines[index + 1] : ""
            guard annotation.contains("serve ") else { continue }
            let forms = annotation.contains("large-count") ? [name, name + "_c"] : [name]
            names += forms.flatMap { [$0, "P" + $0] }
        }
        return names
    }

    private func symbols(_ options: [String]) throws -> [String] {
        let output = try run(["nm", "-D"] + options + [TestFixtures.requireLibrary().path])
        return output.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
    }

    private func run(_ arguments: [String]) throws -> String {
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "\(arguments.joined(separator: " ")) failed")
        return String(decoding: data, as: UTF8.self)
    }
}
