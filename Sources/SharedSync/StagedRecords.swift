/// The records staged windows (MPI_Win_create over private memory) exchange through a member's
/// `Mailbox`: a 64-byte header, then `segments` target ranges (16 bytes each: offset in the
/// owner's window, length), then the payload at the next 64-byte boundary. Here, apart from the
/// MPI engine, so the fuzzer (Fuzz/) runs the parser that reads them from untrusted memory.
public enum Record {
    public static let size = 64
    public static let segmentSize = 16
    /// Ranges per record; longer layouts take several records.
    public static let maxSegments = 64
    /// Header and ranges of the largest record: the private copy a target checks (`parse`).
    public static let largestHeader = payloadOffset(segments: maxSegments)

    // Word offsets in the header.
    public static let kindAndOrigin = 0      // kind in the low 32 bits (Mailbox reads it), origin member in the high 32
    public static let recordSize = 8         // bytes, a multiple of 64, header included (Mailbox reads it)
    public static let operation = 16         // MPI_Op in the low 32 bits, the element type's table index in the high 32
    public static let segmentCount = 24
    public static let dataBytes = 32         // bytes over all segments
    public static let replyOffset = 40       // offset in the origin's reply area (fetching kinds)
    public static let replySequence = 48     // the origin's fetch number (fetching kinds)

    public enum Kind: UInt32, Sendable {
        /// Fills the end of the ring when a record does not fit there (Mailbox.padKind).
        case pad = 1
        case put, get, accumulate, getAccumulate, compareAndSwap

        public var fetches: Bool { self == .get || self == .getAccumulate || self == .compareAndSwap }
        public var combines: Bool { self == .accumulate || self == .getAccumulate || self == .compareAndSwap }
    }

    /// Payload bytes a record of `kind` carries for `dataBytes` of target data.
    public static func payloadBytes(_ kind: Kind, dataBytes: Int, ignoresOrigin: Bool) -> Int {
        switch kind {
        case .pad, .get: 0
        case .put, .accumulate: dataBytes
        case .getAccumulate: ignoresOrigin ? 0 : dataBytes
        case .compareAndSwap: 2 * dataBytes  // the new value, then the compare value
        }
    }

    public static func payloadOffset(segments: Int) -> Int { roundUp(size + segmentSize * segments, to: Mailbox.alignment) }

    public static func totalSize(segments: Int, payload: Int) -> Int {
        roundUp(payloadOffset(segments: segments) + payload, to: Mailbox.alignment)
    }
}

/// A record's fields, each checked against what the target knows: safe to use as they are.
public struct ParsedRecord {
    public let kind: Record.Kind
    public let origin: Int
    /// The operation and element type as the record names them (table index: `Limits.elementSize`).
    public let operationWord: UInt32
    public let elementIndex: UInt64
    public let elementSize: Int
    public let segmentCount: Int
    public let dataBytes: Int
    public let payloadOffset: Int
    public let replyOffset: Int
    public let replySequence: UInt64

    /// Range `index` (< segmentCount) of the checked copy the record was parsed from.
    public func range(_ index: Int, in copy: UnsafeRawPointer) -> (offset: Int, length: Int) {
        let at = Record.size + Record.segmentSize * index
        // Checked by `parse` to lie in the window, so these conversions cannot trap.
        return (Int(copy.load(fromByteOffset: at, as: UInt64.self)), Int(copy.load(fromByteOffset: at + 8, as: UInt64.self)))
    }
}

extension Record {
    /// What a target knows to check a record against.
    public struct Limits {
        public var windowSize: Int
        public var members: Int
        /// The reply area of a member (for fetches: the reply goes to the origin's).
        public var replyCapacity: (Int) -> Int
        /// The element size of a table index, nil for none; whether an operation word names an op
        /// the target may apply.
        public var elementSize: (UInt64) -> Int?
        public var isOperation: (UInt32) -> Bool
        /// The operation word that ignores the origin data (MPI_NO_OP).
        public var noOperation: UInt32

