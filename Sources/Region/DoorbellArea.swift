import SharedSync

extension Region {
    /// Header page 0 bytes [1024, 2048): the doorbell's sleepers area (layout in SharedSync's `Doorbell`).
    static let doorbellAreaOffset = 1024

    /// Where the peers asleep on their doorbells announce themselves; inside every valid region.
    public var doorbellArea: UnsafeMutableRawPointer {
        bytes.address(offset: Self.doorbellAreaOffset, length: Doorbell.areaSize)!
    }
}
