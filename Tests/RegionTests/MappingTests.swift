import Foundation
import Region
import SharedSync
import Testing

@Suite struct MappingTests {
    func fileSize(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
    }

    @Test func createsAMissingFileAtTheGivenSize() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        let mapping = try RegionMapping(source: RegionSource(path: path, kind: .file), createSize: 64 << 10)
        #expect(mapping.size == 64 << 10)
        #expect(fileSize(path) == 64 << 10)
        mapping.base.storeBytes(of: 0xab, toByteOffset: 100, as: UInt8.self)
        #expect(fileBytes(path)[100] == 0xab, "the mapping is shared with the file")
    }

    @Test func anExistingFileKeepsItsSizeAndBytes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(repeating: 7, count: 40 << 10)))
        let mapping = try RegionMapping(source: RegionSource(path: path, kind: .file), createSize: 1 << 20)
        #expect(mapping.size == 40 << 10)
        #expect(fileSize(path) == 40 << 10)
        #expect(mapping.base.load(fromByteOffset: 40 << 10 - 1, as: UInt8.self) == 7)
    }

    @Test func aMissingDirectoryNamesThePathAndTheReason() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("missing/region")
        expectRegionError("cannot open region \(path): No such file or directory") {
            _ = try RegionMapping(source: RegionSource(path: path, kind: .file), createSize: 1 << 20)
        }
    }

    @Test func aPCIResourceIsNeverCreated() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("resource2")
        expectRegionError("cannot open region \(path): No such file or directory") {
            _ = try RegionMapping(source: RegionSource(path: path, kind: .pciResource), createSize: 1 << 20)
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func anEmptyPCIResourceIsNeverResized() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("resource2")
        createZeroFile(path, size: 0)
        expectRegionError("region \(path) is empty") {
            _ = try RegionMapping(source: RegionSource(path: path, kind: .pciResource), createSize: 1 << 20)
        }
        #expect(fileSize(path) == 0)
    }

    @Test func aPCIResourceMapsItsWholeSize() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("resource2")
        createZeroFile(path, size: 32 << 10)
        let mapping = try RegionMapping(source: RegionSource(path: path, kind: .pciResource), createSize: 1 << 20)
        #expect(mapping.size == 32 << 10)
        #expect(fileSize(path) == 32 << 10)
    }

    @Test func anEmptyFileWithoutACreateSizeIsRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("region")
        expectRegionError("region \(path) is empty and no size was given") {
            _ = try RegionMapping(source: RegionSource(path: path, kind: .file), createSize: 0)
        }
    }

    @Test func onlyAWriteCombiningPCIResourceMapsWriteCombining() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for (name, kind, expected) in [("resource2_wc", RegionSource.Kind.pciResource, MemoryType.writeCombining),
                                       ("resource2", .pciResource, .writeBack), ("region_wc", .file, .writeBack)] {
            let path = directory.file(name)
            createZeroFile(path, size: 32 << 10)
            let mapping = try RegionMapping(source: RegionSource(path: path, kind: kind), createSize: 32 << 10)
            #expect(mapping.memoryType == expected, "\(name)")
        }
        #expect(ReleaseFence.flavor == .storeFence, "mapping resource2_wc makes every release fence its stores")
    }
}
