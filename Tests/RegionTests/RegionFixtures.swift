import Foundation
@testable import Region
import SharedSync
import Testing

let patient = WaitPolicy(timeoutSeconds: 20)
let page = 4096

/// Maps `path` as a region file (creating it at `size` bytes when missing) and attaches it.
func attachRegion(_ path: String, size: Int = 1 << 20, wait: WaitPolicy = patient) throws(RegionError) -> Region {
    try Region.attach(RegionMapping(source: RegionSource(path: path, kind: .file), createSize: size), wait: wait)
}

/// Expects `body` to throw a RegionError whose text contains `reason`; returns the text.
@discardableResult
func expectRegionError(_ reason: String, sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () throws -> Void) -> String? {
    do {
        try body()
        Issue.record("expected an error containing \"\(reason)\"", sourceLocation: sourceLocation)
    } catch let error as RegionError {
        #expect(error.description.contains(reason), "\(error.description)", sourceLocation: sourceLocation)
        return error.description
    } catch {
        Issue.record("expected a RegionError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Expects attaching the file to fail for `reason`, naming the file, and to leave it byte for byte as it was.
func expectAttachRefused(_ path: String, _ reason: String, wait: WaitPolicy = patient,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    let before = fileBytes(path)
    let message = expectRegionError(reason, sourceLocation: sourceLocation) { _ = try attachRegion(path, wait: wait) }
    #expect(message?.contains(path) == true, "the error names the region", sourceLocation: sourceLocation)
    #expect(fileBytes(path) == before, "attach wrote to a region it refused", sourceLocation: sourceLocation)
}