        public init(windowSize: Int, members: Int, replyCapacity: @escaping (Int) -> Int,
                    elementSize: @escaping (UInt64) -> Int?, isOperation: @escaping (UInt32) -> Bool, noOperation: UInt32) {
            (self.windowSize, self.members, self.replyCapacity) = (windowSize, members, replyCapacity)
            (self.elementSize, self.isOperation, self.noOperation) = (elementSize, isOperation, noOperation)
        }
    }

    public struct Problem: Error {
        public let reason: String
    }

    /// Checks the record of `size` bytes whose header (the first `Record.size` bytes) is in
    /// `copy`, private memory: `copyRanges(n)` then copies its first n bytes of ranges behind the
    /// header (n is checked first; `copy` has room for `largestHeader` bytes). Every value is read
    /// from `copy` only, with conversions that cannot trap, so a writer racing the check changes
    /// nothing that was checked.
    public static func parse(_ copy: UnsafeRawPointer, size: Int, _ limits: Limits,
                             copyRanges: (Int) -> Void) -> Result<ParsedRecord, Problem> {
        func word(_ offset: Int) -> UInt64 { copy.load(fromByteOffset: offset, as: UInt64.self) }
        func problem(_ reason: String) -> Result<ParsedRecord, Problem> { .failure(Problem(reason: reason)) }
        let kindWord = word(kindAndOrigin)
        guard let kind = Kind(rawValue: UInt32(truncatingIfNeeded: kindWord)) else { return problem("unknown record kind") }
        let origin = Int(kindWord >> 32)  // 32 bits: always fits
        if kind == .pad {
            return .success(ParsedRecord(kind: .pad, origin: 0, operationWord: 0, elementIndex: 0, elementSize: 1,
                                         segmentCount: 0, dataBytes: 0, payloadOffset: size, replyOffset: 0, replySequence: 0))
        }
        guard origin < limits.members else { return problem("origin out of range") }
        let operationWord = word(operation)
        let op = UInt32(truncatingIfNeeded: operationWord)
        let elementIndex = operationWord >> 32
        let segmentCount = Int(clamping: word(segmentCount))
        guard segmentCount >= 1, segmentCount <= maxSegments else { return problem("bad segment count") }
        let payload = payloadOffset(segments: segmentCount)
        guard payload <= size else { return problem("ranges outside the record") }
        copyRanges(segmentSize * segmentCount)
        // Clamped, then bounded by the ranges below, which must lie in the window.
        let dataBytes = Int(clamping: word(dataBytes))
        guard dataBytes <= limits.windowSize,
              payloadBytes(kind, dataBytes: dataBytes, ignoresOrigin: op == limits.noOperation) <= size - payload else {
            return problem("payload outside the record")
        }
        var elementSize = 1
        if kind.combines {
            guard let known = limits.elementSize(elementIndex), known > 0 else { return problem("not a predefined element type") }
            elementSize = known
            if kind != .compareAndSwap, !limits.isOperation(op) { return problem("not a predefined operation") }
        }
        var total = 0
        for index in 0..<segmentCount {
            let at = Record.size + segmentSize * index
            let offset = Int(clamping: word(at)), length = Int(clamping: word(at + 8))
            guard length > 0, length <= limits.windowSize, offset <= limits.windowSize - length else { return problem("target range outside the window") }
            total += length  // each at most the window size, at most 64 of them: no overflow
        }
        guard total == dataBytes else { return problem("ranges do not add up to the data") }
        // Whole elements, though one may span ranges (a pair type with padding: MPI_SHORT_INT).
        guard dataBytes % elementSize == 0 else { return problem("a partial element") }
        if kind == .compareAndSwap, segmentCount != 1 || dataBytes != elementSize {
            return problem("compare-and-swap of more than one element")
        }
        let replyOffset = Int(clamping: word(replyOffset))
        if kind.fetches, replyOffset > limits.replyCapacity(origin) - dataBytes { return problem("reply outside the reply area") }
        return .success(ParsedRecord(kind: kind, origin: origin, operationWord: op, elementIndex: elementIndex,
                                     elementSize: elementSize, segmentCount: segmentCount, dataBytes: dataBytes,
                                     payloadOffset: payload, replyOffset: replyOffset, replySequence: word(replySequence)))
    }
}
