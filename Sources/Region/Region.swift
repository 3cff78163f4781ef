import SharedSync

/// The region's random 128-bit name, chosen when it was formatted: processes that read the same
/// identity share the same memory (they are co-resident).
public struct RegionIdentity: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// 32 hex digits.
    public var description: String { high.hexDigits + low.hexDigits }
}

/// An attached, validated region: its identity, its job directory (JobDirectory.swift) and its
/// allocator (Allocator.swift).
public final class Region: @unchecked Sendable {
    public let mapping: RegionMapping
    public let identity: RegionIdentity
    /// True when this attachment formatted the region (for logs and tests).
    public let didFormat: Bool
    public var size: Int { mapping.size }

    public static let layoutVersion: UInt32 = RegionLayout.version
    public static let minimumSize = RegionLayout.minimumSize

    let bytes: RegionBytes
    let geometry: RegionGeometry
    /// This attachment's random nonzero token: it names the allocator lock's holder and is the
    /// owner token of the block records it writes.
    let token = UInt64.random(in: 1...UInt64.max)

    var path: String { mapping.source.path }

    private init(bytes: RegionBytes, geometry: RegionGeometry, identity: RegionIdentity, didFormat: Bool) {
        self.mapping = bytes.mapping
        self.bytes = bytes
        self.geometry = geometry
        self.identity = identity
        self.didFormat = didFormat
    }

    /// Formats a fresh (all-zero metadata) region exactly once however many processes race to attach
    /// it, or validates the header already there. A region that is too small, foreign, corrupt, of
    /// another layout version, or stuck mid-format throws, and nothing is written to it.
    public static func attach(_ mapping: RegionMapping, wait: WaitPolicy) throws(RegionError) -> Region {
        let path = mapping.source.path
        let (bytes, geometry) = try sizedBytes(mapping)
        let didFormat = try formatIfFresh(bytes, geometry, path, wait)
        let identity = try validateHeader(bytes, geometry, path)
        return Region(bytes: bytes, geometry: geometry, identity: identity, didFormat: didFormat)
    }

    /// Formats the region when it is fresh and this process wins the race to do so; otherwise waits
    /// for whoever won. Returns whether this process formatted it. On return the state is ready.
    private static func formatIfFresh(_ bytes: RegionBytes, _ geometry: RegionGeometry, _ path: String,
                                      _ wait: WaitPolicy) throws(RegionError) -> Bool {
        let state = bytes.word(at: RegionLayout.Header.state)
        // If the zero check fails because a racing formatter has begun writing, the state re-read
        // below sees its CAS: the formatter stores (release) only after the CAS, and loads acquire.
        if state.load() == RegionLayout.State.fresh, bytes.isAllZero(0..<geometry.dataOffset),
           state.compareExchange(expected: RegionLayout.State.fresh, desired: RegionLayout.State.formatting).exchanged {
            writeHeader(bytes, geometry)
            state.store(RegionLayout.State.ready)
            return true
        }
        if state.load() == RegionLayout.State.formatting,
           !waitUntil(wait, { state.load() != RegionLayout.State.formatting }) {
            throw RegionError("region \(path): another process began formatting it and did not finish within "
                              + "\(wait.timeoutSeconds) s; if none is running, the region must be recreated")
        }
        try requireReady(bytes, path)
        return false
    }

    /// Validates a region that is already formatted, writing nothing: for tools that look at a
    /// region without formatting it. Throws as `attach` does, and for a region not formatted.
    public static func open(_ mapping: RegionMapping) throws(RegionError) -> Region {
        let path = mapping.source.path
        let (bytes, geometry) = try sizedBytes(mapping)
        try requireReady(bytes, path)
        return Region(bytes: bytes, geometry: geometry, identity: try validateHeader(bytes, geometry, path), didFormat: false)
    }

    static func sizedBytes(_ mapping: RegionMapping) throws(RegionError) -> (RegionBytes, RegionGeometry) {
        guard mapping.size >= minimumSize else {
            throw RegionError("region \(mapping.source.path) is \(mapping.size) bytes, smaller than the minimum \(minimumSize) bytes")
        }
        return (RegionBytes(mapping: mapping), RegionGeometry(regionSize: mapping.size))
    }

