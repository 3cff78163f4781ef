import SharedSync

/// The records staged windows exchange through a member's `Mailbox`: a 64-byte header, then
/// `segments` target ranges (16 bytes each: offset in the owner's window, length), then the payload
/// at the next 64-byte boundary.
enum Record {
    static let size = 64
    static let segmentSize = 16

    // Word offsets in the header.
    static let kindAndOrigin = 0      // kind in the low 32 bits (Mailbox reads it), origin member in the high 32
    static let recordSize = 8         // bytes, a multiple of 64, header included (Mailbox reads it)
    static let operation = 16         // MPI_Op in the low 32 bits, element MPI_Datatype in the high 32
    static let segmentCount = 24
    static let dataBytes = 32         // bytes over all segments
    static let replyOffset = 40       // offset in the origin's reply area (fetching kinds)
    static let replySequence = 48     // the origin's fetch number (fetching kinds)

    enum Kind: UInt32 {
        /// Fills the end of the ring when a record does not fit there (Mailbox.padKind).
        case pad = 1
        case put, get, accumulate, getAccumulate, compareAndSwap

        var fetches: Bool { self == .get || self == .getAccumulate || self == .compareAndSwap }
    }

    /// Payload bytes a record of `kind` carries for `dataBytes` of target data.
    static func payloadBytes(_ kind: Kind, dataBytes: Int, ignoresOrigin: Bool) -> Int {
        switch kind {
        case .pad, .get: 0
        case .put, .accumulate: dataBytes
        case .getAccumulate: ignoresOrigin ? 0 : dataBytes
        case .compareAndSwap: 2 * dataBytes  // the new value, then the compare value
        }
    }

    static func payloadOffset(segments: Int) -> Int { roundUp(size + segmentSize * segments, to: Mailbox.alignment) }

    static func totalSize(segments: Int, payload: Int) -> Int {
        roundUp(payloadOffset(segments: segments) + payload, to: Mailbox.alignment)
    }
}

/// One contiguous range of a target's window, in bytes from its start.
struct Segment: Equatable {
    var offset: Int
    var length: Int
}

