import Foundation
import Region
import Testing

@Suite struct LocatorTests {
    let variable = "IVSHMEM_RMA_REGION"

    /// A fake /sys/bus/pci/devices: one directory per device with vendor and device files and the
    /// named resource files.
    func makeDevice(_ root: String, _ name: String, vendor: String, device: String, resources: [String]) throws {
        let directory = root + "/" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try (vendor + "\n").write(toFile: directory + "/vendor", atomically: false, encoding: .utf8)
        try (device + "\n").write(toFile: directory + "/device", atomically: false, encoding: .utf8)
        for resource in resources { createZeroFile(directory + "/" + resource, size: 0) }
    }

    @Test(arguments: [
        ("/dev/shm/ivshmem-rma", RegionSource.Kind.file),
        ("/sys/bus/pci/devices/0000:00:04.0/resource2", .pciResource),
        ("/sys/bus/pci/devices/0000:00:04.0/resource2_wc", .pciResource),
        ("relative/resources.bin", .pciResource),
    ])
    func environmentVariableWins(path: String, kind: RegionSource.Kind) throws {
        let sysfs = try TemporaryDirectory()
        defer { sysfs.remove() }
        try makeDevice(sysfs.path, "0000:00:04.0", vendor: "0x1af4", device: "0x1110", resources: ["resource2"])
        #expect(RegionLocator.locate(environment: [variable: path], sysfsRoot: sysfs.path) == RegionSource(path: path, kind: kind))
    }

    @Test func emptyVariableFallsBackToTheDevice() throws {
        let sysfs = try TemporaryDirectory()
        defer { sysfs.remove() }
        try makeDevice(sysfs.path, "0000:00:04.0", vendor: "0x1af4", device: "0x1110", resources: ["resource2"])
        #expect(RegionLocator.locate(environment: [variable: ""], sysfsRoot: sysfs.path)
                == RegionSource(path: sysfs.path + "/0000:00:04.0/resource2", kind: .pciResource))
    }

    @Test func firstIvshmemDevicePrefersWriteCombining() throws {
        let sysfs = try TemporaryDirectory()
        defer { sysfs.remove() }
        try makeDevice(sysfs.path, "0000:00:02.0", vendor: "0x8086", device: "0x1110", resources: ["resource2"])
        try makeDevice(sysfs.path, "0000:00:03.0", vendor: "0x1af4", device: "0x1000", resources: ["resource2"])
        try makeDevice(sysfs.path, "0000:00:06.0", vendor: "0x1af4", device: "0x1110", resources: ["resource2"])
        try makeDevice(sysfs.path, "0000:00:05.0", vendor: "0x1af4", device: "0x1110", resources: ["resource2", "resource2_wc"])
        #expect(RegionLocator.locate(environment: [:], sysfsRoot: sysfs.path)
                == RegionSource(path: sysfs.path + "/0000:00:05.0/resource2_wc", kind: .pciResource))
    }

    @Test func deviceWithoutWriteCombiningGivesResource2() throws {
        let sysfs = try TemporaryDirectory()
        defer { sysfs.remove() }
        try makeDevice(sysfs.path, "0000:00:06.0", vendor: "0x1AF4", device: "0x1110", resources: ["resource0", "resource2"])
        #expect(RegionLocator.locate(environment: [:], sysfsRoot: sysfs.path)
                == RegionSource(path: sysfs.path + "/0000:00:06.0/resource2", kind: .pciResource))
    }

    @Test func nothingToFind() throws {
        let sysfs = try TemporaryDirectory()
        defer { sysfs.remove() }
        try makeDevice(sysfs.path, "0000:00:02.0", vendor: "0x8086", device: "0x1237", resources: ["resource2"])
        #expect(RegionLocator.locate(environment: [:], sysfsRoot: sysfs.path) == nil)
        #expect(RegionLocator.locate(environment: [:], sysfsRoot: sysfs.file("missing")) == nil)
    }
}