    private static func requireReady(_ bytes: RegionBytes, _ path: String) throws(RegionError) {
        let current = bytes.load(RegionLayout.Header.state)
        guard current != RegionLayout.State.ready else { return }
        let magic = bytes.load(RegionLayout.Header.magic)
        if current == RegionLayout.State.fresh && bytes.isAllZero(0..<RegionLayout.dataOffset) {
            throw RegionError("region \(path) is not formatted yet (its metadata is all zero)")
        }
        if current == RegionLayout.State.formatting {
            throw RegionError("region \(path) is being formatted, or its formatter died midway")
        }
        guard magic == RegionLayout.magic else { throw foreign(path, magic) }
        throw RegionError("region \(path) has a corrupt header: state word \(current.hexWord)")
    }

    private static func writeHeader(_ bytes: RegionBytes, _ geometry: RegionGeometry) {
        typealias Header = RegionLayout.Header
        var identity = RegionIdentity(high: 0, low: 0)
        while identity.high == 0 && identity.low == 0 {
            identity = RegionIdentity(high: .random(in: 0...UInt64.max), low: .random(in: 0...UInt64.max))
        }
        bytes.store(RegionLayout.magic, at: Header.magic)
        bytes.store(UInt64(RegionLayout.version), at: Header.version)
        bytes.store(UInt64(bytes.size), at: Header.regionSize)
        bytes.store(identity.high, at: Header.identityHigh)
        bytes.store(identity.low, at: Header.identityLow)
        for (index, word) in geometry.words.enumerated() {
            bytes.store(word, at: Header.geometry + 8 * index)
        }
        bytes.store(checksum(bytes), at: Header.checksum)
    }

    /// Checks the ready header field by field, from the most basic up, and returns the identity.
    private static func validateHeader(_ bytes: RegionBytes, _ geometry: RegionGeometry, _ path: String) throws(RegionError) -> RegionIdentity {
        typealias Header = RegionLayout.Header
        let magic = bytes.load(Header.magic)
        guard magic == RegionLayout.magic else { throw foreign(path, magic) }
        let version = bytes.load(Header.version)
        guard version == UInt64(RegionLayout.version) else {
            throw RegionError("region \(path) has layout version \(version); this library reads version \(RegionLayout.version)")
        }
        let recorded = bytes.load(Header.checksum), computed = checksum(bytes)
        guard recorded == computed else {
            throw RegionError("region \(path) has a corrupt header: checksum \(recorded.hexWord), its fields give \(computed.hexWord)")
        }
        let formattedSize = bytes.load(Header.regionSize)
        guard formattedSize == UInt64(bytes.size) else {
            throw RegionError("region \(path) was formatted for \(formattedSize) bytes but is mapped with \(bytes.size) bytes")
        }
        let recordedGeometry = geometry.words.indices.map { bytes.load(Header.geometry + 8 * $0) }
        guard recordedGeometry == geometry.words else {
            throw RegionError("region \(path) has a corrupt header: geometry \(recordedGeometry) where layout version "
                              + "\(RegionLayout.version) puts \(geometry.words)")
        }
        return RegionIdentity(high: bytes.load(Header.identityHigh), low: bytes.load(Header.identityLow))
    }

    /// FNV-1a 64 over the header's checksummed bytes (its immutable fields).
    private static func checksum(_ bytes: RegionBytes) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for offset in stride(from: RegionLayout.Header.checksummed.lowerBound, to: RegionLayout.Header.checksummed.upperBound, by: 8) {
            var word = bytes.load(offset)
            for _ in 0..<8 {
                hash = (hash ^ (word & 0xff)) &* 0x0000_0100_0000_01b3
                word >>= 8
            }
        }
        return hash
    }

    private static func foreign(_ path: String, _ magic: UInt64) -> RegionError {
        RegionError("region \(path) has a foreign header (magic \(magic.hexWord)): not touching it")
    }

    /// The address of [offset, offset + length) inside the mapping, nil if any part is outside.
    public func address(offset: Int, length: Int) -> UnsafeMutableRawPointer? {
        bytes.address(offset: offset, length: length)
    }
}
